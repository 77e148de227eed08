//! Why an evaluation failed; every message names the folder or file concerned.

use std::path::PathBuf;

use crate::capture::CaptureError;
use crate::imageio::ImageLoadError;
use crate::model::TrainError;

/// Boxed error of a lower layer whose type is its own business (grading labels).
pub type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// Errors of `foodqc eval` and of reading an evaluation dataset.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The dataset root is not a folder.
    #[error("dataset folder {} does not exist", root.display())]
    NoDataset {
        /// The folder asked for.
        root: PathBuf,
    },
    /// `train/good` is missing or holds no image.
    #[error("dataset {} needs good training images: {source}", root.display())]
    NoTrainImages {
        /// The dataset root.
        root: PathBuf,
        /// What was wrong with `train/good`.
        #[source]
        source: CaptureError,
    },
    /// No image under `test*/<class>/`.
    #[error("dataset {} has no test images (test/<class>/*.jpg)", root.display())]
    NoTestImages {
        /// The dataset root.
        root: PathBuf,
    },
    /// A folder of the dataset could not be listed.
    #[error("cannot list {}: {source}", path.display())]
    ListDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A photo could not be read or decoded (the error names it).
    #[error(transparent)]
    Image(#[from] ImageLoadError),
    /// The size of a photo could not be read from its header.
    #[error("cannot read the size of {}: {source}", path.display())]
    ImageSize {
        /// The photo.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// A defect mask could not be read.
    #[error("cannot read mask {}: {source}", path.display())]
    Mask {
        /// The mask file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// A defect mask is not the size of its photo.
    #[error("mask {} is {}x{} but its photo is {}x{}", path.display(), size.0, size.1, photo.0, photo.1)]
    MaskSize {
        /// The mask file.
        path: PathBuf,
        /// The mask's size, pixels.
        size: (u32, u32),
        /// The photo's size, pixels.
        photo: (u32, u32),
    },
    /// The anomaly model could not be trained on `train/good`.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The deep tier could not be trained on `train/good`.
    #[error("deep tier: {0}")]
    Deep(#[from] crate::model::deep::DeepTrainError),
    /// A step of the evaluation found what should not be (a bug).
    #[error("{0}")]
    Inconsistent(String),
    /// The synthetic-defect validation that chooses the tier failed.
    #[error("choosing the tier: {0}")]
    Selection(#[from] crate::model::selection::SelectionError),
    /// The grade classification of the dataset's labels failed.
    #[error("grading {} failed: {source}", dir.display())]
    Grading {
        /// The folder holding `labels.csv`.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxedError,
    },
    /// The folder for preview pictures could not be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A preview picture could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WritePreview {
        /// The picture file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },
}
