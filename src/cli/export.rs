//! `foodqc export`: the labelled samples as an MVTec-style folder.

use std::path::PathBuf;

use clap::Args;

use foodqc::domain::AppPaths;
use foodqc::tr;

use super::{file_bar, update_bar};

/// Arguments of `foodqc export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Folder to write (created if missing; must be empty unless --overwrite).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write into a non-empty folder: replace files of the same name and remove the files of
    /// a previous export there that this one does not write again.
    #[arg(long)]
    overwrite: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Export the labelled samples and print the report. Fails when there is nothing to export.
pub fn run(paths: &AppPaths, a: ExportArgs) -> anyhow::Result<()> {
    let store = foodqc::store::Store::open(&paths.db_path())?;
    if store.labelled_samples()?.is_empty() {
        anyhow::bail!(tr!(
            "cli-export-nothing",
            db = paths.db_path().display().to_string()
        ));
    }
    let bar = file_bar(&tr!("cli-export-progress"));
    let never = std::sync::atomic::AtomicBool::new(false);
    let report =
        foodqc::labeling::export_labelled(&store, &a.out, a.overwrite, &never, &mut |p| {
            update_bar(&bar, p)
        })?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if report.exported == 0 {
        anyhow::bail!(tr!("cli-export-none-exported"));
    }
    Ok(())
}
