//! Importing images from disk as samples: single files, plain folders (recursive), MVTec-style
//! dataset trees (labels from the class folders, masks from `ground_truth/`) and folders written
//! by [`crate::labeling::export`] (labels from their `labels.csv`).
//!
//! An import is all or nothing: images are decoded and saved as sample PNGs first, then every
//! row is registered in one transaction ([`Store::import_batch`]). A cancel or an error before
//! the commit leaves the database untouched and removes the files this import wrote.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::capture::folder::natural_cmp;
use crate::imageio::load_rgb;
use crate::store::{
    NewImport, NewLabel, NewSample, SavedSample, Store, StoreError, save_sample_png,
};

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
    #[error("import needs the name of who imports (actor); got an empty name")]
    NoActor,
    /// The database refused the rows (nothing was committed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A mask could not be copied into the samples folder.
    #[error("cannot copy mask {from} to {to}: {source}")]
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

/// How a folder given to [`import_paths`] is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderLayout {
    /// Images anywhere below, unlabelled; sub-folders that are MVTec-style trees or export
    /// folders are read as such.
    Plain,
    /// `train*/<class>/`, `test*/<class>/`, `valid*/<class>/` images labelled with the class
    /// folder name (lower-cased); masks in `ground_truth/<class>/<stem>_mask.png`; the
    /// `ground_truth*` folders themselves are not imported.
    MvTec,
    /// A folder written by [`crate::labeling::export`]: labels from `labels.csv` (keyed by its
    /// `file` column), masks in `ground_truth/<folder>/<stem>_mask.png`.
    Export {
        /// `file` (relative, `/`-separated) -> label.
        labels: HashMap<String, String>,
    },
}

impl FolderLayout {
    /// A short name for logs: `plain`, `mvtec` or `export`.
    pub fn name(&self) -> &'static str {
        match self {
            FolderLayout::Plain => "plain",
            FolderLayout::MvTec => "mvtec",
            FolderLayout::Export { .. } => "export",
        }
    }
}

/// Decide how to read `dir`: an export folder (a `labels.csv` with `file` and `label`
/// columns), an MVTec-style tree (`train/good/` or `test/<class>/` folders), or plain.
pub fn detect_layout(dir: &Path) -> Result<FolderLayout, ImportFailure> {
    let csv_path = dir.join(LABELS_CSV);
    if csv_path.is_file()
        && let Some(labels) = read_export_labels(&csv_path)?
    {
        return Ok(FolderLayout::Export { labels });
    }
    if dir.join("train").join("good").is_dir() {
        return Ok(FolderLayout::MvTec);
    }
    let test_has_class = std::fs::read_dir(dir.join("test"))
        .map(|rd| rd.filter_map(Result::ok).any(|e| e.path().is_dir()))
        .unwrap_or(false);
    Ok(if test_has_class {
        FolderLayout::MvTec
    } else {
        FolderLayout::Plain
    })
}

/// Read the `file` -> `label` map of an export's `labels.csv`; `Ok(None)` when the file has no
/// `file` and `label` columns (another program's CSV, e.g. a dataset's own metadata).
fn read_export_labels(csv_path: &Path) -> Result<Option<HashMap<String, String>>, ImportFailure> {
    let fail = |reason: String| ImportFailure {
        path: csv_path.to_path_buf(),
        reason,
    };
    let mut reader = csv::Reader::from_path(csv_path).map_err(|e| fail(e.to_string()))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(file_col), Some(label_col)) = (col("file"), col("label")) else {
        return Ok(None);
    };
    let mut labels = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let (Some(file), Some(label)) = (record.get(file_col), record.get(label_col)) else {
            return Err(fail(format!("line {line} lacks the file or label column")));
        };
        if label.is_empty() {
            return Err(fail(format!("line {line} ({file}) has an empty label")));
        }
        labels.insert(file.to_string(), label.to_string());
    }
    Ok(Some(labels))
}

/// One image file to import, with what its place in the tree says about it.
#[derive(Clone, Debug)]
struct Candidate {
    path: PathBuf,
    source: String,
    label: Option<String>,
    mask: Option<PathBuf>,
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMPORT_EXTENSIONS.iter().any(|k| e.eq_ignore_ascii_case(k)))
}

/// `a/b/c` as text with `/` separators (the form `labels.csv` uses), if it is UTF-8.
fn rel_text(rel: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts.map(|p| p.join("/"))
}

/// The image files below `dir` (natural order, following links), with labels and masks as
/// `layout` says. Unreadable folders are reported in `failed`.
fn walk_folder(
    dir: &Path,
    layout: &FolderLayout,
    source: &str,
    out: &mut Vec<Candidate>,
    failed: &mut Vec<ImportFailure>,
) {
    let mut listed: HashSet<String> = HashSet::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by(|a, b| {
            natural_cmp(
                &a.file_name().to_string_lossy(),
                &b.file_name().to_string_lossy(),
            )
        });
    // Labelled trees inside a plain folder (e.g. the category folders of an MVTec AD download)
    // are read with their own layout, after the plain images.
    let mut nested: Vec<(PathBuf, FolderLayout)> = Vec::new();
    let mut entries = walker.into_iter();
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                failed.push(ImportFailure {
                    path: e.path().unwrap_or(dir).to_path_buf(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let path = entry.path();
        if *layout == FolderLayout::Plain && entry.depth() > 0 && entry.file_type().is_dir() {
            match detect_layout(path) {
                Ok(FolderLayout::Plain) => {}
                Ok(inner) => {
                    nested.push((path.to_path_buf(), inner));
                    entries.skip_current_dir();
                }
                Err(f) => {
                    failed.push(f);
                    entries.skip_current_dir();
                }
            }
            continue;
        }
        if !entry.file_type().is_file() || !has_image_extension(path) {
            continue;
        }
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let in_ground_truth = parts.first().is_some_and(|p| p.starts_with("ground_truth"));
        let (label, mask) = match layout {
            FolderLayout::Plain => (None, None),
            FolderLayout::MvTec => {
                if in_ground_truth {
                    continue; // masks, not samples
                }
                let split = parts.first().map(String::as_str).unwrap_or_default();
                let is_split = ["train", "test", "valid"]
                    .iter()
                    .any(|s| split.starts_with(s));
                if parts.len() == 3 && is_split {
                    let class = &parts[1];
                    (
                        Some(class.to_lowercase()),
                        find_mask(dir, class, path).filter(|m| m.is_file()),
                    )
                } else {
                    (None, None)
                }
            }
            FolderLayout::Export { labels } => {
                if in_ground_truth {
                    continue;
                }
                let key = rel_text(rel).unwrap_or_default();
                match labels.get(&key) {
                    Some(label) => {
                        listed.insert(key);
                        let folder = parts.len().checked_sub(2).map(|i| parts[i].as_str());
                        let mask = folder
                            .and_then(|folder| find_mask(dir, folder, path))
                            .filter(|m| m.is_file());
                        (Some(label.clone()), mask)
                    }
                    None => (None, None),
                }
            }
        };
        out.push(Candidate {
            path: path.to_path_buf(),
            source: source.to_string(),
            label,
            mask,
        });
    }
    for (root, inner) in nested {
        tracing::info!(folder = %root.display(), layout = inner.name(), "importing labelled tree");
        walk_folder(&root, &inner, source, out, failed);
    }
    if let FolderLayout::Export { labels } = layout {
        let mut missing: Vec<&String> = labels.keys().filter(|k| !listed.contains(*k)).collect();
        missing.sort_by(|a, b| natural_cmp(a, b));
        for file in missing {
            failed.push(ImportFailure {
                path: dir.join(file),
                reason: format!("listed in {LABELS_CSV} but not found (or not a PNG/JPEG file)"),
            });
        }
    }
}

/// `root/ground_truth/<class>/<stem>_mask.png` for the image `path` (whether or not it exists).
fn find_mask(root: &Path, class: &str, path: &Path) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_string_lossy();
    Some(
        root.join("ground_truth")
            .join(class)
            .join(format!("{stem}_mask.png")),
    )
}

/// `import:<name>` for a given file or folder.
fn source_for(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    format!("import:{name}")
}

/// Every image file to import from `paths` (files and folders), in the order given.
fn collect_candidates(paths: &[PathBuf], failed: &mut Vec<ImportFailure>) -> Vec<Candidate> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            match detect_layout(path) {
                Ok(layout) => {
                    tracing::info!(folder = %path.display(), layout = layout.name(), "importing folder");
                    walk_folder(path, &layout, &source_for(path), &mut out, failed);
                }
                Err(f) => failed.push(f),
            }
        } else if path.is_file() {
            out.push(Candidate {
                path: path.clone(),
                source: source_for(path),
                label: None,
                mask: None,
            });
        } else {
            failed.push(ImportFailure {
                path: path.clone(),
                reason: "no such file or folder".into(),
            });
        }
    }
    out
}

/// Check that a mask can be read and is as large as its image.
fn check_mask(mask: &Path, width: u32, height: u32) -> Result<(), String> {
    let (w, h) = image::ImageReader::open(mask)
        .and_then(image::ImageReader::with_guessed_format)
        .map_err(|e| format!("mask {}: {e}", mask.display()))?
        .into_dimensions()
        .map_err(|e| format!("mask {}: {e}", mask.display()))?;
    if (w, h) != (width, height) {
        return Err(format!(
            "mask {} is {w}x{h} but the image is {width}x{height}",
            mask.display()
        ));
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
        let mut f = std::fs::File::create(&tmp)?;
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
    if !batch.is_empty() {
        let mut sources: Vec<&str> = Vec::new();
        for c in &candidates {
            if !sources.contains(&c.source.as_str()) {
                sources.push(&c.source);
            }
        }
        let summary = serde_json::json!({
            "sources": sources,
            "found": report.found,
            "failed": report.failed.len(),
        });
        match store.import_batch(&batch, actor, summary) {
            Ok(ids) => {
                for (id, item) in ids.iter().zip(&batch) {
                    if id.is_some() {
                        report.imported += 1;
                        report.labelled += usize::from(item.label.is_some());
                    } else {
                        // Registered by someone else since we looked (e.g. the live line).
                        report.duplicates += 1;
                    }
                }
            }
            Err(e) => {
                written.remove_all();
                return Err(e.into());
            }
        }
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

/// Decode one candidate, check its mask and save it as a sample PNG. `Ok(Err(reason))` when
/// the file (or its mask) cannot be read; `Err` when the samples folder cannot be written.
fn decode_and_save(
    c: &Candidate,
    samples_dir: &Path,
) -> Result<Result<SavedSample, String>, StoreError> {
    let image = match load_rgb(&c.path) {
        Ok(img) => img,
        Err(e) => return Ok(Err(e.source.to_string())),
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
                        reason,
                    });
                    continue;
                }
            };
            if !seen.insert(saved.hash.clone()) || store.sample_id_by_hash(&saved.hash)?.is_some() {
                report.duplicates += 1;
                continue;
            }
            let mask_path = match &c.mask {
                Some(mask) => {
                    let to = samples_dir.join(format!("{}_mask.png", saved.hash));
                    let new = copy_new_file(mask, &to).map_err(|source| ImportError::CopyMask {
                        from: mask.clone(),
                        to: to.clone(),
                        source,
                    })?;
                    if new {
                        written.0.push(to.clone());
                    }
                    Some(to)
                }
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
