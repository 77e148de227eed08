//! An MVTec-style dataset tree on disk: `train/good`, `test*/<class>/` and
//! `ground_truth/<class>/<stem>_mask.png`.

use std::path::{Path, PathBuf};

use super::EvalError;
use crate::capture::folder::list_images;
use crate::domain::{ClassLabel, GOOD};

/// One test image with its class and, when the dataset has one, its defect mask.
#[derive(Clone, Debug)]
pub struct TestImage {
    /// The photo.
    pub path: PathBuf,
    /// Folder name under `test*/`: `good` or a defect class.
    pub class: String,
    /// `ground_truth/<class>/<stem>_mask.png`, when present.
    pub mask: Option<PathBuf>,
}

impl TestImage {
    /// True for good product.
    pub fn is_good(&self) -> bool {
        self.class == GOOD
    }
}

/// An MVTec-style dataset on disk.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Root folder.
    pub root: PathBuf,
    /// `train/good` images.
    pub train_good: Vec<PathBuf>,
    /// Every image under `test*/<class>/`.
    pub test: Vec<TestImage>,
}

impl Dataset {
    /// Read the tree. Errors name the folder that is missing or empty.
    pub fn open(root: &Path) -> Result<Self, EvalError> {
        if !root.is_dir() {
            return Err(EvalError::NoDataset {
                root: root.to_path_buf(),
            });
        }
        let train_dir = root.join("train").join(GOOD);
        let train_good = list_images(&train_dir).map_err(|source| EvalError::NoTrainImages {
            root: root.to_path_buf(),
            source,
        })?;
        let mut test = Vec::new();
        let test_dirs = sorted_dirs(root, |p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("test"))
        })?;
        for dir in test_dirs {
            for class_dir in sorted_dirs(&dir, |_| true)? {
                test.extend(class_images(root, &class_dir));
            }
        }
        if test.is_empty() {
            return Err(EvalError::NoTestImages {
                root: root.to_path_buf(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            train_good,
            test,
        })
    }

    /// Test classes in order of first appearance, `good` first.
    pub fn classes(&self) -> Vec<String> {
        let mut out = vec![ClassLabel::good().as_str().to_string()];
        for t in &self.test {
            if !out.contains(&t.class) {
                out.push(t.class.clone());
            }
        }
        out
    }
}

/// The sub-folders of `dir` that pass `keep`, sorted.
fn sorted_dirs(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, EvalError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| EvalError::ListDir {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && keep(p))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The test images of one class folder (none when it holds no image), each with its mask
/// under `root/ground_truth/<class>/` when the class is a defect and the mask exists.
fn class_images(root: &Path, class_dir: &Path) -> Vec<TestImage> {
    let class = class_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let Ok(images) = list_images(class_dir) else {
        return Vec::new();
    };
    images
        .into_iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let mask = root
                .join("ground_truth")
                .join(&class)
                .join(format!("{stem}_mask.png"));
            TestImage {
                path,
                class: class.clone(),
                mask: (class != GOOD && mask.is_file()).then_some(mask),
            }
        })
        .collect()
}
