//! Inspections: one row per item per verdict. This table holds millions of rows, so writes
//! are batched in one transaction with a cached statement, and every query reads by index.

use std::path::PathBuf;

use rusqlite::{CachedStatement, Row, TransactionBehavior, params};
use serde::Serialize;

use super::audit::limit_param;
use super::{Store, StoreError, sql_err};
use crate::domain::BBox;
use crate::domain::Verdict;

/// One inspection to record.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct InspectionRow {
    /// When the item was inspected (unix ms, UTC); normally the frame's capture time.
    pub ts_ms: i64,
    /// The station (see [`Store::upsert_station`]).
    pub station_id: i64,
    /// The lot being produced, if one is set.
    pub lot_id: Option<i64>,
    /// The model version that scored the item, if any.
    pub model_version_id: Option<i64>,
    /// Frame sequence number from the source.
    pub frame_seq: i64,
    /// Index of the item within the frame.
    pub item_index: i64,
    /// Tracker id of the physical item on a conveyor, if tracked.
    pub track_id: Option<i64>,
    /// Anomaly score (must be finite: SQLite stores NaN as NULL, which is refused).
    pub score: f64,
    /// The decision.
    pub verdict: Verdict,
    /// Defect class, when the model names one.
    pub defect_class: Option<String>,
    /// Where the item was in the frame.
    pub bbox: BBox,
    /// The saved crop, if any (see [`Store::insert_sample`]).
    pub sample_id: Option<i64>,
}

/// One recorded inspection joined with the names it refers to: the one read type of an
/// inspection, for the UI, the report drill-down and the CSV export.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InspectionView {
    /// Row id.
    pub id: i64,
    /// When (unix ms).
    pub ts_ms: i64,
    /// Station id.
    pub station_id: i64,
    /// Station name.
    pub station: String,
    /// Lot id, if any.
    pub lot_id: Option<i64>,
    /// Lot code, if any.
    pub lot_code: Option<String>,
    /// Model version string, if any.
    pub model_version: Option<String>,
    /// Frame sequence number.
    pub frame_seq: i64,
    /// Index of the item within the frame.
    pub item_index: i64,
    /// Tracker id, if tracked.
    pub track_id: Option<i64>,
    /// Anomaly score.
    pub score: f64,
    /// The decision.
    pub verdict: Verdict,
    /// Defect class, if named.
    pub defect_class: Option<String>,
    /// Where the item was in the frame.
    pub bbox: BBox,
    /// The saved crop, if any.
    pub sample_id: Option<i64>,
    /// Path of the saved crop, if any.
    pub sample_path: Option<PathBuf>,
    /// Why the crop that should have been kept with this item is missing (disk full,
    /// read-only samples folder...); `None` when none was wanted or it was saved.
    pub sample_missing: Option<String>,
}

pub(crate) const INSERT_INSPECTION_SQL: &str = "
    INSERT INTO inspections (ts, station_id, lot_id, model_version_id, frame_seq, item_index,
        track_id, score, verdict, defect_class, bbox_x, bbox_y, bbox_w, bbox_h, sample_id,
        sample_missing)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// Run the cached insert statement for one row, with `sample_id` overriding the row's and
/// `sample_missing` saying why a wanted crop is not there.
pub(crate) fn insert_one(
    stmt: &mut CachedStatement<'_>,
    r: &InspectionRow,
    sample_id: Option<i64>,
    sample_missing: Option<&str>,
) -> rusqlite::Result<usize> {
    stmt.execute(params![
        r.ts_ms,
        r.station_id,
        r.lot_id,
        r.model_version_id,
        r.frame_seq,
        r.item_index,
        r.track_id,
        r.score,
        r.verdict.as_str(),
        r.defect_class,
        r.bbox.x,
        r.bbox.y,
        r.bbox.w,
        r.bbox.h,
        sample_id,
        sample_missing,
    ])
}

/// The SELECT of an [`InspectionView`] (a macro so `concat!` can build full queries).
macro_rules! view_select {
    () => {
        "SELECT i.id, i.ts, i.station_id, st.name, i.lot_id, l.code, mv.version, i.frame_seq,
                i.item_index, i.track_id, i.score, i.verdict, i.defect_class,
                i.bbox_x, i.bbox_y, i.bbox_w, i.bbox_h, i.sample_id, sa.path, i.sample_missing
         FROM inspections AS i
         JOIN stations AS st ON st.id = i.station_id
         LEFT JOIN lots AS l ON l.id = i.lot_id
         LEFT JOIN model_versions AS mv ON mv.id = i.model_version_id
         LEFT JOIN samples AS sa ON sa.id = i.sample_id "
    };
}

/// The SELECT of an [`InspectionView`] without conditions (the report queries add theirs).
pub(crate) const VIEW_SELECT_SQL: &str = view_select!();

const RECENT_INSPECTIONS_SQL: &str =
    concat!(view_select!(), "ORDER BY i.ts DESC, i.id DESC LIMIT ?1");

/// The inspections of one lot (`?1`), newest first, at most `?2`: reads the
/// `inspections_lot_ts` index (checked by a test with `EXPLAIN QUERY PLAN`).
pub(crate) const LOT_INSPECTIONS_SQL: &str = concat!(
    view_select!(),
    "WHERE i.lot_id = ?1 ORDER BY i.ts DESC, i.id DESC LIMIT ?2"
);

/// A view row with the verdict still as text.
pub(crate) struct RawView {
    view: InspectionView,
    verdict: String,
}

impl RawView {
    /// The view with its verdict parsed; a verdict that is not pass/reject/review is an
    /// [`StoreError::InvalidValue`] naming the value.
    pub(crate) fn parse(self, path: &std::path::Path) -> Result<InspectionView, StoreError> {
        let RawView { mut view, verdict } = self;
        view.verdict = Verdict::parse(&verdict).ok_or_else(|| StoreError::InvalidValue {
            path: path.to_path_buf(),
            table: "inspections",
            column: "verdict",
            value: verdict,
        })?;
        Ok(view)
    }
}

/// Read a row of [`VIEW_SELECT_SQL`].
pub(crate) fn raw_view(r: &Row<'_>) -> rusqlite::Result<RawView> {
    Ok(RawView {
        verdict: r.get(11)?,
        view: InspectionView {
            id: r.get(0)?,
            ts_ms: r.get(1)?,
            station_id: r.get(2)?,
            station: r.get(3)?,
            lot_id: r.get(4)?,
            lot_code: r.get(5)?,
            model_version: r.get(6)?,
            frame_seq: r.get(7)?,
            item_index: r.get(8)?,
            track_id: r.get(9)?,
            score: r.get(10)?,
            // Placeholder until the text is parsed (outside the row callback, so a bad value
            // becomes a StoreError naming the table and value).
            verdict: Verdict::Pass,
            defect_class: r.get(12)?,
            bbox: BBox {
                x: r.get(13)?,
                y: r.get(14)?,
                w: r.get(15)?,
                h: r.get(16)?,
            },
            sample_id: r.get(17)?,
            sample_path: r.get::<_, Option<String>>(18)?.map(PathBuf::from),
            sample_missing: r.get(19)?,
        },
    })
}

impl Store {
    /// Insert inspections in one transaction with one cached statement, sealed as one batch
    /// of the hash chain; all or nothing. Returns the number of rows inserted. Typical rate: several hundred thousand rows/s.
    pub fn insert_inspections(&mut self, rows: &[InspectionRow]) -> Result<usize, StoreError> {
        let key = super::audit::chain_key(&self.path)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (inspections)"))?;
        let first = super::seal::max_inspection_id(&tx, &self.path)? + 1;
        {
            let mut stmt = tx
                .prepare_cached(INSERT_INSPECTION_SQL)
                .map_err(sql_err(&self.path, "insert into inspections"))?;
            for r in rows {
                insert_one(&mut stmt, r, r.sample_id, None)
                    .map_err(sql_err(&self.path, "insert into inspections"))?;
            }
        }
        // The rows and the batch sealing them commit together.
        super::seal::seal_batch(&tx, &self.path, &key, first)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (inspections)"))?;
        self.anchor_heads();
        Ok(rows.len())
    }

    /// `(total, rejects)`: how many inspections are recorded, and how many of them have the
    /// verdict `reject`. Both counts read indexes only.
    pub fn count_inspections(&self) -> Result<(i64, i64), StoreError> {
        self.conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM inspections),
                        (SELECT count(*) FROM inspections WHERE verdict = 'reject')",
            )
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(sql_err(&self.path, "count inspections"))
    }

    /// The latest `limit` inspections (by time), newest first, with station, lot, model and
    /// sample names.
    pub fn recent_inspections(&self, limit: usize) -> Result<Vec<InspectionView>, StoreError> {
        self.query_views(RECENT_INSPECTIONS_SQL, params![limit_param(limit)])
    }

    /// The latest `limit` inspections of one lot, newest first (reads the `inspections_lot_ts`
    /// index).
    pub fn lot_inspections(
        &self,
        lot_id: i64,
        limit: usize,
    ) -> Result<Vec<InspectionView>, StoreError> {
        self.query_views(LOT_INSPECTIONS_SQL, params![lot_id, limit_param(limit)])
    }

    fn query_views(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<InspectionView>, StoreError> {
        let err = || sql_err(&self.path, "select from inspections");
        let mut stmt = self.conn.prepare_cached(sql).map_err(err())?;
        let raw = stmt
            .query_map(params, raw_view)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter().map(|r| r.parse(&self.path)).collect()
    }
}
