//! The whole window driven like a user (egui_kittest): live view, tabs, keys, labelling,
//! training and promotion. `step_until` is shared by the tab modules' tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::AppPaths;
use foodqc::model::AnomalyModel;

use super::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn harness(dir: &std::path::Path) -> Harness<'static, FoodQcApp> {
    let paths = AppPaths {
        data_dir: dir.to_path_buf(),
    };
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_eframe(move |cc| {
            english(FoodQcApp::new(
                cc,
                paths,
                model,
                Some(SourceSpec::Synthetic { seed: 3 }),
            ))
        })
}

/// The app speaking English whatever the machine's locale: the tests find widgets by their
/// English labels.
pub(crate) fn english(mut app: FoodQcApp) -> FoodQcApp {
    app.settings.language = foodqc::i18n::Language::En;
    app
}

/// Step the UI (real time passes for the station threads) until `done` or a timeout.
/// Shared by the tab modules' tests.
pub(crate) fn step_until(
    h: &mut Harness<'_, FoodQcApp>,
    what: &str,
    done: impl Fn(&FoodQcApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

#[test]
fn live_view_counts_pauses_and_switches_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "items judged and a frame on screen", |app| {
        app.stats.items >= 3
            && app.stats.frames_inspected >= 5
            && app.settings.live.current().is_some()
    });
    assert!(h.state().station_error.is_none());
    h.get_by_label("Items inspected");
    h.get_by_label("Reject rate");
    assert!(h.state().stats.fps > 0.0);

    // Pause: the frame counter stops moving.
    h.get_by_label("⏸ Pause").click();
    step_until(&mut h, "paused", |app| app.stats.paused);
    // A frame already in the inspector may still finish (slow under load): wait until
    // the counter settles, then it must stay still.
    let deadline = Instant::now() + Duration::from_secs(20);
    let frozen = loop {
        let a = h.state().stats.frames_inspected;
        std::thread::sleep(Duration::from_millis(300));
        h.step();
        let b = h.state().stats.frames_inspected;
        if a == b {
            break b;
        }
        assert!(Instant::now() < deadline, "frames kept coming after pause");
    };
    std::thread::sleep(Duration::from_millis(400));
    h.step();
    assert_eq!(h.state().stats.frames_inspected, frozen);
    h.get_by_label("▶ Resume").click();
    step_until(&mut h, "running again", |app| {
        app.stats.frames_inspected > frozen + 2
    });

    // Tabs, by click and by key.
    for (title, tab) in [
        ("Label", Tab::Label),
        ("Train", Tab::Train),
        ("Reports", Tab::Reports),
        ("Live", Tab::Live),
    ] {
        h.get_by_label(title).click();
        h.step();
        h.step();
        assert_eq!(h.state().settings.tab, tab);
    }
    h.key_press(egui::Key::F4);
    h.step();
    assert_eq!(h.state().settings.tab, Tab::Reports);
    // The Reports tab reads the lot the station records into from SQLite.
    step_until(&mut h, "lot summary from the database", |app| {
        app.snapshot
            .lots
            .iter()
            .any(|l| l.code == "DEMO-LOT" && l.items > 0)
    });
    h.step();
    h.get_by_label("DEMO-LOT");
}

#[test]
fn lot_change_reaches_the_station() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    h.state_mut().settings.live.lot.code = "LOT-7".into();
    h.step();
    h.get_by_label("Apply").click();
    step_until(&mut h, "lot applied", |app| app.stats.lot == "LOT-7");
    step_until(&mut h, "items recorded under the new lot", |app| {
        app.snapshot
            .lots
            .iter()
            .any(|l| l.code == "LOT-7" && l.items > 0)
    });
}

#[test]
fn space_toggles_pause_and_h_toggles_heat() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    let heat = h.state().settings.live.show_heat;
    h.key_press(egui::Key::H);
    h.step();
    assert_eq!(h.state().settings.live.show_heat, !heat);
    h.key_press(egui::Key::Space);
    h.step();
    step_until(&mut h, "paused by Space", |app| app.stats.paused);
    h.key_press(egui::Key::Space);
    h.step();
    step_until(&mut h, "resumed by Space", |app| !app.stats.paused);
}

fn seed_samples(dir: &std::path::Path, n: usize, labelled: bool) {
    let paths = AppPaths {
        data_dir: dir.to_path_buf(),
    };
    let mut store = foodqc::store::Store::open(&paths.db_path()).unwrap();
    let mut source = SourceSpec::Synthetic { seed: 41 }
        .open(&SourceOptions::default())
        .unwrap();
    let ids = foodqc::training::capture_truth_samples(
        source.as_mut(),
        &foodqc::vision::segment::SegmentConfig::default(),
        &mut store,
        &paths.samples_dir(),
        n,
        labelled.then_some("tester"),
    )
    .unwrap();
    assert_eq!(ids.len(), n);
}

fn current_label(dir: &std::path::Path, sample: i64) -> Option<String> {
    let store = foodqc::store::Store::open(&dir.join("foodqc.sqlite")).unwrap();
    store
        .labels_for_sample(sample)
        .unwrap()
        .first()
        .map(|l| l.label.clone())
}

#[test]
fn label_tab_labels_by_keys_moves_and_undoes() {
    let dir = tempfile::tempdir().unwrap();
    seed_samples(dir.path(), 12, false);
    let mut h = harness(dir.path());
    // Pause the line so no new capture reorders the queue under the test.
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    h.key_press(egui::Key::Space);
    h.key_press(egui::Key::F2);
    h.step();
    step_until(&mut h, "queue loaded and scored", |app| {
        let v = app.label.visible();
        v.len() >= 12 && v.iter().all(|q| q.score.is_some())
    });
    let first = h.state().label.visible()[0].sample.id;
    h.key_press(egui::Key::Num1); // 1 = crack in the default taxonomy
    h.step();
    step_until(&mut h, "first label stored", |app| {
        app.label.data.given.len() == 1
    });
    assert_eq!(current_label(dir.path(), first).as_deref(), Some("crack"));

    // The next sample is selected; the arrow keys move.
    h.key_press(egui::Key::ArrowDown);
    h.step();
    assert_eq!(h.state().label.selected, 1);
    h.key_press(egui::Key::ArrowUp);
    h.step();
    assert_eq!(h.state().label.selected, 0);
    let second = h.state().label.visible()[0].sample.id;
    assert_ne!(second, first);
    h.key_press(egui::Key::Num0);
    h.step();
    step_until(&mut h, "second label stored", |app| {
        app.label.data.given.len() == 2
    });
    assert_eq!(current_label(dir.path(), second).as_deref(), Some("good"));

    // Z undoes the last label only; the sample is back in the queue and selected.
    h.key_press(egui::Key::Z);
    h.step();
    assert_eq!(h.state().label.data.given.len(), 1);
    let d = dir.path().to_path_buf();
    step_until(&mut h, "undo stored", move |_| {
        current_label(&d, second).is_none()
    });
    assert_eq!(current_label(dir.path(), first).as_deref(), Some("crack"));
    step_until(&mut h, "undone sample back in the queue", |app| {
        let v = app.label.visible();
        v.get(app.label.selected).map(|q| q.sample.id) == Some(second)
    });
    // Counts shown from the database; a click on a class button labels too.
    step_until(&mut h, "counts", |app| {
        app.label.data.counts == vec![("crack".to_string(), 1)]
    });
    h.get_by_label("2  burnt").click();
    h.step();
    step_until(&mut h, "clicked label stored", |app| {
        app.label.data.given.len() == 2
    });
    assert_eq!(current_label(dir.path(), second).as_deref(), Some("burnt"));
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let actions: Vec<String> = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "label.add").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "label.undo").count(), 1);
}

#[test]
fn training_job_starts_cancels_finishes_and_promotes() {
    let dir = tempfile::tempdir().unwrap();
    seed_samples(dir.path(), 40, true);
    let mut h = harness(dir.path());
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    h.key_press(egui::Key::F3);
    h.step();
    h.get_by_label("Train new model").click();
    h.step();
    assert!(h.state().train.job.is_some());
    h.step();
    h.get_by_label("Cancel training").click();
    h.step();
    step_until(&mut h, "cancelled job ended", |app| app.train.job.is_none());
    let last = h.state().train.last.clone().unwrap();
    assert!(
        matches!(&last, Err(e) if e.contains("cancelled")),
        "{:?}",
        last.map(|o| o.version)
    );
    // Nothing was registered (the station registers only the model it runs).
    let versions = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite"))
        .unwrap()
        .list_model_versions()
        .unwrap();
    assert!(versions.iter().all(|m| !m.version.starts_with("labelled")));

    // Again, to the end: progress is reported, the live view keeps running.
    h.get_by_label("Train new model").click();
    h.step();
    let frames_before = h.state().stats.frames_inspected;
    let mut stages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while h.state().train.job.is_some() {
        assert!(Instant::now() < deadline, "training did not finish");
        if let Some(p) = h
            .state()
            .train
            .job
            .as_ref()
            .and_then(|j| j.progress.clone())
            && stages.last() != Some(&p.stage)
        {
            stages.push(p.stage);
        }
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    assert!(!stages.is_empty(), "no progress was shown");
    assert!(
        matches!(h.state().train.last, Some(Ok(_))),
        "{:?}",
        h.state().train.last.as_ref().map(|r| r.as_ref().err())
    );
    assert!(h.state().stats.frames_inspected > frames_before);
    let version = h.state().train.last.clone().unwrap().unwrap().version;

    // Promote it: the station swaps to it.
    step_until(&mut h, "version listed", |app| {
        app.snapshot.models.iter().any(|m| m.version == version)
    });
    h.step();
    h.get_by_label("Promote").click();
    h.step();
    step_until(&mut h, "station runs the promoted model", |app| {
        app.stats.model_version == version
    });
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    assert_eq!(store.active_model().unwrap().unwrap().version, version);
    assert!(
        store
            .audit_entries(100)
            .unwrap()
            .iter()
            .any(|e| e.action == "model.activate")
    );
}

/// The window in Spanish at its minimum size (900 x 600): every tab speaks the Spanish
/// catalogue, and its main controls lie inside the window (none pushed off its edge).
#[test]
fn spanish_at_the_minimum_window_size() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().to_path_buf(),
    };
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let size = egui::vec2(900.0, 600.0);
    let mut h = Harness::builder().with_size(size).build_eframe(move |cc| {
        let mut app = FoodQcApp::new(cc, paths, model, Some(SourceSpec::Synthetic { seed: 3 }));
        app.settings.language = foodqc::i18n::Language::Es;
        app
    });
    step_until(&mut h, "items judged", |app| {
        app.stats.items >= 1 && app.settings.live.current().is_some()
    });
    h.step();
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, size);
    let inside = |h: &Harness<'_, FoodQcApp>, label: &str| {
        let r = h.get_by_label(label).rect();
        assert!(
            window.contains_rect(r),
            "{label:?} at {r:?} lies outside the {size:?} window"
        );
    };
    for label in [
        "En vivo",
        "Etiquetar",
        "Entrenar",
        "Reportes",
        "Umbrales",
        "⏸ Pausar",
        "Piezas inspeccionadas",
        "Rechazadas",
        "Por revisar",
        "Tasa de rechazo",
        "Mapa de calor (H)",
        "📷 Capturar para etiquetar (C)",
    ] {
        inside(&h, label);
    }
    for (title, tab, labels) in [
        (
            "Etiquetar",
            Tab::Label,
            &["Cola", "Importar y exportar"][..],
        ),
        (
            "Entrenar",
            Tab::Train,
            &["Entrenar modelo nuevo", "Versiones del modelo"][..],
        ),
        (
            "Reportes",
            Tab::Reports,
            &["Filtros", "Disposición del lote"][..],
        ),
        ("Umbrales", Tab::Thresholds, &["Puntajes y curvas"][..]),
    ] {
        h.get_by_label(title).click();
        h.step();
        h.step();
        assert_eq!(h.state().settings.tab, tab);
        for label in labels {
            inside(&h, label);
        }
    }
}

/// The language picker in the top bar switches the window at once, and the choice is part of
/// the settings eframe saves.
#[test]
fn language_switches_live_and_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    h.get_by_label("Items inspected");
    // The picker shows the language in force as its value.
    h.get(
        egui_kittest::kittest::by()
            .role(egui::accesskit::Role::ComboBox)
            .value("English"),
    )
    .click();
    h.step();
    h.step();
    h.step();
    h.get_by_label("Español").click();
    h.step();
    h.step();
    assert_eq!(h.state().settings.language, foodqc::i18n::Language::Es);
    h.get_by_label("Piezas inspeccionadas");
    h.get_by_label("⏸ Pausar");
    assert!(h.query_by_label("Items inspected").is_none());
    let saved = serde_json::to_string(&h.state().settings).unwrap();
    assert!(saved.contains(r#""language":"Es""#), "{saved}");
}
