//! The Reports tab driven like a user: filter, drill down, hold a lot, export.
//! (The live alarm is tested in `foodqc::services::line_alarm` and the desk's tests.)
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use foodqc::capture::SourceSpec;
use foodqc::domain::AppPaths;
use foodqc::model::AnomalyModel;
use foodqc::reports::demo::{GenerateOptions, generate};

use std::sync::Arc;

use foodqc::services::desk::Status;
use foodqc::store::{LotStatus, Store};

use crate::ui::tests::{english, sign, sign_in_as, step_until};
use crate::ui::{FoodQcApp, Tab};

#[test]
fn filter_drill_down_hold_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().to_path_buf(),
    };
    let gen_stats = {
        let mut store = Store::open(&paths.db_path()).unwrap();
        let opts = GenerateOptions {
            rows: 12_000,
            items_per_lot: 2_000,
            ..Default::default()
        };
        generate(&mut store, Some(&paths.samples_dir()), &opts, &|_| {}).unwrap()
    };
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let p2 = paths.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| {
            english(FoodQcApp::new(
                cc,
                p2,
                model,
                Some(SourceSpec::Synthetic { seed: 3 }),
            ))
        });
    sign_in_as(
        &mut h,
        dir.path(),
        "qc.anna",
        foodqc::domain::Role::QcManager,
    );
    h.state_mut().settings.tab = Tab::Reports;
    step_until(&mut h, "the first report", |app| {
        app.reports
            .report
            .as_ref()
            .is_some_and(|r| r.summary.items >= 12_000)
    });
    h.get_by_label("Items inspected");
    h.get_by_label("Lot disposition");
    // Every generated lot is a point of the p-chart; the bad lot is out of control.
    let r = h.state().reports.report.clone().unwrap();
    let bad = r
        .chart
        .points
        .iter()
        .find(|p| p.label == gen_stats.bad_lot)
        .unwrap();
    assert!(bad.out_of_control());
    assert_eq!(r.pareto[0].class, "crack");

    // Filter by lot: pick it, press Apply.
    let lot = gen_stats.bad_lot.clone();
    h.state_mut().reports.filter.lot = Some(lot.clone());
    h.step();
    h.get_by_label("Apply").click();
    step_until(&mut h, "the lot report", |app| {
        app.reports
            .report
            .as_ref()
            .is_some_and(|r| r.filter.lot.as_deref() == Some(lot.as_str()))
    });
    let r = h.state().reports.report.clone().unwrap();
    assert_eq!(r.summary.items, 2_000);
    assert_eq!(r.groups.len(), 1);

    // Drill down: click the lot's row; its rejected items arrive.
    h.step();
    h.get_by_label(&lot).click();
    step_until(&mut h, "drill-down items", |app| {
        !app.reports.drill.loading && !app.reports.drill.items.is_empty()
    });
    let items = h.state().reports.drill.items.clone();
    assert_eq!(items.len() as u64, r.summary.rejects.min(300));
    assert!(
        items
            .iter()
            .all(|i| i.lot_code.as_deref() == Some(lot.as_str())
                && i.verdict == foodqc::domain::Verdict::Reject)
    );
    assert_eq!(h.state().reports.disposition_lot, lot);

    // Hold the lot with a comment: the report shows HOLD, the audit log has who and why.
    h.state_mut().reports.comment = "6 % rejects, crack".into();
    h.step();
    h.get_by_label("Hold lot").click();
    // The signature window starts from the comment; the QC manager signs it.
    sign(&mut h, "6 % rejects, crack");
    step_until(&mut h, "lot on hold", |app| {
        app.reports.report.as_ref().is_some_and(|r| {
            r.lots
                .iter()
                .any(|l| l.code == lot && l.status == LotStatus::Hold)
        })
    });
    h.step();
    h.get_by_label("HOLD");
    let store = Store::open(&paths.db_path()).unwrap();
    let audit = store.audit_entries(10).unwrap();
    let e = audit.iter().find(|e| e.action == "lot.status").unwrap();
    assert_eq!(e.actor, "qc.anna");
    assert_eq!(e.details["code"], lot.as_str());
    assert_eq!(e.details["to"], "hold");
    assert_eq!(e.details["comment"], "6 % rejects, crack");
    let sig = &store.signatures_for("lot", &lot, None).unwrap()[0];
    assert_eq!(
        (sig.signer.as_str(), sig.action.as_str()),
        ("qc.anna", "lot.hold")
    );

    // Quick PDF export runs in the background and writes the file.
    h.get_by_label("Quick PDF").click();
    step_until(
        &mut h,
        "PDF written",
        |app| matches!(&app.reports.status, Status::Done(m) if m.starts_with("Wrote")),
    );
    let pdfs: Vec<_> = std::fs::read_dir(paths.data_dir.join("exports"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "pdf"))
        .collect();
    assert_eq!(pdfs.len(), 1);
    assert!(pdfs[0].metadata().unwrap().len() > 1000);
}
