//! The `foodqc` binary, run as a user would.

mod common;

use std::process::Command;

fn foodqc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_foodqc"))
}

#[test]
fn help_documents_every_command() {
    let out = foodqc().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["inspect", "train", "--data-dir", "--source", "--model"] {
        assert!(text.contains(cmd), "--help lacks {cmd}:\n{text}");
    }
    let out = foodqc().args(["inspect", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in ["--frames", "--lot", "--live", "--json"] {
        assert!(text.contains(opt), "inspect --help lacks {opt}:\n{text}");
    }
}

#[test]
fn inspect_synthetic_records_300_frames() {
    let dir = tempfile::tempdir().unwrap();
    let out = foodqc()
        .args([
            "inspect",
            "--source",
            "synthetic",
            "--frames",
            "300",
            "--json",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["frames"], 300);
    let items = summary["items"].as_u64().unwrap();
    // ~14 px per frame belt: 300 frames carry about two dozen whole items.
    assert!(items >= 15, "{summary}");
    assert_eq!(summary["recorded"].as_u64().unwrap(), items);
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    assert_eq!(store.count_inspections().unwrap().0 as u64, items);
}

#[test]
fn inspect_reports_bad_sources_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = foodqc()
        .args(["inspect", "--source", "folder:/no/such/place"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/no/such/place"), "{err}");

    let out = foodqc()
        .args(["inspect", "--source", "webcam"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("webcam"));
}

#[test]
fn model_from_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("old.json");
    let mut v: serde_json::Value =
        serde_json::from_str(foodqc::model::anomaly::BUNDLED_MODEL_JSON).unwrap();
    v["format_version"] = 0.into();
    std::fs::write(&model, v.to_string()).unwrap();
    let out = foodqc()
        .args(["inspect", "--frames", "1", "--model"])
        .arg(&model)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("old.json") && err.contains("version 0"),
        "{err}"
    );
}
