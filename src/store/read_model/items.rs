//! The filtered inspections themselves, as [`InspectionView`] rows: the drill-down behind a
//! chart point and the CSV export.

use rusqlite::types::Value;

use super::filter::ReportFilter;
use crate::store::inspections::{VIEW_SELECT_SQL, raw_view};
use crate::store::{InspectionView, Store, StoreError, sql_err};

impl Store {
    /// The latest `limit` filtered inspections, newest first; with `with_image`, only those
    /// that have a saved crop.
    pub fn report_items(
        &self,
        f: &ReportFilter,
        with_image: bool,
        limit: usize,
    ) -> Result<Vec<InspectionView>, StoreError> {
        let mut w = f.where_clause();
        if with_image {
            w = w.and("i.sample_id IS NOT NULL", []);
        }
        let q = format!(
            "{VIEW_SELECT_SQL} {} ORDER BY i.ts DESC, i.id DESC LIMIT ?",
            w.sql
        );
        // The LIMIT placeholder comes after the WHERE clause's.
        w.params
            .push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let err = || sql_err(&self.path, "items of the report");
        let mut stmt = self.conn.prepare_cached(&q).map_err(err())?;
        let raw = stmt
            .query_map(w.params(), raw_view)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter().map(|r| r.parse(&self.path)).collect()
    }

    /// Call `each` for every filtered inspection, oldest first (streams: nothing is
    /// collected). Stops early when `each` returns false. Returns the number of rows visited.
    pub fn for_each_report_item(
        &self,
        f: &ReportFilter,
        mut each: impl FnMut(InspectionView) -> bool,
    ) -> Result<u64, StoreError> {
        let w = f.where_clause();
        let q = format!("{VIEW_SELECT_SQL} {} ORDER BY i.ts, i.id", w.sql);
        let err = || sql_err(&self.path, "export of inspections");
        let mut stmt = self.conn.prepare(&q).map_err(err())?;
        let mut rows = stmt.query(w.params()).map_err(err())?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(err())? {
            n += 1;
            let view = raw_view(r).map_err(err())?.parse(&self.path)?;
            if !each(view) {
                break;
            }
        }
        Ok(n)
    }
}
