//! Which inspections a report covers: [`ReportFilter`] (defined with its SQL in
//! [`crate::store::read_model::filter`]), its one-line description, and time parsing.

pub use crate::store::{FilterError, ReportFilter};

use crate::store::read_model::filter::given;

/// The verdicts stored in `inspections.verdict`, for the filter menus.
pub const VERDICTS: [&str; 3] = ["pass", "reject", "review"];

impl ReportFilter {
    /// One line describing the filter, for report headers: `lot L1 | shift A | ...`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let fmt = |ms: i64| crate::reports::fmt_ts(ms);
        match (self.from_ms, self.to_ms) {
            (Some(f), Some(t)) => parts.push(format!("{} to {} UTC", fmt(f), fmt(t))),
            (Some(f), None) => parts.push(format!("from {} UTC", fmt(f))),
            (None, Some(t)) => parts.push(format!("until {} UTC", fmt(t))),
            (None, None) => parts.push("all time".into()),
        }
        for (name, v) in [
            ("station", &self.station),
            ("line", &self.line),
            ("lot", &self.lot),
            ("product", &self.product),
            ("shift", &self.shift),
            ("verdict", &self.verdict),
            ("defect", &self.defect_class),
            ("model", &self.model_version),
        ] {
            if let Some(v) = given(v) {
                parts.push(format!("{name} {v}"));
            }
        }
        parts.join(" | ")
    }
}

/// Parse a time for a filter: `2026-11-20`, `2026-11-20 08:00`, `2026-11-20T08:00:00` (all
/// UTC) or an RFC 3339 timestamp with offset. Returns unix ms.
pub fn parse_time(s: &str) -> Result<i64, FilterError> {
    let s = s.trim();
    let err = || FilterError {
        field: "time",
        value: s.to_string(),
        problem: "is not a date/time (use 2026-11-20, 2026-11-20 08:00 or RFC 3339)".into(),
    };
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let civil = s
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| {
            s.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .map_err(|_| err())?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_names_the_given_values() {
        let f = ReportFilter {
            shift: Some(" B ".into()),
            product: Some("  ".into()),
            ..Default::default()
        };
        assert!(f.describe().contains("shift B"));
        assert!(!f.describe().contains("product"));
    }

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-01 01:00").unwrap(), 3_600_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(parse_time("1970-01-01T02:00:00+01:00").unwrap(), 3_600_000);
        let e = parse_time("yesterday").unwrap_err();
        assert!(e.to_string().contains("yesterday"), "{e}");
    }
}
