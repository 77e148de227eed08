//! Retraining from labelled samples, as a job that runs off the UI thread: gather the
//! labelled samples less the acceptance hold-out ([`crate::training::holdout`], never
//! trained on), measure them (in parallel), fit the anomaly detector on the good ones
//! and, when at least two classes have enough labels, the grade classifier; evaluate by
//! cross-validation; save a new model version (file first, then its database row).
//!
//! Crash safety: the model files are written atomically before the row that names them, and
//! nothing here changes the active model. A kill at any point leaves the live model and the
//! database as they were (at worst an unregistered file in the models folder).

mod classify;
mod evaluate;
mod measure;
mod progress;
mod save;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::model::anomaly::MIN_TRAIN_ITEMS;
use crate::model::classifier::GradeClassifier;
use crate::model::deep::DeepOptions;
use crate::model::selection::{GoodItem, SelectionError};
use crate::model::tiered::train_with_tier;
use crate::model::{AnomalyModel, ModelError, Tier, TierChoice, TrainError, TrainOptions};
use crate::store::{LabelRow, SampleRow, Store, StoreError};
use crate::training::holdout;
use crate::vision::features::ItemFeatures;
use measure::{Measured, sample_score};
use progress::Reporter;

/// The label that means "good product"; every other label is a defect class.
pub use crate::domain::GOOD;

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
    /// Which detector tier to train (`auto`: the one synthetic defects on held-back good
    /// samples favour, see [`crate::model::tiered`]).
    pub tier: TierChoice,
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
    /// Choosing the detector tier and fitting the deep one.
    Tier,
    /// Fitting the grade classifier.
    Classifier,
    /// Writing the model files and registering the version.
    Saving,
}

impl Stage {
    /// Human name for progress displays, in the language in force.
    pub fn title(self) -> String {
        match self {
            Stage::Gathering => crate::tr!("stage-gathering"),
            Stage::Measuring => crate::tr!("stage-measuring"),
            Stage::Evaluating => crate::tr!("stage-evaluating"),
            Stage::Fitting => crate::tr!("stage-fitting"),
            Stage::Tier => crate::tr!("stage-tier"),
            Stage::Classifier => crate::tr!("stage-classifier"),
            Stage::Saving => crate::tr!("stage-saving"),
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
    #[error("{}", crate::tr!("err-training-job-not-enough-data", v0 = .0.to_string()))]
    NotEnoughData(String),
    /// The user cancelled; nothing was saved.
    #[error("{}", crate::tr!("err-training-job-cancelled"))]
    Cancelled,
    /// The database could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fitting failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Choosing the tier or fitting the deep tier failed.
    #[error(transparent)]
    Tier(#[from] SelectionError),
    /// A model file could not be written.
    #[error("{}", crate::tr!("err-training-job-save", path = .path.display().to_string(), reason = .reason.to_string()))]
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
    /// The labelled samples kept out of training for the acceptance test.
    pub held_out: holdout::HoldOut,
    /// Wall time of the whole job.
    pub seconds: f64,
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

/// The job itself, inside its pool: gather, measure, cross-validate, fit, save.
fn run_in_pool(
    cfg: &TrainJobConfig,
    progress: &(dyn Fn(JobProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, TrainJobError> {
    let rep = Reporter::new(progress);
    let cancelled = || cancel.load(Ordering::Relaxed);
    rep.stage(Stage::Gathering, 1);
    let all_labelled = Store::open(&cfg.db_path)?.labelled_samples()?;
    let min = MIN_TRAIN_ITEMS;
    check_enough_good(&all_labelled)?;
    // The acceptance hold-out is never trained or calibrated on: it is the independent test
    // data a candidate is compared on before it may go live.
    let held_out = holdout::hold_out(&all_labelled, min);
    if held_out.good_kept_for_training > 0 {
        tracing::warn!(
            "only {} good samples are labelled: {} that the acceptance hold-out would keep back are trained on, so the test data has fewer good samples than one in five and the acceptance check may find too few",
            held_out.per_label.get(GOOD).map_or(0, |c| c.1),
            held_out.good_kept_for_training
        );
    }
    let labelled: Vec<(SampleRow, LabelRow)> = all_labelled
        .into_iter()
        .filter(|(s, _)| !held_out.contains(s.id))
        .collect();
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, l) in &labelled {
        *per_class.entry(l.label.as_str()).or_default() += 1;
    }
    let classifier_classes = classify::classifier_classes(&per_class);
    let seg = cfg.base.segment.clone();
    let described = classifier_classes.as_deref();
    let keep_views = cfg.tier != TierChoice::Classical;
    let (samples, skipped) =
        measure::measure_all(&labelled, &seg, described, keep_views, &rep, &cancelled)?;
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

    // Cross-validation over good samples: each fold's model scores its held-out good samples;
    // every defect is scored by the final model, which has never seen a defect.
    let oof_good = evaluate::cross_validate(&good, &seg, &cfg.options, &rep, &cancelled)?;
    rep.stage(Stage::Fitting, 1);
    let all_good: Vec<ItemFeatures> = good.iter().flat_map(|m| m.items.iter().cloned()).collect();
    let trained_on = format!(
        "{} labelled samples ({} more held out for the acceptance test)",
        samples.len(),
        held_out.len()
    );
    let mut model =
        AnomalyModel::train(&all_good, seg.clone(), &cfg.options, "labelled", &cancelled)
            .map_err(cancel_or)?;
    model.card.trained_on = trained_on;
    model.card.notes.push(holdout_note(&held_out));
    let (mut model, oof_good) = choose_tier(cfg, model, &good, oof_good, &rep, &cancelled)?;
    let defect_scores: Vec<f64> = defects.iter().map(|m| sample_score(&model, m)).collect();
    let mut metrics = evaluate::version_metrics(&model, good.len(), &oof_good, &defect_scores);
    metrics.insert("holdout_samples".into(), held_out.len() as f64);
    metrics.insert(
        "tier_deep".into(),
        f64::from(u8::from(model.tier == Tier::Deep)),
    );

    let mut classifier = None;
    if classifier_classes.is_some() {
        if cancelled() {
            return Err(TrainJobError::Cancelled);
        }
        rep.stage(Stage::Classifier, 1);
        classifier = classify::train_classifier(&samples, &mut metrics);
    }
    if cancelled() {
        return Err(TrainJobError::Cancelled);
    }

    rep.stage(Stage::Saving, 1);
    let seconds = rep.started.elapsed().as_secs_f64();
    metrics.insert("training_seconds".into(), seconds);
    model.card.metrics.extend(metrics.clone());
    let parts = save::VersionParts {
        classifier: classifier.as_ref(),
        metrics: &metrics,
        samples: &samples,
        skipped: &skipped,
        per_class: &per_class,
        held_out: &held_out,
    };
    let saved = save::save_version(cfg, &model, parts)?;
    rep.report(Stage::Saving, 1, 1);
    Ok(TrainOutcome {
        version_id: saved.version_id,
        version: model.version,
        model_path: saved.model_path,
        classifier_path: saved.classifier_path,
        metrics,
        skipped,
        held_out,
        seconds,
    })
}

/// The model of the tier `cfg.tier` asks for (see [`train_with_tier`]) and the cross-validated
/// `(score, rejected)` of the good samples for that tier: the classical folds' as given, or
/// the deep tier's out-of-fold calibration scores (per item) when it is kept.
fn choose_tier(
    cfg: &TrainJobConfig,
    classical: AnomalyModel,
    good: &[&Measured],
    oof_classical: Vec<(f64, bool)>,
    rep: &Reporter<'_>,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<(AnomalyModel, Vec<(f64, bool)>), TrainJobError> {
    if cfg.tier == TierChoice::Classical {
        return Ok((classical, oof_classical));
    }
    rep.stage(Stage::Tier, 1);
    // Each sample is its own group: nothing says two samples show the same item.
    let items: Vec<GoodItem> = good
        .iter()
        .enumerate()
        .filter_map(|(k, m)| m.view.as_ref().map(|v| (k, v)))
        .flat_map(|(k, (img, regions))| {
            regions.iter().map(move |region| GoodItem {
                frame: img,
                region,
                group: k as u64,
            })
        })
        .collect();
    let tiered = train_with_tier(
        classical,
        &items,
        cfg.tier,
        &cfg.base.segment,
        &cfg.options,
        &DeepOptions::default(),
        cancelled,
    )
    .map_err(|e| {
        if cancelled() {
            TrainJobError::Cancelled
        } else {
            TrainJobError::Tier(e)
        }
    })?;
    rep.report(Stage::Tier, 1, 1);
    let oof = match tiered.deep_held_out {
        Some(held_out) => {
            let reject = tiered.model.thresholds.reject;
            held_out.into_iter().map(|s| (s, s > reject)).collect()
        }
        None => oof_classical,
    };
    Ok((tiered.model, oof))
}

/// The model card's note on the acceptance hold-out: how many samples of each label were
/// kept out of training, and whether training had to take some of them back.
fn holdout_note(h: &holdout::HoldOut) -> String {
    let per_label: Vec<String> = h
        .per_label
        .iter()
        .map(|(label, (k, n))| format!("{label} {k} of {n}"))
        .collect();
    let mut note = format!(
        "Acceptance hold-out (one in five of each label, chosen by content hash; never trained on): {} samples ({}).",
        h.len(),
        per_label.join(", ")
    );
    if h.good_kept_for_training > 0 {
        note.push_str(&format!(
            " {} good samples of the hold-out were trained on: fewer than {} would be left for training otherwise.",
            h.good_kept_for_training, MIN_TRAIN_ITEMS
        ));
    }
    note
}

/// `NotEnoughData` when fewer than [`MIN_TRAIN_ITEMS`] samples are labelled good.
fn check_enough_good(labelled: &[(SampleRow, LabelRow)]) -> Result<(), TrainJobError> {
    let min = MIN_TRAIN_ITEMS;
    let n_good = labelled.iter().filter(|(_, l)| l.label == GOOD).count();
    if n_good < min {
        let defects = labelled.len() - n_good;
        return Err(TrainJobError::NotEnoughData(format!(
            "the anomaly detector learns what good product looks like and needs at least {min} samples labelled good; there are {n_good} (and {defects} labelled as defects). Label {} more good samples (key 0 in the Label tab) or import a folder of good product.",
            min - n_good
        )));
    }
    Ok(())
}

/// A cancelled fit is a cancelled job; any other failure is a training error.
fn cancel_or(e: TrainError) -> TrainJobError {
    match e {
        TrainError::Cancelled => TrainJobError::Cancelled,
        e => TrainJobError::Train(e),
    }
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

/// Why a registered model version cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadVersionError {
    /// The file cannot be read or is not a valid model (the error names it).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The file holds another version than the database row says.
    #[error("{} holds model {found} but the database registered it as {expected}", path.display())]
    Mismatch {
        /// The model file.
        path: PathBuf,
        /// The version in the file.
        found: String,
        /// The version the database registered.
        expected: String,
    },
}

/// Load a registered model version's file, checking it is the version the row says.
pub fn load_model_version(path: &Path, version: &str) -> Result<AnomalyModel, LoadVersionError> {
    let m = AnomalyModel::load(path)?;
    if m.version != version {
        return Err(LoadVersionError::Mismatch {
            path: path.to_path_buf(),
            found: m.version,
            expected: version.to_string(),
        });
    }
    Ok(m)
}

/// [`load_model_version`] with the error as text, for callers that only show it.
pub fn load_version(path: &Path, version: &str) -> Result<AnomalyModel, String> {
    load_model_version(path, version).map_err(|e| e.to_string())
}

/// The grade classifier saved beside a model file (`<name>.classifier.json` next to
/// `<name>.json`): `None` when there is none; an error names the file.
pub fn classifier_beside(model_path: &Path) -> Option<Result<GradeClassifier, String>> {
    GradeClassifier::beside(model_path).map(|r| r.map_err(|e| e.to_string()))
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
