//! The grade classifier of a job: fitted on the descriptors of the measured samples when at
//! least two classes have enough labels.

use std::collections::BTreeMap;

use super::measure::Measured;
use crate::model::classifier::{
    DESCRIPTOR_FEATURES, DESCRIPTOR_SET, GradeClassifier, GradeTrainOptions,
};

/// The classes with at least [`crate::model::classifier::MIN_PER_CLASS`] labels, when there
/// are two or more of them (else no classifier is trained).
pub(super) fn classifier_classes(per_class: &BTreeMap<&str, usize>) -> Option<Vec<String>> {
    let classes: Vec<String> = per_class
        .iter()
        .filter(|(_, n)| **n >= crate::model::classifier::MIN_PER_CLASS)
        .map(|(c, _)| c.to_string())
        .collect();
    (classes.len() >= 2).then_some(classes)
}

/// Fits the classifier on the samples that have a descriptor, adding its cross-validated
/// score and class count to `metrics`. `None` (with a warning) when it cannot be fitted: a
/// classifier is a bonus, the detector is kept.
pub(super) fn train_classifier(
    samples: &[Measured],
    metrics: &mut BTreeMap<String, f64>,
) -> Option<GradeClassifier> {
    let (x, y): (Vec<Vec<f64>>, Vec<String>) = samples
        .iter()
        .filter_map(|m| Some((m.descriptor.clone()?, m.label.clone())))
        .unzip();
    match GradeClassifier::train(
        &x,
        &y,
        None,
        DESCRIPTOR_SET,
        &DESCRIPTOR_FEATURES,
        &GradeTrainOptions::default(),
        "labelled samples",
    ) {
        Ok(c) => {
            if let Some(f1) = c.card.inner_cv_score {
                metrics.insert("classifier_cv_score".into(), f1);
            }
            metrics.insert("classifier_classes".into(), c.classes().len() as f64);
            Some(c)
        }
        // A classifier is a bonus: say why there is none and keep the detector.
        Err(e) => {
            tracing::warn!("grade classifier not trained: {e}");
            None
        }
    }
}
