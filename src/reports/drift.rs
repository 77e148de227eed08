//! Drift of the anomaly score: is good product still scoring like the good items the model was
//! trained on?
//!
//! A model's scores are calibrated on held-out good items so that a score of 1.0 is their 95th
//! percentile (see [`crate::model::anomaly::Calibration`]). So among items the model passes,
//! about 5 % should score above 1.0 (a little less, since good items above the reject
//! threshold are rejected). When lighting, the camera or the product changes, the whole score
//! distribution moves up and that share grows long before the reject rate does. Each period's
//! share is compared with the expected one; a period drifts when its share is both clearly
//! larger (at least `warn_ratio` times) and significantly so (3 sigma of a binomial).

use serde::Serialize;

/// What good product looked like to the model at training time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReference {
    /// Score at the training distribution's reference quantile (1.0 by calibration).
    pub score_quantile: f64,
    /// Share of good items expected above it (0.05: the 95th percentile).
    pub expected_share: f64,
    /// A period drifts when its share is at least this many times the expected one.
    pub warn_ratio: f64,
}

impl Default for DriftReference {
    fn default() -> Self {
        Self {
            score_quantile: 1.0,
            expected_share: 0.05,
            warn_ratio: 2.0,
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

    /// Is a period with `n` passed items, `above` of them over the reference score, drifting?
    pub fn drifting(&self, n: u64, above: u64) -> bool {
        if n == 0 {
            return false;
        }
        let p0 = self.expected_share;
        let share = above as f64 / n as f64;
        let sigma = (p0 * (1.0 - p0) / n as f64).sqrt();
        share >= self.warn_ratio * p0 && share > p0 + 3.0 * sigma
    }
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
    fn drift_needs_a_large_and_significant_share() {
        let r = DriftReference::default();
        // 5 % above: in distribution.
        assert!(!r.drifting(1000, 50));
        // 12 % of 1000: 2.4x and far beyond 3 sigma (0.05 + 3 * 0.00689 = 0.0707).
        assert!(r.drifting(1000, 120));
        // 2 of 10 is 4x, but 3 sigma at n = 10 is 0.05 + 0.2068: not significant.
        assert!(!r.drifting(10, 2));
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
}
