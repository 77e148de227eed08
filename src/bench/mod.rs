//! `foodqc bench`: how long every stage of the pipeline takes, on photos of a dataset and on
//! 1280x720 frames of the synthetic line, from JPEG bytes in memory to a recorded verdict.
//!
//! Each input goes through the same steps as the station (and, for photos, as `foodqc eval`):
//! decode, segment, features, score, heat map, overlay, record. Every stage is timed on every
//! run; the report gives the median and 95th percentile per stage and end to end, the frame
//! rate that follows, the training time and the peak memory of the process. Everything runs
//! inside a rayon pool of `threads` threads, so `--threads 1` is the one-core figure.

pub mod alarms;
pub mod cameras;
mod error;
mod inputs;
pub mod line;
mod pipeline;
pub mod plant;
mod report;
pub mod soak;
mod system;
mod training;
mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::eval::Dataset;
use crate::model::AnomalyModel;
use inputs::read_all;
use training::{bench_labelled, bench_training};
use workload::{Recorder, bench_workload};

pub use error::BenchError;
pub use inputs::{encode_jpeg, synthetic_jpegs};
pub use system::{load_avg, peak_memory_mib, process_cpu_ms};
pub use training::{LabelledTrainingBench, TrainingBench, train_on_photos};
pub use workload::{Timing, Workload};

/// Stage names, in pipeline order.
pub const STAGES: [&str; 7] = [
    "decode", "segment", "features", "score", "heat map", "overlay", "record",
];

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// MVTec-style dataset whose test photos are timed and whose `train/good` is trained on.
    pub dataset: Option<PathBuf>,
    /// Threads of the rayon pool everything runs in.
    pub threads: usize,
    /// Timed runs per workload (inputs are cycled); one untimed warm-up pass comes first.
    pub runs: usize,
    /// Distinct synthetic 1280x720 frames to cycle through.
    pub frames: usize,
    /// Times the one-class training on the dataset is repeated (median reported).
    pub train_runs: usize,
    /// Labelled synthetic samples for the labelled-training measurement (0 = skip it).
    pub labelled: usize,
    /// The tier the dataset's photos are judged with (the synthetic frames always use the
    /// bundled classical model).
    pub tier: crate::model::Tier,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            dataset: None,
            threads: 1,
            runs: 200,
            frames: 60,
            train_runs: 3,
            labelled: 0,
            tier: crate::model::Tier::Classical,
        }
    }
}

/// Everything `foodqc bench` reports.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Rayon threads.
    pub threads: usize,
    /// `/proc/loadavg` (1, 5, 15 min) before and after: the machine may be shared.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    /// Build profile of the binary (`debug_assertions` on = dev profile).
    pub profile: String,
    /// Photos of the dataset, when one was given.
    pub photos: Option<Workload>,
    /// Synthetic 1280x720 frames.
    pub frames: Workload,
    /// One-class training on the dataset's good images.
    pub training: Option<TrainingBench>,
    /// Training from labelled samples.
    pub labelled_training: Option<LabelledTrainingBench>,
    /// Peak resident memory of the process (VmHWM), MiB.
    pub peak_memory_mib: Option<f64>,
}

/// Run the benchmark. `progress` receives one line per step.
pub fn run(
    opts: &BenchOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BenchReport, BenchError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    let load_before = load_avg();
    // One scratch folder per run (a process may run several at once, e.g. tests).
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("foodqc-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|source| BenchError::CreateDir {
        path: scratch.clone(),
        source,
    })?;
    let result = pool.install(|| run_in_pool(opts, &scratch, progress));
    let _ = std::fs::remove_dir_all(&scratch);
    let (photos, frames, training, labelled_training) = result?;
    Ok(BenchReport {
        threads: opts.threads.max(1),
        load_before,
        load_after: load_avg(),
        profile: if cfg!(debug_assertions) {
            "dev".into()
        } else {
            "release".into()
        },
        photos,
        frames,
        training,
        labelled_training,
        peak_memory_mib: peak_memory_mib(),
    })
}

/// What the pool produces: photos, frames, training and labelled training.
type Parts = (
    Option<Workload>,
    Workload,
    Option<TrainingBench>,
    Option<LabelledTrainingBench>,
);

/// Every measurement, inside the bench's pool, with its scratch folder.
fn run_in_pool(
    opts: &BenchOptions,
    scratch: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Parts, BenchError> {
    let recorder = Recorder::open(scratch)?;
    let (mut photos, mut training) = (None, None);
    if let Some(dir) = &opts.dataset {
        let ds = Dataset::open(dir)?;
        progress(&format!(
            "reading {} training and {} test photos of {}",
            ds.train_good.len(),
            ds.test.len(),
            dir.display()
        ));
        let train_bytes = read_all(&ds.train_good)?;
        let test_paths: Vec<PathBuf> = ds.test.iter().map(|t| t.path.clone()).collect();
        let test_bytes = read_all(&test_paths)?;
        progress("training on train/good");
        let (t, model) = bench_training(&train_bytes, opts.train_runs.max(1))?;
        training = Some(t);
        let model = if opts.tier == crate::model::Tier::Deep {
            progress("training the deep tier on train/good");
            Arc::new(training::with_deep_tier(&train_bytes, &model)?)
        } else {
            model
        };
        progress("timing photos");
        photos = Some(bench_workload(
            "photos",
            &test_bytes,
            &model,
            true,
            opts.runs,
            &recorder,
        )?);
    }
    progress(&format!(
        "rendering {} synthetic 1280x720 frames",
        opts.frames
    ));
    let frame_bytes = synthetic_jpegs(opts.frames.max(1))?;
    let model = Arc::new(AnomalyModel::bundled()?);
    progress("timing frames");
    let frames = bench_workload(
        "synthetic frames",
        &frame_bytes,
        &model,
        false,
        opts.runs,
        &recorder,
    )?;
    recorder.finish()?;
    let labelled_training = if opts.labelled > 0 {
        progress(&format!(
            "capturing {} labelled samples from the synthetic line",
            opts.labelled
        ));
        Some(bench_labelled(opts.labelled, &scratch.join("labelled"))?)
    } else {
        None
    };
    Ok((photos, frames, training, labelled_training))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deep_tier_judges_frames_through_every_stage() {
        // The items of a few synthetic frames (some defective: only the timing matters here)
        // train the deep tier; the frames are then timed with it, the network and the memory
        // bank as their own stages.
        let frames = synthetic_jpegs(4).unwrap();
        let classical = AnomalyModel::bundled().unwrap();
        let deep = Arc::new(training::with_deep_tier(&frames, &classical).unwrap());
        assert_eq!(deep.tier, crate::model::Tier::Deep);
        assert!(deep.thresholds.reject.is_finite() && deep.thresholds.reject > 0.0);
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::open(dir.path()).unwrap();
        let w = bench_workload("frames", &frames, &deep, false, 2, &recorder).unwrap();
        recorder.finish().unwrap();
        assert!(w.items_per_run > 0.0, "{w:?}");
        assert!(
            w.stages[2].median_ms > 0.0 && w.stages[3].median_ms >= 0.0,
            "{w:?}"
        );
        assert!(w.end_to_end.median_ms.is_finite());
    }

    #[test]
    fn times_every_stage_of_synthetic_frames() {
        let opts = BenchOptions {
            runs: 3,
            frames: 2,
            ..Default::default()
        };
        let report = run(&opts, &|_| {}).unwrap();
        let f = &report.frames;
        assert_eq!((f.width, f.height), (1280, 720));
        assert_eq!((f.inputs, f.runs), (2, 3));
        assert!(f.items_per_run > 0.0, "{f:?}");
        let names: Vec<&str> = f.stages.iter().map(|t| t.stage.as_str()).collect();
        assert_eq!(names, STAGES);
        for t in f.stages.iter().chain([&f.end_to_end]) {
            assert!(t.median_ms >= 0.0 && t.p95_ms >= t.median_ms, "{t:?}");
        }
        // Decoding and segmenting a 1280x720 frame takes measurable time.
        assert!(f.stages[0].median_ms > 0.0 && f.stages[1].median_ms > 0.0);
        let sum: f64 = f.stages.iter().map(|t| t.mean_ms).sum();
        assert!((sum - f.end_to_end.mean_ms).abs() < 1e-6 * sum.max(1.0));
        // Decoding a frame costs CPU time, whatever the load.
        #[cfg(target_os = "linux")]
        assert!(f.stages[0].cpu_median_ms > 0.0, "{:?}", f.stages[0]);
        assert!(report.photos.is_none() && report.training.is_none());
        assert!(report.peak_memory_mib.is_some_and(|m| m > 1.0));
        assert!(report.to_text().contains("end to end"));
    }

    #[test]
    fn missing_dataset_is_a_clear_error() {
        let opts = BenchOptions {
            dataset: Some("/no/such/dataset".into()),
            runs: 1,
            frames: 1,
            ..Default::default()
        };
        let err = format!("{:#}", run(&opts, &|_| {}).unwrap_err());
        assert!(err.contains("/no/such/dataset"), "{err}");
    }
}
