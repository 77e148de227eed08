//! Reports for QC managers: what the inspection records say about quality.
//!
//! - [`filter`]: which inspections a report covers, as a bound-parameter SQL clause.
//! - [`query`]: counts, subgroups, defect counts, drift trend, drill-down items, lot
//!   dispositions, and [`query::build_report`] that runs them all.
//! - [`spc`]: the p-chart with per-point 3-sigma limits, the Western Electric rules, and the
//!   [`spc::LiveMonitor`] that raises the live line's alarm.
//! - [`pareto`], [`drift`]: the Pareto of defect classes and the score drift trend.
//! - [`export`]: CSV of the filtered inspections; [`pdf`]: the printable report.
//! - [`audit`]: extracts of the audit trail for review (rows, CSV, the chains' verification);
//!   the signed PDF of one is in [`pdf`].
//! - [`demo`]: a generator of realistic inspection databases (to measure and test).
//!
//! Nothing here depends on egui or SQL: every function takes a [`crate::store::Store`], whose
//! read model ([`crate::store::read_model`]) runs the queries, and can run on any thread.

pub mod audit;
pub mod demo;
pub mod drift;
pub mod export;
pub mod filter;
pub mod pareto;
pub mod pdf;
pub mod query;
pub mod source;
pub mod spc;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use filter::ReportFilter;
pub use query::{GroupBy, Report, build_report};
pub use source::ReportSource;

/// Errors of report queries and exports. Each names the query or file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A filter value is wrong.
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    /// The store failed (a report query, opening the database, changing a lot); the message
    /// names the query and the database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The plant database failed; the message names the query and the database.
    #[error(transparent)]
    Plant(#[from] crate::store::plant_db::PlantDbError),
    /// Writing an export file failed.
    #[error("{}", crate::tr!("err-reports-write", path = .path.display().to_string(), reason = .reason.to_string()))]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The export was cancelled.
    #[error("{}", crate::tr!("err-reports-cancelled", path = .path.display().to_string()))]
    Cancelled {
        /// The file that was not written.
        path: PathBuf,
    },
}

/// A lot status as people read it in the language in force ("on hold", "retenido").
pub fn lot_status_label(status: crate::store::LotStatus) -> String {
    use crate::store::LotStatus;
    match status {
        LotStatus::Open => crate::tr!("lot-status-open"),
        LotStatus::Hold => crate::tr!("lot-status-hold"),
        LotStatus::Released => crate::tr!("lot-status-released"),
    }
}

/// A unix-ms timestamp as `2026-11-20 08:15:02` (UTC).
pub fn fmt_ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
