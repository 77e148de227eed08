//! Stations (line PCs / camera positions) and production lots.

use std::fmt;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, audit::insert_audit, now_ms, sql_err};

/// Where a lot stands in QC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotStatus {
    /// Being produced or inspected.
    Open,
    /// Held by QC: must not ship until released.
    Hold,
    /// Released for shipping.
    Released,
}

impl LotStatus {
    /// Name used in the database (`lots.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            LotStatus::Open => "open",
            LotStatus::Hold => "hold",
            LotStatus::Released => "released",
        }
    }

    /// Parse the database name back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(LotStatus::Open),
            "hold" => Some(LotStatus::Hold),
            "released" => Some(LotStatus::Released),
            _ => None,
        }
    }
}

impl fmt::Display for LotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `stations`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StationRow {
    /// Row id.
    pub id: i64,
    /// Unique name of the station, e.g. `line-2-top`.
    pub name: String,
    /// The frame source it last used, e.g. `camera:0`.
    pub source: String,
    /// When the station was first seen (unix ms).
    pub created_at_ms: i64,
}

/// One row of `lots`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LotRow {
    /// Row id.
    pub id: i64,
    /// Unique lot code, e.g. `L2024-0612-A`.
    pub code: String,
    /// Product name.
    pub product: String,
    /// Production line.
    pub line: String,
    /// Shift.
    pub shift: String,
    /// QC status.
    pub status: LotStatus,
    /// When the lot was created (unix ms).
    pub created_at_ms: i64,
}

/// A lot with its inspection counts, for the reports overview.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LotSummary {
    /// Lot row id.
    pub lot_id: i64,
    /// Unique lot code.
    pub code: String,
    /// Product name.
    pub product: String,
    /// Production line.
    pub line: String,
    /// Shift.
    pub shift: String,
    /// QC status.
    pub status: LotStatus,
    /// Inspections recorded for the lot.
    pub items: i64,
    /// Of those, verdict `reject`.
    pub rejects: i64,
    /// Timestamp of the first inspection (unix ms); `None` without inspections.
    pub first_ts_ms: Option<i64>,
    /// Timestamp of the last inspection (unix ms); `None` without inspections.
    pub last_ts_ms: Option<i64>,
}

impl Store {
    fn parse_status(&self, s: String) -> Result<LotStatus, StoreError> {
        LotStatus::parse(&s).ok_or_else(|| StoreError::InvalidValue {
            path: self.path.clone(),
            table: "lots",
            column: "status",
            value: s,
        })
    }

    /// Create the station `name` or, when it exists, update its `source`. Returns its id,
    /// which stays the same across calls.
    pub fn upsert_station(&mut self, name: &str, source: &str) -> Result<i64, StoreError> {
        super::validate_code("station name", name)?;
        self.conn
            .query_row(
                "INSERT INTO stations (name, source, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET source = excluded.source
                 RETURNING id",
                params![name, source, now_ms()],
                |r| r.get(0),
            )
            .map_err(sql_err(&self.path, "upsert into stations"))
    }

    /// Every station, by name.
    pub fn list_stations(&self) -> Result<Vec<StationRow>, StoreError> {
        let err = || sql_err(&self.path, "select from stations");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, source, created_at FROM stations ORDER BY name")
            .map_err(err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StationRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    source: r.get(2)?,
                    created_at_ms: r.get(3)?,
                })
            })
            .map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// The id of the lot `code`, creating it (status `open`) when it does not exist. An
    /// existing lot keeps its product, line and shift: the arguments only apply on creation.
    pub fn get_or_create_lot(
        &mut self,
        code: &str,
        product: &str,
        line: &str,
        shift: &str,
    ) -> Result<i64, StoreError> {
        super::validate_code("lot code", code)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (lots)"))?;
        let existing: Option<i64> = tx
            .query_row("SELECT id FROM lots WHERE code = ?1", [code], |r| r.get(0))
            .optional()
            .map_err(sql_err(&self.path, "select from lots"))?;
        let id = match existing {
            Some(id) => id,
            None => {
                // The product is only written (so only checked) with a new lot.
                super::validate_code("product", product)?;
                tx.query_row(
                    "INSERT INTO lots (code, product, line, shift, status, created_at)
                     VALUES (?1, ?2, ?3, ?4, 'open', ?5) RETURNING id",
                    params![code, product, line, shift, now_ms()],
                    |r| r.get(0),
                )
                .map_err(sql_err(&self.path, "insert into lots"))?
            }
        };
        tx.commit().map_err(sql_err(&self.path, "commit (lots)"))?;
        Ok(id)
    }

    /// Change the status of a lot and write an audit entry (`lot.status`, with the old and new
    /// status and the comment) in the same transaction: either both happen or neither.
    /// Fails with [`StoreError::NotFound`] for an unknown lot.
    pub fn set_lot_status(
        &mut self,
        lot_id: i64,
        status: LotStatus,
        actor: &str,
        comment: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (lots)"))?;
        set_lot_status_in(&tx, &self.path, lot_id, status, actor, comment, None)?;
        tx.commit().map_err(sql_err(&self.path, "commit (lots)"))?;
        self.anchor_heads();
        Ok(())
    }

    /// Every lot, newest first.
    pub fn list_lots(&self) -> Result<Vec<LotRow>, StoreError> {
        let err = || sql_err(&self.path, "select from lots");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, code, product, line, shift, status, created_at
                 FROM lots ORDER BY created_at DESC, id DESC",
            )
            .map_err(err())?;
        let raw = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter()
            .map(|(id, code, product, line, shift, status, created_at_ms)| {
                Ok(LotRow {
                    id,
                    code,
                    product,
                    line,
                    shift,
                    status: self.parse_status(status)?,
                    created_at_ms,
                })
            })
            .collect()
    }

    /// Every lot with its inspection count, reject count and first/last inspection time,
    /// newest lot first. Reads the `(lot_id, ts, verdict)` index only, not the inspections.
    pub fn lot_summaries(&self) -> Result<Vec<LotSummary>, StoreError> {
        let err = || sql_err(&self.path, "summarize lots and inspections");
        let mut stmt = self.conn.prepare_cached(LOT_SUMMARIES_SQL).map_err(err())?;
        let raw = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter()
            .map(
                |(lot_id, code, product, line, shift, status, items, rejects, first, last)| {
                    Ok(LotSummary {
                        lot_id,
                        code,
                        product,
                        line,
                        shift,
                        status: self.parse_status(status)?,
                        items,
                        rejects,
                        first_ts_ms: first,
                        last_ts_ms: last,
                    })
                },
            )
            .collect()
    }
}

/// Per-lot aggregates. The inner side of the LEFT JOIN reads one range of the covering
/// `inspections_lot_ts (lot_id, ts, verdict)` index per lot.
pub(crate) const LOT_SUMMARIES_SQL: &str = "
    SELECT l.id, l.code, l.product, l.line, l.shift, l.status,
           count(i.lot_id), coalesce(sum(i.verdict = 'reject'), 0), min(i.ts), max(i.ts)
    FROM lots AS l
    LEFT JOIN inspections AS i ON i.lot_id = l.id
    GROUP BY l.id
    ORDER BY l.created_at DESC, l.id DESC";

/// Set a lot's status and audit it (`lot.status`, with the fields of `extra` added to its
/// details) on `tx`, inside the caller's transaction.
pub(crate) fn set_lot_status_in(
    tx: &rusqlite::Connection,
    path: &std::path::Path,
    lot_id: i64,
    status: LotStatus,
    actor: &str,
    comment: &str,
    extra: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    let old: Option<(String, String)> = tx
        .query_row(
            "SELECT code, status FROM lots WHERE id = ?1",
            [lot_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql_err(path, "select from lots"))?;
    let Some((code, old_status)) = old else {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
            table: "lots",
            id: lot_id,
        });
    };
    tx.execute(
        "UPDATE lots SET status = ?1 WHERE id = ?2",
        params![status.as_str(), lot_id],
    )
    .map_err(sql_err(path, "update lots"))?;
    let mut details = serde_json::json!({
        "lot_id": lot_id,
        "code": code,
        "from": old_status,
        "to": status.as_str(),
        "comment": comment,
    });
    if let (Some(map), Some(serde_json::Value::Object(more))) = (details.as_object_mut(), extra) {
        map.extend(more.clone());
    }
    insert_audit(tx, path, actor, "lot.status", &details)?;
    Ok(())
}
