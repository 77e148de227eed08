//! Model versions: trained models on disk, their parameters and metrics, and which one is
//! active on the line.

use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::{Store, StoreError, audit::insert_audit, now_ms, path_text, sql_err};

/// A model version to register.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewModelVersion {
    /// Unique version string, e.g. `2024-06-12T0800-a1b2`.
    pub version: String,
    /// Model file or folder on disk.
    pub path: PathBuf,
    /// Kind of model, e.g. `svm`, `knn-patch`.
    pub kind: String,
    /// Training parameters.
    pub params: serde_json::Value,
    /// Evaluation metrics.
    pub metrics: serde_json::Value,
    /// What data it was trained on (sample ids, label counts, hashes...).
    pub data_snapshot: serde_json::Value,
}

/// One row of `model_versions`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelVersionRow {
    /// Row id.
    pub id: i64,
    /// Unique version string.
    pub version: String,
    /// Model file or folder on disk.
    pub path: PathBuf,
    /// Kind of model.
    pub kind: String,
    /// When it was registered (unix ms).
    pub created_at_ms: i64,
    /// Training parameters.
    pub params: serde_json::Value,
    /// Evaluation metrics.
    pub metrics: serde_json::Value,
    /// Training data snapshot.
    pub data_snapshot: serde_json::Value,
    /// True for the (at most one) model in use on the line.
    pub active: bool,
}

const MODEL_COLUMNS: &str = "id, version, path, kind, created_at, params_json, metrics_json, \
                             data_snapshot_json, active";

/// A model row with its JSON columns still as text.
type RawModel = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    bool,
);

fn raw_model(r: &Row<'_>) -> rusqlite::Result<RawModel> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn json_text(
    path: &Path,
    column: &'static str,
    v: &serde_json::Value,
) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Json {
        path: path.to_path_buf(),
        table: "model_versions",
        column,
        source,
    })
}

impl Store {
    fn model_row(&self, raw: RawModel) -> Result<ModelVersionRow, StoreError> {
        let (id, version, path, kind, created_at_ms, params, metrics, snapshot, active) = raw;
        let parse = |column: &'static str, text: &str| {
            serde_json::from_str(text).map_err(|source| StoreError::Json {
                path: self.path.clone(),
                table: "model_versions",
                column,
                source,
            })
        };
        Ok(ModelVersionRow {
            id,
            version,
            path: PathBuf::from(path),
            kind,
            created_at_ms,
            params: parse("params_json", &params)?,
            metrics: parse("metrics_json", &metrics)?,
            data_snapshot: parse("data_snapshot_json", &snapshot)?,
            active,
        })
    }

    /// Register a model version and return its id. Get-or-create by `version`: registering a
    /// version that exists returns the existing id and changes nothing. New versions start
    /// inactive; see [`Store::set_active_model`].
    pub fn register_model_version(&mut self, m: &NewModelVersion) -> Result<i64, StoreError> {
        let path = path_text(&m.path, "model_versions")?;
        let params_json = json_text(&self.path, "params_json", &m.params)?;
        let metrics_json = json_text(&self.path, "metrics_json", &m.metrics)?;
        let snapshot_json = json_text(&self.path, "data_snapshot_json", &m.data_snapshot)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (model_versions)"))?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM model_versions WHERE version = ?1",
                [&m.version],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(&self.path, "select from model_versions"))?;
        let id = match existing {
            Some(id) => id,
            None => tx
                .query_row(
                    "INSERT INTO model_versions (version, path, kind, created_at, params_json,
                         metrics_json, data_snapshot_json, active)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0) RETURNING id",
                    params![
                        m.version,
                        path,
                        m.kind,
                        now_ms(),
                        params_json,
                        metrics_json,
                        snapshot_json
                    ],
                    |r| r.get(0),
                )
                .map_err(sql_err(&self.path, "insert into model_versions"))?,
        };
        tx.commit()
            .map_err(sql_err(&self.path, "commit (model_versions)"))?;
        Ok(id)
    }

    /// Make `version_id` the one active model, in one transaction: the previous active model
    /// is cleared, the new one set, and an audit entry (`model.activate`, with the previous and
    /// new version) written. Fails with [`StoreError::NotFound`] for an unknown id (and then
    /// changes nothing).
    pub fn set_active_model(&mut self, version_id: i64, actor: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (model_versions)"))?;
        activate_in(&tx, &self.path, version_id, actor)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (model_versions)"))?;
        self.anchor_heads();
        Ok(())
    }

    /// The version that was active before the current one: the `previous_id` of the latest
    /// activation in the audit trail (what "roll back" returns to).
    pub fn previous_active_model(&self) -> Result<Option<i64>, StoreError> {
        let details: Option<String> = self
            .conn
            .query_row(
                "SELECT details_json FROM audit_log WHERE action = 'model.activate'
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(&self.path, "select from audit_log"))?;
        Ok(details
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .and_then(|v| v.get("previous_id").and_then(|p| p.as_i64())))
    }

    /// Every registered model version, newest first.
    pub fn list_model_versions(&self) -> Result<Vec<ModelVersionRow>, StoreError> {
        let err = || sql_err(&self.path, "select from model_versions");
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_versions ORDER BY id DESC");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let raw = stmt
            .query_map([], raw_model)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter().map(|r| self.model_row(r)).collect()
    }

    /// The active model version, if one is set.
    pub fn active_model(&self) -> Result<Option<ModelVersionRow>, StoreError> {
        let err = || sql_err(&self.path, "select from model_versions");
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_versions WHERE active = 1");
        let raw = self
            .conn
            .prepare_cached(&sql)
            .map_err(err())?
            .query_row([], raw_model)
            .optional()
            .map_err(err())?;
        raw.map(|r| self.model_row(r)).transpose()
    }
}

/// Make `version_id` the active model and audit it (`model.activate`) on `tx`, inside the
/// caller's transaction.
pub(crate) fn activate_in(
    tx: &rusqlite::Connection,
    path: &std::path::Path,
    version_id: i64,
    actor: &str,
) -> Result<(), StoreError> {
    let version: Option<String> = tx
        .query_row(
            "SELECT version FROM model_versions WHERE id = ?1",
            [version_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err(path, "select from model_versions"))?;
    let Some(version) = version else {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
            table: "model_versions",
            id: version_id,
        });
    };
    let previous: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, version FROM model_versions WHERE active = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql_err(path, "select from model_versions"))?;
    // Clear first: the partial unique index allows only one row with active = 1.
    tx.execute("UPDATE model_versions SET active = 0 WHERE active = 1", [])
        .map_err(sql_err(path, "update model_versions"))?;
    tx.execute(
        "UPDATE model_versions SET active = 1 WHERE id = ?1",
        [version_id],
    )
    .map_err(sql_err(path, "update model_versions"))?;
    let details = serde_json::json!({
        "model_version_id": version_id,
        "version": version,
        "previous_id": previous.as_ref().map(|p| p.0),
        "previous_version": previous.map(|p| p.1),
    });
    insert_audit(tx, path, actor, "model.activate", &details)?;
    Ok(())
}
