//! What can go wrong with a grade classifier.

use std::path::PathBuf;

/// Errors training, using, loading or saving a grade classifier; file errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The file could not be read or written.
    #[error("cannot read or write classifier file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or misses fields.
    #[error("classifier file {path} is not valid: {reason}")]
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
    #[error("classifier file {path} is damaged: {what}")]
    Inconsistent { path: PathBuf, what: String },
    /// The training data are inconsistent.
    #[error("bad training data: {0}")]
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
    #[error("need at least two classes to train, found {0}")]
    OneClass(usize),
    /// The SVM solver reported an error.
    #[error("the SVM solver failed: {0}")]
    Fit(String),
    /// A feature vector of the wrong length was given to the classifier.
    #[error("feature vector has {got} values, the classifier expects {expected}")]
    Dimension { got: usize, expected: usize },
}
