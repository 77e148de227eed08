//! Model files: round trips, precision, and damage detected.

use super::detector::Synth;
use crate::model::patchcore::coreset::SplitMix64;
use crate::model::patchcore::{
    MemoryBank, PatchCoreError, PatchCoreModel, PatchCoreOptions, PatchGrid, Precision,
};
use base64::Engine as _;
use std::path::Path;

fn never() -> bool {
    false
}

fn trained(half_precision: bool) -> (PatchCoreModel, Synth) {
    let mut synth = Synth::new(33);
    let opts = PatchCoreOptions {
        half_precision,
        reweight_neighbours: 4,
        ..Default::default()
    };
    let (model, _) = PatchCoreModel::train(&synth.goods(12), &opts, &never).unwrap();
    (model, synth)
}

fn json_value(model: &PatchCoreModel) -> serde_json::Value {
    serde_json::from_str(&model.to_json()).unwrap()
}

fn reload(v: &serde_json::Value) -> Result<PatchCoreModel, PatchCoreError> {
    PatchCoreModel::from_json(&v.to_string(), Path::new("test.json"))
}

#[test]
fn round_trip_scores_identically_at_both_precisions() {
    for half in [true, false] {
        let (model, mut synth) = trained(half);
        assert_eq!(
            model.bank.precision(),
            if half { Precision::F16 } else { Precision::F32 }
        );
        let text = model.to_json();
        let back = PatchCoreModel::from_json(&text, Path::new("m.json")).unwrap();
        assert_eq!(back, model);
        for i in 0..5 {
            let g = if i % 2 == 0 {
                synth.good()
            } else {
                synth.anomalous(9 * i)
            };
            let (a, b) = (model.score(&g), back.score(&g));
            assert_eq!(a.score.to_bits(), b.score.to_bits());
            assert_eq!(a.cells, b.cells);
        }
        // The vectors are one base64 string, not an array of numbers.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let bank = &v["bank"];
        assert!(bank["vectors"].is_string());
        assert_eq!(bank["precision"], if half { "f16" } else { "f32" });
        assert_eq!(bank["blake3"].as_str().unwrap().len(), 64);
        let bytes = model.bank.len() * model.bank.dim() * if half { 2 } else { 4 };
        assert!(
            text.len() < bytes * 4 / 3 + 2000,
            "{} bytes for {bytes}",
            text.len()
        );
    }
}

#[test]
fn save_and_load_through_a_file() {
    let (model, _) = trained(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep").join("model.json");
    model.save(&path).unwrap();
    assert_eq!(PatchCoreModel::load(&path).unwrap(), model);
    let e = PatchCoreModel::load(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(e, PatchCoreError::Io { .. }), "{e}");
}

#[test]
fn damaged_banks_are_refused_naming_the_checksum() {
    let (model, _) = trained(true);
    let v = json_value(&model);
    let stored = v["bank"]["blake3"].as_str().unwrap().to_string();

    let mut wrong_sum = v.clone();
    let fake = "0".repeat(64);
    wrong_sum["bank"]["blake3"] = fake.clone().into();
    let e = reload(&wrong_sum).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
    assert!(e.contains(&fake) && e.contains(&stored), "{e}");

    // One vector value changed, base64 still valid.
    let mut flipped = v.clone();
    let data = v["bank"]["vectors"].as_str().unwrap();
    let mid = data.len() / 2;
    let swapped = if &data[mid..mid + 1] == "A" { "B" } else { "A" };
    flipped["bank"]["vectors"] = format!("{}{swapped}{}", &data[..mid], &data[mid + 1..]).into();
    let e = reload(&flipped).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch"), "{e}");

    let mut short = v.clone();
    short["bank"]["len"] = (model.bank.len() + 1).into();
    assert!(reload(&short).unwrap_err().to_string().contains("holds"));
    let mut junk = v.clone();
    junk["bank"]["vectors"] = "not base64!".into();
    assert!(reload(&junk).unwrap_err().to_string().contains("base64"));
}

#[test]
fn foreign_or_inconsistent_files_are_refused() {
    let (model, _) = trained(true);
    let v = json_value(&model);
    let mut other = v.clone();
    other["format"] = "foodqc-model".into();
    let e = reload(&other).unwrap_err().to_string();
    assert!(e.contains("not a foodqc PatchCore model"), "{e}");
    let mut newer = v.clone();
    newer["format_version"] = 99.into();
    assert!(
        reload(&newer)
            .unwrap_err()
            .to_string()
            .contains("version 99")
    );
    let mut dim = v.clone();
    dim["input_dim"] = 7.into();
    assert!(reload(&dim).unwrap_err().to_string().contains("expects 7"));
    let mut scale = v.clone();
    scale["calibration"]["image_scale"] = 0.0.into();
    assert!(reload(&scale).unwrap_err().to_string().contains("positive"));
}

#[test]
fn non_finite_bank_vectors_are_refused_even_with_a_valid_checksum() {
    let mut bytes = Vec::new();
    for v in [1.0f32, f32::INFINITY, 0.0, 2.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let file = serde_json::json!({
        "dim": 2, "len": 2, "precision": "f32", "encoding": "base64-le",
        "blake3": blake3::hash(&bytes).to_hex().to_string(),
        "vectors": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    let e = serde_json::from_value::<MemoryBank>(file)
        .unwrap_err()
        .to_string();
    assert!(e.contains("non-finite"), "{e}");
}

#[test]
fn f16_banks_hold_f16_values_and_fall_back_to_f32_when_out_of_range() {
    let mut rng = SplitMix64::new(6);
    let data: Vec<f32> = (0..50 * 4).map(|_| rng.normal() as f32 * 3.0).collect();
    let grid = PatchGrid::new(5, 10, 4, data).unwrap();
    let opts = PatchCoreOptions::default();
    let bank = MemoryBank::build(std::slice::from_ref(&grid), &opts, &never).unwrap();
    assert_eq!(bank.precision(), Precision::F16);
    for j in 0..bank.len() {
        for v in bank.vector(j) {
            assert_eq!(half::f16::from_f32(*v).to_f32(), *v);
        }
    }
    let mut big = grid;
    big.data[0] = 70000.0;
    let all = PatchCoreOptions {
        coreset_ratio: 1.0,
        ..opts
    };
    let bank = MemoryBank::build(&[big], &all, &never).unwrap();
    assert_eq!(bank.precision(), Precision::F32);
    assert_eq!(bank.vector(0)[0], 70000.0);
}
