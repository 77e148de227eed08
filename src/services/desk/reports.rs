//! Report commands: filter menus, report queries and drill-downs on the worker's store; lot
//! status changes and the alarm log; CSV and PDF exports on job threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use image::RgbImage;

use super::command::SaveTarget;
use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker, open_with_retry, spawn_job};
use crate::domain::Permission;
use crate::reports::drift::DriftReference;
use crate::reports::pdf::PdfMeta;
use crate::reports::{GroupBy, Report, ReportError, ReportFilter, ReportSource, query};
use crate::services::line_alarm::{ALARM_ACTION, ALARM_ACTOR};
use crate::services::lot_decision;
use crate::services::shift_review::{self, ShiftKey, ShiftReviewState};
use crate::services::signing::SignatureInput;
use crate::store::LotStatus;
use crate::store::plant_db::PlantDb;

/// Drill-down rows read at most.
pub(super) const DRILL_ROWS: usize = 300;
/// New thumbnails sent per drill-down at most.
const DRILL_THUMBS: usize = 60;

/// Load a crop as a thumbnail (at most 128 px).
fn thumbnail(path: &Path) -> Option<RgbImage> {
    let img = image::open(path)
        .map_err(|e| tracing::warn!("drill-down: cannot read {}: {e}", path.display()))
        .ok()?;
    Some(img.thumbnail(128, 128).to_rgb8())
}

/// The database an export job reads, opened on the job's own thread.
enum ExportDb {
    /// This station's.
    Station(crate::store::Store),
    /// The plant's.
    Plant(PlantDb),
}

impl ExportDb {
    /// Open the plant database at `plant`, or else the station's at `db`.
    fn open(plant: Option<&str>, db: &Path) -> Result<ExportDb, DeskError> {
        Ok(match plant {
            Some(url) => {
                ExportDb::Plant(PlantDb::open_for_reading(url).map_err(ReportError::from)?)
            }
            None => ExportDb::Station(open_with_retry(db)?),
        })
    }

    fn source(&self) -> &dyn ReportSource {
        match self {
            ExportDb::Station(s) => s,
            ExportDb::Plant(p) => p,
        }
    }

    /// The station's store (shift reviews live there), not the plant's.
    fn station(&self) -> Option<&crate::store::Store> {
        match self {
            ExportDb::Station(s) => Some(s),
            ExportDb::Plant(_) => None,
        }
    }
}

impl Worker {
    /// From now on the reports read the plant database at `plant` (none: the station's).
    /// Connecting waits for the next report, which then says what failed.
    pub(super) fn report_database(&mut self, plant: Option<String>) {
        self.plant = None;
        self.plant_url = plant
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        if let Some(url) = &self.plant_url {
            let name = crate::store::plant_db::without_password(url);
            tracing::info!("reports: reading the plant database {name}");
        }
    }

    /// The database the reports read: the plant's when one is chosen (connected when
    /// needed), else the station's.
    fn report_source(&mut self) -> Result<&dyn ReportSource, DeskError> {
        if let Some(url) = self.plant_url.clone() {
            let db = match self.plant.take() {
                Some(db) => db,
                None => PlantDb::open_for_reading(&url).map_err(ReportError::from)?,
            };
            return Ok(self.plant.insert(db));
        }
        let store: &crate::store::Store = self.store()?;
        Ok(store)
    }

    pub(super) fn report_options(&mut self) -> Result<(), DeskError> {
        let o = self.report_source()?.filter_options()?;
        self.sink.emit(Event::ReportOptions(o));
        Ok(())
    }

    pub(super) fn build_report(
        &mut self,
        f: &ReportFilter,
        by: GroupBy,
        reference: &DriftReference,
    ) -> Result<(), DeskError> {
        let db = self.report_source()?;
        let t = Instant::now();
        let r = crate::reports::build_report(db, f, by, reference)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        self.sink.emit(Event::Report(Box::new(r), ms));
        // Shift sign-offs are kept by the station, not the plant.
        let review = match self.plant_url {
            Some(_) => None,
            None => ShiftReviewState::for_filter(self.store()?, f)?,
        };
        self.sink.emit(Event::ShiftReview(review));
        Ok(())
    }

    pub(super) fn close_shift(
        &mut self,
        key: &ShiftKey,
        sign: &SignatureInput,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::CloseShiftReport)?;
        let sig = shift_review::close(self.store()?, &user, key, sign)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        let msg = crate::tr!(
            "desk-shift-closed",
            shift = key.record_id(),
            who = sig.display_name.as_str()
        );
        self.sink.status(Topic::Reports, Status::Done(msg));
        let review = ShiftReviewState::for_filter(self.store()?, &key.filter())?;
        self.sink.emit(Event::ShiftReview(review));
        Ok(())
    }

    pub(super) fn drill(
        &mut self,
        title: String,
        f: &ReportFilter,
        images_only: bool,
    ) -> Result<(), DeskError> {
        let items = query::items(self.report_source()?, f, images_only, DRILL_ROWS)?;
        let thumbs = items
            .iter()
            .filter_map(|i| i.sample_path.clone())
            .filter(|p| self.thumbs_sent.insert(p.clone()))
            .take(DRILL_THUMBS)
            .filter_map(|p| thumbnail(&p).map(|img| (p, img)))
            .collect();
        self.sink.emit(Event::Drill {
            title,
            items,
            thumbs,
        });
        Ok(())
    }

    pub(super) fn set_lot_status(
        &mut self,
        code: &str,
        status: LotStatus,
        sign: &SignatureInput,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::HoldReleaseLot)?;
        let sig = lot_decision::decide(self.store()?, &user, code, status, sign)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        let msg = crate::tr!(
            "desk-lot-set",
            code = code,
            status = crate::reports::lot_status_label(status).to_uppercase(),
            actor = sig.display_name.as_str()
        );
        self.sink.status(Topic::Reports, Status::Done(msg));
        Ok(())
    }

    pub(super) fn set_plant_lot_status(
        &mut self,
        code: &str,
        status: LotStatus,
        sign: &SignatureInput,
        origin: &str,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::HoldReleaseLot)?;
        if self.plant_url.is_none() {
            return Err(DeskError::Other(crate::tr!("desk-plant-lot-no-plant")));
        }
        // A lot the plant does not know is named before anything is signed.
        let only_lot = ReportFilter {
            lot: Some(code.to_string()),
            ..ReportFilter::default()
        };
        self.report_source()?.validate(&only_lot)?;
        let (sig, command) =
            lot_decision::decide_for_plant(self.store()?, &user, code, status, sign, origin)
                .map_err(|e| DeskError::Other(e.to_string()))?;
        let msg = crate::tr!(
            "desk-plant-lot-sent",
            code = code,
            status = crate::reports::lot_status_label(status).to_uppercase(),
            actor = sig.display_name.as_str(),
            command = command.id
        );
        self.sink.status(Topic::Reports, Status::Done(msg));
        Ok(())
    }

    pub(super) fn log_alarm(&mut self, details: serde_json::Value) -> Result<(), DeskError> {
        // The banner already shows the alarm: nothing to answer.
        self.store()?.audit(ALARM_ACTOR, ALARM_ACTION, details)?;
        Ok(())
    }

    /// Write the filtered inspections as CSV on a job thread (progress, cancel).
    pub(super) fn export_csv(&mut self, f: ReportFilter, to: SaveTarget) {
        let cancel = self.export_cancel.clone();
        cancel.store(false, Ordering::Relaxed);
        self.export_job("CSV", to, move |db, path, sink| {
            let progress = |n: u64| {
                sink.status(
                    Topic::Reports,
                    Status::busy(crate::tr!("desk-csv-progress", rows = n)),
                );
            };
            let n = crate::reports::export::write_csv(db.source(), &f, path, &progress, &cancel)?;
            Ok(crate::tr!(
                "desk-csv-done",
                rows = n,
                path = path.display().to_string()
            ))
        });
    }

    /// Write the report as PDF on a job thread.
    pub(super) fn export_pdf(&mut self, report: Box<Report>, meta: PdfMeta, to: SaveTarget) {
        self.export_job("PDF", to, move |db, path, _| {
            // A shift's report carries its review as it stands when written.
            let review = match db.station() {
                Some(store) => ShiftReviewState::for_filter(store, &report.filter)?,
                None => None,
            };
            let meta = PdfMeta {
                review: review.map(|r| r.to_pdf()),
                ..meta
            };
            let bytes = crate::reports::pdf::write_pdf(db.source(), &report, &meta, path)?;
            let kb = bytes / 1024;
            Ok(crate::tr!(
                "desk-pdf-done",
                path = path.display().to_string(),
                kb = kb
            ))
        });
    }

    /// An export job: ask where (when asked to), make the folder, open the database the
    /// reports read, write.
    fn export_job(
        &mut self,
        kind: &'static str,
        to: SaveTarget,
        write: impl FnOnce(&ExportDb, &Path, &super::EventSink) -> Result<String, DeskError>
        + Send
        + 'static,
    ) {
        let db = self.cfg.paths.db_path();
        let plant = self.plant_url.clone();
        let sink = self.sink.clone();
        let what = match &to {
            SaveTarget::Ask(_) => format!("{kind} export: choose a file"),
            SaveTarget::Path(_) => format!("{kind} export running"),
        };
        sink.status(Topic::Reports, Status::busy(what));
        spawn_job(&self.sink.clone(), Topic::Reports, "export", move || {
            let path: PathBuf = match to {
                SaveTarget::Path(p) => p,
                SaveTarget::Ask(pick) => match pick() {
                    Some(p) => p,
                    None => {
                        // Cancelled, or no file dialog available (no desktop portal): say so.
                        let msg = crate::tr!("desk-export-cancelled");
                        sink.status(Topic::Reports, Status::Done(msg));
                        return;
                    }
                },
            };
            let result = (|| {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DeskError::Other(crate::tr!(
                            "desk-cannot-create-folder",
                            path = dir.display().to_string(),
                            error = e.to_string()
                        ))
                    })?;
                }
                let opened = ExportDb::open(plant.as_deref(), &db)?;
                write(&opened, &path, &sink)
            })();
            let status = match result {
                Ok(msg) => Status::Done(msg),
                Err(e) => {
                    tracing::error!("reports: {e}");
                    Status::Failed(e.to_string())
                }
            };
            sink.status(Topic::Reports, status);
        });
    }
}
