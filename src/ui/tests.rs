//! The whole window driven like a user (egui_kittest): live view, tabs, keys, labelling,
//! training and promotion. `step_until` is shared by the tab modules' tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::{AppPaths, Role};
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

/// The password of every test user.
pub(crate) const TEST_PW: &str = "Quality-2026";

/// Add `name` with `role` to the station in `dir` (and its admin first, when it has none).
pub(crate) fn add_user(dir: &std::path::Path, name: &str, role: foodqc::domain::Role) {
    use foodqc::services::auth::{NewAccount, authenticate, create_user};
    let paths = AppPaths {
        data_dir: dir.to_path_buf(),
    };
    let mut store = foodqc::store::Store::open(&paths.db_path()).unwrap();
    let acc = |name, role| NewAccount {
        name,
        display_name: None,
        role,
        service: false,
    };
    if store.user_count().unwrap() == 0 {
        let admin = acc("admin", foodqc::domain::Role::Admin);
        create_user(&mut store, None, &admin, TEST_PW).unwrap();
    }
    if store.user_by_name(name).unwrap().is_none() {
        let admin = authenticate(&mut store, "admin", TEST_PW).unwrap();
        create_user(&mut store, Some(&admin), &acc(name, role), TEST_PW).unwrap();
    }
}

/// Add `name` with `role` and sign them in through the window's sign-in dialog.
pub(crate) fn sign_in_as(
    h: &mut Harness<'_, FoodQcApp>,
    dir: &std::path::Path,
    name: &str,
    role: foodqc::domain::Role,
) {
    add_user(dir, name, role);
    // The window knows users exist (else it offers to create the first admin).
    step_until(h, "users in the snapshot", |app| app.snapshot.users > 0);
    if h.state().session.user.is_some() {
        h.get_by_label("Sign out").click();
        step_until(h, "signed out", |app| app.session.user.is_none());
    }
    h.state_mut().session.ask_sign_in();
    h.step();
    h.state_mut().session.fill_login(name, TEST_PW);
    h.step();
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Sign in")
        .click();
    step_until(h, "signed in", |app| {
        app.session.user.as_ref().is_some_and(|u| u.name == name)
    });
    h.step();
}

/// Sign the open signature window with the test password and `reason`.
pub(crate) fn sign(h: &mut Harness<'_, FoodQcApp>, reason: &str) {
    h.step();
    h.state_mut().session.fill_signature(TEST_PW, reason);
    h.step();
    h.get_by_label("Sign").click();
    h.step();
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
    // The line runs without anyone signed in; pausing it needs an operator.
    sign_in_as(
        &mut h,
        dir.path(),
        "op.jose",
        foodqc::domain::Role::Operator,
    );

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
    step_until(&mut h, "the first report", |app| {
        app.reports.report.is_some()
    });
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

/// Further cameras run as their own stations beside the main one: each judges its own line
/// and records under its own name; the Live tab shows a tile for each.
#[test]
fn further_cameras_run_as_their_own_stations() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.state_mut().set_more_cameras(vec![
        SourceSpec::Synthetic { seed: 4 },
        SourceSpec::Synthetic { seed: 5 },
    ]);
    step_until(
        &mut h,
        "every camera judging, with a frame on its tile",
        |app| {
            let tiles = app.settings.live.camera_tiles();
            app.stats.items >= 2
                && tiles.len() == 2
                && tiles
                    .iter()
                    .all(|t| t.stats.items >= 2 && t.error.is_none())
                && (0..2).all(|i| app.settings.live.tile_has_frame(i))
        },
    );
    let names: Vec<String> = h
        .state()
        .settings
        .live
        .camera_tiles()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, ["station-1-2", "station-1-3"]);
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    step_until(&mut h, "rows of every camera recorded", |_| {
        let stations: std::collections::BTreeSet<String> = store
            .recent_inspections(100_000)
            .unwrap()
            .into_iter()
            .map(|r| r.station)
            .collect();
        ["station-1-1", "station-1-2", "station-1-3"]
            .iter()
            .all(|s| stations.contains(*s))
    });
}

/// Each camera has its own lot and recipe: set on the selected camera's panel, kept when the
/// stations restart (a new line outputs setting), and the other cameras untouched.
#[test]
fn each_camera_keeps_its_own_lot_and_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.state_mut()
        .set_more_cameras(vec![SourceSpec::Synthetic { seed: 6 }]);
    step_until(&mut h, "both cameras judging", |app| {
        let tiles = app.settings.live.camera_tiles();
        app.stats.items >= 1 && tiles.len() == 1 && tiles[0].stats.items >= 1
    });
    let mut store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let recipe = foodqc::domain::Recipe {
        name: "limon-tahiti".into(),
        thresholds: Some(foodqc::domain::Thresholds::new(2.5, 1.5)),
        ..Default::default()
    };
    store.save_recipe(&recipe, "qc.ana").unwrap();
    sign_in_as(&mut h, dir.path(), "op.jose", Role::Operator);
    // A click on the second camera's tile chooses it; its panel says so.
    h.state_mut().settings.live.select_camera(1);
    h.step();
    h.get_by_label("Camera station-1-2");
    h.state_mut().settings.live.type_lot("LOT-B");
    h.step();
    h.get_by_label("Apply").click();
    h.state_mut()
        .send(foodqc::station::StationCommand::SetRecipe {
            name: "limon-tahiti".into(),
            by: "op.jose".into(),
        });
    step_until(&mut h, "the second camera on its lot and recipe", |app| {
        let t = &app.settings.live.camera_tiles()[0].stats;
        t.lot == "LOT-B" && t.recipe == "limon-tahiti v1"
    });
    assert_ne!(
        h.state().stats.lot,
        "LOT-B",
        "the main camera keeps its lot"
    );
    assert!(
        h.state().stats.recipe.is_empty(),
        "the main camera keeps no recipe"
    );
    // A restart (as a new line outputs setting makes) keeps each camera's own.
    h.state_mut().start_station();
    step_until(&mut h, "restarted on the same lots and recipes", |app| {
        let t = &app.settings.live.camera_tiles()[0].stats;
        t.items >= 1 && app.stats.items >= 1
    });
    let t = h.state().settings.live.camera_tiles()[0].stats.clone();
    assert_eq!(
        (t.lot.as_str(), t.recipe.as_str()),
        ("LOT-B", "limon-tahiti v1")
    );
    assert!(h.state().stats.recipe.is_empty());
    assert_ne!(h.state().stats.lot, "LOT-B");
}

/// A QC manager makes a recipe from the running setup in the editor, gives it a name and a
/// smallest item, saves it; it is stored as version 1 (audited), and saving again makes v2.
/// An operator may open the editor but not save.
#[test]
fn the_recipe_editor_saves_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    sign_in_as(&mut h, dir.path(), "op.jose", Role::Operator);
    h.get_by_label("Recipes…").click();
    step_until(&mut h, "the recipe editor open", |app| {
        app.settings.live.recipes.open
    });
    h.step();
    h.step();
    h.get_by_label("New from running setup").click();
    h.step();
    assert!(
        disabled(&h, "Save as next version"),
        "an unnamed recipe cannot be saved"
    );
    h.state_mut()
        .settings
        .live
        .recipes
        .draft_mut()
        .unwrap()
        .name = "mango-kent".into();
    h.step();
    assert!(
        disabled(&h, "Save as next version"),
        "operators do not save recipes"
    );
    sign_in_as(&mut h, dir.path(), "qc.ana", Role::QcManager);
    {
        let draft = h.state_mut().settings.live.recipes.draft_mut().unwrap();
        draft.min_item_area = Some(0.01);
        draft.plc_index = Some(7);
    }
    h.step();
    for version in 1..=2 {
        h.get_by_label("Save as next version").click();
        step_until(&mut h, "saved", |app| {
            app.snapshot
                .recipes
                .iter()
                .any(|r| r.name == "mango-kent" && r.version == version)
        });
    }
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let r = store.recipe("mango-kent").unwrap().unwrap();
    assert_eq!((r.recipe.version, r.created_by.as_str()), (2, "qc.ana"));
    assert_eq!(r.recipe.min_item_area, Some(0.01));
    assert_eq!(r.recipe.plc_index, Some(7));
    assert_eq!(
        r.recipe.model_version.as_deref(),
        Some(h.state().model.version.as_str()),
        "made from the running setup"
    );
    let saves = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "recipe.save" && e.actor == "qc.ana")
        .count();
    assert_eq!(saves, 2);
}

/// The language a user chooses is theirs: after signing out and in again the window speaks
/// it, whatever the window spoke meanwhile.
#[test]
fn a_user_gets_back_the_language_they_chose() {
    use foodqc::i18n::Language;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    sign_in_as(&mut h, dir.path(), "op.rosa", Role::Operator);
    h.state_mut().settings.language = Language::Es;
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let rosa = store.user_by_name("op.rosa").unwrap().unwrap().id;
    step_until(&mut h, "Spanish kept as Rosa's", |_| {
        store.user_language(rosa).unwrap().as_deref() == Some("es")
    });
    h.state_mut()
        .desk
        .send(foodqc::services::desk::Command::SignOut { idle: false });
    step_until(&mut h, "signed out", |app| app.session.user.is_none());
    // Nobody signed in: the window's language is nobody's preference.
    h.state_mut().settings.language = Language::En;
    h.step();
    sign_in_as(&mut h, dir.path(), "op.rosa", Role::Operator);
    step_until(&mut h, "the window in Rosa's Spanish", |app| {
        app.settings.language == Language::Es
    });
    assert_eq!(store.user_language(rosa).unwrap().as_deref(), Some("es"));
}

/// With the plant's Kafka set and its brokers away, the window records on: the records wait
/// in the outbox and the status bar says so.
#[test]
fn the_plant_setting_fills_the_outbox_while_the_brokers_are_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    // Nothing listens on port 1.
    let spec = foodqc::plant::KafkaSpec::parse("127.0.0.1:1").unwrap();
    h.state_mut().set_plant(Some(spec));
    assert!(h.state().plant.is_some(), "{:?}", h.state().plant_error);
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    step_until(&mut h, "records waiting in the outbox", |_| {
        store.outbox_counts().unwrap().pending > 3
    });
    assert_eq!(store.outbox_counts().unwrap().delivered, 0);
    assert!(
        h.query_by_label_contains("plant:").is_some(),
        "the status bar shows the plant"
    );
    // Switched off: the records stay waiting for the next start.
    h.state_mut().set_plant(None);
    assert!(h.state().plant.is_none());
}

#[test]
fn an_admin_trusts_and_revokes_a_plant_key_in_the_line_panel() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    sign_in_as(&mut h, dir.path(), "op.jose", Role::Operator);
    // Clicks through accesskit: the section may be below the side panel's visible part.
    h.get_by_label("Plant keys").click_accesskit();
    step_until(&mut h, "this PC's key shown", |app| {
        app.settings.live.line.keys.shown().0.is_some()
    });
    let own = h
        .state()
        .settings
        .live
        .line
        .keys
        .shown()
        .0
        .unwrap()
        .to_string();
    let on_disk = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite"))
        .unwrap()
        .plant_key()
        .unwrap();
    assert_eq!(own, on_disk.public_key(), "the key beside the database");
    h.step();
    assert!(
        h.query_by_label_contains("No trusted key").is_some(),
        "the panel says the station refuses plant decisions"
    );
    let qc_pc = tempfile::tempdir().unwrap();
    let qc_key = foodqc::store::plant_key::PlantKey::load_or_create(&qc_pc.path().join("k"))
        .unwrap()
        .public_key();
    h.state_mut()
        .settings
        .live
        .line
        .keys
        .fill("calidad-pc", &qc_key);
    h.step();
    assert!(disabled(&h, "Trust key"), "an operator may not");
    sign_in_as(&mut h, dir.path(), "admin", Role::Admin);
    h.get_by_label("Trust key").click_accesskit();
    step_until(&mut h, "the key trusted", |app| {
        app.settings.live.line.keys.shown().1 == ["calidad-pc"]
    });
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    assert_eq!(store.trusted_plant_keys().unwrap()[0].key, qc_key);
    // Revoke asks once more before it acts.
    h.get_by_label("Revoke").click_accesskit();
    h.step();
    h.step();
    assert_eq!(store.trusted_plant_keys().unwrap().len(), 1);
    h.get_by_label("Revoke: sure?").click_accesskit();
    step_until(&mut h, "the key revoked", |app| {
        app.settings.live.line.keys.shown().1.is_empty()
    });
    let audited: Vec<String> = store
        .audit_entries(1_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("plant.key."))
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect();
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited.contains(&"admin plant.key.revoke".to_string()));
}

#[test]
fn lot_change_reaches_the_station() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "first frame", |app| {
        app.settings.live.current().is_some()
    });
    sign_in_as(
        &mut h,
        dir.path(),
        "op.jose",
        foodqc::domain::Role::Operator,
    );
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
    // Read-only: Space does not pause the line.
    h.key_press(egui::Key::Space);
    h.step();
    h.step();
    assert!(!h.state().stats.paused);
    sign_in_as(
        &mut h,
        dir.path(),
        "op.jose",
        foodqc::domain::Role::Operator,
    );
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
    sign_in_as(
        &mut h,
        dir.path(),
        "tec.luis",
        foodqc::domain::Role::Technician,
    );
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
    sign_in_as(&mut h, dir.path(), "ds.maria", Role::DataScientist);
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

    // The data scientist proposes it (signed); they cannot approve it themselves.
    step_until(&mut h, "version listed", |app| {
        app.snapshot.models.iter().any(|m| m.version == version)
    });
    h.step();
    h.get_by_label("Propose…").click();
    sign(&mut h, "trained on 40 labelled samples");
    step_until(&mut h, "proposal in the snapshot", |app| {
        app.snapshot
            .models
            .iter()
            .any(|m| m.version == version && app.snapshot.proposals.contains_key(&m.id))
    });
    h.step();
    assert!(disabled(&h, "Approve…"), "the proposer may not approve");
    // A QC manager approves it (signed): the station swaps to it.
    sign_in_as(&mut h, dir.path(), "qc.anna", Role::QcManager);
    h.key_press(egui::Key::F3);
    h.step();
    let id = h
        .state()
        .snapshot
        .models
        .iter()
        .find(|m| m.version == version)
        .unwrap()
        .id;
    step_until(&mut h, "acceptance check shown", |app| {
        app.train.acceptance.known(id)
    });
    assert!(!disabled(&h, "Approve…"));
    h.get_by_label("Approve…").click();
    sign(&mut h, "comparison checked");
    step_until(&mut h, "station runs the promoted model", |app| {
        app.stats.model_version == version
    });
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    assert_eq!(store.active_model().unwrap().unwrap().version, version);
    let activation = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "model.activate")
        .unwrap();
    assert_eq!(activation.actor, "qc.anna");
    let sigs = store.recent_signatures(10).unwrap();
    let who: Vec<_> = sigs
        .iter()
        .rev()
        .map(|s| (s.signer.as_str(), s.meaning.as_str()))
        .collect();
    // 40 samples leave too few held out for the default criteria: the approval in the
    // window carried the QC manager's override, a second signature.
    assert_eq!(
        who,
        [
            ("ds.maria", "performed"),
            ("qc.anna", "approved"),
            ("qc.anna", "approved")
        ]
    );
    assert_eq!(sigs[0].action, "model.override");

    // To the plant: only with Plant Kafka set (the brokers away here: it waits in the
    // outbox) and a recipe to send it for; signed again.
    assert!(disabled(&h, "Publish to plant…"), "no Plant Kafka yet");
    let recipe = foodqc::domain::Recipe {
        name: "galleta-vainilla".into(),
        ..Default::default()
    };
    foodqc::store::Store::open(&dir.path().join("foodqc.sqlite"))
        .unwrap()
        .save_recipe(&recipe, "qc.anna")
        .unwrap();
    let spec = foodqc::plant::KafkaSpec::parse("127.0.0.1:1").unwrap();
    h.state_mut().set_plant(Some(spec));
    step_until(&mut h, "recipe in the snapshot", |app| {
        app.snapshot
            .recipes
            .iter()
            .any(|r| r.name == "galleta-vainilla")
    });
    h.step();
    assert!(!disabled(&h, "Publish to plant…"));
    h.get_by_label("Publish to plant…").click();
    sign(&mut h, "line 2 runs the same cookie");
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    step_until(&mut h, "release signed", |_| {
        store
            .recent_signatures(10)
            .unwrap()
            .iter()
            .any(|s| s.action == "model.publish")
    });
    let publish = store.recent_signatures(10).unwrap().remove(0);
    assert_eq!(
        (publish.signer.as_str(), publish.action.as_str()),
        ("qc.anna", "model.publish")
    );
    let parts: Vec<_> = store
        .outbox_pending(10_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.topic == "foodqc.models")
        .collect();
    assert!(!parts.is_empty(), "the release waits in the outbox");
    assert!(parts.iter().all(|r| r.key == "galleta-vainilla"));
    h.state_mut().set_plant(None);
}

/// Whether the widget labelled `label` is disabled.
fn disabled(h: &Harness<'_, FoodQcApp>, label: &str) -> bool {
    use egui_kittest::kittest::NodeT;
    h.get_by_label(label).accesskit_node().is_disabled()
}

#[test]
fn a_technician_can_neither_propose_approve_nor_apply_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let version = "v-tech";
    let mut model = AnomalyModel::bundled().unwrap();
    model.version = version.into();
    let file = dir.path().join("v-tech.json");
    model.save(&file).unwrap();
    {
        let paths = AppPaths {
            data_dir: dir.path().to_path_buf(),
        };
        let mut store = foodqc::store::Store::open(&paths.db_path()).unwrap();
        store
            .register_model_version(&foodqc::store::NewModelVersion {
                version: version.into(),
                path: file,
                kind: "test".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({}),
                data_snapshot: serde_json::json!({}),
            })
            .unwrap();
    }
    let mut h = harness(dir.path());
    sign_in_as(&mut h, dir.path(), "tec.luis", Role::Technician);
    h.key_press(egui::Key::F3);
    h.step();
    step_until(&mut h, "version listed", |app| {
        app.snapshot.models.iter().any(|m| m.version == version)
    });
    h.step();
    assert!(disabled(&h, "Propose…"));
    assert!(disabled(&h, "Roll back"));
    h.key_press(egui::Key::F5);
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.query_by_label("Apply to the line").is_none() {
        assert!(Instant::now() < deadline, "the thresholds tab never loaded");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    assert!(disabled(&h, "Apply to the line"));
    // Signed out, the window is read-only: Live's capture and the lot are disabled too.
    h.get_by_label("Sign out").click();
    step_until(&mut h, "signed out", |app| app.session.user.is_none());
    h.key_press(egui::Key::F1);
    h.step();
    h.step();
    assert!(disabled(&h, "📷 Capture for labelling (C)"));
}

#[test]
fn idle_lock_signs_out_after_the_timeout_and_the_line_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.state_mut().session =
        super::session::SessionUi::with_idle_timeout(Duration::from_millis(300));
    sign_in_as(&mut h, dir.path(), "op.jose", Role::Operator);
    let items = h.state().stats.items;
    // No input: the session locks; the station keeps judging.
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.state().session.user.is_some() {
        assert!(Instant::now() < deadline, "idle lock did not sign out");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    step_until(&mut h, "line still judging", |app| app.stats.items > items);
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logout = store
            .audit_entries(20)
            .unwrap()
            .into_iter()
            .find(|e| e.action == "auth.logout");
        if let Some(e) = logout {
            assert_eq!(e.actor, "op.jose");
            assert_eq!(e.details["idle"], true);
            break;
        }
        assert!(Instant::now() < deadline, "logout not audited");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn five_wrong_passwords_lock_the_account() {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "qc.anna", Role::QcManager);
    let mut h = harness(dir.path());
    step_until(&mut h, "users in the snapshot", |app| {
        app.snapshot.users > 0
    });
    for _ in 0..5 {
        h.state_mut().session.ask_sign_in();
        h.step();
        h.state_mut()
            .session
            .fill_login("qc.anna", "wrong-Password-1");
        h.step();
        h.get_by_role_and_label(egui::accesskit::Role::Button, "Sign in")
            .click();
        step_until(&mut h, "refusal shown", |app| app.session.message.is_some());
    }
    let msg = h.state().session.message.clone().unwrap();
    assert!(msg.contains("locked"), "{msg}");
    // Even the right password is refused now.
    h.state_mut().session.ask_sign_in();
    h.step();
    h.state_mut().session.fill_login("qc.anna", TEST_PW);
    h.step();
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Sign in")
        .click();
    step_until(&mut h, "refusal shown", |app| app.session.message.is_some());
    assert!(h.state().session.user.is_none());
    assert!(
        h.state()
            .session
            .message
            .as_ref()
            .unwrap()
            .contains("locked")
    );
}

#[test]
fn the_first_start_creates_the_admin_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    step_until(&mut h, "snapshot", |app| app.snapshot.taken_at.is_some());
    assert_eq!(h.state().snapshot.users, 0);
    h.get_by_label("Sign in…").click();
    h.step();
    h.step();
    h.get_by_label("Create the first admin");
    h.state_mut()
        .session
        .fill_login("jefe.planta", "Andes-2026-Rosa");
    h.step();
    h.get_by_label("Create admin").click();
    step_until(&mut h, "admin signed in", |app| {
        app.session
            .user
            .as_ref()
            .is_some_and(|u| u.role == Role::Admin)
    });
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    assert_eq!(store.users().unwrap().len(), 1);
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
