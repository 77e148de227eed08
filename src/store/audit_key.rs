//! The key of the hash chains and the head anchor: files beside the database, never in it.
//!
//! - `<data dir>/audit.key` (or `$FOODQC_AUDIT_KEY_FILE`): 32 random bytes, created 0600 on
//!   first use. Whoever can edit the database without this key cannot forge the hashes.
//! - `<data dir>/audit-head`: the newest link of both chains ([`Head`]), replaced atomically
//!   and fsync'd, so a deleted tail shows. It only ever moves forward (see [`advance`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::StoreError;
use super::chain::{ChainHead, ChainKey, HASH_LEN, Head};

/// Environment variable naming the key file instead of `<data dir>/audit.key`.
pub const KEY_FILE_ENV: &str = "FOODQC_AUDIT_KEY_FILE";

pub(crate) fn data_dir(db_path: &Path) -> &Path {
    db_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// The key file of the database at `db_path`.
pub fn key_path(db_path: &Path) -> PathBuf {
    match std::env::var_os(KEY_FILE_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => data_dir(db_path).join("audit.key"),
    }
}

/// The head anchor file of the database at `db_path`.
pub fn head_path(db_path: &Path) -> PathBuf {
    data_dir(db_path).join("audit-head")
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read the key at `path` (exactly 32 bytes), `None` when there is no such file.
pub fn load_key(path: &Path) -> Result<Option<ChainKey>, StoreError> {
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes).map_err(io_err(path))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let bytes: [u8; HASH_LEN] = bytes.try_into().map_err(|b: Vec<u8>| StoreError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("an audit key file holds 32 bytes, this one {}", b.len()),
        ),
    })?;
    Ok(Some(ChainKey::from_bytes(bytes)))
}

/// Read the key at `path`, creating it (32 random bytes, mode 0600) when there is none.
/// Several processes may race to create it: the key is written to a temporary file and
/// linked into place, so the loser reads the winner's key.
pub fn load_or_create_key(path: &Path) -> Result<ChainKey, StoreError> {
    if let Some(k) = load_key(path)? {
        return Ok(k);
    }
    let mut bytes = [0u8; HASH_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err(Path::new("/dev/urandom")))?;
    create_key_file(path, &bytes)?;
    tracing::info!(key = %path.display(), "audit key created");
    load_key(path)?.ok_or_else(|| {
        io_err(path)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "audit key vanished after creation",
        ))
    })
}

/// Write a new key file at `path` holding `bytes` (mode 0600), unless one is there already.
/// Several processes may race to create it: the bytes go to a temporary file that is linked
/// into place, so the loser keeps the winner's file and must read it back.
pub(crate) fn create_key_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(io_err(&tmp));
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    });
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(dir);
    Ok(())
}

/// fsync a folder so a rename or link in it survives a power cut (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Read an anchor file: `Ok(None)` when there is none.
pub fn read_head(path: &Path) -> Result<Option<Head>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Head::parse(&t).map(Some).ok_or_else(|| {
            io_err(path)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a foodqc audit head file",
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Replace the file at `path` by `head` atomically (temporary file, fsync, rename, fsync of
/// the folder).
pub fn write_head(path: &Path, head: &Head) -> Result<(), StoreError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".part");
    let tmp = PathBuf::from(tmp_name);
    crate::domain::private_fs::create_private(&tmp)
        .and_then(|mut f| {
            f.write_all(head.to_text().as_bytes())
                .and_then(|()| f.sync_all())
        })
        .map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        });
    }
    Ok(())
}

/// The anchor after `db`'s head was read from the database, given the anchor `old`: each
/// chain moves forward only, and only when the database still holds the anchored link
/// unchanged (`holds(chain is audit, id, hash)`). So a tail deleted (or deleted and written
/// again) is never anchored over: the old anchor stays as the evidence. Returns `None` when
/// nothing changes.
pub fn advance(
    old: Option<&Head>,
    db: &Head,
    holds: impl Fn(bool, &ChainHead) -> bool,
) -> Option<Head> {
    let Some(old) = old else {
        return Some(*db);
    };
    let pick = |audit: bool, old: &Option<ChainHead>, new: &Option<ChainHead>| match (old, new) {
        (None, n) => *n,
        (Some(o), Some(n)) if n.id > o.id && holds(audit, o) => Some(*n),
        (o, _) => *o,
    };
    let next = Head {
        audit: pick(true, &old.audit, &db.audit),
        batches: pick(false, &old.batches, &db.batches),
    };
    (next != *old).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_0600_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("audit.key");
        let k1 = load_or_create_key(&path).unwrap();
        let k2 = load_or_create_key(&path).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(load_key(&path).is_err());
    }

    #[test]
    fn anchor_moves_forward_only_over_an_intact_link() {
        let h = |id| {
            Some(ChainHead {
                id,
                hash: [id as u8; 32],
            })
        };
        let old = Head {
            audit: h(5),
            batches: None,
        };
        let newer = Head {
            audit: h(7),
            batches: h(2),
        };
        assert_eq!(advance(Some(&old), &newer, |_, _| true), Some(newer));
        // Tail deleted: the database is behind the anchor; keep it.
        let behind = Head {
            audit: h(3),
            batches: None,
        };
        assert_eq!(advance(Some(&old), &behind, |_, _| true), None);
        // Ahead again but the anchored link is gone or different: keep it too.
        assert_eq!(
            advance(Some(&old), &newer, |audit, _| !audit),
            Some(Head {
                audit: h(5),
                batches: h(2)
            })
        );
        assert_eq!(advance(None, &behind, |_, _| true), Some(behind));
    }
}
