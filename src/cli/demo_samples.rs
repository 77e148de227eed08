//! `foodqc demo-samples`: item crops of the synthetic line as samples, to try labelling and
//! retraining without a camera.

use clap::Args;

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::{AppPaths, Permission};
use foodqc::tr;
use foodqc::vision::SegmentConfig;

use super::signin::sign_in;

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
    /// Who captures (and labels) them: a signed-in technician or data scientist (an operator
    /// with --unlabelled).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

/// Capture the samples (labelled by `--user` from the ground truth, unless `--unlabelled`)
/// and say where they went.
pub fn run(paths: &AppPaths, a: DemoSamplesArgs) -> anyhow::Result<()> {
    let mut store = foodqc::store::Store::open(&paths.db_path())?;
    let needs = if a.unlabelled {
        Permission::CaptureSamples
    } else {
        Permission::Label
    };
    let actor = sign_in(&mut store, a.user.as_deref(), Some(needs))?
        .user
        .actor();
    let mut source = SourceSpec::Synthetic { seed: a.seed }.open(&SourceOptions::default())?;
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
