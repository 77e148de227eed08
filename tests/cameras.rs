//! Several cameras in one `foodqc inspect`: four synthetic lines at once, one station each,
//! every item of each recorded against its own station through the shared recorder.

mod common;

use std::collections::BTreeMap;

use foodqc::store::Store;

#[test]
fn four_cameras_record_every_item_against_their_own_station() {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = common::foodqc();
    cmd.arg("--data-dir").arg(data.path()).args([
        "inspect",
        "--live",
        "--frames",
        "300",
        "--json",
        "--station",
        "cam",
    ]);
    for seed in 1..=4 {
        cmd.args(["--source", &format!("synthetic:{seed}")]);
    }
    let out = common::run_ok(&mut cmd);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cameras = summary["cameras"].as_array().expect("one entry per camera");
    assert_eq!(cameras.len(), 4, "{summary}");
    let store = Store::open(&data.path().join("foodqc.sqlite")).unwrap();
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for r in store.recent_inspections(1_000_000).unwrap() {
        *rows.entry(r.station).or_default() += 1;
    }
    for (i, cam) in cameras.iter().enumerate() {
        let name = format!("cam-{}", i + 1);
        assert_eq!(cam["station"], name.as_str());
        assert_eq!(cam["source"], format!("synthetic:{}", i + 1).as_str());
        assert_eq!(
            cam["frames"].as_u64().unwrap() + cam["frames_dropped"].as_u64().unwrap(),
            300
        );
        let items = cam["items"].as_u64().unwrap();
        assert!(items > 5, "{name}: {items} items");
        assert_eq!(
            rows.get(&name).copied(),
            Some(items),
            "{name}: rows {rows:?}"
        );
        eprintln!(
            "{name}: {} frames, {} dropped, {items} items",
            cam["frames"], cam["frames_dropped"]
        );
    }
    assert_eq!(rows.len(), 4, "no rows under another station: {rows:?}");
}

#[test]
fn commands_that_read_one_source_refuse_several() {
    let data = tempfile::tempdir().unwrap();
    let out = common::foodqc()
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "snapshot",
            "--source",
            "synthetic:1",
            "--source",
            "synthetic:2",
        ])
        .args(["--frames", "1", "--out"])
        .arg(data.path().join("snap"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("one source, not 2"), "{err}");
}
