//! Supervised grading: a generic descriptor of the main item of an image, and a classifier
//! that learns grade or defect-type classes (any names: `good` / `medium` / `rotten`,
//! `whole` / `broken` / `burnt`, ...) from labelled examples.
//!
//! The classifier is a one-vs-rest RBF support vector machine on standardised features. The
//! kernel width, the penalty `C` and the class weighting are chosen by a grouped inner
//! cross-validation on the training data only, so near-duplicate photos cannot flatter the
//! choice; that search runs on one precomputed kernel matrix with the solver of
//! [`super::svm`], and the final machines are fitted once with linfa-svm. The saved model holds only plain numbers (standardisation,
//! support vectors and their weights), so a file does not depend on a solver's internals.

mod bundled;
mod cv;
mod descriptor;
mod descriptor_item;
mod error;
mod file;
#[cfg(test)]
pub(crate) mod synthetic;
#[cfg(test)]
mod tests;
mod train;

use serde::{Deserialize, Serialize};

use train::argmax;

pub use bundled::BUNDLED_CLASSIFIER_JSON;
pub use cv::{ClassConfusion, grouped_folds};
pub use descriptor::{
    DESCRIBE_MAX_SIDE, DESCRIPTOR_FEATURES, DESCRIPTOR_SET, KnownItems, describe_image,
    describe_image_known,
};
pub use error::ClassifierError;
pub use train::{ClassWeighting, GradeTrainOptions, SelectionMetric};

/// Value of the `format` field of every grade classifier file.
pub const CLASSIFIER_FORMAT: &str = "foodqc-grade-classifier";
/// Version of the classifier file layout this build reads and writes.
pub const CLASSIFIER_FORMAT_VERSION: u32 = 1;
/// Fewest training examples of each class.
pub const MIN_PER_CLASS: usize = 3;
/// One binary machine (this class against all others): `f(x) = sum_i coef_i k(sv_i, x) - rho`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Offset of the decision function.
    pub rho: f64,
    /// Signed weight of each support vector.
    pub coef: Vec<f64>,
    /// Support vectors, standardised.
    pub support: Vec<Vec<f64>>,
}

impl Machine {
    fn decision(&self, x: &[f64], width: f64) -> f64 {
        let s: f64 = self
            .coef
            .iter()
            .zip(&self.support)
            .map(|(a, sv)| {
                let d2: f64 = sv.iter().zip(x).map(|(p, q)| (p - q) * (p - q)).sum();
                a * (-d2 / width).exp()
            })
            .sum();
        s - self.rho
    }

    /// The machine of the other class of a two-class problem.
    pub(super) fn mirrored(&self) -> Machine {
        Machine {
            rho: -self.rho,
            coef: self.coef.iter().map(|a| -a).collect(),
            support: self.support.clone(),
        }
    }
}

/// What a classifier was trained on: the model card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifierCard {
    /// Description of the training data.
    pub trained_on: String,
    /// When it was trained (RFC 3339).
    pub created_at: String,
    /// Training examples per class, in class order.
    pub samples_per_class: Vec<usize>,
    /// Measure the inner cross-validation maximised.
    pub selection: Option<SelectionMetric>,
    /// Its value for the chosen settings, when an inner cross-validation ran.
    pub inner_cv_score: Option<f64>,
    /// Seconds spent training, including the inner cross-validation.
    pub training_seconds: f64,
}

/// A trained grade classifier, as saved to and loaded from a file (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeClassifier {
    /// Always [`CLASSIFIER_FORMAT`].
    pub format: String,
    /// Layout version, [`CLASSIFIER_FORMAT_VERSION`] for files this build writes.
    pub format_version: u32,
    /// Identifier of the feature definitions (e.g. [`DESCRIPTOR_SET`]).
    pub feature_set: String,
    /// Feature names, in vector order.
    pub feature_names: Vec<String>,
    /// Class names; scores and indexes follow this order.
    pub classes: Vec<String>,
    /// Training mean of each feature.
    pub mean: Vec<f64>,
    /// Training standard deviation of each feature (1 for constant features).
    pub scale: Vec<f64>,
    /// Chosen SVM penalty.
    pub c: f64,
    /// Chosen class weighting.
    pub weighting: ClassWeighting,
    /// Kernel denominator: `k(x, y) = exp(-|x - y|^2 / kernel_width)`.
    pub kernel_width: f64,
    /// One machine per class, in class order.
    pub machines: Vec<Machine>,
    /// Model card.
    pub card: ClassifierCard,
}

/// The classifier's answer for one sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// Index of the predicted class in [`GradeClassifier::classes`].
    pub index: usize,
    /// Name of the predicted class.
    pub class: String,
    /// One score per class (softmax of the one-vs-rest margins): they sum to 1 and rank the
    /// classes, but are not calibrated probabilities.
    pub scores: Vec<f64>,
}
impl GradeClassifier {
    /// Classify one feature vector.
    ///
    /// # Errors
    /// [`ClassifierError::Dimension`] when the vector length differs from the training data.
    pub fn predict(&self, features: &[f64]) -> Result<Prediction, ClassifierError> {
        if features.len() != self.mean.len() {
            return Err(ClassifierError::Dimension {
                got: features.len(),
                expected: self.mean.len(),
            });
        }
        let x: Vec<f64> = features
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            // A non-finite input value counts as the training mean.
            .map(|(v, (m, s))| if v.is_finite() { (v - m) / s } else { 0.0 })
            .collect();
        let margins: Vec<f64> = self
            .machines
            .iter()
            .map(|m| m.decision(&x, self.kernel_width))
            .collect();
        let index = argmax(&margins);
        let top = margins[index];
        let exp: Vec<f64> = margins.iter().map(|m| (m - top).exp()).collect();
        let sum: f64 = exp.iter().sum();
        Ok(Prediction {
            index,
            class: self.classes[index].clone(),
            scores: exp.iter().map(|e| e / sum).collect(),
        })
    }

    /// Class names, in score order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}
