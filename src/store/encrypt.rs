//! `foodqc encrypt`: turn a plain database (and its daily backups) into SQLCipher files.
//!
//! The plain file is exported with `sqlcipher_export` into a new file beside it, the copy is
//! checked (`PRAGMA integrity_check`, the same number of rows in every table, the same schema
//! version), and only then renamed over the original: a failure at any step leaves the plain
//! database as it was. Rows keep their ids, so the audit chains verify as before.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use super::key::{self, DatabaseKey, FileState};
use super::{DEFAULT_BUSY_TIMEOUT, Store, StoreError, backup, sql_err};

/// What [`encrypt_database`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EncryptOutcome {
    /// The database, now encrypted.
    pub database: PathBuf,
    /// Every table copied, with its number of rows (the same before and after).
    pub tables: Vec<(String, i64)>,
    /// Daily backups that were plain and are now encrypted with the same key.
    pub backups_encrypted: Vec<PathBuf>,
    /// Daily backups left as they were, with the reason (could not be encrypted).
    pub backups_left_plain: Vec<(PathBuf, String)>,
}

/// Encrypt the plain database at `db_path` with `key`, then its plain daily backups.
///
/// Refuses a database that is encrypted already, missing, not a foodqc database, damaged, or
/// open in another process (the station must be stopped: a process still holding the plain
/// file would go on writing into a file that has been replaced).
pub fn encrypt_database(
    db_path: &Path,
    key: Arc<DatabaseKey>,
) -> Result<EncryptOutcome, StoreError> {
    let conflict = |what: String| StoreError::Conflict {
        path: db_path.to_path_buf(),
        what,
    };
    match key::file_state(db_path) {
        FileState::Plain => {}
        FileState::Encrypted => return Err(conflict("it is encrypted already".into())),
        FileState::New => return Err(conflict("there is no database to encrypt".into())),
        FileState::Other => {
            return Err(StoreError::NotADatabase {
                path: db_path.to_path_buf(),
            });
        }
    }
    // Opening as a store refuses what is not a foodqc database, brings the schema up to date
    // and brings in rows waiting in the journal.
    let store = Store::open_with_key(db_path, DEFAULT_BUSY_TIMEOUT, None)?;
    let conn = &store.conn;
    // Leaving WAL needs the only connection to the file: the sure sign no station, desk or
    // report still has it open. It also folds the -wal file into the database.
    let open_elsewhere = || {
        conflict(
            "another process has it open (stop the station, the workstation and any report first); nothing was changed"
                .into(),
        )
    };
    let mode: String = conn
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                open_elsewhere()
            }
            _ => sql_err(db_path, "leave WAL mode")(e),
        })?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(open_elsewhere());
    }
    let staging = key::sibling(db_path, ".encrypting");
    let tables = export_encrypted(conn, db_path, &staging, &key).inspect_err(|_| {
        let _ = std::fs::remove_file(&staging);
    })?;
    drop(store);
    // Stale companions of the plain file must not be read as the new file's journal.
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(key::sibling(db_path, suffix));
    }
    std::fs::rename(&staging, db_path).map_err(|source| StoreError::Io {
        path: db_path.to_path_buf(),
        source,
    })?;
    sync_folder(db_path);
    tracing::info!(path = %db_path.display(), "database encrypted");

    let mut outcome = EncryptOutcome {
        database: db_path.to_path_buf(),
        tables,
        ..EncryptOutcome::default()
    };
    for file in plain_backups(db_path) {
        match encrypt_backup(&file, &key) {
            Ok(()) => outcome.backups_encrypted.push(file),
            Err(e) => outcome.backups_left_plain.push((file, e.to_string())),
        }
    }
    // Leave the database as the station expects it: WAL, schema checked, opened with the key.
    Store::open_with_key(db_path, DEFAULT_BUSY_TIMEOUT, Some(key))?;
    Ok(outcome)
}

/// The plain SQLite files among the daily backups of the database at `db_path`.
fn plain_backups(db_path: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(backup::backups_dir(db_path)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .filter(|p| key::file_state(p) == FileState::Plain)
        .collect();
    files.sort();
    files
}

/// Encrypt one plain backup file in place (through a checked copy and a rename).
fn encrypt_backup(file: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
    // Writable: the encrypted copy is attached to this connection.
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err(file, "open backup"))?;
    // A copy of a WAL database is in WAL mode too: fold its -wal in first.
    conn.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
        .map_err(sql_err(file, "leave WAL mode"))?;
    let staging = key::sibling(file, ".encrypting");
    export_encrypted(&conn, file, &staging, key).inspect_err(|_| {
        let _ = std::fs::remove_file(&staging);
    })?;
    drop(conn);
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(key::sibling(file, suffix));
    }
    std::fs::rename(&staging, file).map_err(|source| StoreError::Io {
        path: file.to_path_buf(),
        source,
    })
}

/// Copy the plain database open on `conn` (the file `src_path`) into a new encrypted file
/// `dst` (0600), then check the copy: integrity, schema version, and the row count of every
/// table. Returns the tables and their rows.
fn export_encrypted(
    conn: &Connection,
    src_path: &Path,
    dst: &Path,
    key: &DatabaseKey,
) -> Result<Vec<(String, i64)>, StoreError> {
    let _ = std::fs::remove_file(dst); // a leftover of an interrupted run
    super::create_private_file(dst).map_err(|source| StoreError::CreateFile {
        path: dst.to_path_buf(),
        source,
    })?;
    let dst_text = super::path_text(dst, "attach")?;
    let copy = |what: &'static str| sql_err(src_path, what);
    key::attach_encrypted(conn, dst_text, "encrypted", key).map_err(copy("attach the copy"))?;
    let exported = (|| {
        conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        // sqlcipher_export copies tables and rows; the schema version is set here.
        let version: i64 = conn.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
        conn.pragma_update(Some("encrypted"), "user_version", version)?;
        Ok(())
    })();
    let detached = conn.execute("DETACH DATABASE encrypted", []);
    exported.map_err(copy("export into the encrypted copy"))?;
    detached.map_err(copy("detach the copy"))?;

    let tables = row_counts(conn, src_path)?;
    let copy_conn = key::open_connection(
        dst,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        Some(key),
    )
    .map_err(sql_err(dst, "open the encrypted copy"))?;
    let check: String = copy_conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sql_err(dst, "check the encrypted copy"))?;
    let mismatch = |what: String| StoreError::Conflict {
        path: dst.to_path_buf(),
        what: format!("the encrypted copy {what}; the plain database was not changed"),
    };
    if check != "ok" {
        return Err(mismatch(format!("fails its integrity check ({check})")));
    }
    let version = |c: &Connection, p: &Path| {
        c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(sql_err(p, "read the schema version"))
    };
    if version(conn, src_path)? != version(&copy_conn, dst)? {
        return Err(mismatch("has another schema version".into()));
    }
    let copied = row_counts(&copy_conn, dst)?;
    if copied != tables {
        return Err(mismatch(format!(
            "has other tables or row counts ({copied:?}, expected {tables:?})"
        )));
    }
    // Indexes and triggers (the append-only guards of the audit trail) come along too.
    if schema_objects(&copy_conn, dst)? != schema_objects(conn, src_path)? {
        return Err(mismatch(
            "lacks indexes, triggers or views of the original".into(),
        ));
    }
    drop(copy_conn);
    std::fs::File::open(dst)
        .and_then(|f| f.sync_all())
        .map_err(|source| StoreError::Io {
            path: dst.to_path_buf(),
            source,
        })?;
    Ok(tables)
}

/// Every table of the database (but SQLite's own) with its number of rows, by name.
fn row_counts(conn: &Connection, path: &Path) -> Result<Vec<(String, i64)>, StoreError> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql_err(path, "list tables"))?;
    names
        .into_iter()
        .map(|name| {
            let quoted = name.replace('"', "\"\"");
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| {
                    r.get(0)
                })
                .map_err(sql_err(path, "count rows"))?;
            Ok((name, rows))
        })
        .collect()
}

/// Every index, trigger and view of the database, as `type name`, sorted.
fn schema_objects(conn: &Connection, path: &Path) -> Result<Vec<String>, StoreError> {
    conn.prepare(
        "SELECT type || ' ' || name FROM sqlite_schema
         WHERE type IN ('index', 'trigger', 'view') ORDER BY type, name",
    )
    .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
    .map_err(sql_err(path, "list indexes and triggers"))
}

/// Flush the folder holding `path`, so the rename survives a power cut (best effort).
fn sync_folder(path: &Path) {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}
