//! The models that judge an item together: the anomaly model scores it and draws its heat
//! map; the optional defect classifier names the class of the items the score makes
//! suspicious, so per-class thresholds can decide them.

use std::sync::{Arc, OnceLock};

use super::AnomalyModel;
use super::classifier::GradeClassifier;

/// An anomaly model and the defect classifier that goes with it (if any).
#[derive(Clone, Debug)]
pub struct InspectionModel {
    /// Scores items against good product; its thresholds decide the verdicts.
    pub anomaly: Arc<AnomalyModel>,
    /// Names the defect class of suspicious items (`None`: no classes are named).
    pub classifier: Option<Arc<GradeClassifier>>,
}

impl InspectionModel {
    /// An anomaly model with the given classifier.
    pub fn new(anomaly: Arc<AnomalyModel>, classifier: Option<Arc<GradeClassifier>>) -> Self {
        Self {
            anomaly,
            classifier,
        }
    }

    /// An anomaly model with its own classifier when it is known without a file: the bundled
    /// classifier for the bundled model (same version), none for any other. A trained
    /// model's classifier lies beside its file and is attached by whoever loads the file
    /// (`training::job::classifier_beside`).
    pub fn paired(anomaly: Arc<AnomalyModel>) -> Self {
        let classifier = bundled_classifier_for(&anomaly.version);
        Self::new(anomaly, classifier)
    }

    /// The bundled anomaly model with the bundled defect classifier.
    ///
    /// # Errors
    /// When the bundled anomaly model cannot be read (a build defect). A bundled classifier
    /// that cannot be read is logged and left out: the line runs without defect classes.
    pub fn bundled() -> Result<Self, super::ModelError> {
        Ok(Self::paired(Arc::new(AnomalyModel::bundled()?)))
    }

    /// The classifier's class names, when there is a classifier.
    pub fn classes(&self) -> Option<&[String]> {
        self.classifier.as_deref().map(GradeClassifier::classes)
    }
}

impl From<Arc<AnomalyModel>> for InspectionModel {
    /// [`InspectionModel::paired`].
    fn from(anomaly: Arc<AnomalyModel>) -> Self {
        Self::paired(anomaly)
    }
}

impl From<AnomalyModel> for InspectionModel {
    /// [`InspectionModel::paired`].
    fn from(anomaly: AnomalyModel) -> Self {
        Self::paired(Arc::new(anomaly))
    }
}

/// The bundled classifier when `version` is the bundled anomaly model's; read once.
pub fn bundled_classifier_for(version: &str) -> Option<Arc<GradeClassifier>> {
    static BUNDLED: OnceLock<Option<(String, Arc<GradeClassifier>)>> = OnceLock::new();
    let bundled = BUNDLED.get_or_init(|| {
        let model = AnomalyModel::bundled()
            .map_err(|e| tracing::error!("the bundled model cannot be read: {e}"))
            .ok()?;
        let classifier = GradeClassifier::bundled()
            .map_err(|e| tracing::error!("the bundled defect classifier cannot be used: {e}"))
            .ok()?;
        Some((model.version, Arc::new(classifier)))
    });
    bundled
        .as_ref()
        .filter(|(v, _)| v == version)
        .map(|(_, c)| c.clone())
}
