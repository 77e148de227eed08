//! The station's events reach a real MQTT broker (Debian's mosquitto, started here on a free
//! loopback port), read back by an independent client (mosquitto_sub): one message per item
//! recorded in SQLite, the retained state with its last will, and a 30 s broker outage in
//! the middle of a run caught up afterwards without holding up inspection.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foodqc::store::Store;

fn find(program: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// A mosquitto broker on loopback with its own config and persistence in a temp dir.
struct Broker {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Broker {
    /// Start one, or `None` (skipped with the reason) when mosquitto is not installed.
    fn start() -> Option<Broker> {
        let (Some(bin), Some(_)) = (find("mosquitto"), find("mosquitto_sub")) else {
            common::skip_or_fail(
                "mosquitto and mosquitto_sub are not installed (apt-get install mosquitto \
                 mosquitto-clients)",
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().unwrap();
        // Started as root, mosquitto drops to its own user, which must be able to write its
        // persistence file here.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        // Persistence keeps the subscriber's session (and its queued QoS 1 messages) across
        // the broker's restart.
        std::fs::write(
            dir.path().join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nautosave_interval 1\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut b = Broker {
            bin,
            dir,
            port,
            child: None,
        };
        b.run();
        Some(b)
    }

    fn run(&mut self) {
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop it the way a service manager does (SIGTERM: it saves its sessions).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}/foodqc", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// mosquitto_sub on `topic` with a persistent QoS 1 session; the lines it printed so far.
struct Subscriber {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Subscriber {
    fn start(broker: &Broker, topic: &str, id: &str) -> Subscriber {
        let mut child = Command::new(find("mosquitto_sub").unwrap())
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
            .args(["-t", topic, "-q", "1", "-v", "-c", "-i", id])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        // Subscribed once a retained probe comes back... simpler: give it a moment to connect.
        std::thread::sleep(Duration::from_millis(500));
        Subscriber { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait until `ok` holds for the lines so far (or the time is up); the lines.
    fn wait_for(&self, within: Duration, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let lines = self.lines();
            if ok(&lines) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON payload of a `topic payload` line from `mosquitto_sub -v`.
fn payload(line: &str) -> serde_json::Value {
    let (_, json) = line.split_once(' ').expect("topic and payload");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// (frame, item, verdict) of every item message, each once (QoS 1 may deliver twice).
fn item_keys(lines: &[String]) -> (BTreeSet<(i64, i64, String)>, usize) {
    let mut keys = BTreeSet::new();
    let mut n = 0;
    for l in lines.iter().filter(|l| l.contains("/items ")) {
        let v = payload(l);
        n += 1;
        keys.insert((
            v["frame"].as_i64().unwrap(),
            v["item"].as_i64().unwrap(),
            v["verdict"].as_str().unwrap().to_string(),
        ));
    }
    (keys, n)
}

/// (frame, item, verdict) of every inspection recorded in the station's database.
fn recorded(data: &Path) -> BTreeSet<(i64, i64, String)> {
    let store = Store::open(&data.join("foodqc.sqlite")).unwrap();
    store
        .recent_inspections(1_000_000)
        .unwrap()
        .into_iter()
        .map(|r| (r.frame_seq, r.item_index, r.verdict.as_str().to_string()))
        .collect()
}

fn inspect(data: &Path, broker: &Broker, frames: u32) -> Command {
    let mut cmd = common::foodqc();
    cmd.arg("--data-dir")
        .arg(data)
        .args(["inspect", "--source", "synthetic:7", "--live", "--json"])
        .args(["--station", "line-3", "--lot", "L-MQTT-1"])
        .args(["--frames", &frames.to_string(), "--mqtt", &broker.url()]);
    cmd
}

/// Every recorded item is published once (with lot and model version), the retained state
/// ends `stopped`, and an independent client reads it all.
#[test]
fn every_recorded_item_is_published_and_the_state_is_retained() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let sub = Subscriber::start(&broker, "foodqc/line-3/#", "peer-items");
    let data = tempfile::tempdir().unwrap();
    let out = common::run_ok(&mut inspect(data.path(), &broker, 300));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let db = recorded(data.path());
    assert!(db.len() > 20, "{} items recorded", db.len());
    let lines = sub.wait_for(Duration::from_secs(10), |l| {
        item_keys(l).0.len() >= db.len()
    });
    let (keys, n) = item_keys(&lines);
    eprintln!(
        "{} items recorded, {n} messages, {} distinct",
        db.len(),
        keys.len()
    );
    assert_eq!(keys, db, "messages received == items recorded in SQLite");
    let first = lines.iter().find(|l| l.contains("/items ")).unwrap();
    let v = payload(first);
    assert_eq!(v["lot"], "L-MQTT-1");
    assert_eq!(v["station"], "line-3");
    assert_eq!(v["v"], 1);
    assert!(v["model_version"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(v["captured_at"].as_str().unwrap().ends_with('Z'));
    // The station said it was running, then stopped (no last will on a clean exit).
    let states: Vec<String> = lines
        .iter()
        .filter(|l| l.contains("/state "))
        .map(|l| payload(l)["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states.first().map(String::as_str),
        Some("running"),
        "{states:?}"
    );
    assert_eq!(
        states.last().map(String::as_str),
        Some("stopped"),
        "{states:?}"
    );
    // The summary counts what the broker acknowledged.
    let line = &summary["line"][0];
    assert_eq!(line["acked"].as_u64(), Some(db.len() as u64), "{summary}");
    // A late subscriber still reads the retained state.
    let late = Subscriber::start(&broker, "foodqc/line-3/state", "peer-late");
    let retained = late.wait_for(Duration::from_secs(5), |l| !l.is_empty());
    assert_eq!(payload(&retained[0])["state"], "stopped");
}

/// A station that dies without saying goodbye shows as offline (its last will).
#[test]
fn a_killed_station_shows_offline() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let sub = Subscriber::start(&broker, "foodqc/line-3/state", "peer-will");
    let data = tempfile::tempdir().unwrap();
    let mut station = inspect(data.path(), &broker, 100_000)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = sub.wait_for(Duration::from_secs(20), |l| {
        l.iter().any(|l| payload(l)["state"] == "running")
    });
    assert!(!running.is_empty(), "no running state");
    station.kill().unwrap();
    station.wait().unwrap();
    // The broker notices the dead connection (socket closed) and publishes the will.
    let lines = sub.wait_for(Duration::from_secs(15), |l| {
        l.last().is_some_and(|l| payload(l)["state"] == "offline")
    });
    assert_eq!(
        lines.last().map(|l| payload(l)["state"].clone()),
        Some(serde_json::json!("offline")),
        "{lines:?}"
    );
}

/// The broker stopped for 30 s in the middle of a run: the station keeps judging at full
/// rate, queues the messages, and delivers every one once the broker is back.
#[test]
fn a_broker_outage_is_caught_up_and_never_holds_up_inspection() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let sub = Subscriber::start(&broker, "foodqc/line-3/items", "peer-outage");
    let data = tempfile::tempdir().unwrap();
    // 48 s of a 30 FPS line: 8 s with the broker, 30 s without, 10 s with it again.
    let frames = 48 * 30;
    let station = inspect(data.path(), &broker, frames)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    let before_outage = item_keys(&sub.lines()).0.len();
    broker.stop();
    std::thread::sleep(Duration::from_secs(30));
    broker.run();
    let out = station.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let db = recorded(data.path());
    let lines = sub.wait_for(Duration::from_secs(30), |l| {
        item_keys(l).0.len() >= db.len()
    });
    let (keys, n) = item_keys(&lines);
    eprintln!(
        "{} items recorded ({before_outage} before the outage), {n} messages, {} distinct; \
         station: {}",
        db.len(),
        keys.len(),
        summary["line"][0]
    );
    assert!(before_outage > 0, "nothing arrived before the outage");
    assert_eq!(keys, db, "every recorded item arrived after the outage");
    // Inspection never waited for the broker: every frame judged, none dropped.
    assert_eq!(
        summary["frames"].as_u64(),
        Some(u64::from(frames)),
        "{summary}"
    );
    assert_eq!(summary["frames_dropped"].as_u64(), Some(0), "{summary}");
    assert_eq!(summary["line"][0]["missed"].as_u64(), Some(0), "{summary}");
}

/// Alarms go out on their topic: a stalled inspection raises a fault alarm and puts the
/// retained state in fault, judging again clears both; a run-rule alarm carries its details.
#[test]
fn faults_and_run_rule_alarms_are_published() {
    use foodqc::lineio::mqtt::{MqttConfig, MqttOutput};
    use foodqc::lineio::{AlarmKind, LineAlarm, LineOutput, LineOutputs};

    let Some(broker) = Broker::start() else {
        return;
    };
    let sub = Subscriber::start(&broker, "foodqc/line-9/#", "peer-alarms");
    let cfg = MqttConfig::from_url(&broker.url()).unwrap();
    let out: Box<dyn LineOutput> = Box::new(MqttOutput::new(cfg, "line-9"));
    let outputs = LineOutputs::start(vec![out], Duration::from_millis(300)).unwrap();
    let on =
        |topic: &'static str| move |l: &String| l.starts_with(&format!("foodqc/line-9/{topic} "));
    // No frame judged: after 300 ms the station is in fault.
    let lines = sub.wait_for(Duration::from_secs(5), |l| {
        l.iter()
            .any(|l| on("alarms")(l) && payload(l)["raised"] == true)
    });
    let raised = lines
        .iter()
        .find(|l| on("alarms")(l))
        .expect("a fault alarm");
    let v = payload(raised);
    assert_eq!(
        (v["kind"].as_str(), v["fault"].as_str()),
        (Some("fault"), Some("stalled"))
    );
    let state = lines.iter().rev().find(|l| on("state")(l)).unwrap();
    assert_eq!(payload(state)["state"], "fault");
    // Judging again clears it.
    outputs.frame_judged();
    let lines = sub.wait_for(Duration::from_secs(5), |l| {
        l.iter()
            .any(|l| on("alarms")(l) && payload(l)["raised"] == false)
    });
    assert!(
        lines
            .iter()
            .any(|l| on("alarms")(l) && payload(l)["raised"] == false)
    );
    outputs.alarm(LineAlarm {
        kind: AlarmKind::RunRule,
        raised: true,
        message: "reject rate 40.0 % above the limit".into(),
        details: serde_json::json!({ "p": 0.4, "rules": [1] }),
        at: std::time::SystemTime::now(),
    });
    let lines = sub.wait_for(Duration::from_secs(5), |l| {
        l.iter()
            .any(|l| on("alarms")(l) && payload(l)["kind"] == "run_rule")
    });
    let rule = lines
        .iter()
        .find(|l| on("alarms")(l) && payload(l)["kind"] == "run_rule")
        .expect("the run-rule alarm");
    let v = payload(rule);
    assert_eq!(
        (v["p"].as_f64(), v["rules"][0].as_u64()),
        (Some(0.4), Some(1))
    );
    let counters = outputs.stop(Duration::from_secs(2));
    assert!(counters[0].1.last_error.is_none(), "{:?}", counters[0].1);
}
