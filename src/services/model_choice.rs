//! Which model judges: the one rule the command line and the workstation apply.
//!
//! 1. A model file named explicitly (`--model FILE`) wins; if it cannot be loaded that is an
//!    error (the user asked for that file).
//! 2. Else the data folder's active (promoted) version. If it cannot be used (file gone,
//!    damaged, not the version the database registered, or the database unreadable), the
//!    problem is returned beside the choice and the bundled model runs, so the line keeps
//!    running.
//! 3. Else the bundled default model.
//!
//! The defect classifier that goes with a model is looked up by its version
//! ([`classifier_for`]); a registered version loaded for promotion brings its classifier along
//! ([`load_registered`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::AppPaths;
use crate::model::classifier::GradeClassifier;
use crate::model::{AnomalyModel, ModelError};
use crate::store::{Store, StoreError};
use crate::training::job::{classifier_beside, classifier_for_version, load_version};

/// Why a model could not be chosen or loaded. Each message names the file or version.
#[derive(Debug, thiserror::Error)]
pub enum ModelChoiceError {
    /// The explicitly named model file cannot be loaded.
    #[error(transparent)]
    File(ModelError),
    /// The bundled default model cannot be loaded (a build problem).
    #[error(transparent)]
    Bundled(ModelError),
    /// The database cannot say which version is active.
    #[error("{}", crate::tr!("err-services-model-choice-active-unreadable", v0 = .0.to_string()))]
    ActiveUnreadable(#[source] StoreError),
    /// A registered version's file cannot be used (missing, damaged, or holding another
    /// version than the database registered).
    #[error("{}", crate::tr!("err-services-model-choice-registered", version = .version.to_string(), reason = .reason.to_string()))]
    Registered {
        /// The version the database names.
        version: String,
        /// The file it points to.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where the judging model came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelOrigin {
    /// A file named explicitly (`--model FILE`).
    File(PathBuf),
    /// The data folder's active (promoted) version.
    Promoted {
        /// Its version.
        version: String,
        /// Its file.
        path: PathBuf,
    },
    /// The bundled default model.
    Bundled,
}

/// The model chosen by [`resolve`].
#[derive(Debug)]
pub struct ModelChoice {
    /// The model that judges.
    pub model: Arc<AnomalyModel>,
    /// Where it came from.
    pub origin: ModelOrigin,
    /// Why the promoted version was passed over for the bundled model, if it was: the
    /// caller tells the user (the line keeps running meanwhile).
    pub fallback: Option<ModelChoiceError>,
}

/// A registered model version loaded for the station: the model and its defect classifier,
/// if one was saved beside it.
#[derive(Clone, Debug)]
pub struct LoadedVersion {
    /// The anomaly model.
    pub model: Arc<AnomalyModel>,
    /// Its defect classifier (`<name>.classifier.json` beside the model file), if any.
    pub classifier: Option<Arc<GradeClassifier>>,
}

/// Choose the model that judges (see the module documentation for the rule). `explicit` is
/// the `--model FILE` of the command line. Fails only when the explicit file or the bundled
/// model cannot be loaded.
pub fn resolve(paths: &AppPaths, explicit: Option<&Path>) -> Result<ModelChoice, ModelChoiceError> {
    if let Some(p) = explicit {
        let model = AnomalyModel::load(p).map_err(ModelChoiceError::File)?;
        return Ok(ModelChoice {
            model: Arc::new(model),
            origin: ModelOrigin::File(p.to_path_buf()),
            fallback: None,
        });
    }
    let fallback = match promoted(&paths.db_path()) {
        Ok(Some(choice)) => return Ok(choice),
        Ok(None) => None,
        Err(e) => Some(e),
    };
    Ok(ModelChoice {
        model: Arc::new(AnomalyModel::bundled().map_err(ModelChoiceError::Bundled)?),
        origin: ModelOrigin::Bundled,
        fallback,
    })
}

/// The active version of the database at `db_path`, loaded; `None` when there is no database
/// or no version is active.
fn promoted(db_path: &Path) -> Result<Option<ModelChoice>, ModelChoiceError> {
    if !db_path.is_file() {
        return Ok(None);
    }
    let active = Store::open(db_path)
        .and_then(|s| s.active_model())
        .map_err(ModelChoiceError::ActiveUnreadable)?;
    let Some(row) = active else {
        return Ok(None);
    };
    let model = load_checked(&row.path, &row.version)?;
    Ok(Some(ModelChoice {
        model: Arc::new(model),
        origin: ModelOrigin::Promoted {
            version: row.version,
            path: row.path,
        },
        fallback: None,
    }))
}

/// Load a registered version's file, checking it holds that version.
fn load_checked(path: &Path, version: &str) -> Result<AnomalyModel, ModelChoiceError> {
    load_version(path, version).map_err(|e| ModelChoiceError::Registered {
        version: version.to_string(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Load a registered version (its file at `path`, which must hold `version`) with the defect
/// classifier saved beside it: what the station runs once the version is promoted.
pub fn load_registered(path: &Path, version: &str) -> Result<LoadedVersion, ModelChoiceError> {
    let model = load_checked(path, version)?;
    let classifier = match classifier_beside(path) {
        Some(Ok(c)) => Some(Arc::new(c)),
        Some(Err(e)) => {
            return Err(ModelChoiceError::Registered {
                version: version.to_string(),
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
        None => None,
    };
    Ok(LoadedVersion {
        model: Arc::new(model),
        classifier,
    })
}

/// The defect classifier of the model `version` as registered in the data folder's database
/// (`None` when the version is not registered or has none; problems are logged, never fatal).
pub fn classifier_for(paths: &AppPaths, version: &str) -> Option<Arc<GradeClassifier>> {
    classifier_for_version(&paths.db_path(), version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewModelVersion;

    fn paths(dir: &Path) -> AppPaths {
        AppPaths::resolve(Some(dir)).unwrap()
    }

    /// A copy of the bundled model saved as `name` under a new version.
    fn saved_model(dir: &Path, name: &str, version: &str) -> PathBuf {
        let mut m = AnomalyModel::bundled().unwrap();
        m.version = version.to_string();
        let path = dir.join(name);
        m.save(&path).unwrap();
        path
    }

    /// Register `path` as `version` in the data folder's database and make it active.
    fn promote(paths: &AppPaths, path: &Path, version: &str) {
        let mut store = Store::open(&paths.db_path()).unwrap();
        let id = store
            .register_model_version(&NewModelVersion {
                version: version.to_string(),
                path: path.to_path_buf(),
                kind: "anomaly".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({}),
                data_snapshot: serde_json::json!({}),
            })
            .unwrap();
        store.set_active_model(id, "tester").unwrap();
    }

    #[test]
    fn without_a_database_the_bundled_model_judges() {
        let dir = tempfile::tempdir().unwrap();
        let c = resolve(&paths(dir.path()), None).unwrap();
        assert_eq!(c.origin, ModelOrigin::Bundled);
        assert!(c.fallback.is_none());
        assert_eq!(c.model.version, AnomalyModel::bundled().unwrap().version);
    }

    #[test]
    fn an_explicit_file_wins_over_the_promoted_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let promoted = saved_model(dir.path(), "promoted.json", "promoted-1");
        promote(&p, &promoted, "promoted-1");
        let file = saved_model(dir.path(), "mine.json", "mine-1");
        let c = resolve(&p, Some(&file)).unwrap();
        assert_eq!(c.origin, ModelOrigin::File(file));
        assert_eq!(c.model.version, "mine-1");
    }

    #[test]
    fn an_unreadable_explicit_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = resolve(&paths(dir.path()), Some(&missing)).unwrap_err();
        assert!(matches!(err, ModelChoiceError::File(_)), "{err:?}");
        assert!(err.to_string().contains("missing.json"), "{err}");
    }

    #[test]
    fn the_promoted_version_judges_when_no_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let path = saved_model(dir.path(), "v2.json", "v2");
        promote(&p, &path, "v2");
        let c = resolve(&p, None).unwrap();
        assert_eq!(
            c.origin,
            ModelOrigin::Promoted {
                version: "v2".into(),
                path
            }
        );
        assert_eq!(c.model.version, "v2");
        assert!(c.fallback.is_none());
    }

    #[test]
    fn a_broken_promoted_version_falls_back_to_the_bundled_model_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        // The file holds another version than the database registered.
        let path = saved_model(dir.path(), "v3.json", "something-else");
        promote(&p, &path, "v3");
        let c = resolve(&p, None).unwrap();
        assert_eq!(c.origin, ModelOrigin::Bundled);
        let why = c.fallback.expect("the reason is returned");
        assert!(matches!(why, ModelChoiceError::Registered { ref version, .. } if version == "v3"));
        assert!(why.to_string().contains("promoted model v3"), "{why}");
    }

    #[test]
    fn a_registered_version_loads_with_no_classifier_when_none_is_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_model(dir.path(), "v4.json", "v4");
        let v = load_registered(&path, "v4").unwrap();
        assert_eq!(v.model.version, "v4");
        assert!(v.classifier.is_none());
        assert!(load_registered(&path, "v5").is_err());
        assert!(classifier_for(&paths(dir.path()), "v4").is_none());
    }
}
