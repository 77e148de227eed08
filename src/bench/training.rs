//! Training times: the one-class model on a dataset's good photos, and the Train tab's job on
//! labelled samples of the synthetic line.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::{BenchError, process_cpu_ms};
use crate::capture::{SourceOptions, SourceSpec};
use crate::domain::GOOD;
use crate::eval::main_items;
use crate::imageio::{decode_rgb, decode_rgb_binned};
use crate::model::deep::{DeepOptions, train_deep_tier};
use crate::model::metrics::quantile;
use crate::model::{AnomalyModel, TrainOptions};
use crate::store::Store;
use crate::training::job::{JobProgress, TrainJobConfig, run_training};
use crate::vision::features::{self, ItemFeatures};
use crate::vision::resolution;
use crate::vision::segment::Segmenter;

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

/// Decode, segment and measure the main items of good photos, then fit a model: what
/// `foodqc eval` does before testing.
pub fn train_on_photos(
    photos: &[Vec<u8>],
    model_name: &str,
) -> Result<(AnomalyModel, usize, f64, f64), BenchError> {
    let seg = crate::vision::SegmentConfig::default();
    let t0 = Instant::now();
    // As `foodqc eval`: the binning from the items of the first photos at full resolution.
    let sample = photos
        .iter()
        .take(resolution::SAMPLE_FRAMES)
        .map(|b| decode_rgb(b).map_err(BenchError::Decode))
        .collect::<Result<Vec<_>, _>>()?;
    let n = resolution::choose_for_frames(&sample.iter().collect::<Vec<_>>(), &seg).unwrap_or(1);
    let per_image: Vec<Result<Vec<ItemFeatures>, BenchError>> = photos
        .par_iter()
        .map(|bytes| {
            let img = decode_rgb_binned(bytes, n).map_err(BenchError::Decode)?;
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

/// `classical` with a deep detector trained on the product items of `photos` (decoded at the
/// classical model's binning, as `foodqc eval` trains it).
pub(super) fn with_deep_tier(
    photos: &[Vec<u8>],
    classical: &AnomalyModel,
) -> Result<AnomalyModel, BenchError> {
    let seg = crate::vision::SegmentConfig::default();
    let frames: Vec<(image::RgbImage, Vec<crate::vision::segment::ItemRegion>)> = photos
        .par_iter()
        .map(|bytes| {
            let img = decode_rgb_binned(bytes, classical.binning).map_err(BenchError::Decode)?;
            let regions = Segmenter::new(seg.clone()).segment(&img);
            Ok((img, regions))
        })
        .collect::<Result<_, BenchError>>()?;
    let pairs: Vec<(&image::RgbImage, &crate::vision::segment::ItemRegion)> = frames
        .iter()
        .flat_map(|(img, regions)| {
            main_items(regions)
                .into_iter()
                .map(move |i| (img, &regions[i]))
        })
        .collect();
    Ok(train_deep_tier(
        classical,
        &pairs,
        None,
        &DeepOptions::default(),
        TrainOptions::default().target_false_reject,
        &|| false,
    )?
    .0)
}

/// Trains on `photos` `runs` times; the medians, and the last model.
pub(super) fn bench_training(
    photos: &[Vec<u8>],
    runs: usize,
) -> Result<(TrainingBench, Arc<AnomalyModel>), BenchError> {
    let (mut measure, mut fit, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let (model, items, m, f) = train_on_photos(photos, "bench")?;
        measure.push(m);
        fit.push(f);
        total.push(m + f);
        last = Some((model, items));
    }
    let (model, items) = last.ok_or(BenchError::NoTrainingRun)?;
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

/// Captures `n` labelled samples of the synthetic line into a database in `dir` and times
/// the training job on them, stage by stage.
pub(super) fn bench_labelled(n: usize, dir: &Path) -> Result<LabelledTrainingBench, BenchError> {
    std::fs::create_dir_all(dir).map_err(|source| BenchError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
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
    let good = labelled.iter().filter(|(_, l)| l.label == GOOD).count();
    let cfg = TrainJobConfig {
        db_path: db,
        models_dir: dir.join("models"),
        base,
        options: TrainOptions::default(),
        tier: crate::model::TierChoice::Classical,
        actor: "bench".into(),
        // All threads of the bench's own pool (`--threads`).
        threads: None,
    };
    let t0 = Instant::now();
    let cpu0 = process_cpu_ms();
    // When each stage started (wall clock and process CPU time), from the progress reports.
    let starts: std::sync::Mutex<Vec<(String, Instant, f64)>> = Default::default();
    let sink = |p: JobProgress| {
        let mut s = starts.lock().unwrap_or_else(|e| e.into_inner());
        let name = p.stage.title().to_string();
        if s.last().is_none_or(|(n, _, _)| *n != name) {
            s.push((name, Instant::now(), process_cpu_ms()));
        }
    };
    run_training(&cfg, &sink, &AtomicBool::new(false)).map_err(BenchError::LabelledTraining)?;
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
