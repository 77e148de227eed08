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
            (
                tr!("filter-recipe"),
                given(&self.recipe).map(str::to_string),
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

/// Parse a time for a filter as a person at the plant types it: `2026-11-20`,
/// `2026-11-20 08:00` or `2026-11-20T08:00:00` in plant time
/// ([`crate::i18n::plant_time_zone`], America/Lima unless `FOODQC_TZ` says otherwise), or an
/// RFC 3339 timestamp with its own offset. Returns unix ms (the database stays UTC).
pub fn parse_time(s: &str) -> Result<i64, FilterError> {
    parse_time_in(s, crate::i18n::plant_time_zone())
}

/// [`parse_time`] with dates and times without an offset read in `zone`.
pub fn parse_time_in(s: &str, zone: &jiff::tz::TimeZone) -> Result<i64, FilterError> {
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
    // A wall-clock time skipped or repeated by a daylight-saving change (not in Peru) takes
    // jiff's "compatible" choice, as most calendar software does.
    civil
        .to_zoned(zone.clone())
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
    fn times_parse_in_the_given_zone() {
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(parse_time_in("1970-01-02", &utc).unwrap(), 86_400_000);
        assert_eq!(parse_time_in("1970-01-01 01:00", &utc).unwrap(), 3_600_000);
        assert_eq!(parse_time_in("1970-01-01T00:00:01Z", &utc).unwrap(), 1000);
        assert_eq!(
            parse_time_in("1970-01-01T02:00:00+01:00", &utc).unwrap(),
            3_600_000
        );
        let e = parse_time_in("yesterday", &utc).unwrap_err();
        assert!(e.to_string().contains("yesterday"), "{e}");
    }

    /// A date typed in Lima (UTC-5 all year) starts at 05:00 UTC; a timestamp with its own
    /// offset is not moved.
    #[test]
    fn plant_dates_are_lima_time() {
        let lima = jiff::tz::TimeZone::get("America/Lima").unwrap();
        let ms =
            |s: &str| jiff::Timestamp::from_millisecond(parse_time_in(s, &lima).unwrap()).unwrap();
        assert_eq!(ms("2026-12-01").to_string(), "2026-12-01T05:00:00Z");
        assert_eq!(ms("2026-12-01 22:30").to_string(), "2026-12-02T03:30:00Z");
        assert_eq!(
            ms("2026-12-01T06:00:00Z").to_string(),
            "2026-12-01T06:00:00Z"
        );
        // `parse_time` reads plant time: Lima unless FOODQC_TZ is set (not in the test runs).
        if std::env::var_os("FOODQC_TZ").is_none() {
            assert_eq!(
                parse_time("2026-12-01").unwrap(),
                parse_time_in("2026-12-01", &lima).unwrap()
            );
        }
    }
}
