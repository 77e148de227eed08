//! Promoting a registered model version to the line: load its file (checking it is the
//! version the database names) and its defect classifier, then mark it active in the
//! database (audit log). The caller hands the loaded model to the station, which swaps it
//! between two frames.

use std::sync::Arc;

use crate::domain::Actor;
use crate::model::AnomalyModel;
use crate::model::classifier::GradeClassifier;
use crate::store::{ModelVersionRow, Store, StoreError};
use crate::training::job::{classifier_beside, load_version};

/// A version made live: the model and its defect classifier, if it has one.
#[derive(Clone)]
pub struct Promoted {
    /// The anomaly model.
    pub model: Arc<AnomalyModel>,
    /// The grade classifier saved beside it.
    pub classifier: Option<Arc<GradeClassifier>>,
}

/// Why a version could not be promoted.
#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    /// The model or classifier file cannot be used.
    #[error("{0}")]
    File(String),
    /// The database could not record the activation.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Load `row`'s model (and classifier) and make it the active version, recorded under
/// `actor`. Nothing is activated when a file cannot be loaded.
pub fn promote(
    store: &mut Store,
    row: &ModelVersionRow,
    actor: &Actor,
) -> Result<Promoted, PromotionError> {
    let model = load_version(&row.path, &row.version).map_err(PromotionError::File)?;
    let classifier = classifier_beside(&row.path)
        .transpose()
        .map_err(PromotionError::File)?
        .map(Arc::new);
    store.set_active_model(row.id, actor.as_str())?;
    Ok(Promoted {
        model: Arc::new(model),
        classifier,
    })
}

/// The version a roll back returns to: the one live before the current one
/// (`previous_active`, from the audit trail of activations), when it is still registered.
pub fn rollback_target(
    models: &[ModelVersionRow],
    previous_active: Option<i64>,
) -> Option<&ModelVersionRow> {
    let id = previous_active?;
    models.iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewModelVersion;

    fn register(store: &mut Store, version: &str, path: &std::path::Path) -> ModelVersionRow {
        let id = store
            .register_model_version(&NewModelVersion {
                version: version.into(),
                path: path.to_path_buf(),
                kind: "test".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({}),
                data_snapshot: serde_json::json!({}),
            })
            .unwrap();
        store
            .list_model_versions()
            .unwrap()
            .into_iter()
            .find(|m| m.id == id)
            .unwrap()
    }

    #[test]
    fn promote_loads_the_file_and_activates_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let mut model = AnomalyModel::bundled().unwrap();
        model.version = "v-promote".into();
        let path = dir.path().join("v.json");
        model.save(&path).unwrap();
        let row = register(&mut store, "v-promote", &path);
        let p = promote(&mut store, &row, &Actor::named("qc.anna")).unwrap();
        assert_eq!(p.model.version, "v-promote");
        assert!(p.classifier.is_none());
        assert_eq!(store.active_model().unwrap().unwrap().id, row.id);
        let audit = store.audit_entries(10).unwrap();
        let e = audit.iter().find(|e| e.action == "model.activate").unwrap();
        assert_eq!(e.actor, "qc.anna");
    }

    #[test]
    fn a_file_of_another_version_is_refused_and_nothing_activated() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let model = AnomalyModel::bundled().unwrap();
        let path = dir.path().join("v.json");
        model.save(&path).unwrap();
        let row = register(&mut store, "not-the-file", &path);
        let e = promote(&mut store, &row, &Actor::named("qc"))
            .err()
            .unwrap();
        assert!(matches!(e, PromotionError::File(_)), "{e}");
        assert!(store.active_model().unwrap().is_none());
        let missing = register(&mut store, "gone", &dir.path().join("gone.json"));
        assert!(promote(&mut store, &missing, &Actor::named("qc")).is_err());
    }

    #[test]
    fn rollback_goes_to_the_previous_registered_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let a = register(&mut store, "a", &dir.path().join("a.json"));
        let b = register(&mut store, "b", &dir.path().join("b.json"));
        let models = vec![a.clone(), b];
        assert_eq!(
            rollback_target(&models, Some(a.id)).map(|m| m.id),
            Some(a.id)
        );
        assert!(rollback_target(&models, None).is_none());
        assert!(rollback_target(&models, Some(999)).is_none());
    }
}
