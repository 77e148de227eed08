//! Training on `train/good` and scoring the test photos, with the pixel scores at the photo's
//! own resolution.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use super::items::{image_items, main_item_features};
use super::{Dataset, EvalError, TestImage, pixels};
use crate::imageio::binning;
use crate::imageio::{load_rgb, load_rgb_binned};
use crate::inspect::HeatMap;
use crate::model::{AnomalyModel, TrainOptions};
use crate::vision::features::ItemFeatures;
use crate::vision::resolution;
use crate::vision::segment::{ItemRegion, SegmentConfig, Segmenter};

/// One scored test image: its image score and what is needed for pixel scores.
pub struct ScoredImage {
    /// Image score: the worst main item (0 when no item was found).
    pub score: f64,
    /// Image size.
    pub width: u32,
    pub height: u32,
    /// Main items: their region and heat map.
    pub items: Vec<(ItemRegion, HeatMap)>,
    /// Pixel anomaly scores, row-major (see [`pixels::score_map`]).
    pub pixel_scores: Vec<f32>,
    /// Pixels inside the product's convex hull (see [`pixels::hull_mask`]).
    pub hull: image::GrayImage,
    /// Decode-excluded processing time, ms.
    pub ms: f64,
}

/// The binning for a dataset: from the items of its first few training photos at full
/// resolution (see [`resolution::choose_for_frames`]). Unreadable photos are skipped here; the
/// training pass reports them.
pub(super) fn choose_binning(train_good: &[PathBuf], segment: &SegmentConfig) -> u32 {
    let photos: Vec<image::RgbImage> = train_good
        .iter()
        .take(resolution::SAMPLE_FRAMES)
        .filter_map(|p| load_rgb(p).ok())
        .collect();
    let refs: Vec<&image::RgbImage> = photos.iter().collect();
    let n = resolution::choose_for_frames(&refs, segment).unwrap_or(1);
    tracing::info!(
        "binning {n}x{n}, from the items of {} training photos",
        refs.len()
    );
    n
}

/// Scores one test photo: its main items, their heat maps and the pixel scores (spread back
/// over the photo's full size when the model is binned).
pub(super) fn score_image(
    model: &AnomalyModel,
    segment: &SegmentConfig,
    t: &TestImage,
) -> Result<ScoredImage, EvalError> {
    let img = load_rgb_binned(&t.path, model.binning)?;
    let started = Instant::now();
    let mut seg = Segmenter::new(segment.clone());
    let (regions, main) = image_items(&mut seg, &img);
    let mut score: f64 = 0.0;
    let mut items = Vec::new();
    for i in main {
        let a = model.assess(&img, &regions[i]);
        score = score.max(a.score.score);
        items.push((regions[i].clone(), a.heat));
    }
    let mut scored = ScoredImage {
        score,
        width: img.width(),
        height: img.height(),
        items,
        pixel_scores: Vec::new(),
        hull: image::GrayImage::new(0, 0),
        ms: 0.0,
    };
    scored.hull = pixels::hull_mask(&scored);
    scored.pixel_scores = pixels::score_map(&scored, &img, model.colour.as_ref());
    if model.binning > 1 {
        // Pixel scores are judged against the masks at the photo's own resolution.
        let (w, h) = image::image_dimensions(&t.path).map_err(|source| EvalError::ImageSize {
            path: t.path.clone(),
            source,
        })?;
        let n = model.binning;
        // The stored size is before the EXIF rotation, which the pixels have had.
        let full = if binning::binned_size(w, h, n) == img.dimensions() {
            (w, h)
        } else {
            (h, w)
        };
        scored.pixel_scores = binning::upsample(&scored.pixel_scores, img.dimensions(), n, full);
        scored.hull = binning::upsample_mask(&scored.hull, n, full);
        (scored.width, scored.height) = full;
    }
    scored.ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(scored)
}

/// Trains the anomaly model on the dataset's `train/good` photos (binned as `train.binning`
/// says, else as [`choose_binning`] finds); unreadable photos are skipped with a warning.
/// Returns the model and the number of items it was trained on.
pub(super) fn train_on_good(
    ds: &Dataset,
    segment: &SegmentConfig,
    train: &TrainOptions,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(AnomalyModel, usize), EvalError> {
    let n_train = ds.train_good.len();
    let binning = match train.binning {
        Some(n) => n,
        None => choose_binning(&ds.train_good, segment),
    };
    let train = &TrainOptions {
        binning: Some(binning),
        ..train.clone()
    };
    let done = AtomicUsize::new(0);
    let per_image: Vec<Result<Vec<ItemFeatures>, EvalError>> = ds
        .train_good
        .par_iter()
        .map(|path| {
            let img = load_rgb_binned(path, binning)?;
            let mut seg = Segmenter::new(segment.clone());
            let items = main_item_features(&mut seg, &img);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n, n_train, "training");
            Ok(items)
        })
        .collect();
    let mut good = Vec::new();
    for r in per_image {
        match r {
            Ok(items) => good.extend(items),
            Err(e) => tracing::warn!("skipped a training image: {e:#}"),
        }
    }
    let name = ds
        .root
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "dataset".into());
    let model = AnomalyModel::train(&good, segment.clone(), train, &name, &|| false)?;
    Ok((model, good.len()))
}

/// Scores every test photo in parallel, in the dataset's order.
pub(super) fn score_tests(
    ds: &Dataset,
    model: &AnomalyModel,
    segment: &SegmentConfig,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Vec<ScoredImage>, EvalError> {
    let total = ds.test.len();
    let done = AtomicUsize::new(0);
    ds.test
        .par_iter()
        .map(|t| {
            let r = score_image(model, segment, t);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n, total, "testing");
            r
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}
