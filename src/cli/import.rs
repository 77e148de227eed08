//! `foodqc import`: images from disk as samples for labelling.

use std::path::PathBuf;

use clap::Args;

use foodqc::domain::{AppPaths, Permission};
use foodqc::tr;

use super::signin::sign_in;
use super::{file_bar, update_bar};

/// Arguments of `foodqc import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Image files and folders to import.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Who imports (a signed-in operator, technician or data scientist; recorded with the
    /// samples and in the audit log).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Import the given paths into the data folder and print what was imported, skipped and
/// failed. Fails when nothing could be imported.
pub fn run(paths: &AppPaths, a: ImportArgs) -> anyhow::Result<()> {
    let mut store = foodqc::store::Store::open(&paths.db_path())?;
    let actor = sign_in(
        &mut store,
        a.user.as_deref(),
        Some(Permission::CaptureSamples),
    )?
    .user
    .actor();
    let bar = file_bar(&tr!("cli-import-progress"));
    let never = std::sync::atomic::AtomicBool::new(false);
    let report = foodqc::labeling::import_paths(
        &mut store,
        &paths.samples_dir(),
        &a.paths,
        actor.as_str(),
        &never,
        &mut |p| update_bar(&bar, p),
    )?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
        println!(
            "{}",
            tr!("cli-database", path = paths.db_path().display().to_string())
        );
    }
    if report.all_failed() {
        anyhow::bail!(tr!("cli-import-all-failed", n = report.failed.len()));
    }
    if report.found == 0 && report.failed.is_empty() {
        anyhow::bail!(tr!("cli-import-none-found"));
    }
    Ok(())
}
