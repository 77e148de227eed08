//! Numbers, dates and times as the reader's locale writes them (CLDR): English `1,234.5`,
//! `2026-11-20 08:15`; es-PE (CLDR's es-PE follows es-419) `1,234.5`, `20/11/2026 08:15`.
//! Times are shown in plant time ([`plant_time_zone`]); what is stored stays UTC.

use std::sync::LazyLock;

use jiff::tz::TimeZone;

use super::{Language, language};

/// Where the plant is: `America/Lima` unless `FOODQC_TZ` names another IANA zone. The zone
/// database is compiled into the binary (jiff's bundled tzdb), so this works on machines
/// without `/usr/share/zoneinfo`; Peru keeps UTC-5 all year, the fallback if a name is bad.
pub fn plant_time_zone() -> &'static TimeZone {
    static ZONE: LazyLock<TimeZone> = LazyLock::new(|| {
        let name = std::env::var("FOODQC_TZ").unwrap_or_else(|_| "America/Lima".into());
        TimeZone::get(&name).unwrap_or_else(|e| {
            tracing::warn!("time zone {name:?}: {e}; using UTC-5");
            TimeZone::fixed(jiff::tz::offset(-5))
        })
    });
    &ZONE
}

/// The separators of the language in force: (decimal, thousands).
fn separators(lang: Language) -> (char, char) {
    match lang {
        // CLDR es-PE inherits es-419's symbols: decimal point, comma groups.
        Language::En | Language::Es => ('.', ','),
    }
}

/// `x` with `digits` decimals and grouped thousands, as the language in force writes it.
pub fn format_decimal(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let (decimal, group) = separators(language());
    let plain = format!("{:.*}", digits, x.abs());
    let (int, frac) = plain.split_once('.').unwrap_or((plain.as_str(), ""));
    let mut out = String::new();
    if x < 0.0 && plain.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(decimal);
        out.push_str(frac);
    }
    out
}

/// A share (0..1) as a percentage with `digits` decimals: `12.5 %` (en, as the workstation has
/// always written it), `12.5 %` with a no-break space (es, CLDR).
pub fn format_percent(share: f64, digits: usize) -> String {
    let number = format_decimal(share * 100.0, digits);
    match language() {
        Language::En => format!("{number} %"),
        // CLDR es: a no-break space before the sign.
        Language::Es => format!("{number}\u{a0}%"),
    }
}

fn to_plant(ms: i64) -> Option<jiff::Zoned> {
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_zoned(plant_time_zone().clone()))
}

fn pattern(lang: Language, what: Pattern) -> &'static str {
    match (lang, what) {
        (Language::En, Pattern::Date) => "%Y-%m-%d",
        (Language::En, Pattern::DateTime) => "%Y-%m-%d %H:%M:%S",
        (Language::En, Pattern::Hour) => "%Y-%m-%d %H:00",
        (Language::Es, Pattern::Date) => "%d/%m/%Y",
        (Language::Es, Pattern::DateTime) => "%d/%m/%Y %H:%M:%S",
        (Language::Es, Pattern::Hour) => "%d/%m/%Y %H:00",
    }
}

#[derive(Clone, Copy)]
enum Pattern {
    Date,
    DateTime,
    Hour,
}

fn format_ms(ms: i64, what: Pattern) -> String {
    match to_plant(ms) {
        Some(z) => z.strftime(pattern(language(), what)).to_string(),
        None => ms.to_string(),
    }
}

/// A unix-ms instant as plant date and 24 h time: `2026-11-20 03:15:02` (en),
/// `20/11/2026 03:15:02` (es).
pub fn format_datetime(ms: i64) -> String {
    format_ms(ms, Pattern::DateTime)
}

/// A unix-ms instant as the plant date: `2026-11-20` (en), `20/11/2026` (es).
pub fn format_date(ms: i64) -> String {
    format_ms(ms, Pattern::Date)
}

/// The plant hour an instant falls in: `2026-11-20 03:00` (en), `20/11/2026 03:00` (es).
pub fn format_hour(ms: i64) -> String {
    format_ms(ms, Pattern::Hour)
}
