//! The decision for one item.

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
