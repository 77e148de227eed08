//! Holding and releasing a lot: a QC manager's decision, signed (password again, reason) and
//! bound to the lot code and the status change it makes.

use crate::domain::SignedAction;
use crate::services::auth::AuthUser;
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::plant_commands::PlantLotCommand;
use crate::store::{LotStatus, NewSignature, SignatureRow, Store, StoreError};
use crate::tr;

/// Why a lot's status was not changed.
#[derive(Debug, thiserror::Error)]
pub enum LotDecisionError {
    /// No lot has that code.
    #[error("{}", tr!("lot-unknown", code = .0.as_str()))]
    UnknownLot(String),
    /// Only hold and release are decisions (a lot is open until one of them).
    #[error("{}", tr!("lot-not-a-decision", code = .0.as_str()))]
    NotADecision(String),
    /// The signature was refused (role, password, reason).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Put lot `code` on hold or release it, under `user`'s signature.
pub fn decide(
    store: &mut Store,
    user: &AuthUser,
    code: &str,
    status: LotStatus,
    input: &SignatureInput,
) -> Result<SignatureRow, LotDecisionError> {
    let action = decision(code, status)?;
    user.require(action.permission()).map_err(SignError::from)?;
    let id = store
        .lot_id(code)?
        .ok_or_else(|| LotDecisionError::UnknownLot(code.to_string()))?;
    let content = serde_json::json!({ "lot": code, "status": status.as_str() });
    let sig = sign(store, user, action, code, &content, input)?;
    Ok(store.set_lot_status_signed(id, status, &sig)?)
}

/// The signed action that sets lot `code` to `status` (only hold and release are decisions).
fn decision(code: &str, status: LotStatus) -> Result<SignedAction, LotDecisionError> {
    match status {
        LotStatus::Hold => Ok(SignedAction::HoldLot),
        LotStatus::Released => Ok(SignedAction::ReleaseLot),
        LotStatus::Open => Err(LotDecisionError::NotADecision(code.to_string())),
    }
}

/// `user`'s signature of `action` on lot `code`, bound to `content`.
fn sign(
    store: &mut Store,
    user: &AuthUser,
    action: SignedAction,
    code: &str,
    content: &serde_json::Value,
    input: &SignatureInput,
) -> Result<NewSignature, LotDecisionError> {
    Ok(signing::prepare(
        store,
        user,
        action,
        code,
        signing::content_hash(content),
        input,
    )?)
}

/// Put lot `code` on hold or release it at every station that has it, from the plant view:
/// `user` signs here (in `store`, the deciding PC's database) and the command waits in its
/// outbox for the plant's brokers. The lot is the plant's, so it is not looked up here; the
/// caller checks the plant database knows it.
pub fn decide_for_plant(
    store: &mut Store,
    user: &AuthUser,
    code: &str,
    status: LotStatus,
    input: &SignatureInput,
    origin: &str,
) -> Result<(SignatureRow, PlantLotCommand), LotDecisionError> {
    let action = decision(code, status)?;
    user.require(action.permission()).map_err(SignError::from)?;
    let content = serde_json::json!({ "lot": code, "status": status.as_str(), "scope": "plant" });
    let sig = sign(store, user, action, code, &content, input)?;
    Ok(store.queue_plant_lot_decision(status, &sig, origin)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::services::auth::testing::{signed, signed_in, station_with};

    #[test]
    fn a_qc_manager_holds_and_releases_with_a_signature_others_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = station_with(
            dir.path(),
            &[("qc.anna", Role::QcManager), ("op.jose", Role::Operator)],
        );
        let qc = signed_in(&mut store, "qc.anna");
        let op = signed_in(&mut store, "op.jose");
        store
            .get_or_create_lot("L42", "cookies", "L1", "A")
            .unwrap();
        let e = decide(&mut store, &op, "L42", LotStatus::Hold, &signed("x"));
        assert!(matches!(
            e,
            Err(LotDecisionError::Sign(SignError::Denied(_)))
        ));
        let e = decide(&mut store, &qc, "L99", LotStatus::Hold, &signed("x"));
        assert!(matches!(e, Err(LotDecisionError::UnknownLot(_))));
        let e = decide(&mut store, &qc, "L42", LotStatus::Open, &signed("x"));
        assert!(matches!(e, Err(LotDecisionError::NotADecision(_))));
        let sig = decide(&mut store, &qc, "L42", LotStatus::Hold, &signed("mould")).unwrap();
        assert_eq!(
            (sig.action.as_str(), sig.record_id.as_str()),
            ("lot.hold", "L42")
        );
        let lots = store.lot_dispositions(&["L42".to_string()]).unwrap();
        assert_eq!(lots[0].status, LotStatus::Hold);
        decide(
            &mut store,
            &qc,
            "L42",
            LotStatus::Released,
            &signed("lab ok"),
        )
        .unwrap();
        let sigs = store.signatures_for("lot", "L42", None).unwrap();
        let actions: Vec<_> = sigs.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(actions, ["lot.hold", "lot.release"]);
    }

    #[test]
    fn a_plant_decision_is_queued_with_its_signature_and_applied_once_where_the_lot_is() {
        let dir = tempfile::tempdir().unwrap();
        let mut qc_pc = station_with(
            &dir.path().join("qc"),
            &[("qc.anna", Role::QcManager), ("op.jose", Role::Operator)],
        );
        let qc = signed_in(&mut qc_pc, "qc.anna");
        let op = signed_in(&mut qc_pc, "op.jose");
        let e = decide_for_plant(&mut qc_pc, &op, "L7", LotStatus::Hold, &signed("x"), "pc");
        assert!(matches!(
            e,
            Err(LotDecisionError::Sign(SignError::Denied(_)))
        ));
        let (sig, command) = decide_for_plant(
            &mut qc_pc,
            &qc,
            "L7",
            LotStatus::Hold,
            &signed("moho"),
            "pc",
        )
        .unwrap();
        assert_eq!(command.id, format!("pc/{}", sig.id));
        // The command waits in the outbox, with the decision in the audit trail.
        let queued = qc_pc.outbox_pending(10).unwrap();
        let sent = queued
            .iter()
            .find(|r| r.topic == crate::store::plant_commands::COMMANDS_TOPIC)
            .unwrap();
        assert_eq!(sent.key, "L7");
        let back: PlantLotCommand = serde_json::from_str(&sent.payload).unwrap();
        assert_eq!(back, command);
        // Sealed by the deciding PC's key, over exactly what is sent.
        let key = crate::store::plant_key::TrustedKey {
            name: "calidad-pc".into(),
            key: qc_pc.plant_key().unwrap().public_key(),
            added_by: "admin".into(),
            added_at: 0,
        };
        let trusted = [key.clone()];
        let sealed = crate::store::plant_key::check(
            sent.seal.as_ref(),
            &sent.topic,
            sent.payload.as_bytes(),
            &trusted,
        );
        assert_eq!(sealed, Ok(&key));
        // A station with the lot applies it once; one without it does nothing.
        let mut station = station_with(&dir.path().join("st"), &[]);
        station
            .get_or_create_lot("L7", "galletas", "1", "A")
            .unwrap();
        let mut other = station_with(&dir.path().join("other"), &[]);
        assert!(!other.apply_plant_lot_command(&command, &key).unwrap());
        assert!(station.apply_plant_lot_command(&command, &key).unwrap());
        assert!(!station.apply_plant_lot_command(&command, &key).unwrap());
        let lots = station.lot_dispositions(&["L7".to_string()]).unwrap();
        assert_eq!(lots[0].status, LotStatus::Hold);
        let (who, _, why) = lots[0].last_change.clone().unwrap();
        assert_eq!((who.as_str(), why.as_str()), ("plant:qc.anna", "moho"));
        let applied = station
            .audit_entries(100)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "lot.status")
            .count();
        assert_eq!(applied, 1);
    }
}
