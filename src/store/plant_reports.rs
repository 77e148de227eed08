//! The report queries over the plant database: the same rows the station's read model
//! ([`crate::store::read_model`]) gives, from the `inspections` and `audit_log` tables the
//! collector fills. A lot's status there is the last `lot.status` entry any station sent.

use postgres::types::ToSql;

use super::plant_db::{PlantDb, PlantDbError, error_for};
use super::read_model::filter::given;
use super::read_model::{
    FilterOptions, GroupCounts, HOUR_MS, HourCounts, HourScan, LotCounts, LotDisposition,
    PassScores, ReportFilter, StationCounts, UNCLASSIFIED,
};
use super::{InspectionView, LotStatus};
use crate::domain::{BBox, Verdict};

/// One bound parameter of a plant query.
type Param = Box<dyn ToSql + Sync>;

/// A `WHERE` clause over `inspections AS i` with `$n` placeholders and their values.
#[derive(Default)]
struct PgWhere {
    sql: String,
    params: Vec<Param>,
}

impl PgWhere {
    /// Bind `value`; its placeholder.
    fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// One more condition; `cond` gets the placeholder of `value`.
    fn and(&mut self, value: Option<Param>, cond: impl FnOnce(&str) -> String) {
        let placeholder = value.map(|v| self.bind(v)).unwrap_or_default();
        let c = cond(&placeholder);
        self.sql = if self.sql.is_empty() {
            format!("WHERE {c}")
        } else {
            format!("{} AND {c}", self.sql)
        };
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }
}

/// The filter's `WHERE` clause on the plant's `inspections AS i`: every field is a column
/// there (the stations send the lot's product, line and shift and the recipe with each item).
fn where_clause(f: &ReportFilter) -> PgWhere {
    let mut w = PgWhere::default();
    if let Some(from) = f.from_ms {
        w.and(Some(Box::new(from)), |p| format!("i.ts_ms >= {p}"));
    }
    if let Some(to) = f.to_ms {
        w.and(Some(Box::new(to)), |p| format!("i.ts_ms < {p}"));
    }
    for (col, v) in [
        ("lot", &f.lot),
        ("station", &f.station),
        ("model_version", &f.model_version),
        ("product", &f.product),
        ("line", &f.line),
        ("shift", &f.shift),
        ("verdict", &f.verdict),
        ("recipe", &f.recipe),
    ] {
        if let Some(v) = given(v) {
            w.and(Some(Box::new(v.to_string())), |p| format!("i.{col} = {p}"));
        }
    }
    if let Some(d) = given(&f.defect_class) {
        if d == UNCLASSIFIED {
            w.and(None, |_| "i.defect_class IS NULL".into());
        } else {
            w.and(Some(Box::new(d.to_string())), |p| {
                format!("i.defect_class = {p}")
            });
        }
    }
    w
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The column a filter field is checked against.
fn column_of(field: &str) -> &'static str {
    match field {
        "lot" => "lot",
        "station" => "station",
        "model version" => "model_version",
        "product" => "product",
        "line" => "line",
        "shift" => "shift",
        _ => "recipe",
    }
}

/// A lot status from the plant's audit log (`open` when none was sent).
fn status_of(to: Option<String>) -> LotStatus {
    to.as_deref()
        .and_then(LotStatus::parse)
        .unwrap_or(LotStatus::Open)
}

/// The last status change of lot `$1`: who, when, comment, new status.
const LAST_LOT_STATUS_SQL: &str = "SELECT actor, ts_ms, coalesce(details::jsonb ->> 'comment', ''),
        details::jsonb ->> 'to'
     FROM audit_log
     WHERE action = 'lot.status' AND details::jsonb ->> 'code' = $1
     ORDER BY ts_ms DESC, origin DESC, id DESC LIMIT 1";

impl PlantDb {
    /// Run a query, mapping each row.
    fn plant_rows<T>(
        &self,
        q: &str,
        w: &PgWhere,
        what: &'static str,
        map: impl FnMut(&postgres::Row) -> T,
    ) -> Result<Vec<T>, PlantDbError> {
        let rows = self
            .client
            .borrow_mut()
            .query(q, &w.refs())
            .map_err(error_for(&self.name, what))?;
        Ok(rows.iter().map(map).collect())
    }

    /// Whether some inspection has `value` in the column of filter `field` (see
    /// [`ReportFilter::validate_by`]).
    pub fn filter_value_exists(&self, field: &str, value: &str) -> Result<bool, PlantDbError> {
        let q = format!(
            "SELECT EXISTS (SELECT 1 FROM inspections WHERE {} = $1)",
            column_of(field)
        );
        let row = self
            .client
            .borrow_mut()
            .query_one(&q, &[&value])
            .map_err(error_for(&self.name, "check a filter value"))?;
        Ok(row.get(0))
    }

    /// The filtered inspections per clock hour, in time order.
    pub fn report_counts_by_hour(&self, f: &ReportFilter) -> Result<Vec<HourCounts>, PlantDbError> {
        Ok(self
            .report_hours(f, f64::INFINITY)?
            .into_iter()
            .map(|h| HourCounts {
                start_ms: h.start_ms,
                counts: h.counts,
            })
            .collect())
    }

    /// The summary, hourly p-chart and drift rows of the filtered inspections, per clock
    /// hour in time order (see `Store::report_hours`).
    pub fn report_hours(
        &self,
        f: &ReportFilter,
        score_quantile: f64,
    ) -> Result<Vec<HourScan>, PlantDbError> {
        let mut w = where_clause(f);
        let q = w.bind(Box::new(score_quantile));
        let sql = format!(
            "SELECT i.ts_ms / {HOUR_MS} AS h, count(*),
                    count(*) FILTER (WHERE i.verdict = 'reject'),
                    count(*) FILTER (WHERE i.verdict = 'review'),
                    min(i.ts_ms), max(i.ts_ms),
                    count(*) FILTER (WHERE i.verdict = 'pass'),
                    avg(i.score) FILTER (WHERE i.verdict = 'pass'),
                    count(*) FILTER (WHERE i.verdict = 'pass' AND i.score > {q})
             FROM inspections AS i {} GROUP BY h ORDER BY h",
            w.sql
        );
        self.plant_rows(&sql, &w, "inspections by hour", |r| {
            let start_ms = r.get::<_, i64>(0) * HOUR_MS;
            HourScan {
                start_ms,
                counts: GroupCounts {
                    items: u(r.get(1)),
                    rejects: u(r.get(2)),
                    first_ts_ms: r.get(4),
                    last_ts_ms: r.get(5),
                },
                reviews: u(r.get(3)),
                pass: PassScores {
                    start_ms,
                    passed: u(r.get(6)),
                    mean_score: r.get::<_, Option<f64>>(7).unwrap_or(0.0),
                    above: u(r.get(8)),
                },
            }
        })
    }

    /// The filtered inspections per lot (status from the plant's audit log, shift from the
    /// items), in order of each lot's first inspection; items without a lot come as one row
    /// with no code.
    pub fn report_counts_by_lot(&self, f: &ReportFilter) -> Result<Vec<LotCounts>, PlantDbError> {
        let w = where_clause(f);
        let sql = format!(
            "SELECT g.lot, g.shift, g.n, g.r, g.t0, g.t1,
                    (SELECT a.details::jsonb ->> 'to' FROM audit_log AS a
                     WHERE a.action = 'lot.status' AND a.details::jsonb ->> 'code' = g.lot
                     ORDER BY a.ts_ms DESC, a.origin DESC, a.id DESC LIMIT 1)
             FROM (SELECT i.lot, min(i.shift) AS shift, count(*) AS n,
                          count(*) FILTER (WHERE i.verdict = 'reject') AS r,
                          min(i.ts_ms) AS t0, max(i.ts_ms) AS t1
                   FROM inspections AS i {} GROUP BY i.lot) AS g
             ORDER BY g.t0",
            w.sql
        );
        self.plant_rows(&sql, &w, "inspections by lot", |r| {
            let code: Option<String> = r.get(0);
            LotCounts {
                status: code.as_ref().map(|_| status_of(r.get(6))),
                code,
                shift: r.get(1),
                counts: GroupCounts {
                    items: u(r.get(2)),
                    rejects: u(r.get(3)),
                    first_ts_ms: r.get(4),
                    last_ts_ms: r.get(5),
                },
            }
        })
    }

    /// The filtered inspections per station, by station name.
    pub fn report_counts_by_station(
        &self,
        f: &ReportFilter,
    ) -> Result<Vec<StationCounts>, PlantDbError> {
        let w = where_clause(f);
        let sql = format!(
            "SELECT i.station, count(*), count(*) FILTER (WHERE i.verdict = 'reject'),
                    min(i.ts_ms), max(i.ts_ms)
             FROM inspections AS i {} GROUP BY i.station ORDER BY i.station",
            w.sql
        );
        self.plant_rows(&sql, &w, "inspections by station", |r| StationCounts {
            station: r.get(0),
            counts: GroupCounts {
                items: u(r.get(1)),
                rejects: u(r.get(2)),
                first_ts_ms: r.get(3),
                last_ts_ms: r.get(4),
            },
        })
    }

    /// Rejected items per defect class ([`UNCLASSIFIED`] for none).
    pub fn report_defect_counts(
        &self,
        f: &ReportFilter,
    ) -> Result<Vec<(String, u64)>, PlantDbError> {
        let mut w = where_clause(f);
        w.and(None, |_| "i.verdict = 'reject'".into());
        let sql = format!(
            "SELECT coalesce(i.defect_class, '{UNCLASSIFIED}'), count(*)
             FROM inspections AS i {} GROUP BY 1",
            w.sql
        );
        self.plant_rows(&sql, &w, "defect classes of rejects", |r| {
            (r.get(0), u(r.get(1)))
        })
    }

    /// The drift test's Phase I baseline over the plant: of the first `limit` passed items
    /// judged by the model version of the newest filtered inspection, how many there are and
    /// how many scored above `score_quantile`. `None` when the filter selects nothing.
    pub fn drift_baseline(
        &self,
        f: &ReportFilter,
        limit: u64,
        score_quantile: f64,
    ) -> Result<Option<(u64, u64)>, PlantDbError> {
        let mut w = where_clause(f);
        let limit = w.bind(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let q = w.bind(Box::new(score_quantile));
        let sql = format!(
            "WITH mv AS (SELECT i.model_version FROM inspections AS i {}
                         ORDER BY i.ts_ms DESC LIMIT 1),
                  first AS (SELECT score FROM inspections
                            WHERE EXISTS (SELECT 1 FROM mv)
                              AND model_version IS NOT DISTINCT FROM (SELECT model_version FROM mv)
                              AND verdict = 'pass'
                            ORDER BY ts_ms LIMIT {limit})
             SELECT (SELECT count(*) FROM mv), count(*),
                    count(*) FILTER (WHERE score > {q}) FROM first",
            w.sql
        );
        let rows = self.plant_rows(&sql, &w, "drift baseline", |r| {
            (u(r.get(0)), u(r.get(1)), u(r.get(2)))
        })?;
        Ok(rows
            .first()
            .filter(|(found, _, _)| *found > 0)
            .map(|&(_, n, above)| (n, above)))
    }

    /// The latest `limit` filtered inspections, newest first. The plant keeps no crops, so
    /// `with_image` selects nothing.
    pub fn report_items(
        &self,
        f: &ReportFilter,
        with_image: bool,
        limit: usize,
    ) -> Result<Vec<InspectionView>, PlantDbError> {
        if with_image {
            return Ok(Vec::new());
        }
        let mut w = where_clause(f);
        let limit = w.bind(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "{VIEW_SQL} {} ORDER BY i.ts_ms DESC, i.station DESC, i.id DESC LIMIT {limit}",
            w.sql
        );
        self.plant_rows(&sql, &w, "items of the report", view)
    }

    /// Call `each` for every filtered inspection, oldest first, reading 10,000 rows at a time.
    /// Stops early when `each` returns false. Returns the number of rows visited.
    pub fn for_each_report_item(
        &self,
        f: &ReportFilter,
        each: &mut dyn FnMut(InspectionView) -> bool,
    ) -> Result<u64, PlantDbError> {
        let w = where_clause(f);
        let sql = format!("{VIEW_SQL} {} ORDER BY i.ts_ms, i.station, i.id", w.sql);
        let err = error_for(&self.name, "export of inspections");
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction().map_err(err)?;
        let portal = tx
            .bind(sql.as_str(), &w.refs())
            .map_err(error_for(&self.name, "export of inspections"))?;
        let mut n = 0;
        loop {
            let rows = tx
                .query_portal(&portal, 10_000)
                .map_err(error_for(&self.name, "export of inspections"))?;
            if rows.is_empty() {
                return Ok(n);
            }
            for r in &rows {
                n += 1;
                if !each(view(r)) {
                    return Ok(n);
                }
            }
        }
    }

    /// The lots with these codes (unknown codes skipped), in the order given, with the
    /// status and last status change the stations sent.
    pub fn lot_dispositions(&self, codes: &[String]) -> Result<Vec<LotDisposition>, PlantDbError> {
        let mut client = self.client.borrow_mut();
        let product = client
            .prepare("SELECT product FROM inspections WHERE lot = $1 LIMIT 1")
            .map_err(error_for(&self.name, "lot dispositions"))?;
        let last = client
            .prepare(LAST_LOT_STATUS_SQL)
            .map_err(error_for(&self.name, "lot dispositions"))?;
        let mut out = Vec::new();
        for code in codes {
            let Some(row) = client
                .query_opt(&product, &[code])
                .map_err(error_for(&self.name, "lot dispositions"))?
            else {
                continue;
            };
            let change = client
                .query_opt(&last, &[code])
                .map_err(error_for(&self.name, "lot dispositions"))?;
            out.push(LotDisposition {
                lot_id: 0,
                code: code.clone(),
                product: row.get::<_, Option<String>>(0).unwrap_or_default(),
                status: status_of(change.as_ref().and_then(|r| r.get(3))),
                last_change: change.map(|r| (r.get(0), r.get(1), r.get(2))),
            });
        }
        Ok(out)
    }

    /// The values the report filter menus offer, from the plant's inspections.
    pub fn filter_options(&self) -> Result<FilterOptions, PlantDbError> {
        let list = |sql: &str| -> Result<Vec<String>, PlantDbError> {
            let rows = self
                .client
                .borrow_mut()
                .query(sql, &[])
                .map_err(error_for(&self.name, "filter options"))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        };
        let distinct = |col: &str| {
            list(&format!(
                "SELECT DISTINCT {col} FROM inspections WHERE {col} IS NOT NULL ORDER BY 1"
            ))
        };
        Ok(FilterOptions {
            stations: distinct("station")?,
            lines: distinct("line")?,
            lots: list(
                "SELECT lot FROM inspections WHERE lot IS NOT NULL
                 GROUP BY lot ORDER BY max(ts_ms) DESC LIMIT 500",
            )?,
            products: distinct("product")?,
            shifts: distinct("shift")?,
            defects: list(
                "SELECT DISTINCT defect_class FROM inspections
                 WHERE verdict = 'reject' AND defect_class IS NOT NULL ORDER BY 1",
            )?,
            models: list(
                "SELECT model_version FROM inspections WHERE model_version IS NOT NULL
                 GROUP BY model_version ORDER BY max(ts_ms) DESC",
            )?,
            recipes: distinct("recipe")?,
        })
    }
}

/// The columns [`view`] reads.
const VIEW_SQL: &str = "SELECT i.id, i.ts_ms, i.station, i.lot, i.model_version, i.frame, i.item,
        i.track, i.score, i.verdict, i.defect_class, i.bbox_x, i.bbox_y, i.bbox_w, i.bbox_h
     FROM inspections AS i";

/// An inspection of the plant as the reports show one. Stations are known by name there
/// (`station_id` 0) and crops stay on the stations.
fn view(r: &postgres::Row) -> InspectionView {
    let dim = |i: usize| r.get::<_, Option<i32>>(i).unwrap_or(0);
    InspectionView {
        id: r.get(0),
        ts_ms: r.get(1),
        station_id: 0,
        station: r.get(2),
        lot_id: None,
        lot_code: r.get(3),
        model_version: r.get(4),
        frame_seq: r.get(5),
        item_index: i64::from(r.get::<_, i32>(6)),
        track_id: r.get(7),
        // A score the station could not compute arrives as null: never a number that passes.
        score: r.get::<_, Option<f64>>(8).unwrap_or(f64::NAN),
        verdict: Verdict::parse(r.get(9)).unwrap_or(Verdict::Review),
        defect_class: r.get(10),
        bbox: BBox {
            x: dim(11).max(0) as u32,
            y: dim(12).max(0) as u32,
            w: dim(13).max(0) as u32,
            h: dim(14).max(0) as u32,
        },
        sample_id: None,
        sample_path: None,
        sample_missing: None,
    }
}
