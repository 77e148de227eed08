//! CSV export of the filtered inspections.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::filter::ReportFilter;
use super::query::for_each_item;
use super::source::ReportSource;
use super::{ReportError, fmt_ts};
use crate::store::InspectionView;

/// The CSV header: one column per exported [`crate::store::InspectionView`] field (bbox split in
/// four).
pub const CSV_HEADER: [&str; 16] = [
    "id",
    "time_utc",
    "ts_ms",
    "station",
    "lot",
    "model_version",
    "frame_seq",
    "item_index",
    "score",
    "verdict",
    "defect_class",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "sample_path",
];

/// One inspection as a CSV record, in [`CSV_HEADER`] order.
fn csv_record(r: InspectionView) -> [String; 16] {
    [
        r.id.to_string(),
        fmt_ts(r.ts_ms),
        r.ts_ms.to_string(),
        text_cell(r.station),
        text_cell(r.lot_code.unwrap_or_default()),
        text_cell(r.model_version.unwrap_or_default()),
        r.frame_seq.to_string(),
        r.item_index.to_string(),
        format!("{:.4}", r.score),
        r.verdict.as_str().to_string(),
        text_cell(r.defect_class.unwrap_or_default()),
        r.bbox.x.to_string(),
        r.bbox.y.to_string(),
        r.bbox.w.to_string(),
        r.bbox.h.to_string(),
        text_cell(
            r.sample_path
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}

/// A text cell made safe for spreadsheets: a cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return would be run as a formula by Excel or LibreOffice (CSV injection), so it
/// gets a leading `'`, which they show as text. Numeric columns are never passed here.
pub fn text_cell(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

/// Write every filtered inspection to `path` as CSV (oldest first), through a temporary file
/// renamed into place, so a failed or cancelled export leaves no half file. `progress` gets
/// the rows written so far (every 10,000 rows); setting `cancel` stops the export. Returns
/// the number of rows written.
pub fn write_csv(
    db: &dyn ReportSource,
    f: &ReportFilter,
    path: &Path,
    progress: &dyn Fn(u64),
    cancel: &AtomicBool,
) -> Result<u64, ReportError> {
    let werr = |reason: String| ReportError::Write {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(file) = db.database_file() {
        crate::store::guard_output_path(file, path)?;
    }
    db.validate(f)?;
    let tmp = path.with_extension("csv.part");
    let file = crate::domain::private_fs::create_private(&tmp).map_err(|e| werr(e.to_string()))?;
    let mut w = csv::Writer::from_writer(file);
    let result = (|| {
        w.write_record(CSV_HEADER)
            .map_err(|e| werr(e.to_string()))?;
        let mut written = 0u64;
        let mut failure: Option<ReportError> = None;
        for_each_item(db, f, |r| {
            if cancel.load(Ordering::Relaxed) {
                failure = Some(ReportError::Cancelled {
                    path: path.to_path_buf(),
                });
                return false;
            }
            let rec = csv_record(r);
            if let Err(e) = w.write_record(&rec) {
                failure = Some(werr(e.to_string()));
                return false;
            }
            written += 1;
            if written.is_multiple_of(10_000) {
                progress(written);
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        w.flush().map_err(|e| werr(e.to_string()))?;
        Ok(written)
    })();
    drop(w);
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, path).map_err(|e| werr(e.to_string()))?;
            progress(n);
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
