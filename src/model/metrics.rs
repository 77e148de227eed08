//! Evaluation measures: quantiles, ROC AUC, confusion counts.

/// The `q` quantile (0..=1) of `values` by linear interpolation; NaN when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Area under the ROC curve of `scores` for `positive` labels (higher score = more positive),
/// with ties counted half. `None` when one of the classes is empty.
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(positive.iter().copied())
        .collect();
    let n_pos = pairs.iter().filter(|p| p.1).count() as f64;
    let n_neg = pairs.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j + 1 < pairs.len() && pairs[j + 1].0 == pairs[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for p in &pairs[i..=j] {
            if p.1 {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    Some((rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Counts of a binary decision against the truth (positive = defective).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Defective and rejected.
    pub true_pos: u64,
    /// Good but rejected (false reject).
    pub false_pos: u64,
    /// Good and passed.
    pub true_neg: u64,
    /// Defective but passed (escape).
    pub false_neg: u64,
}

impl Confusion {
    /// Add one decision.
    pub fn add(&mut self, defective: bool, rejected: bool) {
        match (defective, rejected) {
            (true, true) => self.true_pos += 1,
            (false, true) => self.false_pos += 1,
            (false, false) => self.true_neg += 1,
            (true, false) => self.false_neg += 1,
        }
    }

    /// Share of defective items rejected (recall); NaN without defective items.
    pub fn recall(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_neg) as f64
    }

    /// Share of good items rejected; NaN without good items.
    pub fn false_reject_rate(&self) -> f64 {
        self.false_pos as f64 / (self.false_pos + self.true_neg) as f64
    }

    /// Share of rejected items that are defective; NaN when nothing was rejected.
    pub fn precision(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_pos) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let v = [3.0, 1.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn auroc_by_hand() {
        assert_eq!(
            auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            auroc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        // One tie between a positive and a negative counts half: (3 + 0.5) / 4.
        let a = auroc(&[0.1, 0.5, 0.5, 0.9], &[false, false, true, true]).unwrap();
        assert!((a - 0.875).abs() < 1e-12, "{a}");
        assert_eq!(auroc(&[0.1], &[true]), None);
    }

    #[test]
    fn confusion_rates() {
        let mut c = Confusion::default();
        c.add(true, true);
        c.add(true, false);
        c.add(false, false);
        c.add(false, false);
        c.add(false, true);
        assert_eq!(c.recall(), 0.5);
        assert!((c.false_reject_rate() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.precision(), 0.5);
    }
}
