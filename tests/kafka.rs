//! The station streams to the plant's Kafka: a real Kafka-protocol broker (tansu 0.6, started
//! here on a free loopback port from `tests/tools/fetch.sh`'s pinned copy), read back by
//! an independent client (kafka-python). Every inspection and audit entry recorded in SQLite
//! arrives, keyed by station; with the broker away at the start the outbox grows while the
//! line runs, and drains when the broker comes.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::plant::{Broker, free_port, tansu, tool};
use foodqc::store::Store;

/// The broker and the client, or `None` (skipped with the reason) when not installed.
fn services() -> Option<(PathBuf, PathBuf)> {
    match (tansu(), tool("kafka_python-3.0.12-py3-none-any.whl")) {
        (Some(t), Some(k)) => Some((t, k)),
        _ => {
            common::skip_or_fail(
                "the Kafka test broker or client is missing: run tests/tools/fetch.sh",
            );
            None
        }
    }
}

/// Every message of `topic` as (key, JSON value), read from the start by kafka-python.
fn read_topic(client: &PathBuf, port: u16, topic: &str) -> Vec<(String, serde_json::Value)> {
    let script = format!(
        r#"
import json
from kafka import KafkaConsumer
c = KafkaConsumer({topic:?}, bootstrap_servers="127.0.0.1:{port}", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=6000, group_id=None)
for m in c:
    print(json.dumps([m.key.decode(), json.loads(m.value)]))
"#
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("PYTHONPATH", client)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "kafka-python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The (station, id, verdict) of every inspection recorded in `db`.
fn recorded(db: &std::path::Path) -> BTreeSet<(String, i64, String)> {
    let store = Store::open(db).unwrap();
    store
        .recent_inspections(1_000_000)
        .unwrap()
        .into_iter()
        .map(|r| (r.station, r.id, r.verdict.as_str().to_string()))
        .collect()
}

fn received(messages: &[(String, serde_json::Value)]) -> BTreeSet<(String, i64, String)> {
    messages
        .iter()
        .map(|(key, v)| {
            assert_eq!(v["schema"], "foodqc.inspection/1");
            assert_eq!(
                v["station"].as_str(),
                Some(key.as_str()),
                "keyed by station"
            );
            (
                key.clone(),
                v["id"].as_i64().unwrap(),
                v["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_record_reaches_the_plant_keyed_by_station() {
    let Some((tansu, client)) = services() else {
        return;
    };
    let port = free_port();
    let _broker = Broker::start(&tansu, port);
    let data = tempfile::tempdir().unwrap();
    let out = common::run_ok(
        common::foodqc()
            .arg("--data-dir")
            .arg(data.path())
            .args([
                "inspect",
                "--source",
                "synthetic",
                "--frames",
                "300",
                "--json",
            ])
            .args([
                "--station",
                "linea-2",
                "--kafka",
                &format!("127.0.0.1:{port}"),
            ]),
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["plant"]["pending"], 0, "{run}");
    let db = data.path().join("foodqc.sqlite");
    let want = recorded(&db);
    assert!(want.len() > 10, "{} items", want.len());
    let got = received(&read_topic(&client, port, "foodqc.inspections"));
    assert_eq!(
        got, want,
        "the topic holds exactly the recorded inspections"
    );
    let audit = read_topic(&client, port, "foodqc.audit");
    let store = Store::open(&db).unwrap();
    let entries = store.audit_entries(10_000).unwrap();
    assert_eq!(audit.len(), entries.len(), "one message per audit entry");
    assert!(
        audit
            .iter()
            .all(|(k, v)| k == "linea-2" && v["schema"] == "foodqc.audit/1"),
        "audit entries keyed by the publishing station"
    );
    let counts = store.outbox_counts().unwrap();
    assert_eq!(counts.pending, 0);
    assert_eq!(counts.delivered as usize, want.len() + entries.len());
}

/// The broker is away when the line starts: the station judges and records on, the outbox
/// grows, and when the broker comes every record is sent.
#[test]
fn the_outbox_waits_for_an_absent_broker() {
    let Some((tansu, client)) = services() else {
        return;
    };
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let station = common::foodqc()
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "inspect",
            "--source",
            "synthetic",
            "--live",
            "--frames",
            "240",
            "--json",
        ])
        .args(["--kafka", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Four of the run's eight seconds without a broker.
    std::thread::sleep(Duration::from_secs(4));
    let db = data.path().join("foodqc.sqlite");
    let waiting = Store::open(&db).unwrap().outbox_counts().unwrap();
    assert!(waiting.pending > 0, "the outbox holds what was recorded");
    assert_eq!(waiting.delivered, 0, "nothing can be delivered yet");
    let _broker = Broker::start(&tansu, port);
    let out = station.wait_with_output().unwrap();
    assert!(out.status.success());
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["frames_dropped"], 0, "the line did not wait: {run}");
    assert_eq!(run["plant"]["pending"], 0, "the outbox drained: {run}");
    let want = recorded(&db);
    let got = received(&read_topic(&client, port, "foodqc.inspections"));
    assert_eq!(got, want);
    eprintln!(
        "{} waiting after 4 s without a broker; {} inspections delivered after it came",
        waiting.pending,
        want.len()
    );
}
