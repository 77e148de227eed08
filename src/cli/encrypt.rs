//! `foodqc encrypt`: encrypt a plain database (and its daily backups) with the database key.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;

use foodqc::domain::AppPaths;
use foodqc::store::{self, DatabaseKey};
use foodqc::tr;

/// Arguments of `foodqc encrypt`.
#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

/// Encrypt the data folder's database with the key from FOODQC_DB_KEY, FOODQC_DB_KEY_FILE or,
/// on a terminal, a passphrase typed twice.
pub fn run(paths: &AppPaths, a: EncryptArgs) -> anyhow::Result<()> {
    let db = paths.db_path();
    let key = match store::database_key()? {
        Some(key) => key,
        None => Arc::new(prompt_new_key()?),
    };
    let out = store::encrypt_database(&db, key)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let rows: i64 = out.tables.iter().map(|(_, n)| n).sum();
    println!(
        "{}",
        tr!(
            "cli-encrypt-done",
            db = db.display().to_string(),
            tables = out.tables.len(),
            rows = rows
        )
    );
    for file in &out.backups_encrypted {
        println!(
            "{}",
            tr!("cli-encrypt-backup-done", file = file.display().to_string())
        );
    }
    for (file, why) in &out.backups_left_plain {
        println!(
            "{}",
            tr!(
                "cli-encrypt-backup-plain",
                file = file.display().to_string(),
                error = why.clone()
            )
        );
    }
    println!("{}", tr!("cli-encrypt-keep-key"));
    Ok(())
}

/// Ask for a new passphrase twice on the terminal; an error off a terminal.
fn prompt_new_key() -> anyhow::Result<DatabaseKey> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(tr!("cli-encrypt-no-key"));
    }
    let first = rpassword::prompt_password(format!("{} ", tr!("cli-encrypt-prompt")))?;
    let again = rpassword::prompt_password(format!("{} ", tr!("cli-encrypt-prompt-again")))?;
    if first != again {
        anyhow::bail!(tr!("cli-encrypt-mismatch"));
    }
    DatabaseKey::new(first).ok_or_else(|| anyhow::anyhow!(tr!("cli-encrypt-no-key")))
}
