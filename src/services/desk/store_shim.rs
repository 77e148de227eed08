//! The two report reads that still take the raw connection (`SELECT` text here until the
//! store offers `Store::filter_options` and `Store::lot_id`; then these calls switch to them).

use super::event::FilterOptions;
use crate::store::Store;

/// Values of the report filter menus.
pub(super) fn filter_options(st: &Store) -> rusqlite::Result<FilterOptions> {
    let conn = st.connection();
    let list = |sql: &str| -> rusqlite::Result<Vec<String>> {
        let mut s = conn.prepare_cached(sql)?;
        let rows = s.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
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
    })
}

/// The row id of lot `code`, if it exists.
pub(super) fn lot_id(st: &Store, code: &str) -> Option<i64> {
    st.connection()
        .query_row("SELECT id FROM lots WHERE code = ?1", [code], |r| r.get(0))
        .ok()
}
