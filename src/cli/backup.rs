//! `foodqc backup` and `foodqc restore`: a consistent copy of the database through SQLite's
//! online backup API, and the way back from a damaged database.

use std::path::PathBuf;

use clap::Args;

use foodqc::domain::AppPaths;
use foodqc::store::Store;
use foodqc::tr;

/// Arguments of `foodqc backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The copy to write (replaced if it exists; never the database or its own files).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Arguments of `foodqc restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A backup written by `foodqc backup` or a daily backup (`<data dir>/backups/`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Copy the database to `--out` while the station may keep recording.
pub fn backup(paths: &AppPaths, a: BackupArgs) -> anyhow::Result<()> {
    let store = Store::open_for_reading(&paths.db_path())?;
    store.backup_to(&a.out)?;
    let (rows, _) = store.count_inspections()?;
    println!(
        "{}",
        tr!(
            "cli-backup-done",
            db = paths.db_path().display().to_string(),
            rows = rows,
            out = a.out.display().to_string()
        )
    );
    Ok(())
}

/// Replace the database by a backup, keeping the replaced file aside.
pub fn restore(paths: &AppPaths, a: RestoreArgs) -> anyhow::Result<()> {
    let out = foodqc::store::restore(&paths.db_path(), &a.file)?;
    println!(
        "{}",
        tr!(
            "cli-restore-done",
            db = paths.db_path().display().to_string(),
            file = a.file.display().to_string(),
            rows = out.inspections
        )
    );
    if let Some(kept) = &out.replaced_kept_at {
        println!(
            "{}",
            tr!("cli-restore-kept", path = kept.display().to_string())
        );
    }
    Ok(())
}
