//! Retraining from labelled samples: the job on a real SQLite store with real sample images
//! captured from the synthetic line and labelled from its ground truth.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::{add_users, as_user, foodqc, run_ok};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::AppPaths;
use foodqc::domain::GOOD;
use foodqc::model::{AnomalyModel, TrainOptions};
use foodqc::store::Store;
use foodqc::training::capture_truth_samples;
use foodqc::training::job::{TrainJob, TrainJobConfig, TrainJobError, run_training};

fn setup(n: usize) -> (tempfile::TempDir, AppPaths, TrainJobConfig) {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().to_path_buf(),
    };
    let base = Arc::new(AnomalyModel::bundled().unwrap());
    let mut store = Store::open(&paths.db_path()).unwrap();
    let mut source = SourceSpec::Synthetic { seed: 77 }
        .open(&SourceOptions::default())
        .unwrap();
    let ids = capture_truth_samples(
        source.as_mut(),
        &base.segment,
        &mut store,
        &paths.samples_dir(),
        n,
        Some("tester"),
    )
    .unwrap();
    assert_eq!(ids.len(), n);
    let cfg = TrainJobConfig {
        db_path: paths.db_path(),
        models_dir: paths.models_dir(),
        base,
        options: TrainOptions::default(),
        tier: foodqc::model::TierChoice::Classical,
        actor: "tester".into(),
        threads: None,
    };
    (dir, paths, cfg)
}

#[test]
fn job_trains_evaluates_and_registers_a_version_without_activating_it() {
    let (_dir, paths, cfg) = setup(60);
    let store = Store::open(&paths.db_path()).unwrap();
    let counts = store.label_counts().unwrap();
    let good = counts.iter().find(|(l, _)| l == GOOD).unwrap().1;
    assert!(good >= 30, "{counts:?}");

    let mut job = TrainJob::spawn(cfg, || {}).unwrap();
    let mut stages = Vec::new();
    let outcome = loop {
        if let Some(p) = job.progress()
            && stages.last() != Some(&p.stage)
        {
            stages.push(p.stage);
        }
        if let Some(r) = job.try_finish() {
            break r.unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(!stages.is_empty());
    let m = &outcome.metrics;
    // One in five of each label is held out for the acceptance test, never trained on.
    let held = &outcome.held_out;
    let (held_good, labelled_good) = held.per_label[GOOD];
    assert_eq!(labelled_good as i64, good);
    assert_eq!(held_good, (2 * labelled_good + 5) / 10);
    assert_eq!(m["good_samples"] as i64, good - held_good as i64);
    assert_eq!(m["holdout_samples"] as usize, held.len());
    assert!(m["cv_false_reject_rate"] <= 0.2, "{m:?}");
    // Synthetic defects are plain: the new model finds most of them.
    assert!(m["recall"] >= 0.7, "{m:?}");
    assert!(m["cv_auroc"] >= 0.9, "{m:?}");

    // File and row exist; the new version is not live until promoted.
    let model = AnomalyModel::load(&outcome.model_path).unwrap();
    assert_eq!(model.version, outcome.version);
    let versions = store.list_model_versions().unwrap();
    let row = versions
        .iter()
        .find(|v| v.id == outcome.version_id)
        .unwrap();
    assert!(!row.active);
    let ids = |key: &serde_json::Value| -> Vec<i64> {
        key.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect()
    };
    let trained = ids(&row.data_snapshot["sample_ids"]);
    let snapshot_held = ids(&row.data_snapshot["holdout"]["sample_ids"]);
    assert_eq!(trained.len(), 60 - held.len());
    assert_eq!(snapshot_held.len(), held.len());
    assert!(trained.iter().all(|id| !snapshot_held.contains(id)));
    // The split is a function of the labelled samples' content: the same again.
    let again = foodqc::training::holdout::hold_out(
        &store.labelled_samples().unwrap(),
        foodqc::model::anomaly::MIN_TRAIN_ITEMS,
    );
    assert_eq!(&again, held);
    assert!(model.card.notes.iter().any(|n| n.contains("hold-out")));
    assert!(store.active_model().unwrap().is_none());
}

/// The deep tier through the job: asked for, it is trained on the same labelled samples, its
/// model file loads as deep, its card says so, and it scores the defects it never saw.
#[test]
fn job_trains_the_deep_tier_when_asked_and_auto_states_its_choice() {
    let (_dir, _paths, mut cfg) = setup(60);
    cfg.tier = foodqc::model::TierChoice::Deep;
    let outcome = run_training(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    let model = AnomalyModel::load(&outcome.model_path).unwrap();
    assert_eq!(model.tier, foodqc::model::Tier::Deep);
    assert!(model.deep.is_some());
    let m = &outcome.metrics;
    assert_eq!(m["tier_deep"], 1.0, "{m:?}");
    assert!(m["cv_auroc"] >= 0.8, "{m:?}");
    assert!(m["recall"] >= 0.5, "{m:?}");
    assert!(
        model
            .card
            .notes
            .iter()
            .any(|n| n.contains("tier deep (deep requested)"))
    );

    cfg.tier = foodqc::model::TierChoice::Auto;
    let outcome = run_training(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    let model = AnomalyModel::load(&outcome.model_path).unwrap();
    let card = model.card_markdown();
    assert!(
        card.contains("kept by synthetic-defect validation"),
        "{card}"
    );
    assert!(model.card.metrics.contains_key("deep_synthetic_auroc"));
    assert!(model.card.metrics.contains_key("classical_synthetic_auroc"));
}

#[test]
fn too_few_good_samples_explain_what_is_missing() {
    let (_dir, _paths, cfg) = setup(5);
    let err = run_training(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, TrainJobError::NotEnoughData(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("labelled good") && text.contains("at least 8"),
        "{text}"
    );
}

#[test]
fn a_cancelled_job_saves_nothing() {
    let (_dir, paths, cfg) = setup(20);
    let err = run_training(&cfg, &|_| {}, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(err, TrainJobError::Cancelled), "{err}");
    let store = Store::open(&paths.db_path()).unwrap();
    assert!(store.list_model_versions().unwrap().is_empty());
    let files = std::fs::read_dir(paths.models_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0);
}

#[test]
fn cli_trains_proposes_a_qc_manager_approves_and_inspect_runs_it() {
    let (dir, paths, _cfg) = setup(30);
    add_users(
        dir.path(),
        &[("ds.maria", "data_scientist"), ("qc.anna", "qc_manager")],
    );
    let data = || {
        let mut cmd = foodqc();
        cmd.arg("--data-dir").arg(dir.path());
        cmd
    };
    let out = run_ok(as_user(
        data().args(["train", "--propose", "first labelled model"]),
        "ds.maria",
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("proposed"), "{stdout}");
    let store = Store::open(&paths.db_path()).unwrap();
    assert!(
        store.active_model().unwrap().is_none(),
        "proposed is not live"
    );
    let version = store.list_model_versions().unwrap()[0].version.clone();
    drop(store);
    // The proposer cannot approve; the QC manager is held to the acceptance criteria (30
    // samples leave too few held out) and needs a signed override.
    let out = as_user(
        data().args(["model", "approve", &version, "--reason", "ok"]),
        "ds.maria",
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let out = as_user(
        data().args(["model", "approve", &version, "--reason", "ok"]),
        "qc.anna",
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("acceptance criteria"),
        "{stderr}"
    );
    run_ok(as_user(
        data()
            .args(["model", "approve", &version, "--reason", "pilot week"])
            .args(["--override", "pilot on line 1, more labels this week"]),
        "qc.anna",
    ));
    let store = Store::open(&paths.db_path()).unwrap();
    let active = store.active_model().unwrap().expect("an active model");
    assert_eq!(active.version, version);
    let audit = store.audit_entries(50).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "model.activate" && e.actor == "qc.anna")
    );
    let sigs = store
        .signatures_for("model_version", &active.id.to_string(), None)
        .unwrap();
    let actions: Vec<_> = sigs
        .iter()
        .map(|s| (s.signer.as_str(), s.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("ds.maria", "model.propose"),
            ("qc.anna", "model.approve"),
            ("qc.anna", "model.override")
        ]
    );
    // The station now runs the approved version by default.
    let out = run_ok(data().args(["inspect", "--frames", "5", "--json"]));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["model"], active.version.as_str());
}

#[test]
fn killing_a_training_run_leaves_the_database_and_live_model_consistent() {
    let (dir, paths, cfg) = setup(40);
    // A live version to protect.
    let first = run_training(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    let mut store = Store::open(&paths.db_path()).unwrap();
    store.set_active_model(first.version_id, "tester").unwrap();
    drop(store);
    add_users(dir.path(), &[("ds.maria", "data_scientist")]);
    for delay_ms in [50u64, 250, 600, 1200] {
        let mut child = as_user(
            foodqc()
                .arg("--data-dir")
                .arg(dir.path())
                .args(["train", "--propose", "killed"]),
            "ds.maria",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no cleanup code runs
        let _ = child.wait();
        let store = Store::open(&paths.db_path()).unwrap();
        let ok: String = rusqlite::Connection::open(store.path())
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        // Every registered version's file is complete, and some version is live.
        for v in store.list_model_versions().unwrap() {
            if v.version.starts_with("labelled") {
                AnomalyModel::load(&v.path).unwrap();
            }
        }
        let active = store.active_model().unwrap().expect("a live model");
        AnomalyModel::load(&active.path).unwrap();
    }
}

#[test]
fn a_promoted_classifier_names_the_defects_the_station_records() {
    let (dir, paths, cfg) = setup(60);
    let outcome = run_training(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    let classifier = outcome
        .classifier_path
        .expect("classes with 3+ samples: a classifier");
    assert!(classifier.is_file());
    let mut store = Store::open(&paths.db_path()).unwrap();
    store
        .set_active_model(outcome.version_id, "tester")
        .unwrap();
    drop(store);
    run_ok(foodqc().arg("--data-dir").arg(dir.path()).args([
        "inspect",
        "--source",
        "synthetic:123",
        "--frames",
        "400",
    ]));
    let store = Store::open(&paths.db_path()).unwrap();
    // A connection of its own: the store keeps SQL to itself.
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let (rejects, named): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(defect_class) FROM inspections WHERE verdict = 'reject'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rejects > 0);
    // Most rejects get a defect class from the classifier (some it may call good).
    assert!(named * 2 >= rejects, "{named} of {rejects} rejects named");
    let classes: Vec<String> = conn
        .prepare("SELECT DISTINCT defect_class FROM inspections WHERE defect_class IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let known = ["crack", "burnt", "missing piece", "foreign matter"];
    assert!(
        classes.iter().all(|c| known.contains(&c.as_str())),
        "{classes:?}"
    );
}
