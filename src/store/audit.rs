//! The append-only audit log: who changed what, when.
//!
//! The schema refuses UPDATE and DELETE on `audit_log` with triggers, so an entry, once
//! written, stays as written.

use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Store, StoreError, now_ms, sql_err};

/// One row of `audit_log`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Row id (increases with every entry).
    pub id: i64,
    /// When it happened (unix ms).
    pub ts_ms: i64,
    /// Who did it (operator name, or `system`).
    pub actor: String,
    /// What was done, dotted, e.g. `lot.status`, `model.activate`, `label.add`.
    pub action: String,
    /// Details of the action.
    pub details: serde_json::Value,
}

/// Append an audit entry on `conn` (typically inside the caller's transaction, so the entry
/// is written if and only if the change it describes is).
pub(crate) fn insert_audit(
    conn: &Connection,
    path: &Path,
    actor: &str,
    action: &str,
    details: &serde_json::Value,
) -> Result<i64, StoreError> {
    let details = serde_json::to_string(details).map_err(|source| StoreError::Json {
        path: path.to_path_buf(),
        table: "audit_log",
        column: "details_json",
        source,
    })?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO audit_log (ts, actor, action, details_json) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql_err(path, "insert into audit_log"))?;
    stmt.execute(params![now_ms(), actor, action, details])
        .map_err(sql_err(path, "insert into audit_log"))?;
    Ok(conn.last_insert_rowid())
}

impl Store {
    /// Append an audit entry (`actor` and `action` must not be empty). Returns its id.
    pub fn audit(
        &mut self,
        actor: &str,
        action: &str,
        details: serde_json::Value,
    ) -> Result<i64, StoreError> {
        insert_audit(&self.conn, &self.path, actor, action, &details)
    }

    /// The latest `limit` audit entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let err = || sql_err(&self.path, "select from audit_log");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, ts, actor, action, details_json FROM audit_log
                 ORDER BY id DESC LIMIT ?1",
            )
            .map_err(err())?;
        let raw = stmt
            .query_map([limit_param(limit)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter()
            .map(|(id, ts_ms, actor, action, details)| {
                let details =
                    serde_json::from_str(&details).map_err(|source| StoreError::Json {
                        path: self.path.clone(),
                        table: "audit_log",
                        column: "details_json",
                        source,
                    })?;
                Ok(AuditEntry {
                    id,
                    ts_ms,
                    actor,
                    action,
                    details,
                })
            })
            .collect()
    }
}

/// A `usize` limit as an SQL integer (saturating: "no limit" stays huge).
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
