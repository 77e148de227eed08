//! The `foodqc` binary, run as a user would.

mod common;

use common::{foodqc, run_ok};

#[test]
fn help_documents_every_command() {
    let out = run_ok(foodqc().arg("--help"));
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
    let out = run_ok(
        foodqc()
            .args([
                "inspect",
                "--source",
                "synthetic",
                "--frames",
                "300",
                "--json",
            ])
            .arg("--data-dir")
            .arg(dir.path()),
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

#[test]
fn import_then_export_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tree = dir.path().join("tree");
    let shade = |n: u8| image::RgbImage::from_fn(20, 10, |x, y| image::Rgb([n, x as u8, y as u8]));
    for (rel, n) in [
        ("train/good/a.png", 1),
        ("test/good/b.png", 2),
        ("test/crack/c.png", 3),
    ] {
        let p = tree.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        shade(n).save(&p).unwrap();
    }
    std::fs::write(tree.join("test/crack/bad.png"), b"not a png").unwrap();

    let out = run_ok(
        foodqc()
            .arg("import")
            .arg(&tree)
            .args(["--actor", "qa-lead"])
            .arg("--data-dir")
            .arg(&data),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported 3 new sample(s) (3 labelled)"),
        "{stdout}"
    );
    assert!(stdout.contains("bad.png"), "{stdout}");

    let export_dir = dir.path().join("export");
    run_ok(
        foodqc()
            .args(["export", "--out"])
            .arg(&export_dir)
            .arg("--data-dir")
            .arg(&data),
    );
    let csv = std::fs::read_to_string(export_dir.join("labels.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert_eq!(csv.matches(",crack,").count(), 1, "{csv}");
    assert!(csv.contains(",qa-lead,"), "{csv}");

    // A second export into the same folder needs --overwrite; the error names the folder.
    let out = foodqc()
        .args(["export", "--out"])
        .arg(&export_dir)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&export_dir.display().to_string()), "{err}");
    run_ok(
        foodqc()
            .args(["export", "--overwrite", "--out"])
            .arg(&export_dir)
            .arg("--data-dir")
            .arg(&data),
    );

    // Importing only unreadable files fails with a non-zero exit code and names them.
    let out = foodqc()
        .arg("import")
        .arg(tree.join("test/crack/bad.png"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad.png"), "{text}");
}
