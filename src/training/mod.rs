//! Gathering good items from a source, training an anomaly model on them, and measuring a
//! model against ground truth.

pub mod holdout;
pub mod job;

use std::sync::Arc;

use image::RgbImage;

use crate::capture::{CaptureError, FrameSource, GroundTruth, TruthItem};
use crate::domain::{BBox, ClassLabel, Verdict};
use crate::imageio::binning;
use crate::inspect::Inspector;
use crate::model::AnomalyModel;
use crate::model::metrics::{Confusion, auroc};
use crate::model::selection::GoodItem;
use crate::store::StoreError;
use crate::vision::features::{self, ItemFeatures};
use crate::vision::segment::{ItemRegion, SegmentConfig, Segmenter};

/// Why gathering items or samples from a source, or measuring a model on it, failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The user cancelled.
    #[error("{}", crate::tr!("err-training-cancelled"))]
    Cancelled,
    /// The source failed (the error names the camera, folder or file).
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The source has no ground truth, which this needs.
    #[error("{}", crate::tr!("err-training-no-truth", source_name = .source_name.to_string()))]
    NoTruth {
        /// The source, as it describes itself.
        source_name: String,
    },
    /// The source kept giving frames without new items with ground truth.
    #[error("{}", crate::tr!("err-training-too-few-truth-items"))]
    TooFewTruthItems,
    /// A sample could not be saved or labelled.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Progress callback: (done, total) frames.
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// The truth item that a found item (centroid and box, frame pixels) is, if any: the one
/// whose box contains the centroid, with the best overlap.
pub fn match_truth<'a>(
    centroid: (f32, f32),
    bbox: &BBox,
    truth: &'a GroundTruth,
) -> Option<&'a TruthItem> {
    let (cx, cy) = centroid;
    truth
        .items
        .iter()
        .filter(|t| {
            cx >= t.bbox.x as f32
                && cy >= t.bbox.y as f32
                && cx <= (t.bbox.x + t.bbox.w) as f32
                && cy <= (t.bbox.y + t.bbox.h) as f32
        })
        .max_by(|a, b| a.bbox.iou(bbox).total_cmp(&b.bbox.iou(bbox)))
}

/// One good item as training keeps it for the deep tier: the part of its frame around it (at
/// the model's binning) and where it is in that part.
pub struct ItemView {
    /// The item with its surroundings ([`crate::vision::segment::ItemRegion::view_in`]).
    pub image: RgbImage,
    /// The item in `image`.
    pub region: ItemRegion,
    /// The physical item (its ground-truth id) or, without truth, its index.
    pub group: u64,
}

impl ItemView {
    /// As a [`GoodItem`] for [`crate::model::tiered::train_with_tier`].
    pub fn as_good_item(&self) -> GoodItem<'_> {
        GoodItem {
            frame: &self.image,
            region: &self.region,
            group: self.group,
        }
    }
}

/// Margin of an [`ItemView`] around the item, in item sizes: room for the deep tier's crop
/// (15 %) and for the segmenter to see the belt around it.
const VIEW_MARGIN: f32 = 0.5;

/// What [`collect_good_items`] gathered.
pub struct GoodItems {
    /// The features of every good item.
    pub features: Vec<ItemFeatures>,
    /// The items themselves (with `keep_views`), one per entry of `features`.
    pub views: Vec<ItemView>,
    /// The binning every frame was measured at.
    pub binning: u32,
}

/// Measure the good items of up to `frames` frames, looking at every `stride`-th frame only
/// (a conveyor shows the same item in dozens of consecutive frames). With ground truth,
/// items known to be defective are left out and each physical item is taken once; without it
/// (a folder of good photos) every item counts as good.
///
/// The binning (see [`crate::imageio::binning`]) is chosen from the items of the first frame
/// that has any, and every frame is measured at it; it is returned beside the items, for the
/// model to inspect at the same. With `keep_views`, each item's surroundings are kept too
/// (for the deep tier).
pub fn collect_good_items(
    source: &mut dyn FrameSource,
    frames: u64,
    stride: u64,
    segment: &SegmentConfig,
    keep_views: bool,
    progress: Progress,
    cancel: &dyn Fn() -> bool,
) -> Result<GoodItems, TrainingError> {
    let mut binning = None;
    let mut segmenter = Segmenter::new(segment.clone());
    let continuous = source.is_continuous();
    let mut seen_ids = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut views = Vec::new();
    for n in 0..frames {
        if cancel() {
            return Err(TrainingError::Cancelled);
        }
        let Some(frame) = source.next_frame()? else {
            break;
        };
        for w in source.take_warnings() {
            tracing::warn!("{w}");
        }
        progress(n + 1, frames);
        if n % stride.max(1) != 0 {
            continue;
        }
        let n = match binning {
            Some(n) => n,
            None => {
                let Some(n) =
                    crate::vision::resolution::choose_for_frames(&[&frame.image], segment)
                else {
                    continue;
                };
                tracing::info!("binning {n}x{n}, from the items of frame {}", frame.seq);
                *binning.insert(n)
            }
        };
        let binned = (n > 1).then(|| binning::bin(&frame.image, n));
        let image = binned.as_ref().unwrap_or(&frame.image);
        for region in segmenter.segment(image) {
            if continuous && region.touches_border {
                continue;
            }
            let mut group = None;
            if let Some(truth) = &frame.truth {
                let geo = features::item_geometry(&region);
                let centroid = (
                    binning::to_frame(geo.centroid.0, n),
                    binning::to_frame(geo.centroid.1, n),
                );
                let bbox = binning::bbox_to_frame(region.bbox, n, frame.image.dimensions());
                match match_truth(centroid, &bbox, truth) {
                    Some(t) if !t.is_defective() && seen_ids.insert(t.item_id) => {
                        group = Some(t.item_id);
                    }
                    _ => continue,
                }
            }
            if keep_views {
                let (image, region) = region.view_in(image, VIEW_MARGIN);
                views.push(ItemView {
                    image,
                    region,
                    group: group.unwrap_or(out.len() as u64),
                });
            }
            out.push(features::extract(image, &region));
        }
    }
    Ok(GoodItems {
        features: out,
        views,
        binning: binning.unwrap_or(1),
    })
}

/// How a model did against ground truth.
#[derive(Clone, Debug, Default)]
pub struct TruthReport {
    /// Items judged (each physical item once).
    pub items: usize,
    /// Of those, truly defective.
    pub defective: usize,
    /// Decisions against the truth.
    pub confusion: Confusion,
    /// Area under the ROC curve of the score, good vs defective.
    pub auroc: Option<f64>,
}

/// Run `model` over every `stride`-th of `frames` frames of a source with ground truth (the
/// synthetic line) and compare its verdicts with the truth, each physical item once (its
/// first full view).
pub fn evaluate_on_truth(
    model: Arc<AnomalyModel>,
    source: &mut dyn FrameSource,
    frames: u64,
    stride: u64,
) -> Result<TruthReport, TrainingError> {
    let mut inspector = Inspector::new(model);
    let continuous = source.is_continuous();
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    let mut report = TruthReport::default();
    let mut seen = std::collections::HashSet::new();
    for n in 0..frames {
        let Some(frame) = source.next_frame()? else {
            break;
        };
        if n % stride.max(1) != 0 {
            continue;
        }
        let Some(truth) = frame.truth.clone() else {
            return Err(TrainingError::NoTruth {
                source_name: source.describe(),
            });
        };
        let insp = inspector.inspect(
            frame.seq,
            frame.captured_at,
            Arc::new(frame.image),
            frame.origin,
            !continuous,
        );
        for it in insp.items.iter().filter(|i| i.record) {
            let (Some(score), Some(verdict)) = (it.score, it.verdict) else {
                continue;
            };
            let Some(t) = match_truth(it.centroid, &it.bbox, &truth) else {
                continue;
            };
            if !seen.insert(t.item_id) {
                continue;
            }
            report.items += 1;
            report.defective += usize::from(t.is_defective());
            report
                .confusion
                .add(t.is_defective(), verdict == Verdict::Reject);
            scores.push(score);
            labels.push(t.is_defective());
        }
    }
    report.auroc = auroc(&scores, &labels);
    Ok(report)
}

/// Capture up to `max_samples` item crops from a source with ground truth (the synthetic
/// line), each physical item once, save them as samples and label each from the truth:
/// `good`, or its first defect kind in the taxonomy's spelling (`missing piece`); with
/// `actor` `None` they stay unlabelled. For demos and tests of the labelling and training
/// workflow. Returns the sample ids.
pub fn capture_truth_samples(
    source: &mut dyn FrameSource,
    segment: &SegmentConfig,
    store: &mut crate::store::Store,
    samples_dir: &std::path::Path,
    max_samples: usize,
    actor: Option<&str>,
) -> Result<Vec<i64>, TrainingError> {
    let mut segmenter = Segmenter::new(segment.clone());
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    let mut frames = 0;
    while ids.len() < max_samples {
        let Some(frame) = source.next_frame()? else {
            break;
        };
        frames += 1;
        if frames >= 100 + max_samples as u64 * 50 {
            return Err(TrainingError::TooFewTruthItems);
        }
        let Some(truth) = &frame.truth else {
            return Err(TrainingError::NoTruth {
                source_name: source.describe(),
            });
        };
        for region in segmenter.segment(&frame.image) {
            if region.touches_border || ids.len() >= max_samples {
                continue;
            }
            let geo = features::item_geometry(&region);
            let Some(t) = match_truth(geo.centroid, &region.bbox, truth) else {
                continue;
            };
            if !seen.insert(t.item_id) {
                continue;
            }
            let crop = crate::imageio::crop::crop_with_margin(&frame.image, region.bbox);
            let saved = crate::store::save_sample_png(samples_dir, &crop)?;
            let id = store.insert_sample(&crate::store::NewSample {
                path: saved.path,
                hash: saved.hash,
                width: saved.width,
                height: saved.height,
                source: "synthetic-truth".into(),
            })?;
            let label = match t.defects.first() {
                None => ClassLabel::good().to_string(),
                Some(k) => k.name().replace('_', " "),
            };
            if let Some(actor) = actor {
                store.add_label(id, &label, None, actor)?;
            }
            ids.push(id);
        }
    }
    Ok(ids)
}
