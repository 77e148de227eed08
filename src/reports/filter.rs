//! Which inspections a report covers: [`ReportFilter`] (defined with its SQL in
//! [`crate::store::read_model::filter`]), its one-line description, and time parsing.

pub use crate::store::{FilterError, ReportFilter};

use crate::store::read_model::filter::given;

/// The verdicts stored in `inspections.verdict`, for the filter menus.
pub const VERDICTS: [&str; 3] = ["pass", "reject", "review"];

impl ReportFilter {
    /// One line describing the filter, for report headers: `lot L1 | shift A | ...`.
    pub fn describe(&self) -> String {
        use crate::i18n::format_datetime as fmt;
        use crate::tr;
        let mut parts = Vec::new();
        // Plant time for people; the filter itself holds UTC instants.
        match (self.from_ms, self.to_ms) {
            (Some(f), Some(t)) => parts.push(tr!("filter-between", from = fmt(f), to = fmt(t))),
            (Some(f), None) => parts.push(tr!("filter-from", from = fmt(f))),
            (None, Some(t)) => parts.push(tr!("filter-until", to = fmt(t))),
            (None, None) => parts.push(tr!("filter-all-time")),
        }
        let defect = given(&self.defect_class).map(crate::i18n::class_name);
        for (name, v) in [
            (
                tr!("filter-station"),
                given(&self.station).map(str::to_string),
            ),
            (tr!("filter-line"), given(&self.line).map(str::to_string)),
            (tr!("filter-lot"), given(&self.lot).map(str::to_string)),
            (
                tr!("filter-product"),
                given(&self.product).map(str::to_string),
            ),
            (tr!("filter-shift"), given(&self.shift).map(str::to_string)),
            (
                tr!("filter-verdict"),
                given(&self.verdict).map(verdict_label),
            ),
            (tr!("filter-defect"), defect),
            (
                tr!("filter-model"),
                given(&self.model_version).map(str::to_string),
            ),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name} {v}"));
            }
        }
        parts.join(" | ")
    }
}

/// A stored verdict (`pass`, `reject`, `review`) as people read it in the language in force.
pub fn verdict_label(verdict: &str) -> String {
    match verdict {
        "pass" => crate::tr!("verdict-pass"),
        "reject" => crate::tr!("verdict-reject"),
        "review" => crate::tr!("verdict-review"),
        other => other.to_string(),
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
