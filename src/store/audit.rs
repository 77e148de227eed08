//! The append-only audit log: who changed what, when.
//!
//! The schema refuses UPDATE and DELETE on `audit_log` with triggers, so an entry, once
//! written, stays as written; and since triggers can be dropped, each entry is also chained to
//! the one before it by a keyed hash (see [`super::chain`]), which `foodqc audit verify`
//! checks.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::chain::{self, AuditRecord, ChainKey, Hash};
use super::{Store, StoreError, audit_key, now_ms, sql_err};

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
    /// The entry's chain hash (hex), `None` for an entry written before the chain existed.
    pub hash: Option<String>,
}

/// Which audit entries [`Store::audit_list`] returns (all given conditions hold).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// This action, or one below it (`lot` matches `lot.status`).
    pub action: Option<String>,
    /// From this time on (unix ms, inclusive).
    pub from_ms: Option<i64>,
    /// Before this time (unix ms, exclusive).
    pub to_ms: Option<i64>,
    /// At most this many, the newest.
    pub limit: usize,
}

/// The process's chain keys by key file (read or created once; see [`audit_key`]).
static KEYS: Mutex<Vec<(PathBuf, ChainKey)>> = Mutex::new(Vec::new());

/// The chain key of the database at `path`, created on first use.
pub(crate) fn chain_key(path: &Path) -> Result<ChainKey, StoreError> {
    let key_path = audit_key::key_path(path);
    let mut keys = KEYS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, k)) = keys.iter().find(|(p, _)| *p == key_path) {
        return Ok(k.clone());
    }
    let k = audit_key::load_or_create_key(&key_path)?;
    keys.push((key_path, k.clone()));
    Ok(k)
}

/// `(max id, hash of the newest hashed entry)` of `audit_log`.
fn audit_tip(conn: &Connection, path: &Path) -> Result<(Option<i64>, Option<Vec<u8>>), StoreError> {
    conn.prepare_cached(
        "SELECT (SELECT max(id) FROM audit_log),
                (SELECT hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1)",
    )
    .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
    .map_err(sql_err(path, "select from audit_log"))
}

/// Every row of `audit_log` as the chain sees it, in id order.
pub(crate) fn audit_records(
    conn: &Connection,
    path: &Path,
) -> Result<Vec<AuditRecord>, StoreError> {
    let err = || sql_err(path, "select from audit_log");
    let mut stmt = conn
        .prepare(
            "SELECT id, ts, actor, action, details_json, prev_hash, hash FROM audit_log
             ORDER BY id",
        )
        .map_err(err())?;
    stmt.query_map([], |r| {
        Ok(AuditRecord {
            id: r.get(0)?,
            ts_ms: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            details_json: r.get(4)?,
            prev_hash: r.get(5)?,
            hash: r.get(6)?,
        })
    })
    .map_err(err())?
    .collect::<Result<Vec<_>, _>>()
    .map_err(err())
}

/// Write one chained row: id `id`, after `prev`.
fn insert_linked(
    conn: &Connection,
    path: &Path,
    key: &ChainKey,
    prev: &Hash,
    r: &AuditRecord,
) -> Result<Hash, StoreError> {
    let hash = chain::audit_hash(key, prev, r);
    conn.prepare_cached(
        "INSERT INTO audit_log (id, ts, actor, action, details_json, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.id,
            r.ts_ms,
            r.actor,
            r.action,
            r.details_json,
            prev.as_slice(),
            hash.as_slice()
        ])
    })
    .map_err(sql_err(path, "insert into audit_log"))?;
    Ok(hash)
}

/// Start the chain on a database whose audit log has entries written before it existed: an
/// [`chain::CHAIN_START_ACTION`] entry whose `prev_hash` is the chain run over those entries.
/// Returns the new tip `(id, hash)`, or `None` when the chain has started already or there
/// is nothing to cover (the first entry then starts it from [`chain::GENESIS`]).
fn start_chain(
    conn: &Connection,
    path: &Path,
    key: &ChainKey,
) -> Result<Option<(i64, Hash)>, StoreError> {
    let (Some(max_id), None) = audit_tip(conn, path)? else {
        return Ok(None);
    };
    let older = audit_records(conn, path)?;
    let mut running = chain::GENESIS;
    for r in &older {
        running = chain::audit_hash(key, &running, r);
    }
    let marker = AuditRecord {
        id: max_id + 1,
        ts_ms: now_ms(),
        actor: "system".into(),
        action: chain::CHAIN_START_ACTION.into(),
        details_json: serde_json::json!({
            "chain_started_at": max_id + 1,
            "older_entries": older.len(),
        })
        .to_string(),
        prev_hash: None,
        hash: None,
    };
    let hash = insert_linked(conn, path, key, &running, &marker)?;
    tracing::info!(
        entry = max_id + 1,
        older = older.len(),
        "audit chain started"
    );
    Ok(Some((max_id + 1, hash)))
}

/// Append an audit entry on `conn` (typically inside the caller's IMMEDIATE transaction, so
/// the entry is written if and only if the change it describes is), chained to the entry
/// before it: its id is the next one and its hash covers it and that entry's hash.
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
    let key = chain_key(path)?;
    let (id, prev) = match start_chain(conn, path, &key)? {
        Some((id, hash)) => (id + 1, hash),
        None => {
            let (max_id, hash) = audit_tip(conn, path)?;
            let prev = hash
                .and_then(|h| Hash::try_from(h.as_slice()).ok())
                .unwrap_or(chain::GENESIS);
            (max_id.unwrap_or(0) + 1, prev)
        }
    };
    let r = AuditRecord {
        id,
        ts_ms: now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        details_json: details,
        prev_hash: None,
        hash: None,
    };
    insert_linked(conn, path, &key, &prev, &r)?;
    Ok(id)
}

/// Start the audit chain over older entries, in its own transaction (at open).
pub(crate) fn start_chain_now(conn: &mut Connection, path: &Path) -> Result<bool, StoreError> {
    // Most opens find the chain started (or nothing to chain): no write transaction then.
    if !matches!(audit_tip(conn, path)?, (Some(_), None)) {
        return Ok(false);
    }
    let key = chain_key(path)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql_err(path, "begin (audit chain)"))?;
    let started = start_chain(&tx, path, &key)?.is_some();
    tx.commit().map_err(sql_err(path, "commit (audit chain)"))?;
    Ok(started)
}

impl Store {
    /// Append an audit entry (`actor` and `action` must not be empty). Returns its id.
    pub fn audit(
        &mut self,
        actor: &str,
        action: &str,
        details: serde_json::Value,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (audit_log)"))?;
        let id = insert_audit(&tx, &self.path, actor, action, &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (audit_log)"))?;
        self.anchor_heads();
        Ok(id)
    }

    /// The latest `limit` audit entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_list(&AuditFilter {
            limit,
            ..AuditFilter::default()
        })
    }

    /// The newest `filter.limit` audit entries matching `filter`, newest first.
    pub fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let err = || sql_err(&self.path, "select from audit_log");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, ts, actor, action, details_json, hash FROM audit_log
                 WHERE (?1 IS NULL OR actor = ?1)
                   AND (?2 IS NULL OR action = ?2 OR action LIKE ?6 || '.%' ESCAPE '\\')
                   AND (?3 IS NULL OR ts >= ?3) AND (?4 IS NULL OR ts < ?4)
                 ORDER BY id DESC LIMIT ?5",
            )
            .map_err(err())?;
        let pattern = filter.action.as_deref().map(|a| {
            a.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        });
        let raw = stmt
            .query_map(
                params![
                    filter.actor,
                    filter.action,
                    filter.from_ms,
                    filter.to_ms,
                    limit_param(filter.limit),
                    pattern
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<Vec<u8>>>(5)?,
                    ))
                },
            )
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter()
            .map(|(id, ts_ms, actor, action, details, hash)| {
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
                    hash: hash.map(|h| chain::to_hex(&h)),
                })
            })
            .collect()
    }
}

/// A `usize` limit as an SQL integer (saturating: "no limit" stays huge).
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
