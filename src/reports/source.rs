//! Where a report reads from: a station's SQLite database or the plant's PostgreSQL
//! database. Both give the same rows, so the p-chart, Pareto, drift trend, drill-down, CSV
//! and PDF are computed by the same code whichever database is behind them.

use std::path::Path;

use super::ReportError;
use super::filter::ReportFilter;
use crate::store::plant_db::PlantDb;
use crate::store::read_model::{
    FilterOptions, HourCounts, HourScan, LotCounts, LotDisposition, StationCounts, Summary,
};
use crate::store::{InspectionView, Store};

/// A database the reports read. Every method is a read.
pub trait ReportSource {
    /// The database file, when it is one (exports are refused over it).
    fn database_file(&self) -> Option<&Path>;
    /// True for the plant database (every station; no crops, no shift sign-offs).
    fn is_plant(&self) -> bool;
    /// Check the filter's named values against this database (see
    /// [`ReportFilter::validate`]).
    fn validate(&self, f: &ReportFilter) -> Result<(), ReportError>;
    /// Per clock hour: counts, reviews and the passed items against `score_quantile`.
    fn hours(&self, f: &ReportFilter, score_quantile: f64) -> Result<Vec<HourScan>, ReportError>;
    /// Per clock hour: counts.
    fn counts_by_hour(&self, f: &ReportFilter) -> Result<Vec<HourCounts>, ReportError>;
    /// Per lot, in order of first inspection.
    fn counts_by_lot(&self, f: &ReportFilter) -> Result<Vec<LotCounts>, ReportError>;
    /// Per station, by name.
    fn counts_by_station(&self, f: &ReportFilter) -> Result<Vec<StationCounts>, ReportError>;
    /// Rejected items per defect class.
    fn defect_counts(&self, f: &ReportFilter) -> Result<Vec<(String, u64)>, ReportError>;
    /// The drift test's baseline: passed items and how many scored above `score_quantile`.
    fn drift_baseline(
        &self,
        f: &ReportFilter,
        limit: u64,
        score_quantile: f64,
    ) -> Result<Option<(u64, u64)>, ReportError>;
    /// The latest `limit` filtered items, newest first (only with a crop: `with_image`).
    fn items(
        &self,
        f: &ReportFilter,
        with_image: bool,
        limit: usize,
    ) -> Result<Vec<InspectionView>, ReportError>;
    /// Every filtered item, oldest first, until `each` says stop; the rows visited.
    fn for_each_item(
        &self,
        f: &ReportFilter,
        each: &mut dyn FnMut(InspectionView) -> bool,
    ) -> Result<u64, ReportError>;
    /// The lots with these codes and their disposition.
    fn lot_dispositions(&self, codes: &[String]) -> Result<Vec<LotDisposition>, ReportError>;
    /// The values of the filter menus.
    fn filter_options(&self) -> Result<FilterOptions, ReportError>;
    /// Totals of the filtered inspections.
    fn summary(&self, f: &ReportFilter) -> Result<Summary, ReportError> {
        let hours = self.hours(f, f64::INFINITY)?;
        Ok(Summary {
            items: hours.iter().map(|h| h.counts.items).sum(),
            rejects: hours.iter().map(|h| h.counts.rejects).sum(),
            reviews: hours.iter().map(|h| h.reviews).sum(),
            first_ts_ms: hours.first().map(|h| h.counts.first_ts_ms),
            last_ts_ms: hours.last().map(|h| h.counts.last_ts_ms),
        })
    }
}

impl ReportSource for Store {
    fn database_file(&self) -> Option<&Path> {
        Some(self.path())
    }
    fn is_plant(&self) -> bool {
        false
    }
    fn validate(&self, f: &ReportFilter) -> Result<(), ReportError> {
        Ok(f.validate(self)?)
    }
    fn hours(&self, f: &ReportFilter, score_quantile: f64) -> Result<Vec<HourScan>, ReportError> {
        Ok(self.report_hours(f, score_quantile)?)
    }
    fn counts_by_hour(&self, f: &ReportFilter) -> Result<Vec<HourCounts>, ReportError> {
        Ok(self.report_counts_by_hour(f)?)
    }
    fn counts_by_lot(&self, f: &ReportFilter) -> Result<Vec<LotCounts>, ReportError> {
        Ok(self.report_counts_by_lot(f)?)
    }
    fn counts_by_station(&self, f: &ReportFilter) -> Result<Vec<StationCounts>, ReportError> {
        Ok(self.report_counts_by_station(f)?)
    }
    fn defect_counts(&self, f: &ReportFilter) -> Result<Vec<(String, u64)>, ReportError> {
        Ok(self.report_defect_counts(f)?)
    }
    fn drift_baseline(
        &self,
        f: &ReportFilter,
        limit: u64,
        score_quantile: f64,
    ) -> Result<Option<(u64, u64)>, ReportError> {
        Ok(Store::drift_baseline(self, f, limit, score_quantile)?)
    }
    fn items(
        &self,
        f: &ReportFilter,
        with_image: bool,
        limit: usize,
    ) -> Result<Vec<InspectionView>, ReportError> {
        Ok(self.report_items(f, with_image, limit)?)
    }
    fn for_each_item(
        &self,
        f: &ReportFilter,
        each: &mut dyn FnMut(InspectionView) -> bool,
    ) -> Result<u64, ReportError> {
        Ok(self.for_each_report_item(f, each)?)
    }
    fn lot_dispositions(&self, codes: &[String]) -> Result<Vec<LotDisposition>, ReportError> {
        Ok(Store::lot_dispositions(self, codes)?)
    }
    fn filter_options(&self) -> Result<FilterOptions, ReportError> {
        Ok(Store::filter_options(self)?)
    }
    fn summary(&self, f: &ReportFilter) -> Result<Summary, ReportError> {
        Ok(self.report_summary(f)?)
    }
}

impl ReportSource for PlantDb {
    fn database_file(&self) -> Option<&Path> {
        None
    }
    fn is_plant(&self) -> bool {
        true
    }
    fn validate(&self, f: &ReportFilter) -> Result<(), ReportError> {
        Ok(f.validate_by(|field, value| {
            self.filter_value_exists(field, value)
                .map_err(|e| e.to_string())
        })?)
    }
    fn hours(&self, f: &ReportFilter, score_quantile: f64) -> Result<Vec<HourScan>, ReportError> {
        Ok(self.report_hours(f, score_quantile)?)
    }
    fn counts_by_hour(&self, f: &ReportFilter) -> Result<Vec<HourCounts>, ReportError> {
        Ok(self.report_counts_by_hour(f)?)
    }
    fn counts_by_lot(&self, f: &ReportFilter) -> Result<Vec<LotCounts>, ReportError> {
        Ok(self.report_counts_by_lot(f)?)
    }
    fn counts_by_station(&self, f: &ReportFilter) -> Result<Vec<StationCounts>, ReportError> {
        Ok(self.report_counts_by_station(f)?)
    }
    fn defect_counts(&self, f: &ReportFilter) -> Result<Vec<(String, u64)>, ReportError> {
        Ok(self.report_defect_counts(f)?)
    }
    fn drift_baseline(
        &self,
        f: &ReportFilter,
        limit: u64,
        score_quantile: f64,
    ) -> Result<Option<(u64, u64)>, ReportError> {
        Ok(PlantDb::drift_baseline(self, f, limit, score_quantile)?)
    }
    fn items(
        &self,
        f: &ReportFilter,
        with_image: bool,
        limit: usize,
    ) -> Result<Vec<InspectionView>, ReportError> {
        Ok(self.report_items(f, with_image, limit)?)
    }
    fn for_each_item(
        &self,
        f: &ReportFilter,
        each: &mut dyn FnMut(InspectionView) -> bool,
    ) -> Result<u64, ReportError> {
        Ok(self.for_each_report_item(f, each)?)
    }
    fn lot_dispositions(&self, codes: &[String]) -> Result<Vec<LotDisposition>, ReportError> {
        Ok(PlantDb::lot_dispositions(self, codes)?)
    }
    fn filter_options(&self) -> Result<FilterOptions, ReportError> {
        Ok(PlantDb::filter_options(self)?)
    }
}
