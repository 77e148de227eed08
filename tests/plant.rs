//! The plant: three synthetic stations publish to a real Kafka-protocol broker (tansu, with
//! its SQLite storage), the collector (`foodqc plant`) fills a real PostgreSQL (Debian's, a
//! throwaway cluster made here with initdb on a free port). Mid-run the collector is killed
//! with SIGKILL and started again, then the broker is killed with SIGKILL, stays away for a
//! few seconds (the stations' outboxes grow) and is started again on its files. psql, an
//! independent reader, then finds exactly the rows of the three station databases, once
//! each, and the collector's `/metrics` its rows and consumer lag.
//!
//! The run lasts 20 s with the broker away for 4 s; `FOODQC_PLANT_SECONDS=300` makes it the
//! five-minute run, and `FOODQC_PLANT_OUTAGE_SECONDS=3600` keeps the broker away for an hour
//! (the stations then run that much longer, so they are still there when it returns).

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::plant::{
    Broker, Postgres, free_port, http_get, metric_sample, pg_bin, read_topic, tansu_durable, tool,
};
use foodqc::store::Store;

/// A child process killed when dropped (also when an assertion fails first).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn collector(kafka: &str, pg: &str, metrics: Option<u16>) -> Child {
    let mut c = common::foodqc();
    c.args([
        "plant",
        "--kafka",
        kafka,
        "--postgres",
        pg,
        "--group",
        "plant-test",
    ]);
    if let Some(port) = metrics {
        c.args(["--metrics", &format!("127.0.0.1:{port}")]);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Seconds from environment variable `var`: `default` when unset or not a number, never
/// less than `at_least`.
fn seconds_from_env(var: &str, default: u64, at_least: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .max(at_least)
}

/// Backlog of the stations' outboxes now, summed (a station busy writing counts as none).
fn outbox_backlog(dirs: &[tempfile::TempDir]) -> u64 {
    dirs.iter()
        .filter_map(|d| Store::open(&d.path().join("foodqc.sqlite")).ok())
        .filter_map(|s| s.outbox_counts().ok())
        .map(|c| c.pending)
        .sum()
}

#[test]
fn three_stations_reach_postgres_once_each_through_a_killed_collector_and_broker() {
    let client = tool("kafka_python-3.0.12-py3-none-any.whl");
    let (Some(pg_bin), Some(tansu), Some(client)) = (pg_bin(), tansu_durable(), client) else {
        common::skip_or_fail(
            "PostgreSQL (apt-get install postgresql), the durable Kafka test broker or \
             kafka-python (tests/tools/fetch.sh) is missing",
        );
        return;
    };
    if Command::new("psql").arg("--version").output().is_err() {
        common::skip_or_fail("psql is missing (apt-get install postgresql-client)");
        return;
    }
    // The run's length (the five-minute run: 300) and the broker's absence (an hour: 3600).
    let seconds = seconds_from_env("FOODQC_PLANT_SECONDS", 20, 20);
    let outage = seconds_from_env("FOODQC_PLANT_OUTAGE_SECONDS", 4, 1);
    let pg = Postgres::start(pg_bin);
    let kafka_port = free_port();
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = Broker::start_durable(&tansu, kafka_port, broker_dir.path());
    let kafka = format!("127.0.0.1:{kafka_port}");
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let frames = ((seconds + outage) * 30).to_string();
    let mut stations: Vec<Running> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let child = common::foodqc()
                .arg("--data-dir")
                .arg(d.path())
                .args(["inspect", "--live", "--frames", &frames])
                .args(["--source", &format!("synthetic:{}", 11 + i)])
                .args(["--station", &format!("linea-{}", i + 1), "--kafka", &kafka])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            Running(child)
        })
        .collect();
    let mut first = Running(collector(&kafka, &pg.url(), None));
    std::thread::sleep(Duration::from_secs_f64(seconds as f64 * 0.35));
    // (No table yet, on a slow machine, counts as none stored.)
    let before_collector_kill: usize = pg
        .try_psql("SELECT count(*) FROM inspections")
        .and_then(|rows| rows.first()?.parse().ok())
        .unwrap_or(0);
    // SIGKILL: no chance to finish a batch or commit an offset.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let metrics_port = free_port();
    // It runs through the broker's absence and is stopped (SIGTERM) once all is stored.
    let mut second = Running(collector(&kafka, &pg.url(), Some(metrics_port)));
    // The broker, SIGKILLed too: it answers nobody for a few seconds, while the stations go
    // on recording and their outboxes grow, then starts again on its files.
    std::thread::sleep(Duration::from_secs_f64(seconds as f64 * 0.2 - 2.0));
    // What the outboxes hold while the broker is there: the drain ends when they are back to it.
    let steady_since = std::time::Instant::now();
    let mut steady_backlog = 0;
    while steady_since.elapsed() < Duration::from_secs(2) {
        steady_backlog = steady_backlog.max(outbox_backlog(&dirs));
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(broker);
    let broker_down = std::time::Instant::now();
    let mut backlog_while_down = 0;
    while broker_down.elapsed() < Duration::from_secs(outage) {
        backlog_while_down = backlog_while_down.max(outbox_backlog(&dirs));
        std::thread::sleep(Duration::from_millis(250));
    }
    let broker = Broker::start_durable(&tansu, kafka_port, broker_dir.path());
    let broker_back = std::time::Instant::now();
    assert!(
        backlog_while_down > 0,
        "the outboxes grew while the broker was down"
    );
    let mut drained_after = None;
    while drained_after.is_none()
        && stations
            .iter_mut()
            .any(|s| s.0.try_wait().unwrap().is_none())
    {
        if outbox_backlog(&dirs) <= steady_backlog {
            drained_after = Some(broker_back.elapsed());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    for mut s in stations {
        let status = s.0.wait().unwrap();
        assert!(status.success(), "a station failed");
    }
    let mut want = BTreeSet::new();
    let mut audit = 0;
    for d in &dirs {
        let store = Store::open(&d.path().join("foodqc.sqlite")).unwrap();
        for r in store.recent_inspections(10_000_000).unwrap() {
            want.insert(format!("{}|{}|{}", r.station, r.id, r.verdict.as_str()));
        }
        audit += store.audit_entries(1_000_000).unwrap().len();
        assert_eq!(
            store.outbox_counts().unwrap().pending,
            0,
            "every station drained"
        );
    }
    // Stopped once PostgreSQL holds as many inspections and audit entries as the stations
    // (or after a minute, and the comparisons below say what is missing).
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let counts = || {
        pg.psql(
            "SELECT (SELECT count(*) FROM inspections) || '/' || (SELECT count(*) FROM audit_log)",
        )
    };
    let expected = [format!("{}/{audit}", want.len())];
    while counts() != expected && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(500));
    }
    // The collector's own account: rows stored, and how far behind it is (reported once its
    // partitions are assigned).
    let until = std::time::Instant::now() + Duration::from_secs(15);
    let (body, lag) = loop {
        let (status, body) = http_get(metrics_port, "/metrics").expect("collector /metrics");
        assert_eq!(status, 200);
        let lag = metric_sample(&body, "foodqc_collector_lag_messages");
        if lag.is_some() || std::time::Instant::now() > until {
            break (body, lag);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(metric_sample(&body, "foodqc_collector_rows_stored_total").unwrap_or(0.0) > 0.0);
    assert!(lag.is_some_and(|l| l >= 0.0), "consumer lag: {body}");
    let stopped = Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(
        second.0.wait().unwrap().success(),
        "the collector stops cleanly on SIGTERM"
    );
    let mut said = String::new();
    second
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    let rows = pg.psql("SELECT station || '|' || id || '|' || verdict FROM inspections");
    let got: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), got.len(), "no row twice");
    assert_eq!(
        got.len(),
        want.len(),
        "PostgreSQL holds as many inspections as the stations"
    );
    assert_eq!(
        got, want,
        "PostgreSQL holds exactly the stations' inspections"
    );
    // The broker's own log, read by an independent client: the restart repeated nothing
    // (a message in flight when it died was retried under the same producer sequence).
    let in_kafka = read_topic(&client, kafka_port, "foodqc.inspections");
    let distinct: BTreeSet<String> = in_kafka
        .iter()
        .map(|(_, v)| {
            format!(
                "{}|{}|{}",
                v["station"].as_str().unwrap(),
                v["id"],
                v["verdict"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        distinct, want,
        "Kafka holds exactly the stations' inspections"
    );
    assert_eq!(in_kafka.len(), want.len(), "none twice in Kafka");
    let stations_seen = pg.psql("SELECT count(DISTINCT station) FROM inspections");
    assert_eq!(stations_seen, ["3"]);
    let audit_rows: usize = pg.psql("SELECT count(*) FROM audit_log")[0]
        .parse()
        .unwrap();
    assert_eq!(audit_rows, audit, "every audit entry once");
    drop(broker);
    eprintln!(
        "{seconds} s run: {} inspections of 3 stations; {before_collector_kill} stored when the \
         collector was killed; outbox backlog up to {backlog_while_down} while the broker was \
         down {outage} s (steady {steady_backlog}), back to steady {drained_after:?} after its \
         restart; {audit} audit entries; collector lag last reported {lag:?}; second \
         collector: {}",
        want.len(),
        said.trim()
    );
}
