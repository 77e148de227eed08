//! Training a grade classifier: settings, the one-vs-rest machines and the search over the
//! settings by inner cross-validation.

use std::time::Instant;

use linfa::Dataset;
use linfa::prelude::Fit;
use linfa_svm::Svm;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::cv::{ClassConfusion, grouped_folds, inner_cv};
use super::{
    CLASSIFIER_FORMAT, CLASSIFIER_FORMAT_VERSION, ClassifierCard, ClassifierError, GradeClassifier,
    MIN_PER_CLASS, Machine,
};
use crate::model::svm::{BinarySvm, solve_c_svc, squared_distances};

/// How the errors on each class are weighed in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeighting {
    /// Every example counts the same (common classes dominate).
    Equal,
    /// Each class's errors are weighed by the inverse of its share, so a rare class counts
    /// as much as a common one.
    Balanced,
}

/// The measure the inner cross-validation maximises when it picks the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMetric {
    /// Mean F1 over the classes (every class matters equally).
    MacroF1,
    /// Share of examples classified right.
    Accuracy,
}

impl SelectionMetric {
    pub(super) fn score(self, cm: &ClassConfusion) -> f64 {
        match self {
            SelectionMetric::MacroF1 => cm.macro_f1(),
            SelectionMetric::Accuracy => cm.accuracy(),
        }
    }
}

/// Training settings. The defaults are meant for every product; nothing is tuned per dataset.
///
/// Every combination of `c_grid` x `width_grid` x `weightings` is a candidate; a grouped
/// inner cross-validation on the training data picks the one with the best `selection`
/// measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradeTrainOptions {
    /// Candidate penalties `C` of the SVM (larger = fits the training data more closely).
    pub c_grid: Vec<f64>,
    /// Candidate RBF kernel widths, as multiples of the number of features: the kernel is
    /// `exp(-|x - y|^2 / (width * n_features))` on standardised features, so 1.0 is the
    /// usual `gamma = 1 / n_features` and larger is smoother.
    pub width_grid: Vec<f64>,
    /// Candidate class weightings.
    pub weightings: Vec<ClassWeighting>,
    /// What the inner cross-validation maximises.
    pub selection: SelectionMetric,
    /// Folds of the inner cross-validation (grouped when groups are given). Below 2, or
    /// with a single candidate, the first candidate is used without cross-validation.
    pub inner_folds: usize,
    /// Stopping tolerance of the SMO solver.
    pub solver_eps: f64,
}

impl Default for GradeTrainOptions {
    fn default() -> Self {
        Self {
            // Factor-8 and factor-4 steps: a coarse grid, cheap enough to cross-validate,
            // spanning stiff to flexible models. Smoother settings first: ties go to them.
            c_grid: vec![1.0, 8.0, 64.0],
            width_grid: vec![16.0, 4.0, 1.0],
            weightings: vec![ClassWeighting::Balanced, ClassWeighting::Equal],
            selection: SelectionMetric::MacroF1,
            inner_folds: 3,
            solver_eps: 1e-3,
        }
    }
}

/// One combination of settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Candidate {
    pub(super) c: f64,
    pub(super) width_factor: f64,
    pub(super) weighting: ClassWeighting,
}

/// Standardise rows with the given mean and scale.
fn standardise(rows: &[&[f64]], mean: &[f64], scale: &[f64]) -> Array2<f64> {
    let d = mean.len();
    let mut x = Array2::zeros((rows.len(), d));
    for (i, r) in rows.iter().enumerate() {
        for j in 0..d {
            x[[i, j]] = (r[j] - mean[j]) / scale[j];
        }
    }
    x
}

/// Penalties `(C+, C-)` of the machine of a class with `n_pos` of the `n` training rows.
fn penalties(cand: Candidate, n: usize, n_pos: usize) -> (f64, f64) {
    let (n, n_pos) = (n as f64, n_pos as f64);
    match cand.weighting {
        ClassWeighting::Equal => (cand.c, cand.c),
        ClassWeighting::Balanced => (cand.c * n / (2.0 * n_pos), cand.c * n / (2.0 * (n - n_pos))),
    }
}

/// Solve the one-vs-rest machines on the kernel matrix `k` of the training rows; a class
/// absent from `y` (or the only one) gets `None`. Two classes need one machine only: the
/// second is its mirror image, left as `None` here. `warm` holds the solutions of the same
/// problems at a smaller `C` (same weighting), to start from.
pub(super) fn solve_machines(
    k: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    cand: Candidate,
    solver_eps: f64,
    warm: Option<&[Option<BinarySvm>]>,
) -> Vec<Option<BinarySvm>> {
    let n = y.len();
    let solved = if n_classes == 2 { 1 } else { n_classes };
    (0..n_classes)
        .map(|class| {
            let targets: Vec<bool> = y.iter().map(|&v| v == class).collect();
            let n_pos = targets.iter().filter(|&&t| t).count();
            if class >= solved || n_pos == 0 || n_pos == n {
                return None;
            }
            let (c_pos, c_neg) = penalties(cand, n, n_pos);
            let start = warm
                .and_then(|w| w.get(class))
                .and_then(Option::as_ref)
                .map(|m| m.alpha.as_slice());
            Some(solve_c_svc(k, &targets, c_pos, c_neg, solver_eps, start))
        })
        .collect()
}

/// Fit the final one-vs-rest machines on all rows of `x` (standardised) with linfa-svm's
/// SMO, keeping their support vectors; a class absent from `y` gets `None`.
///
/// The settings were chosen with the precomputed-kernel solver in [`crate::model::svm`],
/// which agrees with linfa-svm to 1e-5 (tested); the machines that are saved and run on the
/// line are linfa's own, fitted once.
pub(super) fn fit_machines(
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    cand: Candidate,
    solver_eps: f64,
) -> Result<Vec<Option<Machine>>, ClassifierError> {
    let width = cand.width_factor * x.ncols() as f64;
    let mut machines: Vec<Option<Machine>> = Vec::with_capacity(n_classes);
    for k in 0..n_classes {
        if n_classes == 2 && k == 1 {
            let mirror = machines[0].as_ref().map(Machine::mirrored);
            machines.push(mirror);
            break;
        }
        let targets: Array1<bool> = y.iter().map(|&v| v == k).collect();
        let n_pos = targets.iter().filter(|&&t| t).count();
        if n_pos == 0 || n_pos == y.len() {
            machines.push(None);
            continue;
        }
        let (c_pos, c_neg) = penalties(cand, y.len(), n_pos);
        let ds = Dataset::new(x.clone(), targets);
        let svm = Svm::<f64, bool>::params()
            .pos_neg_weights(c_pos, c_neg)
            .gaussian_kernel(width)
            .eps(solver_eps)
            .fit(&ds)
            .map_err(|e| ClassifierError::Fit(e.to_string()))?;
        // linfa keeps the rows whose weight exceeds this as support vectors, in row order.
        let keep = 100.0 * f64::EPSILON;
        let mut coef = Vec::new();
        let mut support = Vec::new();
        for (i, &a) in svm.alpha.iter().enumerate() {
            if a.abs() > keep {
                coef.push(a);
                support.push(x.row(i).to_vec());
            }
        }
        machines.push(Some(Machine {
            rho: svm.rho,
            coef,
            support,
        }));
    }
    Ok(machines)
}

/// Index of the largest value; the first one on ties.
pub(super) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &s) in v.iter().enumerate() {
        if s > v[best] {
            best = i;
        }
    }
    best
}
impl GradeClassifier {
    /// Train on `samples` (one feature vector each) labelled with class names.
    ///
    /// `groups` (optional, one id per sample) keeps near-duplicates together in the inner
    /// cross-validation that picks the settings; without it every sample is its own group.
    /// Classes are sorted by name. `feature_set` and `feature_names` describe the vectors
    /// and are written to the model file.
    ///
    /// # Errors
    /// [`ClassifierError`] when the data are inconsistent (lengths, non-finite values), there
    /// are fewer than two classes or fewer than [`MIN_PER_CLASS`] examples of a class, the
    /// options hold no valid candidate, or the solver fails.
    pub fn train(
        samples: &[Vec<f64>],
        labels: &[String],
        groups: Option<&[u64]>,
        feature_set: &str,
        feature_names: &[&str],
        opts: &GradeTrainOptions,
        trained_on: &str,
    ) -> Result<Self, ClassifierError> {
        let started = Instant::now();
        let d = feature_names.len();
        check_training_data(samples, labels, groups, d)?;
        let ClassIndex { classes, y, counts } = class_indexes(labels)?;
        // Standardisation from the training data only.
        let (mean, scale) = standardisation(samples, d);
        let rows: Vec<&[f64]> = samples.iter().map(Vec::as_slice).collect();
        let x = standardise(&rows, &mean, &scale);
        let candidates = candidates(opts)?;
        let (best, inner_cv_score) = if candidates.len() > 1 && opts.inner_folds >= 2 {
            let own: Vec<u64> = (0..samples.len() as u64).collect();
            let g = groups.unwrap_or(&own);
            let folds = grouped_folds(g, &y, opts.inner_folds);
            // Every fit of the search (all candidates, folds and classes) reads its kernel
            // from these distances.
            let d2 = squared_distances(x.view());
            let scores = inner_cv(&d2, &y, &classes, &folds, &candidates, x.ncols(), opts);
            // First best in grid order: the grid lists smoother models first.
            let best = argmax(&scores);
            (candidates[best], Some(scores[best]))
        } else {
            (candidates[0], None)
        };
        let machines = fit_machines(&x, &y, classes.len(), best, opts.solver_eps)?
            .into_iter()
            .collect::<Option<Vec<Machine>>>()
            .ok_or_else(|| ClassifierError::Fit("a class got no machine".into()))?;
        Ok(Self {
            format: CLASSIFIER_FORMAT.to_string(),
            format_version: CLASSIFIER_FORMAT_VERSION,
            feature_set: feature_set.to_string(),
            feature_names: feature_names.iter().map(|s| s.to_string()).collect(),
            classes,
            mean,
            scale,
            c: best.c,
            weighting: best.weighting,
            kernel_width: best.width_factor * d as f64,
            machines,
            card: ClassifierCard {
                trained_on: trained_on.to_string(),
                created_at: jiff::Timestamp::now().to_string(),
                samples_per_class: counts,
                selection: inner_cv_score.map(|_| opts.selection),
                inner_cv_score,
                training_seconds: started.elapsed().as_secs_f64(),
            },
        })
    }
}

/// Lengths agree, every sample has `d` finite values.
fn check_training_data(
    samples: &[Vec<f64>],
    labels: &[String],
    groups: Option<&[u64]>,
    d: usize,
) -> Result<(), ClassifierError> {
    if samples.len() != labels.len() {
        return Err(ClassifierError::Data(format!(
            "{} samples but {} labels",
            samples.len(),
            labels.len()
        )));
    }
    if let Some(g) = groups
        && g.len() != samples.len()
    {
        return Err(ClassifierError::Data(format!(
            "{} samples but {} group ids",
            samples.len(),
            g.len()
        )));
    }
    if d == 0 {
        return Err(ClassifierError::Data("no features".into()));
    }
    for (i, s) in samples.iter().enumerate() {
        if s.len() != d {
            return Err(ClassifierError::Data(format!(
                "sample {i} has {} values, expected {d}",
                s.len()
            )));
        }
        if s.iter().any(|v| !v.is_finite()) {
            return Err(ClassifierError::Data(format!(
                "sample {i} has a non-finite value"
            )));
        }
    }
    Ok(())
}

/// The classes of a training set.
struct ClassIndex {
    /// Class names, sorted.
    classes: Vec<String>,
    /// Class index of each sample.
    y: Vec<usize>,
    /// Examples per class.
    counts: Vec<usize>,
}

/// The classes sorted by name, the class index of each label and the examples per class;
/// refuses fewer than two classes or fewer than [`MIN_PER_CLASS`] examples of one.
fn class_indexes(labels: &[String]) -> Result<ClassIndex, ClassifierError> {
    let mut classes: Vec<String> = labels.to_vec();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(ClassifierError::OneClass(classes.len()));
    }
    let y: Vec<usize> = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or(0))
        .collect();
    let counts: Vec<usize> = (0..classes.len())
        .map(|k| y.iter().filter(|&&v| v == k).count())
        .collect();
    for (k, &n) in counts.iter().enumerate() {
        if n < MIN_PER_CLASS {
            return Err(ClassifierError::TooFew {
                class: classes[k].clone(),
                got: n,
                needed: MIN_PER_CLASS,
            });
        }
    }
    Ok(ClassIndex { classes, y, counts })
}

/// Mean and standard deviation of each of the `d` features (1 for a constant feature).
fn standardisation(samples: &[Vec<f64>], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = samples.len() as f64;
    let mean: Vec<f64> = (0..d)
        .map(|j| samples.iter().map(|s| s[j]).sum::<f64>() / n)
        .collect();
    let scale: Vec<f64> = (0..d)
        .map(|j| {
            let var = samples
                .iter()
                .map(|s| (s[j] - mean[j]).powi(2))
                .sum::<f64>()
                / n;
            let sd = var.sqrt();
            // A constant feature carries no information; keep it at 0 instead of
            // dividing by (almost) zero.
            if sd > 1e-12 { sd } else { 1.0 }
        })
        .collect();
    (mean, scale)
}

/// Every valid combination of the options' grids, in grid order.
fn candidates(opts: &GradeTrainOptions) -> Result<Vec<Candidate>, ClassifierError> {
    let mut candidates = Vec::new();
    for &c in &opts.c_grid {
        for &width_factor in &opts.width_grid {
            for &weighting in &opts.weightings {
                if c > 0.0 && c.is_finite() && width_factor > 0.0 && width_factor.is_finite() {
                    candidates.push(Candidate {
                        c,
                        width_factor,
                        weighting,
                    });
                }
            }
        }
    }
    if candidates.is_empty() {
        return Err(ClassifierError::Data(
            "the options hold no candidate (positive C, positive width, a weighting)".into(),
        ));
    }
    Ok(candidates)
}
