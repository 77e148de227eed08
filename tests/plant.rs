//! The plant: three synthetic stations publish to a real Kafka-protocol broker (tansu), the
//! collector (`foodqc plant`) fills a real PostgreSQL (Debian's, a throwaway cluster made here
//! with initdb on a free port) and is killed with SIGKILL mid-run and started again; psql, an
//! independent reader, then finds exactly the rows of the three station databases, once each.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::plant::{Broker, free_port, tansu};
use foodqc::store::Store;

/// Debian's PostgreSQL server programs (`initdb`, `pg_ctl`), newest version first.
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// A throwaway PostgreSQL cluster in a temp dir on a free port, stopped when dropped. As
/// root the server runs as the `postgres` user (initdb refuses root).
struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn start(bin: PathBuf) -> Postgres {
        let as_postgres = nix_is_root();
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success(), "chown the cluster folder to postgres");
        }
        let pg = Postgres {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = pg.dir.path().join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            pg.port,
            pg.dir.path().display()
        );
        let out = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &opts, "-w", "-l"])
            .arg(pg.dir.path().join("log"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// One column of a query, read by psql.
    fn psql(&self, sql: &str) -> Vec<String> {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-p"])
            .arg(self.port.to_string())
            .args(["-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

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
