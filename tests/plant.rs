//! The plant: three synthetic stations publish to a real Kafka-protocol broker (tansu), the
//! collector (`foodqc plant`) fills a real PostgreSQL (Debian's, a throwaway cluster made here
//! with initdb on a free port) and is killed with SIGKILL mid-run and started again; psql, an
//! independent reader, then finds exactly the rows of the three station databases, once each.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::plant::{Broker, Postgres, free_port, pg_bin, tansu};
use foodqc::store::Store;

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn collector(kafka: &str, pg: &str, idle_exit: Option<&str>) -> Child {
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
    if let Some(s) = idle_exit {
        c.args(["--idle-exit", s]);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn three_stations_reach_postgres_once_each_through_a_killed_collector() {
    let (Some(pg_bin), Some(tansu)) = (pg_bin(), tansu()) else {
        common::skip_or_fail(
            "PostgreSQL (apt-get install postgresql) or the Kafka test broker \
             (tests/tools/fetch.sh) is missing",
        );
        return;
    };
    if Command::new("psql").arg("--version").output().is_err() {
        common::skip_or_fail("psql is missing (apt-get install postgresql-client)");
        return;
    }
    let pg = Postgres::start(pg_bin);
    let kafka_port = free_port();
    let _broker = Broker::start(&tansu, kafka_port);
    let kafka = format!("127.0.0.1:{kafka_port}");
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Three live lines of 15 s each.
    let stations: Vec<Running> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let child = common::foodqc()
                .arg("--data-dir")
                .arg(d.path())
                .args(["inspect", "--live", "--frames", "450"])
                .args(["--source", &format!("synthetic:{}", 11 + i)])
                .args(["--station", &format!("linea-{}", i + 1), "--kafka", &kafka])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            Running(child)
        })
        .collect();
    let mut first = collector(&kafka, &pg.url(), None);
    std::thread::sleep(Duration::from_secs(7));
    let mid_run: usize = pg.psql("SELECT count(*) FROM inspections")[0]
        .parse()
        .unwrap();
    // SIGKILL: no chance to finish a batch or commit an offset.
    first.kill().unwrap();
    first.wait().unwrap();
    let second = collector(&kafka, &pg.url(), Some("8"));
    for mut s in stations {
        let status = s.0.wait().unwrap();
        assert!(status.success(), "a station failed");
    }
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut want = BTreeSet::new();
    let mut audit = 0;
    for d in &dirs {
        let store = Store::open(&d.path().join("foodqc.sqlite")).unwrap();
        for r in store.recent_inspections(1_000_000).unwrap() {
            want.insert(format!("{}|{}|{}", r.station, r.id, r.verdict.as_str()));
        }
        audit += store.audit_entries(100_000).unwrap().len();
        assert_eq!(
            store.outbox_counts().unwrap().pending,
            0,
            "every station drained"
        );
    }
    let rows = pg.psql("SELECT station || '|' || id || '|' || verdict FROM inspections");
    let got: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), got.len(), "no row twice");
    assert_eq!(
        got, want,
        "PostgreSQL holds exactly the stations' inspections"
    );
    let stations_seen = pg.psql("SELECT count(DISTINCT station) FROM inspections");
    assert_eq!(stations_seen, ["3"]);
    let audit_rows: usize = pg.psql("SELECT count(*) FROM audit_log")[0]
        .parse()
        .unwrap();
    assert_eq!(audit_rows, audit, "every audit entry once");
    eprintln!(
        "{} inspections of 3 stations; {mid_run} stored when the first collector was killed; \
         {audit} audit entries; second collector: {}",
        want.len(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
}
