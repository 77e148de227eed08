//! Drift of the anomaly score: is good product still scoring like the good items the model was
//! trained on?
//!
//! A model's scores are calibrated on held-out good items so that a score of 1.0 is their 95th
//! percentile (see [`crate::model::anomaly::Calibration`]). When lighting, the camera or the
//! product changes, the whole score distribution moves up and the share of passed items above
//! 1.0 grows long before the reject rate does. Each period's share is compared with the
//! expected one.
//!
//! The expected share is measured on the line, not assumed (SPC's Phase I): passed items are
//! not only good items (small defects below the reject threshold pass too) and a production
//! line is not the training set, so a stable line may well sit at 8 % rather than 5 %. The
//! first [`BASELINE_ITEMS`] passed items a model version judged are its baseline; the expected
//! share is their share's one-sided 95 % upper confidence bound (Wilson), so a baseline that
//! came out low by chance does not raise the false-alarm rate. Until a model version has that
//! many passed items, the calibration's 5 % stands in.
//!
//! A period drifts when three things hold: it has at least `min_items` passed items (a
//! handful proves nothing), its share is at least `warn_ratio` times the expected one (a
//! change worth acting on, not a statistically detectable 1 % shift of a million items), and
//! an exact one-sided binomial test puts the chance of so many items above the reference, if
//! nothing had changed, at most `false_alarm_rate`. That rate is the stated cost of the rule:
//! with 0.001, a stable line raises a false drift warning about once in 1,000 periods (hours),
//! less where the ratio or the minimum count also holds the warning back.

use serde::Serialize;

/// Passed items of a model version that make its Phase I baseline.
pub const BASELINE_ITEMS: u64 = 1000;

/// The Phase I baseline: the first passed items a model version judged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DriftBaseline {
    /// Passed items in the baseline.
    pub items: u64,
    /// Of them, how many scored above the reference score.
    pub above: u64,
}

impl DriftBaseline {
    /// One-sided 95 % upper confidence bound of the baseline's share above the reference
    /// (Wilson score interval: stays inside 0..1 and is sound when the share is near 0).
    pub fn share_upper_bound(&self) -> f64 {
        if self.items == 0 {
            return 1.0;
        }
        const Z: f64 = 1.644_853_626_951_472_2;
        let n = self.items as f64;
        let p = self.above.min(self.items) as f64 / n;
        let z2 = Z * Z;
        let centre = p + z2 / (2.0 * n);
        let spread = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        ((centre + spread) / (1.0 + z2 / n)).min(1.0)
    }
}

/// What good product looked like to the model: at training time, and on the line once the
/// model has judged enough items.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReference {
    /// Score at the training distribution's reference quantile (1.0 by calibration).
    pub score_quantile: f64,
    /// Share of good items expected above it by calibration (0.05: the 95th percentile),
    /// used until the model has a [`DriftBaseline`].
    pub expected_share: f64,
    /// A period drifts when its share is at least this many times the expected one.
    pub warn_ratio: f64,
    /// Largest chance, for a period of a stable line, of a drift warning: the p-value a
    /// period's count must reach in the one-sided exact binomial test.
    pub false_alarm_rate: f64,
    /// Fewest passed items a period needs before it can drift.
    pub min_items: u64,
    /// The model version's Phase I baseline, once it has [`BASELINE_ITEMS`] passed items.
    pub baseline: Option<DriftBaseline>,
}

impl Default for DriftReference {
    fn default() -> Self {
        Self {
            score_quantile: 1.0,
            expected_share: 0.05,
            warn_ratio: 2.0,
            false_alarm_rate: 0.001,
            min_items: 30,
            baseline: None,
        }
    }
}

impl DriftReference {
    /// The reference of a model: its calibration puts the 95th percentile of held-out good
    /// items at score 1.0 for every model, so this only checks the model's reject threshold is
    /// above that point (else passed items could never score above it).
    pub fn for_model(model: &crate::model::AnomalyModel) -> Self {
        Self {
            score_quantile: 1.0f64.min(model.thresholds.reject),
            ..Self::default()
        }
    }

    /// This reference with the model version's baseline of `items` passed items, `above` of
    /// them over the reference score; fewer than [`BASELINE_ITEMS`] items keep the calibration's
    /// share.
    pub fn with_baseline(mut self, items: u64, above: u64) -> Self {
        self.baseline = (items >= BASELINE_ITEMS).then_some(DriftBaseline {
            items,
            above: above.min(items),
        });
        self
    }

    /// The share of passed items expected above the reference score on a stable line: the
    /// baseline's upper confidence bound, or the calibration's share without a baseline.
    pub fn reference_share(&self) -> f64 {
        self.baseline
            .map_or(self.expected_share, |b| b.share_upper_bound())
    }

    /// Is a period with `n` passed items, `above` of them over the reference score, drifting?
    /// See the module documentation for the three conditions.
    pub fn drifting(&self, n: u64, above: u64) -> bool {
        if n < self.min_items.max(1) || above > n {
            return false;
        }
        let p0 = self.reference_share();
        let share = above as f64 / n as f64;
        share >= self.warn_ratio * p0 && binomial_upper_tail(n, above, p0) <= self.false_alarm_rate
    }
}

/// P(X >= k) for X ~ Binomial(n, p), exact: the terms from k up, each from the one before
/// (`pmf(i+1) = pmf(i) (n-i)/(i+1) p/(1-p)`), the first through log-gamma-free sums of logs.
/// Accurate to a few ulps of the result for the sizes of a production hour (up to millions).
pub fn binomial_upper_tail(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    // ln C(n, k) = sum over i < k of ln((n - i) / (i + 1)).
    let ln_choose: f64 = (0..k).map(|i| ((n - i) as f64 / (i + 1) as f64).ln()).sum();
    let mut term = (ln_choose + k as f64 * p.ln() + (n - k) as f64 * (-p).ln_1p()).exp();
    let ratio = p / (1.0 - p);
    let mut sum = 0.0;
    for i in k..=n {
        sum += term;
        term *= (n - i) as f64 / (i + 1) as f64 * ratio;
        // Past the mode the terms only shrink; stop when they no longer count.
        if term < sum * 1e-17 && i as f64 > n as f64 * p {
            break;
        }
    }
    sum.min(1.0)
}

/// One period of the drift trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftPoint {
    /// Period start (unix ms).
    pub start_ms: i64,
    /// Passed items in the period.
    pub n: u64,
    /// Their mean anomaly score.
    pub mean_score: f64,
    /// Share of them scoring above the reference score.
    pub share_above: f64,
    /// True when the period drifts (see [`DriftReference::drifting`]).
    pub drifting: bool,
}

/// Build the trend from `(start_ms, n, mean_score, above)` rows.
pub fn drift_points(
    reference: &DriftReference,
    rows: impl IntoIterator<Item = (i64, u64, f64, u64)>,
) -> Vec<DriftPoint> {
    rows.into_iter()
        .filter(|r| r.1 > 0)
        .map(|(start_ms, n, mean_score, above)| DriftPoint {
            start_ms,
            n,
            mean_score,
            share_above: above as f64 / n as f64,
            drifting: reference.drifting(n, above),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_known_values() {
        // Exact sums of C(n, i) p^i (1-p)^(n-i) in Python integers and floats.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 + 1e-6 * b;
        assert!(close(binomial_upper_tail(10, 2, 0.05), 0.086_138_355_9));
        assert!(close(binomial_upper_tail(85, 11, 0.05), 0.003_405_002_1));
        assert!(close(binomial_upper_tail(1000, 70, 0.05), 0.003_474_358_7));
        assert_eq!(binomial_upper_tail(50, 0, 0.05), 1.0);
        assert_eq!(binomial_upper_tail(5, 6, 0.05), 0.0);
    }

    #[test]
    fn drift_needs_enough_items_a_doubling_and_a_small_p_value() {
        let r = DriftReference::default();
        // 5 % above: in distribution.
        assert!(!r.drifting(1000, 50));
        // 12 % of 1000: 2.4x, p far below 0.001.
        assert!(r.drifting(1000, 120));
        // 11 of 85 (2.6x) has p = 0.0034: about one stable hour in 300 would cry wolf.
        assert!(!r.drifting(85, 11));
        // 15 of 85 has p below 0.001.
        assert!(r.drifting(85, 15));
        // 8 of 20 is 8x but 20 items are below the minimum count.
        assert!(!r.drifting(20, 8));
        // 8 % of a million is significant but not a doubling: no warning.
        assert!(!r.drifting(1_000_000, 80_000));
        assert!(!r.drifting(0, 0));
        let pts = drift_points(
            &r,
            [
                (0, 1000, 0.6, 40),
                (3_600_000, 1000, 0.9, 150),
                (7_200_000, 0, 0.0, 0),
            ],
        );
        assert_eq!(pts.len(), 2);
        assert!(!pts[0].drifting && pts[1].drifting);
        assert!((pts[1].share_above - 0.15).abs() < 1e-12);
    }

    #[test]
    fn a_baseline_sets_the_expected_share_from_the_line() {
        // Too few baseline items: the calibration's 5 % stands.
        let r = DriftReference::default().with_baseline(999, 90);
        assert_eq!(r.baseline, None);
        assert_eq!(r.reference_share(), 0.05);
        // A line at 8.2 %: 11 % of 300 is no drift any more (it was, against 5 %) ...
        let plain = DriftReference::default();
        assert!(plain.drifting(300, 33));
        let r = DriftReference::default().with_baseline(1000, 82);
        let ub = r.reference_share();
        // Wilson upper bound of 82/1000 at 95 % one-sided (0.0974).
        assert!((ub - 0.097_5).abs() < 5e-4, "{ub}");
        assert!(!r.drifting(300, 33));
        // ... while twice the line's own share, with a small p-value, still is.
        assert!(r.drifting(300, 62));
        // A baseline with no item above gives a small positive share, not zero.
        let zero = DriftBaseline {
            items: 1000,
            above: 0,
        };
        assert!(zero.share_upper_bound() > 0.0 && zero.share_upper_bound() < 0.005);
    }
}
