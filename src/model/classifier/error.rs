//! What can go wrong with a grade classifier.

use std::path::PathBuf;

/// Errors training, using, loading or saving a grade classifier; file errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The file could not be read or written.
    #[error("{}", crate::tr!("err-model-classifier-error-io", path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or misses fields.
    #[error("{}", crate::tr!("err-model-classifier-error-parse", path = .path.display().to_string(), reason = .reason.to_string()))]
    Parse { path: PathBuf, reason: String },
    /// The file is some other kind of file.
    #[error("{path} is not a foodqc grade classifier (format field is `{found}`)")]
    WrongFormat { path: PathBuf, found: String },
    /// The file was written by a foodqc with another file layout.
    #[error(
        "classifier file {path} has format version {found}; this foodqc reads version {supported}: retrain the classifier with this version"
    )]
    Version {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The classifier was trained on other features than the ones needed.
    #[error(
        "classifier file {path} was trained on feature set `{found}` but `{expected}` is needed: retrain the classifier with this version"
    )]
    Features {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// The file parses but its arrays do not fit together.
    #[error("{}", crate::tr!("err-model-classifier-error-inconsistent", path = .path.display().to_string(), what = .what.to_string()))]
    Inconsistent { path: PathBuf, what: String },
    /// The training data are inconsistent.
    #[error("{}", crate::tr!("err-model-classifier-error-data", v0 = .0.to_string()))]
    Data(String),
    /// A class has too few training examples.
    #[error(
        "class `{class}` has {got} training examples; at least {needed} are needed for each class"
    )]
    TooFew {
        class: String,
        got: usize,
        needed: usize,
    },
    /// Fewer than two classes to tell apart.
    #[error("{}", crate::tr!("err-model-classifier-error-one-class", v0 = .0.to_string()))]
    OneClass(usize),
    /// The SVM solver reported an error.
    #[error("{}", crate::tr!("err-model-classifier-error-fit", v0 = .0.to_string()))]
    Fit(String),
    /// A feature vector of the wrong length was given to the classifier.
    #[error("{}", crate::tr!("err-model-classifier-error-dimension", got = .got.to_string(), expected = .expected.to_string()))]
    Dimension { got: usize, expected: usize },
}
