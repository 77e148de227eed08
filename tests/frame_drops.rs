//! The station on a live 30 FPS synthetic line for 60 s, wired to the line simulator as its
//! PLC over Modbus TCP: no frame may be dropped, every judged item must be recorded, and every
//! reject must reach the ejector in time (none missed, none late, no pass fired). A
//! regression that makes inspection slower than the camera shows up here as dropped frames;
//! the speed itself is measured by `foodqc bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foodqc::capture::synthetic::{SyntheticConfig, SyntheticLine};
use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::AppPaths;
use foodqc::lineio::LineOutputSpec;
use foodqc::lineio::line_sim::{LineSim, SimConfig};
use foodqc::model::AnomalyModel;
use foodqc::station::{LotInfo, Station, StationConfig};
use foodqc::store::Store;

#[test]
fn live_30_fps_line_for_60_s_drops_no_frame_and_records_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let (fps, seconds) = (30.0, 60u64);
    let frames = fps as u64 * seconds;
    let seed = 3;
    let line = SyntheticConfig {
        seed,
        fps,
        ..Default::default()
    };
    let plc = LineSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default()).unwrap();
    let cfg = StationConfig {
        station_name: "frame-drop-test".into(),
        source: SourceSpec::Synthetic { seed },
        source_options: SourceOptions {
            fps,
            ..Default::default()
        },
        lot: LotInfo::default(),
        // Live: paced to 30 FPS, and a frame is dropped whenever inspection falls behind.
        live: true,
        max_frames: Some(frames),
        paths: AppPaths {
            data_dir: dir.path().to_path_buf(),
        },
        reject_samples_per_minute: 10,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: vec![
            LineOutputSpec::parse_plc(&format!("modbus-tcp://{}", plc.addr())).unwrap(),
        ],
    };
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let started = Instant::now();
    let station =
        Station::start_with_source(cfg, Box::new(SyntheticLine::new(line)), model).unwrap();
    // The capture thread stops after `frames`; then wait for the inspector to catch up.
    let deadline = started + Duration::from_secs(seconds * 3);
    while station.stats().frames_inspected + station.stats().frames_dropped < frames
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = station.stop().unwrap();
    let elapsed = started.elapsed();
    let mut ms: Vec<f64> = stats.recent_inspect_ms.iter().copied().collect();
    ms.sort_by(f64::total_cmp);
    eprintln!(
        "{} frames in {elapsed:.1?}: {} dropped, {} items, inspection median {:.1} ms, max {:.1} ms",
        stats.frames_captured,
        stats.frames_dropped,
        stats.items,
        ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN),
        ms.last().copied().unwrap_or(f64::NAN),
    );
    assert_eq!(stats.frames_captured, frames, "{stats:?}");
    assert_eq!(stats.frames_dropped, 0, "inspection fell behind the camera");
    assert_eq!(stats.frames_inspected, frames);
    // An item crosses the frame in about 3 s: a minute of belt carries over 100 (114 with this seed).
    assert!(stats.items > 90, "{} items", stats.items);
    assert_eq!(stats.recorder.recorded, stats.items, "{:?}", stats.recorder);
    assert_eq!(stats.recorder.dropped, 0);
    let store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let (total, rejects) = store.count_inspections().unwrap();
    assert_eq!((total as u64, rejects as u64), (stats.items, stats.rejects));

    // The PLC heard every decision: each reject fired in time, nothing else fired.
    let line = plc.stop();
    let (name, out) = &stats.line[0];
    let (median, p99) = out.round_trip_median_p99().expect("acks");
    let (cap_median, cap_p99) = out.latency_median_p99().expect("acks");
    eprintln!(
        "{name}: {out_sent} sent, {acked} acked; write -> ack median {median:.2} ms, p99 \
         {p99:.2} ms; capture -> ack median {cap_median:.1} ms, p99 {cap_p99:.1} ms; line: {line:?}",
        out_sent = out.sent,
        acked = out.acked,
        line = (line.items, line.fired, line.late, line.missed)
    );
    assert_eq!((out.sent, out.acked), (stats.items, stats.items), "{out:?}");
    assert_eq!((out.missed, out.dropped, out.late), (0, 0, 0), "{out:?}");
    assert_eq!(line.items, stats.items);
    assert_eq!((line.missed, line.late), (0, 0));
    assert_eq!(
        line.fired, stats.rejects,
        "every reject fired, no pass or review"
    );
    assert!(p99 < 20.0, "Modbus round trip p99 {p99:.2} ms");
}
