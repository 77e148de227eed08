//! Holding and releasing a lot: a QC manager's decision, signed (password again, reason) and
//! bound to the lot code and the status change it makes.

use crate::domain::SignedAction;
use crate::services::auth::AuthUser;
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::{LotStatus, SignatureRow, Store, StoreError};
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
    let action = match status {
        LotStatus::Hold => SignedAction::HoldLot,
        LotStatus::Released => SignedAction::ReleaseLot,
        LotStatus::Open => return Err(LotDecisionError::NotADecision(code.to_string())),
    };
    user.require(action.permission()).map_err(SignError::from)?;
    let id = store
        .lot_id(code)?
        .ok_or_else(|| LotDecisionError::UnknownLot(code.to_string()))?;
    let content = serde_json::json!({ "lot": code, "status": status.as_str() });
    let sig = signing::prepare(
        store,
        user,
        action,
        code,
        signing::content_hash(&content),
        input,
    )?;
    Ok(store.set_lot_status_signed(id, status, &sig)?)
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
}
