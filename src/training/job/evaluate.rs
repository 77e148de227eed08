//! Measuring a new model: cross-validation over the good samples, every defect scored by the
//! final model, and the metrics stored with the version.

use std::collections::BTreeMap;

use super::measure::{Measured, sample_score};
use super::progress::Reporter;
use super::{EVAL_FOLDS, Stage, TrainJobError, cancel_or};
use crate::model::anomaly::MIN_TRAIN_ITEMS;
use crate::model::metrics::auroc;
use crate::model::{AnomalyModel, TrainOptions};
use crate::vision::features::ItemFeatures;
use crate::vision::segment::SegmentConfig;

/// Out-of-fold `(score, rejected)` of the good samples: each fold's model scores its held-out
/// good samples. Empty when there are too few good samples for two folds.
pub(super) fn cross_validate(
    good: &[&Measured],
    seg: &SegmentConfig,
    options: &TrainOptions,
    rep: &Reporter<'_>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<(f64, bool)>, TrainJobError> {
    let folds = EVAL_FOLDS.min(good.len() / MIN_TRAIN_ITEMS).max(1);
    let mut oof_good: Vec<(f64, bool)> = Vec::new();
    if folds < 2 {
        return Ok(oof_good);
    }
    rep.stage(Stage::Evaluating, folds);
    for fold in 0..folds {
        if cancelled() {
            return Err(TrainJobError::Cancelled);
        }
        let fit: Vec<ItemFeatures> = good
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .flat_map(|(_, m)| m.items.iter().cloned())
            .collect();
        let model = AnomalyModel::train(&fit, seg.clone(), options, "fold", cancelled)
            .map_err(cancel_or)?;
        for m in good.iter().skip(fold).step_by(folds) {
            let s = sample_score(&model, m);
            oof_good.push((s, s > model.thresholds.reject));
        }
        rep.report(Stage::Evaluating, fold + 1, folds);
    }
    Ok(oof_good)
}

/// The metrics of the final `model`: sample counts, its threshold, the cross-validated false
/// rejects of good samples (`oof_good`), the defects it rejects (`defect_scores`) and the
/// AUROC of both together.
pub(super) fn version_metrics(
    model: &AnomalyModel,
    good: usize,
    oof_good: &[(f64, bool)],
    defect_scores: &[f64],
) -> BTreeMap<String, f64> {
    let mut metrics = BTreeMap::new();
    metrics.insert("good_samples".into(), good as f64);
    metrics.insert("defect_samples".into(), defect_scores.len() as f64);
    metrics.insert("threshold".into(), model.thresholds.reject);
    if !oof_good.is_empty() {
        let fr = oof_good.iter().filter(|(_, r)| *r).count();
        metrics.insert(
            "cv_false_reject_rate".into(),
            fr as f64 / oof_good.len() as f64,
        );
        metrics.insert("cv_good_rejected".into(), fr as f64);
        metrics.insert("cv_good_passed".into(), (oof_good.len() - fr) as f64);
    }
    if !defect_scores.is_empty() {
        let caught = defect_scores
            .iter()
            .filter(|s| **s > model.thresholds.reject)
            .count();
        metrics.insert("defects_rejected".into(), caught as f64);
        metrics.insert(
            "defects_passed".into(),
            (defect_scores.len() - caught) as f64,
        );
        metrics.insert("recall".into(), caught as f64 / defect_scores.len() as f64);
        if !oof_good.is_empty() {
            let mut scores: Vec<f64> = oof_good.iter().map(|(s, _)| *s).collect();
            let mut positive = vec![false; scores.len()];
            scores.extend(defect_scores);
            positive.resize(scores.len(), true);
            if let Some(a) = auroc(&scores, &positive) {
                metrics.insert("cv_auroc".into(), a);
            }
        }
    }
    metrics
}
