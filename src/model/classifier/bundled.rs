//! The defect classifier that ships with the bundled anomaly model: it names the defects of
//! the synthetic line (crack, burnt, missing piece, foreign matter) from the first start.
//!
//! `tests/bundled_classifier.rs` regenerates `models/default.classifier.json` (seeded, from
//! synthetic-line crops labelled by the line's ground truth) and measures its accuracy.

use std::path::Path;

use super::{ClassifierError, DESCRIPTOR_FEATURES, DESCRIPTOR_SET, GradeClassifier};

/// The classifier file that ships inside the binary, paired with
/// [`crate::model::anomaly::BUNDLED_MODEL_JSON`].
pub const BUNDLED_CLASSIFIER_JSON: &str = include_str!("../../../models/default.classifier.json");

/// Name of the bundled classifier in messages.
const BUNDLED_NAME: &str = "<bundled models/default.classifier.json>";

impl GradeClassifier {
    /// The classifier compiled into the binary (classes `good` and the four defects of the
    /// synthetic line). Refuses it, like a file, when it does not describe images with this
    /// build's [`DESCRIPTOR_SET`].
    pub fn bundled() -> Result<Self, ClassifierError> {
        let path = Path::new(BUNDLED_NAME);
        let c = Self::from_json(BUNDLED_CLASSIFIER_JSON, path)?;
        if c.feature_set != DESCRIPTOR_SET || c.feature_names != DESCRIPTOR_FEATURES {
            return Err(ClassifierError::Features {
                path: path.to_path_buf(),
                found: c.feature_set,
                expected: DESCRIPTOR_SET.to_string(),
            });
        }
        Ok(c)
    }
}
