//! Where foodqc keeps its files.

use std::path::{Path, PathBuf};

/// No `--data-dir` was given and the platform has no user data folder (no home directory).
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("err-domain-paths-no-data-dir"))]
pub struct NoDataDir;

/// The folders and files of one foodqc installation (or one `--data-dir`).
#[derive(Clone, Debug)]
pub struct AppPaths {
    /// Root of everything foodqc writes.
    pub data_dir: PathBuf,
}

impl AppPaths {
    /// Use `data_dir` when given, else the user data dir of the platform
    /// (`~/.local/share/foodqc` on Linux).
    pub fn resolve(data_dir: Option<&Path>) -> Result<Self, NoDataDir> {
        let data_dir = match data_dir {
            Some(d) => d.to_path_buf(),
            None => directories::ProjectDirs::from("", "", "foodqc")
                .map(|p| p.data_dir().to_path_buf())
                .ok_or(NoDataDir)?,
        };
        Ok(Self { data_dir })
    }

    /// The SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("foodqc.sqlite")
    }

    /// Saved sample images (item crops), named by content hash.
    pub fn samples_dir(&self) -> PathBuf {
        self.data_dir.join("samples")
    }

    /// Model versions trained on this installation.
    pub fn models_dir(&self) -> PathBuf {
        self.data_dir.join("models")
    }

    /// Rolling log files.
    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}
