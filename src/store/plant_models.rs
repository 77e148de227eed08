//! Model versions the plant sends to the stations of a recipe. The publishing PC signs the
//! release and, in the same transaction, audits it and puts the model's files in its outbox
//! as `foodqc.model/1` parts (topic `foodqc.models`, key = the recipe), so a release cannot be
//! recorded without being sent, nor sent without being recorded. A model is usually larger
//! than a Kafka message may be, hence the parts. A station keeps the parts it receives in
//! `plant_model_parts` until the version is whole; then the version is applied once (a new
//! version of the recipe naming the model, audited with the release's id) or refused.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::audit::insert_audit;
use super::outbox::insert_sealed;
use super::plant_key::fingerprint;
use super::recipes::{StoredRecipe, insert_recipe_version};
use super::signatures::{NewSignature, SignatureRow, insert_signature};
use super::{Store, StoreError, now_ms, sql_err};
use crate::domain::Recipe;

/// The topic of the model versions the plant sends to its stations.
pub const MODELS_TOPIC: &str = "foodqc.models";

/// Schema name of a model part message.
pub const MODEL_SCHEMA: &str = "foodqc.model/1";

/// The most model bytes one message carries (before base64): well under the 1 MB a Kafka
/// message may have by default, so no broker or client setting needs raising.
pub const MODEL_PART_BYTES: usize = 64 * 1024;

/// What every part of a released model version says about the release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlantModelRelease {
    /// `foodqc.model/1`.
    pub schema: String,
    /// Unique id: the publishing PC and its signature's row id (`qc-pc/18`).
    pub id: String,
    /// The recipe whose stations take the model.
    pub recipe: String,
    /// The model version.
    pub version: String,
    /// Its kind (`patchcore`, ...).
    pub kind: String,
    /// Its training parameters.
    pub params: serde_json::Value,
    /// Its evaluation metrics.
    pub metrics: serde_json::Value,
    /// What it was trained on.
    pub data_snapshot: serde_json::Value,
    /// blake3 (hex) over the version and its files, as the promotion signatures bind it.
    pub content_hash: String,
    /// Length of the model file; the data is the model file then the classifier file.
    pub model_bytes: u64,
    /// Length of the classifier file saved beside the model (0: none).
    pub classifier_bytes: u64,
    /// Who signed the release (login).
    pub signer: String,
    /// Their printed name.
    pub display_name: String,
    /// Why.
    pub reason: String,
    /// When signed (unix ms).
    pub signed_at: i64,
    /// The publishing PC.
    pub origin: String,
}

/// One message of a release: the release and a slice of its files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlantModelPart {
    /// The release.
    #[serde(flatten)]
    pub release: PlantModelRelease,
    /// Which part, from 0.
    pub part: u32,
    /// How many parts the release has.
    pub parts: u32,
    /// The part's bytes, base64 (standard alphabet, padded).
    pub data: String,
}

/// A model version to release to a recipe's stations: its row's facts and its files' bytes.
#[derive(Clone, Debug)]
pub struct ModelShipment<'a> {
    /// The recipe.
    pub recipe: &'a str,
    /// The model version.
    pub version: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// Its training parameters.
    pub params: &'a serde_json::Value,
    /// Its evaluation metrics.
    pub metrics: &'a serde_json::Value,
    /// What it was trained on.
    pub data_snapshot: &'a serde_json::Value,
    /// blake3 over the version and the files (the signatures' content hash).
    pub content_hash: &'a str,
    /// The model file.
    pub model: &'a [u8],
    /// The classifier file beside it, if any.
    pub classifier: Option<&'a [u8]>,
}

/// Audit actions that settle a release at a station: it is not looked at again.
const SETTLED: &str = "('plant.model.apply', 'plant.model.refuse')";

impl Store {
    /// Record the release of `m` to the stations of its recipe, signed by `sig`, and queue
    /// its parts (see the module docs). The signature, the release and the number of parts.
    pub fn queue_plant_model(
        &mut self,
        m: &ModelShipment<'_>,
        sig: &NewSignature,
        origin: &str,
    ) -> Result<(SignatureRow, PlantModelRelease, u32), StoreError> {
        use base64::Engine as _;
        let path = self.path.clone();
        // Before the transaction: made on first use, a file beside the database.
        let key = self.plant_key()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&path, "begin (model release)"))?;
        let row = insert_signature(&tx, &path, sig)?;
        let release = PlantModelRelease {
            schema: MODEL_SCHEMA.into(),
            id: format!("{origin}/{}", row.id),
            recipe: m.recipe.to_string(),
            version: m.version.to_string(),
            kind: m.kind.to_string(),
            params: m.params.clone(),
            metrics: m.metrics.clone(),
            data_snapshot: m.data_snapshot.clone(),
            content_hash: m.content_hash.to_string(),
            model_bytes: m.model.len() as u64,
            classifier_bytes: m.classifier.map_or(0, |c| c.len() as u64),
            signer: sig.signer.clone(),
            display_name: sig.display_name.clone(),
            reason: sig.reason.clone(),
            signed_at: row.ts_ms,
            origin: origin.to_string(),
        };
        let mut bytes = m.model.to_vec();
        bytes.extend_from_slice(m.classifier.unwrap_or_default());
        let chunks: Vec<&[u8]> = bytes.chunks(MODEL_PART_BYTES).collect();
        let parts = u32::try_from(chunks.len().max(1)).map_err(|_| StoreError::InvalidValue {
            path: path.clone(),
            table: "outbox",
            column: "payload",
            value: format!("a model of {} bytes", bytes.len()),
        })?;
        let details = serde_json::json!({
            "command": release.id,
            "recipe": release.recipe,
            "version": release.version,
            "content_hash": release.content_hash,
            "bytes": bytes.len(),
            "parts": parts,
            "comment": release.reason,
            "key": fingerprint(&key.public_key()),
        });
        insert_audit(&tx, &path, &sig.signer, "plant.model.publish", &details)?;
        let now = now_ms();
        let empty: [&[u8]; 1] = [&[]];
        let slices = if chunks.is_empty() {
            &empty[..]
        } else {
            &chunks[..]
        };
        for (i, chunk) in slices.iter().enumerate() {
            let part = PlantModelPart {
                release: release.clone(),
                part: i as u32,
                parts,
                data: base64::engine::general_purpose::STANDARD.encode(chunk),
            };
            let payload = serde_json::to_string(&part).map_err(|e| StoreError::Json {
                path: path.clone(),
                table: "outbox",
                column: "payload",
                source: e,
            })?;
            let message = (MODELS_TOPIC, release.recipe.as_str(), payload.as_str());
            insert_sealed(&tx, &path, &key, message, now)?;
        }
        tx.commit()
            .map_err(sql_err(&path, "commit (model release)"))?;
        self.anchor_heads();
        Ok((row, release, parts))
    }

    /// True when release `id` was applied or refused here already.
    pub fn plant_model_settled(&self, id: &str) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT 1 FROM audit_log WHERE action IN {SETTLED}
             AND json_extract(details_json, '$.command') = ?1 LIMIT 1"
        );
        Ok(self
            .conn
            .query_row(&sql, [id], |_| Ok(()))
            .optional()
            .map_err(sql_err(&self.path, "select from audit_log"))?
            .is_some())
    }

    /// Keep `part` until its release is whole (a part received twice is kept once); how many
    /// of the release's parts are here now.
    pub fn keep_plant_model_part(&mut self, part: &PlantModelPart) -> Result<u32, StoreError> {
        let release = serde_json::to_string(&part.release).map_err(|e| StoreError::Json {
            path: self.path.clone(),
            table: "plant_model_parts",
            column: "release_json",
            source: e,
        })?;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO plant_model_parts
                 (command, part, parts, release_json, data, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    part.release.id,
                    part.part,
                    part.parts,
                    release,
                    part.data,
                    now_ms()
                ],
            )
            .map_err(sql_err(&self.path, "insert into plant_model_parts"))?;
        self.conn
            .query_row(
                "SELECT count(*) FROM plant_model_parts WHERE command = ?1",
                [&part.release.id],
                |r| r.get(0),
            )
            .map_err(sql_err(&self.path, "count plant_model_parts"))
    }

    /// The data of release `id`'s parts received so far, in order.
    pub fn plant_model_part_data(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM plant_model_parts WHERE command = ?1 ORDER BY part")
            .map_err(sql_err(&self.path, "select from plant_model_parts"))?;
        stmt.query_map([id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(sql_err(&self.path, "select from plant_model_parts"))
    }

    /// Apply release `r`, whose model is registered here: a new version of its recipe
    /// naming the model (by `plant:<signer>`, thresholds back to the model's own, since
    /// another model scores on another scale) and a `plant.model.apply` audit entry, in one
    /// transaction; the parts go. None when it was settled already or the recipe is not
    /// here.
    pub fn apply_plant_model(
        &mut self,
        r: &PlantModelRelease,
    ) -> Result<Option<StoredRecipe>, StoreError> {
        let path = self.path.clone();
        let settled = self.plant_model_settled(&r.id)?;
        let current = self.recipe(&r.recipe)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&path, "begin (model release)"))?;
        tx.execute("DELETE FROM plant_model_parts WHERE command = ?1", [&r.id])
            .map_err(sql_err(&path, "delete from plant_model_parts"))?;
        let saved = match (settled, current) {
            (false, Some(current)) => {
                let recipe = Recipe {
                    model_version: Some(r.version.clone()),
                    thresholds: None,
                    ..current.recipe.clone()
                };
                let origin = serde_json::json!({
                    "command": r.id,
                    "signed_by": r.display_name,
                    "signed_at": r.signed_at,
                    "origin": r.origin,
                    "comment": r.reason,
                });
                let actor = format!("plant:{}", r.signer);
                let saved = insert_recipe_version(&tx, &path, &recipe, &actor, Some(&origin))?;
                let details = serde_json::json!({
                    "command": r.id,
                    "recipe": r.recipe,
                    "recipe_version": saved.recipe.version,
                    "version": r.version,
                    "content_hash": r.content_hash,
                    "signed_by": r.display_name,
                    "signed_at": r.signed_at,
                    "origin": r.origin,
                    "comment": r.reason,
                });
                insert_audit(&tx, &path, &actor, "plant.model.apply", &details)?;
                Some(saved)
            }
            _ => None,
        };
        tx.commit()
            .map_err(sql_err(&path, "commit (model release)"))?;
        self.anchor_heads();
        Ok(saved)
    }

    /// Refuse release `r` here for reason `why` (a `plant.model.refuse` audit entry by
    /// `actor`, the station); its parts go.
    pub fn refuse_plant_model(
        &mut self,
        r: &PlantModelRelease,
        why: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&path, "begin (model release)"))?;
        tx.execute("DELETE FROM plant_model_parts WHERE command = ?1", [&r.id])
            .map_err(sql_err(&path, "delete from plant_model_parts"))?;
        let details = serde_json::json!({
            "command": r.id,
            "recipe": r.recipe,
            "version": r.version,
            "content_hash": r.content_hash,
            "signed_by": r.display_name,
            "origin": r.origin,
            "why": why,
        });
        insert_audit(&tx, &path, actor, "plant.model.refuse", &details)?;
        tx.commit()
            .map_err(sql_err(&path, "commit (model release)"))?;
        self.anchor_heads();
        Ok(())
    }
}
