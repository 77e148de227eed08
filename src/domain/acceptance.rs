//! Acceptance criteria: the bounds a candidate model must meet on independent test data
//! before it may go live (besides doing no worse than the live model). Set by the QC
//! manager; the values here are the defaults until they do.

use serde::{Deserialize, Serialize};

/// What a candidate must show on the labelled samples no compared model trained on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcceptanceCriteria {
    /// Lowest recall accepted: defective samples rejected / defective samples.
    pub min_recall: f64,
    /// Highest false-reject rate accepted: good samples rejected / good samples.
    pub max_false_reject_rate: f64,
    /// Fewest independent defective samples the measures must rest on.
    pub min_defect_samples: usize,
    /// Fewest independent good samples the measures must rest on.
    pub min_good_samples: usize,
}

impl AcceptanceCriteria {
    /// The defaults, meant to serve every product rather than fit any one data set (the QC
    /// manager tightens them per plant; the comparison with the live model ratchets on top):
    /// - recall at least 0.90: a model that lets more than one defective item in ten through
    ///   on test data is not an inspection; the first trained model must beat this, later
    ///   ones must also match the live model.
    /// - false-reject rate at most 0.10: rejecting more than one good item in ten costs more
    ///   product than most lines tolerate and teaches operators to ignore the rejects.
    /// - at least 10 defective samples: the fewest on which a recall of 0.90 is one miss, so
    ///   the bound can be told at all (a rate on fewer moves by more than a tenth per sample).
    /// - at least 20 good samples: the fewest on which one false reject (0.05) does not
    ///   decide the 0.10 bound alone.
    pub const DEFAULT: AcceptanceCriteria = AcceptanceCriteria {
        min_recall: 0.90,
        max_false_reject_rate: 0.10,
        min_defect_samples: 10,
        min_good_samples: 20,
    };

    /// The first field that is not a usable bound, as `(name, value)`: rates must be finite
    /// and within 0..=1.
    pub fn invalid_field(&self) -> Option<(&'static str, f64)> {
        [
            ("min_recall", self.min_recall),
            ("max_false_reject_rate", self.max_false_reject_rate),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite() || !(0.0..=1.0).contains(v))
    }
}

impl Default for AcceptanceCriteria {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_zero_to_one_are_named() {
        assert_eq!(AcceptanceCriteria::DEFAULT.invalid_field(), None);
        let c = AcceptanceCriteria {
            max_false_reject_rate: 1.5,
            ..Default::default()
        };
        assert_eq!(c.invalid_field(), Some(("max_false_reject_rate", 1.5)));
        let c = AcceptanceCriteria {
            min_recall: f64::NAN,
            ..Default::default()
        };
        assert_eq!(c.invalid_field().map(|f| f.0), Some("min_recall"));
    }
}
