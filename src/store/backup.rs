//! Backups and restore through SQLite's online backup API, and the guard that keeps exports
//! from writing over the database.
//!
//! The online backup copies a consistent snapshot while the station keeps recording (WAL
//! readers never block the writer). A daily copy goes to `<data dir>/backups/`, the newest
//! [`DAILY_BACKUPS_KEPT`] are kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use super::key::{self, DatabaseKey, FileState};
use super::{SCHEMA_VERSION, Store, StoreError, journal, sql_err};

/// How many daily backups are kept.
pub const DAILY_BACKUPS_KEPT: usize = 7;

/// The folder of the daily backups of the database at `db_path`.
pub fn backups_dir(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("backups")
}

/// The database and the files SQLite and foodqc keep beside it.
fn database_files(db_path: &Path) -> Vec<PathBuf> {
    let mut files = vec![db_path.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut s = db_path.as_os_str().to_owned();
        s.push(suffix);
        files.push(PathBuf::from(s));
    }
    files.push(journal::journal_path(db_path));
    files.push(journal::rejected_path(db_path));
    files
}

/// `path` made absolute with its links resolved, as far as it exists (a file not yet
/// written is its folder's canonical path joined with its name).
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            canonical(parent).join(name)
        }
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Refuse an output path (CSV, PDF, export folder, backup) that is the database at `db_path`
/// or one of its `-wal`, `-shm`, `-journal` or pending-journal files, comparing canonical
/// paths (so `./x/../foodqc.sqlite` or a link to it is caught too). Also refuses a
/// temporary file derived from such a path, e.g. `foodqc.sqlite.csv.part` is fine but the
/// database itself is not.
pub fn guard_output_path(db_path: &Path, out: &Path) -> Result<(), StoreError> {
    let target = canonical(out);
    if database_files(db_path)
        .iter()
        .any(|f| canonical(f) == target)
    {
        return Err(StoreError::WouldOverwriteDatabase {
            path: out.to_path_buf(),
            db: db_path.to_path_buf(),
        });
    }
    Ok(())
}

/// Copy the open database `src` into a new file `dst` (replaced atomically: written beside it
/// and renamed), then check the copy with `PRAGMA quick_check`. The copy is readable by its
/// owner only, and encrypted with `key` when the source is (SQLCipher copies pages between
/// databases with the same key only).
fn backup_connection(
    src: &Connection,
    src_path: &Path,
    dst: &Path,
    key: Option<&DatabaseKey>,
) -> Result<(), StoreError> {
    let mut tmp_name = dst.as_os_str().to_owned();
    tmp_name.push(".part");
    let tmp = PathBuf::from(tmp_name);
    let _ = std::fs::remove_file(&tmp); // a leftover of a crashed backup
    let result = (|| {
        super::create_private_file(&tmp).map_err(|source| StoreError::CreateFile {
            path: tmp.clone(),
            source,
        })?;
        let mut out = key::open_connection(&tmp, OpenFlags::default(), key)
            .map_err(sql_err(&tmp, "create backup file"))?;
        {
            let b = Backup::new(src, &mut out).map_err(sql_err(src_path, "start backup"))?;
            // Whole steps of 4096 pages, no pause: the source is in WAL mode, so the station
            // keeps writing while we read.
            b.run_to_completion(4096, Duration::ZERO, None)
                .map_err(sql_err(src_path, "backup"))?;
        }
        // The copy is a plain rollback-journal file, complete on its own.
        let check: String = out
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(sql_err(&tmp, "check backup"))?;
        if check != "ok" {
            return Err(StoreError::BadBackup {
                path: dst.to_path_buf(),
                reason: crate::tr!("backup-copy-fails-check", check = check.as_str()),
            });
        }
        drop(out);
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|source| StoreError::Io {
                path: tmp.clone(),
                source,
            })?;
        std::fs::rename(&tmp, dst).map_err(|source| StoreError::Io {
            path: dst.to_path_buf(),
            source,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Store {
    /// Write a consistent copy of the database to `out` through SQLite's online backup API
    /// (recording may go on meanwhile). Refuses to write over the database's own files.
    pub fn backup_to(&self, out: &Path) -> Result<(), StoreError> {
        guard_output_path(&self.path, out)?;
        backup_connection(&self.conn, &self.path, out, self.key.as_deref())
    }
}

/// Make today's backup of the database at `db_path` in [`backups_dir`] if there is none yet
/// (`foodqc-YYYY-MM-DD.sqlite`, UTC, with the heads of its hash chains in
/// `foodqc-YYYY-MM-DD.head`), and delete all but the newest [`DAILY_BACKUPS_KEPT`].
/// Returns the backup written, if one was.
pub fn daily_backup(db_path: &Path) -> Result<Option<PathBuf>, StoreError> {
    let dir = backups_dir(db_path);
    super::create_private_dir(&dir).map_err(|source| StoreError::CreateDir {
        path: dir.clone(),
        source,
    })?;
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let file = dir.join(format!("foodqc-{today}.sqlite"));
    let written = if file.exists() {
        None
    } else {
        let store = Store::open_read_only(db_path)?;
        backup_connection(&store.conn, db_path, &file, store.key.as_deref())?;
        // The chain heads in the copy, beside it: a second anchor outside the database.
        if let Err(e) = super::seal::write_backup_head(&file, store.key.as_deref()) {
            tracing::warn!(file = %file.display(), error = %e, "audit head of the backup not written");
        }
        Some(file)
    };
    let mut old: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("foodqc-") && n.ends_with(".sqlite") && n.len() == 24
            })
        })
        .collect();
    // The names sort by date.
    old.sort();
    let excess = old.len().saturating_sub(DAILY_BACKUPS_KEPT);
    for p in &old[..excess] {
        if let Err(e) = std::fs::remove_file(p) {
            tracing::warn!(file = %p.display(), error = %e, "old backup not removed");
        }
        let _ = std::fs::remove_file(p.with_extension("head"));
    }
    Ok(written)
}

/// What [`restore`] did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RestoreOutcome {
    /// Where the database that was replaced now is (`None` when there was none).
    pub replaced_kept_at: Option<PathBuf>,
    /// Inspections in the restored database.
    pub inspections: i64,
}

/// Replace the database at `db_path` by the backup `from`. Refuses a file that is not an
/// SQLite database, not a foodqc one (no schema version or no inspections table), of a newer
/// schema, or damaged (`PRAGMA quick_check`). The database replaced, with its `-wal` file, is
/// first copied aside to `<db>.replaced-<unix ms>` (kept, never deleted). The copy goes
/// through the online backup API into the live file, so another process holding it open sees
/// the restored content rather than a file swapped under it. The audit head anchored beside
/// the database is reset to the restored one, and the restore is audited (`database.restore`).
///
/// With a database key in force (see [`key::database_key`]) the backup must be encrypted
/// with that key, and the restored database is too.
pub fn restore(db_path: &Path, from: &Path) -> Result<RestoreOutcome, StoreError> {
    restore_with_key(db_path, from, key::database_key()?)
}

/// [`restore`] with the database key given here (`None`: plain files).
pub fn restore_with_key(
    db_path: &Path,
    from: &Path,
    key: Option<Arc<DatabaseKey>>,
) -> Result<RestoreOutcome, StoreError> {
    let bad = |reason: String| StoreError::BadBackup {
        path: from.to_path_buf(),
        reason,
    };
    guard_output_path(db_path, from).map_err(|_| bad("it is the database itself".into()))?;
    if !from.is_file() {
        return Err(bad("no such file".into()));
    }
    match (key::file_state(from), key.is_some()) {
        (FileState::Encrypted, false) => {
            return Err(bad(format!(
                "it is encrypted: a key is needed (set {} or {})",
                key::KEY_ENV,
                key::KEY_FILE_ENV
            )));
        }
        (FileState::Plain, true) => {
            return Err(bad(
                "it is not encrypted, but a database key is set; restore it without the key, then encrypt the database with `foodqc encrypt`"
                    .into(),
            ));
        }
        _ => {}
    }
    let src = key::open_connection(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        key.as_deref(),
    )
    .map_err(|e| bad(e.to_string()))?;
    let (version, has_inspections): (i64, i64) = src
        .query_row(
            "SELECT user_version, (SELECT count(*) FROM sqlite_schema
                 WHERE type = 'table' AND name = 'inspections') FROM pragma_user_version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| match (&key, e.sqlite_error_code()) {
            (Some(_), Some(rusqlite::ErrorCode::NotADatabase)) => {
                bad(crate::tr!("backup-wrong-key"))
            }
            _ => bad(crate::tr!("backup-not-sqlite", error = e.to_string())),
        })?;
    if version <= 0 || has_inspections != 1 {
        return Err(bad(crate::tr!("backup-not-foodqc")));
    }
    if version > SCHEMA_VERSION as i64 {
        return Err(bad(crate::tr!(
            "backup-too-new",
            version = version.to_string(),
            ours = SCHEMA_VERSION.to_string()
        )));
    }
    let check: Vec<String> = src
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| bad(crate::tr!("backup-damaged", error = e.to_string())))?;
    if check != ["ok"] {
        return Err(bad(crate::tr!("backup-damaged", error = check.join("; "))));
    }

    // Keep the database being replaced: a raw copy of its files (a damaged file cannot be
    // backed up page by page reliably, and this keeps it exactly as it was).
    let replaced_kept_at = if db_path.exists() {
        let stamp = super::now_ms();
        let mut kept = db_path.as_os_str().to_owned();
        kept.push(format!(".replaced-{stamp}"));
        let kept = PathBuf::from(kept);
        for (i, f) in database_files(db_path).iter().take(2).enumerate() {
            if f.exists() {
                let mut to = kept.as_os_str().to_owned();
                if i == 1 {
                    to.push("-wal");
                }
                std::fs::copy(f, PathBuf::from(&to)).map_err(|source| StoreError::Io {
                    path: PathBuf::from(to),
                    source,
                })?;
            }
        }
        Some(kept)
    } else {
        None
    };
    // A damaged or foreign file cannot be opened as a store: move it away and start empty.
    let open_dst = || key::open_connection(db_path, OpenFlags::default(), key.as_deref());
    let mut dst = match open_dst() {
        Ok(c)
            if c.query_row("PRAGMA quick_check(1)", [], |r| r.get::<_, String>(0))
                .is_ok_and(|s| s == "ok") =>
        {
            c
        }
        _ => {
            for f in database_files(db_path).iter().take(3) {
                let _ = std::fs::remove_file(f);
            }
            super::create_private_file(db_path).map_err(|source| StoreError::CreateFile {
                path: db_path.to_path_buf(),
                source,
            })?;
            open_dst().map_err(sql_err(db_path, "create database"))?
        }
    };
    dst.busy_timeout(super::DEFAULT_BUSY_TIMEOUT)
        .map_err(sql_err(db_path, "set busy timeout"))?;
    {
        let b = Backup::new(&src, &mut dst).map_err(sql_err(db_path, "start restore"))?;
        b.run_to_completion(4096, Duration::ZERO, None)
            .map_err(sql_err(db_path, "restore"))?;
    }
    drop(dst);
    // A restore goes back in time on purpose: the anchor outside the database follows it
    // (the replaced database is kept, and the restore is in the audit log).
    let _ = std::fs::remove_file(super::audit_key::head_path(db_path));
    // Bring the restored file to this build's schema and WAL mode.
    let mut store = Store::open_with_key(db_path, super::DEFAULT_BUSY_TIMEOUT, key)?;
    store.audit(
        "system",
        "database.restore",
        serde_json::json!({
            "from": from.display().to_string(),
            "replaced_kept_at": replaced_kept_at.as_ref().map(|p| p.display().to_string()),
        }),
    )?;
    let (inspections, _) = store.count_inspections()?;
    Ok(RestoreOutcome {
        replaced_kept_at,
        inspections,
    })
}
