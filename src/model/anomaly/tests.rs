use super::*;
use crate::vision::features::{PatchCell, PatchGrid};

fn fake_item(i: usize, bump: f64) -> ItemFeatures {
    let t = i as f64;
    let item: Vec<f64> = (0..ITEM_FEATURES.len())
        .map(|j| 10.0 + ((t * 0.7 + j as f64).sin()) + bump)
        .collect();
    let cells = (0..30)
        .map(|k| PatchCell {
            col: k % 6,
            row: k / 6,
            ring: (k % 3) as usize,
            values: std::array::from_fn(|j| ((t + k as f64 * 1.3 + j as f64).cos()) * 3.0),
        })
        .collect();
    ItemFeatures {
        item,
        colour_hist: vec![1; crate::vision::features::COLOUR_BINS],
        patches: PatchGrid {
            x0: 0,
            y0: 0,
            cell: 8,
            cols: 6,
            rows: 5,
            cells,
        },
    }
}

fn trained() -> AnomalyModel {
    let good: Vec<ItemFeatures> = (0..40).map(|i| fake_item(i, 0.0)).collect();
    AnomalyModel::train(
        &good,
        SegmentConfig::default(),
        &TrainOptions::default(),
        "unit test",
        &|| false,
    )
    .unwrap()
}

#[test]
fn shifted_item_scores_higher_than_good() {
    let m = trained();
    let good = m.score(&fake_item(100, 0.0));
    let odd = m.score(&fake_item(100, 25.0));
    assert!(odd.score > 3.0 * good.score, "{good:?} {odd:?}");
    assert_eq!(m.verdict(odd.score), Verdict::Reject);
    assert_eq!(good.cells.len(), 30);
}

#[test]
fn three_bands_and_per_class_thresholds() {
    let mut t = Thresholds::new(2.0, 1.5);
    assert_eq!(t.verdict(1.9, None), Verdict::Pass);
    assert_eq!(t.verdict(2.1, None), Verdict::Reject);
    t.review = Some(1.0);
    assert_eq!(t.verdict(1.0, None), Verdict::Pass);
    assert_eq!(t.verdict(1.5, None), Verdict::Review);
    assert_eq!(t.verdict(2.0, None), Verdict::Review);
    assert_eq!(t.verdict(2.01, None), Verdict::Reject);
    t.per_class.insert("burnt".into(), 1.2);
    assert_eq!(t.verdict(1.5, Some("burnt")), Verdict::Reject);
    assert_eq!(t.verdict(1.1, Some("burnt")), Verdict::Review);
    assert_eq!(t.verdict(1.5, Some("crack")), Verdict::Review);
    assert!(t.validate().is_ok());
    t.review = Some(3.0);
    assert!(t.validate().unwrap_err().contains("review threshold 3"));
    assert_eq!(t.verdict(2.5, None), Verdict::Reject);
    t.review = Some(f64::NAN);
    assert!(t.validate().is_err());
}

#[test]
fn old_model_files_without_bands_still_load() {
    // The bundled model predates the review band and per-class thresholds.
    assert!(!BUNDLED_MODEL_JSON.contains("\"review\""));
    let m = AnomalyModel::bundled().unwrap();
    assert_eq!(m.thresholds.review, None);
    assert!(m.thresholds.per_class.is_empty());
    // A model with a band round-trips; a band above reject is refused with a message.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.json");
    let mut t = m.thresholds.clone();
    t.review = Some(t.reject * 0.8);
    m.with_thresholds(t.clone()).save(&p).unwrap();
    assert_eq!(AnomalyModel::load(&p).unwrap().thresholds, t);
    t.review = Some(t.reject * 2.0);
    m.with_thresholds(t).save(&p).unwrap();
    let e = AnomalyModel::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("m.json") && e.contains("review threshold"),
        "{e}"
    );
}

#[test]
fn normal_quantiles() {
    assert!((normal_quantile(0.5)).abs() < 1e-9);
    assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-6);
    assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
    assert!((normal_quantile(0.999) - 3.090_232_306).abs() < 1e-6);
}

#[test]
fn robust_threshold_ignores_one_outlier() {
    let mut s: Vec<f64> = (0..30).map(|i| 0.5 + 0.01 * i as f64).collect();
    let clean = robust_upper_quantile(&s, 0.01);
    s.push(50.0);
    let with_outlier = robust_upper_quantile(&s, 0.01);
    assert!(clean > 0.79 && clean < 1.5, "{clean}");
    assert!(
        (with_outlier / clean - 1.0).abs() < 0.1,
        "{clean} {with_outlier}"
    );
}

#[test]
fn too_few_items_is_explained() {
    let good: Vec<ItemFeatures> = (0..3).map(|i| fake_item(i, 0.0)).collect();
    let err = AnomalyModel::train(
        &good,
        SegmentConfig::default(),
        &TrainOptions::default(),
        "x",
        &|| false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("at least"), "{err}");
}

#[test]
fn cancel_stops_training() {
    let good: Vec<ItemFeatures> = (0..40).map(|i| fake_item(i, 0.0)).collect();
    let err = AnomalyModel::train(
        &good,
        SegmentConfig::default(),
        &TrainOptions::default(),
        "x",
        &|| true,
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::Cancelled));
}

#[test]
fn save_load_round_trip_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    let m = trained();
    m.save(&path).unwrap();
    assert_eq!(AnomalyModel::load(&path).unwrap(), m);

    let mut v: serde_json::Value = serde_json::to_value(&m).unwrap();
    v["format_version"] = 99.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = AnomalyModel::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("version 99") && err.contains("m.json"),
        "{err}"
    );

    let mut v: serde_json::Value = serde_json::to_value(&m).unwrap();
    v["feature_set"] = "old-features".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = AnomalyModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("old-features"), "{err}");

    let mut v: serde_json::Value = serde_json::to_value(&m).unwrap();
    v["item"]["inv_cov"] = serde_json::json!([1.0]);
    std::fs::write(&path, v.to_string()).unwrap();
    let err = AnomalyModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("damaged"), "{err}");

    std::fs::write(&path, "{\"format\": \"something else\"}").unwrap();
    assert!(matches!(
        AnomalyModel::load(&path),
        Err(ModelError::WrongFormat { .. })
    ));
    std::fs::write(&path, "not json").unwrap();
    assert!(matches!(
        AnomalyModel::load(&path),
        Err(ModelError::Parse { .. })
    ));
    assert!(matches!(
        AnomalyModel::load(&dir.path().join("missing.json")),
        Err(ModelError::Io { .. })
    ));
}

#[test]
fn binned_models_are_version_2_and_unbinned_ones_stay_readable_as_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binned.json");
    let good: Vec<ItemFeatures> = (0..40).map(|i| fake_item(i, 0.0)).collect();
    let opts = TrainOptions {
        binning: Some(2),
        ..TrainOptions::default()
    };
    let m = AnomalyModel::train(&good, SegmentConfig::default(), &opts, "b", &|| false).unwrap();
    assert_eq!((m.binning, m.format_version), (2, 2));
    assert!(m.card_markdown().contains("binned 2x2"));
    m.save(&path).unwrap();
    assert_eq!(AnomalyModel::load(&path).unwrap(), m);
    // Unbinned: still version 1, and a version 1 file without the field reads as 1.
    let plain = trained();
    assert_eq!((plain.binning, plain.format_version), (1, 1));
    let mut v: serde_json::Value = serde_json::to_value(&plain).unwrap();
    v.as_object_mut().unwrap().remove("binning");
    std::fs::write(&path, v.to_string()).unwrap();
    assert_eq!(AnomalyModel::load(&path).unwrap().binning, 1);
    // A factor this build cannot inspect at is refused by name.
    let mut v: serde_json::Value = serde_json::to_value(&m).unwrap();
    v["binning"] = 3.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = AnomalyModel::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("binning 3") && err.contains("binned.json"),
        "{err}"
    );
}

#[test]
fn bundled_model_loads() {
    let m = AnomalyModel::bundled().unwrap();
    assert!(m.thresholds.reject > 0.0);
}

/// Finite but absurd model values (a feature scale of 1e-300) make distances infinite or NaN:
/// the item is scored infinite and rejected, never passed; and such a file is refused on load
/// with the field named.
#[test]
fn absurd_model_values_fail_closed_and_are_refused_on_load() {
    let mut m = trained();
    m.item.scale[0] = 1e-300;
    let s = m.score(&fake_item(3, 0.0));
    assert_eq!(s.score, f64::INFINITY, "{s:?}");
    assert_eq!(m.verdict(s.score), crate::domain::Verdict::Reject);

    let json = serde_json::to_string(&m).unwrap();
    let e = AnomalyModel::from_json(&json, Path::new("absurd.json")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("absurd.json") && msg.contains("scale[0] = 1e-300"),
        "{msg}"
    );

    let mut m = trained();
    m.calibration.item_scale = 1e300;
    let json = serde_json::to_string(&m).unwrap();
    let msg = AnomalyModel::from_json(&json, Path::new("x.json"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("calibration.item_scale = 1e300"), "{msg}");
}

#[test]
fn worst_takes_nan_and_infinity_as_the_worst() {
    assert_eq!(worst([0.2, 0.9, 0.5]), 0.9);
    assert_eq!(worst([0.2, f64::NAN, 0.5]), f64::INFINITY);
    assert_eq!(worst([f64::NEG_INFINITY]), f64::INFINITY);
    assert_eq!(worst(std::iter::empty()), 0.0);
}
