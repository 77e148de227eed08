//! `foodqc alarms`: simulated hours of stable (or drifting) production through the real
//! inspector and the report's alarm rules; how often they fire, and how soon drift is caught.

use std::path::Path;

use clap::Args;

use foodqc::bench::alarms::{AlarmOptions, LampDrift, simulate};
use foodqc::domain::AppPaths;
use foodqc::tr;

/// Arguments of `foodqc alarms`.
#[derive(Args, Debug)]
pub struct AlarmsArgs {
    /// Simulated hours of production.
    #[arg(long, default_value_t = 8)]
    hours: u32,
    /// Items recorded per simulated hour.
    #[arg(long, default_value_t = 300)]
    items_per_hour: u32,
    /// Seed of the synthetic line.
    #[arg(long, default_value_t = 21)]
    seed: u64,
    /// Dim the lamp from this simulated hour on (a lighting drift to catch).
    #[arg(long, value_name = "HOUR")]
    dim_at: Option<f64>,
    /// Exposure after dimming (1.0 nominal).
    #[arg(long, default_value_t = 0.85)]
    exposure: f32,
    /// Reports resampled from the stable hours to measure the false-alarm rates.
    #[arg(long, default_value_t = 2000)]
    resamples: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Run the simulation in a scratch folder (the data folder is not touched).
pub fn run(paths: &AppPaths, model: Option<&Path>, a: AlarmsArgs) -> anyhow::Result<()> {
    if !(1..=24 * 31).contains(&a.hours) {
        anyhow::bail!(tr!("cli-alarms-bad-hours", hours = a.hours));
    }
    if !(30..=100_000).contains(&a.items_per_hour) {
        anyhow::bail!(tr!("cli-alarms-bad-items", items = a.items_per_hour));
    }
    if let Some(h) = a.dim_at
        && !(h.is_finite() && h >= 0.0 && h < f64::from(a.hours))
    {
        anyhow::bail!(tr!("cli-alarms-bad-dim-at", hour = h, hours = a.hours));
    }
    if !(a.exposure.is_finite() && (0.05..=4.0).contains(&a.exposure)) {
        anyhow::bail!(tr!("cli-alarms-bad-exposure", exposure = a.exposure));
    }
    let model = super::load_model(paths, model)?;
    let opts = AlarmOptions {
        hours: a.hours,
        items_per_hour: a.items_per_hour,
        seed: a.seed,
        drift: a.dim_at.map(|from_hour| LampDrift {
            from_hour,
            exposure: a.exposure,
        }),
        resamples: a.resamples,
    };
    let scratch = tempfile::tempdir()?;
    let quiet = a.json;
    let report = simulate(&opts, model, scratch.path(), &|done, of| {
        if !quiet {
            eprint!(
                "\r{}",
                tr!(
                    "cli-alarms-progress",
                    done = done.to_string(),
                    total = of.to_string()
                )
            );
        }
    })?;
    if !quiet {
        eprintln!();
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
