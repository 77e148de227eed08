//! The read model of the reports: every query a report, an export or the filter menus run,
//! returning plain rows. The `reports` module (above the store) computes the p-chart,
//! Pareto, drift trend and PDF from these rows and never sees SQL.
//!
//! - [`filter`]: [`ReportFilter`], which inspections a report covers, and its `WHERE` clause.
//! - [`counts`]: totals and counts per hour, lot, station and defect class.
//! - [`items`]: the filtered inspections as [`crate::store::InspectionView`] rows.
//! - [`lots`]: lot dispositions, lot ids by code and the filter menus' values.

pub mod counts;
pub mod filter;
pub mod items;
pub mod lots;

pub use counts::{
    GroupCounts, HOUR_MS, HourCounts, HourScan, LotCounts, PassScores, StationCounts, Summary,
};
pub use filter::{FilterError, ReportFilter, UNCLASSIFIED};
pub use lots::{FilterOptions, LotDisposition};
