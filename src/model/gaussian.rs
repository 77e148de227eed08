//! A multivariate Gaussian used as a one-class model: the Mahalanobis distance of a sample
//! to the training distribution is its anomaly measure.

use serde::{Deserialize, Serialize};

/// Mean, per-feature scale and inverse of the (shrunk) correlation of standardised features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gaussian {
    /// Feature means.
    pub mean: Vec<f64>,
    /// Feature standard deviations, floored by the feature's minimum spread.
    pub scale: Vec<f64>,
    /// Inverse covariance of the standardised features, row-major `dim x dim`.
    pub inv_cov: Vec<f64>,
}

/// Why a Gaussian could not be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("{}", crate::tr!("err-model-gaussian-too-few-samples", needed = .needed.to_string(), got = .got.to_string()))]
    TooFewSamples { needed: usize, got: usize },
    #[error("{}", crate::tr!("err-model-gaussian-wrong-length", index = .index.to_string(), got = .got.to_string(), expected = .expected.to_string()))]
    WrongLength {
        index: usize,
        got: usize,
        expected: usize,
    },
    #[error("{}", crate::tr!("err-model-gaussian-not-finite", index = .index.to_string()))]
    NotFinite { index: usize },
}

/// Smallest feature scale (standard deviation) a trained model can hold: training floors
/// every scale far above this; a smaller one in a file makes every distance infinite or NaN.
pub const MIN_SANE_SCALE: f64 = 1e-12;
/// Largest feature scale a trained model can hold: a larger one makes every item look good.
pub const MAX_SANE_SCALE: f64 = 1e12;

impl Gaussian {
    /// Fit on `samples` (each of length `min_std.len()`); the covariance is shrunk toward the
    /// identity by `shrink` (0..1) so that a few dozen samples give a stable inverse.
    pub fn fit(samples: &[&[f64]], min_std: &[f64], shrink: f64) -> Result<Self, FitError> {
        let dim = min_std.len();
        if samples.len() < 3 {
            return Err(FitError::TooFewSamples {
                needed: 3,
                got: samples.len(),
            });
        }
        for (i, s) in samples.iter().enumerate() {
            if s.len() != dim {
                return Err(FitError::WrongLength {
                    index: i,
                    got: s.len(),
                    expected: dim,
                });
            }
            if let Some(j) = s.iter().position(|v| !v.is_finite()) {
                return Err(FitError::NotFinite { index: j });
            }
        }
        let n = samples.len() as f64;
        let mut mean = vec![0.0; dim];
        for s in samples {
            for (m, v) in mean.iter_mut().zip(s.iter()) {
                *m += v / n;
            }
        }
        let mut scale = vec![0.0; dim];
        for s in samples {
            for j in 0..dim {
                scale[j] += (s[j] - mean[j]).powi(2) / (n - 1.0);
            }
        }
        for j in 0..dim {
            scale[j] = scale[j].sqrt().max(min_std[j]);
        }
        let mut cov = vec![0.0; dim * dim];
        for s in samples {
            let z: Vec<f64> = (0..dim).map(|j| (s[j] - mean[j]) / scale[j]).collect();
            for a in 0..dim {
                for b in 0..=a {
                    cov[a * dim + b] += z[a] * z[b] / (n - 1.0);
                }
            }
        }
        for a in 0..dim {
            for b in 0..a {
                cov[b * dim + a] = cov[a * dim + b];
            }
        }
        let shrink = shrink.clamp(0.0, 1.0);
        for a in 0..dim {
            for b in 0..dim {
                let target = if a == b { 1.0 } else { 0.0 };
                cov[a * dim + b] = (1.0 - shrink) * cov[a * dim + b] + shrink * target;
            }
            cov[a * dim + a] += 1e-6;
        }
        let inv_cov = invert_spd(&cov, dim);
        Ok(Self {
            mean,
            scale,
            inv_cov,
        })
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Mahalanobis distance divided by sqrt(dim), so that a typical training sample is near 1
    /// whatever the number of features. `x` must have `dim()` values.
    pub fn distance(&self, x: &[f64]) -> f64 {
        let dim = self.dim();
        let mut z = [0f64; 32];
        let mut zv;
        let z: &mut [f64] = if dim <= 32 {
            &mut z[..dim]
        } else {
            zv = vec![0.0; dim];
            &mut zv
        };
        for j in 0..dim {
            z[j] = (x[j] - self.mean[j]) / self.scale[j];
        }
        let mut d2 = 0.0;
        for a in 0..dim {
            let row = &self.inv_cov[a * dim..(a + 1) * dim];
            let mut s = 0.0;
            for b in 0..dim {
                s += row[b] * z[b];
            }
            d2 += z[a] * s;
        }
        // Fail closed: a NaN or infinity (absurd model values, broken features) is the
        // farthest distance, never 0 (`NaN.max(0.0)` is 0.0 and would pass the item).
        if !d2.is_finite() {
            return f64::INFINITY;
        }
        (d2.max(0.0) / dim as f64).sqrt()
    }

    /// The first value of the stored model that no training could have produced, named as
    /// `field[index] = value: why`: non-finite numbers, scales outside
    /// [`MIN_SANE_SCALE`, `MAX_SANE_SCALE`]. `None` when all are sane.
    pub fn insane_value(&self) -> Option<String> {
        let named =
            |field: &str, i: usize, v: f64, why: &str| format!("{field}[{i}] = {v:e}: {why}");
        if let Some((i, v)) = self.mean.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Some(named("mean", i, *v, "not a finite number"));
        }
        if let Some((i, v)) = self
            .scale
            .iter()
            .enumerate()
            .find(|(_, v)| !(MIN_SANE_SCALE..=MAX_SANE_SCALE).contains(*v))
        {
            return Some(named(
                "scale",
                i,
                *v,
                &format!("outside [{MIN_SANE_SCALE:e}, {MAX_SANE_SCALE:e}]"),
            ));
        }
        if let Some((i, v)) = self
            .inv_cov
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            return Some(named("inv_cov", i, *v, "not a finite number"));
        }
        None
    }

    /// True when the stored arrays have consistent sizes (checked after loading a file).
    pub fn is_consistent(&self) -> bool {
        let d = self.dim();
        self.scale.len() == d
            && self.inv_cov.len() == d * d
            && self.scale.iter().all(|s| *s > 0.0 && s.is_finite())
            && self.inv_cov.iter().all(|v| v.is_finite())
    }
}

/// Inverse of a symmetric positive definite matrix through its Cholesky factor.
fn invert_spd(m: &[f64], n: usize) -> Vec<f64> {
    // Cholesky: m = L L^T.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = m[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                l[i * n + i] = s.max(1e-12).sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // Inverse of L (lower triangular).
    let mut li = vec![0.0; n * n];
    for i in 0..n {
        li[i * n + i] = 1.0 / l[i * n + i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * n + k] * li[k * n + j];
            }
            li[i * n + j] = s / l[i * n + i];
        }
    }
    // m^-1 = L^-T L^-1.
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let mut s = 0.0;
            for k in i.max(j)..n {
                s += li[k * n + i] * li[k * n + j];
            }
            inv[i * n + j] = s;
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_known_matrix() {
        let m = [4.0, 2.0, 2.0, 3.0];
        let inv = invert_spd(&m, 2);
        let expected = [0.375, -0.25, -0.25, 0.5];
        for (a, b) in inv.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{inv:?}");
        }
    }

    #[test]
    fn distance_grows_away_from_the_mean() {
        // Correlated 2-D data along the diagonal.
        let data: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let t = (i as f64 * 0.37).sin() * 3.0;
                let e = (i as f64 * 1.91).cos() * 0.3;
                vec![t + e, t - e]
            })
            .collect();
        let refs: Vec<&[f64]> = data.iter().map(|v| v.as_slice()).collect();
        let g = Gaussian::fit(&refs, &[1e-3, 1e-3], 0.0).unwrap();
        assert!(g.is_consistent());
        let on_axis = g.distance(&[2.0, 2.0]);
        let off_axis = g.distance(&[2.0, -2.0]);
        assert!(off_axis > 5.0 * on_axis, "{on_axis} {off_axis}");
        assert!(g.distance(&g.mean.clone()) < 1e-9);
    }

    #[test]
    fn refuses_bad_input() {
        let a = [1.0, 2.0];
        assert!(matches!(
            Gaussian::fit(&[&a[..], &a[..]], &[1.0, 1.0], 0.1),
            Err(FitError::TooFewSamples { .. })
        ));
        let bad = [1.0, f64::NAN];
        assert!(Gaussian::fit(&[&a[..], &a[..], &bad[..]], &[1.0, 1.0], 0.1).is_err());
        let short = [1.0];
        assert!(matches!(
            Gaussian::fit(&[&a[..], &a[..], &short[..]], &[1.0, 1.0], 0.1),
            Err(FitError::WrongLength { index: 2, .. })
        ));
    }
}
