//! The camera bench: N synthetic 1280x720 lines at 30 FPS in one process, each its own
//! station with overlays drawn and every item recorded through one shared recorder, for a
//! number of seconds. It measures what a line PC with several cameras needs to know: frames
//! dropped per camera, capture -> verdict (median, p99) per camera, and the process's CPU.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;
use crate::capture::{SourceOptions, SourceSpec};
use crate::domain::AppPaths;
use crate::model::AnomalyModel;
use crate::station::group::StationGroup;
use crate::station::{LotInfo, StationConfig};
use crate::store::Store;

/// How to run the camera bench.
#[derive(Clone, Debug)]
pub struct CamerasOptions {
    /// Cameras (stations) at once.
    pub cameras: usize,
    /// How long the lines run.
    pub duration: Duration,
    /// Frames per second of each line.
    pub fps: f64,
    /// The (scratch) data folder the stations record into.
    pub paths: AppPaths,
}

/// One camera's figures.
#[derive(Clone, Debug, Serialize)]
pub struct CameraFigures {
    /// Station name.
    pub station: String,
    /// Frames captured.
    pub frames: u64,
    /// Frames dropped because inspection fell behind.
    pub dropped: u64,
    /// Items judged.
    pub items: u64,
    /// Capture -> verdict, ms: median and p99.
    pub latency_ms: (f64, f64),
}

/// What the camera bench measured.
#[derive(Clone, Debug, Serialize)]
pub struct CamerasReport {
    /// Each camera.
    pub cameras: Vec<CameraFigures>,
    /// Seconds the lines ran.
    pub seconds: f64,
    /// CPU time of the process over the run, in % of one core (200 % is both cores here).
    pub cpu_percent: f64,
    /// Rows in the database at the end.
    pub rows: u64,
    /// Items judged over all cameras.
    pub items: u64,
}

impl CamerasReport {
    /// Frames dropped over all cameras.
    pub fn dropped(&self) -> u64 {
        self.cameras.iter().map(|c| c.dropped).sum()
    }

    /// The worst camera's p99 capture -> verdict, ms.
    pub fn worst_p99_ms(&self) -> f64 {
        self.cameras
            .iter()
            .map(|c| c.latency_ms.1)
            .fold(0.0, f64::max)
    }
}

/// CPU seconds this process has used (user + system), from /proc (Linux).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    // USER_HZ is 100 on Linux whatever the kernel's HZ.
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

/// Run the camera bench.
pub fn cameras_bench(
    opts: &CamerasOptions,
    model: Arc<AnomalyModel>,
) -> Result<CamerasReport, BenchError> {
    let frames = (opts.duration.as_secs_f64() * opts.fps).round() as u64;
    let configs = (1..=opts.cameras)
        .map(|i| StationConfig {
            station_name: format!("camera-{i}"),
            source: SourceSpec::Synthetic {
                seed: 100 + i as u64,
            },
            source_options: SourceOptions {
                fps: opts.fps,
                ..SourceOptions::default()
            },
            lot: LotInfo {
                code: "BENCH".into(),
                product: "synthetic".into(),
                line: format!("line {i}"),
                shift: "A".into(),
            },
            live: true,
            max_frames: Some(frames),
            paths: opts.paths.clone(),
            reject_samples_per_minute: 60,
            reject_on_doubt: false,
            recipe: None,
            operator: None,
            line_outputs: Vec::new(),
        })
        .collect();
    let cpu0 = process_cpu_seconds();
    let started = Instant::now();
    let group = StationGroup::start(configs, model)?;
    let (stats, _) = group.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_percent = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) => (b - a) / seconds * 100.0,
        _ => f64::NAN,
    };
    let rows = Store::open(&opts.paths.db_path())?.count_inspections()?.0 as u64;
    let cameras: Vec<CameraFigures> = stats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let lat: Vec<f64> = s.recent_latency_ms.iter().copied().collect();
            CameraFigures {
                station: format!("camera-{}", i + 1),
                frames: s.frames_captured,
                dropped: s.frames_dropped,
                items: s.items,
                latency_ms: (
                    crate::model::metrics::quantile(&lat, 0.5),
                    crate::model::metrics::quantile(&lat, 0.99),
                ),
            }
        })
        .collect();
    Ok(CamerasReport {
        items: cameras.iter().map(|c| c.items).sum(),
        cameras,
        seconds,
        cpu_percent,
        rows,
    })
}
