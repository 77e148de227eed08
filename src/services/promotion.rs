//! Putting a model version on the line takes two people (21 CFR 11, EU GMP Annex 11/22): a
//! data scientist proposes it ([`propose`], a signature meaning "performed"), a QC manager
//! approves it ([`approve`], "approved"), and only then is it made active. Both signatures are
//! bound to a hash of the model's files, so a model changed after the proposal cannot be
//! approved under it. A QC manager may roll back to the version live before ([`rollback`])
//! with one signature: the way back must be quick, and it leads to a version that was
//! approved already. The caller hands the loaded model to the station, which swaps it
//! between two frames.

use std::path::Path;
use std::sync::Arc;

use crate::domain::SignedAction;
use crate::model::AnomalyModel;
use crate::model::classifier::GradeClassifier;
use crate::services::acceptance;
use crate::services::auth::AuthUser;
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::{ModelVersionRow, SignatureRow, Store, StoreError};
use crate::tr;
use crate::training::job::{classifier_beside, load_version};

/// A version made live: the model and its defect classifier, if it has one.
#[derive(Clone)]
pub struct Promoted {
    /// The anomaly model.
    pub model: Arc<AnomalyModel>,
    /// The grade classifier saved beside it.
    pub classifier: Option<Arc<GradeClassifier>>,
}

/// Why a version could not be proposed, approved or rolled back to.
#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    /// The model or classifier file cannot be used.
    #[error("{0}")]
    File(String),
    /// The signature was refused (role, password, reason).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The version is live already.
    #[error("{}", tr!("promo-already-live", version = .0.as_str()))]
    AlreadyLive(String),
    /// Nobody proposed the version (since it was last live).
    #[error("{}", tr!("promo-not-proposed", version = .0.as_str()))]
    NotProposed(String),
    /// The approver proposed it themselves.
    #[error("{}", tr!("promo-same-person", version = .version.as_str(), user = .user.as_str()))]
    SamePerson {
        /// The version.
        version: String,
        /// Who proposed and tried to approve.
        user: String,
    },
    /// The model's files changed since they were proposed.
    #[error("{}", tr!("promo-changed", version = .0.as_str()))]
    ChangedSinceProposal(String),
    /// The candidate fails its acceptance criteria and no override was signed.
    #[error("{}", tr!("promo-blocked", version = .version.as_str(), shortfalls = .shortfalls.join("; ")))]
    Blocked {
        /// The version.
        version: String,
        /// What blocks it, as people read it.
        shortfalls: Vec<String>,
    },
    /// The acceptance comparison could not be made.
    #[error(transparent)]
    Acceptance(#[from] acceptance::AcceptanceError),
    /// A roll back to a version that is not the one live before.
    #[error("{}", tr!("promo-not-previous", version = .0.as_str()))]
    NotPrevious(String),
}

/// blake3 (hex) over the version string, the model file and the classifier beside it: what
/// proposal and approval signatures are bound to.
pub fn model_content_hash(row: &ModelVersionRow) -> Result<String, PromotionError> {
    let (model, classifier) = model_files(row)?;
    Ok(files_content_hash(
        &row.version,
        &model,
        classifier.as_deref(),
    ))
}

/// The bytes of `row`'s model file and of the classifier beside it (if there is one).
pub fn model_files(row: &ModelVersionRow) -> Result<(Vec<u8>, Option<Vec<u8>>), PromotionError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| {
            PromotionError::File(tr!(
                "promo-read-file",
                path = p.display().to_string(),
                error = e.to_string()
            ))
        })
    };
    let classifier = GradeClassifier::path_beside(&row.path);
    let classifier = if classifier.is_file() {
        Some(read(&classifier)?)
    } else {
        None
    };
    Ok((read(&row.path)?, classifier))
}

/// [`model_content_hash`] of a version's files given as bytes (what a station received).
pub fn files_content_hash(version: &str, model: &[u8], classifier: Option<&[u8]>) -> String {
    let mut h = blake3::Hasher::new();
    // Lengths first, so moving bytes between the parts changes the hash.
    let mut part = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(version.as_bytes());
    part(model);
    if let Some(c) = classifier {
        part(c);
    }
    h.finalize().to_hex().to_string()
}

/// Load `row`'s model (checking the file is that version) and its classifier.
fn load(row: &ModelVersionRow) -> Result<Promoted, PromotionError> {
    let model = load_version(&row.path, &row.version).map_err(PromotionError::File)?;
    let classifier = classifier_beside(&row.path)
        .transpose()
        .map_err(PromotionError::File)?
        .map(Arc::new);
    Ok(Promoted {
        model: Arc::new(model),
        classifier,
    })
}

/// Propose `row` for the line: `user` (who may [`crate::domain::Permission::ProposeModel`])
/// signs with meaning "performed", bound to the model's content. The model must load.
pub fn propose(
    store: &mut Store,
    user: &AuthUser,
    row: &ModelVersionRow,
    input: &SignatureInput,
) -> Result<SignatureRow, PromotionError> {
    user.require(SignedAction::ProposeModel.permission())
        .map_err(SignError::from)?;
    if row.active {
        return Err(PromotionError::AlreadyLive(row.version.clone()));
    }
    load(row)?;
    let hash = model_content_hash(row)?;
    let sig = signing::prepare(
        store,
        user,
        SignedAction::ProposeModel,
        &row.id.to_string(),
        hash,
        input,
    )?;
    Ok(store.sign(&sig)?)
}

/// The proposal that stands for `row`: the newest one made after the version was last live
/// (an approval uses it up).
pub fn open_proposal(
    store: &Store,
    row: &ModelVersionRow,
) -> Result<Option<SignatureRow>, PromotionError> {
    let since = store.last_activation_ms(row.id)?.unwrap_or(i64::MIN);
    let proposals = store.signatures_for(
        SignedAction::ProposeModel.record_kind(),
        &row.id.to_string(),
        Some(SignedAction::ProposeModel),
    )?;
    Ok(proposals.into_iter().rev().find(|p| p.ts_ms >= since))
}

/// Approve `row`'s promotion and make it live: `user` (who may
/// [`crate::domain::Permission::ApproveModel`]) signs with meaning "approved". Refused when
/// nobody proposed the version, when the approver is the proposer, and when the model's files
/// changed since the proposal. The candidate is compared with `live` (the model the line
/// runs) on the labelled samples neither trained on and held to the acceptance criteria;
/// when it falls short, it goes live only with `override_reason`, which the approver signs as
/// a second signature ("approved", bound to the model and the shortfalls). The activation and
/// the signatures are written together.
pub fn approve(
    store: &mut Store,
    user: &AuthUser,
    row: &ModelVersionRow,
    live: &AnomalyModel,
    input: &SignatureInput,
    override_reason: Option<&str>,
) -> Result<(Promoted, Vec<SignatureRow>), PromotionError> {
    user.require(SignedAction::ApproveModel.permission())
        .map_err(SignError::from)?;
    if row.active {
        return Err(PromotionError::AlreadyLive(row.version.clone()));
    }
    let proposal = open_proposal(store, row)?
        .ok_or_else(|| PromotionError::NotProposed(row.version.clone()))?;
    if proposal.user_id == user.id {
        return Err(PromotionError::SamePerson {
            version: row.version.clone(),
            user: user.name.clone(),
        });
    }
    let promoted = load(row)?;
    let hash = model_content_hash(row)?;
    if hash != proposal.content_hash {
        return Err(PromotionError::ChangedSinceProposal(row.version.clone()));
    }
    let comparison = acceptance::compare_with_live(store, row, live)?;
    let assessment = acceptance::assess(&comparison, &acceptance::criteria(store)?);
    let shortfalls: Vec<String> = assessment
        .blocked_by
        .iter()
        .map(|s| s.to_string())
        .collect();
    let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
    if !shortfalls.is_empty() && override_reason.is_none() {
        return Err(PromotionError::Blocked {
            version: row.version.clone(),
            shortfalls,
        });
    }
    let record = row.id.to_string();
    let approval = signing::prepare(
        store,
        user,
        SignedAction::ApproveModel,
        &record,
        hash.clone(),
        input,
    )?;
    let mut signatures = vec![approval];
    if !shortfalls.is_empty()
        && let Some(why) = override_reason
    {
        let content = serde_json::json!({ "model": hash, "shortfalls": shortfalls });
        let again = SignatureInput {
            password: input.password.clone(),
            reason: why.to_string(),
        };
        signatures.push(signing::prepare(
            store,
            user,
            SignedAction::OverrideAcceptance,
            &record,
            signing::content_hash(&content),
            &again,
        )?);
    }
    let rows = store.activate_model_signed(row.id, &signatures)?;
    Ok((promoted, rows))
}

/// Return the line to `target`, which must be the version live before the current one
/// (`previous_active`): `user` (who may approve models) signs with meaning "approved".
pub fn rollback(
    store: &mut Store,
    user: &AuthUser,
    target: &ModelVersionRow,
    previous_active: Option<i64>,
    input: &SignatureInput,
) -> Result<(Promoted, SignatureRow), PromotionError> {
    user.require(SignedAction::RollbackModel.permission())
        .map_err(SignError::from)?;
    if previous_active != Some(target.id) {
        return Err(PromotionError::NotPrevious(target.version.clone()));
    }
    let promoted = load(target)?;
    let hash = model_content_hash(target)?;
    let sig = signing::prepare(
        store,
        user,
        SignedAction::RollbackModel,
        &target.id.to_string(),
        hash,
        input,
    )?;
    let mut rows = store.activate_model_signed(target.id, &[sig])?;
    Ok((promoted, rows.remove(0)))
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
    use crate::domain::Role;
    use crate::services::auth::testing::{signed, signed_in, station_with};
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
        row(store, id)
    }

    fn row(store: &Store, id: i64) -> ModelVersionRow {
        store
            .list_model_versions()
            .unwrap()
            .into_iter()
            .find(|m| m.id == id)
            .unwrap()
    }

    fn save_model(dir: &std::path::Path, version: &str) -> std::path::PathBuf {
        let mut model = AnomalyModel::bundled().unwrap();
        model.version = version.into();
        let path = dir.join(format!("{version}.json"));
        model.save(&path).unwrap();
        path
    }

    /// A station with a data scientist, a QC manager and a technician, all signed in:
    /// (store, ds, qc, tech).
    fn station(dir: &std::path::Path) -> (Store, AuthUser, AuthUser, AuthUser) {
        let mut store = station_with(
            dir,
            &[
                ("ds.maria", Role::DataScientist),
                ("qc.anna", Role::QcManager),
                ("tec.luis", Role::Technician),
            ],
        );
        let ds = signed_in(&mut store, "ds.maria");
        let qc = signed_in(&mut store, "qc.anna");
        let tech = signed_in(&mut store, "tec.luis");
        (store, ds, qc, tech)
    }

    /// Approve with an override for the shortfalls of a station without labelled samples.
    fn approve_ok(
        store: &mut Store,
        user: &AuthUser,
        v: &ModelVersionRow,
        reason: &str,
    ) -> Result<(Promoted, Vec<SignatureRow>), PromotionError> {
        let live = AnomalyModel::bundled().unwrap();
        let why = Some("pilot: no labelled samples yet");
        approve(store, user, v, &live, &signed(reason), why)
    }

    #[test]
    fn a_promotion_needs_a_proposal_and_another_persons_approval() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ds, qc, tech) = station(dir.path());
        let v = register(&mut store, "v-two", &save_model(dir.path(), "v-two"));
        // Nobody proposed it: the QC manager cannot approve.
        let e = approve_ok(&mut store, &qc, &v, "ok").err().unwrap();
        assert!(matches!(e, PromotionError::NotProposed(_)), "{e}");
        // Neither the technician nor the QC manager may propose.
        for who in [&tech, &qc] {
            let e = propose(&mut store, who, &v, &signed("x")).err().unwrap();
            assert!(
                matches!(e, PromotionError::Sign(SignError::Denied(_))),
                "{e}"
            );
        }
        let p = propose(&mut store, &ds, &v, &signed("retrained on lot 7")).unwrap();
        assert_eq!(
            (p.meaning.as_str(), p.signer.as_str()),
            ("performed", "ds.maria")
        );
        // The proposer cannot approve (their role may not either).
        let e = approve_ok(&mut store, &ds, &v, "x").err().unwrap();
        assert!(
            matches!(e, PromotionError::Sign(SignError::Denied(_))),
            "{e}"
        );
        assert!(store.active_model().unwrap().is_none());
        // No labelled samples to judge it on: blocked by the acceptance criteria unless the
        // QC manager signs an override.
        let live = AnomalyModel::bundled().unwrap();
        let e = approve(&mut store, &qc, &v, &live, &signed("ok"), None)
            .err()
            .unwrap();
        assert!(matches!(e, PromotionError::Blocked { .. }), "{e}");
        assert!(e.to_string().contains("v-two"), "{e}");
        let (promoted, sigs) = approve_ok(&mut store, &qc, &v, "comparison fine").unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[1].action, "model.override");
        assert_eq!(sigs[1].reason, "pilot: no labelled samples yet");
        let a = &sigs[0];
        assert_eq!(promoted.model.version, "v-two");
        assert_eq!(
            (a.meaning.as_str(), a.signer.as_str()),
            ("approved", "qc.anna")
        );
        assert_eq!(a.content_hash, p.content_hash);
        assert_eq!(store.active_model().unwrap().unwrap().id, v.id);
        let activation = store
            .audit_entries(20)
            .unwrap()
            .into_iter()
            .find(|e| e.action == "model.activate")
            .unwrap();
        assert_eq!(activation.actor, "qc.anna");
        // The approval used the proposal up.
        assert!(open_proposal(&store, &row(&store, v.id)).unwrap().is_none());
    }

    #[test]
    fn a_model_changed_after_its_proposal_cannot_be_approved() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ds, qc, _) = station(dir.path());
        let path = save_model(dir.path(), "v-swap");
        let v = register(&mut store, "v-swap", &path);
        propose(&mut store, &ds, &v, &signed("good")).unwrap();
        let mut other = AnomalyModel::bundled().unwrap();
        other.version = "v-swap".into();
        other.thresholds.reject *= 2.0;
        other.save(&path).unwrap();
        let e = approve_ok(&mut store, &qc, &v, "ok").err().unwrap();
        assert!(matches!(e, PromotionError::ChangedSinceProposal(_)), "{e}");
        assert!(store.active_model().unwrap().is_none());
    }

    #[test]
    fn a_file_of_another_version_is_refused_and_nothing_signed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ds, _, _) = station(dir.path());
        let path = save_model(dir.path(), "real");
        let row = register(&mut store, "not-the-file", &path);
        let e = propose(&mut store, &ds, &row, &signed("x")).err().unwrap();
        assert!(matches!(e, PromotionError::File(_)), "{e}");
        let missing = register(&mut store, "gone", &dir.path().join("gone.json"));
        assert!(propose(&mut store, &ds, &missing, &signed("x")).is_err());
        assert!(store.recent_signatures(10).unwrap().is_empty());
    }

    #[test]
    fn rollback_goes_to_the_previous_version_with_one_signature() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ds, qc, _) = station(dir.path());
        let a = register(&mut store, "a", &save_model(dir.path(), "a"));
        let b = register(&mut store, "b", &save_model(dir.path(), "b"));
        for v in [&a, &b] {
            propose(&mut store, &ds, v, &signed("p")).unwrap();
            approve_ok(&mut store, &qc, v, "ok").unwrap();
        }
        let prev = store.previous_active_model().unwrap();
        assert_eq!(prev, Some(a.id));
        let e = rollback(&mut store, &qc, &b, prev, &signed("x"))
            .err()
            .unwrap();
        assert!(matches!(e, PromotionError::NotPrevious(_)), "{e}");
        let e = rollback(&mut store, &ds, &a, prev, &signed("x"))
            .err()
            .unwrap();
        assert!(
            matches!(e, PromotionError::Sign(SignError::Denied(_))),
            "{e}"
        );
        let (p, sig) = rollback(&mut store, &qc, &a, prev, &signed("escapes on L9")).unwrap();
        assert_eq!(p.model.version, "a");
        assert_eq!(sig.action, "model.rollback");
        assert_eq!(store.active_model().unwrap().unwrap().id, a.id);
        let models = store.list_model_versions().unwrap();
        assert!(rollback_target(&models, None).is_none());
        assert!(rollback_target(&models, Some(999)).is_none());
    }
}
