//! Measuring labelled samples: the main items of each sample image and, for the classifier,
//! its grade descriptor.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::progress::Reporter;
use super::{Stage, TrainJobError};
use crate::eval::main_items_measured;
use crate::imageio::{ImageLoadError, load_rgb};
use crate::model::classifier::{KnownItems, describe_image_known};
use crate::model::{AnomalyModel, Tier};
use crate::store::{LabelRow, SampleRow};
use crate::vision::features::ItemFeatures;
use crate::vision::segment::{ItemRegion, SegmentConfig, Segmenter};
use image::RgbImage;

/// One labelled sample, measured.
pub(super) struct Measured {
    pub(super) sample_id: i64,
    pub(super) label_id: i64,
    pub(super) label: String,
    pub(super) items: Vec<ItemFeatures>,
    /// The grade descriptor, when the sample's class trains the classifier.
    pub(super) descriptor: Option<Vec<f64>>,
    /// The sample image and its main items, when the deep tier may be trained or measured.
    pub(super) view: Option<(RgbImage, Vec<ItemRegion>)>,
}

/// Samples that could not be used, with the reason.
pub(super) type Skipped = Vec<(std::path::PathBuf, String)>;

/// Why a sample cannot be used (it is skipped, the job goes on).
#[derive(Debug, thiserror::Error)]
pub(super) enum MeasureError {
    /// The image could not be read (the error names it).
    #[error(transparent)]
    Image(#[from] ImageLoadError),
    /// The segmenter found no item.
    #[error("{}", crate::tr!("err-training-job-measure-no-item"))]
    NoItem,
}

/// Measures one sample; `describe` also computes its grade descriptor.
fn measure(
    (sample, label): &(SampleRow, LabelRow),
    seg: &SegmentConfig,
    describe: bool,
    keep_view: bool,
) -> Result<Measured, MeasureError> {
    let img = load_rgb(&sample.path)?;
    let mut segmenter = Segmenter::new(seg.clone());
    let (regions, measured) = main_items_measured(&mut segmenter, &img);
    if measured.is_empty() {
        return Err(MeasureError::NoItem);
    }
    // The descriptor reuses this segmentation and these features (no second pass).
    let descriptor = describe.then(|| {
        let known = KnownItems {
            regions: &regions,
            features: &measured,
        };
        describe_image_known(&img, &mut segmenter, Some(known))
    });
    let view = keep_view.then(|| {
        let main = measured.iter().map(|(i, _)| regions[*i].clone()).collect();
        (img, main)
    });
    let items = measured.into_iter().map(|(_, f)| f).collect();
    Ok(Measured {
        sample_id: sample.id,
        label_id: label.id,
        label: label.label.clone(),
        items,
        descriptor,
        view,
    })
}

/// Measures every labelled sample in parallel (those of `described` classes with their
/// descriptor; with `keep_views`, each with its image and main items). Returns the usable samples and the skipped ones with the reason; `Cancelled`
/// when `cancelled()` turns true.
pub(super) fn measure_all(
    labelled: &[(SampleRow, LabelRow)],
    seg: &SegmentConfig,
    described: Option<&[String]>,
    keep_views: bool,
    rep: &Reporter<'_>,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<(Vec<Measured>, Skipped), TrainJobError> {
    rep.stage(Stage::Measuring, labelled.len());
    let done = AtomicUsize::new(0);
    let measured: Vec<Option<Result<Measured, MeasureError>>> = labelled
        .par_iter()
        .map(|s| {
            if cancelled() {
                return None;
            }
            let describe = described.is_some_and(|classes| classes.contains(&s.1.label));
            let m = measure(s, seg, describe, keep_views);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            rep.report(Stage::Measuring, n, labelled.len());
            Some(m)
        })
        .collect();
    if cancelled() {
        return Err(TrainJobError::Cancelled);
    }
    let mut samples = Vec::new();
    let mut skipped = Vec::new();
    for (s, m) in labelled.iter().zip(measured) {
        match m {
            Some(Ok(m)) => samples.push(m),
            Some(Err(reason)) => skipped.push((s.0.path.clone(), reason.to_string())),
            None => return Err(TrainJobError::Cancelled),
        }
    }
    Ok((samples, skipped))
}

/// A sample's score: its worst item, judged by the model's own tier (the deep tier needs the
/// sample's view; without one the sample is scored as unjudgeable, infinity). NaN is never
/// lost to `max`: a non-finite item score makes the sample's score infinite.
pub(super) fn sample_score(model: &AnomalyModel, m: &Measured) -> f64 {
    let scores: Vec<f64> = match (model.tier, &m.view) {
        (Tier::Deep, Some((img, regions))) => regions
            .iter()
            .map(|r| model.assess(img, r).score.score)
            .collect(),
        (Tier::Deep, None) => vec![f64::INFINITY],
        (Tier::Classical, _) => m.items.iter().map(|f| model.score(f).score).collect(),
    };
    crate::model::anomaly::worst(scores)
}
