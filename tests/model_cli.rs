//! `foodqc model compare|criteria`: a candidate trained on a few hastily labelled samples is
//! blocked against a better live version, with the shortfalls named; only a signed-in QC
//! manager sets the acceptance criteria, with a reason.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{add_users, as_user, foodqc, run_ok};
use foodqc::domain::GOOD;
use foodqc::store::Store;

const ADMIN_PW: &str = "Andes-2026-Rosa";
const QC_PW: &str = "Calidad-Lima-2026";
const TECH_PW: &str = "Etiqueta-Turno-7";

fn in_dir(dir: &Path) -> Command {
    let mut cmd = foodqc();
    cmd.arg("--data-dir")
        .arg(dir)
        .env_remove("FOODQC_PASSWORD")
        .env_remove("FOODQC_ACTOR_PASSWORD");
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Train on the labelled samples of `dir` (classical tier: quick) and return the new
/// version, as `foodqc train` registered it.
fn train(dir: &Path) -> String {
    run_ok(as_user(
        in_dir(dir).args(["train", "--tier", "classical"]),
        "ds",
    ));
    let store = Store::open(&dir.join("foodqc.sqlite")).unwrap();
    store.list_model_versions().unwrap()[0].version.clone()
}

fn compare(dir: &Path, version: &str, json: bool) -> Output {
    let mut cmd = in_dir(dir);
    cmd.args(["model", "compare", version]);
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

#[test]
fn a_hastily_labelled_candidate_is_blocked_against_a_better_live_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("foodqc.sqlite");

    add_users(d, &[("ds", "data_scientist")]);
    // 15 samples, labelled in a hurry: every one "good", defects included.
    run_ok(as_user(
        in_dir(d).args(["demo-samples", "--count", "15"]),
        "ds",
    ));
    let mut store = Store::open(&db).unwrap();
    let truth = store.labelled_samples().unwrap();
    for (s, l) in &truth {
        if l.label != GOOD {
            store.add_label(s.id, GOOD, None, "hasty").unwrap();
        }
    }
    drop(store);
    let weak = train(d);

    // The labels put right, more samples labelled, a better model trained and made live.
    let mut store = Store::open(&db).unwrap();
    for (s, l) in &truth {
        if l.label != GOOD {
            store.add_label(s.id, &l.label, None, "careful").unwrap();
        }
    }
    drop(store);
    run_ok(as_user(
        in_dir(d).args(["demo-samples", "--count", "150", "--seed", "9"]),
        "ds",
    ));
    let live = train(d);
    let mut store = Store::open(&db).unwrap();
    let live_id = store.model_version_id(&live).unwrap().unwrap();
    store.set_active_model(live_id, "qc").unwrap();
    drop(store);
    // Samples neither model has seen.
    run_ok(as_user(
        in_dir(d).args(["demo-samples", "--count", "100", "--seed", "13"]),
        "ds",
    ));

    let out = compare(d, &weak, false);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains(&live) && stdout.contains(&weak), "{stdout}");
    assert!(stdout.contains("Blocked"), "{stdout}");
    assert!(stdout.contains("below the live model's"), "{stdout}");

    let out = compare(d, &weak, true);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], false);
    let c = &v["comparison"];
    // Neither model's training samples are test data.
    assert!(c["trained_on"].as_u64().unwrap() >= 15, "{c}");
    let kinds: Vec<&str> = v["assessment"]["blocked_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"recall_below_live"), "{kinds:?}");
    let cand = c["candidate"]["recall"]["value"].as_f64().unwrap();
    let live_recall = c["live"]["recall"]["value"].as_f64().unwrap();
    assert!(cand < live_recall, "{c}");
    // The same samples for both.
    assert_eq!(c["candidate"]["defects"], c["live"]["defects"]);

    // The live model against itself is no worse than itself.
    let out = compare(d, &live, true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds = v["assessment"]["blocked_by"].to_string();
    assert!(!kinds.contains("_live"), "{kinds}");
}

#[test]
fn only_a_signed_in_qc_manager_sets_the_criteria_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run_ok(in_dir(d).args(["model", "criteria"]));
    assert!(
        text(&out.stdout).contains("defaults"),
        "{}",
        text(&out.stdout)
    );

    run_ok(
        in_dir(d)
            .args(["user", "add", "admin", "--role", "admin"])
            .env("FOODQC_PASSWORD", ADMIN_PW),
    );
    for (name, role, pw) in [
        ("qc.ana", "qc_manager", QC_PW),
        ("tec.luis", "technician", TECH_PW),
    ] {
        run_ok(
            in_dir(d)
                .args(["user", "add", name, "--role", role, "--user", "admin"])
                .env("FOODQC_PASSWORD", pw)
                .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW),
        );
    }
    let set = |user: &str, pw: &str, reason: Option<&str>| {
        let mut cmd = in_dir(d);
        cmd.args(["model", "criteria", "--min-recall", "0.97", "--user", user])
            .env("FOODQC_ACTOR_PASSWORD", pw);
        if let Some(r) = reason {
            cmd.args(["--reason", r]);
        }
        cmd.output().unwrap()
    };
    let out = set("tec.luis", TECH_PW, Some("faster"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("qc_manager"),
        "{}",
        text(&out.stderr)
    );
    let out = set("qc.ana", QC_PW, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("reason"),
        "{}",
        text(&out.stderr)
    );
    run_ok(&mut {
        let mut cmd = in_dir(d);
        cmd.args([
            "model",
            "criteria",
            "--min-recall",
            "0.97",
            "--user",
            "qc.ana",
            "--reason",
            "customer audit",
        ])
        .env("FOODQC_ACTOR_PASSWORD", QC_PW);
        cmd
    });
    let out = run_ok(in_dir(d).args(["model", "criteria", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["criteria"]["min_recall"], 0.97);
    assert_eq!(v["criteria"]["max_false_reject_rate"], 0.1);
    assert_eq!(v["history"][0]["set_by"], "qc.ana");
    assert_eq!(v["history"][0]["reason"], "customer audit");
}
