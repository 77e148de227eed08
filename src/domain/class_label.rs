//! Names of product classes: `good` and the defect classes a plant labels and a classifier
//! predicts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The class of good product, as stored in labels, model files and reports.
pub const GOOD: &str = "good";

/// A class name as used in labels, classifiers and reports: `good` or a defect class such as
/// `crack`. Names are trimmed, lower-case words joined by `_` (what the taxonomy stores).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassLabel(String);

impl ClassLabel {
    /// The class of good product.
    pub fn good() -> Self {
        Self(GOOD.to_string())
    }

    /// A class from its name, normalised (trimmed, lower case, spaces and dashes as `_`).
    pub fn new(name: &str) -> Self {
        let name = name.trim().to_lowercase().replace([' ', '-'], "_");
        Self(name)
    }

    /// True for the class of good product.
    pub fn is_good(&self) -> bool {
        self.0 == GOOD
    }

    /// True for a defect class (anything but good).
    pub fn is_defect(&self) -> bool {
        !self.is_good()
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClassLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ClassLabel {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl AsRef<str> for ClassLabel {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_good_is_recognised() {
        assert_eq!(ClassLabel::new(" Missing piece ").as_str(), "missing_piece");
        assert_eq!(ClassLabel::new("foreign-matter").as_str(), "foreign_matter");
        assert!(ClassLabel::new("GOOD").is_good());
        assert!(ClassLabel::new("crack").is_defect());
        assert_eq!(ClassLabel::good().to_string(), GOOD);
    }
}
