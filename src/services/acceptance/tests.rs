use super::*;
use crate::capture::{SourceOptions, SourceSpec};
use crate::domain::{Role, Thresholds};
use crate::store::NewModelVersion;

fn user(role: Role) -> AuthUser {
    AuthUser {
        id: 1,
        name: "someone".into(),
        display_name: "Someone".into(),
        role,
    }
}

fn measures(defects: (usize, usize), good: (usize, usize)) -> ModelMeasures {
    ModelMeasures {
        version: "v".into(),
        threshold: 1.0,
        defects: defects.1,
        defects_rejected: defects.0,
        good: good.1,
        good_rejected: good.0,
        recall: wilson(defects.0, defects.1),
        false_reject_rate: wilson(good.0, good.1),
    }
}

fn comparison(cand: ModelMeasures, live: Option<ModelMeasures>) -> Comparison {
    Comparison {
        candidate: cand,
        live,
        labelled: 0,
        trained_on: 0,
        unjudged: 0,
        sample_ids: Vec::new(),
    }
}

#[test]
fn wilson_intervals_match_the_textbook() {
    let r = wilson(9, 10).unwrap();
    assert!((r.value - 0.9).abs() < 1e-12);
    assert!(
        (r.low - 0.5958).abs() < 1e-3 && (r.high - 0.9821).abs() < 1e-3,
        "{r:?}"
    );
    let r = wilson(0, 20).unwrap();
    assert_eq!(r.low, 0.0);
    assert!((r.high - 0.1611).abs() < 1e-3, "{r:?}");
    assert_eq!(wilson(3, 0), None);
}

#[test]
fn non_finite_scores_are_never_a_pass() {
    let model = AnomalyModel::bundled().unwrap();
    assert!(rejects(&model, f64::NAN));
    assert!(rejects(&model, f64::INFINITY));
    assert!(!rejects(&model, 0.0));
}

#[test]
fn a_weak_candidate_is_blocked_by_named_shortfalls() {
    // Live: 89 of 90 defects, 2 of 60 good rejected; candidate: none of the defects, 12 good.
    let c = comparison(
        measures((0, 90), (12, 60)),
        Some(measures((89, 90), (2, 60))),
    );
    let a = assess(&c, &AcceptanceCriteria::DEFAULT);
    assert!(!a.accepted());
    assert_eq!(
        a.blocked_by,
        vec![
            Shortfall::RecallBelowLive {
                candidate: 0.0,
                live: 89.0 / 90.0
            },
            Shortfall::RecallBelowMinimum {
                candidate: 0.0,
                min: 0.9
            },
            Shortfall::FalseRejectsAboveLive {
                candidate: 0.2,
                live: 2.0 / 60.0
            },
            Shortfall::FalseRejectsAboveMaximum {
                candidate: 0.2,
                max: 0.1
            },
        ]
    );
    assert_eq!(a.shortfalls_of(Measure::Recall).count(), 2);
    let text = a.blocked_by[0].to_string();
    assert!(text.contains("0.000") && text.contains("0.989"), "{text}");
}

#[test]
fn a_candidate_as_good_as_live_and_within_the_criteria_is_accepted() {
    let c = comparison(
        measures((89, 90), (2, 60)),
        Some(measures((89, 90), (2, 60))),
    );
    assert!(assess(&c, &AcceptanceCriteria::DEFAULT).accepted());
    // Without a live model only the criteria count.
    let c = comparison(measures((19, 20), (1, 20)), None);
    assert!(assess(&c, &AcceptanceCriteria::DEFAULT).accepted());
}

#[test]
fn too_few_independent_samples_block_and_say_how_many() {
    let c = comparison(measures((3, 3), (0, 0)), None);
    let a = assess(&c, &AcceptanceCriteria::DEFAULT);
    assert_eq!(
        a.blocked_by,
        vec![
            Shortfall::TooFewDefectSamples { count: 3, min: 10 },
            Shortfall::TooFewGoodSamples { count: 0, min: 20 },
        ]
    );
    assert!(a.blocked_by[1].to_string().contains("20"));
}

#[test]
fn only_the_qc_manager_sets_criteria_and_only_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let strict = AcceptanceCriteria {
        min_recall: 0.97,
        ..AcceptanceCriteria::DEFAULT
    };
    for role in [Role::Technician, Role::DataScientist, Role::Admin] {
        let e = set_criteria(&mut store, &user(role), &strict, "why").unwrap_err();
        assert!(
            matches!(&e, AcceptanceError::Denied(d) if d.permission == Permission::SetAcceptanceCriteria),
            "{e}"
        );
    }
    let qc = user(Role::QcManager);
    let e = set_criteria(&mut store, &qc, &strict, " ").unwrap_err();
    assert!(matches!(e, AcceptanceError::NoReason), "{e}");
    let bad = AcceptanceCriteria {
        max_false_reject_rate: -0.1,
        ..strict
    };
    let e = set_criteria(&mut store, &qc, &bad, "x").unwrap_err();
    assert!(e.to_string().contains("max_false_reject_rate"), "{e}");
    assert_eq!(criteria(&store).unwrap(), AcceptanceCriteria::DEFAULT);
    set_criteria(&mut store, &qc, &strict, "customer audit").unwrap();
    assert_eq!(criteria(&store).unwrap(), strict);
    let e = store
        .audit_entries(5)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "acceptance.criteria")
        .unwrap();
    assert_eq!(e.actor, "someone");
}

/// Synthetic samples labelled from the truth, and a candidate registered as the bundled
/// model under another name, its reject threshold moved.
fn store_with_samples(n: usize) -> (tempfile::TempDir, Store, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let base = AnomalyModel::bundled().unwrap();
    let mut source = SourceSpec::Synthetic { seed: 5 }
        .open(&SourceOptions::default())
        .unwrap();
    let ids = crate::training::capture_truth_samples(
        source.as_mut(),
        &base.segment,
        &mut store,
        &dir.path().join("samples"),
        n,
        Some("tester"),
    )
    .unwrap();
    (dir, store, ids)
}

fn register(
    store: &mut Store,
    dir: &std::path::Path,
    version: &str,
    reject: f64,
    trained: &[i64],
) -> ModelVersionRow {
    let mut model = AnomalyModel::bundled().unwrap();
    model.version = version.into();
    model.thresholds = Thresholds {
        reject,
        review: None,
        ..model.thresholds
    };
    let path = dir.join(format!("{version}.json"));
    model.save(&path).unwrap();
    let id = store
        .register_model_version(&NewModelVersion {
            version: version.into(),
            path,
            kind: "anomaly".into(),
            params: serde_json::json!({}),
            metrics: serde_json::json!({}),
            data_snapshot: serde_json::json!({ "sample_ids": trained }),
        })
        .unwrap();
    store
        .list_model_versions()
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .unwrap()
}

#[test]
fn compare_scores_both_models_on_the_samples_neither_trained_on() {
    let (dir, mut store, ids) = store_with_samples(40);
    let bundled = AnomalyModel::bundled().unwrap();
    // A candidate that rejects nothing, trained on the first five samples; a live version
    // at the bundled thresholds, trained on the next three.
    let blind = register(&mut store, dir.path(), "blind", 1e9, &ids[..5]);
    let live = register(
        &mut store,
        dir.path(),
        "live",
        bundled.thresholds.reject,
        &ids[5..8],
    );
    let c = compare(&store, &blind, Some(Contender::Version(&live))).unwrap();
    assert_eq!((c.labelled, c.trained_on), (40, 8));
    assert_eq!(c.sample_ids.len() + c.unjudged, 32);
    assert!(c.sample_ids.iter().all(|id| !ids[..8].contains(id)));
    let live_m = c.live.as_ref().unwrap();
    assert_eq!(
        (c.candidate.defects, c.candidate.good),
        (live_m.defects, live_m.good)
    );
    assert!(c.candidate.defects > 0, "{c:?}");
    assert_eq!(c.candidate.defects_rejected, 0);
    assert_eq!(c.candidate.recall.unwrap().value, 0.0);
    assert!(live_m.defects_rejected > 0, "{c:?}");
    let a = assess(&c, &AcceptanceCriteria::DEFAULT);
    assert!(
        a.blocked_by.iter().any(
            |s| matches!(s, Shortfall::RecallBelowLive { candidate, .. } if *candidate == 0.0)
        ),
        "{a:?}"
    );

    // Against the bundled model (no version row): it saw no labelled sample.
    let c = compare_with_live(&store, &blind, &bundled).unwrap();
    assert_eq!(c.trained_on, 5);
    assert_eq!(c.live.unwrap().version, bundled.version);
    // Against the running model of a registered version: its snapshot counts.
    let running = crate::training::job::load_version(&live.path, "live").unwrap();
    let c = compare_with_live(&store, &blind, &running).unwrap();
    assert_eq!(c.trained_on, 8);
}
