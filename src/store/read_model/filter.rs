//! Which inspections a report covers, and the SQL `WHERE` clause that selects them.
//!
//! Every value goes into the statement as a bound parameter, never as SQL text, so a lot code
//! with a quote in it is just a lot code.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, ParamsFromIter};
use serde::{Deserialize, Serialize};

use crate::domain::Verdict;
use crate::store::Store;

/// Name used for rejected items without a defect class (in the Pareto and as a filter value
/// that selects them).
pub const UNCLASSIFIED: &str = "unclassified";

/// What a report covers. Every field is optional: `None` (or an empty string) means "any".
/// Names and codes (not row ids) so a filter reads the same in the UI, the CLI and a saved
/// report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportFilter {
    /// From this time on (unix ms UTC, inclusive).
    pub from_ms: Option<i64>,
    /// Up to this time (unix ms UTC, exclusive).
    pub to_ms: Option<i64>,
    /// Station name (`stations.name`).
    pub station: Option<String>,
    /// Production line (`lots.line`).
    pub line: Option<String>,
    /// Lot code (`lots.code`).
    pub lot: Option<String>,
    /// Product (`lots.product`).
    pub product: Option<String>,
    /// Shift (`lots.shift`).
    pub shift: Option<String>,
    /// Verdict: `pass`, `reject` or `review`.
    pub verdict: Option<String>,
    /// Defect class (`inspections.defect_class`); [`UNCLASSIFIED`] selects items without one.
    pub defect_class: Option<String>,
    /// Model version string (`model_versions.version`).
    pub model_version: Option<String>,
    /// Recipe name (`recipes.name`): the items judged while their station ran that recipe.
    pub recipe: Option<String>,
}

/// A filter value that names something that does not exist, a bad verdict or a bad time.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{}", crate::tr!("err-store-read-model-filter-filter-error", field = .field.to_string(), value = format!("{:?}", .value), problem = .problem.to_string()))]
pub struct FilterError {
    /// The filter field, e.g. `lot`.
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A `WHERE` clause over `inspections AS i` and its bound parameters, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SqlWhere {
    /// `WHERE ...` (or empty when the filter selects everything).
    pub(crate) sql: String,
    /// The values of the `?` placeholders, in order.
    pub(crate) params: Vec<Value>,
}

impl SqlWhere {
    /// The clause with one more condition (`cond` uses `?` for `params`).
    pub(crate) fn and(mut self, cond: &str, params: impl IntoIterator<Item = Value>) -> Self {
        self.sql = if self.sql.is_empty() {
            format!("WHERE {cond}")
        } else {
            format!("{} AND {cond}", self.sql)
        };
        self.params.extend(params);
        self
    }

    /// The parameters as the slice rusqlite wants.
    pub(crate) fn params(&self) -> ParamsFromIter<std::slice::Iter<'_, Value>> {
        rusqlite::params_from_iter(self.params.iter())
    }
}

/// The value of a filter field when one is given (trimmed; blank counts as none).
pub(crate) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ReportFilter {
    /// True when the filter selects every inspection.
    pub fn is_empty(&self) -> bool {
        self.where_clause().sql.is_empty()
    }

    /// The filter restricted to one lot (for a drill-down or a lot report).
    pub fn with_lot(&self, code: &str) -> Self {
        Self {
            lot: Some(code.to_string()),
            ..self.clone()
        }
    }

    /// The filter restricted to `[from_ms, to_ms)` within its own range.
    pub fn with_time(&self, from_ms: i64, to_ms: i64) -> Self {
        Self {
            from_ms: Some(self.from_ms.map_or(from_ms, |f| f.max(from_ms))),
            to_ms: Some(self.to_ms.map_or(to_ms, |t| t.min(to_ms))),
            ..self.clone()
        }
    }

    /// The `WHERE` clause over `inspections AS i`.
    ///
    /// Lot, station and model are matched through a scalar subquery on their unique name, so
    /// SQLite still uses the `(lot_id, ...)` / `(station_id, ...)` indexes; product, line and
    /// shift become `i.lot_id IN (lots with that value)`, which avoids joining a million rows
    /// to `lots`.
    pub(crate) fn where_clause(&self) -> SqlWhere {
        let mut w = SqlWhere::default();
        if let Some(from) = self.from_ms {
            w = w.and("i.ts >= ?", [Value::Integer(from)]);
        }
        if let Some(to) = self.to_ms {
            w = w.and("i.ts < ?", [Value::Integer(to)]);
        }
        let text = |s: &str| Value::Text(s.to_string());
        if let Some(lot) = given(&self.lot) {
            w = w.and(
                "i.lot_id = (SELECT id FROM lots WHERE code = ?)",
                [text(lot)],
            );
        }
        if let Some(st) = given(&self.station) {
            w = w.and(
                "i.station_id = (SELECT id FROM stations WHERE name = ?)",
                [text(st)],
            );
        }
        if let Some(mv) = given(&self.model_version) {
            w = w.and(
                "i.model_version_id = (SELECT id FROM model_versions WHERE version = ?)",
                [text(mv)],
            );
        }
        for (col, v) in [
            ("product", &self.product),
            ("line", &self.line),
            ("shift", &self.shift),
        ] {
            if let Some(v) = given(v) {
                w = w.and(
                    &format!("i.lot_id IN (SELECT id FROM lots WHERE {col} = ?)"),
                    [text(v)],
                );
            }
        }
        if let Some(v) = given(&self.verdict) {
            w = w.and("i.verdict = ?", [text(v)]);
        }
        if let Some(r) = given(&self.recipe) {
            // The station's newest recipe run at or before the item's time.
            w = w.and(
                "(SELECT rc.name FROM recipe_runs rr JOIN recipes rc ON rc.id = rr.recipe_id \
                  WHERE rr.station_id = i.station_id AND rr.started_at <= i.ts \
                  ORDER BY rr.started_at DESC, rr.id DESC LIMIT 1) = ?",
                [text(r)],
            );
        }
        if let Some(d) = given(&self.defect_class) {
            w = if d == UNCLASSIFIED {
                w.and("i.defect_class IS NULL", [])
            } else {
                w.and("i.defect_class = ?", [text(d)])
            };
        }
        w
    }

    /// Check every named value against the database: an unknown lot code, station, model
    /// version, product, line or shift, or a verdict other than pass/reject/review, is an
    /// error naming the field and value (an empty report from a typo would mislead).
    pub fn validate(&self, store: &Store) -> Result<(), FilterError> {
        self.validate_by(|field, value| {
            let sql = match field {
                "lot" => "SELECT 1 FROM lots WHERE code = ?1",
                "station" => "SELECT 1 FROM stations WHERE name = ?1",
                "model version" => "SELECT 1 FROM model_versions WHERE version = ?1",
                "product" => "SELECT 1 FROM lots WHERE product = ?1",
                "line" => "SELECT 1 FROM lots WHERE line = ?1",
                "shift" => "SELECT 1 FROM lots WHERE shift = ?1",
                _ => "SELECT 1 FROM recipes WHERE name = ?1",
            };
            store
                .conn
                .query_row(sql, [value], |_| Ok(()))
                .optional()
                .map(|found| found.is_some())
                .map_err(|e| e.to_string())
        })
    }

    /// The checks of [`ReportFilter::validate`] on any database: `exists(field, value)` says
    /// whether the database knows that lot, station, `model version`, product, line, shift or
    /// recipe (or why it could not be checked).
    pub fn validate_by(
        &self,
        mut exists: impl FnMut(&'static str, &str) -> Result<bool, String>,
    ) -> Result<(), FilterError> {
        if let (Some(f), Some(t)) = (self.from_ms, self.to_ms)
            && f >= t
        {
            return Err(FilterError {
                field: "from/to",
                value: format!("{f}..{t}"),
                problem: "is an empty time range (from must be before to)".into(),
            });
        }
        let named: [(&'static str, &Option<String>); 7] = [
            ("lot", &self.lot),
            ("station", &self.station),
            ("model version", &self.model_version),
            ("product", &self.product),
            ("line", &self.line),
            ("shift", &self.shift),
            ("recipe", &self.recipe),
        ];
        for (field, value) in named {
            let Some(v) = given(value) else { continue };
            let found = exists(field, v).map_err(|e| FilterError {
                field,
                value: v.to_string(),
                problem: format!("could not be checked: {e}"),
            })?;
            if !found {
                return Err(FilterError {
                    field,
                    value: v.to_string(),
                    problem: "is not in the database".into(),
                });
            }
        }
        if let Some(v) = given(&self.verdict)
            && Verdict::parse(v).is_none()
        {
            return Err(FilterError {
                field: "verdict",
                value: v.to_string(),
                problem: "is not one of pass, reject, review".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filter_has_no_where() {
        let f = ReportFilter::default();
        assert!(f.is_empty());
        let w = f.where_clause();
        assert_eq!(w.sql, "");
        assert!(w.params.is_empty());
    }

    #[test]
    fn values_are_bound_not_inlined() {
        let f = ReportFilter {
            from_ms: Some(10),
            to_ms: Some(20),
            lot: Some("L'1; DROP TABLE lots".into()),
            shift: Some(" B ".into()),
            product: Some("  ".into()),
            verdict: Some("reject".into()),
            ..Default::default()
        };
        let w = f.where_clause();
        assert!(!w.sql.contains("DROP"), "{}", w.sql);
        assert_eq!(w.sql.matches('?').count(), w.params.len());
        assert_eq!(
            w.params,
            vec![
                Value::Integer(10),
                Value::Integer(20),
                Value::Text("L'1; DROP TABLE lots".into()),
                Value::Text("B".into()),
                Value::Text("reject".into()),
            ]
        );
    }
}
