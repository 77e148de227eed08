//! The audit trail for the people who review it: an extract for a filter (who, which action,
//! when) with the verification of the hash chains, its entries as rows with the record, the
//! old and new values and the reason picked out of each entry's details, the same rows as CSV,
//! and a verification problem in words. The signed PDF is [`super::pdf::render_audit_pdf`];
//! signing an extract is [`crate::services::audit_review`]'s.

use serde::Serialize;

use super::{ReportError, fmt_ts};
use crate::domain::Meaning;
use crate::store::chain::{Chain, Problem};
use crate::store::{AuditEntry, AuditFilter, FilterError, Store, StoreError, audit_key};
use crate::tr;

/// What walking the hash chains found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ChainCheck {
    /// Every link holds, and the heads match their copies outside the database.
    Intact {
        /// Audit entries checked.
        audit_entries: u64,
        /// Inspection batches checked.
        batches: u64,
        /// Inspections in them.
        inspections: u64,
        /// The copies of the heads compared with (files); empty when none was found.
        anchors: Vec<String>,
    },
    /// Something was changed: the problems in chain order (the first is the first broken
    /// link).
    Broken {
        /// What was found.
        problems: Vec<Problem>,
    },
    /// The chain key is not where it is kept, so the chains cannot be checked.
    NoKey {
        /// Where the key was looked for.
        key_path: String,
    },
}

impl ChainCheck {
    /// True when the chains were checked and hold.
    pub fn is_intact(&self) -> bool {
        matches!(self, ChainCheck::Intact { .. })
    }

    /// The result in one sentence of the language in force: intact with the counts, or the
    /// first broken entry (and how many problems there are).
    pub fn describe(&self) -> String {
        match self {
            ChainCheck::Intact {
                audit_entries,
                batches,
                inspections,
                ..
            } => {
                let (entries, batches, rows): (u64, u64, u64) =
                    (*audit_entries, *batches, *inspections);
                tr!(
                    "audit-verify-ok",
                    entries = entries,
                    batches = batches,
                    rows = rows
                )
            }
            ChainCheck::Broken { problems } => match problems.first() {
                Some(first) => tr!(
                    "audit-verify-broken",
                    count = problems.len(),
                    first = describe_problem(first)
                ),
                None => String::new(),
            },
            ChainCheck::NoKey { key_path } => {
                tr!("audit-verify-no-key", path = key_path.as_str())
            }
        }
    }
}

/// Walk the hash chains of the store's audit log and inspections with the station's chain key.
pub fn verify(store: &Store) -> Result<ChainCheck, StoreError> {
    let key_path = audit_key::key_path(store.path());
    let Some(key) = audit_key::load_key(&key_path)? else {
        return Ok(ChainCheck::NoKey {
            key_path: key_path.display().to_string(),
        });
    };
    let report = store.verify_chains(&key)?;
    Ok(if report.ok() {
        ChainCheck::Intact {
            audit_entries: report.audit_entries,
            batches: report.batches,
            inspections: report.inspections,
            anchors: report.anchors,
        }
    } else {
        ChainCheck::Broken {
            problems: report.problems,
        }
    })
}

/// One verification problem in words (the language in force).
pub fn describe_problem(p: &Problem) -> String {
    // By value: the catalogue's arguments take owned numbers and strings.
    match p.clone() {
        Problem::AuditHashMismatch { id } => tr!("audit-problem-hash", id = id),
        Problem::AuditLinkBroken { id } => tr!("audit-problem-link", id = id),
        Problem::AuditMissing { from, to } => {
            tr!("audit-problem-missing", from = from, to = to)
        }
        Problem::AuditUnhashed { id } => tr!("audit-problem-unhashed", id = id),
        Problem::AuditLegacyChanged { marker } => tr!("audit-problem-older", id = marker),
        Problem::BatchHashMismatch {
            id,
            first_id,
            last_id,
            rows_now,
            rows_sealed,
        } => tr!(
            "audit-problem-batch-hash",
            id = id,
            first = first_id,
            last = last_id,
            now = rows_now,
            sealed = rows_sealed
        ),
        Problem::BatchLinkBroken { id } => tr!("audit-problem-batch-link", id = id),
        Problem::UnsealedRows { first_id, count } => {
            tr!("audit-problem-unsealed", first = first_id, count = count)
        }
        Problem::TailDeleted {
            chain,
            last,
            anchored,
            anchor,
        } => {
            let last = last.unwrap_or(0);
            match chain {
                Chain::Audit => tr!(
                    "audit-problem-tail-audit",
                    last = last,
                    anchored = anchored,
                    anchor = anchor
                ),
                Chain::Batches => tr!(
                    "audit-problem-tail-batches",
                    last = last,
                    anchored = anchored,
                    anchor = anchor
                ),
            }
        }
        Problem::AnchorMismatch { chain, id, anchor } => match chain {
            Chain::Audit => tr!("audit-problem-anchor-audit", id = id, anchor = anchor),
            Chain::Batches => {
                tr!("audit-problem-anchor-batches", id = id, anchor = anchor)
            }
        },
    }
}

/// A signature's meaning in the language in force ("reviewed", "revisado").
pub fn meaning_label(m: Meaning) -> String {
    match m {
        Meaning::Performed => tr!("meaning-performed"),
        Meaning::Reviewed => tr!("meaning-reviewed"),
        Meaning::Approved => tr!("meaning-approved"),
    }
}

/// The filter in one line of the language in force, for headers: `actor qc.anna | action lot |
/// from 2026-11-20 00:00:00 to ...` (plant time), or "all entries".
pub fn describe_filter(f: &AuditFilter) -> String {
    use crate::i18n::format_datetime as fmt;
    fn given(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let mut parts = Vec::new();
    if let Some(a) = given(&f.actor) {
        parts.push(tr!("audit-filter-actor", actor = a));
    }
    if let Some(a) = given(&f.action) {
        parts.push(tr!("audit-filter-action", action = a));
    }
    match (f.from_ms, f.to_ms) {
        (Some(a), Some(b)) => parts.push(tr!("filter-between", from = fmt(a), to = fmt(b))),
        (Some(a), None) => parts.push(tr!("filter-from", from = fmt(a))),
        (None, Some(b)) => parts.push(tr!("filter-until", to = fmt(b))),
        (None, None) => {}
    }
    if parts.is_empty() {
        tr!("audit-filter-all")
    } else {
        parts.join(" | ")
    }
}

/// The filter with blank fields as none and trimmed values; a `to` not after `from` is an
/// error naming both.
pub fn normalize_filter(f: &AuditFilter) -> Result<AuditFilter, FilterError> {
    let given = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let (Some(from), Some(to)) = (f.from_ms, f.to_ms)
        && to <= from
    {
        return Err(FilterError {
            field: "to",
            value: fmt_ts(to),
            problem: format!("is not after from ({} UTC)", fmt_ts(from)),
        });
    }
    Ok(AuditFilter {
        actor: given(&f.actor),
        action: given(&f.action),
        ..f.clone()
    })
}

/// An extract of the audit trail: every entry a filter selects, oldest first, with where and
/// when it was taken and what the verification of the chains said then.
#[derive(Clone, Debug)]
pub struct AuditExtract {
    /// The stations of the database (names), and the database file.
    pub station: String,
    /// Which entries (its `limit` is not used: an extract has every matching entry).
    pub filter: AuditFilter,
    /// When it was taken (unix ms).
    pub generated_at_ms: i64,
    /// The verification of the chains when it was taken.
    pub chain: ChainCheck,
    /// The entries, oldest first.
    pub entries: Vec<AuditEntry>,
}

impl AuditExtract {
    /// Take the extract of `filter` from `store` now (the filter's limit is ignored).
    pub fn take(
        store: &Store,
        filter: &AuditFilter,
        generated_at_ms: i64,
    ) -> Result<Self, ReportError> {
        let filter = AuditFilter {
            limit: usize::MAX,
            ..normalize_filter(filter)?
        };
        let mut entries = store.audit_list(&filter)?;
        entries.reverse();
        let chain = verify(store)?;
        let names: Vec<String> = store.list_stations()?.into_iter().map(|s| s.name).collect();
        let db = store.path().display().to_string();
        let station = if names.is_empty() {
            db
        } else {
            format!("{} · {db}", names.join(", "))
        };
        Ok(Self {
            station,
            filter,
            generated_at_ms,
            chain,
            entries,
        })
    }

    /// What a signature on the extract is bound to: station, filter, time, verification and
    /// every entry with its chain hash, as canonical JSON (hash it with blake3).
    pub fn content(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": "audit_extract",
            "station": self.station,
            "filter": {
                "actor": self.filter.actor,
                "action": self.filter.action,
                "from_ms": self.filter.from_ms,
                "to_ms": self.filter.to_ms,
            },
            "generated_at_ms": self.generated_at_ms,
            "chain": self.chain,
            "entries": self.entries,
        })
    }

    /// The record a signature on the extract names: the range of entry ids it covers.
    pub fn record_id(&self) -> String {
        match (self.entries.first(), self.entries.last()) {
            (Some(a), Some(b)) => format!("audit_log:{}-{}", a.id, b.id),
            _ => "audit_log:none".into(),
        }
    }

    /// The entries as rows, oldest first.
    pub fn rows(&self) -> Vec<AuditRow> {
        self.entries.iter().map(AuditRow::of).collect()
    }
}

/// An audit entry as a reviewer reads it: the record it concerns, the old and new values and
/// the reason picked out of its details, and the rest of the details.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRow {
    /// Entry id.
    pub id: i64,
    /// When (unix ms).
    pub ts_ms: i64,
    /// Who.
    pub actor: String,
    /// What (`lot.status`, `signature`, ...).
    pub action: String,
    /// Which record: `lot L42`, `model_version 3 (v3)`, `user ana` (empty when none).
    pub record: String,
    /// The value before (empty when the entry has none).
    pub old: String,
    /// The value after.
    pub new: String,
    /// Why (reason, comment).
    pub reason: String,
    /// The other details, `key: value; ...`.
    pub other: String,
    /// Every detail, as stored (JSON).
    pub details_json: String,
    /// The entry's chain hash (hex), empty for an entry written before the chain.
    pub hash: String,
}

/// A detail value as text: strings as they are, anything else as compact JSON.
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl AuditRow {
    /// The details as a reviewer reads them: old -> new (when the entry has them), then the
    /// other details; the caller joins them (a line each in the PDF, one line in the window).
    pub fn details(&self) -> Vec<String> {
        let mut details = Vec::new();
        if !self.old.is_empty() || !self.new.is_empty() {
            details.push(tr!(
                "audit-old-new",
                old = self.old.as_str(),
                new = self.new.as_str()
            ));
        }
        if !self.other.is_empty() {
            details.push(self.other.clone());
        }
        details
    }

    /// The row of entry `e`.
    pub fn of(e: &AuditEntry) -> Self {
        let mut row = AuditRow {
            id: e.id,
            ts_ms: e.ts_ms,
            actor: e.actor.clone(),
            action: e.action.clone(),
            record: String::new(),
            old: String::new(),
            new: String::new(),
            reason: String::new(),
            other: String::new(),
            details_json: e.details.to_string(),
            hash: e.hash.clone().unwrap_or_default(),
        };
        let serde_json::Value::Object(details) = &e.details else {
            if !e.details.is_null() {
                row.other = e.details.to_string();
            }
            return row;
        };
        let mut rest = details.clone();
        let mut take = |k: &str| rest.remove(k).filter(|v| !v.is_null());
        for (old, new) in [
            ("old", "new"),
            ("from", "to"),
            ("previous_version", "version"),
        ] {
            let (o, n) = (take(old), take(new));
            if o.is_some() || n.is_some() {
                row.old = o.as_ref().map(value_text).unwrap_or_default();
                row.new = n.as_ref().map(value_text).unwrap_or_default();
                break;
            }
        }
        for k in ["reason", "why", "comment"] {
            if let Some(v) = take(k) {
                row.reason = value_text(&v);
                break;
            }
        }
        row.record = match (take("record_kind"), take("record_id")) {
            (Some(kind), Some(id)) => format!("{} {}", value_text(&kind), value_text(&id)),
            (kind, id) => {
                // Put back what was half there; the record comes from other keys.
                if let Some(k) = kind {
                    rest.insert("record_kind".into(), k);
                }
                if let Some(i) = id {
                    rest.insert("record_id".into(), i);
                }
                record_of(&mut rest)
            }
        };
        row.other = rest
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}: {}", value_text(v)))
            .collect::<Vec<_>>()
            .join("; ");
        row
    }
}

/// The record named by the details left (taking the keys it uses): a lot, a model version, a
/// sample or a user; empty when none is named.
fn record_of(rest: &mut serde_json::Map<String, serde_json::Value>) -> String {
    if let Some(code) = rest.remove("code") {
        return format!("lot {}", value_text(&code));
    }
    if let Some(id) = rest.remove("model_version_id") {
        return match rest.remove("version") {
            Some(v) => format!("model_version {} ({})", value_text(&id), value_text(&v)),
            None => format!("model_version {}", value_text(&id)),
        };
    }
    for (key, kind) in [
        ("version", "model"),
        ("sample_id", "sample"),
        ("lot", "lot"),
        ("user", "user"),
    ] {
        if let Some(v) = rest.remove(key).filter(|v| !v.is_null()) {
            return format!("{kind} {}", value_text(&v));
        }
    }
    String::new()
}

/// The CSV header of an audit extract: one column per [`AuditRow`] field (time also as UTC
/// text).
pub const CSV_HEADER: [&str; 12] = [
    "id",
    "time_utc",
    "ts_ms",
    "actor",
    "action",
    "record",
    "old",
    "new",
    "reason",
    "other_details",
    "details_json",
    "hash",
];

/// The extract's rows as CSV bytes (header, then oldest first). Text cells are made safe for
/// spreadsheets ([`super::export::text_cell`]).
pub fn csv_bytes(rows: &[AuditRow]) -> Result<Vec<u8>, csv::Error> {
    use super::export::text_cell;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for r in rows {
        w.write_record([
            r.id.to_string(),
            fmt_ts(r.ts_ms),
            r.ts_ms.to_string(),
            text_cell(r.actor.clone()),
            text_cell(r.action.clone()),
            text_cell(r.record.clone()),
            text_cell(r.old.clone()),
            text_cell(r.new.clone()),
            text_cell(r.reason.clone()),
            text_cell(r.other.clone()),
            text_cell(r.details_json.clone()),
            r.hash.clone(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(action: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry {
            id: 7,
            ts_ms: 1_700_000_000_000,
            actor: "qc.anna".into(),
            action: action.into(),
            details,
            hash: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn rows_pick_record_old_new_and_reason_out_of_the_details() {
        let r = AuditRow::of(&entry(
            "lot.status",
            json!({"lot_id": 3, "code": "L42", "from": "open", "to": "hold", "comment": "mould"}),
        ));
        assert_eq!(
            (r.record.as_str(), r.old.as_str(), r.new.as_str()),
            ("lot L42", "open", "hold")
        );
        assert_eq!(
            (r.reason.as_str(), r.other.as_str()),
            ("mould", "lot_id: 3")
        );

        let r = AuditRow::of(&entry(
            "model.thresholds",
            json!({"model_version_id": 2, "version": "v2", "setting_id": 5, "who": "qc.anna",
                   "old": {"reject": 0.5}, "new": {"reject": 0.6}, "why": "fewer false rejects"}),
        ));
        assert_eq!(r.record, "model_version 2 (v2)");
        assert_eq!(
            (r.old.as_str(), r.new.as_str()),
            (r#"{"reject":0.5}"#, r#"{"reject":0.6}"#)
        );
        assert_eq!(r.reason, "fewer false rejects");
        assert_eq!(r.other, "setting_id: 5; who: qc.anna");

        let r = AuditRow::of(&entry(
            "signature",
            json!({"record_kind": "lot", "record_id": "L42", "meaning": "approved",
                   "reason": "mould", "content_hash": "x"}),
        ));
        assert_eq!(r.record, "lot L42");
        assert_eq!(r.reason, "mould");
        assert!(r.other.contains("meaning: approved"), "{}", r.other);

        let r = AuditRow::of(&entry("auth.login", json!({"user": "ana"})));
        assert_eq!((r.record.as_str(), r.other.as_str()), ("user ana", ""));
        let r = AuditRow::of(&entry("x", json!([1, 2])));
        assert_eq!(r.other, "[1,2]");
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row_safe_for_spreadsheets() {
        let rows = vec![
            AuditRow::of(&entry(
                "lot.status",
                json!({"code": "=cmd()", "comment": "a, b"}),
            )),
            AuditRow::of(&entry("auth.login", json!({"user": "ana"}))),
        ];
        let text = String::from_utf8(csv_bytes(&rows).unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap().len(), CSV_HEADER.len());
        let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(&recs[0][4], "lot.status");
        assert_eq!(&recs[0][5], "lot =cmd()");
        assert_eq!(&recs[0][8], "a, b");
        assert_eq!(&recs[1][1], "2023-11-14 22:13:20");
    }

    #[test]
    fn a_filter_ending_before_it_starts_names_both_times() {
        let f = AuditFilter {
            actor: Some("  ".into()),
            action: Some(" lot ".into()),
            from_ms: Some(2_000),
            to_ms: Some(1_000),
            limit: 5,
        };
        let e = normalize_filter(&f).unwrap_err();
        assert!(e.to_string().contains("1970-01-01 00:00:01"), "{e}");
        let ok = normalize_filter(&AuditFilter {
            to_ms: None,
            ..f.clone()
        })
        .unwrap();
        assert_eq!((ok.actor, ok.action.as_deref()), (None, Some("lot")));
    }

    #[test]
    fn an_extract_lists_the_filtered_entries_oldest_first_and_verifies_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        for (who, what) in [
            ("ana", "lot.status"),
            ("bo", "lot.status"),
            ("ana", "label.add"),
        ] {
            store.audit(who, what, json!({"n": 1})).unwrap();
        }
        let f = AuditFilter {
            actor: Some("ana".into()),
            limit: 1,
            ..AuditFilter::default()
        };
        let x = AuditExtract::take(&store, &f, 42).unwrap();
        let actions: Vec<&str> = x.entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["lot.status", "label.add"]);
        assert!(x.chain.is_intact(), "{:?}", x.chain);
        assert!(
            x.chain.describe().contains("intact"),
            "{}",
            x.chain.describe()
        );
        assert_eq!(
            x.record_id(),
            format!("audit_log:{}-{}", x.entries[0].id, x.entries[1].id)
        );
        // The content changes with any entry and with the filter.
        let all = AuditExtract::take(&store, &AuditFilter::default(), 42).unwrap();
        assert_ne!(x.content(), all.content());
        assert_eq!(
            x.content(),
            AuditExtract::take(&store, &f, 42).unwrap().content()
        );
    }
}
