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

use crate::model::deep::DeepOptions;
use crate::model::grading::{GradingOptions, evaluate_grading};
use crate::model::operating::LabelledScore;
use crate::model::selection::select_tier;
use crate::model::{AnomalyModel, Tier, TierChoice, TrainOptions};
use crate::vision::segment::SegmentConfig;
use metrics::{ImageMetrics, PixelMetrics};

pub use dataset::{Dataset, TestImage};
pub use error::{BoxedError, EvalError};
pub use items::{main_item_features, main_items, main_items_measured};
pub use report::{AnomalyReport, ConfusionReport, EvalReport, grading_labels};
pub use score::ScoredImage;

/// How an evaluation trains.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// How items are found.
    pub segment: SegmentConfig,
    /// Classical tier settings (and the false-reject target both tiers' thresholds use).
    pub train: TrainOptions,
    /// Deep tier settings.
    pub deep: DeepOptions,
    /// Which tiers to train and which to keep.
    pub tier: TierChoice,
}

/// Train on `train/good` and evaluate on the test images, with each tier `opts.tier` asks
/// for; with `auto` the kept tier is chosen by synthetic defects on the training items only
/// ([`crate::model::selection`]), never by the test images. `progress(done, total, stage)`.
/// With `previews`, a side-by-side picture (photo, pixel scores, truth) of every test image
/// with a mask is written there, for the kept model.
pub fn evaluate(
    ds: &Dataset,
    opts: &EvalOptions,
    previews: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(EvalReport, AnomalyModel), EvalError> {
    let segment = &opts.segment;
    let binning = match opts.train.binning {
        Some(n) => n,
        None => score::choose_binning(&ds.train_good, segment),
    };
    let train = &TrainOptions {
        binning: Some(binning),
        ..opts.train.clone()
    };
    let t0 = Instant::now();
    let photos = score::load_train_photos(ds, segment, binning, progress);
    let items = score::good_items(&photos);
    let read_seconds = t0.elapsed().as_secs_f64();
    let tiers = opts.tier.tiers();
    let mut models: Vec<(AnomalyModel, f64)> = Vec::new();
    let t1 = Instant::now();
    let classical = score::train_classical(ds, &items, segment, train)?;
    let classical_seconds = t1.elapsed().as_secs_f64() + read_seconds;
    if tiers.contains(&Tier::Deep) {
        let t2 = Instant::now();
        let deep = score::train_deep(&classical, &items, train, &opts.deep, progress)?;
        models.push((deep, t2.elapsed().as_secs_f64() + read_seconds));
    }
    if tiers.contains(&Tier::Classical) {
        models.insert(0, (classical, classical_seconds));
    }
    let selection = if opts.tier == TierChoice::Auto {
        progress(0, 1, "choosing");
        let s = select_tier(&items, &tiers, segment, train, &opts.deep, &|| false)?;
        progress(1, 1, "choosing");
        Some(s)
    } else {
        None
    };
    let kept_tier = selection.as_ref().map_or(tiers[0], |s| s.tier);
    drop(photos);

    let mut reports = Vec::new();
    let mut kept = None;
    for (model, train_seconds) in models {
        let is_kept = model.tier == kept_tier;
        let (mut anomaly, scores) = anomaly_report(
            ds,
            &model,
            segment,
            model.card.items,
            is_kept.then_some(previews).flatten(),
            progress,
        )?;
        anomaly.train_seconds = train_seconds;
        if is_kept {
            kept = Some((model, scores));
        }
        reports.push(anomaly);
    }
    let Some((mut model, scores)) = kept else {
        return Err(EvalError::Inconsistent(format!(
            "no {kept_tier} model was trained"
        )));
    };
    if let Some(s) = &selection {
        s.annotate(&mut model.card);
    }
    let anomaly = reports
        .iter()
        .find(|r| r.tier == kept_tier)
        .cloned()
        .ok_or_else(|| EvalError::Inconsistent("kept tier has no report".into()))?;
    let report = EvalReport {
        dataset: ds.root.display().to_string(),
        model_version: model.version.clone(),
        anomaly,
        tiers: reports,
        choice: opts.tier.as_str().to_string(),
        selection,
        grading: grade(ds, opts.tier, progress)?,
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

/// Score the test images with one model and measure it.
fn anomaly_report(
    ds: &Dataset,
    model: &AnomalyModel,
    segment: &SegmentConfig,
    train_items: usize,
    previews: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(AnomalyReport, Vec<f64>), EvalError> {
    let t1 = Instant::now();
    let images = score::score_tests(ds, model, segment, progress)?;
    let test_seconds = t1.elapsed().as_secs_f64();
    let scores: Vec<f64> = images.iter().map(|s| s.score).collect();
    let m = ImageMetrics::of(ds, &scores, model.thresholds.reject);
    let px = PixelMetrics::of(ds, &images, model, previews)?;
    let mut ms: Vec<f64> = images.iter().map(|i| i.ms).collect();
    ms.sort_by(f64::total_cmp);
    let model_bytes = serde_json::to_vec(model).map(|v| v.len()).unwrap_or(0);
    Ok((
        AnomalyReport {
            tier: model.tier,
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
            train_seconds: 0.0,
            test_seconds,
            ms_per_image_median: crate::model::metrics::quantile(&ms, 0.5),
            model_bytes,
        },
        scores,
    ))
}

/// The grade classification of the dataset, when it has grade labels (see
/// [`grading_labels`]).
fn grade(
    ds: &Dataset,
    tier: TierChoice,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Option<crate::model::grading::GradingReport>, EvalError> {
    let Some((dir, subset)) = grading_labels(&ds.root) else {
        return Ok(None);
    };
    let opts = GradingOptions {
        tier,
        ..GradingOptions::default()
    };
    evaluate_grading(&dir, &subset, &opts, &|done, total| {
        progress(done, total, "grading")
    })
    .map(Some)
    .map_err(|e| EvalError::Grading {
        dir,
        source: e.into(),
    })
}
