//! The plant's test services shared by the Kafka, plant and monitoring tests: free ports, the
//! pinned test tools of `tests/tools/fetch.sh`, a tansu broker and a throwaway PostgreSQL.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Wait up to 10 s until `what` listens on loopback port `port`.
fn wait_listening(port: u16, what: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tool `tests/tools/fetch.sh` put under `$HOME/.cache/foodqc-tools`, if it is there.
pub fn tool(rel: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let path = home.join(".cache/foodqc-tools").join(rel);
    path.is_file().then_some(path)
}

/// The tansu broker binary (the prebuilt one: topics in memory only).
pub fn tansu() -> Option<PathBuf> {
    tool("tansu-0.6.0/tansu")
}

/// The same tansu built with its SQLite storage, so that topics, offsets and producer state
/// outlive a killed broker.
pub fn tansu_durable() -> Option<PathBuf> {
    tool("tansu-0.6.0-libsql/bin/tansu")
}

/// A tansu broker on `port`, stopped (SIGKILL) when dropped.
pub struct Broker(Child);

impl Broker {
    /// Start one with in-memory storage and wait until it listens.
    pub fn start(bin: &Path, port: u16) -> Broker {
        Self::start_advertising(bin, port, &format!("tcp://127.0.0.1:{port}"))
    }

    /// Start one on `port` that tells clients to come back at `advertised` (a URL), e.g.
    /// through a TLS front.
    pub fn start_advertising(bin: &Path, port: u16, advertised: &str) -> Broker {
        Self::spawn(bin, port, advertised, "memory://tansu/", None)
    }

    /// Start one (a [`tansu_durable`] binary) that keeps everything in a SQLite file in
    /// `dir`: dropped and started again on the same `dir` and port, it is a broker killed and
    /// restarted.
    pub fn start_durable(bin: &Path, port: u16, dir: &Path) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        // (tansu reads the file name relative to its working directory.)
        Self::spawn(bin, port, &url, "sqlite://tansu.db", Some(dir))
    }

    fn spawn(bin: &Path, port: u16, advertised: &str, storage: &str, dir: Option<&Path>) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let mut command = Command::new(bin);
        command
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                advertised,
            ])
            .args(["--storage-engine", storage])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let child = command.spawn().expect("tansu starts");
        wait_listening(port, "tansu");
        Broker(child)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's PostgreSQL server programs (`initdb`, `pg_ctl`), newest version first.
pub fn pg_bin() -> Option<PathBuf> {
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
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    pub fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    pub fn start(bin: PathBuf) -> Postgres {
        Self::start_with(bin, None)
    }

    /// A cluster that takes TLS connections only, with `files`' server certificate.
    pub fn start_tls_only(bin: PathBuf, files: &TlsFiles) -> Postgres {
        Self::start_with(bin, Some(files))
    }

    fn start_with(bin: PathBuf, tls: Option<&TlsFiles>) -> Postgres {
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
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            pg.port,
            pg.dir.path().display()
        );
        if let Some(files) = tls {
            // The server's files in its data folder, its own, the key private.
            for (from, to) in [(&files.cert, "server.crt"), (&files.key, "server.key")] {
                std::fs::copy(from, data.join(to)).unwrap();
                let mut c = Command::new("chmod");
                c.arg("600").arg(data.join(to));
                assert!(c.status().unwrap().success());
                if pg.as_postgres {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(data.join(to));
                    assert!(c.status().unwrap().success());
                }
            }
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            )
            .unwrap();
            opts.push_str(" -c ssl=on");
        }
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

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// psql's answer to `sql`.
    fn run_psql(&self, sql: &str) -> std::process::Output {
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-p"])
            .arg(self.port.to_string())
            .args(["-c", sql])
            .output()
            .expect("psql runs")
    }

    /// One column of a query, read by psql; `None` when psql fails (say, a table the
    /// collector has not made yet).
    pub fn try_psql(&self, sql: &str) -> Option<Vec<String>> {
        let out = self.run_psql(sql);
        out.status.success().then(|| lines(&out.stdout))
    }

    /// One column of a query, read by psql.
    pub fn psql(&self, sql: &str) -> Vec<String> {
        let out = self.run_psql(sql);
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines(&out.stdout)
    }
}

/// The lines of a program's output.
fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(str::to_string)
        .collect()
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

/// GET `path` over plain HTTP/1.0: (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The value of the sample line that starts with `series`.
pub fn metric_sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Files of a test certificate authority and a server certificate it signed for
/// `localhost` and 127.0.0.1 (made with the openssl command).
pub struct TlsFiles {
    /// The authority's certificate (PEM).
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's key (PEM).
    pub key: PathBuf,
}

/// A fresh authority and server certificate in `dir`, or `None` without openssl.
pub fn tls_files(dir: &Path) -> Option<TlsFiles> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .ok()?;
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=foodqc test CA",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    ok.then(|| TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    })
}

/// stunnel, the TLS front of the TLS tests (Debian's stunnel4).
pub fn stunnel() -> Option<PathBuf> {
    ["/usr/bin/stunnel4", "/usr/bin/stunnel"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// stunnel taking TLS on `tls_port` (with `files`' server certificate) to plaintext
/// `plain_port`, stopped when dropped.
pub struct TlsFront(Child);

impl TlsFront {
    /// Start one (its configuration beside the certificates) and wait until it listens.
    pub fn start(bin: &Path, files: &TlsFiles, tls_port: u16, plain_port: u16) -> TlsFront {
        let conf = files
            .cert
            .with_file_name(format!("stunnel-{tls_port}.conf"));
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[front]\naccept = 127.0.0.1:{tls_port}\n\
                 connect = 127.0.0.1:{plain_port}\ncert = {}\nkey = {}\n",
                files.cert.display(),
                files.key.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel starts");
        wait_listening(tls_port, "stunnel");
        TlsFront(child)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every message of `topic` as (key, JSON value), read from the start by kafka-python.
pub fn read_topic(client: &Path, port: u16, topic: &str) -> Vec<(String, serde_json::Value)> {
    read_topic_with(client, &format!("127.0.0.1:{port}"), topic, "")
}

/// As [`read_topic`], from `brokers`, with more `KafkaConsumer` arguments (`extra`, Python).
pub fn read_topic_with(
    client: &Path,
    brokers: &str,
    topic: &str,
    extra: &str,
) -> Vec<(String, serde_json::Value)> {
    let script = format!(
        r#"
import json
from kafka import KafkaConsumer
c = KafkaConsumer({topic:?}, bootstrap_servers="{brokers}", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=6000, group_id=None{extra})
for m in c:
    print(json.dumps([m.key.decode(), json.loads(m.value)]))
"#
    );
    kafka_python(client, &script)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// What `script` printed, run by python3 with kafka-python (`client`) on its path.
pub fn kafka_python(client: &Path, script: &str) -> String {
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}
