//! Operating points: what a threshold does on a labelled set of scores.
//!
//! A [`ScoreSet`] is sorted once; after that the confusion matrix and every rate at any
//! threshold cost two binary searches (prefix counts), so a UI slider can move over 10,000
//! items at full frame rate without touching features again. ROC and precision-recall curves,
//! AUROC, average precision, three-band counts and "snap" searches (max F1, a target escape
//! rate, a target false-reject rate) are computed from the same sorted arrays.
//!
//! Conventions (the same as [`crate::model::AnomalyModel::verdict`]): an item is rejected when
//! its score is strictly above the threshold; "positive" means defective.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::metrics::Confusion;
/// Class name of good product in score files and datasets (the domain's [`crate::domain::GOOD`]).
pub use crate::domain::GOOD;

/// One scored item with its true class (`good` or a defect class).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelledScore {
    /// Anomaly score (higher = more unlike good product).
    pub score: f64,
    /// True class: [`GOOD`] or a defect class name.
    pub class: String,
    /// Where it came from (image path, sample id), for drill-down; may be empty.
    #[serde(default)]
    pub origin: String,
}

/// Scores of a labelled evaluation set as saved next to a model (`<name>_scores.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreFile {
    /// Always `foodqc-scores`.
    pub format: String,
    /// Model version that produced the scores.
    pub model_version: String,
    /// What was scored (dataset folder).
    pub dataset: String,
    /// One entry per test image.
    pub items: Vec<LabelledScore>,
}

/// Value of [`ScoreFile::format`].
pub const SCORE_FILE_FORMAT: &str = "foodqc-scores";

/// Errors reading or writing a score file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScoreFileError {
    /// The file could not be read or written.
    #[error("{}", crate::tr!("err-model-operating-io", action = .action.to_string(), path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON of a score file.
    #[error("{}", crate::tr!("err-model-operating-json", path = .path.display().to_string(), source = .source.to_string()))]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The file is some other kind of file.
    #[error("{path} is not a foodqc score file (format field is `{found}`)")]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// Its format field.
        found: String,
    },
    /// A score is NaN or infinite.
    #[error("{}", crate::tr!("err-model-operating-non-finite", path = .path.display().to_string(), score = .score.to_string(), origin = .origin.to_string()))]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The score.
        score: f64,
        /// The item it belongs to.
        origin: String,
    },
}

impl ScoreFile {
    /// Read a score file; errors name the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, ScoreFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScoreFileError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let f: ScoreFile = serde_json::from_str(&text).map_err(|source| ScoreFileError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if f.format != SCORE_FILE_FORMAT {
            return Err(ScoreFileError::WrongFormat {
                path: path.to_path_buf(),
                found: f.format,
            });
        }
        if let Some(bad) = f.items.iter().find(|i| !i.score.is_finite()) {
            return Err(ScoreFileError::NonFinite {
                path: path.to_path_buf(),
                score: bad.score,
                origin: bad.origin.clone(),
            });
        }
        Ok(f)
    }

    /// Write the file (through a temporary file, so it is never half-written).
    pub fn save(&self, path: &Path) -> Result<(), ScoreFileError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| ScoreFileError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        super::write_atomically(path, &json).map_err(|source| ScoreFileError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    }

    /// The score file that belongs to a model file: `<stem>_scores.json` beside it.
    pub fn path_for_model(model: &std::path::Path) -> std::path::PathBuf {
        let stem = model.with_extension("");
        std::path::PathBuf::from(format!("{}_scores.json", stem.display()))
    }
}

/// Everything a threshold decides on a labelled set, with the derived rates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// Items scoring above this are rejected.
    pub threshold: f64,
    /// Counts (positive = defective, predicted positive = rejected).
    pub confusion: ConfusionCounts,
    /// Rejected items that are defective; NaN when nothing is rejected.
    pub precision: f64,
    /// Defective items rejected; NaN without defective items.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0 or undefined.
    pub f1: f64,
    /// Good items rejected; NaN without good items.
    pub false_reject_rate: f64,
    /// Defective items passed (1 - recall): the escapes; NaN without defective items.
    pub escape_rate: f64,
}

/// Serializable confusion counts (mirrors [`Confusion`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConfusionCounts {
    pub true_pos: u64,
    pub false_pos: u64,
    pub true_neg: u64,
    pub false_neg: u64,
}

impl From<ConfusionCounts> for Confusion {
    fn from(c: ConfusionCounts) -> Self {
        Confusion {
            true_pos: c.true_pos,
            false_pos: c.false_pos,
            true_neg: c.true_neg,
            false_neg: c.false_neg,
        }
    }
}

impl OperatingPoint {
    fn from_counts(threshold: f64, c: ConfusionCounts) -> Self {
        let ratio = |a: u64, b: u64| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        let precision = ratio(c.true_pos, c.true_pos + c.false_pos);
        let recall = ratio(c.true_pos, c.true_pos + c.false_neg);
        // F1 = 2 TP / (2 TP + FP + FN): defined even when nothing is rejected.
        let denom = 2 * c.true_pos + c.false_pos + c.false_neg;
        let f1 = if denom == 0 {
            0.0
        } else {
            2.0 * c.true_pos as f64 / denom as f64
        };
        Self {
            threshold,
            confusion: c,
            precision,
            recall,
            f1,
            false_reject_rate: ratio(c.false_pos, c.false_pos + c.true_neg),
            escape_rate: ratio(c.false_neg, c.true_pos + c.false_neg),
        }
    }
}

/// How many good and defective items fall in each of the three bands
/// (pass: score <= review, review: review < score <= reject, reject: score > reject).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BandCounts {
    pub pass_good: u64,
    pub pass_defective: u64,
    pub review_good: u64,
    pub review_defective: u64,
    pub reject_good: u64,
    pub reject_defective: u64,
}

impl BandCounts {
    /// All items.
    pub fn total(&self) -> u64 {
        self.pass_good
            + self.pass_defective
            + self.review_good
            + self.review_defective
            + self.reject_good
            + self.reject_defective
    }

    /// Items sent to the review queue.
    pub fn review(&self) -> u64 {
        self.review_good + self.review_defective
    }
}

/// A point of the ROC curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RocPoint {
    /// Threshold producing this point.
    pub threshold: f64,
    /// False-reject rate (x).
    pub fpr: f64,
    /// Recall (y).
    pub tpr: f64,
}

/// A point of the precision-recall curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrPoint {
    /// Threshold producing this point.
    pub threshold: f64,
    /// Recall (x).
    pub recall: f64,
    /// Precision (y).
    pub precision: f64,
}

/// A labelled set of scores, sorted once, answering "what happens at threshold t" in
/// O(log n).
#[derive(Clone, Debug, Default)]
pub struct ScoreSet {
    /// Scores, ascending.
    sorted: Vec<f64>,
    /// `defective_below[i]`: defective items among `sorted[..i]` (length n + 1).
    defective_below: Vec<u32>,
    /// Distinct scores, ascending.
    distinct: Vec<f64>,
}

impl ScoreSet {
    /// Build from (score, defective) pairs; non-finite scores are dropped.
    pub fn new(items: impl IntoIterator<Item = (f64, bool)>) -> Self {
        let mut v: Vec<(f64, bool)> = items.into_iter().filter(|p| p.0.is_finite()).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut defective_below = Vec::with_capacity(v.len() + 1);
        let mut acc = 0u32;
        defective_below.push(0);
        for p in &v {
            acc += u32::from(p.1);
            defective_below.push(acc);
        }
        let sorted: Vec<f64> = v.into_iter().map(|p| p.0).collect();
        let mut distinct = sorted.clone();
        distinct.dedup();
        Self {
            sorted,
            defective_below,
            distinct,
        }
    }

    /// Good vs every defect class together.
    pub fn from_labelled(items: &[LabelledScore]) -> Self {
        Self::new(items.iter().map(|i| (i.score, i.class != GOOD)))
    }

    /// Good vs one defect class (items of other defect classes left out).
    pub fn for_class(items: &[LabelledScore], class: &str) -> Self {
        Self::new(
            items
                .iter()
                .filter(|i| i.class == GOOD || i.class == class)
                .map(|i| (i.score, i.class != GOOD)),
        )
    }

    /// Items in the set.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when the set holds no item.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Defective items.
    pub fn defective(&self) -> u64 {
        u64::from(*self.defective_below.last().unwrap_or(&0))
    }

    /// Good items.
    pub fn good(&self) -> u64 {
        self.len() as u64 - self.defective()
    }

    /// Lowest and highest score; `None` when empty.
    pub fn range(&self) -> Option<(f64, f64)> {
        Some((*self.sorted.first()?, *self.sorted.last()?))
    }

    /// Scores, ascending.
    pub fn sorted_scores(&self) -> &[f64] {
        &self.sorted
    }

    /// (good, defective) items scoring at or below `t`.
    fn at_or_below(&self, t: f64) -> (u64, u64) {
        let k = self.sorted.partition_point(|s| *s <= t);
        let d = u64::from(self.defective_below[k]);
        (k as u64 - d, d)
    }

    /// The operating point at threshold `t` (reject when score > t). O(log n).
    pub fn at(&self, t: f64) -> OperatingPoint {
        let (good_le, def_le) = self.at_or_below(t);
        let c = ConfusionCounts {
            true_pos: self.defective() - def_le,
            false_pos: self.good() - good_le,
            true_neg: good_le,
            false_neg: def_le,
        };
        OperatingPoint::from_counts(t, c)
    }

    /// Items per band for the review threshold `review` and the reject threshold `reject`
    /// (a review threshold at or above `reject` means no review band). O(log n).
    pub fn bands(&self, review: f64, reject: f64) -> BandCounts {
        let review = review.min(reject);
        let (g_pass, d_pass) = self.at_or_below(review);
        let (g_rev, d_rev) = self.at_or_below(reject);
        BandCounts {
            pass_good: g_pass,
            pass_defective: d_pass,
            review_good: g_rev - g_pass,
            review_defective: d_rev - d_pass,
            reject_good: self.good() - g_rev,
            reject_defective: self.defective() - d_rev,
        }
    }

    /// Thresholds that give every distinct decision, from "reject all" to "reject none":
    /// just below the lowest score, then midway between neighbouring distinct scores, then
    /// the highest score. Midpoints keep a little margin on both sides for new data.
    pub fn candidate_thresholds(&self) -> Vec<f64> {
        let d = &self.distinct;
        let Some((&first, &last)) = d.first().zip(d.last()) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(d.len() + 1);
        out.push(first - 1e-9 * first.abs().max(1.0));
        out.extend(d.windows(2).map(|w| 0.5 * (w[0] + w[1])));
        out.push(last);
        out
    }

    /// The ROC curve, from (0, 0) (reject none) to (1, 1) (reject all): one point per
    /// distinct score. Empty when either class is missing.
    pub fn roc(&self) -> Vec<RocPoint> {
        let (p, n) = (self.defective() as f64, self.good() as f64);
        if p == 0.0 || n == 0.0 {
            return Vec::new();
        }
        let mut t = self.candidate_thresholds();
        t.reverse();
        t.into_iter()
            .map(|t| {
                let op = self.at(t);
                RocPoint {
                    threshold: t,
                    fpr: op.confusion.false_pos as f64 / n,
                    tpr: op.confusion.true_pos as f64 / p,
                }
            })
            .collect()
    }

    /// The precision-recall curve with recall rising, one point per threshold that rejects
    /// at least one item. Empty without defective items.
    pub fn pr(&self) -> Vec<PrPoint> {
        if self.defective() == 0 {
            return Vec::new();
        }
        let mut t = self.candidate_thresholds();
        t.reverse();
        t.into_iter()
            .map(|t| self.at(t))
            .filter(|op| op.confusion.true_pos + op.confusion.false_pos > 0)
            .map(|op| PrPoint {
                threshold: op.threshold,
                recall: op.recall,
                precision: op.precision,
            })
            .collect()
    }

    /// Area under the ROC curve (trapezoids; equals the Mann-Whitney statistic with ties
    /// counted half). `None` when either class is missing.
    pub fn auroc(&self) -> Option<f64> {
        let roc = self.roc();
        if roc.is_empty() {
            return None;
        }
        let mut area = 0.0;
        for w in roc.windows(2) {
            area += (w[1].fpr - w[0].fpr) * 0.5 * (w[0].tpr + w[1].tpr);
        }
        Some(area)
    }

    /// Average precision: sum over thresholds of (recall gain) x precision, the usual
    /// step-wise area under the PR curve. `None` without defective items.
    pub fn average_precision(&self) -> Option<f64> {
        let pr = self.pr();
        if pr.is_empty() {
            return None;
        }
        let mut prev_recall = 0.0;
        let mut ap = 0.0;
        for p in pr {
            ap += (p.recall - prev_recall) * p.precision;
            prev_recall = p.recall;
        }
        Some(ap)
    }

    /// The threshold with the highest F1 (the highest such threshold on ties, so fewer
    /// false rejects). `None` without defective items.
    pub fn snap_max_f1(&self) -> Option<f64> {
        if self.defective() == 0 {
            return None;
        }
        let mut best: Option<(f64, f64)> = None;
        for t in self.candidate_thresholds() {
            let f1 = self.at(t).f1;
            if best.is_none_or(|(b, _)| f1 >= b) {
                best = Some((f1, t));
            }
        }
        best.map(|b| b.1)
    }

    /// The highest threshold whose escape rate (share of defective items passed) is at most
    /// `target`: as few false rejects as the target allows. `None` without defective items.
    pub fn snap_escape_rate(&self, target: f64) -> Option<f64> {
        if self.defective() == 0 {
            return None;
        }
        // Escape rate rises with the threshold: walk down from "reject none".
        self.candidate_thresholds()
            .into_iter()
            .rev()
            .find(|t| self.at(*t).escape_rate <= target + 1e-12)
    }

    /// The lowest threshold whose false-reject rate is at most `target`: as many defects
    /// caught as the target allows. `None` without good items.
    pub fn snap_false_reject_rate(&self, target: f64) -> Option<f64> {
        if self.good() == 0 {
            return None;
        }
        // False-reject rate falls as the threshold rises: walk up from "reject all".
        self.candidate_thresholds()
            .into_iter()
            .find(|t| self.at(*t).false_reject_rate <= target + 1e-12)
    }

    /// Histogram of the scores in `bins` equal bins over `[lo, hi]`: (good, defective) counts
    /// per bin; scores outside go to the first or last bin.
    pub fn histogram(items: &[LabelledScore], lo: f64, hi: f64, bins: usize) -> Histogram {
        let bins = bins.max(1);
        let width = ((hi - lo) / bins as f64).max(f64::MIN_POSITIVE);
        let mut h = Histogram {
            lo,
            width,
            classes: Vec::new(),
        };
        for it in items {
            let b = (((it.score - lo) / width).floor().max(0.0) as usize).min(bins - 1);
            let idx = match h.classes.iter().position(|(c, _)| *c == it.class) {
                Some(i) => i,
                None => {
                    h.classes.push((it.class.clone(), vec![0; bins]));
                    h.classes.len() - 1
                }
            };
            h.classes[idx].1[b] += 1;
        }
        // Good first, then defect classes by name: stable colours and legend order.
        h.classes
            .sort_by(|a, b| (a.0 != GOOD, &a.0).cmp(&(b.0 != GOOD, &b.0)));
        h
    }
}

/// Score histogram per true class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f64,
    /// Bin width.
    pub width: f64,
    /// (class, count per bin), good first.
    pub classes: Vec<(String, Vec<u32>)>,
}

/// Operating points of a labelled score set, as printed by `foodqc eval --threshold-report`.
pub fn threshold_report(
    items: &[LabelledScore],
    current: f64,
    target_escape: f64,
    target_frr: f64,
) -> String {
    let set = ScoreSet::from_labelled(items);
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "n/a".into());
    let mut s = format!(
        "operating points on {} items ({} good, {} defective): AUROC {}, AP {}\n",
        set.len(),
        set.good(),
        set.defective(),
        opt(set.auroc()),
        opt(set.average_precision())
    );
    s += "  point                       threshold     TP    FP    TN    FN  precision  recall     F1    FRR  escape\n";
    let row = |name: &str, t: Option<f64>| -> String {
        match t {
            None => format!("  {name:<26} n/a\n"),
            Some(t) => {
                let op = set.at(t);
                let c = op.confusion;
                format!(
                    "  {name:<26} {t:>9.4} {:>6} {:>5} {:>5} {:>5} {:>10.3} {:>7.3} {:>6.3} {:>6.3} {:>7.3}\n",
                    c.true_pos,
                    c.false_pos,
                    c.true_neg,
                    c.false_neg,
                    op.precision,
                    op.recall,
                    op.f1,
                    op.false_reject_rate,
                    op.escape_rate
                )
            }
        }
    };
    s += &row("model threshold", Some(current));
    s += &row("max F1", set.snap_max_f1());
    s += &row(
        &format!("escape <= {:.2} %", 100.0 * target_escape),
        set.snap_escape_rate(target_escape),
    );
    s += &row(
        &format!("false reject <= {:.2} %", 100.0 * target_frr),
        set.snap_false_reject_rate(target_frr),
    );
    let mut classes: Vec<&str> = items
        .iter()
        .map(|i| i.class.as_str())
        .filter(|c| *c != GOOD)
        .collect();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() > 1 {
        s += "  per defect class (good vs class): max-F1 threshold, AUROC\n";
        for c in classes {
            let cs = ScoreSet::for_class(items, c);
            s += &format!(
                "    {c:<20} {:>9}  AUROC {}\n",
                opt(cs.snap_max_f1()),
                opt(cs.auroc())
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::auroc;

    /// good: 0.1 0.2 0.3 0.6 ; defective: 0.5 0.7 0.8 0.9
    fn small() -> ScoreSet {
        ScoreSet::new([
            (0.1, false),
            (0.2, false),
            (0.3, false),
            (0.6, false),
            (0.5, true),
            (0.7, true),
            (0.8, true),
            (0.9, true),
        ])
    }

    #[test]
    fn confusion_at_thresholds_by_hand() {
        let s = small();
        assert_eq!((s.len(), s.good(), s.defective()), (8, 4, 4));
        // t = 0.55: rejected 0.6(g) 0.7 0.8 0.9 -> TP 3, FP 1, TN 3, FN 1 (0.5).
        let op = s.at(0.55);
        assert_eq!(
            op.confusion,
            ConfusionCounts {
                true_pos: 3,
                false_pos: 1,
                true_neg: 3,
                false_neg: 1
            }
        );
        assert_eq!(op.precision, 0.75);
        assert_eq!(op.recall, 0.75);
        assert_eq!(op.f1, 0.75);
        assert_eq!(op.false_reject_rate, 0.25);
        assert_eq!(op.escape_rate, 0.25);
        // Exactly on a score: that item passes (reject is strictly above).
        let op = s.at(0.5);
        assert_eq!(op.confusion.false_neg, 1);
        // t = 0.4: TP 4, FP 1 -> precision 0.8, recall 1, F1 = 8/9.
        let op = s.at(0.4);
        assert_eq!((op.confusion.true_pos, op.confusion.false_pos), (4, 1));
        assert!((op.f1 - 8.0 / 9.0).abs() < 1e-12);
        assert_eq!(op.escape_rate, 0.0);
        // Reject nothing: precision undefined, F1 0.
        let op = s.at(1.0);
        assert!(op.precision.is_nan());
        assert_eq!(op.f1, 0.0);
        assert_eq!(op.escape_rate, 1.0);
    }

    #[test]
    fn auroc_and_ap_by_hand() {
        let s = small();
        // Pairs (defective > good): 0.5 beats 3 goods, 0.7/0.8/0.9 beat 4 -> 15/16.
        assert!((s.auroc().unwrap() - 15.0 / 16.0).abs() < 1e-12);
        // Descending: 0.9 d, 0.8 d, 0.7 d, 0.6 g, 0.5 d -> precisions at each defect:
        // 1, 1, 1, 4/5 -> AP = (1 + 1 + 1 + 0.8) / 4 = 0.95.
        assert!((s.average_precision().unwrap() - 0.95).abs() < 1e-12);
        // Agrees with the rank-based AUROC, ties included.
        let pairs = [
            (0.1, false),
            (0.5, false),
            (0.5, true),
            (0.9, true),
            (0.5, true),
            (0.2, false),
        ];
        let t = ScoreSet::new(pairs);
        let (sc, lab): (Vec<f64>, Vec<bool>) = pairs.iter().copied().unzip();
        assert!((t.auroc().unwrap() - auroc(&sc, &lab).unwrap()).abs() < 1e-12);
        assert_eq!(ScoreSet::new([(0.1, false)]).auroc(), None);
    }

    #[test]
    fn curves_run_from_corner_to_corner() {
        let roc = small().roc();
        assert_eq!((roc[0].fpr, roc[0].tpr), (0.0, 0.0));
        let last = roc.last().unwrap();
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        assert!(
            roc.windows(2)
                .all(|w| w[1].fpr >= w[0].fpr && w[1].tpr >= w[0].tpr)
        );
        let pr = small().pr();
        assert_eq!((pr[0].recall, pr[0].precision), (0.25, 1.0));
        assert_eq!(pr.last().unwrap().recall, 1.0);
    }

    #[test]
    fn snaps_by_hand() {
        let s = small();
        // F1 = 2TP / (2TP + FP + FN) by threshold: reject-all 8/12, 0.15 8/11, 0.25 8/10,
        // 0.4 8/9, 0.55 6/8, 0.65 6/7, ... -> max at 0.4.
        assert!((s.snap_max_f1().unwrap() - 0.4).abs() < 1e-12);
        // Escape <= 0 (no defect may pass): highest threshold passing no defect = 0.4.
        assert!((s.snap_escape_rate(0.0).unwrap() - 0.4).abs() < 1e-12);
        // Escape <= 25 %: one defect may pass -> 0.65 (passes 0.5, rejects 0.7..0.9).
        assert!((s.snap_escape_rate(0.25).unwrap() - 0.65).abs() < 1e-12);
        // False reject <= 0: lowest threshold rejecting no good item = 0.65.
        assert!((s.snap_false_reject_rate(0.0).unwrap() - 0.65).abs() < 1e-12);
        // False reject <= 25 %: 0.4 (0.6 rejected, 1 of 4).
        assert!((s.snap_false_reject_rate(0.25).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(ScoreSet::new([(0.2, false)]).snap_max_f1(), None);
    }

    #[test]
    fn bands_by_hand() {
        let s = small();
        let b = s.bands(0.35, 0.65);
        // pass: 0.1 0.2 0.3 (g); review: 0.5 (d) 0.6 (g); reject: 0.7 0.8 0.9 (d).
        assert_eq!(
            b,
            BandCounts {
                pass_good: 3,
                pass_defective: 0,
                review_good: 1,
                review_defective: 1,
                reject_good: 0,
                reject_defective: 3
            }
        );
        assert_eq!((b.total(), b.review()), (8, 2));
        // A review threshold above the reject threshold means no review band.
        assert_eq!(s.bands(0.9, 0.65).review(), 0);
    }

    #[test]
    fn histogram_per_class() {
        let items: Vec<LabelledScore> = [
            (0.1, "good"),
            (0.45, "crack"),
            (0.9, "good"),
            (2.0, "burnt"),
        ]
        .iter()
        .map(|(s, c)| LabelledScore {
            score: *s,
            class: c.to_string(),
            origin: String::new(),
        })
        .collect();
        let h = ScoreSet::histogram(&items, 0.0, 1.0, 4);
        let names: Vec<&str> = h.classes.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["good", "burnt", "crack"]);
        assert_eq!(h.classes[0].1, vec![1, 0, 0, 1]);
        assert_eq!(
            h.classes[1].1,
            vec![0, 0, 0, 1],
            "out of range goes to the last bin"
        );
        assert_eq!(h.classes[2].1, vec![0, 1, 0, 0]);
        let per_class = ScoreSet::for_class(&items, "crack");
        assert_eq!((per_class.good(), per_class.defective()), (2, 1));
        let report = threshold_report(&items, 0.5, 0.005, 0.01);
        assert!(report.contains("max F1"), "{report}");
        assert!(report.contains("per defect class"), "{report}");
    }

    #[test]
    fn score_file_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = ScoreFile {
            format: SCORE_FILE_FORMAT.into(),
            model_version: "m1".into(),
            dataset: "d".into(),
            items: vec![LabelledScore {
                score: 0.5,
                class: "good".into(),
                origin: "a.png".into(),
            }],
        };
        let p = ScoreFile::path_for_model(&dir.path().join("cookies.json"));
        assert!(p.ends_with("cookies_scores.json"));
        f.save(&p).unwrap();
        assert_eq!(ScoreFile::load(&p).unwrap(), f);
        std::fs::write(
            &p,
            r#"{"format":"other","model_version":"","dataset":"","items":[]}"#,
        )
        .unwrap();
        let e = ScoreFile::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("not a foodqc score file") && e.contains("cookies_scores"),
            "{e}"
        );
    }
}
