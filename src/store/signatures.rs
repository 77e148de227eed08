//! Electronic signatures: append-only rows naming the signer (login and printed name, role),
//! the time, the meaning, the reason and the signed record with its content hash. Each
//! signature is written with an audit entry in the same transaction, and with the change it
//! approves where there is one ([`Store::activate_model_signed`],
//! [`Store::apply_thresholds_signed`], [`Store::set_lot_status_signed`]): a change and its
//! signature exist together or not at all.
//!
//! Checking the password and the role is the services' job; this module stores what they
//! decided.

use rusqlite::{Connection, Row, TransactionBehavior, params};
use serde::Serialize;

use crate::domain::{Meaning, Role, SignedAction, Thresholds};

use super::audit::insert_audit;
use super::models::activate_in;
use super::stations::{LotStatus, set_lot_status_in};
use super::thresholds::apply_thresholds_in;
use super::{Store, StoreError, now_ms, sql_err};

/// A signature to write: who signs, what, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSignature {
    /// `users.id` of the signer.
    pub user_id: i64,
    /// Login name.
    pub signer: String,
    /// Printed name.
    pub display_name: String,
    /// Role at signing.
    pub role: Role,
    /// What is signed for (its meaning and record kind follow from it).
    pub action: SignedAction,
    /// Which record (a model version id, a lot code, a report's key).
    pub record_id: String,
    /// blake3 (hex) of the record's content: the signature belongs to exactly that content.
    pub content_hash: String,
    /// Why (required).
    pub reason: String,
}

/// A stored signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureRow {
    /// Row id.
    pub id: i64,
    /// When (unix ms, UTC).
    pub ts_ms: i64,
    /// `users.id` of the signer.
    pub user_id: i64,
    /// Login name.
    pub signer: String,
    /// Printed name.
    pub display_name: String,
    /// Role at signing.
    pub role: String,
    /// `performed`, `reviewed` or `approved`.
    pub meaning: String,
    /// The signed action (`model.approve`, …).
    pub action: String,
    /// Kind of record (`model_version`, `threshold_setting`, `lot`, `shift_report`).
    pub record_kind: String,
    /// Which record.
    pub record_id: String,
    /// blake3 (hex) of the signed content.
    pub content_hash: String,
    /// Why.
    pub reason: String,
    /// The audit entry written with it.
    pub audit_id: i64,
}

impl SignatureRow {
    /// The meaning, when it is one of the three.
    pub fn meaning(&self) -> Option<Meaning> {
        Meaning::parse(&self.meaning)
    }
}

const SIGNATURE_COLUMNS: &str = "id, ts, user_id, signer, display_name, role, meaning, action, \
     record_kind, record_id, content_hash, reason, audit_id";

fn signature_from_row(r: &Row<'_>) -> rusqlite::Result<SignatureRow> {
    Ok(SignatureRow {
        id: r.get(0)?,
        ts_ms: r.get(1)?,
        user_id: r.get(2)?,
        signer: r.get(3)?,
        display_name: r.get(4)?,
        role: r.get(5)?,
        meaning: r.get(6)?,
        action: r.get(7)?,
        record_kind: r.get(8)?,
        record_id: r.get(9)?,
        content_hash: r.get(10)?,
        reason: r.get(11)?,
        audit_id: r.get(12)?,
    })
}

fn check(path: &std::path::Path, sig: &NewSignature) -> Result<(), StoreError> {
    let invalid = |column: &'static str, value: &str| StoreError::InvalidValue {
        path: path.to_path_buf(),
        table: "signatures",
        column,
        value: value.to_string(),
    };
    let hex = |s: &str| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if !hex(&sig.content_hash) {
        return Err(invalid("content_hash", &sig.content_hash));
    }
    if sig.reason.trim().is_empty() {
        return Err(invalid("reason", &sig.reason));
    }
    if sig.record_id.trim().is_empty() {
        return Err(invalid("record_id", &sig.record_id));
    }
    Ok(())
}

/// Write `sig` and its audit entry (`signature`, with every field) on `conn`, inside the
/// caller's transaction.
pub(crate) fn insert_signature(
    conn: &Connection,
    path: &std::path::Path,
    sig: &NewSignature,
) -> Result<SignatureRow, StoreError> {
    check(path, sig)?;
    let ts = now_ms();
    let action = sig.action;
    let details = serde_json::json!({
        "signer": sig.signer,
        "display_name": sig.display_name,
        "role": sig.role.as_str(),
        "meaning": action.meaning().as_str(),
        "action": action.as_str(),
        "record_kind": action.record_kind(),
        "record_id": sig.record_id,
        "content_hash": sig.content_hash,
        "reason": sig.reason.trim(),
        "signed_at_ms": ts,
    });
    let audit_id = insert_audit(conn, path, &sig.signer, "signature", &details)?;
    let id: i64 = conn
        .query_row(
            "INSERT INTO signatures (ts, user_id, signer, display_name, role, meaning, action,
                 record_kind, record_id, content_hash, reason, audit_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
            params![
                ts,
                sig.user_id,
                sig.signer,
                sig.display_name,
                sig.role.as_str(),
                action.meaning().as_str(),
                action.as_str(),
                action.record_kind(),
                sig.record_id,
                sig.content_hash,
                sig.reason.trim(),
                audit_id
            ],
            |r| r.get(0),
        )
        .map_err(sql_err(path, "insert into signatures"))?;
    Ok(SignatureRow {
        id,
        ts_ms: ts,
        user_id: sig.user_id,
        signer: sig.signer.clone(),
        display_name: sig.display_name.clone(),
        role: sig.role.as_str().to_string(),
        meaning: action.meaning().as_str().to_string(),
        action: action.as_str().to_string(),
        record_kind: action.record_kind().to_string(),
        record_id: sig.record_id.clone(),
        content_hash: sig.content_hash.clone(),
        reason: sig.reason.trim().to_string(),
        audit_id,
    })
}

impl Store {
    /// Write a signature that approves no stored change by itself (a proposal, a closed
    /// report), with its audit entry, in one transaction.
    pub fn sign(&mut self, sig: &NewSignature) -> Result<SignatureRow, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (signatures)"))?;
        let row = insert_signature(&tx, &self.path, sig)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (signatures)"))?;
        self.anchor_heads();
        Ok(row)
    }

    /// Make `version_id` the active model with `signatures` (the approval, and an override
    /// where the acceptance criteria failed), all in one transaction with the activation's
    /// audit entry, which is recorded under the first signer.
    pub fn activate_model_signed(
        &mut self,
        version_id: i64,
        signatures: &[NewSignature],
    ) -> Result<Vec<SignatureRow>, StoreError> {
        let actor = signatures
            .first()
            .map(|s| s.signer.clone())
            .ok_or_else(|| StoreError::InvalidValue {
                path: self.path.clone(),
                table: "signatures",
                column: "signer",
                value: String::new(),
            })?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (model_versions)"))?;
        let rows = signatures
            .iter()
            .map(|s| insert_signature(&tx, &self.path, s))
            .collect::<Result<Vec<_>, _>>()?;
        activate_in(&tx, &self.path, version_id, &actor)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (model_versions)"))?;
        self.anchor_heads();
        Ok(rows)
    }

    /// Apply a threshold setting with its signature, in one transaction (see
    /// [`Store::apply_thresholds`]). Returns the setting's id and the signature.
    pub fn apply_thresholds_signed(
        &mut self,
        model_version_id: i64,
        thresholds: &Thresholds,
        previous: &Thresholds,
        sig: &NewSignature,
    ) -> Result<(i64, SignatureRow), StoreError> {
        let old = self.thresholds_before(model_version_id, thresholds, previous)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (model_thresholds)"))?;
        let row = insert_signature(&tx, &self.path, sig)?;
        let id = apply_thresholds_in(
            &tx,
            &self.path,
            model_version_id,
            thresholds,
            &old,
            &sig.signer,
            &sig.reason,
        )?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (model_thresholds)"))?;
        self.anchor_heads();
        Ok((id, row))
    }

    /// Hold or release a lot with its signature, in one transaction (see
    /// [`Store::set_lot_status`]).
    pub fn set_lot_status_signed(
        &mut self,
        lot_id: i64,
        status: LotStatus,
        sig: &NewSignature,
    ) -> Result<SignatureRow, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (lots)"))?;
        let row = insert_signature(&tx, &self.path, sig)?;
        set_lot_status_in(
            &tx,
            &self.path,
            lot_id,
            status,
            &sig.signer,
            &sig.reason,
            None,
        )?;
        tx.commit().map_err(sql_err(&self.path, "commit (lots)"))?;
        self.anchor_heads();
        Ok(row)
    }

    /// The signatures on one record (`action` narrows to one signed action), oldest first.
    pub fn signatures_for(
        &self,
        record_kind: &str,
        record_id: &str,
        action: Option<SignedAction>,
    ) -> Result<Vec<SignatureRow>, StoreError> {
        let err = || sql_err(&self.path, "select from signatures");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SIGNATURE_COLUMNS} FROM signatures
                 WHERE record_kind = ?1 AND record_id = ?2 AND (?3 IS NULL OR action = ?3)
                 ORDER BY id"
            ))
            .map_err(err())?;
        stmt.query_map(
            params![record_kind, record_id, action.map(|a| a.as_str())],
            signature_from_row,
        )
        .map_err(err())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err())
    }

    /// The newest `limit` signatures, newest first.
    pub fn recent_signatures(&self, limit: usize) -> Result<Vec<SignatureRow>, StoreError> {
        let err = || sql_err(&self.path, "select from signatures");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SIGNATURE_COLUMNS} FROM signatures ORDER BY id DESC LIMIT ?1"
            ))
            .map_err(err())?;
        stmt.query_map([limit as i64], signature_from_row)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())
    }

    /// When `version_id` was last made active (unix ms of its `model.activate` entry).
    pub fn last_activation_ms(&self, version_id: i64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT max(ts) FROM audit_log WHERE action = 'model.activate'
                   AND json_extract(details_json, '$.model_version_id') = ?1",
                [version_id],
                |r| r.get(0),
            )
            .map_err(sql_err(&self.path, "select from audit_log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewModelVersion, NewUser};

    fn store_with_user(dir: &std::path::Path) -> (Store, i64) {
        let mut store = Store::open(&dir.join("db.sqlite")).unwrap();
        let user = store
            .insert_user(
                "admin",
                &NewUser {
                    name: "qc.anna",
                    display_name: "Ana Quispe",
                    role: Role::QcManager,
                    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                    service: false,
                },
            )
            .unwrap();
        (store, user.id)
    }

    fn sig(user_id: i64, action: SignedAction, record: &str) -> NewSignature {
        NewSignature {
            user_id,
            signer: "qc.anna".into(),
            display_name: "Ana Quispe".into(),
            role: Role::QcManager,
            action,
            record_id: record.into(),
            content_hash: "ab".repeat(32),
            reason: "  checked the comparison  ".into(),
        }
    }

    #[test]
    fn a_signature_is_stored_with_its_meaning_and_audited_and_cannot_be_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, uid) = store_with_user(dir.path());
        let row = store
            .sign(&sig(uid, SignedAction::CloseShiftReport, "L1/2026-12-06/A"))
            .unwrap();
        assert_eq!(row.meaning(), Some(Meaning::Reviewed));
        assert_eq!(row.reason, "checked the comparison");
        let found = store
            .signatures_for("shift_report", "L1/2026-12-06/A", None)
            .unwrap();
        assert_eq!(found, vec![row.clone()]);
        let audit = store.audit_entries(5).unwrap();
        let e = audit.iter().find(|e| e.id == row.audit_id).unwrap();
        assert_eq!(e.action, "signature");
        assert_eq!(e.actor, "qc.anna");
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        let upd = conn.execute("UPDATE signatures SET reason = 'x'", []);
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let del = conn.execute("DELETE FROM signatures", []);
        assert!(del.unwrap_err().to_string().contains("append-only"));
    }

    #[test]
    fn a_blank_reason_or_a_bad_hash_is_refused_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, uid) = store_with_user(dir.path());
        let mut s = sig(uid, SignedAction::HoldLot, "L42");
        s.reason = "   ".into();
        assert!(matches!(
            store.sign(&s),
            Err(StoreError::InvalidValue {
                column: "reason",
                ..
            })
        ));
        let mut s = sig(uid, SignedAction::HoldLot, "L42");
        s.content_hash = "XYZ".into();
        assert!(matches!(
            store.sign(&s),
            Err(StoreError::InvalidValue {
                column: "content_hash",
                ..
            })
        ));
        assert!(store.recent_signatures(10).unwrap().is_empty());
    }

    #[test]
    fn an_activation_and_its_signature_are_written_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, uid) = store_with_user(dir.path());
        let id = store
            .register_model_version(&NewModelVersion {
                version: "v1".into(),
                path: dir.path().join("v1.json"),
                kind: "test".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({}),
                data_snapshot: serde_json::json!({}),
            })
            .unwrap();
        // An unknown version: no signature either.
        let bad = store.activate_model_signed(999, &[sig(uid, SignedAction::ApproveModel, "999")]);
        assert!(matches!(bad, Err(StoreError::NotFound { .. })));
        assert!(store.recent_signatures(10).unwrap().is_empty());
        let rows = store
            .activate_model_signed(id, &[sig(uid, SignedAction::ApproveModel, &id.to_string())])
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(store.active_model().unwrap().unwrap().id, id);
        assert!(store.last_activation_ms(id).unwrap().is_some());
        assert!(store.last_activation_ms(id + 1).unwrap().is_none());
    }
}
