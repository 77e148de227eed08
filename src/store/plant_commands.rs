//! Lot decisions made from the plant view. The deciding PC signs the decision and, in the same
//! transaction, audits it and puts its command message in the outbox (topic
//! `foodqc.commands`, key = the lot code), so a decision cannot be recorded without being
//! sent, nor sent without being recorded. Each station that has the lot applies the command
//! once: its `lot.status` audit entry names the command, and a command seen again is skipped.

use rusqlite::{OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::audit::insert_audit;
use super::outbox::insert_sealed;
use super::plant_key::{TrustedKey, fingerprint};
use super::signatures::{NewSignature, SignatureRow, insert_signature};
use super::stations::{LotStatus, set_lot_status_in};
use super::{Store, StoreError, now_ms, sql_err};

/// The topic of the plant's commands to its stations.
pub const COMMANDS_TOPIC: &str = "foodqc.commands";

/// A lot decision as the plant sends it to the stations (`foodqc.command/1`, kind
/// `lot.status`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlantLotCommand {
    /// `foodqc.command/1`.
    pub schema: String,
    /// Unique id: the deciding PC and its signature's row id (`qc-pc/17`).
    pub id: String,
    /// `lot.status`.
    pub kind: String,
    /// Lot code.
    pub lot: String,
    /// `hold` or `released`.
    pub status: String,
    /// Who signed (login).
    pub signer: String,
    /// Their printed name.
    pub display_name: String,
    /// Why.
    pub reason: String,
    /// When signed (unix ms).
    pub signed_at: i64,
    /// The deciding PC.
    pub origin: String,
}

impl Store {
    /// Record a plant decision on lot `sig.record_id` signed by `sig`, and queue its command
    /// for the stations (see the module docs). The signature and the command.
    pub fn queue_plant_lot_decision(
        &mut self,
        status: LotStatus,
        sig: &NewSignature,
        origin: &str,
    ) -> Result<(SignatureRow, PlantLotCommand), StoreError> {
        // Before the transaction: made on first use, a file beside the database.
        let key = self.plant_key()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (plant decision)"))?;
        let row = insert_signature(&tx, &self.path, sig)?;
        let command = PlantLotCommand {
            schema: "foodqc.command/1".into(),
            id: format!("{origin}/{}", row.id),
            kind: "lot.status".into(),
            lot: sig.record_id.clone(),
            status: status.as_str().into(),
            signer: sig.signer.clone(),
            display_name: sig.display_name.clone(),
            reason: sig.reason.clone(),
            signed_at: row.ts_ms,
            origin: origin.to_string(),
        };
        let details = serde_json::json!({
            "code": command.lot,
            "to": command.status,
            "comment": command.reason,
            "command": command.id,
            "key": fingerprint(&key.public_key()),
        });
        insert_audit(&tx, &self.path, &sig.signer, "plant.lot.status", &details)?;
        let payload = serde_json::to_string(&command).map_err(|e| StoreError::Json {
            path: self.path.clone(),
            table: "outbox",
            column: "payload",
            source: e,
        })?;
        let message = (COMMANDS_TOPIC, command.lot.as_str(), payload.as_str());
        insert_sealed(&tx, &self.path, &key, message, now_ms())?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (plant decision)"))?;
        self.anchor_heads();
        Ok((row, command))
    }

    /// Apply a plant lot decision, sealed by trusted key `key`, here: true when this station
    /// has the lot and had not applied the command yet. The `lot.status` audit entry's actor
    /// is `plant:<signer>`; it names the key.
    pub fn apply_plant_lot_command(
        &mut self,
        c: &PlantLotCommand,
        key: &TrustedKey,
    ) -> Result<bool, StoreError> {
        let Some(status) = LotStatus::parse(&c.status).filter(|s| *s != LotStatus::Open) else {
            return Err(StoreError::InvalidValue {
                path: self.path.clone(),
                table: "lots",
                column: "status",
                value: c.status.clone(),
            });
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (plant command)"))?;
        let lot_id: Option<i64> = tx
            .query_row("SELECT id FROM lots WHERE code = ?1", [&c.lot], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_err(&self.path, "select from lots"))?;
        let Some(lot_id) = lot_id else {
            return Ok(false);
        };
        let applied = tx
            .query_row(
                "SELECT 1 FROM audit_log
                 WHERE action = 'lot.status' AND json_extract(details_json, '$.command') = ?1",
                [&c.id],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql_err(&self.path, "select from audit_log"))?
            .is_some();
        if applied {
            return Ok(false);
        }
        let extra = serde_json::json!({
            "command": c.id,
            "signed_by": c.display_name,
            "signed_at": c.signed_at,
            "origin": c.origin,
            "sealed_by": key.name,
            "key": fingerprint(&key.key),
        });
        let actor = format!("plant:{}", c.signer);
        set_lot_status_in(
            &tx,
            &self.path,
            lot_id,
            status,
            &actor,
            &c.reason,
            Some(&extra),
        )?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (plant command)"))?;
        self.anchor_heads();
        Ok(true)
    }
}
