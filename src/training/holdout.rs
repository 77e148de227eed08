//! The acceptance hold-out: a stable share of the labelled samples that no training job
//! trains or calibrates on, kept as independent test data for the comparison a candidate
//! model must pass before it goes live ([`crate::services::acceptance`]; EU GMP draft
//! Annex 22 asks for test data independent of the training data).
//!
//! Which samples are held out is decided by their content alone: within each label, the
//! samples are ranked by a keyed blake3 of their `samples.hash` (the blake3 of the PNG
//! bytes) and the first [`HOLDOUT_SHARE`] of them (rounded) are held out. So:
//! - the split is the same in every database that holds the same labelled samples (a
//!   backup, a re-import, another station), whatever their row ids or import order;
//! - it is stratified: each label gives its own share, so rare defect classes are in the
//!   test data too, in proportion;
//! - adding samples moves it little: a new sample enters the hold-out only if its rank
//!   says so, pushing out at most one other (what any model trained on is named by its
//!   data snapshot anyway, and the comparison leaves those out).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::domain::GOOD;
use crate::store::{LabelRow, SampleRow};

/// Share of each label's samples held out: one in five. Large enough that a plant with a
/// few hundred labelled samples gets a test set of dozens per class (the comparison's
/// Wilson intervals narrow with the count), small enough that training keeps four in five
/// (the anomaly detector's cross-validation already uses five folds of the rest). The usual
/// 80/20 split, so nobody has to learn a new number.
pub const HOLDOUT_SHARE: f64 = 0.2;

/// Key of the ranking hash: the hold-out's rank does not correlate with any other use of
/// the sample hash (ordering, deduplication).
const RANK_KEY: &[u8] = b"foodqc acceptance hold-out v1";

/// Which labelled samples are held out, and how many per label.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HoldOut {
    /// The held-out samples' ids.
    pub sample_ids: BTreeSet<i64>,
    /// Per label: `(held out, labelled)`.
    pub per_label: BTreeMap<String, (usize, usize)>,
    /// Good samples the share would have held out but training needed to reach its minimum
    /// of good samples: they are trained on, and the hold-out is that much smaller.
    pub good_kept_for_training: usize,
}

impl HoldOut {
    /// Whether a sample is held out.
    pub fn contains(&self, sample_id: i64) -> bool {
        self.sample_ids.contains(&sample_id)
    }

    /// Samples held out in all.
    pub fn len(&self) -> usize {
        self.sample_ids.len()
    }

    /// True when nothing is held out.
    pub fn is_empty(&self) -> bool {
        self.sample_ids.is_empty()
    }
}

/// The rank of a sample in its label: a keyed blake3 of its content hash (hex).
fn rank(hash: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(RANK_KEY);
    h.update(hash.as_bytes());
    *h.finalize().as_bytes()
}

/// How many of `n` samples of a label the share holds out (rounded half up: 3 of 13, 1 of 3,
/// none of 2).
pub fn held_out_count(n: usize) -> usize {
    // round(n * 0.2) in integers: floor((2n + 5) / 10).
    debug_assert!((HOLDOUT_SHARE - 0.2).abs() < 1e-12);
    (2 * n + 5) / 10
}

/// The hold-out of a labelled set (`(sample, current label)` pairs, as
/// [`crate::store::Store::labelled_samples`] gives them). At least `min_good_train` good
/// samples are left for training when there are that many: the anomaly detector cannot be
/// fitted on fewer, and a small label set should still train (its candidate then meets too
/// few independent samples, and the acceptance check says so).
pub fn hold_out(labelled: &[(SampleRow, LabelRow)], min_good_train: usize) -> HoldOut {
    let mut by_label: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
    for (s, l) in labelled {
        by_label
            .entry(l.label.as_str())
            .or_default()
            .push((s.hash.as_str(), s.id));
    }
    let mut out = HoldOut::default();
    for (label, mut samples) in by_label {
        // Equal hashes (the same image) rank by id, so the order is total.
        samples.sort_by_cached_key(|(hash, id)| (rank(hash), *id));
        let n = samples.len();
        let mut k = held_out_count(n);
        if label == GOOD {
            let allowed = n.saturating_sub(min_good_train);
            out.good_kept_for_training = k.saturating_sub(allowed);
            k = k.min(allowed);
        }
        out.sample_ids
            .extend(samples.iter().take(k).map(|(_, id)| *id));
        out.per_label.insert(label.to_string(), (k, n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(id: i64, label: &str) -> (SampleRow, LabelRow) {
        let hash = blake3::hash(format!("sample {id}").as_bytes())
            .to_hex()
            .to_string();
        (
            SampleRow {
                id,
                path: format!("/s/{id}.png").into(),
                hash,
                width: 10,
                height: 10,
                source: "test".into(),
                created_at_ms: 0,
            },
            LabelRow {
                id: id + 1000,
                sample_id: id,
                label: label.into(),
                mask_path: None,
                labeled_by: "t".into(),
                created_at_ms: 0,
            },
        )
    }

    fn set(good: i64, crack: i64, stain: i64) -> Vec<(SampleRow, LabelRow)> {
        let mut v = Vec::new();
        let mut id = 0;
        for (n, label) in [(good, GOOD), (crack, "crack"), (stain, "stain")] {
            for _ in 0..n {
                id += 1;
                v.push(pair(id, label));
            }
        }
        v
    }

    #[test]
    fn the_share_rounds_half_up() {
        let counts: Vec<usize> = [0, 1, 2, 3, 5, 13, 100].map(held_out_count).to_vec();
        assert_eq!(counts, vec![0, 0, 0, 1, 1, 3, 20]);
    }

    #[test]
    fn it_is_stratified_per_label() {
        let h = hold_out(&set(100, 30, 7), 8);
        assert_eq!(h.per_label["good"], (20, 100));
        assert_eq!(h.per_label["crack"], (6, 30));
        assert_eq!(h.per_label["stain"], (1, 7));
        assert_eq!(h.len(), 27);
        assert_eq!(h.good_kept_for_training, 0);
    }

    #[test]
    fn it_depends_on_content_not_on_ids_or_order() {
        let a = set(50, 20, 0);
        // The same samples in another database: other ids, reversed order.
        let mut b: Vec<_> = a
            .iter()
            .cloned()
            .map(|(mut s, mut l)| {
                s.id += 500;
                l.sample_id = s.id;
                (s, l)
            })
            .collect();
        b.reverse();
        let hashes = |data: &[(SampleRow, LabelRow)], h: &HoldOut| -> BTreeSet<String> {
            data.iter()
                .filter(|(s, _)| h.contains(s.id))
                .map(|(s, _)| s.hash.clone())
                .collect()
        };
        let (ha, hb) = (hold_out(&a, 8), hold_out(&b, 8));
        assert_eq!(hashes(&a, &ha), hashes(&b, &hb));
        assert_eq!(ha.per_label, hb.per_label);
    }

    #[test]
    fn adding_samples_moves_it_little() {
        let before = set(50, 0, 0);
        let after = set(55, 0, 0);
        let (hb, ha) = (hold_out(&before, 8), hold_out(&after, 8));
        // 10 held out of 50, 11 of 55: the five new samples can push at most five of the
        // first ten out of the first eleven ranks.
        let kept = hb.sample_ids.intersection(&ha.sample_ids).count();
        assert!(kept >= 11 - 5, "{kept}");
        assert_eq!((hb.len(), ha.len()), (10, 11));
    }

    #[test]
    fn small_sets_keep_enough_good_samples_for_training() {
        // 12 good: the share says 2, training needs 8 of them: 2 can go.
        let h = hold_out(&set(12, 3, 0), 8);
        assert_eq!(h.per_label["good"], (2, 12));
        assert_eq!(h.good_kept_for_training, 0);
        // 9 good: the share says 2, only 1 can go.
        let h = hold_out(&set(9, 3, 0), 8);
        assert_eq!(h.per_label["good"], (1, 9));
        assert_eq!(h.good_kept_for_training, 1);
        // 8 good: none can go; defects are still held out.
        let h = hold_out(&set(8, 3, 0), 8);
        assert_eq!(h.per_label["good"], (0, 8));
        assert_eq!(h.per_label["crack"], (1, 3));
        assert_eq!(h.good_kept_for_training, 2);
    }
}
