//! Grade classifier files: JSON with a format header, checked when read, written atomically.

use std::path::{Path, PathBuf};

use super::{
    CLASSIFIER_FORMAT, CLASSIFIER_FORMAT_VERSION, ClassifierError, DESCRIPTOR_FEATURES,
    DESCRIPTOR_SET, GradeClassifier,
};

impl GradeClassifier {
    /// Where the classifier of a model file lies: `<name>.classifier.json` beside
    /// `<name>.json`.
    pub fn path_beside(model_path: &Path) -> PathBuf {
        model_path.with_extension("classifier.json")
    }

    /// The classifier saved beside a model file ([`Self::path_beside`]), read with
    /// [`Self::load_for_images`]; `None` when there is none.
    pub fn beside(model_path: &Path) -> Option<Result<Self, ClassifierError>> {
        let path = Self::path_beside(model_path);
        path.is_file().then(|| Self::load_for_images(&path))
    }

    /// Read a classifier file; refuses other formats, versions and damaged files.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClassifierError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Read a classifier file meant for image descriptors: like [`Self::load`], and also
    /// refuses a classifier trained on another feature set than [`DESCRIPTOR_SET`].
    pub fn load_for_images(path: &Path) -> Result<Self, ClassifierError> {
        let m = Self::load(path)?;
        if m.feature_set != DESCRIPTOR_SET || m.feature_names != DESCRIPTOR_FEATURES {
            return Err(ClassifierError::Features {
                path: path.to_path_buf(),
                found: m.feature_set,
                expected: DESCRIPTOR_SET.to_string(),
            });
        }
        Ok(m)
    }

    /// Parse classifier JSON; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, ClassifierError> {
        let p = || path.to_path_buf();
        // Check the header first so an old or foreign file gets a precise message.
        let header: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ClassifierError::Parse {
                path: p(),
                reason: e.to_string(),
            })?;
        let format = header.get("format").and_then(|v| v.as_str()).unwrap_or("");
        if format != CLASSIFIER_FORMAT {
            return Err(ClassifierError::WrongFormat {
                path: p(),
                found: format.to_string(),
            });
        }
        let version = header
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version != u64::from(CLASSIFIER_FORMAT_VERSION) {
            return Err(ClassifierError::Version {
                path: p(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: CLASSIFIER_FORMAT_VERSION,
            });
        }
        let model: Self = serde_json::from_value(header).map_err(|e| ClassifierError::Parse {
            path: p(),
            reason: e.to_string(),
        })?;
        model.check(path)?;
        Ok(model)
    }

    fn check(&self, path: &Path) -> Result<(), ClassifierError> {
        let bad = |what: String| ClassifierError::Inconsistent {
            path: path.to_path_buf(),
            what,
        };
        let d = self.feature_names.len();
        if self.mean.len() != d || self.scale.len() != d {
            return Err(bad(format!(
                "{d} feature names but {} means and {} scales",
                self.mean.len(),
                self.scale.len()
            )));
        }
        if self.classes.len() < 2 || self.machines.len() != self.classes.len() {
            return Err(bad(format!(
                "{} classes but {} machines",
                self.classes.len(),
                self.machines.len()
            )));
        }
        if !(self.kernel_width.is_finite() && self.kernel_width > 0.0) {
            return Err(bad("kernel width must be positive".into()));
        }
        if self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(bad("feature scales must be positive".into()));
        }
        for m in &self.machines {
            if m.coef.len() != m.support.len() || m.support.iter().any(|s| s.len() != d) {
                return Err(bad("support vectors have the wrong size".into()));
            }
        }
        Ok(())
    }

    /// Write the classifier as JSON, atomically (temp file + rename), creating the folder.
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        let io = |source| ClassifierError::Io {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_string(self).map_err(|e| ClassifierError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        crate::model::write_atomically(path, json.as_bytes()).map_err(io)
    }
}
