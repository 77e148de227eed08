//! Report queries on a generated database (real SQLite, known data).

use std::sync::atomic::AtomicBool;

use super::demo::{GenerateOptions, GenerateStats, generate};
use super::drift::DriftReference;
use super::query::{self, GroupBy};
use super::*;
use crate::domain::Verdict;
use crate::store::{InspectionView, LotRow, LotStatus, Store};

fn demo_db(rows: u64) -> (tempfile::TempDir, Store, GenerateStats) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let stats = generate(
        &mut store,
        Some(&dir.path().join("samples")),
        &GenerateOptions {
            rows,
            items_per_lot: 2_000,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    (dir, store, stats)
}

/// Every inspection, row by row, to count in Rust what the report queries aggregate.
fn all_items(store: &Store) -> Vec<InspectionView> {
    let mut all = Vec::new();
    store
        .for_each_report_item(&ReportFilter::default(), |v| {
            all.push(v);
            true
        })
        .unwrap();
    all
}

/// How many of `items` satisfy `keep`.
fn count(items: &[InspectionView], keep: impl Fn(&InspectionView) -> bool) -> u64 {
    items.iter().filter(|v| keep(v)).count() as u64
}

/// The lot row of an inspection.
fn lot_of<'a>(lots: &'a [LotRow], v: &InspectionView) -> Option<&'a LotRow> {
    lots.iter().find(|l| v.lot_id == Some(l.id))
}

#[test]
fn report_counts_match_the_table_and_find_the_bad_lot() {
    let (_dir, store, gen_stats) = demo_db(40_000);
    assert_eq!(gen_stats.rows, 40_000);
    assert_eq!(gen_stats.lots, 20);
    let r = build_report(
        &store,
        &ReportFilter::default(),
        GroupBy::Lot,
        &DriftReference::default(),
    )
    .unwrap();
    let all = all_items(&store);
    assert_eq!(all.len(), 40_000);
    assert_eq!(r.summary.items, 40_000);
    let (_, rejects) = store.count_inspections().unwrap();
    assert_eq!(r.summary.rejects, rejects as u64);
    assert_eq!(
        r.summary.rejects,
        count(&all, |v| v.verdict == Verdict::Reject)
    );
    assert_eq!(
        r.summary.reviews,
        count(&all, |v| v.verdict == Verdict::Review)
    );
    assert!(r.summary.reviews > 0);
    // One subgroup per lot, adding up to the total, in time order.
    assert_eq!(r.groups.len(), 20);
    assert_eq!(r.groups.iter().map(|g| g.items).sum::<u64>(), 40_000);
    assert!(
        r.groups
            .windows(2)
            .all(|w| w[0].first_ts_ms <= w[1].first_ts_ms)
    );
    // The bad lot (6 % defects vs ~2 %) is out of control by rule 1.
    let bad = r
        .chart
        .points
        .iter()
        .find(|p| p.label == gen_stats.bad_lot)
        .unwrap();
    assert!(bad.violations.contains(&spc::Rule::Beyond3Sigma), "{bad:?}");
    assert!(r.out_of_control());
    // Pareto: crack is the biggest class; shares add to 1; counts match the table.
    assert_eq!(r.pareto[0].class, "crack");
    assert!((r.pareto.last().unwrap().cumulative - 1.0).abs() < 1e-9);
    assert_eq!(
        r.pareto.iter().map(|b| b.count).sum::<u64>(),
        r.summary.rejects
    );
    // Drift: the drifting lot's last hours drift, the first lot's hours do not.
    assert!(r.drifting());
    let drift_lot = r
        .groups
        .iter()
        .find(|g| g.key == gen_stats.drift_lot)
        .unwrap();
    let first_lot = &r.groups[0];
    let in_lot = |g: &query::Group| {
        let (a, b) = (g.first_ts_ms, g.last_ts_ms);
        r.drift
            .iter()
            .filter(move |d| d.start_ms + query::HOUR_MS > a && d.start_ms <= b)
    };
    assert!(in_lot(drift_lot).any(|d| d.drifting));
    assert!(!in_lot(first_lot).any(|d| d.drifting));
    // Lots in the report, all open.
    assert_eq!(r.lots.len(), 20);
    assert!(
        r.lots
            .iter()
            .all(|l| l.status == LotStatus::Open && l.last_change.is_none())
    );
}

#[test]
fn filters_and_drill_down_select_the_right_items() {
    let (_dir, mut store, gen_stats) = demo_db(24_000);
    let lot = gen_stats.lot_codes[4].clone();
    {
        let all = all_items(&store);
        let lots = store.list_lots().unwrap();
        // By lot + verdict.
        let f = ReportFilter {
            lot: Some(lot.clone()),
            verdict: Some("reject".into()),
            ..Default::default()
        };
        let s = query::summary(&store, &f).unwrap();
        let expected = count(&all, |v| {
            v.lot_code.as_deref() == Some(lot.as_str()) && v.verdict == Verdict::Reject
        });
        assert!(expected > 0);
        assert_eq!(s.items, expected);
        assert_eq!(s.rejects, expected);
        // Shift + product + defect class.
        let f = ReportFilter {
            shift: Some("B".into()),
            product: Some("choc chip cookies".into()),
            defect_class: Some("burnt".into()),
            ..Default::default()
        };
        let s = query::summary(&store, &f).unwrap();
        let expected = count(&all, |v| {
            lot_of(&lots, v).is_some_and(|l| l.shift == "B" && l.product == "choc chip cookies")
                && v.defect_class.as_deref() == Some("burnt")
        });
        assert!(expected > 0);
        assert_eq!(s.items, expected);
        // Hourly groups: 8 hours per shift, drill-down of an hour returns that hour's items.
        let by_hour = query::groups(&store, &ReportFilter::default(), GroupBy::Hour).unwrap();
        let h = &by_hour[3];
        let items = query::items(&store, &h.drill, false, 100_000).unwrap();
        assert_eq!(items.len() as u64, h.items);
        assert!(
            items
                .iter()
                .all(|i| i.ts_ms >= h.first_ts_ms && i.ts_ms <= h.last_ts_ms)
        );
        // Lot drill-down with images only: every row has a crop file on disk.
        let g = query::groups(&store, &ReportFilter::default(), GroupBy::Lot).unwrap();
        let with_images: Vec<_> = g
            .iter()
            .flat_map(|g| query::items(&store, &g.drill, true, 10).unwrap())
            .collect();
        assert!(!with_images.is_empty());
        assert!(
            with_images
                .iter()
                .all(|i| i.sample_path.as_ref().unwrap().is_file())
        );
        // Shifts and stations add up.
        let shifts = query::groups(&store, &ReportFilter::default(), GroupBy::Shift).unwrap();
        assert_eq!(shifts.len(), 3);
        assert_eq!(shifts.iter().map(|g| g.items).sum::<u64>(), 24_000);
        let stations = query::groups(&store, &ReportFilter::default(), GroupBy::Station).unwrap();
        assert_eq!(stations.len(), 3);
        // Unknown names are errors naming the field and value.
        let e = build_report(
            &store,
            &ReportFilter {
                lot: Some("NOPE".into()),
                ..Default::default()
            },
            GroupBy::Lot,
            &DriftReference::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("lot") && e.to_string().contains("NOPE"),
            "{e}"
        );
    }
    // Holding a lot shows in the report with who, when and the comment.
    let lot_id = store.get_or_create_lot(&lot, "", "", "").unwrap();
    store
        .set_lot_status(
            lot_id,
            LotStatus::Hold,
            "qc.anna",
            "burnt spots above limit",
        )
        .unwrap();
    let r = build_report(
        &store,
        &ReportFilter::default().with_lot(&lot),
        GroupBy::Lot,
        &DriftReference::default(),
    )
    .unwrap();
    assert_eq!(r.groups[0].lot_status, Some(LotStatus::Hold));
    let d = &r.lots[0];
    assert_eq!(d.status, LotStatus::Hold);
    let (who, _, comment) = d.last_change.clone().unwrap();
    assert_eq!(
        (who.as_str(), comment.as_str()),
        ("qc.anna", "burnt spots above limit")
    );
}

#[test]
fn csv_and_pdf_exports_are_complete() {
    let (dir, store, _) = demo_db(12_000);
    let f = ReportFilter {
        shift: Some("A".into()),
        ..Default::default()
    };
    let csv_path = dir.path().join("out.csv");
    let n = export::write_csv(&store, &f, &csv_path, &|_| {}, &AtomicBool::new(false)).unwrap();
    let expected = query::summary(&store, &f).unwrap().items;
    assert_eq!(n, expected);
    let mut rd = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        export::CSV_HEADER
    );
    assert_eq!(rd.records().count() as u64, expected);
    // A cancelled export leaves no file.
    let cancelled = dir.path().join("cancelled.csv");
    let e = export::write_csv(&store, &f, &cancelled, &|_| {}, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(e, ReportError::Cancelled { .. }));
    assert!(!cancelled.exists() && !cancelled.with_extension("csv.part").exists());

    let r = build_report(
        &store,
        &ReportFilter::default(),
        GroupBy::Lot,
        &DriftReference::default(),
    )
    .unwrap();
    let pdf_path = dir.path().join("report.pdf");
    let meta = pdf::PdfMeta {
        title: "Quality report".into(),
        generated_at_ms: 0,
        author: "test".into(),
        ..Default::default()
    };
    let bytes = pdf::write_pdf(&store, &r, &meta, &pdf_path).unwrap();
    assert!(bytes > 1000);
    // Check the file with poppler when it is installed: two pages, the text is there.
    let info = std::process::Command::new("pdfinfo")
        .arg(&pdf_path)
        .output();
    let Ok(info) = info else {
        eprintln!("pdfinfo not installed: PDF structure not checked");
        return;
    };
    let info = String::from_utf8_lossy(&info.stdout);
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(str::trim);
    assert_eq!(pages, Some("2"), "{info}");
    let text = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf_path)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "Quality report",
        "Items inspected",
        "12000",
        "p-chart",
        "Pareto",
        "crack",
        "Sample defect images",
        "Signature",
        &r.groups[0].key,
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the PDF text:\n{text}"
        );
    }
    let images = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&pdf_path)
        .output()
        .unwrap();
    let images = String::from_utf8_lossy(&images.stdout);
    assert!(
        images.lines().count() >= 3,
        "no images in the PDF:\n{images}"
    );
}

/// An all-Latin report (Spanish accents included) needs no font beyond Helvetica: nothing is
/// embedded and the page resources name only F1 and F2, as before issue 16.
#[test]
fn latin_pdf_embeds_no_font() {
    let (_dir, store, _) = demo_db(3_000);
    let mut r = build_report(
        &store,
        &ReportFilter::default(),
        GroupBy::Lot,
        &DriftReference::default(),
    )
    .unwrap();
    r.lots[0].product = "galletas de maíz, año 2026 ¿ñ? ¡sí!".into();
    let meta = pdf::PdfMeta {
        title: "Reporte de calidad".into(),
        generated_at_ms: 0,
        author: "qc".into(),
        ..Default::default()
    };
    let bytes = pdf::render_pdf(&r, &[], &meta);
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"/Type0") && !has(b"/FontFile2") && !has(b"/U0"));
    let fonts = bytes
        .windows(b"/Type /Font".len())
        .filter(|w| w == b"/Type /Font")
        .count();
    assert_eq!(fonts, 2, "Helvetica and Helvetica-Bold only");
}

/// A character no installed font has prints as `?` without failing the report.
#[test]
fn characters_without_a_font_print_as_question_marks() {
    // U+0378 is unassigned: no font maps it.
    assert_eq!(pdf::unicode_font_for('\u{378}'), None);
    let (_dir, store, _) = demo_db(3_000);
    let mut r = build_report(
        &store,
        &ReportFilter::default(),
        GroupBy::Lot,
        &DriftReference::default(),
    )
    .unwrap();
    r.lots[0].product = "X\u{378}\u{378}Y".into();
    let meta = pdf::PdfMeta {
        title: "Quality report".into(),
        generated_at_ms: 0,
        author: "qc".into(),
        ..Default::default()
    };
    let bytes = pdf::render_pdf(&r, &[], &meta);
    assert!(bytes.windows(4).any(|w| w == b"X??Y"));
    assert!(!bytes.windows(6).any(|w| w == b"/Type0"));
}
