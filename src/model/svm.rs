//! A C-support vector machine solver on a precomputed kernel matrix, for the grade
//! classifier.
//!
//! Why not linfa-svm's solver: it builds its own kernel matrix from the records on every fit
//! and offers no way to pass one in (its `fit_c` is private). The grade classifier's inner
//! cross-validation fits the same rows many times (every class, every `C`, every weighting,
//! every fold share one kernel), so building the kernel once and solving on it is what makes
//! training fast. The solver is the SMO of LIBSVM (Fan, Chen and Lin 2005: maximal violating
//! pair with second-order working set selection, the same stopping rule and offset), without
//! shrinking or a kernel cache because the whole matrix is in memory. A unit test checks it
//! against linfa-svm's solution.

use ndarray::{Array2, ArrayView2};

/// Squared Euclidean distances between all rows of `x`, as a row-major `n x n` matrix.
pub(crate) fn squared_distances(x: ArrayView2<'_, f64>) -> Array2<f64> {
    // |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, with the Gram matrix from one matrix product.
    let gram = x.dot(&x.t());
    let n = x.nrows();
    let mut d = gram.clone();
    for i in 0..n {
        for j in 0..n {
            // Rounding can make a tiny distance negative.
            d[[i, j]] = (gram[[i, i]] + gram[[j, j]] - 2.0 * gram[[i, j]]).max(0.0);
        }
        d[[i, i]] = 0.0;
    }
    d
}

/// Gaussian kernel `exp(-d2 / width)` of the squared distances between the rows `rows` and
/// the columns `cols` of `d2`, as a row-major `rows.len() x cols.len()` matrix.
pub(crate) fn gaussian_block(
    d2: &Array2<f64>,
    rows: &[usize],
    cols: &[usize],
    width: f64,
) -> Array2<f64> {
    let mut k = Array2::zeros((rows.len(), cols.len()));
    for (r, &i) in rows.iter().enumerate() {
        let src = d2.row(i);
        for (c, &j) in cols.iter().enumerate() {
            k[[r, c]] = (-src[j] / width).exp();
        }
    }
    k
}

/// A solved binary machine: `f(x) = sum_i coef_i k(x_i, x) - rho`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BinarySvm {
    /// Signed weight of every training row (`y_i alpha_i`; 0 for rows that are no support
    /// vector).
    pub coef: Vec<f64>,
    /// Offset.
    pub rho: f64,
    /// Unsigned dual variables, for a warm start at a larger `C`.
    pub alpha: Vec<f64>,
    /// SMO iterations used.
    pub iterations: usize,
}

impl BinarySvm {
    /// Decision values of the rows of `k` (kernel values of each new sample against every
    /// training row).
    pub fn decisions(&self, k: &Array2<f64>) -> Vec<f64> {
        k.outer_iter()
            .map(|row| {
                row.iter()
                    .zip(&self.coef)
                    .filter(|(_, a)| **a != 0.0)
                    .map(|(kv, a)| kv * a)
                    .sum::<f64>()
                    - self.rho
            })
            .collect()
    }
}

/// Curvature used when the kernel gives none (LIBSVM's `TAU`).
const TAU: f64 = 1e-12;

/// Solve the C-SVC dual `min 1/2 a'Qa - e'a` s.t. `y'a = 0`, `0 <= a_i <= C_i` with
/// `Q_ij = y_i y_j K_ij`, `C_i` = `c_pos` for positive rows and `c_neg` for negative ones.
/// Stops when the maximal KKT violation is below `eps` (LIBSVM's rule).
///
/// `warm` (unsigned dual values) starts from an earlier solution on the same rows and
/// targets, e.g. at smaller penalties; it is ignored when it lies outside these bounds.
pub(crate) fn solve_c_svc(
    k: &Array2<f64>,
    targets: &[bool],
    c_pos: f64,
    c_neg: f64,
    eps: f64,
    warm: Option<&[f64]>,
) -> BinarySvm {
    let n = targets.len();
    debug_assert_eq!(k.dim(), (n, n));
    let y: Vec<f64> = targets
        .iter()
        .map(|&t| if t { 1.0 } else { -1.0 })
        .collect();
    let bound: Vec<f64> = targets
        .iter()
        .map(|&t| if t { c_pos } else { c_neg })
        .collect();
    // A warm start outside the new box would not be feasible: start cold instead.
    let mut alpha = match warm {
        Some(a) if a.len() == n && a.iter().zip(&bound).all(|(a, c)| (0.0..=*c).contains(a)) => {
            a.to_vec()
        }
        _ => vec![0.0; n],
    };
    let diag: Vec<f64> = (0..n).map(|i| k[[i, i]]).collect();
    // Gradient of the objective: G = Q a - e.
    let mut grad = vec![-1.0; n];
    for i in 0..n {
        if alpha[i] > 0.0 {
            let (ai, yi) = (alpha[i], y[i]);
            for (t, kv) in k.row(i).iter().enumerate() {
                grad[t] += y[t] * yi * kv * ai;
            }
        }
    }
    let upper = |a: f64, c: f64| a >= c;
    let lower = |a: f64| a <= 0.0;
    let max_iter = (100 * n).max(10_000_000);
    let mut iterations = 0;
    while iterations < max_iter {
        // i: the variable that violates the KKT conditions most, upwards.
        let mut gmax = f64::NEG_INFINITY;
        let mut i = usize::MAX;
        for t in 0..n {
            let v = -y[t] * grad[t];
            let movable = if y[t] > 0.0 {
                !upper(alpha[t], bound[t])
            } else {
                !lower(alpha[t])
            };
            if movable && v >= gmax {
                gmax = v;
                i = t;
            }
        }
        if i == usize::MAX {
            break;
        }
        // j: the partner that decreases the objective most (second-order choice).
        let ki = k.row(i);
        let mut gmax2 = f64::NEG_INFINITY;
        let mut j = usize::MAX;
        let mut best = f64::INFINITY;
        for t in 0..n {
            let movable = if y[t] > 0.0 {
                !lower(alpha[t])
            } else {
                !upper(alpha[t], bound[t])
            };
            if !movable {
                continue;
            }
            let v = y[t] * grad[t];
            if v >= gmax2 {
                gmax2 = v;
            }
            let diff = gmax + v;
            if diff > 0.0 {
                let quad = diag[i] + diag[t] - 2.0 * ki[t];
                let obj = -(diff * diff) / if quad > 0.0 { quad } else { TAU };
                if obj <= best {
                    best = obj;
                    j = t;
                }
            }
        }
        if gmax + gmax2 < eps || j == usize::MAX {
            break;
        }
        iterations += 1;
        let (ci, cj) = (bound[i], bound[j]);
        let (old_i, old_j) = (alpha[i], alpha[j]);
        let quad = {
            let q = diag[i] + diag[j] - 2.0 * ki[j];
            if q > 0.0 { q } else { TAU }
        };
        // The pair moves along the equality constraint, clipped to the box (LIBSVM).
        if y[i] != y[j] {
            let delta = (-grad[i] - grad[j]) / quad;
            let diff = alpha[i] - alpha[j];
            alpha[i] += delta;
            alpha[j] += delta;
            if diff > 0.0 {
                if alpha[j] < 0.0 {
                    alpha[j] = 0.0;
                    alpha[i] = diff;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = -diff;
            }
            if diff > ci - cj {
                if alpha[i] > ci {
                    alpha[i] = ci;
                    alpha[j] = ci - diff;
                }
            } else if alpha[j] > cj {
                alpha[j] = cj;
                alpha[i] = cj + diff;
            }
        } else {
            let delta = (grad[i] - grad[j]) / quad;
            let sum = alpha[i] + alpha[j];
            alpha[i] -= delta;
            alpha[j] += delta;
            if sum > ci {
                if alpha[i] > ci {
                    alpha[i] = ci;
                    alpha[j] = sum - ci;
                }
            } else if alpha[j] < 0.0 {
                alpha[j] = 0.0;
                alpha[i] = sum;
            }
            if sum > cj {
                if alpha[j] > cj {
                    alpha[j] = cj;
                    alpha[i] = sum - cj;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = sum;
            }
        }
        let di = (alpha[i] - old_i) * y[i];
        let dj = (alpha[j] - old_j) * y[j];
        let kj = k.row(j);
        for t in 0..n {
            grad[t] += y[t] * (ki[t] * di + kj[t] * dj);
        }
    }
    // Offset: the mean over free variables, else the middle of the feasible interval.
    let (mut ub, mut lb) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut sum_free, mut n_free) = (0.0, 0usize);
    for t in 0..n {
        let yg = y[t] * grad[t];
        if upper(alpha[t], bound[t]) {
            if y[t] < 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else if lower(alpha[t]) {
            if y[t] > 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else {
            sum_free += yg;
            n_free += 1;
        }
    }
    let rho = if n_free > 0 {
        sum_free / n_free as f64
    } else {
        (ub + lb) / 2.0
    };
    BinarySvm {
        coef: alpha.iter().zip(&y).map(|(a, y)| a * y).collect(),
        rho,
        alpha,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::Dataset;
    use linfa::prelude::Fit;
    use linfa_svm::Svm;
    use ndarray::Array1;

    /// Two noisy interleaved classes in 3 dimensions.
    fn data(n: usize) -> (Array2<f64>, Vec<bool>) {
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let t = i as f64;
            (t * 0.37 + j as f64).sin() + if i % 2 == 0 { 0.6 } else { -0.6 }
        });
        let y = (0..n).map(|i| i % 2 == 0).collect();
        (x, y)
    }

    #[test]
    fn distances_match_direct_computation() {
        let (x, _) = data(12);
        let d = squared_distances(x.view());
        for i in 0..12 {
            for j in 0..12 {
                let direct: f64 = x
                    .row(i)
                    .iter()
                    .zip(x.row(j))
                    .map(|(a, b)| (a - b).powi(2))
                    .sum();
                assert!((d[[i, j]] - direct).abs() < 1e-9);
            }
        }
    }

    /// Same problem, same answer as linfa-svm's SMO (to the solvers' tolerance), with equal
    /// and unequal penalties, from a cold and a warm start.
    #[test]
    fn agrees_with_linfa_svm() {
        let (x, y) = data(60);
        let all: Vec<usize> = (0..60).collect();
        let d2 = squared_distances(x.view());
        let width = 3.0;
        let k = gaussian_block(&d2, &all, &all, width);
        let mut warm: Option<Vec<f64>> = None;
        for (c_pos, c_neg) in [(0.5, 0.5), (2.0, 6.0), (8.0, 8.0)] {
            let ours = solve_c_svc(&k, &y, c_pos, c_neg, 1e-9, None);
            let warmed = solve_c_svc(&k, &y, c_pos, c_neg, 1e-9, warm.as_deref());
            let theirs = Svm::<f64, bool>::params()
                .pos_neg_weights(c_pos, c_neg)
                .gaussian_kernel(width)
                .eps(1e-9)
                .fit(&Dataset::new(x.clone(), Array1::from(y.clone())))
                .unwrap();
            let dec = ours.decisions(&k);
            let dec_warm = warmed.decisions(&k);
            for (r, row) in x.outer_iter().enumerate() {
                let t = theirs.weighted_sum(&row) - theirs.rho;
                assert!((dec[r] - t).abs() < 1e-5, "{} vs {t}", dec[r]);
                assert!(
                    (dec_warm[r] - t).abs() < 1e-5,
                    "warm {} vs {t}",
                    dec_warm[r]
                );
            }
            for (a, t) in ours.alpha.iter().zip(&y) {
                let c = if *t { c_pos } else { c_neg };
                assert!((0.0..=c).contains(a));
            }
            let balance: f64 = ours.coef.iter().sum();
            assert!(balance.abs() < 1e-9, "y'a = {balance}");
            warm = Some(warmed.alpha);
        }
    }

    #[test]
    fn separable_data_are_classified_right() {
        let (x, y) = data(40);
        let all: Vec<usize> = (0..40).collect();
        let k = gaussian_block(&squared_distances(x.view()), &all, &all, 3.0);
        let m = solve_c_svc(&k, &y, 10.0, 10.0, 1e-3, None);
        assert!(m.iterations > 0);
        for (d, t) in m.decisions(&k).iter().zip(&y) {
            assert_eq!(*d > 0.0, *t);
        }
    }
}
