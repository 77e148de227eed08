//! The SQLite store: every inspection, lot, sample, label, model version, user and audit
//! entry.
//!
//! One [`Store`] wraps one SQLite connection to the database file (normally
//! [`crate::domain::AppPaths::db_path`]). The file is in WAL mode, so several `Store` values
//! may be open on the same file from different threads (the station's recorder, the UI, a
//! report export): readers never block the writer, and writers wait for each other up to the
//! busy timeout.
//!
//! Writes from the live line go through the [`InspectionRecorder`] (see [`recorder`]), which
//! batches them on its own thread so the inspector never waits for the disk.
//!
//! Reports read through [`read_model`]: every SQL statement of foodqc lives in this module,
//! and callers get plain rows ([`InspectionView`] is the one read type of an inspection,
//! [`InspectionRow`] the one to insert).
//!
//! Timestamps are `INTEGER` unix milliseconds (UTC) everywhere; see [`now_ms`].

mod acceptance;
mod audit;
pub mod audit_key;
mod backup;
pub mod chain;
mod encrypt;
mod inspections;
pub mod journal;
pub mod key;
mod labeling;
mod migrations;
mod models;
pub mod outbox;
pub mod plant_commands;
pub mod plant_db;
pub mod plant_key;
pub mod plant_models;
pub mod plant_reports;
pub mod read_model;
mod recipes;
pub mod recorder;
mod samples;
mod seal;
mod signatures;
mod stations;
mod thresholds;
mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::domain::private_fs::{create_private_dir, create_private_file};

pub use acceptance::CriteriaSetting;
pub use audit::{AuditEntry, AuditFilter};
pub use backup::{
    DAILY_BACKUPS_KEPT, RestoreOutcome, daily_backup, guard_output_path, restore, restore_with_key,
};
pub use encrypt::{EncryptOutcome, encrypt_database};
#[cfg(test)]
pub(crate) use inspections::LOT_INSPECTIONS_SQL;
pub use inspections::{InspectionRow, InspectionView};
pub use journal::{JournalEntry, ReplayOutcome};
pub use key::{DatabaseKey, check_key, database_key, set_database_key};
pub use labeling::{DefectClass, QueueEntry, QueueFilter, SampleScore, parse_hex_colour};
pub use migrations::{SCHEMA_VERSION, migrations};
pub use models::{ModelVersionRow, NewModelVersion};
pub use outbox::{OutboxCounts, OutboxRow};
pub use read_model::{
    FilterError, FilterOptions, LotDisposition, ReportFilter, Summary, UNCLASSIFIED,
};
pub use recipes::StoredRecipe;
pub use recorder::{
    InspectionRecorder, RecordItem, RecordSender, RecorderOptions, RecorderStats, SampleImage,
};
pub use samples::{
    LabelRow, NewImport, NewLabel, NewSample, SampleRow, SavedSample, save_sample_png,
};
pub use seal::VerifyReport;
pub use signatures::{NewSignature, SignatureRow};
pub use stations::{LotRow, LotStatus, LotSummary, StationRow};
pub use thresholds::{ProductionScore, ThresholdSetting};
pub use users::{FailureOutcome, NewUser, UserRow};

/// How long a write waits for another connection's write transaction before failing with
/// "database is locked".
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors from the store. Every message names the database path, the file, or the table and
/// value concerned, so it can be shown to an operator as is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder that should hold the database (or samples) could not be created.
    #[error("{}", crate::tr!("err-store-create-dir", path = .path.display().to_string(), source = .source.to_string()))]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A new database file could not be created.
    #[error("{}", crate::tr!("err-store-create-file", path = .path.display().to_string(), source = .source.to_string()))]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database path names a directory.
    #[error("{}", crate::tr!("store-is-directory", path = .path.display().to_string()))]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file exists but is not an SQLite database.
    #[error("{}", crate::tr!("store-not-a-database", path = .path.display().to_string()))]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database of some other program (it has tables but no foodqc
    /// schema version); we refuse to add our tables to it.
    #[error("{}", crate::tr!("store-foreign", path = .path.display().to_string()))]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database could not be opened for writing (missing permission, read-only folder or
    /// file system, ...).
    #[error("{}", crate::tr!("store-open", path = .path.display().to_string(), cause = .cause.as_str()))]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite or the OS said.
        cause: String,
    },
    /// The database is encrypted and no key is configured.
    #[error("{}", crate::tr!("store-key-needed", path = .path.display().to_string()))]
    KeyNeeded {
        /// The file.
        path: PathBuf,
    },
    /// The key configured does not decrypt the database.
    #[error("{}", crate::tr!("store-wrong-key", path = .path.display().to_string()))]
    WrongKey {
        /// The file.
        path: PathBuf,
    },
    /// A key is set but the database is a plain (unencrypted) file: refused, so that an
    /// operator who set a key never keeps writing plaintext by mistake.
    #[error("{}", crate::tr!("store-not-encrypted", path = .path.display().to_string()))]
    NotEncrypted {
        /// The file.
        path: PathBuf,
    },
    /// The database key given cannot be used (key file readable by others, empty key, ...).
    #[error("{}", crate::tr!("err-store-key", from = .from.to_string(), reason = .reason.to_string()))]
    Key {
        /// Where the key came from: the environment variable or `key file <path>`.
        from: String,
        /// What is wrong, e.g. the key file's mode.
        reason: String,
    },
    /// The database was written by a newer foodqc; we never touch it.
    #[error("{}", crate::tr!("store-too-new", path = .path.display().to_string(), found = .found.to_string(), supported = .supported.to_string()))]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Schema version found in the file (`PRAGMA user_version`).
        found: i64,
        /// Highest schema version this build knows.
        supported: usize,
    },
    /// Bringing the schema up to date failed.
    #[error("{}", crate::tr!("err-store-migration", path = .path.display().to_string(), target = .target.to_string(), source = .source.to_string()))]
    Migration {
        /// The file.
        path: PathBuf,
        /// The schema version we tried to reach.
        target: usize,
        /// What went wrong.
        #[source]
        source: rusqlite_migration::Error,
    },
    /// An SQL statement failed.
    #[error("{}", crate::tr!("err-store-sqlite", path = .path.display().to_string(), what = .what.to_string(), source = .source.to_string()))]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The operation, naming the table, e.g. `insert into inspections`.
        what: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A row the caller referred to does not exist.
    #[error("{}", crate::tr!("err-store-not-found", path = .path.display().to_string(), id = .id.to_string(), table = .table.to_string()))]
    NotFound {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The change conflicts with the current state (e.g. undoing a label already replaced).
    #[error("{}", crate::tr!("err-store-conflict", path = .path.display().to_string(), what = .what.to_string()))]
    Conflict {
        /// The database file.
        path: PathBuf,
        /// What conflicts.
        what: String,
    },
    /// A value read from (or about to be written to) the database is not valid.
    #[error("{}", crate::tr!("err-store-invalid-value", path = .path.display().to_string(), value = format!("{:?}", .value), table = .table.to_string(), column = .column.to_string()))]
    InvalidValue {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The offending value.
        value: String,
    },
    /// A JSON column could not be read or written.
    #[error("{}", crate::tr!("err-store-json", path = .path.display().to_string(), table = .table.to_string(), column = .column.to_string(), source = .source.to_string()))]
    Json {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// A path cannot be stored because it is not valid UTF-8.
    #[error("{}", crate::tr!("err-store-non-utf8-path", path = .path.display().to_string(), table = .table.to_string()))]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
        /// The table it was meant for.
        table: &'static str,
    },
    /// A sample image could not be encoded as PNG.
    #[error("{}", crate::tr!("err-store-encode", width = .width.to_string(), height = .height.to_string(), dir = .dir.display().to_string(), source = .source.to_string()))]
    Encode {
        /// The samples folder the image was meant for.
        dir: PathBuf,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// What the encoder said.
        #[source]
        source: image::ImageError,
    },
    /// Reading or writing a file (a sample image) failed.
    #[error("{}", crate::tr!("err-store-io", path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The recorder thread could not be started, has stopped, or panicked.
    #[error("{}", crate::tr!("err-store-recorder", path = .path.display().to_string(), reason = .reason.to_string()))]
    Recorder {
        /// The database file the recorder writes to.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
    /// `PRAGMA quick_check` found damage: nothing is written into the file.
    #[error("{}", crate::tr!("store-damaged", path = .path.display().to_string(), detail = .detail.as_str(), backups = .backups.display().to_string()))]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The first problems quick_check reported.
        detail: String,
        /// Where the daily backups are.
        backups: PathBuf,
    },
    /// A lot, product or other code typed by a person is not acceptable.
    #[error("{field} {value:?} is not valid: {reason}")]
    InvalidCode {
        /// The field, e.g. `lot code`.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An export, report or backup was asked to write over the database or one of its files.
    #[error("{}", crate::tr!("store-would-overwrite", path = .path.display().to_string(), db = .db.display().to_string()))]
    WouldOverwriteDatabase {
        /// The output path asked for.
        path: PathBuf,
        /// The database.
        db: PathBuf,
    },
    /// A file given to restore is not a usable foodqc database.
    #[error("{}", crate::tr!("store-bad-backup", path = .path.display().to_string(), reason = .reason.as_str()))]
    BadBackup {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The recorder was finished while it still could not write some items.
    #[error("{}", crate::tr!("store-unrecorded", path = .path.display().to_string(), unrecorded = .unrecorded.to_string(), last_error = .last_error.as_str()))]
    Unrecorded {
        /// The database file the recorder writes to.
        path: PathBuf,
        /// Items sent but never written.
        unrecorded: u64,
        /// The error that kept them from being written.
        last_error: String,
    },
}

impl StoreError {
    /// A lock held by another connection while opening: worth retrying.
    fn is_transient_open(&self) -> bool {
        match self {
            StoreError::Open { cause, .. } => cause.contains("locked") || cause.contains("busy"),
            StoreError::Migration { .. } => true,
            _ => false,
        }
    }
}

/// Maximum length, in characters, of a lot or product code.
pub const MAX_CODE_CHARS: usize = 64;

/// Check a code typed by a person (lot code, product, line, shift, station name) before it
/// reaches the database: not empty or blank, at most [`MAX_CODE_CHARS`] characters, no control
/// characters (newlines, tabs, escapes). The error names the field and the value.
pub fn validate_code(field: &'static str, value: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidCode {
            field,
            value: value.to_string(),
            reason,
        })
    };
    if value.trim().is_empty() {
        return bad("it is empty");
    }
    if value.chars().count() > MAX_CODE_CHARS {
        return bad("it is longer than 64 characters");
    }
    if value.chars().any(char::is_control) {
        return bad("it contains control characters (newline, tab, escape...)");
    }
    Ok(())
}

/// A connection to the foodqc database. `Send` (not `Sync`): give each thread its own `Store`.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The key the connection was opened with, for the backups it writes.
    key: Option<Arc<DatabaseKey>>,
    /// When the chain heads were last anchored outside the database (see `seal`).
    last_anchor: Option<std::time::Instant>,
}

/// The current time as unix milliseconds (UTC), the unit of every timestamp column.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Turn a `rusqlite::Error` into [`StoreError::Sqlite`] naming the file and the operation.
/// A free function (not a method) so it only borrows the path, not the whole `Store`, while a
/// transaction borrows the connection.
fn sql_err<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// A path as UTF-8 text for a `TEXT` column.
fn path_text<'a>(path: &'a Path, table: &'static str) -> Result<&'a str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::NonUtf8Path {
        path: path.to_path_buf(),
        table,
    })
}

impl Store {
    /// Open (or create) the database at `path` with the default busy timeout (5 s).
    ///
    /// Creates the parent folder, switches the file to WAL (`synchronous=NORMAL`), turns
    /// foreign keys on and brings the schema up to date. Refuses, without modifying the file:
    /// a directory, a file that is not an SQLite database, an SQLite database of another
    /// program, and a database written by a newer foodqc.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with_busy_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`Store::open`] with another busy timeout (how long a write waits for a lock held
    /// by another connection before failing with "database is locked").
    pub fn open_with_busy_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let key = database_key()?;
        Self::open_with_key(path, busy_timeout, key)
    }

    /// Like [`Store::open_with_busy_timeout`] with the database key given here rather than
    /// the process-wide one ([`database_key`]): `None` opens a plain file.
    pub fn open_with_key(
        path: &Path,
        busy_timeout: Duration,
        key: Option<Arc<DatabaseKey>>,
    ) -> Result<Store, StoreError> {
        // Opening a brand-new file from several threads at once (GUI, recorder, workers)
        // contends for the lock that switching to WAL and migrating take, which SQLite's busy
        // handler does not always wait for: retry those transient failures for a while.
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            match Self::open_once(path, busy_timeout, key.clone()) {
                Err(e) if e.is_transient_open() && started.elapsed() < busy_timeout => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20 * u64::from(attempt.min(10))));
                }
                other => return other,
            }
        }
    }

    fn open_once(
        path: &Path,
        busy_timeout: Duration,
        key: Option<Arc<DatabaseKey>>,
    ) -> Result<Store, StoreError> {
        let path_buf = path.to_path_buf();
        if path.is_dir() {
            return Err(StoreError::IsDirectory { path: path_buf });
        }
        key::check_file_against_key(path, key.as_deref())?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        create_private_file(path).map_err(|source| StoreError::CreateFile {
            path: path_buf.clone(),
            source,
        })?;
        let open_err = |e: rusqlite::Error| classify_open_error(path, key.as_deref(), e);
        let mut conn = key::open_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            key.as_deref(),
        )
        .map_err(open_err)?;
        conn.busy_timeout(busy_timeout).map_err(open_err)?;

        check_before_writing(&conn, path, key.as_deref())?;
        check_integrity(&conn, path, key.as_deref())?;
        configure(&conn, path, key.as_deref())?;
        migrate(&mut conn, path, key.as_deref())?;
        tracing::debug!(path = %path.display(), encrypted = key.is_some(), "store opened");
        let mut store = Store {
            conn,
            path: path_buf,
            key,
            last_anchor: None,
        };
        // Entries and inspections written before the hash chains existed are chained now.
        store.start_chains();
        // Rows that could not reach the database last time wait in the journal: bring them
        // in now. A failure leaves them there for the recorder's next attempt.
        if journal::journal_path(path)
            .metadata()
            .is_ok_and(|m| m.len() > 0)
            && let Err(e) = store.replay_journal()
        {
            tracing::warn!(error = %e, "rows in the journal not replayed yet");
        }
        Ok(store)
    }

    /// Open an existing database for reading only: for reports on a read-only file or
    /// folder. Refuses what [`Store::open`] refuses (not a database, another program's, newer),
    /// and a database whose schema is older than this build's (open it writable once to
    /// upgrade it). Nothing in the file is changed.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        Self::open_read_only_with_key(path, database_key()?)
    }

    /// Like [`Store::open_read_only`] with the database key given here (`None` for a plain
    /// file).
    pub fn open_read_only_with_key(
        path: &Path,
        key: Option<Arc<DatabaseKey>>,
    ) -> Result<Store, StoreError> {
        let path_buf = path.to_path_buf();
        if path.is_dir() {
            return Err(StoreError::IsDirectory { path: path_buf });
        }
        key::check_file_against_key(path, key.as_deref())?;
        let open_err = |e: rusqlite::Error| classify_open_error(path, key.as_deref(), e);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get(0));
        let mut conn = key::open_connection(path, flags, key.as_deref()).map_err(open_err)?;
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(open_err)?;
        let found: i64 = match version(&conn) {
            Ok(v) => v,
            // A WAL database on a read-only file system cannot create its `-shm` index: no
            // one can write there, so the file may be read as immutable.
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::CannotOpen) => {
                let uri = format!("file:{}?immutable=1", uri_path(path));
                conn =
                    key::open_connection(uri, flags | OpenFlags::SQLITE_OPEN_URI, key.as_deref())
                        .map_err(open_err)?;
                version(&conn).map_err(open_err)?
            }
            Err(e) => return Err(open_err(e)),
        };
        if found > SCHEMA_VERSION as i64 {
            return Err(StoreError::TooNew {
                path: path_buf,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found != SCHEMA_VERSION as i64 {
            return Err(StoreError::Open {
                path: path_buf,
                cause: format!(
                    "it is read-only and has schema version {found} (this foodqc reads {SCHEMA_VERSION}); open it once where it is writable to upgrade it"
                ),
            });
        }
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Store {
            conn,
            path: path_buf,
            key,
            last_anchor: None,
        })
    }

    /// Open for writing, or for reading only when the file or its folder is read-only (for
    /// commands that only read, like reports). Says on stderr's log which it did.
    pub fn open_for_reading(path: &Path) -> Result<Store, StoreError> {
        match Self::open(path) {
            Err(StoreError::Open { cause, .. })
                if path.is_file()
                    && (cause.contains("read-only")
                        || cause.contains("readonly")
                        || cause.contains("unable to open")
                        || cause.contains("permission")) =>
            {
                tracing::warn!(path = %path.display(), "database is read-only: opened for reading only");
                Self::open_read_only(path)
            }
            other => other,
        }
    }

    /// The database file this store writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for the store's own tests. Everything outside the store
    /// goes through the `Store` methods (the report queries are in [`read_model`]).
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Change how long writes wait for another connection's lock.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(timeout)
            .map_err(sql_err(&self.path, "set busy timeout"))
    }
}

/// Look at the file before changing anything in it: refuse a file that is not a database, a
/// database of another program, a newer schema and a read-only file.
fn check_before_writing(
    conn: &Connection,
    path: &Path,
    key: Option<&DatabaseKey>,
) -> Result<(), StoreError> {
    let path_buf = path.to_path_buf();
    let open_err = |e: rusqlite::Error| classify_open_error(path, key, e);
    // Look at the file before changing anything in it: reading the header is what detects
    // a file that is not a database, and a newer schema must stay untouched (switching to
    // WAL already rewrites the header).
    // One statement, so the version and the table count come from the same snapshot
    // (another connection may be migrating the file right now).
    let (found, tables): (i64, i64) = conn
        .query_row(
            "SELECT user_version, (SELECT count(*) FROM sqlite_schema) FROM pragma_user_version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(open_err)?;
    let supported = SCHEMA_VERSION;
    if found > supported as i64 {
        return Err(StoreError::TooNew {
            path: path_buf,
            found,
            supported,
        });
    }
    if found <= 0 && tables > 0 {
        return Err(StoreError::ForeignDatabase { path: path_buf });
    }
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(open_err)? {
        return Err(StoreError::Open {
            path: path_buf,
            cause: "the file is read-only".into(),
        });
    }
    Ok(())
}

/// `path` for an SQLite `file:` URI (`%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    abs.to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// `PRAGMA quick_check` before the first write of this process into the file: refuse a damaged
/// database. Once per path per process (it reads the whole file).
fn check_integrity(
    conn: &Connection,
    path: &Path,
    key: Option<&DatabaseKey>,
) -> Result<(), StoreError> {
    static CHECKED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if CHECKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&canonical)
    {
        return Ok(());
    }
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
                path: path.to_path_buf(),
                detail: e.to_string(),
                backups: backup::backups_dir(path),
            },
            _ => classify_open_error(path, key, e),
        })?;
    if problems.len() != 1 || problems[0] != "ok" {
        return Err(StoreError::Damaged {
            path: path.to_path_buf(),
            detail: problems.join("; "),
            backups: backup::backups_dir(path),
        });
    }
    CHECKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(canonical);
    Ok(())
}

/// WAL journal, `synchronous=NORMAL`, foreign keys on, a statement cache for the recorder and
/// the queries.
fn configure(conn: &Connection, path: &Path, key: Option<&DatabaseKey>) -> Result<(), StoreError> {
    let open_err = |e: rusqlite::Error| classify_open_error(path, key, e);
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            cause: format!("could not switch to WAL journal mode (got {mode:?})"),
        });
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    // Room for every statement we prepare (the recorder and the queries).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Bring the schema up to date, tolerating another connection that migrates at the same time.
fn migrate(
    conn: &mut Connection,
    path: &Path,
    key: Option<&DatabaseKey>,
) -> Result<(), StoreError> {
    // Several threads or processes may open a brand-new file at once (GUI, recorder,
    // report worker): the first to commit migrates it and the others fail on the tables it
    // created. So after a failure, look again: a schema now up to date is success.
    let mut attempt = 0;
    loop {
        let Err(source) = migrations().to_latest(conn) else {
            break;
        };
        attempt += 1;
        let now: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap_or(-1);
        if now == SCHEMA_VERSION as i64 {
            break;
        }
        if attempt < 5
            && !matches!(&source, rusqlite_migration::Error::RusqliteError { err, .. } if is_open_failure(err))
        {
            std::thread::sleep(Duration::from_millis(50 * attempt));
            continue;
        }
        return Err(match source {
            rusqlite_migration::Error::RusqliteError { err, .. } if is_open_failure(&err) => {
                classify_open_error(path, key, err)
            }
            source => StoreError::Migration {
                path: path.to_path_buf(),
                target: SCHEMA_VERSION,
                source,
            },
        });
    }
    Ok(())
}

/// Errors that mean "could not open / write the file" rather than "bad SQL".
fn is_open_failure(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::NotADatabase
                | ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::PermissionDenied
        )
    )
}

/// Map an error met while opening (with `key`, if one was applied) to the clearest
/// [`StoreError`].
fn classify_open_error(path: &Path, key: Option<&DatabaseKey>, e: rusqlite::Error) -> StoreError {
    let path_buf = path.to_path_buf();
    match e.sqlite_error_code() {
        // With a key, SQLCipher cannot tell a wrong key from a file that is no database.
        Some(ErrorCode::NotADatabase) if key.is_some() && path.is_file() => {
            StoreError::WrongKey { path: path_buf }
        }
        Some(ErrorCode::NotADatabase) => match key::file_state(path) {
            key::FileState::Encrypted => StoreError::KeyNeeded { path: path_buf },
            _ => StoreError::NotADatabase { path: path_buf },
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
            detail: e.to_string(),
            backups: backup::backups_dir(path),
            path: path_buf,
        },
        _ if path.is_dir() => StoreError::IsDirectory { path: path_buf },
        _ => StoreError::Open {
            path: path_buf,
            cause: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
