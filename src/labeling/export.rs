//! Exporting the labelled set as an MVTec-style folder:
//!
//! ```text
//! OUT/<label>/<sample_id>.png
//! OUT/ground_truth/<label>/<sample_id>_mask.png     (when the label has a mask)
//! OUT/labels.csv    file,label,sample_id,hash,source,labeled_by,labeled_at
//! ```
//!
//! Each sample appears once, under its current (latest) label. The PNG bytes are copied as
//! stored, so the `hash` column is the blake3 of the exported file and a re-import (see
//! [`crate::labeling::import`]) finds the same samples and labels again.
//!
//! The export is written into a hidden staging folder inside OUT and moved into place only
//! when complete, so a cancel or an error leaves OUT as it was.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::import::{LABELS_CSV, Progress};
use crate::domain::private_fs;
use crate::store::{LabelRow, SampleRow, Store, StoreError};

/// The header of `labels.csv`.
pub const CSV_HEADER: [&str; 7] = [
    "file",
    "label",
    "sample_id",
    "hash",
    "source",
    "labeled_by",
    "labeled_at",
];

/// A sample (or mask) that could not be exported, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportFailure {
    /// The sample.
    pub sample_id: i64,
    /// The file that could not be copied.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExportReport {
    /// The folder written.
    pub out: PathBuf,
    /// Images written (one per labelled sample whose file could be read).
    pub exported: usize,
    /// Masks written.
    pub masks: usize,
    /// Images per label, by label.
    pub per_label: BTreeMap<String, usize>,
    /// Samples skipped (their image is missing) and masks left out, with the reason.
    pub failed: Vec<ExportFailure>,
    /// The export was cancelled: the folder was left as it was.
    pub cancelled: bool,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cancelled {
            write!(
                f,
                "export cancelled: {} was left as it was",
                self.out.display()
            )?;
        } else {
            write!(
                f,
                "exported {} labelled sample(s) and {} mask(s) to {}",
                self.exported,
                self.masks,
                self.out.display()
            )?;
            let labels: Vec<String> = self
                .per_label
                .iter()
                .map(|(l, n)| format!("{l}: {n}"))
                .collect();
            if !labels.is_empty() {
                write!(f, " ({})", labels.join(", "))?;
            }
        }
        for fail in &self.failed {
            write!(
                f,
                "\n  failed: sample {} ({}): {}",
                fail.sample_id,
                fail.path.display(),
                fail.reason
            )?;
        }
        Ok(())
    }
}

/// Errors that stop an export as a whole (the output folder is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output folder has files in it and `overwrite` was not set.
    #[error(
        "export folder {path} is not empty; choose an empty or new folder, or allow overwriting"
    )]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// The output path exists and is not a folder.
    #[error("{}", crate::tr!("err-labeling-export-not-a-folder", path = .path.display().to_string()))]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// Reading the labelled samples failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the export failed.
    #[error("{}", crate::tr!("err-labeling-export-io", path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing `labels.csv` failed.
    #[error("{}", crate::tr!("err-labeling-export-csv", path = .path.display().to_string(), source = .source.to_string()))]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// What the CSV writer said.
        #[source]
        source: csv::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The folder name for a label: the label itself when it is a safe file name, else the label
/// with every other character replaced by `_` (`labels.csv` keeps the exact label).
pub fn label_folder(label: &str) -> String {
    let mut name: String = label
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Names that would mean something else in the tree (or in the file system).
    if name.trim_matches('.').is_empty()
        || name.starts_with('.')
        || name.starts_with("ground_truth")
        || name == LABELS_CSV
    {
        name = format!("label_{name}");
    }
    name
}

/// Export the labelled samples of `store` to `out` (created if missing; see the module docs
/// for the layout).
///
/// Refuses a non-empty `out` unless `overwrite` is set; with `overwrite`, files of the same
/// name are replaced and the files listed in a previous export's `labels.csv` that this
/// export does not write again are removed (nothing else in `out` is touched).
///
/// `progress` is called before each sample and once at the end; `cancel` is checked between
/// samples. A sample whose image file is missing is listed in the report and skipped; a
/// missing mask is listed and the image exported without it.
///
/// # Errors
/// [`ExportError::NotEmpty`] / [`ExportError::NotAFolder`] naming `out`; [`ExportError::Io`] /
/// [`ExportError::Csv`] naming the file that could not be written; [`ExportError::Store`].
pub fn export_labelled(
    store: &Store,
    out: &Path,
    overwrite: bool,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ExportReport, ExportError> {
    crate::store::guard_output_path(store.path(), out)?;
    let existed = out.exists();
    if existed && !out.is_dir() {
        return Err(ExportError::NotAFolder {
            path: out.to_path_buf(),
        });
    }
    if existed
        && !overwrite
        && std::fs::read_dir(out)
            .map_err(io_err(out))?
            .next()
            .is_some()
    {
        return Err(ExportError::NotEmpty {
            path: out.to_path_buf(),
        });
    }
    let rows = store.labelled_samples()?;
    // Folders made here, like the files, are the owner's only (labelled plant images).
    private_fs::create_private_dir(out).map_err(io_err(out))?;
    let staging = out.join(format!(".foodqc-export-{}.partial", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    private_fs::create_private_dir(&staging).map_err(io_err(&staging))?;

    let mut report = ExportReport {
        out: out.to_path_buf(),
        ..ExportReport::default()
    };
    let staged = stage(&rows, &staging, cancel, progress, &mut report);
    let files = match staged {
        Ok(Some(files)) => files,
        other => {
            // Cancelled or failed: leave `out` as it was.
            let _ = std::fs::remove_dir_all(&staging);
            if !existed {
                let _ = std::fs::remove_dir(out);
            }
            return match other {
                Err(e) => Err(e),
                _ => Ok(ExportReport {
                    out: out.to_path_buf(),
                    cancelled: true,
                    ..ExportReport::default()
                }),
            };
        }
    };
    let old = previous_export_files(out);
    move_into_place(&staging, out, &files)?;
    // Files of the previous export that this one did not write again (e.g. a sample whose
    // label changed) would otherwise sit in two class folders.
    let new: HashSet<&String> = files.iter().collect();
    for rel in old.iter().filter(|f| !new.contains(f)) {
        let path = out.join(rel);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
        if let Some(parent) = path.parent()
            && parent != out
        {
            let _ = std::fs::remove_dir(parent); // only succeeds when empty
        }
    }
    let _ = std::fs::remove_dir_all(&staging);
    progress(Progress {
        done: rows.len(),
        total: rows.len(),
        current: None,
    });
    tracing::info!(out = %out.display(), exported = report.exported, "export finished");
    Ok(report)
}

/// Copy the images and masks into `staging` and write `labels.csv` there. Returns the relative
/// paths written (labels.csv last), or `None` when cancelled.
fn stage(
    rows: &[(SampleRow, LabelRow)],
    staging: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
    report: &mut ExportReport,
) -> Result<Option<Vec<String>>, ExportError> {
    let csv_path = staging.join(LABELS_CSV);
    let file = private_fs::create_private(&csv_path).map_err(io_err(&csv_path))?;
    let mut csv = csv::Writer::from_writer(file);
    let csv_err = |source| ExportError::Csv {
        path: csv_path.clone(),
        source,
    };
    csv.write_record(CSV_HEADER).map_err(csv_err)?;
    let mut files = Vec::new();
    for (i, (sample, label)) in rows.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        progress(Progress {
            done: i,
            total: rows.len(),
            current: Some(&sample.path),
        });
        let folder = label_folder(&label.label);
        let rel = format!("{folder}/{}.png", sample.id);
        let dir = staging.join(&folder);
        private_fs::create_private_dir(&dir).map_err(io_err(&dir))?;
        if let Err(e) = private_fs::copy_private(&sample.path, &staging.join(&rel)) {
            report.failed.push(ExportFailure {
                sample_id: sample.id,
                path: sample.path.clone(),
                reason: crate::tr!("export-cannot-read-sample", error = e.to_string()),
            });
            continue;
        }
        files.push(rel.clone());
        if let Some(mask) = &label.mask_path {
            let mask_rel = format!("ground_truth/{folder}/{}_mask.png", sample.id);
            let mask_dir = staging.join("ground_truth").join(&folder);
            private_fs::create_private_dir(&mask_dir).map_err(io_err(&mask_dir))?;
            match private_fs::copy_private(mask, &staging.join(&mask_rel)) {
                Ok(_) => {
                    files.push(mask_rel);
                    report.masks += 1;
                }
                Err(e) => report.failed.push(ExportFailure {
                    sample_id: sample.id,
                    path: mask.clone(),
                    reason: crate::tr!("export-cannot-read-mask", error = e.to_string()),
                }),
            }
        }
        let labeled_at = jiff::Timestamp::from_millisecond(label.created_at_ms)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| label.created_at_ms.to_string());
        csv.write_record([
            rel.as_str(),
            label.label.as_str(),
            &sample.id.to_string(),
            sample.hash.as_str(),
            sample.source.as_str(),
            label.labeled_by.as_str(),
            labeled_at.as_str(),
        ])
        .map_err(csv_err)?;
        report.exported += 1;
        *report.per_label.entry(label.label.clone()).or_default() += 1;
    }
    csv.flush().map_err(|source| ExportError::Io {
        path: csv_path.clone(),
        source,
    })?;
    files.push(LABELS_CSV.to_string());
    Ok(Some(files))
}

/// Move the staged files into `out` (same file system: renames), labels.csv last.
fn move_into_place(staging: &Path, out: &Path, files: &[String]) -> Result<(), ExportError> {
    for rel in files {
        let to = out.join(rel);
        if let Some(parent) = to.parent() {
            private_fs::create_private_dir(parent).map_err(io_err(parent))?;
        }
        std::fs::rename(staging.join(rel), &to).map_err(io_err(&to))?;
    }
    Ok(())
}

/// The files a previous export in `out` wrote (its `labels.csv` rows and their masks), as
/// relative paths; empty when there is none or it cannot be read.
fn previous_export_files(out: &Path) -> Vec<String> {
    let Ok(mut reader) = csv::Reader::from_path(out.join(LABELS_CSV)) else {
        return Vec::new();
    };
    let Some(col) = reader
        .headers()
        .ok()
        .and_then(|h| h.iter().position(|c| c == "file"))
    else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for record in reader.records().map_while(Result::ok) {
        let Some(rel) = record.get(col) else { continue };
        // Only our own layout (<folder>/<id>.png); never follow a path out of `out`.
        let parts: Vec<&str> = rel.split('/').collect();
        let [folder, name] = parts[..] else { continue };
        let safe = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.contains('\\');
        if !safe(folder) || !safe(name) || !name.ends_with(".png") {
            continue;
        }
        let stem = name.trim_end_matches(".png");
        files.push(rel.to_string());
        files.push(format!("ground_truth/{folder}/{stem}_mask.png"));
    }
    files
}
