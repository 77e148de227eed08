//! `foodqc bench`: how long every stage of the pipeline takes, on photos of a dataset and on
//! 1280x720 frames of the synthetic line, from JPEG bytes in memory to a recorded verdict.
//!
//! Each input goes through the same steps as the station (and, for photos, as `foodqc eval`):
//! decode, segment, features, score, heat map, overlay, record. Every stage is timed on every
//! run; the report gives the median and 95th percentile per stage and end to end, the frame
//! rate that follows, the training time and the peak memory of the process. Everything runs
//! inside a rayon pool of `threads` threads, so `--threads 1` is the one-core figure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;

use crate::capture::{SourceOptions, SourceSpec};
use crate::eval::{Dataset, ScoredImage, main_items, pixels};
use crate::imageio::{decode_rgb, decode_rgb_binned};
use crate::inspect::overlay;
use crate::inspect::{HeatMap, InspectedItem, Inspection};
use crate::model::metrics::quantile;
use crate::model::{AnomalyModel, TrainOptions};
use crate::store::{InspectionRecorder, InspectionRow, RecordItem, RecordSender, Store};
use crate::vision::features::{self, ItemFeatures};
use crate::vision::resolution;
use crate::vision::segment::{ItemRegion, Segmenter};

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
        }
    }
}

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
    fn of(stage: &str, ms: &[f64], cpu_ms: &[f64]) -> Self {
        Self {
            stage: stage.to_string(),
            median_ms: quantile(ms, 0.5),
            p95_ms: quantile(ms, 0.95),
            mean_ms: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
            cpu_median_ms: quantile(cpu_ms, 0.5),
        }
    }
}

/// CPU time used by this process so far (all threads), ms; NaN where it cannot be read.
pub fn process_cpu_ms() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6;
        }
    }
    f64::NAN
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

/// Training times.
#[derive(Clone, Debug, Serialize)]
pub struct TrainingBench {
    /// Good images trained on.
    pub images: usize,
    /// Items found in them.
    pub items: usize,
    /// Decode, segment and measure the images, median seconds.
    pub measure_s: f64,
    /// Fit the model on the measured items, median seconds.
    pub fit_s: f64,
    /// Both, median seconds over the repeats.
    pub total_s: f64,
    /// Repeats.
    pub runs: usize,
}

/// Training from labelled samples in a database (the Train tab's job).
#[derive(Clone, Debug, Serialize)]
pub struct LabelledTrainingBench {
    /// Labelled samples in the database.
    pub samples: usize,
    /// Of those, labelled good.
    pub good: usize,
    /// Seconds of the whole job (read, measure, cross-validate, fit, save, register).
    pub seconds: f64,
    /// Seconds per stage of the job, in order.
    pub stages: Vec<(String, f64)>,
    /// CPU seconds of the whole job (all threads of the process): beside the wall time
    /// because the machine may be shared.
    pub cpu_seconds: f64,
    /// CPU seconds per stage, in the order of `stages`.
    pub stage_cpu_seconds: Vec<f64>,
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
pub fn run(opts: &BenchOptions, progress: &(dyn Fn(&str) + Sync)) -> anyhow::Result<BenchReport> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .context("cannot build the thread pool")?;
    let load_before = load_avg();
    // One scratch folder per run (a process may run several at once, e.g. tests).
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("foodqc-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
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

type Parts = (
    Option<Workload>,
    Workload,
    Option<TrainingBench>,
    Option<LabelledTrainingBench>,
);

fn run_in_pool(
    opts: &BenchOptions,
    scratch: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Parts> {
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

fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    paths
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
        .collect()
}

/// JPEG bytes (quality 90) of consecutive frames of the synthetic line, seed 7.
pub fn synthetic_jpegs(n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut src = SourceSpec::Synthetic { seed: 7 }.open(&SourceOptions::default())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let frame = src
            .next_frame()?
            .context("the synthetic line ended unexpectedly")?;
        out.push(encode_jpeg(&frame.image)?);
    }
    Ok(out)
}

/// JPEG bytes of an image at quality 90 (what a camera or an MJPEG stream delivers).
pub fn encode_jpeg(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
        .encode_image(img)
        .context("cannot encode a JPEG")?;
    Ok(buf)
}

/// Decode, segment and measure the main items of good photos, then fit a model: what
/// `foodqc eval` does before testing.
pub fn train_on_photos(
    photos: &[Vec<u8>],
    model_name: &str,
) -> anyhow::Result<(AnomalyModel, usize, f64, f64)> {
    let seg = crate::vision::SegmentConfig::default();
    let t0 = Instant::now();
    // As `foodqc eval`: the binning from the items of the first photos at full resolution.
    let sample = photos
        .iter()
        .take(resolution::SAMPLE_FRAMES)
        .map(|b| decode_rgb(b))
        .collect::<Result<Vec<_>, _>>()?;
    let n = resolution::choose_for_frames(&sample.iter().collect::<Vec<_>>(), &seg).unwrap_or(1);
    let per_image: Vec<anyhow::Result<Vec<ItemFeatures>>> = photos
        .par_iter()
        .map(|bytes| {
            let img = decode_rgb_binned(bytes, n)?;
            let regions = Segmenter::new(seg.clone()).segment(&img);
            Ok(main_items(&regions)
                .into_iter()
                .map(|i| features::extract(&img, &regions[i]))
                .collect())
        })
        .collect();
    let mut good = Vec::new();
    for r in per_image {
        good.extend(r?);
    }
    let measure_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let opts = TrainOptions {
        binning: Some(n),
        ..TrainOptions::default()
    };
    let model = AnomalyModel::train(&good, seg, &opts, model_name, &|| false)?;
    Ok((model, good.len(), measure_s, t1.elapsed().as_secs_f64()))
}

fn bench_training(
    photos: &[Vec<u8>],
    runs: usize,
) -> anyhow::Result<(TrainingBench, Arc<AnomalyModel>)> {
    let (mut measure, mut fit, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let (model, items, m, f) = train_on_photos(photos, "bench")?;
        measure.push(m);
        fit.push(f);
        total.push(m + f);
        last = Some((model, items));
    }
    let (model, items) = last.context("no training run")?;
    Ok((
        TrainingBench {
            images: photos.len(),
            items,
            measure_s: quantile(&measure, 0.5),
            fit_s: quantile(&fit, 0.5),
            total_s: quantile(&total, 0.5),
            runs,
        },
        Arc::new(model),
    ))
}

/// A real recorder on a scratch database, as the station uses it.
struct Recorder {
    recorder: InspectionRecorder,
    sender: RecordSender,
    station_id: i64,
    lot_id: i64,
}

impl Recorder {
    fn open(dir: &Path) -> anyhow::Result<Self> {
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

    fn finish(self) -> anyhow::Result<()> {
        drop(self.sender);
        self.recorder.finish()?;
        Ok(())
    }
}

/// Time `runs` passes over `inputs` (cycled) after one untimed warm-up pass.
fn bench_workload(
    name: &str,
    inputs: &[Vec<u8>],
    model: &Arc<AnomalyModel>,
    photos: bool,
    runs: usize,
    recorder: &Recorder,
) -> anyhow::Result<Workload> {
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
                .with_guessed_format()?
                .into_dimensions()
                .context("cannot read the size of a benchmark input")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
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

/// Stage wall and CPU times (ms) of one run, and the items judged.
type RunTimes = ([f64; 7], [f64; 7], usize);

/// One input through the pipeline.
fn pipeline_once(
    bytes: &[u8],
    model: &Arc<AnomalyModel>,
    seg: &mut Segmenter,
    photos: bool,
    seq: u64,
    recorder: &Recorder,
) -> anyhow::Result<RunTimes> {
    let mut t = [0f64; 7];
    let mut cpu = [0f64; 7];
    let mut clock = Instant::now();
    let mut cpu_clock = process_cpu_ms();
    let mut lap = |i: usize, t: &mut [f64; 7]| {
        let now = Instant::now();
        let now_cpu = process_cpu_ms();
        t[i] = (now - clock).as_secs_f64() * 1000.0;
        cpu[i] = now_cpu - cpu_clock;
        clock = now;
        cpu_clock = now_cpu;
    };
    // A binned model's frames are decoded straight to its resolution (as `foodqc eval`).
    let frame = Arc::new(
        decode_rgb_binned(bytes, model.binning).context("cannot decode a benchmark input")?,
    );
    lap(0, &mut t);
    let regions = seg.segment(&frame);
    // Photos: the product items (as `foodqc eval`); frames: items fully in view (as the
    // station on a moving line).
    let judged: Vec<usize> = if photos {
        main_items(&regions)
    } else {
        (0..regions.len())
            .filter(|&i| !regions[i].touches_border)
            .collect()
    };
    lap(1, &mut t);
    let feats: Vec<ItemFeatures> = judged
        .par_iter()
        .map(|&i| features::extract(&frame, &regions[i]))
        .collect();
    let geos: Vec<_> = regions.iter().map(features::item_geometry).collect();
    lap(2, &mut t);
    let scores: Vec<_> = feats.par_iter().map(|f| model.score(f)).collect();
    lap(3, &mut t);
    let heats: Vec<HeatMap> = feats
        .iter()
        .zip(&scores)
        .map(|(f, s)| HeatMap::from_cells(&f.patches, &s.cells))
        .collect();
    let hot: Vec<_> = heats
        .iter()
        .map(|h| h.regions(model.thresholds.pixel as f32))
        .collect();
    if photos {
        // The pixel heat map of `foodqc eval`: heat spread over the pixels, colour anomaly
        // inside the product's hull.
        let mut scored = ScoredImage {
            score: scores.iter().map(|s| s.score).fold(0.0, f64::max),
            width: frame.width(),
            height: frame.height(),
            items: judged
                .iter()
                .zip(&heats)
                .map(|(&i, h)| (regions[i].clone(), h.clone()))
                .collect(),
            pixel_scores: Vec::new(),
            hull: image::GrayImage::new(0, 0),
            ms: 0.0,
        };
        scored.hull = pixels::hull_mask(&scored);
        scored.pixel_scores = pixels::score_map(&scored, &frame, model.colour.as_ref());
        std::hint::black_box(&scored.pixel_scores);
    }
    lap(4, &mut t);
    let mut scored_at = vec![None; regions.len()];
    for (k, &i) in judged.iter().enumerate() {
        scored_at[i] = Some(k);
    }
    let mut hot = hot.into_iter().map(Some).collect::<Vec<_>>();
    let mut heats = heats.into_iter().map(Some).collect::<Vec<_>>();
    let items: Vec<InspectedItem> = regions
        .iter()
        .zip(&geos)
        .enumerate()
        .map(|(index, (r, g)): (usize, (&ItemRegion, _))| {
            let k = scored_at[index];
            let s = k.map(|k| &scores[k]);
            InspectedItem {
                index,
                bbox: r.bbox,
                contour: r.contour.clone(),
                centroid: g.centroid,
                equiv_diameter: g.equiv_diameter,
                partial: r.touches_border,
                score: s.map(|s| s.score),
                score_parts: s.map(|s| (s.item_part, s.patch_part)),
                verdict: s.map(|s| model.verdict(s.score)),
                heat: k.and_then(|k| heats[k].take()),
                regions: k.and_then(|k| hot[k].take()).unwrap_or_default(),
                track_id: None,
                defect_class: None,
                record: k.is_some(),
            }
        })
        .collect();
    let inspection = Inspection {
        seq,
        captured_at: SystemTime::now(),
        frame: frame.clone(),
        origin: None,
        items,
        timings: Default::default(),
        model_version: model.version.clone(),
    };
    let drawn = overlay::draw(&inspection, true, model.thresholds.pixel as f32);
    std::hint::black_box(&drawn);
    lap(5, &mut t);
    let ts_ms = crate::store::now_ms();
    for it in inspection.items.iter().filter(|i| i.record) {
        let (Some(score), Some(verdict)) = (it.score, it.verdict) else {
            continue;
        };
        recorder.sender.send(RecordItem {
            row: InspectionRow {
                ts_ms,
                station_id: recorder.station_id,
                lot_id: Some(recorder.lot_id),
                model_version_id: None,
                frame_seq: seq as i64,
                item_index: it.index as i64,
                track_id: None,
                score,
                verdict,
                defect_class: None,
                bbox: it.bbox,
                sample_id: None,
            },
            sample: None,
        })?;
    }
    lap(6, &mut t);
    Ok((t, cpu, judged.len()))
}

fn bench_labelled(n: usize, dir: &Path) -> anyhow::Result<LabelledTrainingBench> {
    use crate::training::job::{TrainJobConfig, run_training};
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join("labelled.sqlite3");
    let base = Arc::new(AnomalyModel::bundled()?);
    {
        let mut store = Store::open(&db)?;
        let mut src = SourceSpec::Synthetic { seed: 11 }.open(&SourceOptions::default())?;
        crate::training::capture_truth_samples(
            src.as_mut(),
            &base.segment,
            &mut store,
            &dir.join("samples"),
            n,
            Some("bench"),
        )?;
    }
    let labelled = Store::open(&db)?.labelled_samples()?;
    let good = labelled
        .iter()
        .filter(|(_, l)| l.label == crate::training::job::GOOD)
        .count();
    let cfg = TrainJobConfig {
        db_path: db,
        models_dir: dir.join("models"),
        base,
        options: TrainOptions::default(),
        actor: "bench".into(),
        // All threads of the bench's own pool (`--threads`).
        threads: None,
    };
    let t0 = Instant::now();
    let cpu0 = process_cpu_ms();
    // When each stage started (wall clock and process CPU time), from the progress reports.
    let starts: std::sync::Mutex<Vec<(String, Instant, f64)>> = Default::default();
    let sink = |p: crate::training::job::JobProgress| {
        let mut s = starts.lock().unwrap_or_else(|e| e.into_inner());
        let name = p.stage.title().to_string();
        if s.last().is_none_or(|(n, _, _)| *n != name) {
            s.push((name, Instant::now(), process_cpu_ms()));
        }
    };
    run_training(&cfg, &sink, &AtomicBool::new(false))
        .map_err(|e| anyhow::anyhow!("labelled training failed: {e}"))?;
    let (end, cpu_end) = (Instant::now(), process_cpu_ms());
    let starts = starts.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut stages = Vec::with_capacity(starts.len());
    let mut stage_cpu_seconds = Vec::with_capacity(starts.len());
    for (i, (n, t, cpu)) in starts.iter().enumerate() {
        let (next, next_cpu) = starts.get(i + 1).map_or((end, cpu_end), |s| (s.1, s.2));
        stages.push((n.clone(), (next - *t).as_secs_f64()));
        stage_cpu_seconds.push((next_cpu - cpu) / 1000.0);
    }
    Ok(LabelledTrainingBench {
        samples: labelled.len(),
        good,
        seconds: (end - t0).as_secs_f64(),
        stages,
        cpu_seconds: (cpu_end - cpu0) / 1000.0,
        stage_cpu_seconds,
    })
}

/// `/proc/loadavg`: load over 1, 5 and 15 minutes (Linux only).
pub fn load_avg() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Peak resident memory of this process (VmHWM), MiB (Linux only).
pub fn peak_memory_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl BenchReport {
    /// A readable table.
    pub fn to_text(&self) -> String {
        let load = |l: Option<[f64; 3]>| {
            l.map(|l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]))
                .unwrap_or_else(|| "n/a".into())
        };
        let mut s = format!(
            "foodqc bench: {} thread(s), {} profile, load {} -> {}\n",
            self.threads,
            self.profile,
            load(self.load_before),
            load(self.load_after)
        );
        for w in self.photos.iter().chain(std::iter::once(&self.frames)) {
            let binned = if w.binning > 1 {
                format!(", decoded binned {0}x{0}", w.binning)
            } else {
                String::new()
            };
            s += &format!(
                "\n{} ({}x{}{binned}, {} inputs, {} runs, {:.1} items judged per run)\n",
                w.name, w.width, w.height, w.inputs, w.runs, w.items_per_run
            );
            s += &format!(
                "  {:<12} {:>10} {:>10} {:>10} {:>14}\n",
                "stage", "median ms", "p95 ms", "mean ms", "CPU median ms"
            );
            for t in w.stages.iter().chain(std::iter::once(&w.end_to_end)) {
                s += &format!(
                    "  {:<12} {:>10.2} {:>10.2} {:>10.2} {:>14.2}\n",
                    t.stage, t.median_ms, t.p95_ms, t.mean_ms, t.cpu_median_ms
                );
            }
            s += &format!(
                "  {:.1} per second at the median, {:.1} over all runs\n",
                w.fps_median, w.fps_mean
            );
        }
        if let Some(t) = &self.training {
            s += &format!(
                "\ntraining on {} good images ({} items): {:.3} s (measure {:.3} s, fit {:.3} s; median of {})\n",
                t.images, t.items, t.total_s, t.measure_s, t.fit_s, t.runs
            );
        }
        if let Some(t) = &self.labelled_training {
            let stages: Vec<String> = t
                .stages
                .iter()
                .zip(&t.stage_cpu_seconds)
                .map(|((n, v), c)| format!("{n} {v:.2} s / CPU {c:.2} s"))
                .collect();
            s += &format!(
                "training from {} labelled samples ({} good): {:.2} s, CPU {:.2} s ({})\n",
                t.samples,
                t.good,
                t.seconds,
                t.cpu_seconds,
                stages.join(", ")
            );
        }
        if let Some(m) = self.peak_memory_mib {
            s += &format!("peak memory {m:.0} MiB\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
