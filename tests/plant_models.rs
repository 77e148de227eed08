//! A model version promoted at the QC PC reaches the running stations of its recipe through
//! a real Kafka-protocol broker: trained and proposed by a data scientist, approved and
//! published by a QC manager (each signing), split into parts; the station that runs the
//! recipe takes it whole, checks it, saves a new recipe version naming it and judges with it
//! from one frame to the next; a station on another recipe leaves it alone. Both sides audit.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::plant::{Broker, free_port, tansu};
use common::{add_users, as_user, run_ok};
use foodqc::store::Store;

fn cmd(dir: &Path, args: &[&str]) -> Command {
    common::in_data_dir(dir, args)
}

/// A station with recipe `recipe` saved by its own QC manager, trusting the QC PC's plant key
/// `qc_key` (its admin's doing), running it live for 50 s.
fn station(dir: &Path, name: &str, recipe: &str, kafka: &str, qc_key: &str) -> Child {
    add_users(dir, &[("qc", "qc_manager")]);
    run_ok(as_user(
        &mut cmd(dir, &["keys", "trust", "calidad-pc", qc_key]),
        "admin",
    ));
    run_ok(as_user(&mut cmd(dir, &["recipe", "save", recipe]), "qc"));
    cmd(
        dir,
        &[
            "inspect",
            "--live",
            "--frames",
            "1500",
            "--source",
            "synthetic:5",
            "--station",
            name,
            "--recipe",
            recipe,
            "--kafka",
            kafka,
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap()
}

fn audit_count(store: &Store, action: &str) -> usize {
    store
        .audit_entries(100_000)
        .unwrap()
        .iter()
        .filter(|e| e.action == action)
        .count()
}

#[test]
fn a_version_published_at_the_plant_is_judging_at_its_recipe_stations_between_two_frames() {
    let Some(tansu) = tansu() else {
        common::skip_or_fail("the Kafka test broker (tests/tools/fetch.sh) is missing");
        return;
    };
    let port = free_port();
    let _broker = Broker::start(&tansu, port);
    let kafka = format!("127.0.0.1:{port}");
    let qc_dir = tempfile::tempdir().unwrap();
    let qc = qc_dir.path();
    let line_dir = tempfile::tempdir().unwrap();
    let other_dir = tempfile::tempdir().unwrap();

    // The QC PC: a version trained and proposed by the data scientist, approved by the QC
    // manager (the few samples miss the acceptance criteria, hence a signed override).
    add_users(qc, &[("ds", "data_scientist"), ("qc.rosa", "qc_manager")]);
    let shown = cmd(qc, &["keys", "show", "--json"]).output().unwrap();
    assert!(shown.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let qc_key = shown["key"].as_str().unwrap().to_string();
    run_ok(as_user(
        &mut cmd(qc, &["demo-samples", "--count", "30"]),
        "ds",
    ));
    run_ok(as_user(
        &mut cmd(
            qc,
            &["train", "--tier", "classical", "--propose", "new oven"],
        ),
        "ds",
    ));
    let version = Store::open(&qc.join("foodqc.sqlite"))
        .unwrap()
        .list_model_versions()
        .unwrap()[0]
        .version
        .clone();
    // Not approved yet: nothing is sent.
    let publish = |reason: &str| {
        let mut c = cmd(
            qc,
            &[
                "model", "publish", &version, "--recipe", "galleta", "--kafka", &kafka,
            ],
        );
        c.args(["--reason", reason]);
        as_user(&mut c, "qc.rosa").output().unwrap()
    };
    let out = publish("too early");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(said.contains(&version), "{said}");
    run_ok(as_user(
        &mut cmd(
            qc,
            &[
                "model",
                "approve",
                &version,
                "--reason",
                "pilot",
                "--override",
                "pilot on line 3, more labels this week",
            ],
        ),
        "qc.rosa",
    ));

    // Two stations: one runs the recipe, one another.
    let mut line = station(line_dir.path(), "linea-3", "galleta", &kafka, &qc_key);
    let mut other = station(other_dir.path(), "linea-4", "chocolate", &kafka, &qc_key);
    let line_db = line_dir.path().join("foodqc.sqlite");
    let until = Instant::now() + Duration::from_secs(20);
    while Store::open(&line_db)
        .ok()
        .and_then(|s| s.count_inspections().ok())
        .is_none_or(|(n, _)| n < 10)
    {
        assert!(Instant::now() < until, "the station never judged");
        std::thread::sleep(Duration::from_millis(300));
    }

    let out = publish("cracks from oven 2 missed by the old model");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let told = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(told.contains("0 messages still waiting"), "{told}");
    assert!(line.wait().unwrap().success());
    assert!(other.wait().unwrap().success());

    // The recipe station: a new recipe version naming the model, by the plant's signer, once.
    let store = Store::open(&line_db).unwrap();
    let recipe = store.recipe("galleta").unwrap().unwrap();
    assert_eq!(recipe.recipe.version, 2);
    assert_eq!(
        recipe.recipe.model_version.as_deref(),
        Some(version.as_str())
    );
    assert_eq!(audit_count(&store, "plant.model.apply"), 1);
    assert_eq!(audit_count(&store, "plant.model.refuse"), 0);
    assert_eq!(audit_count(&store, "plant.message.refuse"), 0);
    let saved = store
        .audit_entries(100_000)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "recipe.save" && e.actor == "plant:qc.rosa")
        .expect("the recipe version saved for the plant");
    assert!(
        saved.details.to_string().contains(&version),
        "{}",
        saved.details
    );
    // It judged with the old model, then with the new one from one frame on, none dropped.
    let items = store.recent_inspections(1_000_000).unwrap();
    let by_new: Vec<_> = items
        .iter()
        .filter(|i| i.model_version.as_deref() == Some(version.as_str()))
        .map(|i| i.frame_seq)
        .collect();
    let by_old: Vec<_> = items
        .iter()
        .filter(|i| i.model_version.as_deref() != Some(version.as_str()))
        .map(|i| i.frame_seq)
        .collect();
    assert!(
        !by_new.is_empty() && !by_old.is_empty(),
        "both models judged"
    );
    let switch = by_new.iter().min().unwrap();
    assert!(
        by_old.iter().all(|f| f < switch),
        "after the switch every item is judged by {version}"
    );
    let switched = store
        .audit_entries(100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "station.recipe" && e.actor == "plant:qc.rosa")
        .count();
    assert_eq!(switched, 1, "the running line switched once, for the plant");
    // The other recipe's station kept its recipe and its model.
    let store = Store::open(&other_dir.path().join("foodqc.sqlite")).unwrap();
    assert_eq!(
        store.recipe("chocolate").unwrap().unwrap().recipe.version,
        1
    );
    assert!(store.recipe("galleta").unwrap().is_none());
    assert_eq!(audit_count(&store, "plant.model.apply"), 0);
    // The QC PC kept the signed release in its audit trail.
    let store = Store::open(&qc.join("foodqc.sqlite")).unwrap();
    assert_eq!(audit_count(&store, "plant.model.publish"), 1);
}
