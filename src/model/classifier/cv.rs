//! Measuring a classifier: the multi-class confusion matrix, grouped folds and the inner
//! cross-validation that picks the training settings.

use std::collections::BTreeMap;

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::train::{Candidate, ClassWeighting, GradeTrainOptions, argmax, solve_machines};
use crate::model::svm::{BinarySvm, gaussian_block};

/// Counts of predicted against true classes for any number of classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassConfusion {
    /// Class names; indexes below refer to this order.
    pub classes: Vec<String>,
    /// `counts[truth][predicted]`.
    pub counts: Vec<Vec<u64>>,
}

impl ClassConfusion {
    /// An empty matrix over `classes`.
    pub fn new(classes: &[String]) -> Self {
        Self {
            classes: classes.to_vec(),
            counts: vec![vec![0; classes.len()]; classes.len()],
        }
    }

    /// Count one decision (class indexes).
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Number of decisions counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Items of class `k` (row sum).
    pub fn support(&self, k: usize) -> u64 {
        self.counts[k].iter().sum()
    }

    /// Share of the items predicted as `k` that are `k`; 0 when nothing was predicted `k`.
    pub fn precision(&self, k: usize) -> f64 {
        let predicted: u64 = self.counts.iter().map(|row| row[k]).sum();
        ratio(self.counts[k][k], predicted)
    }

    /// Share of the items of class `k` predicted as `k`; 0 when there are none.
    pub fn recall(&self, k: usize) -> f64 {
        ratio(self.counts[k][k], self.support(k))
    }

    /// Harmonic mean of precision and recall of class `k`; 0 when both are 0.
    pub fn f1(&self, k: usize) -> f64 {
        let (p, r) = (self.precision(k), self.recall(k));
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }

    /// Unweighted mean of the per-class F1 over the classes that have items.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<usize> = (0..self.classes.len())
            .filter(|&k| self.support(k) > 0)
            .collect();
        if present.is_empty() {
            return 0.0;
        }
        present.iter().map(|&k| self.f1(k)).sum::<f64>() / present.len() as f64
    }

    /// Share of all decisions that are right; 0 when empty.
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.classes.len()).map(|k| self.counts[k][k]).sum();
        ratio(right, self.total())
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Assign samples to `k` folds so that all samples of a group share a fold and the class
/// proportions of the folds stay as even as possible (greedy, largest groups first, like a
/// stratified group K-fold). Deterministic: no random numbers; ties go to the smallest fold,
/// then the lowest fold number. Returns the fold of each sample.
pub fn grouped_folds(groups: &[u64], classes: &[usize], k: usize) -> Vec<usize> {
    let k = k.max(1);
    let n_classes = classes.iter().copied().max().map_or(0, |m| m + 1);
    let mut per_group: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (&g, &c) in groups.iter().zip(classes) {
        per_group.entry(g).or_insert_with(|| vec![0; n_classes])[c] += 1;
    }
    let mut order: Vec<(u64, Vec<u64>)> = per_group.into_iter().collect();
    order.sort_by(|a, b| {
        let (sa, sb): (u64, u64) = (a.1.iter().sum(), b.1.iter().sum());
        sb.cmp(&sa).then(a.0.cmp(&b.0))
    });
    let totals: Vec<f64> = (0..n_classes)
        .map(|c| classes.iter().filter(|&&x| x == c).count().max(1) as f64)
        .collect();
    let mut fold_counts = vec![vec![0u64; n_classes]; k];
    let mut fold_of_group = BTreeMap::new();
    for (g, counts) in &order {
        let mut best: Option<(f64, u64, usize)> = None;
        for f in 0..k {
            // Spread of the class shares over the folds if the group went to fold f.
            let mut cost = 0.0;
            for c in 0..n_classes {
                let shares: Vec<f64> = (0..k)
                    .map(|j| {
                        let add = if j == f { counts[c] } else { 0 };
                        (fold_counts[j][c] + add) as f64 / totals[c]
                    })
                    .collect();
                let mean = shares.iter().sum::<f64>() / k as f64;
                cost += shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>();
            }
            let size: u64 = fold_counts[f].iter().sum();
            let better = match best {
                None => true,
                Some((bc, bs, _)) => cost < bc - 1e-12 || ((cost - bc).abs() <= 1e-12 && size < bs),
            };
            if better {
                best = Some((cost, size, f));
            }
        }
        let f = best.map_or(0, |b| b.2);
        for c in 0..n_classes {
            fold_counts[f][c] += counts[c];
        }
        fold_of_group.insert(*g, f);
    }
    groups
        .iter()
        .map(|g| fold_of_group.get(g).copied().unwrap_or(0))
        .collect()
}

/// Score of each candidate over the inner folds (pooled held-out predictions), from the
/// squared distances `d2` between the standardised rows (`n_features` columns).
///
/// One job per kernel width and fold builds that fold's kernel matrices once; all classes,
/// penalties and weightings of that width are solved on them, each penalty warm-started from
/// the solution at the next smaller one.
pub(super) fn inner_cv(
    d2: &Array2<f64>,
    y: &[usize],
    classes: &[String],
    folds: &[usize],
    candidates: &[Candidate],
    n_features: usize,
    opts: &GradeTrainOptions,
) -> Vec<f64> {
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    let mut widths: Vec<f64> = Vec::new();
    for c in candidates {
        if !widths.contains(&c.width_factor) {
            widths.push(c.width_factor);
        }
    }
    let jobs: Vec<(f64, usize)> = widths
        .iter()
        .flat_map(|&w| (0..k).map(move |f| (w, f)))
        .collect();
    // Each job: (candidate, truth, predicted) on one held-out fold for one kernel width.
    let results: Vec<Vec<(usize, usize, usize)>> = jobs
        .par_iter()
        .map(|&(width_factor, f)| {
            let train: Vec<usize> = (0..y.len()).filter(|&i| folds[i] != f).collect();
            let test: Vec<usize> = (0..y.len()).filter(|&i| folds[i] == f).collect();
            if train.is_empty() || test.is_empty() {
                return Vec::new();
            }
            let width = width_factor * n_features as f64;
            let k_train = gaussian_block(d2, &train, &train, width);
            let k_test = gaussian_block(d2, &test, &train, width);
            let yt: Vec<usize> = train.iter().map(|&i| y[i]).collect();
            // This width's candidates, per weighting by increasing C (for warm starts).
            let mut mine: Vec<usize> = (0..candidates.len())
                .filter(|&ci| candidates[ci].width_factor == width_factor)
                .collect();
            mine.sort_by(|&a, &b| {
                let (ca, cb) = (candidates[a], candidates[b]);
                let key = |w: ClassWeighting| w == ClassWeighting::Equal;
                key(ca.weighting)
                    .cmp(&key(cb.weighting))
                    .then(ca.c.total_cmp(&cb.c))
            });
            let mut out = Vec::new();
            let mut previous: Option<(ClassWeighting, Vec<Option<BinarySvm>>)> = None;
            for ci in mine {
                let cand = candidates[ci];
                let warm = previous
                    .as_ref()
                    .filter(|(w, _)| *w == cand.weighting)
                    .map(|(_, m)| m.as_slice());
                let machines =
                    solve_machines(&k_train, &yt, classes.len(), cand, opts.solver_eps, warm);
                let decisions: Vec<Option<Vec<f64>>> = machines
                    .iter()
                    .map(|m| m.as_ref().map(|m| m.decisions(&k_test)))
                    .collect();
                for (r, &i) in test.iter().enumerate() {
                    let margins: Vec<f64> = if classes.len() == 2 {
                        // The second machine is the mirror image of the first.
                        let m = decisions[0].as_ref().map_or(f64::NEG_INFINITY, |d| d[r]);
                        vec![m, -m]
                    } else {
                        decisions
                            .iter()
                            .map(|d| d.as_ref().map_or(f64::NEG_INFINITY, |d| d[r]))
                            .collect()
                    };
                    out.push((ci, y[i], argmax(&margins)));
                }
                previous = Some((cand.weighting, machines));
            }
            out
        })
        .collect();
    let mut confusions = vec![ClassConfusion::new(classes); candidates.len()];
    for (ci, t, p) in results.into_iter().flatten() {
        confusions[ci].add(t, p);
    }
    confusions
        .iter()
        .map(|cm| opts.selection.score(cm))
        .collect()
}
