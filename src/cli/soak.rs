//! `foodqc soak`: the live station on the synthetic line for N minutes, memory, rows and the
//! recorder queue sampled; prints the memory slope and the rows lost.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use foodqc::bench::soak::{SoakOptions, SoakSample, soak};
use foodqc::domain::AppPaths;
use foodqc::tr;

use super::row;

/// Arguments of `foodqc soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// How long the line runs, in minutes.
    #[arg(long, default_value_t = 60.0)]
    minutes: f64,
    /// Frames per second of the synthetic line.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Seconds between two samples.
    #[arg(long, default_value_t = 10.0)]
    every: f64,
    /// Print the report (with every sample) as JSON.
    #[arg(long)]
    json: bool,
}

/// Run the soak into the data folder (use a fresh `--data-dir` for exact row counts).
pub fn run(paths: &AppPaths, model: Option<&Path>, a: SoakArgs) -> anyhow::Result<()> {
    if !(a.minutes.is_finite() && a.minutes > 0.0 && a.minutes <= 7.0 * 24.0 * 60.0) {
        anyhow::bail!(tr!("cli-soak-bad-minutes", minutes = a.minutes));
    }
    if !(a.every.is_finite() && a.every >= 0.1) {
        anyhow::bail!(tr!("cli-soak-bad-every", every = a.every));
    }
    let model = super::load_model(paths, model)?;
    let opts = SoakOptions {
        duration: Duration::from_secs_f64(a.minutes * 60.0),
        fps: a.fps,
        every: Duration::from_secs_f64(a.every),
        paths: paths.clone(),
    };
    let quiet = a.json;
    let report = soak(&opts, model, &|s: &SoakSample| {
        if !quiet {
            eprintln!(
                "{:7.0} s  rss {:6.1} MiB  items {:7}  recorded {:7}  queued {:4}  dropped {}",
                s.seconds, s.rss_mib, s.items, s.recorded, s.pending, s.frames_dropped
            );
        }
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let (captured, inspected, dropped) = report.frames;
        let dec = foodqc::i18n::format_decimal;
        println!(
            "{}",
            tr!(
                "cli-soak-title",
                minutes = dec(a.minutes, 1),
                fps = a.fps.to_string()
            )
        );
        row(
            tr!("cli-label-frames"),
            tr!(
                "cli-soak-frames",
                captured = captured,
                inspected = inspected,
                dropped = dropped
            ),
        );
        row(
            tr!("cli-label-items"),
            tr!(
                "cli-soak-items",
                items = report.items,
                rows = report.rows,
                lost = report.rows_lost
            ),
        );
        // The slope keeps its sign: a falling memory use reads as such.
        let slope = format!("{:+.2}", report.rss_slope_mib_per_hour);
        row(
            tr!("cli-label-memory"),
            tr!(
                "cli-soak-memory",
                warm = dec(report.rss_after_warmup_mib, 1),
                end = dec(report.rss_end_mib, 1),
                slope = slope
            ),
        );
        row(
            tr!("cli-label-recorder-queue"),
            tr!("cli-soak-queue", n = report.max_pending),
        );
    }
    if report.rows_lost != 0 {
        anyhow::bail!(tr!("cli-soak-rows-lost", n = report.rows_lost));
    }
    Ok(())
}
