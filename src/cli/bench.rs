//! `foodqc bench`: time every stage of the pipeline.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `foodqc bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// MVTec-style dataset: its test photos are timed and its train/good trained on.
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// Threads to run on (1 = the one-core figure).
    #[arg(long, default_value_t = 1, value_name = "N")]
    threads: usize,
    /// Timed runs per workload (inputs are cycled, after one untimed warm-up pass).
    #[arg(long, default_value_t = 200, value_name = "N")]
    runs: usize,
    /// Times the training on the dataset is repeated (the median is reported).
    #[arg(long, default_value_t = 3, value_name = "N")]
    train_runs: usize,
    /// Also time training from this many labelled samples of the synthetic line (captured
    /// into a scratch database first; 0 = skip).
    #[arg(long, default_value_t = 0, value_name = "N")]
    labelled: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Tier the dataset's photos are judged with: classical or deep (the synthetic frames
    /// always use the bundled classical model).
    #[arg(long, default_value = "classical", value_name = "classical|deep")]
    tier: foodqc::model::Tier,
}

/// Run the benchmark and print its report.
pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    let opts = foodqc::bench::BenchOptions {
        dataset: a.dataset,
        threads: a.threads,
        runs: a.runs,
        train_runs: a.train_runs,
        labelled: a.labelled,
        tier: a.tier,
        ..Default::default()
    };
    let report = foodqc::bench::run(&opts, &|msg| tracing::info!("{msg}"))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
