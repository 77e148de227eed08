//! The station streams to the plant's Kafka: a real Kafka-protocol broker (tansu 0.6, started
//! here on a free loopback port from `tests/tools/fetch.sh`'s pinned copy), read back by
//! an independent client (kafka-python). Every inspection and audit entry recorded in SQLite
//! arrives, keyed by station; with the broker away at the start the outbox grows while the
//! line runs, and drains when the broker comes.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::plant::{
    Broker, TlsFront, free_port, kafka_python, read_topic, read_topic_with, stunnel, tansu,
    tls_files, tool,
};
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

/// A synthetic run of `frames` frames as station `name` publishing to `kafka`, with the
/// extra arguments or environment `tune` adds; its JSON summary and data folder.
fn synthetic_run(
    kafka: &str,
    name: &str,
    frames: &str,
    tune: impl FnOnce(&mut Command),
) -> (serde_json::Value, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut c = common::foodqc();
    c.arg("--data-dir").arg(data.path());
    c.args([
        "inspect",
        "--source",
        "synthetic",
        "--frames",
        frames,
        "--json",
    ]);
    c.args(["--station", name, "--kafka", kafka]);
    tune(&mut c);
    let out = common::run_ok(&mut c);
    (serde_json::from_slice(&out.stdout).unwrap(), data)
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
    let (run, data) = synthetic_run(&format!("127.0.0.1:{port}"), "linea-2", "300", |_| ());
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

/// Each message of `topic` as (key, header `schema`, header `record` as JSON, value bytes),
/// read from the start by kafka-python.
fn read_crops(
    client: &Path,
    port: u16,
    topic: &str,
) -> Vec<(String, String, serde_json::Value, Vec<u8>)> {
    let script = format!(
        r#"
import json
from kafka import KafkaConsumer
c = KafkaConsumer({topic:?}, bootstrap_servers="127.0.0.1:{port}", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=6000, group_id=None)
for m in c:
    h = {{k: v.decode() for k, v in m.headers}}
    print(json.dumps([m.key.decode(), h["schema"], json.loads(h["record"]), m.value.hex()]))
"#
    );
    kafka_python(client, &script)
        .lines()
        .map(|l| {
            let (key, schema, record, hex): (String, String, serde_json::Value, String) =
                serde_json::from_str(l).expect("a JSON line");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (key, schema, record, bytes)
        })
        .collect()
}

/// A run with `--kafka-crops KIB` on station `name`; its JSON summary and database.
fn run_with_crops(port: u16, name: &str, kib: &str) -> (serde_json::Value, tempfile::TempDir) {
    synthetic_run(&format!("127.0.0.1:{port}"), name, "300", |c| {
        c.args(["--kafka-crops", kib]);
    })
}

/// Reject crops go to `foodqc.rejects` as JPEG with their record in headers, one per reject
/// with a saved crop; over the size limit they are not sent, and counted.
#[test]
fn reject_crops_reach_the_plant_as_jpeg_within_their_limit() {
    let Some((tansu, client)) = services() else {
        return;
    };
    let port = free_port();
    let _broker = Broker::start(&tansu, port);
    let (run, data) = run_with_crops(port, "linea-5", "64");
    assert_eq!(run["plant"]["pending"], 0, "{run}");
    assert_eq!(run["plant"]["crops_skipped"], 0, "{run}");
    let store = Store::open(&data.path().join("foodqc.sqlite")).unwrap();
    let with_crops: BTreeSet<i64> = store
        .recent_inspections(1_000_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.verdict.as_str() == "reject" && r.sample_id.is_some())
        .map(|r| r.id)
        .collect();
    assert!(!with_crops.is_empty(), "the synthetic line has rejects");
    let crops = read_crops(&client, port, "foodqc.rejects");
    let sent: BTreeSet<i64> = crops
        .iter()
        .map(|(key, schema, record, jpeg)| {
            assert_eq!(key, "linea-5");
            assert_eq!(schema, "foodqc.reject/1");
            assert_eq!(record["station"], "linea-5");
            assert!(record.get("crop").is_none(), "no station path leaves");
            assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
            assert!(jpeg.len() <= 64 * 1024);
            let img = image::load_from_memory(jpeg).expect("a JPEG that decodes");
            assert!(img.width() > 0);
            record["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(crops.len(), sent.len(), "each crop once");
    assert_eq!(sent, with_crops, "one crop per reject with a saved crop");
    // A limit no crop fits: none is sent, each is counted, the inspections still go.
    let (run, data) = run_with_crops(port, "linea-6", "1");
    let skipped = run["plant"]["crops_skipped"].as_u64().unwrap();
    assert_eq!(run["plant"]["pending"], 0, "{run}");
    let store = Store::open(&data.path().join("foodqc.sqlite")).unwrap();
    let rejects_with_crops = store
        .recent_inspections(1_000_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.verdict.as_str() == "reject" && r.sample_id.is_some())
        .count() as u64;
    assert!(skipped > 0 && skipped == rejects_with_crops, "{run}");
    assert_eq!(store.outbox_counts().unwrap().skipped, skipped);
    let crops = read_crops(&client, port, "foodqc.rejects");
    assert!(
        crops.iter().all(|(key, ..)| key == "linea-5"),
        "none from linea-6"
    );
    let inspections = read_topic(&client, port, "foodqc.inspections");
    assert!(inspections.iter().any(|(key, _)| key == "linea-6"));
}

/// One run of a station on `kafka` with the brokers' authority `ca`; its JSON summary.
fn run_over_tls(kafka: &str, ca: &Path, name: &str) -> (serde_json::Value, tempfile::TempDir) {
    synthetic_run(kafka, name, "150", |c| {
        c.env("FOODQC_KAFKA_CA", ca).env_remove("FOODQC_KAFKA_TLS");
    })
}

/// TLS to the brokers (a real broker behind a TLS front): with the brokers' authority every
/// record arrives, read back over TLS by kafka-python; with another authority nothing is
/// sent, and the outbox keeps it all.
#[test]
fn records_reach_the_plant_over_tls_only_with_the_brokers_authority() {
    let Some((tansu, client)) = services() else {
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let (Some(stunnel), Some(files), Some(stranger)) =
        (stunnel(), tls_files(certs.path()), tls_files(other.path()))
    else {
        common::skip_or_fail("TLS test needs openssl and stunnel (apt-get install stunnel4)");
        return;
    };
    let (plain, tls) = (free_port(), free_port());
    let _broker = Broker::start_advertising(&tansu, plain, &format!("tcp://localhost:{tls}"));
    let _front = TlsFront::start(&stunnel, &files, tls, plain);
    let kafka = format!("localhost:{tls}");
    let (run, data) = run_over_tls(&kafka, &files.ca, "linea-tls");
    assert_eq!(run["plant"]["pending"], 0, "{run}");
    let want = recorded(&data.path().join("foodqc.sqlite"));
    assert!(want.len() > 3, "{} items", want.len());
    let extra = format!(
        ", security_protocol=\"SSL\", ssl_cafile={:?}",
        files.ca.display().to_string()
    );
    let got = received(&read_topic_with(
        &client,
        &kafka,
        "foodqc.inspections",
        &extra,
    ));
    assert_eq!(got, want, "every record, read back over TLS");
    // The window's way: the authority from the Plant Kafka setting, not the environment.
    let window = tempfile::tempdir().unwrap();
    let spec =
        foodqc::domain::KafkaSpec::parse_with_ca_from(&kafka, files.ca.to_str().unwrap(), |_| None)
            .unwrap();
    let db = window.path().join("foodqc.sqlite");
    let publisher = foodqc::plant::Publisher::start(db.clone(), &spec, "linea-ventana").unwrap();
    common::run_ok(&mut common::in_data_dir(
        window.path(),
        &["inspect", "--source", "synthetic", "--frames", "150"],
    ));
    let stats = publisher.finish(Duration::from_secs(30));
    assert_eq!(stats.pending, 0, "{stats:?}");
    let from_window = recorded(&db);
    assert!(from_window.len() > 3, "{} items", from_window.len());
    let got = received(&read_topic_with(
        &client,
        &kafka,
        "foodqc.inspections",
        &extra,
    ));
    assert!(
        got.is_superset(&from_window),
        "the window's records, over TLS"
    );
    // A certificate signed by an authority the station was not given: nothing goes.
    let (run, data) = run_over_tls(&kafka, &stranger.ca, "linea-otra");
    assert_eq!(run["plant"]["delivered"], 0, "{run}");
    let store = Store::open(&data.path().join("foodqc.sqlite")).unwrap();
    let pending = store.outbox_counts().unwrap().pending;
    assert!(pending > 0 && run["plant"]["pending"] == pending, "{run}");
}
