//! The score workbench of the Thresholds tab: labelled and production scores with everything
//! derived from them that does not depend on the threshold (sorted sets, histograms, curves),
//! computed once so that moving a threshold only asks for counts.

use std::path::PathBuf;

use crate::domain::GOOD;
use crate::model::operating::{Histogram, LabelledScore, ScoreSet};

/// How many recent inspections the production view reads.
pub const PRODUCTION_ITEMS: usize = 10_000;
/// Histogram bins.
const BINS: usize = 60;
/// Curves are drawn with at most this many points (they are exact, just thinned).
const CURVE_POINTS: usize = 600;

/// Scores loaded for the tab, with everything derived from them that does not depend on the
/// threshold (computed once, off the UI thread).
pub struct Workbench {
    /// Where the labelled scores came from, for the header.
    pub source: String,
    /// Labelled items (evaluation set + labelled production items).
    pub items: Vec<LabelledScore>,
    /// Good vs all defect classes.
    pub set: ScoreSet,
    /// Defect classes with their own good-vs-class set.
    pub classes: Vec<(String, ScoreSet)>,
    /// Recent production scores, ascending (labelled or not).
    pub production: Vec<f64>,
    /// Histogram of the labelled items per class.
    pub hist: Histogram,
    /// Histogram of production scores (same bins).
    pub production_hist: Vec<u32>,
    /// ROC curve (false-reject rate, recall), thinned.
    pub roc: Vec<[f64; 2]>,
    /// PR curve (recall, precision), thinned.
    pub pr: Vec<[f64; 2]>,
    /// Area under the ROC curve.
    pub auroc: Option<f64>,
    /// Average precision.
    pub ap: Option<f64>,
    /// Slider range.
    pub range: (f64, f64),
    /// Dataset folder of the score file (for ground-truth masks), when known.
    pub dataset: Option<PathBuf>,
}

impl Workbench {
    /// Derive everything from the scores (sorts once; O(n log n)).
    pub fn build(source: String, items: Vec<LabelledScore>, mut production: Vec<f64>) -> Self {
        production.retain(|s| s.is_finite());
        production.sort_by(f64::total_cmp);
        let set = ScoreSet::from_labelled(&items);
        let mut names: Vec<String> = items
            .iter()
            .filter(|i| i.class != GOOD)
            .map(|i| i.class.clone())
            .collect();
        names.sort();
        names.dedup();
        let classes = names
            .into_iter()
            .map(|c| {
                let s = ScoreSet::for_class(&items, &c);
                (c, s)
            })
            .collect();
        // Range: the bulk of the labelled scores (production only when nothing is labelled),
        // not a far outlier: those land in the last bin.
        let mut all: Vec<f64> = items.iter().map(|i| i.score).collect();
        if all.is_empty() {
            all.extend_from_slice(&production);
        }
        let hi = crate::model::metrics::quantile(&all, 0.98);
        let hi = if hi.is_finite() && hi > 0.0 {
            hi * 1.25
        } else {
            3.0
        };
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let hist = ScoreSet::histogram(&items, lo, hi, BINS);
        let mut production_hist = vec![0u32; BINS];
        for s in &production {
            let b = (((s - lo) / hist.width).floor().max(0.0) as usize).min(BINS - 1);
            production_hist[b] += 1;
        }
        let thin = |v: Vec<[f64; 2]>| -> Vec<[f64; 2]> {
            if v.len() <= CURVE_POINTS {
                return v;
            }
            let step = v.len().div_ceil(CURVE_POINTS);
            let last = v[v.len() - 1];
            let mut out: Vec<[f64; 2]> = v.into_iter().step_by(step).collect();
            out.push(last);
            out
        };
        let roc = thin(set.roc().iter().map(|p| [p.fpr, p.tpr]).collect());
        let pr = thin(set.pr().iter().map(|p| [p.recall, p.precision]).collect());
        Self {
            source,
            auroc: set.auroc(),
            ap: set.average_precision(),
            items,
            set,
            classes,
            production,
            hist,
            production_hist,
            roc,
            pr,
            range: (lo, hi),
            dataset: None,
        }
    }

    /// Share of production items scoring above `t`.
    pub fn production_above(&self, t: f64) -> f64 {
        if self.production.is_empty() {
            return f64::NAN;
        }
        let k = self.production.partition_point(|s| *s <= t);
        (self.production.len() - k) as f64 / self.production.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(score: f64, class: &str) -> LabelledScore {
        LabelledScore {
            score,
            class: class.into(),
            origin: String::new(),
        }
    }

    /// The hand-checked set of `model::operating`'s tests.
    fn fixed() -> Workbench {
        let items = vec![
            item(0.1, "good"),
            item(0.2, "good"),
            item(0.3, "good"),
            item(0.6, "good"),
            item(0.5, "crack"),
            item(0.7, "crack"),
            item(0.8, "burnt"),
            item(0.9, "burnt"),
        ];
        Workbench::build("fixed".into(), items, vec![0.95, f64::NAN, 0.2, 0.4])
    }

    #[test]
    fn build_sorts_production_and_names_the_defect_classes() {
        let w = fixed();
        assert_eq!(w.production, vec![0.2, 0.4, 0.95]);
        let names: Vec<&str> = w.classes.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["burnt", "crack"]);
        assert_eq!((w.set.good(), w.set.defective()), (4, 4));
        assert_eq!(w.range.0, 0.0);
        assert!(w.range.1 > 0.9);
        assert_eq!(w.production_hist.iter().sum::<u32>(), 3);
        assert_eq!(
            w.hist.classes.iter().map(|(_, c)| c.len()).max(),
            Some(BINS)
        );
    }

    #[test]
    fn production_above_counts_the_share_over_a_threshold() {
        let w = fixed();
        assert!((w.production_above(0.5) - 1.0 / 3.0).abs() < 1e-12);
        assert!((w.production_above(0.3) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(w.production_above(1.0), 0.0);
        assert_eq!(w.production_above(0.4), 1.0 / 3.0);
        let empty = Workbench::build("none".into(), Vec::new(), Vec::new());
        assert!(empty.production_above(0.5).is_nan());
        assert_eq!(empty.range, (0.0, 3.0));
    }
}
