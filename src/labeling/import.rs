//! Importing images from disk as samples: single files, plain folders (recursive), MVTec-style
//! dataset trees (labels from the class folders, masks from `ground_truth/`) and folders written
//! by [`crate::labeling::export`] (labels from their `labels.csv`).
//!
//! An import is all or nothing: images are decoded and saved as sample PNGs first, then every
//! row is registered in one transaction ([`Store::import_batch`]). A cancel or an error before
//! the commit leaves the database untouched and removes the files this import wrote.

mod walk;

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::imageio::load_rgb;
use crate::store::{
    NewImport, NewLabel, NewSample, SavedSample, Store, StoreError, save_sample_png,
};
use walk::{Candidate, collect_candidates};

pub use walk::{FolderLayout, detect_layout};

/// File extensions (lower case) picked up when walking a folder: the formats the `image`
/// crate is built with here (PNG and JPEG). A file given by name is tried whatever its
/// extension (the format is recognised from the content).
pub const IMPORT_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The file name that marks a folder written by [`crate::labeling::export`].
pub const LABELS_CSV: &str = "labels.csv";

/// Where a long import or export is: `done` of `total` files, working on `current`
/// (`None` in the final call, when `done == total`).
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Files finished.
    pub done: usize,
    /// Files in all.
    pub total: usize,
    /// The file being worked on.
    pub current: Option<&'a Path>,
}

/// A file that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportFailure {
    /// The file (or folder) concerned.
    pub path: PathBuf,
    /// What was wrong with it, for the operator.
    pub reason: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Image files found (explicit files count whatever their extension).
    pub found: usize,
    /// New samples registered.
    pub imported: usize,
    /// Files whose image was already a sample (same content hash), or repeated within this
    /// import: not imported again.
    pub duplicates: usize,
    /// Of the new samples, those imported with a label (MVTec-style tree or export folder).
    pub labelled: usize,
    /// Files skipped because they could not be read, with the reason.
    pub failed: Vec<ImportFailure>,
    /// The import was cancelled: nothing was imported and no file it wrote is left.
    pub cancelled: bool,
}

impl ImportReport {
    /// True when files were found and every one of them failed.
    pub fn all_failed(&self) -> bool {
        !self.failed.is_empty() && self.imported == 0 && self.duplicates == 0
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cancelled {
            write!(
                f,
                "import cancelled: nothing was imported ({} image file(s) found)",
                self.found
            )?;
        } else {
            write!(
                f,
                "imported {} new sample(s) ({} labelled), {} duplicate(s) skipped, {} failed \
                 ({} image file(s) found)",
                self.imported,
                self.labelled,
                self.duplicates,
                self.failed.len(),
                self.found
            )?;
        }
        for fail in &self.failed {
            write!(f, "\n  failed: {}: {}", fail.path.display(), fail.reason)?;
        }
        Ok(())
    }
}

/// Errors that stop an import as a whole (a bad file only adds an [`ImportFailure`]).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The actor (who imports) must be named: it goes into the labels and the audit log.
    #[error("{}", crate::tr!("err-labeling-import-no-actor"))]
    NoActor,
    /// The database refused the rows (nothing was committed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A mask could not be copied into the samples folder.
    #[error("{}", crate::tr!("err-labeling-import-copy-mask", from = .from.display().to_string(), to = .to.display().to_string(), source = .source.to_string()))]
    CopyMask {
        /// The mask in the imported tree.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why one file is skipped (the import goes on; the reason goes into the report).
#[derive(Debug, thiserror::Error)]
enum Unusable {
    /// The image cannot be decoded.
    #[error("{0}")]
    Image(image::ImageError),
    /// Its mask cannot be read.
    #[error("{}", crate::tr!("err-labeling-import-mask", path = .path.display().to_string(), source = .source.to_string()))]
    Mask {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    /// Its mask is not the image's size.
    #[error("{}", crate::tr!("err-labeling-import-mask-size", path = .path.display().to_string(), mask = .mask.0.to_string(), mask2 = .mask.1.to_string(), image = .image.0.to_string(), image2 = .image.1.to_string()))]
    MaskSize {
        path: PathBuf,
        mask: (u32, u32),
        image: (u32, u32),
    },
}

/// Check that a mask can be read and is as large as its image.
fn check_mask(mask: &Path, width: u32, height: u32) -> Result<(), Unusable> {
    let (w, h) = image::ImageReader::open(mask)
        .and_then(image::ImageReader::with_guessed_format)
        .map_err(image::ImageError::from)
        .and_then(|r| r.into_dimensions())
        .map_err(|source| Unusable::Mask {
            path: mask.to_path_buf(),
            source,
        })?;
    if (w, h) != (width, height) {
        return Err(Unusable::MaskSize {
            path: mask.to_path_buf(),
            mask: (w, h),
            image: (width, height),
        });
    }
    Ok(())
}

/// Copy `from` to `to` unless `to` exists (through a temporary file and a rename, so no
/// half-written mask is ever seen). Returns whether it was written.
fn copy_new_file(from: &Path, to: &Path) -> std::io::Result<bool> {
    if to.is_file() {
        return Ok(false);
    }
    let tmp = to.with_extension(format!("{}.tmp", std::process::id()));
    let result = (|| {
        let bytes = std::fs::read(from)?;
        let mut f = crate::domain::private_fs::create_private(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, to)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp); // best effort; the error is what matters
    }
    result.map(|()| true)
}

/// Files written by one import, removed again unless the import commits.
#[derive(Default)]
struct NewFiles(Vec<PathBuf>);

impl NewFiles {
    fn remove_all(&mut self) {
        for path in self.0.drain(..) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), "cannot remove file of a cancelled import: {e}");
            }
        }
    }
}

/// Import the images in `paths` (files, and folders searched recursively) as samples into
/// `store`, saving them as `samples_dir/<hash>.png`.
///
/// Folders are read as [`detect_layout`] says: MVTec-style trees and export folders give each
/// image a label (added as `actor`, with a `label.add` audit entry) and copy its mask to
/// `samples_dir/<hash>_mask.png`; plain folders and single files import unlabelled. Each sample's
/// source is `import:<name of the given file or folder>`.
///
/// `progress` is called before each file and once at the end; `cancel` is checked between
/// files. Unreadable files (and masks) are listed in the report and skipped; images already
/// registered (same content hash) or repeated within the import count as duplicates.
///
/// Atomic: the rows are written in one transaction at the end. When cancelled (report with
/// `cancelled`) or on error, nothing is registered and every file this import wrote is removed
/// (files that were there before are left alone).
///
/// # Errors
/// [`ImportError::NoActor`] for an empty actor; [`ImportError::Store`] when the samples folder or
/// the database cannot be written; [`ImportError::CopyMask`] when a mask cannot be copied.
pub fn import_paths(
    store: &mut Store,
    samples_dir: &Path,
    paths: &[PathBuf],
    actor: &str,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport, ImportError> {
    if actor.trim().is_empty() {
        return Err(ImportError::NoActor);
    }
    let mut report = ImportReport::default();
    let candidates = collect_candidates(paths, &mut report.failed);
    report.found = candidates.len();
    let mut written = NewFiles::default();
    let result = decode_all(
        store,
        samples_dir,
        &candidates,
        cancel,
        progress,
        &mut report,
        &mut written,
    );
    // A cancel that arrives after the last file still wins over the commit.
    let result = result.map(|batch| batch.filter(|_| !cancel.load(Ordering::Relaxed)));
    let batch = match result {
        Ok(Some(batch)) => batch,
        Ok(None) => {
            written.remove_all();
            report.imported = 0;
            report.labelled = 0;
            report.duplicates = 0;
            report.cancelled = true;
            return Ok(report);
        }
        Err(e) => {
            written.remove_all();
            return Err(e);
        }
    };
    if !batch.is_empty()
        && let Err(e) = commit(store, &batch, &candidates, actor, &mut report)
    {
        written.remove_all();
        return Err(e);
    }
    progress(Progress {
        done: candidates.len(),
        total: candidates.len(),
        current: None,
    });
    tracing::info!(
        imported = report.imported,
        duplicates = report.duplicates,
        failed = report.failed.len(),
        "import finished"
    );
    Ok(report)
}

/// Registers `batch` in one transaction with an import summary, counting into `report` the
/// samples imported (and labelled) and those someone else registered meanwhile.
fn commit(
    store: &mut Store,
    batch: &[NewImport],
    candidates: &[Candidate],
    actor: &str,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut sources: Vec<&str> = Vec::new();
    for c in candidates {
        if !sources.contains(&c.source.as_str()) {
            sources.push(&c.source);
        }
    }
    let summary = serde_json::json!({
        "sources": sources,
        "found": report.found,
        "failed": report.failed.len(),
    });
    let ids = store.import_batch(batch, actor, summary)?;
    for (id, item) in ids.iter().zip(batch) {
        if id.is_some() {
            report.imported += 1;
            report.labelled += usize::from(item.label.is_some());
        } else {
            // Registered by someone else since we looked (e.g. the live line).
            report.duplicates += 1;
        }
    }
    Ok(())
}

/// Decode one candidate, check its mask and save it as a sample PNG. `Ok(Err(reason))` when
/// the file (or its mask) cannot be read; `Err` when the samples folder cannot be written.
fn decode_and_save(
    c: &Candidate,
    samples_dir: &Path,
) -> Result<Result<SavedSample, Unusable>, StoreError> {
    let image = match load_rgb(&c.path) {
        Ok(img) => img,
        Err(e) => return Ok(Err(Unusable::Image(e.source))),
    };
    if let Some(mask) = &c.mask
        && let Err(reason) = check_mask(mask, image.width(), image.height())
    {
        return Ok(Err(reason));
    }
    save_sample_png(samples_dir, &image).map(Ok)
}

/// Decode and save every candidate; `Ok(None)` when cancelled. Counts duplicates and failures
/// into `report` and records the files written into `written`.
///
/// Files are decoded and saved a few at a time in parallel (decoding and PNG encoding are
/// the slow part); the results are then taken in order, so duplicates, progress and the cancel
/// check go file by file.
fn decode_all(
    store: &Store,
    samples_dir: &Path,
    candidates: &[Candidate],
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
    report: &mut ImportReport,
    written: &mut NewFiles,
) -> Result<Option<Vec<NewImport>>, ImportError> {
    let mut batch: Vec<NewImport> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    // Small chunks keep the cancel latency and the memory of decoded images low.
    let chunk_len = (rayon::current_num_threads() * 2).max(4);
    for (chunk_index, chunk) in candidates.chunks(chunk_len).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let results: Vec<_> = chunk
            .par_iter()
            .map(|c| decode_and_save(c, samples_dir))
            .collect();
        // Remember every file written before anything can return early, so a cancel or an
        // error removes them all.
        for saved in results.iter().flatten().flatten() {
            if saved.newly_written && !written.0.contains(&saved.path) {
                written.0.push(saved.path.clone());
            }
        }
        for (j, (c, result)) in chunk.iter().zip(results).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            progress(Progress {
                done: chunk_index * chunk_len + j,
                total: candidates.len(),
                current: Some(&c.path),
            });
            let saved = match result? {
                Ok(saved) => saved,
                Err(reason) => {
                    report.failed.push(ImportFailure {
                        path: c.path.clone(),
                        reason: reason.to_string(),
                    });
                    continue;
                }
            };
            if !seen.insert(saved.hash.clone()) || store.sample_id_by_hash(&saved.hash)?.is_some() {
                report.duplicates += 1;
                continue;
            }
            let mask_path = match &c.mask {
                Some(mask) => Some(copy_mask(mask, samples_dir, &saved.hash, written)?),
                None => None,
            };
            batch.push(NewImport {
                sample: NewSample {
                    path: saved.path,
                    hash: saved.hash,
                    width: saved.width,
                    height: saved.height,
                    source: c.source.clone(),
                },
                label: c.label.clone().map(|label| NewLabel { label, mask_path }),
            });
        }
    }
    Ok(Some(batch))
}

/// Copies an image's mask to `samples_dir/<hash>_mask.png` (recording the file in `written`
/// when new) and returns that path.
fn copy_mask(
    mask: &Path,
    samples_dir: &Path,
    hash: &str,
    written: &mut NewFiles,
) -> Result<PathBuf, ImportError> {
    let to = samples_dir.join(format!("{hash}_mask.png"));
    let new = copy_new_file(mask, &to).map_err(|source| ImportError::CopyMask {
        from: mask.to_path_buf(),
        to: to.clone(),
        source,
    })?;
    if new {
        written.0.push(to.clone());
    }
    Ok(to)
}
