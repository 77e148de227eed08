//! `foodqc demo-samples`: item crops of the synthetic line as samples, to try labelling and
//! retraining without a camera.

use clap::Args;

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::{Actor, AppPaths};
use foodqc::tr;
use foodqc::vision::SegmentConfig;

/// Arguments of `foodqc demo-samples`.
#[derive(Args, Debug)]
pub struct DemoSamplesArgs {
    /// Samples to capture.
    #[arg(long, default_value_t = 40)]
    count: usize,
    /// Seed of the synthetic line.
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// Leave the samples unlabelled (for the labelling queue).
    #[arg(long)]
    unlabelled: bool,
}

/// Capture the samples (labelled by the OS user from the ground truth, unless
/// `--unlabelled`) and say where they went.
pub fn run(paths: &AppPaths, a: DemoSamplesArgs) -> anyhow::Result<()> {
    let mut store = foodqc::store::Store::open(&paths.db_path())?;
    let mut source = SourceSpec::Synthetic { seed: a.seed }.open(&SourceOptions::default())?;
    let actor = Actor::resolve(None);
    let ids = foodqc::training::capture_truth_samples(
        source.as_mut(),
        &SegmentConfig::default(),
        &mut store,
        &paths.samples_dir(),
        a.count,
        (!a.unlabelled).then_some(actor.as_str()),
    )?;
    let how = if a.unlabelled {
        tr!("cli-demo-samples-unlabelled-note")
    } else {
        tr!("cli-demo-samples-labelled-note")
    };
    println!(
        "{}",
        tr!(
            "cli-demo-samples-done",
            n = ids.len(),
            dir = paths.samples_dir().display().to_string(),
            how = how
        )
    );
    Ok(())
}
