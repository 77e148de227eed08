//! Training on `train/good` and scoring the test photos, with the pixel scores at the photo's
//! own resolution.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::RgbImage;
use rayon::prelude::*;

use super::items::image_items;
use super::{Dataset, EvalError, TestImage, pixels};
use crate::imageio::binning;
use crate::imageio::{load_rgb, load_rgb_binned};
use crate::inspect::HeatMap;
use crate::model::deep::DeepOptions;
use crate::model::selection::GoodItem;
use crate::model::{AnomalyModel, TrainOptions};
use crate::vision::features::{self, ItemFeatures};
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
        score = crate::model::anomaly::worst([score, a.score.score]);
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

/// A good training photo at the model's binning and the product items found in it.
pub(super) struct TrainPhoto {
    /// The photo, binned.
    pub frame: RgbImage,
    /// Every item the segmenter found.
    pub regions: Vec<ItemRegion>,
    /// The product items among them ([`crate::vision::segment::main_items`]).
    pub main: Vec<usize>,
    /// Its near-duplicate group (see [`train_groups`]).
    pub group: u64,
}

/// The near-duplicate group of each `train/good` photo: the dataset's `labels.csv`
/// `neardup_group` where it lists the photo (training metadata, never test scores), else a
/// group of its own.
pub(super) fn train_groups(ds: &Dataset) -> Vec<u64> {
    let listed: std::collections::HashMap<std::path::PathBuf, u64> =
        super::report::grading_labels(&ds.root)
            .and_then(|(dir, subset)| crate::model::grading::read_labels(&dir, &subset).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|l| (l.path, l.group))
            .collect();
    ds.train_good
        .iter()
        .enumerate()
        .map(|(i, p)| listed.get(p).copied().unwrap_or(u64::MAX - i as u64))
        .collect()
}

/// Loads the dataset's `train/good` photos at `binning` and finds their items; unreadable
/// photos are skipped with a warning.
pub(super) fn load_train_photos(
    ds: &Dataset,
    segment: &SegmentConfig,
    binning: u32,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Vec<TrainPhoto> {
    let n_train = ds.train_good.len();
    let done = AtomicUsize::new(0);
    let groups = train_groups(ds);
    let per_image: Vec<Result<TrainPhoto, EvalError>> = ds
        .train_good
        .par_iter()
        .zip(groups)
        .map(|(path, group)| {
            let frame = load_rgb_binned(path, binning)?;
            let mut seg = Segmenter::new(segment.clone());
            let (regions, main) = image_items(&mut seg, &frame);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n, n_train, "reading");
            Ok(TrainPhoto {
                frame,
                regions,
                main,
                group,
            })
        })
        .collect();
    let mut photos = Vec::new();
    for r in per_image {
        match r {
            Ok(p) => photos.push(p),
            Err(e) => tracing::warn!("skipped a training image: {e:#}"),
        }
    }
    photos
}

/// The product items of the training photos.
pub(super) fn good_items(photos: &[TrainPhoto]) -> Vec<GoodItem<'_>> {
    photos
        .iter()
        .flat_map(|p| {
            p.main.iter().map(|&i| GoodItem {
                frame: &p.frame,
                region: &p.regions[i],
                group: p.group,
            })
        })
        .collect()
}

/// The classical model trained on `items`.
pub(super) fn train_classical(
    ds: &Dataset,
    items: &[GoodItem],
    segment: &SegmentConfig,
    train: &TrainOptions,
) -> Result<AnomalyModel, EvalError> {
    let good: Vec<ItemFeatures> = items
        .par_iter()
        .map(|g| features::extract(g.frame, g.region))
        .collect();
    Ok(AnomalyModel::train(
        &good,
        segment.clone(),
        train,
        &dataset_name(ds),
        &|| false,
    )?)
}

/// `classical` with a deep detector trained on `items`.
pub(super) fn train_deep(
    classical: &AnomalyModel,
    items: &[GoodItem],
    train: &TrainOptions,
    deep: &DeepOptions,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<AnomalyModel, EvalError> {
    progress(0, items.len(), "deep tier");
    let model = crate::model::selection::train_deep_on(
        classical,
        items,
        deep,
        train.target_false_reject,
        &|| false,
    )?
    .0;
    progress(items.len(), items.len(), "deep tier");
    Ok(model)
}

fn dataset_name(ds: &Dataset) -> String {
    ds.root
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "dataset".into())
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
