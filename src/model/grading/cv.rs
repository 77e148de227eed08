//! The grouped cross-validation of one classification problem over one or more descriptor
//! tiers, with the tier kept per fold by the inner cross-validation (never by the test fold).

use std::collections::BTreeSet;
use std::time::Instant;

use super::report::ProblemReport;
use super::{GRADE_CLASSES, GradingError, LabelledImage};
use crate::model::classifier::{
    ClassConfusion, ClassWeighting, GradeClassifier, GradeTrainOptions,
};
use crate::model::tier::{Tier, pick_tier};

/// The images described one way: one row per image, in image order.
pub struct DescriptorSet {
    /// Which tier made them.
    pub tier: Tier,
    /// Identifier of the descriptor definitions, written to classifier files.
    pub name: String,
    /// One name per value.
    pub feature_names: Vec<String>,
    /// One descriptor per image.
    pub rows: Vec<Vec<f64>>,
    /// Share of the images in which an item was found (else the whole image was used).
    pub item_found_share: f64,
    /// Seconds spent loading and describing the images.
    pub seconds: f64,
}

/// One classification problem on fixed outer folds.
pub(super) struct Problem<'a> {
    pub images: &'a [LabelledImage],
    pub folds: &'a [usize],
    pub k: usize,
    /// The images that take part.
    pub subset: &'a [usize],
    pub train: &'a GradeTrainOptions,
    pub name: &'static str,
}

/// What [`cross_validate`] found: one report per descriptor set, and the kept one (with one
/// set, the same; with several, per fold the set whose inner cross-validation scored best).
pub(super) struct Validated {
    pub per_tier: Vec<ProblemReport>,
    pub kept: ProblemReport,
}

/// Train on all folds but one, predict the one left out, for every fold and descriptor set.
/// Folds run one after another: each training already uses all cores for its inner
/// cross-validation.
pub(super) fn cross_validate(
    p: &Problem,
    sets: &[DescriptorSet],
) -> Result<Validated, GradingError> {
    let present: BTreeSet<&str> = p.subset.iter().map(|&i| p.images[i].class).collect();
    let classes: Vec<String> = GRADE_CLASSES
        .iter()
        .filter(|c| present.contains(*c))
        .map(|c| c.to_string())
        .collect();
    let mut per_cm = vec![ClassConfusion::new(&classes); sets.len()];
    let mut per_chosen = vec![Vec::new(); sets.len()];
    let mut per_seconds = vec![0.0; sets.len()];
    let mut kept_cm = ClassConfusion::new(&classes);
    let mut kept_chosen = Vec::new();
    for f in 0..p.k {
        let (train, test): (Vec<usize>, Vec<usize>) =
            p.subset.iter().copied().partition(|&i| p.folds[i] != f);
        if test.is_empty() {
            continue;
        }
        let mut fold_models = Vec::with_capacity(sets.len());
        for (s, set) in sets.iter().enumerate() {
            let started = Instant::now();
            let model = train_fold(p, set, &train, f)?;
            per_seconds[s] += started.elapsed().as_secs_f64();
            per_chosen[s].push(settings(&model, set.feature_names.len()));
            fold_models.push(model);
        }
        let scores: Vec<(Tier, f64)> = sets
            .iter()
            .zip(&fold_models)
            .map(|(set, m)| (set.tier, m.card.inner_cv_score.unwrap_or(f64::NAN)))
            .collect();
        let keep_tier = pick_tier(&scores).unwrap_or(Tier::Classical);
        let keep = sets.iter().position(|s| s.tier == keep_tier).unwrap_or(0);
        kept_chosen.push(format!(
            "{keep_tier} {}",
            per_chosen[keep][per_chosen[keep].len() - 1]
        ));
        for &i in &test {
            let truth = index_of(&classes, p.images[i].class, "class")?;
            for (s, (set, model)) in sets.iter().zip(&fold_models).enumerate() {
                let pred =
                    model
                        .predict(&set.rows[i])
                        .map_err(|source| GradingError::Classifier {
                            problem: p.name,
                            step: format!("predicting fold {} with the {} tier", f + 1, set.tier),
                            source,
                        })?;
                let pred = index_of(&classes, &pred.class, "predicted class")?;
                per_cm[s].add(truth, pred);
                if s == keep {
                    kept_cm.add(truth, pred);
                }
            }
        }
    }
    let per_tier: Vec<ProblemReport> = per_cm
        .iter()
        .zip(per_chosen)
        .zip(&per_seconds)
        .map(|((cm, chosen), secs)| ProblemReport::from_confusion(cm, chosen, *secs))
        .collect();
    let kept = if sets.len() == 1 {
        per_tier[0].clone()
    } else {
        ProblemReport::from_confusion(&kept_cm, kept_chosen, per_seconds.iter().sum())
    };
    Ok(Validated { per_tier, kept })
}

/// The classifier of one descriptor set trained on the folds other than `f`.
fn train_fold(
    p: &Problem,
    set: &DescriptorSet,
    train: &[usize],
    f: usize,
) -> Result<GradeClassifier, GradingError> {
    let x: Vec<Vec<f64>> = train.iter().map(|&i| set.rows[i].clone()).collect();
    let y: Vec<String> = train
        .iter()
        .map(|&i| p.images[i].class.to_string())
        .collect();
    let g: Vec<u64> = train.iter().map(|&i| p.images[i].group).collect();
    let names: Vec<&str> = set.feature_names.iter().map(String::as_str).collect();
    GradeClassifier::train(
        &x,
        &y,
        Some(&g),
        &set.name,
        &names,
        p.train,
        &format!("fold {} of {}", f + 1, p.k),
    )
    .map_err(|source| GradingError::Classifier {
        problem: p.name,
        step: format!(
            "training the {} tier on the folds other than fold {}",
            set.tier,
            f + 1
        ),
        source,
    })
}

/// The settings the inner cross-validation chose, in words.
fn settings(model: &GradeClassifier, n_features: usize) -> String {
    format!(
        "C={} w={} {}",
        model.c,
        model.kernel_width / n_features.max(1) as f64,
        match model.weighting {
            ClassWeighting::Balanced => "balanced",
            ClassWeighting::Equal => "equal",
        }
    )
}

fn index_of(classes: &[String], class: &str, what: &str) -> Result<usize, GradingError> {
    classes.iter().position(|c| c == class).ok_or_else(|| {
        GradingError::Inconsistent(format!("{what} `{class}` missing from the class list"))
    })
}
