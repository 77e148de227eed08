use super::*;

#[test]
fn locale_names_choose_the_language() {
    assert_eq!(Language::from_locale("es_PE.UTF-8"), Some(Language::Es));
    assert_eq!(Language::from_locale("es"), Some(Language::Es));
    assert_eq!(Language::from_locale("en_US.UTF-8"), Some(Language::En));
    assert_eq!(Language::from_locale("C.UTF-8"), None);
    assert_eq!(Language::from_locale("fr_FR"), None);
    assert!("de".parse::<Language>().is_err());
    assert_eq!(" ES ".parse::<Language>().unwrap(), Language::Es);
}

#[test]
fn the_thread_language_wins_over_the_process() {
    set_thread_language(Some(Language::Es));
    assert_eq!(language(), Language::Es);
    assert_eq!(crate::tr!("tab-thresholds"), "Umbrales");
    set_thread_language(Some(Language::En));
    assert_eq!(crate::tr!("tab-thresholds"), "Thresholds");
    set_thread_language(None);
}

#[test]
fn plurals_come_from_fluent() {
    set_thread_language(Some(Language::Es));
    assert_eq!(crate::tr!("items-count", count = 1), "1 pieza");
    assert_eq!(crate::tr!("items-count", count = 3), "3 piezas");
    set_thread_language(Some(Language::En));
    assert_eq!(crate::tr!("items-count", count = 1), "1 item");
    assert_eq!(crate::tr!("items-count", count = 3), "3 items");
    set_thread_language(None);
}

#[test]
fn numbers_dates_and_plant_time() {
    // 2026-11-20 13:15:02 UTC is 08:15:02 in Lima (UTC-5, no daylight saving).
    let ms = 1_795_180_502_000;
    set_thread_language(Some(Language::Es));
    assert_eq!(format_datetime(ms), "20/11/2026 08:15:02");
    assert_eq!(format_date(ms), "20/11/2026");
    assert_eq!(format_hour(ms), "20/11/2026 08:00");
    assert_eq!(format_decimal(1234.567, 1), "1,234.6");
    assert_eq!(format_percent(0.125, 1), "12.5\u{a0}%");
    set_thread_language(Some(Language::En));
    assert_eq!(format_datetime(ms), "2026-11-20 08:15:02");
    assert_eq!(format_decimal(-0.04, 1), "0.0");
    assert_eq!(format_decimal(-12.5, 1), "-12.5");
    assert_eq!(format_percent(0.125, 1), "12.5 %");
    set_thread_language(None);
}

#[test]
fn the_zone_database_is_bundled() {
    // Works whether or not /usr/share/zoneinfo exists: jiff falls back to its bundled copy.
    let lima = jiff::tz::TimeZone::get("America/Lima").expect("America/Lima");
    let t: jiff::Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
    assert_eq!(lima.to_offset(t), jiff::tz::offset(-5));
    assert_eq!(
        plant_time_zone().to_offset(t),
        jiff::tz::offset(-5),
        "FOODQC_TZ unset: plant time is Lima"
    );
}
