//! The line bench: the live synthetic line at its frame rate with `foodqc line-sim` as the PLC
//! (in process, over loopback Modbus TCP) and optionally an MQTT broker, for a number of
//! seconds. It measures what the issue of line I/O asks: capture -> decision -> acknowledged,
//! median and p99, per output, and whether the simulated ejector fired exactly the rejects.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;
use crate::capture::{SourceOptions, SourceSpec};
use crate::domain::AppPaths;
use crate::lineio::LineOutputSpec;
use crate::lineio::line_sim::{LineSim, SimConfig};
use crate::model::AnomalyModel;
use crate::station::{LotInfo, Station, StationConfig};

/// How to run the line bench.
#[derive(Clone, Debug)]
pub struct LineBenchOptions {
    /// How long the line runs.
    pub duration: Duration,
    /// Frames per second of the synthetic line.
    pub fps: f64,
    /// Further outputs beside the simulated PLC (an MQTT broker).
    pub extra_outputs: Vec<LineOutputSpec>,
    /// The (scratch) data folder the station records into.
    pub paths: AppPaths,
}

/// One output's figures.
#[derive(Clone, Debug, Serialize)]
pub struct OutputFigures {
    /// The output (`modbus-tcp://...`, `mqtt://...`).
    pub output: String,
    /// Decisions sent, acknowledged, late, missed, dropped.
    pub sent: u64,
    /// Acknowledged by the PLC or broker.
    pub acked: u64,
    /// Acknowledged after the ack timeout.
    pub late: u64,
    /// Never delivered.
    pub missed: u64,
    /// Dropped at the output's queue.
    pub dropped: u64,
    /// Capture -> acknowledged, ms: median and p99.
    pub capture_to_ack_ms: Option<(f64, f64)>,
    /// Written -> acknowledged (the protocol's round trip), ms: median and p99.
    pub round_trip_ms: Option<(f64, f64)>,
}

/// What the line bench measured.
#[derive(Clone, Debug, Serialize)]
pub struct LineBenchReport {
    /// Seconds the line ran.
    pub seconds: f64,
    /// Frames captured, and dropped by inspection falling behind.
    pub frames: u64,
    /// Frames dropped.
    pub frames_dropped: u64,
    /// Items judged and rejected.
    pub items: u64,
    /// Rejected items.
    pub rejects: u64,
    /// The simulated ejector: items read, fired, late and missed rejects.
    pub ejector: (u64, u64, u64, u64),
    /// Each output.
    pub outputs: Vec<OutputFigures>,
}

impl LineBenchReport {
    /// Whether the ejector fired exactly the rejects, none late or missed.
    pub fn ejector_exact(&self) -> bool {
        let (read, fired, late, missed) = self.ejector;
        read == self.items && fired == self.rejects && late == 0 && missed == 0
    }
}

/// Run the line bench.
pub fn line_bench(
    opts: &LineBenchOptions,
    model: Arc<AnomalyModel>,
) -> Result<LineBenchReport, BenchError> {
    let sim = LineSim::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        SimConfig::default(),
    )
    .map_err(BenchError::LineSim)?;
    let plc = LineOutputSpec::parse_plc(&format!("modbus-tcp://{}", sim.addr()))
        .expect("a socket address is a valid Modbus URL");
    let cfg = StationConfig {
        station_name: "line-bench".into(),
        source: SourceSpec::Synthetic { seed: 11 },
        source_options: SourceOptions {
            fps: opts.fps,
            ..SourceOptions::default()
        },
        lot: LotInfo {
            code: "BENCH".into(),
            product: "synthetic".into(),
            line: "bench".into(),
            shift: "A".into(),
        },
        live: true,
        max_frames: Some((opts.duration.as_secs_f64() * opts.fps).round() as u64),
        paths: opts.paths.clone(),
        reject_samples_per_minute: 0,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: std::iter::once(plc)
            .chain(opts.extra_outputs.iter().cloned())
            .collect(),
    };
    let started = Instant::now();
    let station = Station::start(cfg, model)?;
    let stats = station.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    // The PLC scans every few ms: give it a moment to fire what the last frames sent.
    std::thread::sleep(Duration::from_millis(300));
    let ejector = sim.stop();
    Ok(LineBenchReport {
        seconds,
        frames: stats.frames_captured,
        frames_dropped: stats.frames_dropped,
        items: stats.items,
        rejects: stats.rejects,
        ejector: (ejector.items, ejector.fired, ejector.late, ejector.missed),
        outputs: stats
            .line
            .iter()
            .map(|(name, c)| OutputFigures {
                output: name.clone(),
                sent: c.sent,
                acked: c.acked,
                late: c.late,
                missed: c.missed,
                dropped: c.dropped,
                capture_to_ack_ms: c.latency_median_p99(),
                round_trip_ms: c.round_trip_median_p99(),
            })
            .collect(),
    })
}
