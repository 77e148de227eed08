//! The `foodqc` binary, run as a user would.

mod common;

use common::{USER_PW, add_users, as_user, foodqc, run_ok};

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

    std::fs::create_dir_all(&data).unwrap();
    add_users(&data, &[("qa-lead", "technician")]);
    let out = run_ok(as_user(
        foodqc()
            .arg("import")
            .arg(&tree)
            .arg("--data-dir")
            .arg(&data),
        "qa-lead",
    ));
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
    let out = as_user(
        foodqc()
            .arg("import")
            .arg(tree.join("test/crack/bad.png"))
            .arg("--data-dir")
            .arg(&data),
        "qa-lead",
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad.png"), "{text}");
}

/// `inspect --json` on a couple of synthetic frames: the model version that judged.
fn judging_version(data: &std::path::Path, extra: &[&std::ffi::OsStr]) -> (String, String) {
    let out = run_ok(
        foodqc()
            .args(["inspect", "--frames", "2", "--json"])
            .args(extra)
            .arg("--data-dir")
            .arg(data),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        summary["model"].as_str().unwrap().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_promoted_version_judges_unless_a_model_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = foodqc::model::AnomalyModel::bundled().unwrap().version;
    assert_eq!(judging_version(dir.path(), &[]).0, bundled);

    common::promote_bundled_copy(dir.path(), "promoted-7");
    assert_eq!(judging_version(dir.path(), &[]).0, "promoted-7");

    let other = tempfile::tempdir().unwrap();
    let file = common::promote_bundled_copy(other.path(), "named-3");
    let args = ["--model".as_ref(), file.as_os_str()];
    assert_eq!(judging_version(dir.path(), &args).0, "named-3");

    // A promoted file that is gone: the line keeps running on the bundled model and says why.
    let gone = common::promote_bundled_copy(dir.path(), "promoted-8");
    std::fs::remove_file(&gone).unwrap();
    let (version, stderr) = judging_version(dir.path(), &[]);
    assert_eq!(version, bundled);
    assert!(
        stderr.contains("promoted model promoted-8 cannot be used")
            && stderr.contains("running the bundled model"),
        "{stderr}"
    );
}

#[test]
fn a_change_names_a_signed_in_user_whose_role_may() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tree = dir.path().join("tree");
    for (rel, n) in [("good/a.png", 1u8), ("crack/b.png", 2)] {
        let p = tree.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(8, 8, image::Rgb([n, 0, 0]))
            .save(&p)
            .unwrap();
    }
    std::fs::create_dir_all(&data).unwrap();
    add_users(
        &data,
        &[("qa.named", "technician"), ("qc.only", "qc_manager")],
    );
    let import = |user: Option<&str>, password: &str| {
        let mut cmd = foodqc();
        cmd.arg("import")
            .arg(tree.join("good"))
            .arg("--data-dir")
            .arg(&data)
            .env("FOODQC_ACTOR_PASSWORD", password)
            .env("USER", "os.user.1");
        if let Some(u) = user {
            cmd.args(["--user", u]);
        }
        cmd.output().unwrap()
    };
    // Nobody named, a wrong password, a role that may not capture: refused, nothing imported.
    for (user, password, needle) in [
        (None, USER_PW, "--user"),
        (
            Some("qa.named"),
            "wrong-Password-9",
            "wrong user name or password",
        ),
        (Some("qc.only"), USER_PW, "may not capture_samples"),
    ] {
        let out = import(user, password);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{user:?}");
        assert!(stderr.contains(needle), "{user:?}: {stderr}");
    }
    let out = import(Some("qa.named"), USER_PW);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = foodqc::store::Store::open(&data.join("foodqc.sqlite")).unwrap();
    let actors: Vec<String> = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "samples.import")
        .map(|e| e.actor)
        .collect();
    assert_eq!(actors, ["qa.named"]);
}

#[test]
fn snapshot_saves_tracked_frames_with_overlays() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("shots");
    let out = run_ok(
        foodqc()
            .args(["snapshot", "--frames", "2", "--skip", "3", "--out"])
            .arg(&out_dir)
            .arg("--data-dir")
            .arg(dir.path()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("frame-00003.png") && lines[0].contains(" items ["));
    assert!(lines[1].contains("frame-00004.png"), "{stdout}");
    for seq in [3, 4] {
        let img = image::open(out_dir.join(format!("frame-{seq:05}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (1280, 720));
    }
    assert!(!out_dir.join("frame-00002.png").exists());
}
