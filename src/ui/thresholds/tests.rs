//! The Thresholds tab driven like a user: slider, snaps, bands, apply and revert.

use std::sync::Arc;

use foodqc::model::operating::LabelledScore;
use foodqc::services::workbench::Workbench;

use crate::ui::tests::{english, sign, sign_in_as, step_until};
use crate::ui::{FoodQcApp, Tab};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use foodqc::capture::SourceSpec;
use foodqc::domain::AppPaths;
use foodqc::model::AnomalyModel;
use std::time::Instant;

fn harness(dir: &std::path::Path) -> Harness<'static, FoodQcApp> {
    let paths = AppPaths {
        data_dir: dir.to_path_buf(),
    };
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_eframe(move |cc| {
            english(FoodQcApp::new(
                cc,
                paths,
                model,
                Some(SourceSpec::Synthetic { seed: 5 }),
            ))
        });
    h.state_mut().settings.tab = Tab::Thresholds;
    h
}

fn item(score: f64, class: &str) -> LabelledScore {
    LabelledScore {
        score,
        class: class.into(),
        origin: String::new(),
    }
}

/// The hand-checked set of `model::operating`'s tests: good 0.1 0.2 0.3 0.6, defective
/// 0.5 0.7 0.8 0.9.
fn fixed() -> Workbench {
    let items = vec![
        item(0.1, "good"),
        item(0.2, "good"),
        item(0.3, "good"),
        item(0.6, "good"),
        item(0.5, "crack"),
        item(0.7, "crack"),
        item(0.8, "burnt"),
        item(0.9, "burnt"),
    ];
    Workbench::build("fixed".into(), items, vec![0.2, 0.4, 0.95])
}

#[test]
fn slider_moves_the_confusion_matrix_and_snaps_find_the_expected_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.state_mut().thresholds.set_data(fixed());
    h.step();
    h.step();

    h.get_by_role_and_label(Role::Slider, "Reject threshold")
        .set_value_accesskit(0.55);
    h.step();
    h.step();
    assert!((h.state().thresholds.reject - 0.55).abs() < 1e-9);
    h.get_by_label("TP 3 FP 1 TN 3 FN 1");
    h.get_by_label("At 0.550");
    let op = h.state().thresholds.point().unwrap();
    assert_eq!((op.precision, op.recall, op.f1), (0.75, 0.75, 0.75));
    assert_eq!((op.false_reject_rate, op.escape_rate), (0.25, 0.25));
    assert_eq!(
        h.get_all_by_label("25.0 %").count(),
        2,
        "false rejects and escapes"
    );

    h.get_by_role_and_label(Role::Slider, "Reject threshold")
        .set_value_accesskit(0.25);
    h.step();
    h.step();
    h.get_by_label("TP 4 FP 2 TN 2 FN 0");

    // Snaps on the fixed set (hand-computed in model::operating's tests).
    h.get_by_label("max F1").click();
    h.step();
    h.step();
    assert!((h.state().thresholds.reject - 0.4).abs() < 1e-12);
    h.get_by_label("TP 4 FP 1 TN 3 FN 0");

    h.state_mut().thresholds.target_escape = 0.25;
    h.get_by_label("escape <=").click();
    h.step();
    h.step();
    assert!((h.state().thresholds.reject - 0.65).abs() < 1e-12);
    h.get_by_label("TP 3 FP 0 TN 4 FN 1");

    h.state_mut().thresholds.target_frr = 0.25;
    h.get_by_label("false reject <=").click();
    h.step();
    h.step();
    assert!((h.state().thresholds.reject - 0.4).abs() < 1e-12);

    // Review band: 0.35..0.65 holds one good (0.6) and one defective (0.5) item.
    h.state_mut().thresholds.review_on = true;
    h.step();
    h.get_by_role_and_label(Role::Slider, "Review threshold")
        .set_value_accesskit(0.35);
    h.get_by_role_and_label(Role::Slider, "Reject threshold")
        .set_value_accesskit(0.65);
    h.step();
    h.step();
    let b = h.state().thresholds.bands().unwrap();
    assert_eq!((b.review_good, b.review_defective), (1, 1));
    h.get_by_label("Bands (good / defective): pass 3 / 0 · review 1 / 1 · reject 0 / 3");
    // Production: 0.95 of [0.2, 0.4, 0.95] is rejected, 0.4 goes to review.
    h.get_by_label("On the last 3 production items: 33.3 % rejected, 33.3 % to review");
}

#[test]
fn apply_reaches_the_line_and_the_database_and_revert_restores() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "the line running", |app| app.stats.items >= 2);
    sign_in_as(
        &mut h,
        dir.path(),
        "qc.anna",
        foodqc::domain::Role::QcManager,
    );
    h.state_mut().thresholds.set_data(fixed());
    let original = h.state().model.thresholds.clone();
    h.state_mut().thresholds.take_thresholds(&original);
    // Everything into the review band: every judged item must now come out as review.
    {
        let v = &mut h.state_mut().thresholds;
        v.review_on = true;
        v.review = 0.0;
        v.reject = 1e6;
        v.why = "review everything (test)".into();
    }
    h.step();
    // The button is disabled while the tab waits for the worker (its preview load may start
    // on any frame): click when the tab is idle, until the apply has started or is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        step_until(&mut h, "the thresholds tab idle", |app| {
            !app.thresholds.is_busy()
        });
        h.get_by_label("Apply to the line").click();
        h.step();
        if h.state().session.signing() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never started"
        );
    }
    // The QC manager signs the setting: password again, the reason typed in the tab.
    sign(&mut h, "review everything (test)");
    step_until(&mut h, "applied", |app| {
        app.thresholds.history.len() == 1 && !app.thresholds.is_busy()
    });
    assert_eq!(h.state().model.thresholds.reject, 1e6);
    let reviews_before = h.state().stats.reviews;
    step_until(&mut h, "review verdicts on the line", |app| {
        app.stats.reviews > reviews_before + 2
    });
    let db = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let id = db
        .model_version_id(&h.state().model.version)
        .unwrap()
        .unwrap();
    let cur = db.current_thresholds(id).unwrap().unwrap();
    assert_eq!(cur.thresholds.review, Some(0.0));
    assert_eq!(cur.reason, "review everything (test)");
    let audit = db.audit_entries(50).unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "model.thresholds")
        .unwrap();
    assert_eq!(entry.details["old"]["reject"], original.reject);
    assert_eq!(entry.details["new"]["reject"], 1e6);
    // Review items are saved as samples for the Label tab.
    step_until(&mut h, "review samples in the labelling queue", |app| {
        foodqc::store::Store::open(&app.paths.db_path())
            .and_then(|s| s.unlabelled_samples(1))
            .is_ok_and(|v| !v.is_empty())
    });

    // A second setting, then revert to the first one.
    h.state_mut().thresholds.review_on = false;
    h.state_mut().thresholds.reject = 2.5;
    h.step();
    h.get_by_label("Apply to the line").click();
    sign(&mut h, "no review band");
    step_until(&mut h, "second apply", |app| {
        app.thresholds.history.len() == 2 && !app.thresholds.is_busy()
    });
    assert_eq!(h.state().model.thresholds.review, None);
    // The history sits below the fold of the scrolling panel: click it the accessible way.
    h.get_by_label("Revert").click_accesskit();
    sign(&mut h, "revert to #1");
    step_until(&mut h, "reverted", |app| {
        app.thresholds.history.len() == 3 && !app.thresholds.is_busy()
    });
    assert_eq!(h.state().model.thresholds.reject, 1e6);
    assert_eq!(h.state().thresholds.history[0].reason, "revert to #1");
    assert_eq!(h.state().thresholds.history[0].set_by, "qc.anna");
    let signatures = db.recent_signatures(10).unwrap();
    assert_eq!(signatures.len(), 3);
    assert!(signatures.iter().all(|s| s.action == "thresholds.apply"));
}

/// Measurement, not a timed test: per-frame UI work of the tab while the slider moves
/// over 10,000 scored items. Prints the numbers; run with `--nocapture` to see them.
#[test]
fn slider_drag_over_10k_items_measured() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    // Deterministic pseudo-random scores: 9,000 good around 0.6, 1,000 defective around 1.6.
    let mut x: u64 = 42;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let items: Vec<LabelledScore> = (0..10_000)
        .map(|i| {
            let (base, class) = if i % 10 == 0 {
                (1.6, if i % 20 == 0 { "crack" } else { "burnt" })
            } else {
                (0.6, "good")
            };
            item(base + (next() + next() + next() - 1.5) * 0.5, class)
        })
        .collect();
    let t0 = Instant::now();
    let w = Workbench::build(
        "measure".into(),
        items,
        (0..10_000).map(|_| next() * 2.0).collect(),
    );
    let build_ms = t0.elapsed().as_secs_f64() * 1000.0;
    h.state_mut().thresholds.set_data(w);
    h.state_mut().thresholds.review_on = true;
    // Measure the tab's own work, not the station's threads competing for the CPU.
    h.state_mut().send(foodqc::station::StationCommand::Pause);
    h.step();
    h.step();
    let mut step_ms = Vec::new();
    for i in 0..200 {
        let t = 0.3 + 1.5 * (i as f64 / 200.0);
        h.get_by_role_and_label(Role::Slider, "Reject threshold")
            .set_value_accesskit(t);
        let s = Instant::now();
        h.step();
        step_ms.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    // The slider keeps 3 decimals.
    assert!((h.state().thresholds.reject - (0.3 + 1.5 * 199.0 / 200.0)).abs() < 1e-3);
    let q = |v: &[f64], p: f64| foodqc::model::metrics::quantile(v, p);
    let ui_p50 = h.state().frame_times.quantile(0.5);
    let ui_p95 = h.state().frame_times.quantile(0.95);
    println!(
        "thresholds tab, 10,000 items: build {build_ms:.1} ms once; per frame while dragging: app ui {ui_p50:.2} ms p50 / {ui_p95:.2} ms p95; whole egui step {:.2} ms p50 / {:.2} ms p95",
        q(&step_ms, 0.5),
        q(&step_ms, 0.95)
    );
}
