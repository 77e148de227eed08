//! `foodqc soak`: the live station on the synthetic line for N minutes, memory, rows and the
//! recorder queue sampled; prints the memory slope and the rows lost.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use foodqc::bench::soak::{SoakOptions, SoakSample, soak};
use foodqc::domain::AppPaths;

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
        anyhow::bail!(
            "--minutes = {} is out of range: more than 0, at most a week",
            a.minutes
        );
    }
    if !(a.every.is_finite() && a.every >= 0.1) {
        anyhow::bail!(
            "--every = {} is out of range: at least 0.1 seconds",
            a.every
        );
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
        println!("foodqc soak: {:.1} min at {} fps", a.minutes, a.fps);
        println!(
            "  frames           {captured} captured, {inspected} inspected, {dropped} dropped"
        );
        println!(
            "  items            {} judged, {} rows in the database, {} lost",
            report.items, report.rows, report.rows_lost
        );
        println!(
            "  memory           {:.1} MiB after warm-up, {:.1} MiB at the end, slope {:+.2} MiB/h",
            report.rss_after_warmup_mib, report.rss_end_mib, report.rss_slope_mib_per_hour
        );
        println!("  recorder queue   at most {}", report.max_pending);
    }
    if report.rows_lost != 0 {
        anyhow::bail!("{} judged items are not in the database", report.rows_lost);
    }
    Ok(())
}
