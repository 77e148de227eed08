//! Lots as reports see them: their dispositions, a lot's id by code, and the values the
//! report filter menus offer.

use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::store::{LotStatus, Store, StoreError, sql_err};

/// A lot's QC status and its last status change (from the audit log).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LotDisposition {
    /// Lot row id.
    pub lot_id: i64,
    /// Lot code.
    pub code: String,
    /// Product.
    pub product: String,
    /// Current status.
    pub status: LotStatus,
    /// Who last changed the status, when (unix ms) and with what comment.
    pub last_change: Option<(String, i64, String)>,
}

/// Values offered by the report filter menus.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FilterOptions {
    /// Station names.
    pub stations: Vec<String>,
    /// Lines.
    pub lines: Vec<String>,
    /// Lot codes, newest first (at most 500).
    pub lots: Vec<String>,
    /// Products.
    pub products: Vec<String>,
    /// Shifts.
    pub shifts: Vec<String>,
    /// Defect classes seen on rejected items.
    pub defects: Vec<String>,
    /// Model versions, newest first.
    pub models: Vec<String>,
    /// Recipe names.
    pub recipes: Vec<String>,
}

impl Store {
    /// The row id of the lot with this code, `None` when there is none.
    pub fn lot_id(&self, code: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .prepare_cached("SELECT id FROM lots WHERE code = ?1")
            .and_then(|mut s| s.query_row([code], |r| r.get(0)).optional())
            .map_err(sql_err(&self.path, "select from lots"))
    }

    /// The lots with these codes (unknown codes are skipped), with their status and last
    /// status change, in the order given.
    pub fn lot_dispositions(&self, codes: &[String]) -> Result<Vec<LotDisposition>, StoreError> {
        let err = || sql_err(&self.path, "lot dispositions");
        let mut lot_stmt = self
            .conn
            .prepare_cached("SELECT id, code, product, status FROM lots WHERE code = ?1")
            .map_err(err())?;
        let mut audit_stmt = self
            .conn
            .prepare_cached(
                "SELECT actor, ts, coalesce(json_extract(details_json, '$.comment'), '')
                 FROM audit_log
                 WHERE action = 'lot.status' AND json_extract(details_json, '$.lot_id') = ?1
                 ORDER BY id DESC LIMIT 1",
            )
            .map_err(err())?;
        let mut out = Vec::new();
        for code in codes {
            let lot = lot_stmt
                .query_row([code], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .optional()
                .map_err(err())?;
            let Some((lot_id, code, product, status)) = lot else {
                continue;
            };
            let last_change = audit_stmt
                .query_row([lot_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(err())?;
            out.push(LotDisposition {
                lot_id,
                code,
                product,
                status: LotStatus::parse(&status).unwrap_or(LotStatus::Open),
                last_change,
            });
        }
        Ok(out)
    }

    /// The values the report filter menus offer: stations, lines, lots (newest 500),
    /// products, shifts, defect classes of rejects, and model versions.
    pub fn filter_options(&self) -> Result<FilterOptions, StoreError> {
        let list = |sql: &str| -> Result<Vec<String>, StoreError> {
            let err = || sql_err(&self.path, "filter options");
            let mut s = self.conn.prepare_cached(sql).map_err(err())?;
            let rows = s.query_map([], |r| r.get::<_, String>(0)).map_err(err())?;
            rows.collect::<Result<_, _>>().map_err(err())
        };
        Ok(FilterOptions {
            stations: list("SELECT name FROM stations ORDER BY name")?,
            lines: list("SELECT DISTINCT line FROM lots ORDER BY 1")?,
            lots: list("SELECT code FROM lots ORDER BY created_at DESC, id DESC LIMIT 500")?,
            products: list("SELECT DISTINCT product FROM lots ORDER BY 1")?,
            shifts: list("SELECT DISTINCT shift FROM lots ORDER BY 1")?,
            // Reads the verdict-first report index: only rejects carry classes.
            defects: list(
                "SELECT DISTINCT defect_class FROM inspections
                 WHERE verdict = 'reject' AND defect_class IS NOT NULL ORDER BY 1",
            )?,
            models: list("SELECT version FROM model_versions ORDER BY created_at DESC")?,
            recipes: list("SELECT DISTINCT name FROM recipes ORDER BY name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{BBox, Verdict};
    use crate::store::{InspectionRow, LotStatus, Store};

    #[test]
    fn lot_ids_options_and_dispositions() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        let st = store.upsert_station("line-1", "synthetic:1").unwrap();
        let l1 = store
            .get_or_create_lot("L1", "shortbread", "line 1", "A")
            .unwrap();
        store
            .get_or_create_lot("L'2", "shortbread", "line 2", "B")
            .unwrap();
        assert_eq!(store.lot_id("L1").unwrap(), Some(l1));
        assert_eq!(store.lot_id("nope").unwrap(), None);
        let row = |verdict, defect_class: Option<&str>| InspectionRow {
            ts_ms: 1_000,
            station_id: st,
            lot_id: Some(l1),
            model_version_id: None,
            frame_seq: 0,
            item_index: 0,
            track_id: None,
            score: 2.0,
            verdict,
            defect_class: defect_class.map(str::to_string),
            bbox: BBox {
                x: 0,
                y: 0,
                w: 10,
                h: 10,
            },
            sample_id: None,
        };
        store
            .insert_inspections(&[
                row(Verdict::Reject, Some("crack")),
                row(Verdict::Pass, Some("ignored")),
                row(Verdict::Reject, None),
            ])
            .unwrap();
        let o = store.filter_options().unwrap();
        assert_eq!(o.stations, ["line-1"]);
        assert_eq!(o.lines, ["line 1", "line 2"]);
        assert_eq!(o.lots, ["L'2", "L1"]);
        assert_eq!(o.shifts, ["A", "B"]);
        assert_eq!(o.defects, ["crack"]);
        assert!(o.models.is_empty());
        store
            .set_lot_status(l1, LotStatus::Hold, "qc.anna", "cracks")
            .unwrap();
        let d = store
            .lot_dispositions(&["nope".into(), "L1".into()])
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].status, LotStatus::Hold);
        let (who, _, comment) = d[0].last_change.clone().unwrap();
        assert_eq!((who.as_str(), comment.as_str()), ("qc.anna", "cracks"));
    }
}
