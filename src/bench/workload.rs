//! One workload (photos or frames) timed run after run through the pipeline, recording into
//! a scratch database as the station does.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::pipeline::pipeline_once;
use super::{BenchError, STAGES};
use crate::model::AnomalyModel;
use crate::model::metrics::quantile;
use crate::store::{InspectionRecorder, RecordSender, Store};
use crate::vision::segment::Segmenter;

/// Median and 95th percentile of one timed quantity, ms.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// Stage name (or "end to end").
    pub stage: String,
    /// Median, ms.
    pub median_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Median CPU time of the process over the same spans, ms: on a loaded machine the wall
    /// time includes waiting for a core, the CPU time does not (Linux; NaN elsewhere).
    pub cpu_median_ms: f64,
}

impl Timing {
    /// The timing of `stage` from its wall times `ms` and CPU times `cpu_ms`.
    pub(super) fn of(stage: &str, ms: &[f64], cpu_ms: &[f64]) -> Self {
        Self {
            stage: stage.to_string(),
            median_ms: quantile(ms, 0.5),
            p95_ms: quantile(ms, 0.95),
            mean_ms: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
            cpu_median_ms: quantile(cpu_ms, 0.5),
        }
    }
}

/// Timings of one workload (photos or frames).
#[derive(Clone, Debug, Serialize)]
pub struct Workload {
    /// What was timed, e.g. "cookie photos".
    pub name: String,
    /// Size of the inputs, pixels (of the first; photos may differ).
    pub width: u32,
    pub height: u32,
    /// The model's binning: inputs are decoded reduced by this factor per axis and every
    /// stage, the pixel heat map included, works at that resolution (`foodqc eval` spreads
    /// the heat map back over the full size only to compare it with the masks).
    pub binning: u32,
    /// Distinct inputs cycled through.
    pub inputs: usize,
    /// Timed runs.
    pub runs: usize,
    /// Items judged per run, mean.
    pub items_per_run: f64,
    /// One entry per stage, in [`STAGES`] order.
    pub stages: Vec<Timing>,
    /// Decode to record.
    pub end_to_end: Timing,
    /// Inputs per second at the median end-to-end time.
    pub fps_median: f64,
    /// Inputs per second over all timed runs (total work / total time).
    pub fps_mean: f64,
}

/// A real recorder on a scratch database, as the station uses it.
pub(super) struct Recorder {
    recorder: InspectionRecorder,
    pub(super) sender: RecordSender,
    pub(super) station_id: i64,
    pub(super) lot_id: i64,
}

impl Recorder {
    /// Opens `bench.sqlite3` in `dir` with a bench station and lot, and starts its recorder.
    pub(super) fn open(dir: &Path) -> Result<Self, BenchError> {
        let db = dir.join("bench.sqlite3");
        let mut store = Store::open(&db)?;
        let station_id = store.upsert_station("bench", "bench")?;
        let lot_id = store.get_or_create_lot("BENCH", "bench", "bench", "A")?;
        let recorder = InspectionRecorder::spawn(db, dir.join("samples"), 65536)?;
        let sender = recorder.sender();
        Ok(Self {
            recorder,
            sender,
            station_id,
            lot_id,
        })
    }

    /// Writes what is queued and stops the recorder.
    pub(super) fn finish(self) -> Result<(), BenchError> {
        drop(self.sender);
        self.recorder.finish()?;
        Ok(())
    }
}

/// Time `runs` passes over `inputs` (cycled) after one untimed warm-up pass.
pub(super) fn bench_workload(
    name: &str,
    inputs: &[Vec<u8>],
    model: &Arc<AnomalyModel>,
    photos: bool,
    runs: usize,
    recorder: &Recorder,
) -> Result<Workload, BenchError> {
    let mut seg = Segmenter::new(model.segment.clone());
    let mut per_stage: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); STAGES.len()];
    let mut per_stage_cpu: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); STAGES.len()];
    let mut end_to_end = Vec::with_capacity(runs);
    let mut end_to_end_cpu = Vec::with_capacity(runs);
    let (mut items, mut size) = (0usize, (0, 0));
    // Full sizes from the headers, outside the timed work.
    let sizes = inputs
        .iter()
        .map(|b| {
            image::ImageReader::new(std::io::Cursor::new(b))
                .with_guessed_format()
                .map_err(image::ImageError::from)
                .and_then(|r| r.into_dimensions())
                .map_err(BenchError::Size)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let warmup = inputs.len().min(runs);
    for run in 0..warmup + runs.max(1) {
        let i = run % inputs.len();
        let bytes = &inputs[i];
        let (t, cpu, n) = pipeline_once(bytes, model, &mut seg, photos, run as u64, recorder)?;
        if run < warmup {
            continue;
        }
        for (s, v) in per_stage.iter_mut().zip(t) {
            s.push(v);
        }
        for (s, v) in per_stage_cpu.iter_mut().zip(cpu) {
            s.push(v);
        }
        end_to_end.push(t.iter().sum());
        end_to_end_cpu.push(cpu.iter().sum());
        items += n;
        size = sizes[i];
    }
    let timed = end_to_end.len();
    let e2e = Timing::of("end to end", &end_to_end, &end_to_end_cpu);
    let total_ms: f64 = end_to_end.iter().sum();
    Ok(Workload {
        name: name.to_string(),
        width: size.0,
        height: size.1,
        binning: model.binning,
        inputs: inputs.len(),
        runs: timed,
        items_per_run: items as f64 / timed.max(1) as f64,
        stages: STAGES
            .iter()
            .zip(per_stage.iter().zip(&per_stage_cpu))
            .map(|(s, (v, c))| Timing::of(s, v, c))
            .collect(),
        fps_median: 1000.0 / e2e.median_ms,
        fps_mean: timed as f64 * 1000.0 / total_ms,
        end_to_end: e2e,
    })
}
