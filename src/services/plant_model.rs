//! Sending a promoted model version to the plant's stations of a recipe, and taking it in at
//! a station. At the publishing PC a QC manager signs the release of a version that went
//! through the two-person promotion there (an approval bound to exactly these files); the
//! release travels in parts (see [`crate::store::plant_models`]). A station that has the
//! recipe keeps the parts until the version is whole, checks it against the signed content
//! hash, installs and registers it, and saves a new version of the recipe naming it; a
//! running station on that recipe switches between two frames. Both sides audit it.

use std::path::{Path, PathBuf};

use crate::domain::SignedAction;
use crate::services::auth::AuthUser;
use crate::services::promotion::{self, PromotionError};
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::plant_models::{MODEL_SCHEMA, ModelShipment, PlantModelPart, PlantModelRelease};
use crate::store::{
    ModelVersionRow, NewModelVersion, SignatureRow, Store, StoreError, StoredRecipe,
};
use crate::tr;
use crate::training::job::load_version;

/// Why a model version was not sent, or a message not taken.
#[derive(Debug, thiserror::Error)]
pub enum PlantModelError {
    /// The version was not approved at this PC with these files.
    #[error("{}", tr!("plant-model-not-approved", version = .0.as_str()))]
    NotApproved(String),
    /// No recipe was named.
    #[error("{}", tr!("plant-model-no-recipe"))]
    NoRecipe,
    /// The model's files cannot be read or loaded.
    #[error(transparent)]
    Promotion(Box<PromotionError>),
    /// The signature was refused (role, password, reason).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message that is not a model part foodqc can read.
    #[error("{}", tr!("plant-model-bad-message", why = .0.as_str()))]
    BadMessage(String),
}

impl From<PromotionError> for PlantModelError {
    fn from(e: PromotionError) -> Self {
        PlantModelError::Promotion(Box::new(e))
    }
}

/// What a station did with a model part.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    /// Not for this station (it lacks the recipe), or the release was settled before.
    Skipped,
    /// Kept; `have` of `parts` are here.
    Waiting {
        /// Parts here.
        have: u32,
        /// Parts of the release.
        parts: u32,
    },
    /// Whole and applied: the recipe's new version naming the model.
    Applied(StoredRecipe),
    /// Whole but refused, for this reason (audited).
    Refused(String),
}

/// Send `row` to the plant's stations of recipe `recipe`: `user` (a QC manager) signs here
/// (meaning "approved", bound to the files and the recipe), and the release waits in this
/// PC's outbox for the plant's brokers. Refused unless the version was approved here with
/// exactly these files.
pub fn publish(
    store: &mut Store,
    user: &AuthUser,
    row: &ModelVersionRow,
    recipe: &str,
    input: &SignatureInput,
    origin: &str,
) -> Result<(SignatureRow, PlantModelRelease, u32), PlantModelError> {
    let action = SignedAction::PublishModel;
    user.require(action.permission()).map_err(SignError::from)?;
    let recipe = recipe.trim();
    if recipe.is_empty() {
        return Err(PlantModelError::NoRecipe);
    }
    let (model, classifier) = promotion::model_files(row)?;
    let hash = promotion::files_content_hash(&row.version, &model, classifier.as_deref());
    let approved = store
        .signatures_for(
            action.record_kind(),
            &row.id.to_string(),
            Some(SignedAction::ApproveModel),
        )?
        .iter()
        .any(|s| s.content_hash == hash);
    if !approved {
        return Err(PlantModelError::NotApproved(row.version.clone()));
    }
    load_version(&row.path, &row.version).map_err(PromotionError::File)?;
    let content = serde_json::json!({ "model": hash, "recipe": recipe, "scope": "plant" });
    let sig = signing::prepare(
        store,
        user,
        action,
        &row.id.to_string(),
        signing::content_hash(&content),
        input,
    )?;
    let shipment = ModelShipment {
        recipe,
        version: &row.version,
        kind: &row.kind,
        params: &row.params,
        metrics: &row.metrics,
        data_snapshot: &row.data_snapshot,
        content_hash: &hash,
        model: &model,
        classifier: classifier.as_deref(),
    };
    Ok(store.queue_plant_model(&shipment, &sig, origin)?)
}

/// Take model part `part` at this station (database `store`, model files under
/// `models_dir`, `station` the audit actor of a refusal). See the module docs.
pub fn receive(
    store: &mut Store,
    models_dir: &Path,
    part: &PlantModelPart,
    station: &str,
) -> Result<Received, PlantModelError> {
    let r = &part.release;
    if r.schema != MODEL_SCHEMA {
        return Err(PlantModelError::BadMessage(format!("schema {}", r.schema)));
    }
    if part.parts == 0 || part.part >= part.parts {
        return Err(PlantModelError::BadMessage(format!(
            "part {} of {}",
            part.part, part.parts
        )));
    }
    if store.plant_model_settled(&r.id)? || store.recipe(&r.recipe)?.is_none() {
        return Ok(Received::Skipped);
    }
    let have = store.keep_plant_model_part(part)?;
    if have < part.parts {
        return Ok(Received::Waiting {
            have,
            parts: part.parts,
        });
    }
    let installed = whole_release(store, r).and_then(|bytes| install(store, models_dir, r, bytes));
    match installed {
        Ok(()) => Ok(store
            .apply_plant_model(r)?
            .map_or(Received::Skipped, Received::Applied)),
        Err(why) => {
            store.refuse_plant_model(r, &why, station)?;
            Ok(Received::Refused(why))
        }
    }
}

/// The release's bytes from its parts; the error says what is wrong with them.
fn whole_release(store: &Store, r: &PlantModelRelease) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let mut bytes = Vec::new();
    for (i, data) in store
        .plant_model_part_data(&r.id)
        .map_err(|e| e.to_string())?
        .iter()
        .enumerate()
    {
        let chunk = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| {
                tr!(
                    "plant-model-part-unreadable",
                    part = i,
                    error = e.to_string()
                )
            })?;
        bytes.extend_from_slice(&chunk);
    }
    let expected = r.model_bytes.saturating_add(r.classifier_bytes);
    if bytes.len() as u64 != expected {
        return Err(tr!(
            "plant-model-length",
            got = bytes.len(),
            expected = expected
        ));
    }
    Ok(bytes)
}

/// Check `bytes` against the signed hash, put the files under `models_dir/plant` and
/// register the version (a version already here with the same files is used as it is).
fn install(
    store: &mut Store,
    models_dir: &Path,
    r: &PlantModelRelease,
    bytes: Vec<u8>,
) -> Result<(), String> {
    let split = usize::try_from(r.model_bytes).map_err(|e| e.to_string())?;
    let (model, classifier) = bytes.split_at(split);
    let classifier = Some(classifier).filter(|c| !c.is_empty());
    let hash = promotion::files_content_hash(&r.version, model, classifier);
    if hash != r.content_hash {
        return Err(tr!("plant-model-hash", version = r.version.as_str()));
    }
    let known = store
        .list_model_versions()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|m| m.version == r.version);
    if let Some(row) = known {
        return match promotion::model_content_hash(&row) {
            Ok(h) if h == hash => Ok(()),
            _ => Err(tr!(
                "plant-model-version-taken",
                version = r.version.as_str(),
                path = row.path.display().to_string()
            )),
        };
    }
    let path = model_path(models_dir, &r.version, &hash);
    let beside = crate::model::GradeClassifier::path_beside(&path);
    let written = write_files(&path, model, &beside, classifier)
        .and_then(|()| load_version(&path, &r.version).map(|_| ()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&beside);
        return Err(e);
    }
    store
        .register_model_version(&NewModelVersion {
            version: r.version.clone(),
            path,
            kind: r.kind.clone(),
            params: r.params.clone(),
            metrics: r.metrics.clone(),
            data_snapshot: r.data_snapshot.clone(),
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Where a version from the plant lives: `models_dir/plant/<version>-<hash>.json`, the
/// version made safe for a file name.
fn model_path(models_dir: &Path, version: &str, hash: &str) -> PathBuf {
    let safe: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let short = hash.get(..12).unwrap_or(hash);
    models_dir
        .join("plant")
        .join(format!("{safe}-{short}.json"))
}

/// Write the model file and the classifier beside it (or remove a stale one), each as
/// [`crate::model::write_atomically`] writes models: whole or not at all, owner-only.
fn write_files(
    path: &Path,
    model: &[u8],
    beside: &Path,
    classifier: Option<&[u8]>,
) -> Result<(), String> {
    let write = |p: &Path, bytes: &[u8]| -> Result<(), String> {
        crate::model::write_atomically(p, bytes).map_err(|e| {
            tr!(
                "plant-model-write-file",
                path = p.display().to_string(),
                error = e.to_string()
            )
        })
    };
    write(path, model)?;
    match classifier {
        Some(c) => write(beside, c),
        None => match std::fs::remove_file(beside) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Recipe, Role};
    use crate::model::AnomalyModel;
    use crate::services::auth::testing::{signed, signed_in, station_with};
    use crate::store::plant_models::{MODEL_PART_BYTES, MODELS_TOPIC};

    /// A model version `version` with the bundled classifier beside it, registered.
    fn trained(store: &mut Store, dir: &Path, version: &str) -> ModelVersionRow {
        let mut model = AnomalyModel::bundled().unwrap();
        model.version = version.into();
        let path = dir.join(format!("{version}.json"));
        model.save(&path).unwrap();
        let classifier =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.classifier.json");
        std::fs::copy(
            classifier,
            crate::model::GradeClassifier::path_beside(&path),
        )
        .unwrap();
        let id = store
            .register_model_version(&NewModelVersion {
                version: version.into(),
                path,
                kind: "patchcore".into(),
                params: serde_json::json!({ "k": 3 }),
                metrics: serde_json::json!({ "auroc": 0.97 }),
                data_snapshot: serde_json::json!({ "samples": 120 }),
            })
            .unwrap();
        store
            .list_model_versions()
            .unwrap()
            .into_iter()
            .find(|m| m.id == id)
            .unwrap()
    }

    /// The parts of a release as the stations read them from the outbox.
    fn queued_parts(store: &Store) -> Vec<PlantModelPart> {
        store
            .outbox_pending(1000)
            .unwrap()
            .into_iter()
            .filter(|r| r.topic == MODELS_TOPIC)
            .map(|r| serde_json::from_str(&r.payload).unwrap())
            .collect()
    }

    fn audit_actions(store: &Store) -> Vec<(String, String, serde_json::Value)> {
        store
            .audit_entries(200)
            .unwrap()
            .into_iter()
            .map(|e| (e.actor, e.action, e.details))
            .collect()
    }

    #[test]
    fn an_approved_version_reaches_the_stations_of_its_recipe_once_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut pc = station_with(
            &dir.path().join("qc"),
            &[
                ("ds.maria", Role::DataScientist),
                ("qc.rosa", Role::QcManager),
                ("op.jose", Role::Operator),
            ],
        );
        let ds = signed_in(&mut pc, "ds.maria");
        let qc = signed_in(&mut pc, "qc.rosa");
        let op = signed_in(&mut pc, "op.jose");
        let row = trained(&mut pc, dir.path(), "galleta-2026-12");
        // Not approved here yet: refused, as is an operator.
        let e = publish(&mut pc, &qc, &row, "galleta", &signed("x"), "qc-pc").unwrap_err();
        assert!(matches!(e, PlantModelError::NotApproved(_)), "{e}");
        let e = publish(&mut pc, &op, &row, "galleta", &signed("x"), "qc-pc").unwrap_err();
        assert!(
            matches!(e, PlantModelError::Sign(SignError::Denied(_))),
            "{e}"
        );
        promotion::propose(&mut pc, &ds, &row, &signed("lote 7")).unwrap();
        let live = AnomalyModel::bundled().unwrap();
        promotion::approve(&mut pc, &qc, &row, &live, &signed("ok"), Some("piloto")).unwrap();
        let (sig, release, parts) = publish(
            &mut pc,
            &qc,
            &row,
            "galleta",
            &signed("grietas finas"),
            "qc-pc",
        )
        .unwrap();
        assert_eq!(sig.action, "model.publish");
        assert_eq!(release.id, format!("qc-pc/{}", sig.id));
        let bytes = release.model_bytes + release.classifier_bytes;
        assert!(release.classifier_bytes > 0);
        assert_eq!(parts as u64, bytes.div_ceil(MODEL_PART_BYTES as u64));
        assert!(parts >= 2, "the test wants a model in several parts");
        let mut sent = queued_parts(&pc);
        assert_eq!(sent.len() as u32, parts);
        assert!(sent.iter().all(|p| p.release == release));
        assert!(
            audit_actions(&pc)
                .iter()
                .any(|(who, what, d)| who == "qc.rosa"
                    && what == "plant.model.publish"
                    && d["command"] == release.id.as_str())
        );

        // A station without the recipe keeps nothing.
        let other_dir = dir.path().join("other");
        let mut other = station_with(&other_dir, &[]);
        for p in &sent {
            let got = receive(&mut other, &other_dir.join("models"), p, "linea-2").unwrap();
            assert_eq!(got, Received::Skipped);
        }
        assert!(other.list_model_versions().unwrap().is_empty());

        // A station with the recipe: the parts out of order and one twice.
        let st_dir = dir.path().join("st");
        let models = st_dir.join("models");
        let mut st = station_with(&st_dir, &[]);
        let thresholds = crate::domain::Thresholds::new(0.6, 0.5);
        st.save_recipe(
            &Recipe {
                name: "galleta".into(),
                thresholds: Some(thresholds),
                reject_on_doubt: true,
                ..Recipe::default()
            },
            "qc.local",
        )
        .unwrap();
        sent.reverse();
        let dup = sent[0].clone();
        sent.insert(1, dup);
        let mut results = Vec::new();
        for p in &sent {
            results.push(receive(&mut st, &models, p, "linea-1").unwrap());
        }
        let last = results.pop().unwrap();
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Received::Waiting { .. }))
        );
        let Received::Applied(recipe) = last else {
            panic!("{last:?}")
        };
        assert_eq!(recipe.recipe.version, 2);
        assert_eq!(
            recipe.recipe.model_version.as_deref(),
            Some("galleta-2026-12")
        );
        // Another model scores on another scale: the model's own thresholds judge.
        assert_eq!(recipe.recipe.thresholds, None);
        assert!(recipe.recipe.reject_on_doubt);
        assert_eq!(recipe.created_by, "plant:qc.rosa");
        let here = st
            .list_model_versions()
            .unwrap()
            .into_iter()
            .find(|m| m.version == "galleta-2026-12")
            .unwrap();
        assert!(here.path.starts_with(models.join("plant")));
        assert_eq!(
            promotion::model_content_hash(&here).unwrap(),
            release.content_hash
        );
        assert_eq!(here.metrics["auroc"], 0.97);
        let audit = audit_actions(&st);
        let applied: Vec<_> = audit
            .iter()
            .filter(|(_, what, _)| what == "plant.model.apply")
            .collect();
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].0, "plant:qc.rosa");
        assert_eq!(applied[0].2["command"], release.id.as_str());
        assert_eq!(applied[0].2["comment"], "grietas finas");
        assert!(st.plant_model_part_data(&release.id).unwrap().is_empty());
        // Read again (a replay): nothing changes.
        for p in &sent {
            assert_eq!(
                receive(&mut st, &models, p, "linea-1").unwrap(),
                Received::Skipped
            );
        }
        assert_eq!(st.recipe("galleta").unwrap().unwrap().recipe.version, 2);
    }

    #[test]
    fn a_model_changed_on_the_way_is_refused_and_audited() {
        let dir = tempfile::tempdir().unwrap();
        let mut pc = station_with(
            &dir.path().join("qc"),
            &[
                ("ds.maria", Role::DataScientist),
                ("qc.rosa", Role::QcManager),
            ],
        );
        let ds = signed_in(&mut pc, "ds.maria");
        let qc = signed_in(&mut pc, "qc.rosa");
        let row = trained(&mut pc, dir.path(), "v9");
        promotion::propose(&mut pc, &ds, &row, &signed("x")).unwrap();
        let live = AnomalyModel::bundled().unwrap();
        promotion::approve(&mut pc, &qc, &row, &live, &signed("ok"), Some("piloto")).unwrap();
        let (_, release, _) = publish(&mut pc, &qc, &row, "limon", &signed("y"), "pc").unwrap();
        let mut sent = queued_parts(&pc);
        // One byte of the first part altered, keeping the length.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut bytes = b64.decode(&sent[0].data).unwrap();
        bytes[100] ^= 1;
        sent[0].data = b64.encode(bytes);
        let st_dir = dir.path().join("st");
        let mut st = station_with(&st_dir, &[]);
        st.save_recipe(
            &Recipe {
                name: "limon".into(),
                ..Recipe::default()
            },
            "qc.local",
        )
        .unwrap();
        let mut last = Received::Skipped;
        for p in &sent {
            last = receive(&mut st, &st_dir.join("models"), p, "linea-3").unwrap();
        }
        let Received::Refused(why) = last else {
            panic!("{last:?}")
        };
        assert!(why.contains("v9"), "{why}");
        assert!(st.list_model_versions().unwrap().is_empty());
        assert_eq!(st.recipe("limon").unwrap().unwrap().recipe.version, 1);
        let refused = audit_actions(&st)
            .into_iter()
            .find(|(_, what, _)| what == "plant.model.refuse")
            .unwrap();
        assert_eq!(refused.0, "linea-3");
        assert_eq!(refused.2["command"], release.id.as_str());
        // Settled: the same release is not taken again.
        assert_eq!(
            receive(&mut st, &st_dir.join("models"), &sent[0], "linea-3").unwrap(),
            Received::Skipped
        );
    }
}
