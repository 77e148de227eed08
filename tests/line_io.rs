//! The station's decisions reach a PLC over Modbus TCP: against foodqc's own line simulator
//! (every reject fired, no good item fired, nothing missed or late, the ack round trip
//! measured), against an independent server (pymodbus: the register map as a third party
//! reads it, and the ring's handshake holding the ninth item until the PLC acks), and with
//! the PLC gone (the output says so within a second; inspection is never held up).

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use foodqc::domain::Verdict;
use foodqc::lineio::line_sim::{LineSim, SimConfig};
use foodqc::lineio::modbus::{ModbusConfig, ModbusOutput};
use foodqc::lineio::register_map::{self as map, ItemSlot};
use foodqc::lineio::{ItemDecision, LineOutput, LineOutputs};

fn decision(i: u32) -> ItemDecision {
    // Every fifth item a reject, every seventh a review.
    let verdict = if i.is_multiple_of(5) {
        Verdict::Reject
    } else if i.is_multiple_of(7) {
        Verdict::Review
    } else {
        Verdict::Pass
    };
    ItemDecision {
        seq: 0,
        captured_at: SystemTime::now(),
        track_id: Some(u64::from(i)),
        x_permille: (i * 37 % 1000) as u16,
        verdict,
        class_id: u16::from(verdict == Verdict::Reject),
        score: f64::from(i) / 100.0,
        frame_seq: u64::from(i),
        item_index: 0,
        defect_class: None,
        lot: "L1".into(),
        model_version: "test".into(),
    }
}

/// The station's outputs with one Modbus output to `addr`; no frame judged for `stall` is a
/// fault.
fn outputs_with_stall(addr: SocketAddr, stall: Duration) -> LineOutputs {
    let cfg = ModbusConfig::from_url(&format!("modbus-tcp://{addr}")).unwrap();
    let out: Box<dyn LineOutput> = Box::new(ModbusOutput::new(cfg));
    LineOutputs::start(vec![out], stall).unwrap()
}

fn outputs(addr: SocketAddr) -> LineOutputs {
    outputs_with_stall(addr, Duration::from_secs(60))
}

/// Inspection that stops judging frames puts the station in fault for the PLC, and the
/// heartbeat stops; judging again clears it. A pause is no fault.
#[test]
fn a_stalled_inspection_stops_the_heartbeat_and_says_fault() {
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let out = outputs_with_stall(sim.addr(), Duration::from_millis(300));
    let wait_for = |what: &str, ok: &dyn Fn(&foodqc::lineio::line_sim::SimCounts) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !ok(&sim.counts()) {
            assert!(Instant::now() < deadline, "{what}: {:?}", sim.counts());
            if what == "running again" {
                out.frame_judged();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("fault", &|c| c.state == Some(map::StationState::Fault));
    assert_eq!(sim.counts().fault, Some(map::FaultCode::Stalled));
    let beat = sim.counts().heartbeat;
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        sim.counts().heartbeat,
        beat,
        "the heartbeat must stop in fault"
    );
    wait_for("running again", &|c| {
        c.state == Some(map::StationState::Running)
    });
    out.set_paused(true);
    wait_for("paused", &|c| c.state == Some(map::StationState::Paused));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.counts().state, Some(map::StationState::Paused));
}

#[test]
fn every_reject_is_fired_and_no_good_item_is() {
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let mut out = outputs(sim.addr());
    let n = 600u32;
    let mut longest_send = Duration::ZERO;
    for i in 1..=n {
        let t = Instant::now();
        out.send(decision(i));
        longest_send = longest_send.max(t.elapsed());
        // Three items per frame at 100 frames a second: faster than any line here.
        if i.is_multiple_of(3) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let counters = out.stop(Duration::from_secs(2));
    let line = sim.stop();
    let (_, c) = &counters[0];
    let rejects: std::collections::BTreeSet<u32> =
        (1..=n).filter(|i| i.is_multiple_of(5)).collect();
    assert_eq!(line.fired_seqs, rejects, "{line:?}");
    assert_eq!((line.items, line.missed, line.late), (u64::from(n), 0, 0));
    assert_eq!(
        (c.sent, c.acked, c.missed, c.dropped),
        (u64::from(n), u64::from(n), 0, 0)
    );
    let (median, p99) = c.latency_median_p99().unwrap();
    eprintln!(
        "capture -> PLC ack: median {median:.2} ms, p99 {p99:.2} ms; longest send {longest_send:?}"
    );
    assert!(p99 < 100.0, "p99 {p99} ms");
    assert!(longest_send < Duration::from_millis(5), "{longest_send:?}");
    assert!(line.heartbeat > 0, "the heartbeat never moved");
}

#[test]
fn a_lost_plc_shows_within_a_second_and_sending_never_blocks() {
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let mut out = outputs(sim.addr());
    for i in 1..=30 {
        out.send(decision(i));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while out.counters()[0].1.acked < 30 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(out.counters()[0].1.connected);
    drop(sim);
    let gone = Instant::now();
    // Keep sending as a running station would: each send returns at once.
    let mut i = 31;
    while out.counters()[0].1.connected && gone.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        out.send(decision(i));
        assert!(t.elapsed() < Duration::from_millis(5));
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = gone.elapsed();
    let c = &out.counters()[0].1;
    assert!(!c.connected, "still connected after {seen:?}");
    assert!(seen < Duration::from_secs(1), "fault seen after {seen:?}");
    assert!(c.last_error.is_some());
}

/// A test fire reaches the ejector (and only the PLC); decisions lost while the PLC was away
/// latch fault 4 until the PLC's reset counter moves.
#[test]
fn a_test_fire_reaches_the_ejector_and_the_plc_resets_a_latched_fault() {
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let mut out = outputs(sim.addr());
    assert!(out.test_fire(), "a PLC output hears a test fire");
    let deadline = Instant::now() + Duration::from_secs(2);
    while sim.counts().fired < 1 {
        assert!(Instant::now() < deadline, "{:?}", sim.counts());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(out.counters()[0].1.test_fires, 1);
    drop(out);

    // An output whose backlog overflows before it ever reaches the PLC.
    let mut cfg = ModbusConfig::from_url(&format!("modbus-tcp://{}", sim.addr())).unwrap();
    cfg.backlog = 2;
    let mut plc = ModbusOutput::new(cfg);
    for i in 1..=5 {
        plc.item(decision(i));
    }
    assert_eq!(plc.counters().missed, 3);
    let tick_until = |plc: &mut ModbusOutput, what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !ok() {
            assert!(Instant::now() < deadline, "{what}: {:?}", sim.counts());
            plc.tick();
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    tick_until(&mut plc, "latched fault", &|| {
        sim.counts().fault == Some(map::FaultCode::QueueOverflow)
    });
    // Still latched while the station says all is well.
    plc.state(map::StationState::Running, map::FaultCode::None);
    for _ in 0..10 {
        plc.tick();
    }
    assert_eq!(sim.counts().fault, Some(map::FaultCode::QueueOverflow));
    sim.set_input(map::IR_RESET, 1);
    tick_until(&mut plc, "reset", &|| {
        sim.counts().fault == Some(map::FaultCode::None)
    });
    assert_eq!(plc.counters().plc_inputs.map(|i| i.reset), Some(1));
}

/// The station follows the PLC: a lot number written into the input registers becomes the
/// lot the items are recorded under; with reject on doubt, review items go to the ejector.
#[test]
fn the_station_follows_the_plc_lot_and_rejects_on_doubt() {
    use foodqc::capture::synthetic::{SyntheticConfig, SyntheticLine};
    use foodqc::capture::{SourceOptions, SourceSpec};
    use foodqc::domain::AppPaths;
    use foodqc::lineio::LineOutputSpec;
    use foodqc::station::{LotInfo, Station, StationConfig};

    let dir = tempfile::tempdir().unwrap();
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let (fps, frames) = (30.0, 600);
    let cfg = StationConfig {
        station_name: "plc-lot".into(),
        source: SourceSpec::Synthetic { seed: 5 },
        source_options: SourceOptions {
            fps,
            ..Default::default()
        },
        lot: LotInfo {
            code: "START".into(),
            ..LotInfo::default()
        },
        live: true,
        max_frames: Some(frames),
        paths: AppPaths {
            data_dir: dir.path().to_path_buf(),
        },
        reject_samples_per_minute: 0,
        reject_on_doubt: true,
        recipe: None,
        operator: None,
        line_outputs: vec![
            LineOutputSpec::parse_plc(&format!("modbus-tcp://{}", sim.addr())).unwrap(),
        ],
    };
    let line = SyntheticConfig {
        seed: 5,
        fps,
        ..Default::default()
    };
    // A wide review band (half the reject threshold and up), so the run has items in doubt.
    let mut model = foodqc::model::AnomalyModel::bundled().unwrap();
    model.thresholds.review = Some(model.thresholds.reject * 0.5);
    let station = Station::start_with_source(
        cfg,
        Box::new(SyntheticLine::new(line)),
        std::sync::Arc::new(model),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    sim.set_input(map::IR_LOT, 4711);
    let deadline = Instant::now() + Duration::from_secs(5);
    while station.stats().lot != "4711" {
        assert!(Instant::now() < deadline, "lot {}", station.stats().lot);
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = station.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let line = sim.stop();
    let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let lots: std::collections::BTreeSet<String> = store
        .recent_inspections(100_000)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.lot_code)
        .collect();
    assert_eq!(
        lots,
        ["4711".to_string(), "START".to_string()].into(),
        "items before and after the PLC's lot"
    );
    let audit = store.audit_entries(10_000).unwrap();
    assert!(
        audit.iter().any(|e| e.action == "station.lot_from_plc"),
        "the switch is audited"
    );
    eprintln!(
        "{} items: {} rejects, {} reviews; ejector fired {}",
        stats.items, stats.rejects, stats.reviews, line.fired
    );
    assert!(stats.reviews > 0, "the seed gives review items");
    assert_eq!(line.fired, stats.rejects + stats.reviews, "reject on doubt");
    assert_eq!((line.missed, line.late), (0, 0));
}

/// The PLC's recipe register selects the recipe that answers to its index, between two
/// frames, audited as coming from the PLC.
#[test]
fn the_plc_selects_the_recipe() {
    use foodqc::capture::{SourceOptions, SourceSpec};
    use foodqc::domain::{AppPaths, Recipe};
    use foodqc::lineio::LineOutputSpec;
    use foodqc::station::{LotInfo, Station, StationConfig};

    let dir = tempfile::tempdir().unwrap();
    let mut store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let recipe = Recipe {
        name: "mantequilla".into(),
        plc_index: Some(7),
        reject_on_doubt: true,
        ..Recipe::default()
    };
    store.save_recipe(&recipe, "qc").unwrap();
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let cfg = StationConfig {
        station_name: "plc-recipe".into(),
        source: SourceSpec::Synthetic { seed: 4 },
        source_options: SourceOptions::default(),
        lot: LotInfo::default(),
        live: true,
        max_frames: None,
        paths: AppPaths {
            data_dir: dir.path().to_path_buf(),
        },
        reject_samples_per_minute: 0,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: vec![
            LineOutputSpec::parse_plc(&format!("modbus-tcp://{}", sim.addr())).unwrap(),
        ],
    };
    let model = std::sync::Arc::new(foodqc::model::AnomalyModel::bundled().unwrap());
    let station = Station::start(cfg, model).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(station.stats().recipe, "");
    sim.set_input(map::IR_RECIPE, 7);
    let asked = Instant::now();
    while station.stats().recipe != "mantequilla v1" {
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "{:?}",
            station.stats().recipe
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("recipe switched {:?} after the PLC asked", asked.elapsed());
    station.stop().unwrap();
    let entry = store
        .audit_entries(1000)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "station.recipe")
        .expect("audited");
    assert_eq!(entry.details["source"], "plc");
    assert_eq!(entry.details["to"], "mantequilla v1");
}

/// The pymodbus server of `tests/peers/modbus_server.py`, on a free port.
struct Peer {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python that has pymodbus 3 (the API the peer script speaks): the one on PATH, else
/// Debian's (python3-pymodbus).
fn python() -> Option<&'static str> {
    let probe =
        "from pymodbus.client import ModbusTcpClient\nfrom pymodbus.server import StartTcpServer";
    let found = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", probe])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        common::skip_or_fail(
            "pymodbus 3 is not installed (apt-get install python3-pymodbus, or pip install pymodbus)",
        );
    }
    found
}

fn pymodbus_server() -> Option<Peer> {
    let py = python()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/modbus_server.py");
    let child = Command::new(py)
        .arg(script)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "pymodbus server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Peer { child, addr })
}

/// Read holding registers with pymodbus's own client.
fn peer_read(addr: SocketAddr, start: u16, count: u16) -> Vec<u16> {
    let code = format!(
        "from pymodbus.client import ModbusTcpClient\n\
         c = ModbusTcpClient('127.0.0.1', port={})\n\
         assert c.connect()\n\
         r = c.read_holding_registers({start}, count={count})\n\
         print(' '.join(map(str, r.registers)))\n",
        addr.port()
    );
    let out = common::run_ok(Command::new(python().unwrap()).args(["-c", &code]));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn a_third_party_modbus_server_reads_the_map_and_the_ring_waits_for_the_ack() {
    let Some(peer) = pymodbus_server() else {
        return;
    };
    let mut out = outputs(peer.addr);
    // The peer never acks: the ring's eight slots fill, the ninth decision waits.
    for i in 1..=9 {
        out.send(decision(i));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.counters()[0].1.sent < 8 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let c = out.counters()[0].1.clone();
    assert_eq!((c.sent, c.acked), (8, 0), "{c:?}");
    assert!(c.late >= 1, "unacked items count late: {c:?}");

    let status = peer_read(peer.addr, map::HR_STATUS, map::STATUS_LEN);
    assert_eq!(status[0], map::MAP_VERSION);
    assert!(status[1] > 0, "heartbeat {status:?}");
    assert_eq!(status[2], map::StationState::Running as u16);
    assert_eq!((status[4], status[5]), (map::SLOTS, 8));
    for i in 1..=8u32 {
        let regs = peer_read(peer.addr, map::slot_address(i), map::SLOT_LEN);
        let slot = ItemSlot::from_registers(&regs).expect("a whole slot");
        let d = decision(i);
        assert_eq!(slot.seq, i);
        assert_eq!(slot.track_id as u32, i);
        assert_eq!(slot.verdict, map::verdict_code(d.verdict));
        assert_eq!(slot.score_milli, map::score_register(d.score));
        assert_eq!(slot.x_permille, d.x_permille);
    }
    drop(out);
}

/// foodqc's simulator answers a third-party client (pymodbus) as a PLC would: the slot the
/// station wrote and the ack the simulator gave read back through another implementation.
#[test]
fn the_line_simulator_answers_a_third_party_client() {
    let Some(py) = python() else {
        return;
    };
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let mut out = outputs(sim.addr());
    for i in 1..=3 {
        out.send(decision(i));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while out.counters()[0].1.acked < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(out);
    let regs = peer_read(sim.addr(), map::slot_address(3), map::SLOT_LEN);
    let slot = ItemSlot::from_registers(&regs).expect("slot 3 as written");
    assert_eq!((slot.seq, slot.track_id), (3, 3));
    let code = format!(
        "from pymodbus.client import ModbusTcpClient\n\
         c = ModbusTcpClient('127.0.0.1', port={})\n\
         assert c.connect()\n\
         print(c.read_input_registers({}, count=1).registers[0])\n",
        sim.addr().port(),
        map::IR_ACK
    );
    let out = common::run_ok(Command::new(py).args(["-c", &code]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
}

/// A camera that gives 20 frames of the synthetic line and is then unplugged.
struct UnpluggedCamera {
    line: foodqc::capture::synthetic::SyntheticLine,
    left: u32,
}

impl foodqc::capture::FrameSource for UnpluggedCamera {
    fn describe(&self) -> String {
        "camera 0 (unplugged after 20 frames)".into()
    }
    fn pacing(&self) -> foodqc::capture::Pacing {
        foodqc::capture::Pacing::Fps(30.0)
    }
    fn is_continuous(&self) -> bool {
        true
    }
    fn next_frame(
        &mut self,
    ) -> Result<Option<foodqc::capture::Frame>, foodqc::capture::CaptureError> {
        if self.left == 0 {
            return Err(foodqc::capture::CaptureError::CameraLost {
                index: 0,
                reason: "unplugged".into(),
            });
        }
        self.left -= 1;
        foodqc::capture::FrameSource::next_frame(&mut self.line)
    }
}

/// A lost camera puts the station in fault "source lost" for the PLC within a second (the
/// station keeps trying to reopen it; there is no camera on this machine, so it stays lost).
#[test]
fn a_lost_camera_is_a_source_lost_fault() {
    use foodqc::capture::synthetic::{SyntheticConfig, SyntheticLine};
    use foodqc::capture::{SourceOptions, SourceSpec};
    use foodqc::domain::AppPaths;
    use foodqc::lineio::LineOutputSpec;
    use foodqc::station::{LotInfo, Station, StationConfig};

    let dir = tempfile::tempdir().unwrap();
    let sim = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let cfg = StationConfig {
        station_name: "cam-lost".into(),
        source: SourceSpec::Camera { index: 0 },
        source_options: SourceOptions::default(),
        lot: LotInfo::default(),
        live: true,
        max_frames: None,
        paths: AppPaths {
            data_dir: dir.path().to_path_buf(),
        },
        reject_samples_per_minute: 0,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: vec![
            LineOutputSpec::parse_plc(&format!("modbus-tcp://{}", sim.addr())).unwrap(),
        ],
    };
    let camera = UnpluggedCamera {
        line: SyntheticLine::new(SyntheticConfig::default()),
        left: 20,
    };
    let model = std::sync::Arc::new(foodqc::model::AnomalyModel::bundled().unwrap());
    let station = Station::start_with_source(cfg, Box::new(camera), model).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !station.stats().source_lost {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            station.stats().source_problem
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let lost_at = Instant::now();
    while sim.counts().fault != Some(map::FaultCode::SourceLost) {
        assert!(
            lost_at.elapsed() < Duration::from_secs(1),
            "PLC sees {:?} / {:?}",
            sim.counts().state,
            sim.counts().fault
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("source lost seen by the PLC after {:?}", lost_at.elapsed());
    assert_eq!(sim.counts().state, Some(map::StationState::Fault));
    station.stop().unwrap();
}
