//! Sealing inspections in batches, anchoring the chain heads outside the database, and
//! walking both chains for `foodqc audit verify` (the hashing and the checks are in
//! [`super::chain`]; this is the SQL around them).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::audit::chain_key;
use super::audit_key::{self, head_path};
use super::chain::{
    self, AuditRecord, BatchRecord, Chain, ChainHead, ChainKey, Hash, Head, InspectionRecord,
    Problem,
};
use super::{Store, StoreError, now_ms, sql_err};

/// Rows per batch when sealing inspections written before the chain existed.
const OLDER_ROWS_PER_BATCH: i64 = 10_000;

/// How often the recorder refreshes the anchor file at most (each refresh is two fsyncs).
pub(crate) const RECORDER_ANCHOR_EVERY: Duration = Duration::from_secs(1);

/// The highest inspection id (0 when there is none): call at the start of a write
/// transaction, and pass it + 1 to [`seal_batch`] before committing.
pub(crate) fn max_inspection_id(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM inspections")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql_err(path, "select from inspections"))
}

/// The inspections `first..=last` as their batch hash covers them, in id order.
pub(crate) fn inspection_records(
    conn: &Connection,
    path: &Path,
    first: i64,
    last: i64,
) -> Result<Vec<InspectionRecord>, StoreError> {
    let err = || sql_err(path, "select from inspections");
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, ts, station_id, lot_id, model_version_id, frame_seq, item_index,
                    track_id, score, verdict, defect_class, bbox_x, bbox_y, bbox_w, bbox_h,
                    sample_id, sample_missing
             FROM inspections WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
        )
        .map_err(err())?;
    stmt.query_map(params![first, last], |r| {
        Ok(InspectionRecord {
            id: r.get(0)?,
            ts_ms: r.get(1)?,
            station_id: r.get(2)?,
            lot_id: r.get(3)?,
            model_version_id: r.get(4)?,
            frame_seq: r.get(5)?,
            item_index: r.get(6)?,
            track_id: r.get(7)?,
            score: r.get(8)?,
            verdict: r.get(9)?,
            defect_class: r.get(10)?,
            bbox: [r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?],
            sample_id: r.get(15)?,
            sample_missing: r.get(16)?,
        })
    })
    .map_err(err())?
    .collect::<Result<Vec<_>, _>>()
    .map_err(err())
}

/// The newest batch `(id, hash)`, `(0, GENESIS)` when there is none.
fn batch_tip(conn: &Connection, path: &Path) -> Result<(i64, Hash), StoreError> {
    let tip: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, hash FROM inspection_batches ORDER BY id DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(sql_err(path, "select from inspection_batches"))?;
    Ok(match tip {
        Some((id, h)) => (id, Hash::try_from(h.as_slice()).unwrap_or(chain::GENESIS)),
        None => (0, chain::GENESIS),
    })
}

/// Seal the inspections this transaction inserted (ids `first..=max`) as the next batch of
/// the chain, inside the same transaction. Nothing to do when no row was inserted.
pub(crate) fn seal_batch(
    conn: &Connection,
    path: &Path,
    key: &ChainKey,
    first: i64,
) -> Result<(), StoreError> {
    let last = max_inspection_id(conn, path)?;
    if last < first {
        return Ok(());
    }
    seal_range(conn, path, key, first, last)?;
    Ok(())
}

/// Seal the inspections with ids `first..=last` as the next batch of the chain. Returns the
/// rows sealed.
fn seal_range(
    conn: &Connection,
    path: &Path,
    key: &ChainKey,
    first: i64,
    last: i64,
) -> Result<u64, StoreError> {
    let rows = inspection_records(conn, path, first, last)?;
    let (prev_id, prev) = batch_tip(conn, path)?;
    let created_at = now_ms();
    let hash = chain::batch_hash(key, &prev, first, last, created_at, &rows);
    conn.prepare_cached(
        "INSERT INTO inspection_batches
             (id, first_id, last_id, row_count, created_at, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            prev_id + 1,
            first,
            last,
            rows.len() as i64,
            created_at,
            prev.as_slice(),
            hash.as_slice()
        ])
    })
    .map_err(sql_err(path, "insert into inspection_batches"))?;
    Ok(rows.len() as u64)
}

/// Seal the inspections written before the chain existed (when there is no batch yet), in
/// batches of [`OLDER_ROWS_PER_BATCH`] rows, in one transaction (at open).
pub(crate) fn seal_older(conn: &mut Connection, path: &Path) -> Result<u64, StoreError> {
    let (batches, min, max): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM inspection_batches),
                    (SELECT min(id) FROM inspections), (SELECT max(id) FROM inspections)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(sql_err(path, "select from inspection_batches"))?;
    let (0, Some(min), Some(max)) = (batches, min, max) else {
        return Ok(0);
    };
    // The anchor outside says batches existed: they were deleted, not never written. Sealing
    // the rows again would bless whatever was done to them; leave it for `verify` to report.
    if audit_key::read_head(&head_path(path))?.is_some_and(|h| h.batches.is_some()) {
        tracing::error!(
            "inspection batches are missing but were anchored; run `foodqc audit verify`"
        );
        return Ok(0);
    }
    let key = chain_key(path)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql_err(path, "begin (inspection_batches)"))?;
    let mut sealed = 0;
    let mut first = min;
    while first <= max {
        let last = (first + OLDER_ROWS_PER_BATCH - 1).min(max);
        // seal_batch seals up to the newest row: seal one slice at a time.
        sealed += seal_range(&tx, path, &key, first, last)?;
        first = last + 1;
    }
    tx.commit()
        .map_err(sql_err(path, "commit (inspection_batches)"))?;
    tracing::info!(
        rows = sealed,
        "older inspections sealed into the hash chain"
    );
    Ok(sealed)
}

/// The heads of both chains in the database on `conn`.
pub(crate) fn read_heads(conn: &Connection, path: &Path) -> Result<Head, StoreError> {
    let head = |sql: &str, what| -> Result<Option<ChainHead>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(sql_err(path, what))?;
        Ok(row.and_then(|(id, h)| {
            Some(ChainHead {
                id,
                hash: h.as_slice().try_into().ok()?,
            })
        }))
    };
    Ok(Head {
        audit: head(
            "SELECT id, hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
            "select from audit_log",
        )?,
        batches: head(
            "SELECT id, hash FROM inspection_batches ORDER BY id DESC LIMIT 1",
            "select from inspection_batches",
        )?,
    })
}

/// The stored hash of audit entry `id` (`audit`) or of batch `id`.
fn stored_link(conn: &Connection, audit: bool, id: i64) -> Option<Vec<u8>> {
    let sql = if audit {
        "SELECT hash FROM audit_log WHERE id = ?1"
    } else {
        "SELECT hash FROM inspection_batches WHERE id = ?1"
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row([id], |r| r.get::<_, Option<Vec<u8>>>(0)))
        .ok()
        .flatten()
}

/// Write the side file of a backup: the chain heads in the copy at `backup`
/// (`foodqc-YYYY-MM-DD.head` beside `foodqc-YYYY-MM-DD.sqlite`).
pub(crate) fn write_backup_head(
    backup: &Path,
    key: Option<&super::DatabaseKey>,
) -> Result<(), StoreError> {
    let conn = super::key::open_connection(backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY, key)
        .map_err(sql_err(backup, "open backup"))?;
    let head = read_heads(&conn, backup)?;
    audit_key::write_head(&backup.with_extension("head"), &head)
}

/// What `foodqc audit verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Audit entries read.
    pub audit_entries: u64,
    /// Batches read.
    pub batches: u64,
    /// Inspections covered by the batches.
    pub inspections: u64,
    /// The heads in the database.
    pub head: Head,
    /// The anchors compared with (files read).
    pub anchors: Vec<String>,
    /// Problems, in chain order: the first is the first broken link.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Record the heads of both chains in the anchor file beside the database
    /// ([`head_path`]), moving it forward only (see [`audit_key::advance`]). Best effort: a
    /// failure is logged, never returned (the change it anchors is committed already).
    pub(crate) fn anchor_heads(&mut self) {
        self.last_anchor = Some(Instant::now());
        if let Err(e) = self.try_anchor_heads() {
            tracing::warn!(error = %e, "audit head not anchored");
        }
    }

    /// Like [`Store::anchor_heads`], at most once per `every`.
    pub(crate) fn anchor_heads_every(&mut self, every: Duration) {
        if self.last_anchor.is_none_or(|t| t.elapsed() >= every) {
            self.anchor_heads();
        }
    }

    fn try_anchor_heads(&self) -> Result<(), StoreError> {
        let file = head_path(&self.path);
        let db = read_heads(&self.conn, &self.path)?;
        let old = audit_key::read_head(&file)?;
        let holds = |audit: bool, h: &ChainHead| {
            stored_link(&self.conn, audit, h.id).is_some_and(|s| s.as_slice() == h.hash)
        };
        if let Some(next) = audit_key::advance(old.as_ref(), &db, holds) {
            audit_key::write_head(&file, &next)?;
        }
        if let Some(old) = old
            && audit_key::advance(Some(&old), &db, |_, _| true).is_none()
            && old != db
        {
            tracing::error!(file = %file.display(), "the database is behind its anchored audit head; run `foodqc audit verify`");
        }
        Ok(())
    }

    /// Start the chains over what was written before they existed (the older audit entries,
    /// the older inspections) and anchor the heads. Called at open; best effort.
    pub(crate) fn start_chains(&mut self) {
        // Both, whatever the first did (no `||` short cut).
        let audit = super::audit::start_chain_now(&mut self.conn, &self.path);
        let rows = seal_older(&mut self.conn, &self.path);
        let started = audit.and_then(|a| Ok(a | (rows? > 0)));
        match started {
            Ok(true) => self.anchor_heads(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "hash chains not started yet"),
        }
    }

    /// Walk both chains with `key` and compare their heads with the anchor file beside the
    /// database and the side file of the newest daily backup. Reads only.
    pub fn verify_chains(&self, key: &ChainKey) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        let audit: Vec<AuditRecord> = super::audit::audit_records(&self.conn, &self.path)?;
        report.audit_entries = audit.len() as u64;
        report.problems.extend(chain::verify_audit(key, &audit));

        let batches = self.batches()?;
        report.batches = batches.len() as u64;
        let mut prev: Option<&BatchRecord> = None;
        let mut covered_to = 0;
        for b in &batches {
            if b.first_id > covered_to + 1 {
                self.unsealed(covered_to + 1, b.first_id - 1, &mut report.problems)?;
            }
            let rows = inspection_records(&self.conn, &self.path, b.first_id, b.last_id)?;
            report.inspections += rows.len() as u64;
            report
                .problems
                .extend(chain::verify_batch(key, prev, b, &rows));
            covered_to = covered_to.max(b.last_id);
            prev = Some(b);
        }
        self.unsealed(covered_to + 1, i64::MAX, &mut report.problems)?;

        report.head = read_heads(&self.conn, &self.path)?;
        let last_audit = audit.last().map(|r| r.id);
        let last_batch = batches.last().map(|b| b.id);
        let mut anchors: Vec<std::path::PathBuf> = vec![head_path(&self.path)];
        if let Some(b) = newest_backup_head(&self.path) {
            anchors.push(b);
        }
        for file in anchors {
            let Some(anchored) = audit_key::read_head(&file)? else {
                continue;
            };
            let name = file.display().to_string();
            report.anchors.push(name.clone());
            let checks = [
                (Chain::Audit, anchored.audit, last_audit, true),
                (Chain::Batches, anchored.batches, last_batch, false),
            ];
            for (chain, a, last, audit) in checks {
                if let Some(p) = chain::check_anchor(
                    chain,
                    a.as_ref(),
                    last,
                    |id| stored_link(&self.conn, audit, id),
                    &name,
                ) && !report.problems.contains(&p)
                {
                    report.problems.push(p);
                }
            }
        }
        Ok(report)
    }

    /// Every row of `inspection_batches`, in id order.
    fn batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        let err = || sql_err(&self.path, "select from inspection_batches");
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, first_id, last_id, row_count, created_at, prev_hash, hash
                 FROM inspection_batches ORDER BY id",
            )
            .map_err(err())?;
        stmt.query_map([], |r| {
            Ok(BatchRecord {
                id: r.get(0)?,
                first_id: r.get(1)?,
                last_id: r.get(2)?,
                row_count: r.get(3)?,
                created_at: r.get(4)?,
                prev_hash: r.get(5)?,
                hash: r.get(6)?,
            })
        })
        .map_err(err())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err())
    }

    /// Report inspections with ids in `from..=to` (no batch covers them), if any.
    fn unsealed(&self, from: i64, to: i64, out: &mut Vec<Problem>) -> Result<(), StoreError> {
        let (count, first): (i64, Option<i64>) = self
            .conn
            .query_row(
                "SELECT count(*), min(id) FROM inspections WHERE id BETWEEN ?1 AND ?2",
                [from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql_err(&self.path, "select from inspections"))?;
        if let (true, Some(first_id)) = (count > 0, first) {
            out.push(Problem::UnsealedRows { first_id, count });
        }
        Ok(())
    }
}

/// The side file of the newest daily backup of the database at `db_path`, if any.
fn newest_backup_head(db_path: &Path) -> Option<std::path::PathBuf> {
    let dir = super::backup::backups_dir(db_path);
    let mut heads: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("foodqc-") && n.ends_with(".head"))
        })
        .collect();
    heads.sort();
    heads.pop()
}
