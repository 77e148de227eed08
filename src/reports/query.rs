//! The report: counts, subgroups for the p-chart, defect counts, the drift trend, the items
//! behind a point, and lot dispositions, from the store's read model
//! ([`crate::store::read_model`]). All read-only (run them off the UI thread).

use std::time::Instant;

use serde::Serialize;

use super::ReportError;
use super::drift::{BASELINE_ITEMS, DriftPoint, DriftReference, drift_points};
use super::filter::ReportFilter;
use super::pareto::{ParetoBar, pareto};
use super::source::ReportSource;
use super::spc::PChart;
use crate::store::read_model::{GroupCounts, HourScan};
use crate::store::{InspectionView, LotStatus};

pub use crate::store::read_model::{HOUR_MS, LotDisposition, Summary};

/// How to cut the inspections into subgroups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum GroupBy {
    /// One subgroup per lot, in order of its first inspection.
    #[default]
    Lot,
    /// One subgroup per clock hour (UTC).
    Hour,
    /// One subgroup per shift (`lots.shift`).
    Shift,
    /// One subgroup per station.
    Station,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Lot,
        GroupBy::Hour,
        GroupBy::Shift,
        GroupBy::Station,
    ];

    /// Machine name (command line, saved settings): `lot`, `hour`, `shift`, `station`.
    pub fn title(self) -> &'static str {
        match self {
            GroupBy::Lot => "lot",
            GroupBy::Hour => "hour",
            GroupBy::Shift => "shift",
            GroupBy::Station => "station",
        }
    }

    /// Name for people in the language in force (menus, headers, reports).
    pub fn label(self) -> String {
        match self {
            GroupBy::Lot => crate::tr!("group-lot"),
            GroupBy::Hour => crate::tr!("group-hour"),
            GroupBy::Shift => crate::tr!("group-shift"),
            GroupBy::Station => crate::tr!("group-station"),
        }
    }

    /// The grouping as a Fluent selector (`lot`, `hour`...), for messages that decline it.
    pub fn selector(self) -> &'static str {
        self.title()
    }

    /// Parse [`GroupBy::title`] back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.title() == s)
    }
}

/// One subgroup: a lot, an hour, a shift or a station.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// What it is: lot code, `2026-11-20 08:00`, shift or station name.
    pub key: String,
    /// Items inspected.
    pub items: u64,
    /// Rejected.
    pub rejects: u64,
    /// First inspection (unix ms).
    pub first_ts_ms: i64,
    /// Last inspection (unix ms).
    pub last_ts_ms: i64,
    /// The lot's QC status (lot groups only).
    pub lot_status: Option<LotStatus>,
    /// The filter that selects exactly this subgroup's items (for the drill-down).
    pub drill: ReportFilter,
}

impl Group {
    /// `rejects / items`.
    pub fn reject_rate(&self) -> f64 {
        if self.items == 0 {
            0.0
        } else {
            self.rejects as f64 / self.items as f64
        }
    }
}

/// Everything a report shows, computed in one go.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// The filter.
    pub filter: ReportFilter,
    /// How the subgroups were cut.
    pub group_by: GroupBy,
    /// Totals.
    pub summary: Summary,
    /// Subgroups, in time order.
    pub groups: Vec<Group>,
    /// p-chart of the subgroups.
    pub chart: PChart,
    /// Pareto of the rejected items' defect classes.
    pub pareto: Vec<ParetoBar>,
    /// Hourly drift trend of the passed items' scores.
    pub drift: Vec<DriftPoint>,
    /// The drift reference used.
    pub drift_reference: DriftReference,
    /// Lots in the report with their disposition.
    pub lots: Vec<LotDisposition>,
    /// Query times, ms, by query.
    pub timings_ms: Vec<(String, f64)>,
}

impl Report {
    /// True when some subgroup is out of control.
    pub fn out_of_control(&self) -> bool {
        self.chart.out_of_control().next().is_some()
    }

    /// True when some hour drifts.
    pub fn drifting(&self) -> bool {
        self.drift.iter().any(|d| d.drifting)
    }
}

/// Format an hour start as `2026-11-20 08:00`.
pub fn hour_label(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:00").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

impl Group {
    /// A subgroup from its counts.
    fn from_counts(
        key: String,
        c: GroupCounts,
        lot_status: Option<LotStatus>,
        drill: ReportFilter,
    ) -> Self {
        Group {
            key,
            items: c.items,
            rejects: c.rejects,
            first_ts_ms: c.first_ts_ms,
            last_ts_ms: c.last_ts_ms,
            lot_status,
            drill,
        }
    }

    /// The subgroup of the hour starting at `start_ms`.
    fn hour(f: &ReportFilter, start_ms: i64, c: GroupCounts) -> Self {
        let drill = f.with_time(start_ms, start_ms + HOUR_MS);
        Group::from_counts(hour_label(start_ms), c, None, drill)
    }
}

/// Totals of the filtered inspections.
pub fn summary(db: &dyn ReportSource, f: &ReportFilter) -> Result<Summary, ReportError> {
    db.summary(f)
}

/// The subgroups of the filtered inspections.
pub fn groups(
    db: &dyn ReportSource,
    f: &ReportFilter,
    by: GroupBy,
) -> Result<Vec<Group>, ReportError> {
    Ok(match by {
        GroupBy::Hour => db
            .counts_by_hour(f)?
            .into_iter()
            .map(|h| Group::hour(f, h.start_ms, h.counts))
            .collect(),
        // Inspections recorded without a lot cannot be selected by a lot filter, so they are
        // left out of the per-lot chart.
        GroupBy::Lot => db
            .counts_by_lot(f)?
            .into_iter()
            .filter_map(|l| {
                let code = l.code?;
                Some(Group::from_counts(
                    code.clone(),
                    l.counts,
                    l.status,
                    f.with_lot(&code),
                ))
            })
            .collect(),
        GroupBy::Shift => shifts(f, db.counts_by_lot(f)?),
        GroupBy::Station => db
            .counts_by_station(f)?
            .into_iter()
            .map(|s| {
                let drill = ReportFilter {
                    station: Some(s.station.clone()),
                    ..f.clone()
                };
                Group::from_counts(s.station, s.counts, None, drill)
            })
            .collect(),
    })
}

/// The per-lot counts merged by shift, in order of each shift's first lot.
fn shifts(f: &ReportFilter, lots: Vec<crate::store::read_model::LotCounts>) -> Vec<Group> {
    let mut shifts: Vec<Group> = Vec::new();
    for l in lots {
        let Some(shift) = l.shift else { continue };
        let c = l.counts;
        match shifts.iter_mut().find(|g| g.key == shift) {
            Some(g) => {
                g.items += c.items;
                g.rejects += c.rejects;
                g.first_ts_ms = g.first_ts_ms.min(c.first_ts_ms);
                g.last_ts_ms = g.last_ts_ms.max(c.last_ts_ms);
            }
            None => {
                let drill = ReportFilter {
                    shift: Some(shift.clone()),
                    ..f.clone()
                };
                shifts.push(Group::from_counts(shift, c, None, drill));
            }
        }
    }
    shifts
}

/// Rejected items per defect class (`unclassified` for none), for the Pareto chart.
pub fn defect_counts(
    db: &dyn ReportSource,
    f: &ReportFilter,
) -> Result<Vec<(String, u64)>, ReportError> {
    db.defect_counts(f)
}

/// The latest `limit` filtered items, newest first; with `with_image`, only items that have
/// a saved crop.
pub fn items(
    db: &dyn ReportSource,
    f: &ReportFilter,
    with_image: bool,
    limit: usize,
) -> Result<Vec<InspectionView>, ReportError> {
    db.items(f, with_image, limit)
}

/// Call `each` for every filtered item, oldest first (streams: nothing is collected).
/// Stops early when `each` returns false. Returns the number of rows visited.
pub fn for_each_item(
    db: &dyn ReportSource,
    f: &ReportFilter,
    mut each: impl FnMut(InspectionView) -> bool,
) -> Result<u64, ReportError> {
    db.for_each_item(f, &mut each)
}

/// The lots with these codes, with their status and last status change.
pub fn lot_dispositions(
    db: &dyn ReportSource,
    codes: &[String],
) -> Result<Vec<LotDisposition>, ReportError> {
    db.lot_dispositions(codes)
}

/// The summary of the hourly scan.
fn summary_of(hours: &[HourScan]) -> Summary {
    Summary {
        items: hours.iter().map(|h| h.counts.items).sum(),
        rejects: hours.iter().map(|h| h.counts.rejects).sum(),
        reviews: hours.iter().map(|h| h.reviews).sum(),
        first_ts_ms: hours.first().map(|h| h.counts.first_ts_ms),
        last_ts_ms: hours.last().map(|h| h.counts.last_ts_ms),
    }
}

/// Query times, by query, in ms.
#[derive(Default)]
struct Timings(Vec<(String, f64)>);

impl Timings {
    /// Run `query`, recording its time under `name`.
    fn run<T>(&mut self, name: &str, query: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = query();
        self.0
            .push((name.to_string(), t.elapsed().as_secs_f64() * 1000.0));
        out
    }
}

/// A query name of [`Report::timings_ms`] (kept English there: the JSON report's keys) as
/// people read it in the language in force.
pub fn query_label(name: &str) -> String {
    match name {
        "by hour (summary, drift)" => crate::tr!("query-hours"),
        "pareto" => crate::tr!("query-pareto"),
        "lots" => crate::tr!("query-lots"),
        _ => GroupBy::ALL
            .into_iter()
            .find(|g| name == format!("by {}", g.title()))
            .map(|g| crate::tr!("query-groups", group = g.label()))
            .unwrap_or_else(|| name.to_string()),
    }
}

/// Run every report query for `f` and put the results together, timing each query.
pub fn build_report(
    db: &dyn ReportSource,
    f: &ReportFilter,
    group_by: GroupBy,
    drift_reference: &DriftReference,
) -> Result<Report, ReportError> {
    db.validate(f)?;
    let mut timings = Timings::default();
    let baseline = timings.run("drift baseline", || {
        db.drift_baseline(f, BASELINE_ITEMS, drift_reference.score_quantile)
    })?;
    let drift_reference = &match baseline {
        Some((items, above)) => drift_reference.clone().with_baseline(items, above),
        None => drift_reference.clone(),
    };
    let hours = timings.run("by hour (summary, drift)", || {
        db.hours(f, drift_reference.score_quantile)
    })?;
    let summary = summary_of(&hours);
    let drift = drift_points(
        drift_reference,
        hours
            .iter()
            .map(|h| (h.start_ms, h.pass.passed, h.pass.mean_score, h.pass.above)),
    );
    let groups = if group_by == GroupBy::Hour {
        hours
            .iter()
            .map(|h| Group::hour(f, h.start_ms, h.counts.clone()))
            .collect()
    } else {
        let name = format!("by {}", group_by.title());
        timings.run(&name, || groups(db, f, group_by))?
    };
    let pareto = timings.run("pareto", || defect_counts(db, f).map(pareto))?;
    let lots = timings.run("lots", || {
        // The lots behind the report: the lot groups, or the lots of the filtered items. (An
        // EXISTS probe per lot looks cheaper but is not: with a station or time filter SQLite
        // walks that filter's index once per lot.)
        let codes: Vec<String> = if group_by == GroupBy::Lot {
            groups.iter().map(|g| g.key.clone()).collect()
        } else {
            self::groups(db, f, GroupBy::Lot)?
                .into_iter()
                .map(|g| g.key)
                .collect()
        };
        lot_dispositions(db, &codes)
    })?;
    let chart = PChart::new(groups.iter().map(|g| (g.key.clone(), g.items, g.rejects)));
    Ok(Report {
        filter: f.clone(),
        group_by,
        summary,
        groups,
        chart,
        pareto,
        drift,
        drift_reference: drift_reference.clone(),
        lots,
        timings_ms: timings.0,
    })
}
