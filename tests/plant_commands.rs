//! A lot held from the plant view reaches the station: a QC manager at another PC reads the
//! plant database (PostgreSQL, filled by the collector from a real Kafka-protocol broker),
//! holds the lot a live station is producing, signing it there; the command goes through the
//! brokers, the station applies it once and audits it, and its audit entry comes back to the
//! plant, whose report then shows the lot held. The station applies only what a key its admin
//! trusts sealed: a command forged by another writer on the topic (kafka-python, unsigned) and
//! a sealed command altered on the way are refused and audited.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::plant::{
    Broker, Postgres, free_port, http_get, kafka_python, metric_sample, pg_bin, tansu, tool,
};
use foodqc::store::{LotStatus, Store};

const ADMIN_PW: &str = "Jefe-Planta-2026!";
const QC_PW: &str = "Rosa-Calidad-2026!";

fn cmd(dir: &Path, args: &[&str]) -> Command {
    common::in_data_dir(dir, args)
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_lot_held_from_the_plant_view_is_held_at_its_station() {
    let client = tool("kafka_python-3.0.12-py3-none-any.whl");
    let (Some(pg_bin), Some(tansu), Some(client)) = (pg_bin(), tansu(), client) else {
        common::skip_or_fail(
            "PostgreSQL (apt-get install postgresql), the Kafka test broker or kafka-python \
             (tests/tools/fetch.sh) is missing",
        );
        return;
    };
    let pg = Postgres::start(pg_bin);
    let port = free_port();
    let _broker = Broker::start(&tansu, port);
    let kafka = format!("127.0.0.1:{port}");
    let station_dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let qc_dir = tempfile::tempdir().unwrap();
    // The QC manager's PC: its own users.
    ok(
        cmd(qc_dir.path(), &["user", "add", "admin", "--role", "admin"])
            .env("FOODQC_PASSWORD", ADMIN_PW)
            .stdout(Stdio::null()),
    );
    let mut add = cmd(
        qc_dir.path(),
        &[
            "user",
            "add",
            "qc.rosa",
            "--role",
            "qc_manager",
            "--user",
            "admin",
        ],
    );
    add.args(["--display-name", "Rosa Quispe"])
        .env("FOODQC_PASSWORD", QC_PW)
        .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW);
    ok(&mut add);
    let mut station = cmd(
        station_dir.path(),
        &[
            "inspect",
            "--live",
            "--frames",
            "1200",
            "--source",
            "synthetic:5",
            "--station",
            "linea-7",
            "--lot",
            "L-PLANTA-1",
            "--kafka",
            &kafka,
            "--metrics",
            &format!("127.0.0.1:{metrics_port}"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let collector = common::foodqc()
        .args(["plant", "--kafka", &kafka, "--postgres", &pg.url()])
        .args(["--group", "commands-test", "--idle-exit", "8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the plant knows the lot (the collector makes the tables first).
    let until = Instant::now() + Duration::from_secs(20);
    while pg
        .try_psql("SELECT count(*) FROM inspections WHERE lot = 'L-PLANTA-1'")
        .is_none_or(|n| n == ["0"])
    {
        assert!(Instant::now() < until, "the lot never reached the plant");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Without --kafka a plant decision is refused; a lot the plant does not have is named.
    let mut no_kafka = cmd(
        qc_dir.path(),
        &["report", "--plant", &pg.url(), "--hold", "L-PLANTA-1"],
    );
    no_kafka.args(["--comment", "grietas", "--user", "qc.rosa"]);
    assert!(!no_kafka.output().unwrap().status.success());
    let mut unknown = cmd(
        qc_dir.path(),
        &[
            "report",
            "--plant",
            &pg.url(),
            "--hold",
            "L-NADA",
            "--kafka",
            &kafka,
        ],
    );
    unknown
        .args(["--comment", "grietas", "--user", "qc.rosa"])
        .env("FOODQC_ACTOR_PASSWORD", QC_PW);
    let out = unknown.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("L-NADA"));
    // The station's admin trusts the QC PC's key (printed there by `keys show`).
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&mut cmd(qc_dir.path(), &["keys", "show", "--json"]))).unwrap();
    let qc_key = shown["key"].as_str().unwrap().to_string();
    ok(cmd(
        station_dir.path(),
        &["user", "add", "admin", "--role", "admin"],
    )
    .env("FOODQC_PASSWORD", ADMIN_PW)
    .stdout(Stdio::null()));
    let trusted = ok(cmd(
        station_dir.path(),
        &["keys", "trust", "calidad-pc", &qc_key, "--user", "admin"],
    )
    .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW));
    assert!(trusted.contains("calidad-pc"), "{trusted}");
    // Another writer on the topic forges a release, unsigned.
    let forged = r#"{"schema":"foodqc.command/1","id":"forja/1","kind":"lot.status",
        "lot":"L-PLANTA-1","status":"released","signer":"qc.rosa","display_name":"Rosa Quispe",
        "reason":"sin problema","signed_at":0,"origin":"forja"}"#;
    kafka_python(
        &client,
        &format!(
            r#"
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers="{kafka}")
p.send("foodqc.commands", key=b"L-PLANTA-1", value={forged:?}.encode())
p.flush()
"#
        ),
    );
    // The hold, signed at the QC PC.
    let mut hold = cmd(
        qc_dir.path(),
        &[
            "report",
            "--plant",
            &pg.url(),
            "--hold",
            "L-PLANTA-1",
            "--kafka",
            &kafka,
        ],
    );
    hold.args(["--comment", "grietas en el horno 2", "--user", "qc.rosa"])
        .env("FOODQC_ACTOR_PASSWORD", QC_PW);
    let out = hold.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(said.contains("0 messages still waiting"), "{said}");
    // The sealed hold, read back and altered on the way (a release under a new id), with
    // its seal headers kept.
    let altered = kafka_python(
        &client,
        &format!(
            r#"
import json
from kafka import KafkaConsumer, KafkaProducer
c = KafkaConsumer("foodqc.commands", bootstrap_servers="{kafka}", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=6000, group_id=None)
for m in c:
    if m.headers:
        v = json.loads(m.value)
        v["status"] = "released"
        v["id"] = v["id"] + "-bis"
        p = KafkaProducer(bootstrap_servers="{kafka}")
        p.send("foodqc.commands", key=m.key, value=json.dumps(v).encode(), headers=m.headers)
        p.flush()
        print(v["id"], sorted(k for k, _ in m.headers))
        break
"#
        ),
    );
    assert!(
        altered.contains("['foodqc-key', 'foodqc-signature']"),
        "the hold went out sealed: {altered}"
    );
    // The station counts the two refusals for Prometheus (and its alert rule).
    let series = r#"foodqc_plant_messages_refused_total{topic="foodqc.commands"}"#;
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = http_get(metrics_port, "/metrics").expect("station /metrics");
        if metric_sample(&body, series) == Some(2.0) {
            break;
        }
        assert!(Instant::now() < until, "two refusals counted: {body}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(station.wait().unwrap().success());
    assert!(collector.wait_with_output().unwrap().status.success());
    // The station applied it once, audited as the plant's decision.
    let store = Store::open(&station_dir.path().join("foodqc.sqlite")).unwrap();
    let lot = store
        .list_lots()
        .unwrap()
        .into_iter()
        .find(|l| l.code == "L-PLANTA-1")
        .unwrap();
    assert_eq!(lot.status, LotStatus::Hold);
    let entries: Vec<_> = store
        .audit_entries(100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "lot.status")
        .collect();
    assert_eq!(entries.len(), 1, "applied once");
    assert_eq!(entries[0].actor, "plant:qc.rosa");
    let details = entries[0].details.to_string();
    assert!(details.contains("grietas en el horno 2"), "{details}");
    assert!(details.contains("Rosa Quispe"), "{details}");
    assert_eq!(entries[0].details["sealed_by"], "calidad-pc");
    // The forged and the altered command were refused, each audited once with why.
    let refused: Vec<_> = store
        .audit_entries(100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "plant.message.refuse")
        .map(|e| e.details)
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|d| d["message"] == "forja/1"
                && d["why"].as_str().unwrap().contains("no signature")),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|d| {
            d["message"].as_str().unwrap().ends_with("-bis")
                && d["why"].as_str().unwrap().contains("does not match")
        }),
        "{refused:?}"
    );
    // The QC PC kept its signature and the decision in its own audit trail.
    let qc = Store::open(&qc_dir.path().join("foodqc.sqlite")).unwrap();
    assert!(
        qc.audit_entries(1_000)
            .unwrap()
            .iter()
            .any(|e| e.action == "plant.lot.status")
    );
    // The plant sees the lot held, by the station's own audit entry.
    let json = ok(&mut cmd(
        qc_dir.path(),
        &[
            "report",
            "--plant",
            &pg.url(),
            "--lot",
            "L-PLANTA-1",
            "--json",
        ],
    ));
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["lots"][0]["status"], "hold", "{}", r["lots"]);
}
