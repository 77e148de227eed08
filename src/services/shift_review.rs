//! Closing a shift report: a QC manager reads one shift of one plant day (optionally of one
//! line) and signs it "reviewed" (FSMA 21 CFR 117.165: records of monitoring are reviewed
//! and signed within seven working days). The signature is bound to what the report said
//! when it was signed: the counts, the defect classes and the lots with their status; a
//! record added or changed later makes the shift reviewable again instead of silently
//! covered by the old signature.

use jiff::civil::Date;

use crate::domain::SignedAction;
use crate::i18n::plant_time_zone;
use crate::services::auth::AuthUser;
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::{ReportFilter, SignatureRow, Store, StoreError};
use crate::tr;

/// Why a shift report was not closed.
#[derive(Debug, thiserror::Error)]
pub enum ShiftReviewError {
    /// The date is not `YYYY-MM-DD`.
    #[error("{}", tr!("shift-bad-date", date = .0.as_str()))]
    BadDate(String),
    /// No shift was named.
    #[error("{}", tr!("shift-no-shift"))]
    NoShift,
    /// The shift has no inspections: nothing to review.
    #[error("{}", tr!("shift-empty", shift = .0.as_str()))]
    Empty(String),
    /// The same content was already signed.
    #[error("{}", tr!("shift-already-closed", shift = .record.as_str(), who = .by.as_str(), when = crate::i18n::format_datetime(*.at_ms)))]
    AlreadyClosed {
        /// The shift report.
        record: String,
        /// Who closed it.
        by: String,
        /// When (unix ms).
        at_ms: i64,
    },
    /// The signature was refused (role, password, reason).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One shift of one plant day, optionally of one line: the unit a shift report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftKey {
    /// The plant day (in the plant's time zone).
    pub date: Date,
    /// The shift (`lots.shift`), e.g. `A`.
    pub shift: String,
    /// The production line, or every line.
    pub line: Option<String>,
}

impl ShiftKey {
    /// A key from what people type: `2026-11-20`, `A`, optionally a line.
    pub fn parse(date: &str, shift: &str, line: Option<&str>) -> Result<Self, ShiftReviewError> {
        let date = date
            .trim()
            .parse::<Date>()
            .map_err(|_| ShiftReviewError::BadDate(date.to_string()))?;
        let shift = shift.trim();
        if shift.is_empty() {
            return Err(ShiftReviewError::NoShift);
        }
        let line = line.map(str::trim).filter(|l| !l.is_empty());
        Ok(ShiftKey {
            date,
            shift: shift.to_string(),
            line: line.map(str::to_string),
        })
    }

    /// The record id the signature names: `2026-11-20/A`, or `2026-11-20/A/line-2`.
    pub fn record_id(&self) -> String {
        match &self.line {
            Some(line) => format!("{}/{}/{line}", self.date, self.shift),
            None => format!("{}/{}", self.date, self.shift),
        }
    }

    /// Start and end (exclusive) of the plant day, unix ms UTC.
    fn day_bounds(&self) -> (i64, i64) {
        let zone = plant_time_zone();
        let ms = |d: Date| {
            d.to_zoned(zone.clone())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(i64::MAX)
        };
        let next = self.date.tomorrow().unwrap_or(self.date);
        (ms(self.date), ms(next))
    }

    /// The report filter of the shift: the plant day, the shift and the line.
    pub fn filter(&self) -> ReportFilter {
        let (from, to) = self.day_bounds();
        ReportFilter {
            from_ms: Some(from),
            to_ms: Some(to),
            shift: Some(self.shift.clone()),
            line: self.line.clone(),
            ..ReportFilter::default()
        }
    }

    /// The shift a report filter shows, when it shows exactly one: a shift, one whole plant
    /// day, at most a line, nothing else narrowed.
    pub fn from_filter(f: &ReportFilter) -> Option<Self> {
        let shift = f.shift.as_deref()?;
        let from = jiff::Timestamp::from_millisecond(f.from_ms?).ok()?;
        let date = from.to_zoned(plant_time_zone().clone()).date();
        let key = ShiftKey::parse(&date.to_string(), shift, f.line.as_deref()).ok()?;
        (key.filter() == *f).then_some(key)
    }
}

/// What a closing signature covers, as hashed: the shift, its counts, its defect classes and
/// its lots with their status.
fn content(store: &Store, key: &ShiftKey) -> Result<(serde_json::Value, u64), StoreError> {
    let f = key.filter();
    let summary = store.report_summary(&f)?;
    let defects = store.report_defect_counts(&f)?;
    // Lots and their status: a hold or release after the signature changes what it covered.
    let lots: Vec<(Option<String>, Option<&str>, u64)> = store
        .report_counts_by_lot(&f)?
        .into_iter()
        .map(|l| (l.code, l.status.map(|s| s.as_str()), l.counts.items))
        .collect();
    let value = serde_json::json!({
        "shift": key.record_id(),
        "items": summary.items,
        "rejects": summary.rejects,
        "reviews": summary.reviews,
        "first_ms": summary.first_ts_ms,
        "last_ms": summary.last_ts_ms,
        "defects": defects,
        "lots": lots,
    });
    Ok((value, summary.items))
}

/// Close the shift report of `key` under `user`'s signature (meaning "reviewed").
pub fn close(
    store: &mut Store,
    user: &AuthUser,
    key: &ShiftKey,
    input: &SignatureInput,
) -> Result<SignatureRow, ShiftReviewError> {
    let action = SignedAction::CloseShiftReport;
    user.require(action.permission()).map_err(SignError::from)?;
    let record = key.record_id();
    let (value, items) = content(store, key)?;
    if items == 0 {
        return Err(ShiftReviewError::Empty(record));
    }
    let hash = signing::content_hash(&value);
    if let Some(done) = closings(store, key)?
        .into_iter()
        .find(|s| s.content_hash == hash)
    {
        return Err(ShiftReviewError::AlreadyClosed {
            record,
            by: done.display_name,
            at_ms: done.ts_ms,
        });
    }
    let sig = signing::prepare(store, user, action, &record, hash, input)?;
    Ok(store.sign(&sig)?)
}

/// The closing signatures of a shift, oldest first.
pub fn closings(store: &Store, key: &ShiftKey) -> Result<Vec<SignatureRow>, StoreError> {
    let action = SignedAction::CloseShiftReport;
    store.signatures_for(action.record_kind(), &key.record_id(), Some(action))
}

/// True when the shift's records still say what its last closing signature covered.
pub fn still_as_signed(
    store: &Store,
    key: &ShiftKey,
    sig: &SignatureRow,
) -> Result<bool, StoreError> {
    let (value, _) = content(store, key)?;
    Ok(signing::content_hash(&value) == sig.content_hash)
}

/// What the Reports tab shows of the shift its filter covers.
#[derive(Clone, Debug, PartialEq)]
pub struct ShiftReviewState {
    /// The shift.
    pub key: ShiftKey,
    /// Its closing signatures, oldest first.
    pub closings: Vec<SignatureRow>,
    /// True when the records still say what the last closing signature covered.
    pub current: bool,
}

impl ShiftReviewState {
    /// The review of the shift `filter` shows; `None` when it does not show one shift.
    pub fn for_filter(store: &Store, filter: &ReportFilter) -> Result<Option<Self>, StoreError> {
        let Some(key) = ShiftKey::from_filter(filter) else {
            return Ok(None);
        };
        let closings = closings(store, &key)?;
        let current = match closings.last() {
            Some(last) => still_as_signed(store, &key, last)?,
            None => false,
        };
        Ok(Some(ShiftReviewState {
            key,
            closings,
            current,
        }))
    }

    /// The review as the PDF prints it.
    pub fn to_pdf(&self) -> crate::reports::pdf::ShiftReviewPdf {
        crate::reports::pdf::ShiftReviewPdf {
            shift: self.key.record_id(),
            signatures: self.closings.clone(),
            current: self.current,
        }
    }

    /// One line for people: not reviewed, reviewed by whom and when, or changed since.
    pub fn describe(&self) -> String {
        let shift = self.key.record_id();
        match self.closings.last() {
            None => tr!("reports-shift-none", shift = shift),
            Some(_) if !self.current => tr!("reports-shift-changed", shift = shift),
            Some(s) => tr!(
                "reports-shift-signed",
                shift = shift,
                meaning = crate::i18n::meaning_label(&s.meaning),
                who = s.display_name.as_str(),
                when = crate::i18n::format_datetime(s.ts_ms)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BBox, Role, Verdict};
    use crate::services::auth::testing::{signed, signed_in, station_with};
    use crate::store::InspectionRow;

    /// `n` inspections of lot `lot` at `ts_ms` on, one in five rejected.
    fn record(store: &mut Store, lot: i64, ts_ms: i64, n: i64) {
        let station = store.upsert_station("line-1-cam", "synthetic").unwrap();
        let rows: Vec<InspectionRow> = (0..n)
            .map(|i| InspectionRow {
                ts_ms: ts_ms + i * 1000,
                station_id: station,
                lot_id: Some(lot),
                model_version_id: None,
                frame_seq: i,
                item_index: 0,
                track_id: Some(i),
                score: 0.1,
                verdict: if i % 5 == 0 {
                    Verdict::Reject
                } else {
                    Verdict::Pass
                },
                defect_class: (i % 5 == 0).then(|| "crack".to_string()),
                bbox: BBox {
                    x: 1,
                    y: 1,
                    w: 10,
                    h: 10,
                },
                sample_id: None,
            })
            .collect();
        store.insert_inspections(&rows).unwrap();
    }

    #[test]
    fn a_qc_manager_closes_a_shift_once_until_its_records_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = station_with(
            dir.path(),
            &[("qc.anna", Role::QcManager), ("tec.luis", Role::Technician)],
        );
        let qc = signed_in(&mut store, "qc.anna");
        let tec = signed_in(&mut store, "tec.luis");
        let key = ShiftKey::parse("2026-11-20", " A ", Some("L1")).unwrap();
        assert_eq!(key.record_id(), "2026-11-20/A/L1");
        // The filter of the key is recognised as one shift; a wider one is not.
        let f = key.filter();
        assert_eq!(ShiftKey::from_filter(&f), Some(key.clone()));
        let wider = ReportFilter {
            verdict: Some("reject".into()),
            ..f.clone()
        };
        assert_eq!(ShiftKey::from_filter(&wider), None);
        assert!(matches!(
            ShiftKey::parse("20/11/2026", "A", None),
            Err(ShiftReviewError::BadDate(_))
        ));

        let e = close(&mut store, &qc, &key, &signed("checked"));
        assert!(matches!(e, Err(ShiftReviewError::Empty(_))), "{e:?}");
        let lot = store.get_or_create_lot("L7", "cookies", "L1", "A").unwrap();
        // 10:00 in Lima, inside the plant day; one more item on the next day.
        let day = f.from_ms.unwrap();
        record(&mut store, lot, day + 10 * 3_600_000, 20);
        record(&mut store, lot, f.to_ms.unwrap() + 60_000, 1);

        let e = close(&mut store, &tec, &key, &signed("checked"));
        assert!(
            matches!(e, Err(ShiftReviewError::Sign(SignError::Denied(_)))),
            "{e:?}"
        );
        let state = ShiftReviewState::for_filter(&store, &f).unwrap().unwrap();
        assert!(state.closings.is_empty() && !state.current);

        let sig = close(&mut store, &qc, &key, &signed("counts checked")).unwrap();
        assert_eq!(
            (
                sig.action.as_str(),
                sig.meaning.as_str(),
                sig.record_kind.as_str()
            ),
            ("report.close", "reviewed", "shift_report")
        );
        let state = ShiftReviewState::for_filter(&store, &f).unwrap().unwrap();
        assert!(state.current && state.closings.len() == 1);
        let e = close(&mut store, &qc, &key, &signed("again"));
        assert!(
            matches!(e, Err(ShiftReviewError::AlreadyClosed { .. })),
            "{e:?}"
        );

        // A late record in the shift: the signature no longer covers it; close again.
        record(&mut store, lot, day + 11 * 3_600_000, 1);
        let state = ShiftReviewState::for_filter(&store, &f).unwrap().unwrap();
        assert!(!state.current);
        close(&mut store, &qc, &key, &signed("late item seen")).unwrap();
        assert_eq!(closings(&store, &key).unwrap().len(), 2);
        // The new signature covers the records as they are now.
        let state = ShiftReviewState::for_filter(&store, &f).unwrap().unwrap();
        assert!(state.current);
    }
}
