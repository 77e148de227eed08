//! The desk worker end to end on a temporary data folder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::capture::{SourceOptions, SourceSpec};
use crate::domain::Role;
use crate::model::AnomalyModel;
use crate::services::auth::testing::{PW, station_at};
use crate::services::signing::SignatureInput;
use crate::store::{DefectClass, QueueFilter, Store};

fn desk(dir: &std::path::Path) -> Desk {
    let cfg = DeskConfig {
        paths: AppPaths {
            data_dir: dir.to_path_buf(),
        },
    };
    Desk::spawn(cfg, Arc::new(|| {}))
}

/// Sign `name` in (with the fixtures' password) and wait until the worker says so.
fn sign_in(d: &Desk, name: &str) {
    d.send(Command::SignIn {
        name: name.into(),
        password: PW.into(),
    });
    wait_for(d, "signed in", |e| match e {
        Event::Session(Some(u)) if u.name == name => Some(()),
        _ => None,
    });
}

/// Take events until one matches `pick`; fails after a timeout or on a failed status.
fn wait_for<T>(d: &Desk, what: &str, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for ev in d.poll() {
            if let Event::Status(t, Status::Failed(e)) = &ev {
                panic!("{what}: {t:?} failed: {e}");
            }
            if let Some(v) = pick(ev) {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn snapshot_and_alarm_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    d.send(Command::RefreshSnapshot);
    let snap = wait_for(&d, "snapshot", |e| match e {
        Event::Snapshot(s) => Some(s),
        _ => None,
    });
    assert!(snap.error.is_none(), "{:?}", snap.error);
    assert!(snap.taken_at.is_some());
    d.send(Command::LogAlarm(
        serde_json::json!({"lot": "L9", "rules": [1]}),
    ));
    // Commands run in order: once the next snapshot arrives, the alarm is logged.
    d.send(Command::RefreshSnapshot);
    wait_for(&d, "second snapshot", |e| {
        matches!(e, Event::Snapshot(_)).then_some(())
    });
    let store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let e: Vec<_> = store
        .audit_entries(10)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "line.alarm")
        .collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].actor, "system");
    assert_eq!(e[0].details["lot"], "L9");
}

#[test]
fn label_queue_label_undo_and_taxonomy() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().to_path_buf(),
    };
    {
        let mut store = station_at(&paths.db_path(), &[("tester", Role::Technician)]);
        let mut source = SourceSpec::Synthetic { seed: 41 }
            .open(&SourceOptions::default())
            .unwrap();
        crate::training::capture_truth_samples(
            source.as_mut(),
            &crate::vision::segment::SegmentConfig::default(),
            &mut store,
            &paths.samples_dir(),
            4,
            None,
        )
        .unwrap();
    }
    let d = desk(dir.path());
    sign_in(&d, "tester");
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    d.send(Command::RefreshLabelQueue {
        filter: QueueFilter::default(),
        model: model.clone(),
    });
    let q = wait_for(&d, "queue", |e| match e {
        Event::LabelQueue(q) => Some(q),
        _ => None,
    });
    assert_eq!(q.queue.len(), 4);
    assert_eq!(q.scored, 4);
    let first = q.queue[0].sample.id;
    d.send(Command::LoadSampleImage {
        sample_id: first,
        path: q.queue[0].sample.path.clone(),
    });
    let img = wait_for(&d, "image", |e| match e {
        Event::SampleImage { sample_id, image } => Some((sample_id, image)),
        _ => None,
    });
    assert_eq!(img.0, first);
    assert!(img.1.is_ok());
    d.send(Command::Label {
        sample_id: first,
        label: "crack".into(),
        mask: None,
    });
    let (label_id, counts) = wait_for(&d, "label", |e| match e {
        Event::Labelled {
            label_id,
            sample_id,
            counts,
        } if sample_id == first => Some((label_id, counts)),
        _ => None,
    });
    assert_eq!(counts, vec![("crack".to_string(), 1)]);
    d.send(Command::UndoLabel(label_id));
    let counts = wait_for(&d, "undo", |e| match e {
        Event::Unlabelled { counts, .. } => Some(counts),
        _ => None,
    });
    assert!(counts.is_empty());
    d.send(Command::SaveDefectClass(DefectClass {
        id: 0,
        name: "mould".into(),
        colour: "#8c8c8c".into(),
        hotkey: None,
        position: 99,
    }));
    let classes = wait_for(&d, "taxonomy", |e| match e {
        Event::DefectClasses(c) => Some(c),
        _ => None,
    });
    assert!(classes.iter().any(|c| c.name == "mould"));
    let store = Store::open(&paths.db_path()).unwrap();
    let actors: Vec<String> = store
        .audit_entries(20)
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("label."))
        .map(|e| e.actor)
        .collect();
    assert_eq!(actors, ["tester", "tester"]);
}

#[test]
fn a_failure_is_reported_under_its_topic() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    d.send(Command::UndoLabel(12345));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let failed = d.poll().into_iter().find_map(|e| match e {
            Event::Status(Topic::Label, Status::Failed(m)) => Some(m),
            _ => None,
        });
        if let Some(m) = failed {
            assert!(!m.is_empty());
            break;
        }
        assert!(Instant::now() < deadline, "no failure reported");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first failure under `topic`, within 30 s.
fn failure(d: &Desk, topic: Topic) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let failed = d.poll().into_iter().find_map(|e| match e {
            Event::Status(t, Status::Failed(m)) if t == topic => Some(m),
            _ => None,
        });
        if let Some(m) = failed {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "no failure reported under {topic:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn state_changes_need_a_signed_in_role_that_may_whatever_the_window_shows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("foodqc.sqlite");
    let mut store = station_at(&db, &[("tec.luis", Role::Technician)]);
    let mut model = AnomalyModel::bundled().unwrap();
    model.version = "v-forced".into();
    let file = dir.path().join("v.json");
    model.save(&file).unwrap();
    let id = store
        .register_model_version(&crate::store::NewModelVersion {
            version: "v-forced".into(),
            path: file,
            kind: "test".into(),
            params: serde_json::json!({}),
            metrics: serde_json::json!({}),
            data_snapshot: serde_json::json!({}),
        })
        .unwrap();
    let row = store
        .list_model_versions()
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .unwrap();
    drop(store);
    let d = desk(dir.path());
    let sign = || SignatureInput {
        password: PW.into(),
        reason: "forced".into(),
    };
    // Nobody signed in: refused, saying to sign in.
    d.send(Command::Approve {
        row: row.clone(),
        live: Arc::new(model.clone()),
        sign: sign(),
        override_reason: None,
    });
    let m = failure(&d, Topic::Promotion);
    assert!(m.contains("sign in"), "{m}");
    // A technician forcing the commands a disabled button would have sent: refused by role.
    sign_in(&d, "tec.luis");
    d.send(Command::Approve {
        row: row.clone(),
        live: Arc::new(model.clone()),
        sign: sign(),
        override_reason: None,
    });
    let m = failure(&d, Topic::Promotion);
    assert!(m.contains("tec.luis") && m.contains("qc_manager"), "{m}");
    d.send(Command::ApplyThresholds {
        version: "v-forced".into(),
        new: model.thresholds.clone(),
        old: model.thresholds.clone(),
        sign: sign(),
    });
    let m = failure(&d, Topic::Thresholds);
    assert!(m.contains("qc_manager"), "{m}");
    d.send(Command::StartTraining {
        base: Arc::new(model),
    });
    let m = failure(&d, Topic::Train);
    assert!(m.contains("data_scientist"), "{m}");
    let store = Store::open(&db).unwrap();
    assert!(store.active_model().unwrap().is_none());
    assert!(store.recent_signatures(10).unwrap().is_empty());
}

#[test]
fn compare_candidate_answers_with_the_comparison_and_its_assessment() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().to_path_buf(),
    };
    let bundled = Arc::new(AnomalyModel::bundled().unwrap());
    let version_id = {
        let mut store = Store::open(&paths.db_path()).unwrap();
        let mut source = SourceSpec::Synthetic { seed: 41 }
            .open(&SourceOptions::default())
            .unwrap();
        crate::training::capture_truth_samples(
            source.as_mut(),
            &bundled.segment,
            &mut store,
            &paths.samples_dir(),
            12,
            Some("tester"),
        )
        .unwrap();
        let mut model = (*bundled).clone();
        model.version = "candidate".into();
        let path = dir.path().join("candidate.json");
        model.save(&path).unwrap();
        store
            .register_model_version(&crate::store::NewModelVersion {
                version: "candidate".into(),
                path,
                kind: "anomaly".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({}),
                data_snapshot: serde_json::json!({ "sample_ids": [] }),
            })
            .unwrap()
    };
    let d = desk(dir.path());
    d.send(Command::CompareCandidate {
        version_id,
        live: bundled,
    });
    let (id, report) = wait_for(&d, "comparison", |e| match e {
        Event::Comparison { version_id, result } => Some((version_id, result)),
        _ => None,
    });
    assert_eq!(id, version_id);
    let report = report.unwrap();
    let c = &report.comparison;
    assert_eq!(c.sample_ids.len() + c.unjudged, 12);
    // The same model twice: no worse than live, but 12 samples are too few for the defaults.
    assert!(
        report
            .assessment
            .blocked_by
            .iter()
            .all(|s| !s.against_live())
    );
    assert!(!report.assessment.accepted());
}
