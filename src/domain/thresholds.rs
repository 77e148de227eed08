//! Where pass ends and reject begins: the operating point of a model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Verdict;

/// Where pass ends and reject begins.
///
/// Three bands: pass (score <= `review`), review (`review` < score <= `reject`, sent to a
/// person) and reject (score > `reject`). Without a review threshold (or with one at or above
/// `reject`) there is no review band. Files written before the review band and per-class
/// thresholds existed still load: the new fields default to empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Items scoring above this are rejected.
    pub reject: f64,
    /// Heat-map cells scoring above this are drawn as defect regions.
    pub pixel: f64,
    /// Items scoring above this (and not above `reject`) go to review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<f64>,
    /// Reject thresholds per defect class, used when a defect classifier names the class;
    /// classes not listed use `reject`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_class: BTreeMap<String, f64>,
}

impl Thresholds {
    /// Thresholds with a reject and pixel threshold only (no review band, no per-class).
    pub fn new(reject: f64, pixel: f64) -> Self {
        Self {
            reject,
            pixel,
            review: None,
            per_class: BTreeMap::new(),
        }
    }

    /// The lower edge of the review band, when there is a band.
    pub fn review_band(&self) -> Option<f64> {
        self.review.filter(|r| *r < self.reject)
    }

    /// Pass, review or reject for a score, with the reject threshold of `class` when one is
    /// set for it. A score that is not finite is rejected, never passed.
    pub fn verdict(&self, score: f64, class: Option<&str>) -> Verdict {
        let reject = class
            .and_then(|c| self.per_class.get(c).copied())
            .unwrap_or(self.reject);
        if !score.is_finite() || score > reject {
            Verdict::Reject
        } else if self.review.is_some_and(|r| r < reject && score > r) {
            Verdict::Review
        } else {
            Verdict::Pass
        }
    }

    /// Problems that make these thresholds unusable, in words (empty when fine).
    pub fn validate(&self) -> Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(crate::tr!(
                    "thresholds-not-finite",
                    threshold = name,
                    value = v.to_string()
                ))
            }
        };
        finite("reject", self.reject)?;
        finite("pixel", self.pixel)?;
        if let Some(r) = self.review {
            finite("review", r)?;
            if r > self.reject {
                return Err(crate::tr!(
                    "thresholds-review-above-reject",
                    review = r.to_string(),
                    reject = self.reject.to_string()
                ));
            }
        }
        for (c, v) in &self.per_class {
            finite(&format!("`{c}` reject"), *v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_that_is_not_finite_is_never_a_pass() {
        let mut t = Thresholds::new(1.5, 1.5);
        t.review = Some(1.0);
        assert_eq!(t.verdict(f64::NAN, None), Verdict::Reject);
        assert_eq!(t.verdict(f64::INFINITY, None), Verdict::Reject);
        assert_eq!(t.verdict(f64::NEG_INFINITY, None), Verdict::Reject);
        assert_eq!(t.verdict(1.2, None), Verdict::Review);
        assert_eq!(t.verdict(1.6, None), Verdict::Reject);
        assert_eq!(t.verdict(0.5, None), Verdict::Pass);
    }
}
