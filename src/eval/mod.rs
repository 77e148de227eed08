//! Evaluation on an MVTec-style dataset tree: train on `train/good`, score every image of
//! `test*/<class>/`, compare with the truth (folder = class, `ground_truth/<class>/*_mask.png`
//! = defect pixels).

mod dataset;
mod error;
pub mod gate;
mod items;
mod metrics;
pub mod pixels;
mod report;
mod score;

use std::path::Path;
use std::time::Instant;

use crate::model::AnomalyModel;
use crate::model::TrainOptions;
use crate::model::grading::{GradingOptions, evaluate_grading};
use crate::model::operating::LabelledScore;
use crate::vision::segment::SegmentConfig;
use metrics::{ImageMetrics, PixelMetrics};

pub use dataset::{Dataset, TestImage};
pub use error::{BoxedError, EvalError};
pub use items::{main_item_features, main_items, main_items_measured};
pub use report::{AnomalyReport, ConfusionReport, EvalReport, grading_labels};
pub use score::ScoredImage;

/// Train on `train/good` and evaluate on the test images. `progress(done, total, stage)`.
/// With `previews`, a side-by-side picture (photo, pixel scores, truth) of every test image
/// with a mask is written there.
pub fn evaluate(
    ds: &Dataset,
    segment: &SegmentConfig,
    train: &TrainOptions,
    previews: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(EvalReport, AnomalyModel), EvalError> {
    let t0 = Instant::now();
    let (model, train_items) = score::train_on_good(ds, segment, train, progress)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let images = score::score_tests(ds, &model, segment, progress)?;
    let test_seconds = t1.elapsed().as_secs_f64();

    let scores: Vec<f64> = images.iter().map(|s| s.score).collect();
    let m = ImageMetrics::of(ds, &scores, model.thresholds.reject);
    let px = PixelMetrics::of(ds, &images, &model, previews)?;
    let mut ms: Vec<f64> = images.iter().map(|i| i.ms).collect();
    ms.sort_by(f64::total_cmp);
    let report = EvalReport {
        dataset: ds.root.display().to_string(),
        model_version: model.version.clone(),
        anomaly: AnomalyReport {
            train_images: ds.train_good.len(),
            train_items,
            test_images: m.test_images,
            image_auroc: m.image_auroc,
            image_auroc_per_class: m.per_class,
            pixel_auroc_all: px.all,
            pixel_auroc_item: px.inside,
            pixel_images: px.images,
            threshold: model.thresholds.reject,
            confusion: m.confusion.into(),
            recall_per_class: m.recall_per_class,
            train_seconds,
            test_seconds,
            ms_per_image_median: crate::model::metrics::quantile(&ms, 0.5),
        },
        grading: grade(ds, progress)?,
        scores: ds
            .test
            .iter()
            .zip(&scores)
            .map(|(t, s)| LabelledScore {
                score: *s,
                class: t.class.clone(),
                origin: t.path.display().to_string(),
            })
            .collect(),
    };
    Ok((report, model))
}

/// The grade classification of the dataset, when it has grade labels (see
/// [`grading_labels`]).
fn grade(
    ds: &Dataset,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Option<crate::model::grading::GradingReport>, EvalError> {
    let Some((dir, subset)) = grading_labels(&ds.root) else {
        return Ok(None);
    };
    evaluate_grading(&dir, &subset, &GradingOptions::default(), &|done, total| {
        progress(done, total, "grading")
    })
    .map(Some)
    .map_err(|e| EvalError::Grading {
        dir,
        source: e.into(),
    })
}
