//! Encryption at rest: the database key (SQLCipher) and how a file's state is told apart.
//!
//! One key serves the whole process: it comes from `FOODQC_DB_KEY` (a passphrase, for a
//! headless station), from the file named by `FOODQC_DB_KEY_FILE` (readable by its owner
//! only, like an ssh key), or from the workstation's passphrase prompt through
//! [`set_database_key`]. Every connection the store opens applies it first (`PRAGMA key`);
//! without a key SQLCipher reads and writes plain SQLite files, so a station that never set a
//! key keeps working as before.
//!
//! Whether a file is encrypted is read from its first 16 bytes: a plain SQLite file starts
//! with `SQLite format 3\0`, an SQLCipher file with its random salt.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// The environment variable holding the passphrase of the database.
pub const KEY_ENV: &str = "FOODQC_DB_KEY";
/// The environment variable naming a file whose first line is the passphrase.
pub const KEY_FILE_ENV: &str = "FOODQC_DB_KEY_FILE";

/// The first 16 bytes of every plain (unencrypted) SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The passphrase that opens the database. Never printed (`Debug` hides it) and overwritten
/// with zeros when dropped.
#[derive(Clone)]
pub struct DatabaseKey(String);

impl DatabaseKey {
    /// A key from a passphrase; `None` when it is empty (an empty key would mean "no
    /// encryption" to SQLCipher).
    pub fn new(passphrase: String) -> Option<DatabaseKey> {
        if passphrase.is_empty() {
            None
        } else {
            Some(DatabaseKey(passphrase))
        }
    }

    /// The passphrase, for `PRAGMA key` only.
    fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(<hidden>)")
    }
}

impl Drop for DatabaseKey {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keep the zeroing from being optimised away as a dead store.
        std::hint::black_box(&bytes);
    }
}

/// The process-wide key: `None` until resolved (from the environment or
/// [`set_database_key`]), then `Some(None)` when there is none.
static KEY: Mutex<Option<Option<Arc<DatabaseKey>>>> = Mutex::new(None);

/// Set the key every connection opened from now on applies (the workstation's passphrase
/// prompt; `None` to open plain databases again).
pub fn set_database_key(key: Option<DatabaseKey>) {
    *KEY.lock().unwrap_or_else(PoisonError::into_inner) = Some(key.map(Arc::new));
}

/// The key in force: the one set with [`set_database_key`], else the one the environment
/// gives (read once; see [`key_from_environment`]). An unusable key file is an error, asked
/// again on the next call.
pub fn database_key() -> Result<Option<Arc<DatabaseKey>>, StoreError> {
    let mut guard = KEY.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(key) = &*guard {
        return Ok(key.clone());
    }
    let key = key_from_environment()?.map(Arc::new);
    *guard = Some(key.clone());
    Ok(key)
}

/// The key from `FOODQC_DB_KEY`, else from the file named by `FOODQC_DB_KEY_FILE`, else
/// none. The file must be readable by its owner only (no group or other permission bits, as
/// ssh demands of a private key); its first line is the passphrase (a trailing newline is not
/// part of it).
pub fn key_from_environment() -> Result<Option<DatabaseKey>, StoreError> {
    if let Some(value) = std::env::var_os(KEY_ENV) {
        let passphrase = value.into_string().map_err(|_| StoreError::Key {
            from: KEY_ENV.into(),
            reason: "it is not valid UTF-8".into(),
        })?;
        return DatabaseKey::new(passphrase)
            .map(Some)
            .ok_or(StoreError::Key {
                from: KEY_ENV.into(),
                reason: "it is set but empty".into(),
            });
    }
    match std::env::var_os(KEY_FILE_ENV) {
        Some(file) if !file.is_empty() => read_key_file(Path::new(&file)).map(Some),
        _ => Ok(None),
    }
}

/// Read a key file: refused when group or others may read or write it, or when its first
/// line is empty.
pub fn read_key_file(path: &Path) -> Result<DatabaseKey, StoreError> {
    let from = format!("key file {}", path.display());
    let bad = |reason: String| StoreError::Key {
        from: from.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "its mode is {mode:04o}: group and others may read it; make it readable by its owner only (chmod 600 {})",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let line = text.lines().next().unwrap_or_default();
    DatabaseKey::new(line.to_string()).ok_or_else(|| bad("its first line is empty".into()))
}

/// What the start of a database file says about its encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileState {
    /// No file, or an empty one: a new database, encrypted if a key is set.
    New,
    /// A plain SQLite file (`SQLite format 3\0`).
    Plain,
    /// No SQLite header, and a size that is a whole number of pages: an SQLCipher file.
    Encrypted,
    /// Neither: not a database (or not one we can tell).
    Other,
}

/// Read the first 16 bytes of `path` (and its size) to tell its [`FileState`].
pub fn file_state(path: &Path) -> FileState {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return FileState::New;
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return FileState::New;
    }
    let mut header = [0u8; 16];
    if file.read_exact(&mut header).is_err() {
        return FileState::Other;
    }
    if &header == SQLITE_HEADER {
        FileState::Plain
    } else if len % 512 == 0 {
        // Pages are a power of two of at least 512 bytes; a text or image file rarely is.
        FileState::Encrypted
    } else {
        FileState::Other
    }
}

/// Refuse to open `path` when its state and the key do not go together: an encrypted file
/// without a key ([`StoreError::KeyNeeded`]) and a plain file while a key is set
/// ([`StoreError::NotEncrypted`]: an operator who set a key must not keep writing plaintext).
pub(crate) fn check_file_against_key(
    path: &Path,
    key: Option<&DatabaseKey>,
) -> Result<(), StoreError> {
    match (file_state(path), key) {
        (FileState::Encrypted, None) => Err(StoreError::KeyNeeded {
            path: path.to_path_buf(),
        }),
        (FileState::Plain, Some(_)) => Err(StoreError::NotEncrypted {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Open an SQLite connection and apply `key` before anything else reads the file. The key
/// itself is checked by the first read (a wrong key fails there with "file is not a
/// database").
pub(crate) fn open_connection(
    path: impl AsRef<Path>,
    flags: OpenFlags,
    key: Option<&DatabaseKey>,
) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)?;
    // SQLCipher logs its errors to stderr by default ("sqlcipher_codec_ctx_set_error 1" for a
    // wrong key); the store reports them itself, in words an operator can act on.
    conn.query_row("PRAGMA cipher_log_level = NONE", [], |_| Ok(()))?;
    if let Some(key) = key {
        conn.pragma_update(None, "key", key.secret())?;
    }
    Ok(conn)
}

/// Attach the database file `path` to `conn` as `schema` (a fixed name, not user input),
/// encrypted with `key` (created when missing).
pub(crate) fn attach_encrypted(
    conn: &Connection,
    path: &str,
    schema: &'static str,
    key: &DatabaseKey,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {schema} KEY ?2"),
        rusqlite::params![path, key.secret()],
    )
    .map(|_| ())
}

/// Check that `key` opens the database at `path` (reads its schema), without changing the
/// file. [`StoreError::WrongKey`] when it does not.
pub fn check_key(path: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
    let conn = open_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        Some(key),
    )
    .map_err(|e| super::classify_open_error(path, Some(key), e))?;
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| super::classify_open_error(path, Some(key), e))?;
    Ok(())
}

/// The file beside `path` named `<name><suffix>`.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
