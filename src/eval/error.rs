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
    #[error("{}", crate::tr!("err-eval-error-no-dataset", root = .root.display().to_string()))]
    NoDataset {
        /// The folder asked for.
        root: PathBuf,
    },
    /// `train/good` is missing or holds no image.
    #[error("{}", crate::tr!("err-eval-error-no-train-images", root = .root.display().to_string(), source = .source.to_string()))]
    NoTrainImages {
        /// The dataset root.
        root: PathBuf,
        /// What was wrong with `train/good`.
        #[source]
        source: CaptureError,
    },
    /// No image under `test*/<class>/`.
    #[error("{}", crate::tr!("err-eval-error-no-test-images", root = .root.display().to_string()))]
    NoTestImages {
        /// The dataset root.
        root: PathBuf,
    },
    /// A folder of the dataset could not be listed.
    #[error("{}", crate::tr!("err-eval-error-list-dir", path = .path.display().to_string(), source = .source.to_string()))]
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
    #[error("{}", crate::tr!("err-eval-error-image-size", path = .path.display().to_string(), source = .source.to_string()))]
    ImageSize {
        /// The photo.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// A defect mask could not be read.
    #[error("{}", crate::tr!("err-eval-error-mask", path = .path.display().to_string(), source = .source.to_string()))]
    Mask {
        /// The mask file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// A defect mask is not the size of its photo.
    #[error("{}", crate::tr!("err-eval-error-mask-size", path = .path.display().to_string(), size = .size.0.to_string(), size2 = .size.1.to_string(), photo = .photo.0.to_string(), photo2 = .photo.1.to_string()))]
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
    #[error("{}", crate::tr!("err-eval-error-deep", v0 = .0.to_string()))]
    Deep(#[from] crate::model::deep::DeepTrainError),
    /// A step of the evaluation found what should not be (a bug).
    #[error("{0}")]
    Inconsistent(String),
    /// The synthetic-defect validation that chooses the tier failed.
    #[error("{}", crate::tr!("err-eval-error-selection", v0 = .0.to_string()))]
    Selection(#[from] crate::model::selection::SelectionError),
    /// The grade classification of the dataset's labels failed.
    #[error("{}", crate::tr!("err-eval-error-grading", dir = .dir.display().to_string(), source = .source.to_string()))]
    Grading {
        /// The folder holding `labels.csv`.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxedError,
    },
    /// The folder for preview pictures could not be created.
    #[error("{}", crate::tr!("err-eval-error-create-dir", path = .path.display().to_string(), source = .source.to_string()))]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A preview picture could not be written.
    #[error("{}", crate::tr!("err-eval-error-write-preview", path = .path.display().to_string(), source = .source.to_string()))]
    WritePreview {
        /// The picture file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },
}
