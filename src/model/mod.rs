//! Scoring items against good product, verdicts, and model files.

use serde::{Deserialize, Serialize};

/// The decision for one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Looks like good product.
    Pass,
    /// Defective: remove from the line.
    Reject,
    /// Unsure (between the review and reject thresholds): a person decides; the item goes
    /// to the labelling queue.
    Review,
}

impl Verdict {
    /// Lower-case name used in the database and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Reject => "reject",
            Verdict::Review => "review",
        }
    }

    /// Parse the database name back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pass" => Some(Verdict::Pass),
            "reject" => Some(Verdict::Reject),
            "review" => Some(Verdict::Review),
            _ => None,
        }
    }
}

pub mod anomaly;
pub mod classifier;
pub mod gaussian;
pub mod grading;
pub mod metrics;
pub mod operating;
mod svm;

pub use anomaly::{AnomalyModel, ItemScore, ModelError, Thresholds, TrainError, TrainOptions};

/// Write `bytes` to `path` through a temporary file and a rename, so a crash or a full disk
/// never leaves a half-written model behind; creates the parent folder.
pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        // On disk before the rename makes it visible: a power cut leaves old or new, not junk.
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
