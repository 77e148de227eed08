//! Retraining from labelled samples, as a job that runs off the UI thread: gather the
//! labelled samples, measure them (in parallel), fit the anomaly detector on the good ones
//! and, when at least two classes have enough labels, the grade classifier; evaluate by
//! cross-validation; save a new model version (file first, then its database row).
//!
//! Crash safety: the model files are written atomically before the row that names them, and
//! nothing here changes the active model. A kill at any point leaves the live model and the
//! database as they were (at worst an unregistered file in the models folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::eval::main_items_measured;
use crate::imageio::load_rgb;
use crate::model::classifier::{
    DESCRIPTOR_FEATURES, DESCRIPTOR_SET, GradeClassifier, GradeTrainOptions, KnownItems,
    MIN_PER_CLASS, describe_image_known,
};
use crate::model::metrics::auroc;
use crate::model::{AnomalyModel, TrainError, TrainOptions};
use crate::store::{LabelRow, NewModelVersion, SampleRow, Store, StoreError};
use crate::vision::features::ItemFeatures;
use crate::vision::segment::Segmenter;

/// The label that means "good product"; every other label is a defect class.
pub const GOOD: &str = "good";

/// Folds of the cross-validation that measures a new model.
const EVAL_FOLDS: usize = 5;

/// What a training job needs.
#[derive(Clone, Debug)]
pub struct TrainJobConfig {
    /// The database with the labelled samples; the new version is registered here.
    pub db_path: PathBuf,
    /// Where model files go.
    pub models_dir: PathBuf,
    /// The model in use: its segmentation settings are kept.
    pub base: Arc<AnomalyModel>,
    /// Training settings.
    pub options: TrainOptions,
    /// Who started it (audit and model metadata).
    pub actor: String,
    /// Worker threads for the job; `None` = all cores. The workstation gives a background
    /// job one thread of its own so the line's inspection never waits behind training work
    /// in the shared pool.
    pub threads: Option<usize>,
}

/// The steps of a training job, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Stage {
    /// Reading the labelled samples from the database.
    Gathering,
    /// Finding and measuring the items of each sample.
    Measuring,
    /// Cross-validating the anomaly detector.
    Evaluating,
    /// Fitting the final anomaly detector.
    Fitting,
    /// Fitting the grade classifier.
    Classifier,
    /// Writing the model files and registering the version.
    Saving,
}

impl Stage {
    /// Human name for progress displays.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Gathering => "gathering labelled samples",
            Stage::Measuring => "measuring items",
            Stage::Evaluating => "cross-validating",
            Stage::Fitting => "fitting the anomaly detector",
            Stage::Classifier => "fitting the grade classifier",
            Stage::Saving => "saving the model version",
        }
    }
}

/// Where a job is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobProgress {
    /// Current stage.
    pub stage: Stage,
    /// Units done and total in this stage.
    pub done: usize,
    pub total: usize,
    /// Time since the job started.
    pub elapsed: Duration,
    /// Estimated time left in this stage (from its rate so far), when it can be told.
    pub eta: Option<Duration>,
}

impl JobProgress {
    /// Share of the current stage done, 0..1.
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            self.done as f32 / self.total as f32
        }
    }
}

/// Why a job did not produce a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainJobError {
    /// Not enough labelled data: the message says what is missing.
    #[error("not enough labelled samples to train: {0}")]
    NotEnoughData(String),
    /// The user cancelled; nothing was saved.
    #[error("training was cancelled; nothing was saved")]
    Cancelled,
    /// The database could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fitting failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A model file could not be written.
    #[error("cannot save the model to {path}: {reason}")]
    Save { path: PathBuf, reason: String },
}

/// What a finished job produced.
#[derive(Clone, Debug, Serialize)]
pub struct TrainOutcome {
    /// Row id of the new model version.
    pub version_id: i64,
    /// Its version label.
    pub version: String,
    /// The anomaly model file.
    pub model_path: PathBuf,
    /// The grade classifier file, when one was trained.
    pub classifier_path: Option<PathBuf>,
    /// Cross-validated metrics (also stored with the version).
    pub metrics: BTreeMap<String, f64>,
    /// Samples that could not be used, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Wall time of the whole job.
    pub seconds: f64,
}

/// One labelled sample, measured.
struct Measured {
    sample_id: i64,
    label_id: i64,
    label: String,
    items: Vec<ItemFeatures>,
    descriptor: Option<Vec<f64>>,
}

fn measure(
    (sample, label): &(SampleRow, LabelRow),
    seg: &crate::vision::segment::SegmentConfig,
    describe: bool,
) -> Result<Measured, String> {
    let img = load_rgb(&sample.path).map_err(|e| e.to_string())?;
    let mut segmenter = Segmenter::new(seg.clone());
    let (regions, measured) = main_items_measured(&mut segmenter, &img);
    if measured.is_empty() {
        return Err("no item found in the image".into());
    }
    // The descriptor reuses this segmentation and these features (no second pass).
    let descriptor = describe.then(|| {
        let known = KnownItems {
            regions: &regions,
            features: &measured,
        };
        describe_image_known(&img, &mut segmenter, Some(known))
    });
    let items = measured.into_iter().map(|(_, f)| f).collect();
    Ok(Measured {
        sample_id: sample.id,
        label_id: label.id,
        label: label.label.clone(),
        items,
        descriptor,
    })
}

/// Progress reporting with a per-stage rate-based ETA.
struct Reporter<'a> {
    started: Instant,
    stage_started: Mutex<Instant>,
    sink: &'a (dyn Fn(JobProgress) + Sync),
}

impl Reporter<'_> {
    fn stage(&self, stage: Stage, total: usize) {
        *self.stage_started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.report(stage, 0, total);
    }

    fn report(&self, stage: Stage, done: usize, total: usize) {
        let in_stage = self
            .stage_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        let eta = (done > 0 && total > done)
            .then(|| in_stage.mul_f64((total - done) as f64 / done as f64));
        (self.sink)(JobProgress {
            stage,
            done,
            total,
            elapsed: self.started.elapsed(),
            eta,
        });
    }
}

/// Run a training job to the end (call it on a worker thread; see [`TrainJob`]).
/// `cancel` is checked between samples and stages.
pub fn run_training(
    cfg: &TrainJobConfig,
    progress: &(dyn Fn(JobProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, TrainJobError> {
    match cfg.threads {
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .thread_name(|i| format!("foodqc-train-{i}"))
                .build()
                .map_err(|e| TrainJobError::Save {
                    path: cfg.models_dir.clone(),
                    reason: format!("cannot start the training threads: {e}"),
                })?;
            pool.install(|| run_in_pool(cfg, progress, cancel))
        }
        None => run_in_pool(cfg, progress, cancel),
    }
}

fn run_in_pool(
    cfg: &TrainJobConfig,
    progress: &(dyn Fn(JobProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, TrainJobError> {
    let rep = Reporter {
        started: Instant::now(),
        stage_started: Mutex::new(Instant::now()),
        sink: progress,
    };
    let cancelled = || cancel.load(Ordering::Relaxed);
    rep.stage(Stage::Gathering, 1);
    let labelled = Store::open(&cfg.db_path)?.labelled_samples()?;
    let n_good = labelled.iter().filter(|(_, l)| l.label == GOOD).count();
    let min = crate::model::anomaly::MIN_TRAIN_ITEMS;
    if n_good < min {
        let defects = labelled.len() - n_good;
        return Err(TrainJobError::NotEnoughData(format!(
            "the anomaly detector learns what good product looks like and needs at least {min} samples labelled good; there are {n_good} (and {defects} labelled as defects). Label {} more good samples (key 0 in the Label tab) or import a folder of good product.",
            min - n_good
        )));
    }
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, l) in &labelled {
        *per_class.entry(l.label.as_str()).or_default() += 1;
    }
    let classifier_classes: Vec<String> = per_class
        .iter()
        .filter(|(_, n)| **n >= MIN_PER_CLASS)
        .map(|(c, _)| c.to_string())
        .collect();
    let want_classifier = classifier_classes.len() >= 2;

    // Measure every sample in parallel.
    rep.stage(Stage::Measuring, labelled.len());
    let done = AtomicUsize::new(0);
    let seg = cfg.base.segment.clone();
    let measured: Vec<Option<Result<Measured, String>>> = labelled
        .par_iter()
        .map(|s| {
            if cancelled() {
                return None;
            }
            let describe = want_classifier && classifier_classes.contains(&s.1.label);
            let m = measure(s, &seg, describe);
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
            Some(Err(reason)) => skipped.push((s.0.path.clone(), reason)),
            None => return Err(TrainJobError::Cancelled),
        }
    }
    let good: Vec<&Measured> = samples.iter().filter(|m| m.label == GOOD).collect();
    let defects: Vec<&Measured> = samples.iter().filter(|m| m.label != GOOD).collect();
    if good.len() < min {
        return Err(TrainJobError::NotEnoughData(format!(
            "only {} of the good samples have a usable item ({} could not be read or showed no item, e.g. {}); at least {min} are needed",
            good.len(),
            skipped.len(),
            skipped
                .first()
                .map(|(p, r)| format!("{}: {r}", p.display()))
                .unwrap_or_default()
        )));
    }
    let never = || cancelled();

    // Cross-validation over good samples: each fold's model scores its held-out good samples;
    // every defect is scored by the final model, which has never seen a defect.
    let folds = EVAL_FOLDS.min(good.len() / min).max(1);
    let mut oof_good: Vec<(f64, bool)> = Vec::new(); // (score, rejected)
    if folds >= 2 {
        rep.stage(Stage::Evaluating, folds);
        for fold in 0..folds {
            if cancelled() {
                return Err(TrainJobError::Cancelled);
            }
            let fit: Vec<ItemFeatures> = good
                .iter()
                .enumerate()
                .filter(|(i, _)| i % folds != fold)
                .flat_map(|(_, m)| m.items.iter().cloned())
                .collect();
            let model = AnomalyModel::train(&fit, seg.clone(), &cfg.options, "fold", &never)
                .map_err(cancel_or)?;
            for m in good.iter().skip(fold).step_by(folds) {
                let s = sample_score(&model, m);
                oof_good.push((s, s > model.thresholds.reject));
            }
            rep.report(Stage::Evaluating, fold + 1, folds);
        }
    }
    rep.stage(Stage::Fitting, 1);
    let all_good: Vec<ItemFeatures> = good.iter().flat_map(|m| m.items.iter().cloned()).collect();
    let trained_on = format!("{} labelled samples", samples.len());
    let mut model = AnomalyModel::train(&all_good, seg.clone(), &cfg.options, "labelled", &never)
        .map_err(cancel_or)?;
    model.card.trained_on = trained_on;
    let defect_scores: Vec<f64> = defects.iter().map(|m| sample_score(&model, m)).collect();

    let mut metrics = BTreeMap::new();
    metrics.insert("good_samples".into(), good.len() as f64);
    metrics.insert("defect_samples".into(), defects.len() as f64);
    metrics.insert("threshold".into(), model.thresholds.reject);
    if !oof_good.is_empty() {
        let fr = oof_good.iter().filter(|(_, r)| *r).count();
        metrics.insert(
            "cv_false_reject_rate".into(),
            fr as f64 / oof_good.len() as f64,
        );
        metrics.insert("cv_good_rejected".into(), fr as f64);
        metrics.insert("cv_good_passed".into(), (oof_good.len() - fr) as f64);
    }
    if !defect_scores.is_empty() {
        let caught = defect_scores
            .iter()
            .filter(|s| **s > model.thresholds.reject)
            .count();
        metrics.insert("defects_rejected".into(), caught as f64);
        metrics.insert(
            "defects_passed".into(),
            (defect_scores.len() - caught) as f64,
        );
        metrics.insert("recall".into(), caught as f64 / defect_scores.len() as f64);
        if !oof_good.is_empty() {
            let mut scores: Vec<f64> = oof_good.iter().map(|(s, _)| *s).collect();
            let mut positive = vec![false; scores.len()];
            scores.extend(&defect_scores);
            positive.resize(scores.len(), true);
            if let Some(a) = auroc(&scores, &positive) {
                metrics.insert("cv_auroc".into(), a);
            }
        }
    }

    let mut classifier = None;
    if want_classifier {
        if cancelled() {
            return Err(TrainJobError::Cancelled);
        }
        rep.stage(Stage::Classifier, 1);
        let (x, y): (Vec<Vec<f64>>, Vec<String>) = samples
            .iter()
            .filter_map(|m| Some((m.descriptor.clone()?, m.label.clone())))
            .unzip();
        match GradeClassifier::train(
            &x,
            &y,
            None,
            DESCRIPTOR_SET,
            &DESCRIPTOR_FEATURES,
            &GradeTrainOptions::default(),
            "labelled samples",
        ) {
            Ok(c) => {
                if let Some(f1) = c.card.inner_cv_score {
                    metrics.insert("classifier_cv_score".into(), f1);
                }
                metrics.insert("classifier_classes".into(), c.classes().len() as f64);
                classifier = Some(c);
            }
            // A classifier is a bonus: say why there is none and keep the detector.
            Err(e) => tracing::warn!("grade classifier not trained: {e}"),
        }
    }
    if cancelled() {
        return Err(TrainJobError::Cancelled);
    }

    rep.stage(Stage::Saving, 1);
    let seconds = rep.started.elapsed().as_secs_f64();
    metrics.insert("training_seconds".into(), seconds);
    model.card.metrics.extend(metrics.clone());
    let model_path = cfg.models_dir.join(format!("{}.json", model.version));
    model.save(&model_path).map_err(|e| TrainJobError::Save {
        path: model_path.clone(),
        reason: e.to_string(),
    })?;
    let card_path = model_path.with_extension("card.md");
    let _ = std::fs::write(&card_path, model.card_markdown()); // the card is a convenience copy
    let classifier_path = match &classifier {
        Some(c) => {
            let p = cfg
                .models_dir
                .join(format!("{}.classifier.json", model.version));
            c.save(&p).map_err(|e| TrainJobError::Save {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            Some(p)
        }
        None => None,
    };
    let snapshot = serde_json::json!({
        "sample_ids": samples.iter().map(|m| m.sample_id).collect::<Vec<_>>(),
        "label_ids": samples.iter().map(|m| m.label_id).collect::<Vec<_>>(),
        "label_counts": per_class,
        "skipped": skipped.iter().map(|(p, r)| format!("{}: {r}", p.display())).collect::<Vec<_>>(),
    });
    let params = serde_json::json!({
        "train_options": cfg.options,
        "segment": cfg.base.segment,
        "classifier": classifier_path.as_ref().map(|p| p.display().to_string()),
        "trained_by": cfg.actor,
    });
    let version_id = Store::open(&cfg.db_path)?.register_model_version(&NewModelVersion {
        version: model.version.clone(),
        path: model_path.clone(),
        kind: if classifier.is_some() {
            "anomaly+classifier".into()
        } else {
            "anomaly".into()
        },
        params,
        metrics: serde_json::to_value(&metrics).unwrap_or_default(),
        data_snapshot: snapshot,
    })?;
    rep.report(Stage::Saving, 1, 1);
    Ok(TrainOutcome {
        version_id,
        version: model.version,
        model_path,
        classifier_path,
        metrics,
        skipped,
        seconds,
    })
}

fn cancel_or(e: TrainError) -> TrainJobError {
    match e {
        TrainError::Cancelled => TrainJobError::Cancelled,
        e => TrainJobError::Train(e),
    }
}

/// A sample's score: its worst item.
fn sample_score(model: &AnomalyModel, m: &Measured) -> f64 {
    m.items
        .iter()
        .map(|f| model.score(f).score)
        .fold(0.0, f64::max)
}

/// A training job on its own thread: poll [`TrainJob::progress`] and [`TrainJob::try_finish`]
/// from the UI, [`TrainJob::cancel`] to stop it.
pub struct TrainJob {
    progress: Arc<Mutex<Option<JobProgress>>>,
    cancel: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<TrainOutcome, TrainJobError>>>,
}

impl TrainJob {
    /// Start a job. `on_progress` is called after each progress step (e.g. to repaint).
    pub fn spawn(
        cfg: TrainJobConfig,
        on_progress: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let progress = Arc::new(Mutex::new(None));
        let cancel = Arc::new(AtomicBool::new(false));
        let (p, c) = (progress.clone(), cancel.clone());
        let handle = std::thread::Builder::new()
            .name("foodqc-train".into())
            .spawn(move || {
                let sink = |jp: JobProgress| {
                    *p.lock().unwrap_or_else(|e| e.into_inner()) = Some(jp);
                    on_progress();
                };
                let result = run_training(&cfg, &sink, &c);
                on_progress();
                result
            })?;
        Ok(Self {
            progress,
            cancel,
            handle: Some(handle),
        })
    }

    /// The latest progress report.
    pub fn progress(&self) -> Option<JobProgress> {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Ask the job to stop at the next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// True once cancel was asked.
    pub fn is_cancelling(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The result, once the job has ended (then `None` forever after).
    pub fn try_finish(&mut self) -> Option<Result<TrainOutcome, TrainJobError>> {
        if !self.handle.as_ref()?.is_finished() {
            return None;
        }
        let handle = self.handle.take()?;
        Some(handle.join().unwrap_or_else(|_| {
            Err(TrainJobError::Save {
                path: PathBuf::new(),
                reason: "the training thread panicked".into(),
            })
        }))
    }

    /// Wait for the end (for the CLI and tests).
    pub fn wait(mut self) -> Result<TrainOutcome, TrainJobError> {
        loop {
            if let Some(r) = self.try_finish() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Load a registered model version's file, checking it is the version the row says.
pub fn load_version(path: &Path, version: &str) -> Result<AnomalyModel, String> {
    let m = AnomalyModel::load(path).map_err(|e| e.to_string())?;
    if m.version != version {
        return Err(format!(
            "{} holds model {} but the database registered it as {version}",
            path.display(),
            m.version
        ));
    }
    Ok(m)
}

/// The grade classifier saved beside a model file (`<name>.classifier.json` next to
/// `<name>.json`): `None` when there is none; an error names the file.
pub fn classifier_beside(model_path: &Path) -> Option<Result<GradeClassifier, String>> {
    let path = model_path.with_extension("classifier.json");
    path.is_file()
        .then(|| GradeClassifier::load_for_images(&path).map_err(|e| e.to_string()))
}

/// The grade classifier of a registered model version, if it has one (looked up by version
/// in the database, then beside its file). Problems are logged, never fatal: the line runs
/// without defect classes rather than not at all.
pub fn classifier_for_version(db_path: &Path, version: &str) -> Option<Arc<GradeClassifier>> {
    if !db_path.is_file() {
        return None;
    }
    let rows = Store::open(db_path)
        .and_then(|s| s.list_model_versions())
        .map_err(|e| tracing::warn!("cannot look up the classifier of {version}: {e}"))
        .ok()?;
    let row = rows.into_iter().find(|r| r.version == version)?;
    match classifier_beside(&row.path)? {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            tracing::error!("the defect classifier of {version} cannot be used: {e}");
            None
        }
    }
}
