//! Files and folders only their owner may read (0600 and 0700 on Unix): QC records, crops,
//! exports, backups and models are not for every account on a shared line PC. Every layer
//! that writes such files goes through these helpers.

use std::fs::File;
use std::io;
use std::path::Path;

/// Create `dir` and its missing parents readable by the owner only (0700 on Unix). Folders
/// that exist keep their mode.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Create `path` empty with mode 0600 when it does not exist yet (an empty file is an empty
/// SQLite database; SQLite gives its -wal and -shm files the same mode). An existing file is
/// left as it is.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open `path` for writing, created or truncated, readable by the owner only: a new file is
/// created 0600, an existing one is set to 0600 (it may be a leftover written before).
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// Write `bytes` to `path` (created or replaced) readable by the owner only.
pub fn write_private(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    use std::io::Write;
    create_private(path)?.write_all(bytes.as_ref())
}

/// Copy `from` to `to` (created or replaced) readable by the owner only, whatever the mode of
/// `from`. Returns the bytes copied.
pub fn copy_private(from: &Path, to: &Path) -> io::Result<u64> {
    let mut src = File::open(from)?;
    let mut dst = create_private(to)?;
    io::copy(&mut src, &mut dst)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_folders_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a").join("b");
        create_private_dir(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        let f = sub.join("x.csv");
        write_private(&f, "lot,verdict\n").unwrap();
        assert_eq!(mode(&f), 0o600);
        // An existing file written with a wider mode is narrowed when written again.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&f, "again").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "again");
        let open = dir.path().join("open.png");
        std::fs::write(&open, "png").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let copy = sub.join("copy.png");
        assert_eq!(copy_private(&open, &copy).unwrap(), 3);
        assert_eq!(mode(&copy), 0o600);
    }
}
