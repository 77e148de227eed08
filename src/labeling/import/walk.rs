//! What a folder given to an import holds: its layout (plain, MVTec-style tree, export
//! folder), and the image files below it with the labels and masks the layout gives them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{IMPORT_EXTENSIONS, ImportFailure, LABELS_CSV};
use crate::capture::folder::natural_cmp;
use crate::domain::GOOD;

/// How a folder given to [`super::import_paths`] is read.
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
    if dir.join("train").join(GOOD).is_dir() {
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
            return Err(fail(crate::tr!(
                "import-line-lacks-column",
                line = line.to_string()
            )));
        };
        if label.is_empty() {
            return Err(fail(crate::tr!(
                "import-line-empty-label",
                line = line.to_string(),
                file = file
            )));
        }
        labels.insert(file.to_string(), label.to_string());
    }
    Ok(Some(labels))
}

/// One image file to import, with what its place in the tree says about it.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    /// The image file.
    pub(super) path: PathBuf,
    /// `import:<name of the given file or folder>`.
    pub(super) source: String,
    /// The label its place in the tree gives it.
    pub(super) label: Option<String>,
    /// Its defect mask, when the tree has one.
    pub(super) mask: Option<PathBuf>,
}

/// True for a file name ending in one of [`IMPORT_EXTENSIONS`] (any case).
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
        let Some((label, mask)) = label_and_mask(layout, dir, path, &mut listed) else {
            continue;
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
        report_unlisted(dir, labels, &listed, failed);
    }
}

/// The label and mask of the image `path` below `dir` as `layout` says; `None` when the file
/// is not a sample (a mask under `ground_truth*`). Export labels found go into `listed`.
fn label_and_mask(
    layout: &FolderLayout,
    dir: &Path,
    path: &Path,
    listed: &mut HashSet<String>,
) -> Option<(Option<String>, Option<PathBuf>)> {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let in_ground_truth = parts.first().is_some_and(|p| p.starts_with("ground_truth"));
    Some(match layout {
        FolderLayout::Plain => (None, None),
        FolderLayout::MvTec => {
            if in_ground_truth {
                return None; // masks, not samples
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
                return None;
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
    })
}

/// A failure for every file of an export's `labels.csv` that the walk did not find.
fn report_unlisted(
    dir: &Path,
    labels: &HashMap<String, String>,
    listed: &HashSet<String>,
    failed: &mut Vec<ImportFailure>,
) {
    let mut missing: Vec<&String> = labels.keys().filter(|k| !listed.contains(*k)).collect();
    missing.sort_by(|a, b| natural_cmp(a, b));
    for file in missing {
        failed.push(ImportFailure {
            path: dir.join(file),
            reason: crate::tr!("import-listed-not-found", csv = LABELS_CSV),
        });
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
pub(super) fn collect_candidates(
    paths: &[PathBuf],
    failed: &mut Vec<ImportFailure>,
) -> Vec<Candidate> {
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
