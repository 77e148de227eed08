//! Recipes: saved by a QC manager (versioned, audited), exported and imported as a file, and
//! switched on a running line between two frames: the frames before the switch judged by the
//! old recipe, the ones after by the new, none dropped, the switch audited and in the report
//! filter.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use foodqc::capture::synthetic::{SyntheticConfig, SyntheticLine};
use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::{AppPaths, Recipe, Verdict};
use foodqc::station::{LotInfo, Station, StationCommand, StationConfig};
use foodqc::store::{ReportFilter, Store};

fn recipe_cmd(data: &std::path::Path) -> std::process::Command {
    let mut cmd = common::foodqc();
    cmd.arg("--data-dir").arg(data).arg("recipe");
    cmd
}

#[test]
fn a_qc_manager_saves_versions_and_a_file_travels_between_stations() {
    let data = tempfile::tempdir().unwrap();
    common::add_users(data.path(), &[("qc", "qc_manager"), ("op", "operator")]);
    // An operator may not save a recipe.
    let out = common::as_user(
        recipe_cmd(data.path()).args(["save", "vainilla", "--plc-index", "1"]),
        "op",
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("manage_recipes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for reject in ["2.0", "2.5"] {
        common::run_ok(common::as_user(
            recipe_cmd(data.path()).args([
                "save",
                "vainilla",
                "--plc-index",
                "1",
                "--reject",
                reject,
            ]),
            "qc",
        ));
    }
    // Another recipe cannot take the same PLC index.
    let out = common::as_user(
        recipe_cmd(data.path()).args(["save", "chocolate", "--plc-index", "1"]),
        "qc",
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PLC recipe index 1"));
    let store = Store::open(&data.path().join("foodqc.sqlite")).unwrap();
    let v = store.recipe("vainilla").unwrap().expect("saved");
    assert_eq!(v.recipe.version, 2);
    assert_eq!(v.recipe.thresholds.as_ref().unwrap().reject, 2.5);
    assert_eq!(v.created_by, "qc");
    let saves = store
        .audit_entries(1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "recipe.save")
        .count();
    assert_eq!(saves, 2, "each save audited");
    drop(store);

    // Export, then import on another station: it arrives as version 1 there.
    let file = data.path().join("vainilla.json");
    common::run_ok(
        recipe_cmd(data.path())
            .args(["export", "vainilla", "--out"])
            .arg(&file),
    );
    let other = tempfile::tempdir().unwrap();
    common::add_users(other.path(), &[("qc", "qc_manager")]);
    common::run_ok(common::as_user(
        recipe_cmd(other.path()).arg("import").arg(&file),
        "qc",
    ));
    let there = Store::open(&other.path().join("foodqc.sqlite"))
        .unwrap()
        .recipe("vainilla")
        .unwrap()
        .unwrap();
    assert_eq!(there.recipe.version, 1);
    assert_eq!(there.recipe.thresholds, v.recipe.thresholds);
    // A broken file is refused, naming it.
    std::fs::write(&file, r#"{"name": "x", "reject": 1}"#).unwrap();
    let out = common::as_user(recipe_cmd(other.path()).arg("import").arg(&file), "qc")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vainilla.json"));
}

/// A switch mid-run: before it every item is judged by the lenient recipe, after it by the
/// strict one; no frame dropped; the switch is in the audit log and in the report filter.
#[test]
fn a_recipe_switch_mid_run_takes_effect_between_two_frames() {
    let dir = tempfile::tempdir().unwrap();
    let model = foodqc::model::AnomalyModel::bundled().unwrap();
    // No per-class thresholds or review band: one reject threshold decides.
    let with_reject = |reject: f64| foodqc::domain::Thresholds {
        reject,
        review: None,
        per_class: Default::default(),
        ..model.thresholds.clone()
    };
    let lenient = with_reject(model.thresholds.reject * 4.0);
    let strict = with_reject(model.thresholds.reject * 0.5);
    {
        let mut store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        for (name, t) in [("lenient", &lenient), ("strict", &strict)] {
            let r = Recipe {
                name: name.into(),
                thresholds: Some(t.clone()),
                ..Recipe::default()
            };
            store.save_recipe(&r, "qc").unwrap();
        }
    }
    let fps = 30.0;
    let frames = 360;
    let cfg = StationConfig {
        station_name: "recipe-line".into(),
        source: SourceSpec::Synthetic { seed: 9 },
        source_options: SourceOptions {
            fps,
            ..Default::default()
        },
        lot: LotInfo::default(),
        live: true,
        max_frames: Some(frames),
        paths: AppPaths {
            data_dir: dir.path().to_path_buf(),
        },
        reject_samples_per_minute: 0,
        reject_on_doubt: false,
        recipe: Some("lenient".into()),
        operator: None,
        line_outputs: Vec::new(),
    };
    let line = SyntheticConfig {
        seed: 9,
        fps,
        ..Default::default()
    };
    let station =
        Station::start_with_source(cfg, Box::new(SyntheticLine::new(line)), Arc::new(model))
            .unwrap();
    assert_eq!(station.stats().recipe, "lenient v1");
    let started = Instant::now();
    while station.stats().frames_inspected < 180 {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(5));
    }
    station.send(StationCommand::SetRecipe {
        name: "strict".into(),
        by: "op".into(),
    });
    let stats = station.wait().unwrap();
    assert_eq!(stats.recipe, "strict v1");
    assert_eq!(stats.frames_dropped, 0, "the switch dropped no frame");
    assert_eq!(stats.frames_inspected, frames);

    let store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let switch = store
        .audit_entries(1000)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "station.recipe")
        .expect("the switch is audited");
    assert_eq!(switch.actor, "op");
    let first_ms = switch.details["first_frame_ms"].as_i64().unwrap();
    let items = |recipe: &str| {
        store
            .report_items(
                &ReportFilter {
                    recipe: Some(recipe.into()),
                    ..ReportFilter::default()
                },
                false,
                1_000_000,
            )
            .unwrap()
    };
    let (before, after) = (items("lenient"), items("strict"));
    assert_eq!(
        before.len() + after.len(),
        stats.items as usize,
        "every item belongs to one recipe"
    );
    assert!(
        before.len() > 5 && after.len() > 5,
        "{} / {}",
        before.len(),
        after.len()
    );
    for (rows, t, name) in [(&before, &lenient, "lenient"), (&after, &strict, "strict")] {
        for r in rows.iter() {
            assert_eq!(
                r.verdict,
                t.verdict(r.score, r.defect_class.as_deref()),
                "{name}: item of frame {} scored {} at {} (switch at {first_ms})",
                r.frame_seq,
                r.score,
                r.ts_ms
            );
            assert_eq!(r.ts_ms < first_ms, name == "lenient");
        }
    }
    let rejects = |rows: &[foodqc::store::InspectionView]| {
        rows.iter().filter(|r| r.verdict == Verdict::Reject).count()
    };
    eprintln!(
        "{} items before the switch ({} rejected), {} after ({} rejected)",
        before.len(),
        rejects(&before),
        after.len(),
        rejects(&after)
    );
}

/// A recipe's item finding (smallest item) takes effect at the switch, and the next recipe
/// without such a setting finds items as the model file does again.
#[test]
fn a_recipe_sets_the_smallest_item_and_the_next_one_restores_the_models() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        // A fifth of the frame: no cookie of the synthetic line is that large.
        let only_large = Recipe {
            name: "solo-grandes".into(),
            min_item_area: Some(0.2),
            min_belt_contrast: Some(60),
            ..Recipe::default()
        };
        store.save_recipe(&only_large, "qc").unwrap();
        let plain = Recipe {
            name: "normal".into(),
            ..Recipe::default()
        };
        store.save_recipe(&plain, "qc").unwrap();
    }
    let fps = 30.0;
    let cfg = StationConfig {
        station_name: "finding-line".into(),
        source: SourceSpec::Synthetic { seed: 5 },
        source_options: SourceOptions {
            fps,
            ..Default::default()
        },
        lot: LotInfo::default(),
        live: true,
        max_frames: Some(200),
        paths: AppPaths {
            data_dir: dir.path().to_path_buf(),
        },
        reject_samples_per_minute: 0,
        reject_on_doubt: false,
        recipe: Some("solo-grandes".into()),
        operator: None,
        line_outputs: Vec::new(),
    };
    let line = SyntheticConfig {
        seed: 5,
        fps,
        ..Default::default()
    };
    let model = Arc::new(foodqc::model::AnomalyModel::bundled().unwrap());
    let station =
        Station::start_with_source(cfg, Box::new(SyntheticLine::new(line)), model).unwrap();
    let started = Instant::now();
    while station.stats().frames_inspected < 90 {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        station.stats().items,
        0,
        "items smaller than the recipe's smallest are not items"
    );
    station.send(StationCommand::SetRecipe {
        name: "normal".into(),
        by: "op".into(),
    });
    let stats = station.wait().unwrap();
    assert_eq!(stats.recipe, "normal v1");
    assert!(
        stats.items > 3,
        "the model's item finding again: {}",
        stats.items
    );
}
