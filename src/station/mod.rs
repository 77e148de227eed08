//! The running line: a capture thread, an inspector thread and a recorder thread joined by
//! bounded channels. The GUI and the headless CLI run exactly this code.
//!
//! Nothing here blocks its caller: commands are queued, results are published into a shared
//! slot that a UI reads once per repaint.

pub mod alarm_watch;
mod capture_loop;
mod error;
pub mod group;
mod inspect_loop;
mod recipe_switch;
pub mod tracker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossbeam_channel::bounded;
use serde::{Deserialize, Serialize};

use crate::capture::{Frame, FrameSource, SourceOptions, SourceSpec};
use crate::domain::{AppPaths, Thresholds};
use crate::inspect::Inspection;
use crate::lineio::{DEFAULT_STALL, LineOutputSpec, LineOutputs, OutputCounters};
use crate::model::classifier::GradeClassifier;
use crate::model::{AnomalyModel, InspectionModel};
use crate::store::{InspectionRecorder, RecorderStats, Store};
pub use error::StationError;
use inspect_loop::{InspectCtx, register_model, with_applied_thresholds};

/// Items scoring at least this share of the reject threshold are "uncertain" and captured
/// for labelling like rejects.
pub const UNCERTAIN_FRACTION: f64 = 0.8;

/// A production lot: what is being made, on which line and shift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LotInfo {
    /// Lot code as printed on the packaging.
    pub code: String,
    /// Product name.
    pub product: String,
    /// Production line.
    pub line: String,
    /// Shift name.
    pub shift: String,
}

impl Default for LotInfo {
    fn default() -> Self {
        Self {
            code: "DEMO-LOT".into(),
            product: "cookies".into(),
            line: "line 1".into(),
            shift: "A".into(),
        }
    }
}

/// How the station runs.
#[derive(Clone, Debug)]
pub struct StationConfig {
    /// Station name (one line PC / camera position).
    pub station_name: String,
    /// Where frames come from.
    pub source: SourceSpec,
    /// Resolution, FPS, looping.
    pub source_options: SourceOptions,
    /// The lot being produced.
    pub lot: LotInfo,
    /// Live: pace to the source FPS and drop the oldest frame when inspection falls behind.
    /// Not live (replay/batch): every frame is inspected, as fast as possible.
    pub live: bool,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// Where the database and samples live.
    pub paths: AppPaths,
    /// Save crops of rejected and uncertain items as samples, at most this many per minute
    /// (0 = never).
    pub reject_samples_per_minute: u32,
    /// The signed-in account that started the station (a service account on a headless line
    /// PC); `None`: the station records as itself, by its name.
    pub operator: Option<String>,
    /// Where each decision goes on the line (PLCs, brokers); none: the station only records.
    pub line_outputs: Vec<LineOutputSpec>,
    /// Reject on doubt: items in the review band (and unscored ones) go to the line as
    /// rejects; their recorded verdict stays what the model said.
    pub reject_on_doubt: bool,
    /// Start with this recipe (its newest version): its model, thresholds and reject on
    /// doubt win over the ones above. An unknown recipe stops the start.
    pub recipe: Option<String>,
}

/// Commands a UI sends to the running station.
#[derive(Clone, Debug)]
pub enum StationCommand {
    /// Stop taking frames (the view freezes on the last one).
    Pause,
    /// Take frames again.
    Resume,
    /// Switch to another source; on failure the old one keeps running and the status says why.
    SetSource(SourceSpec),
    /// Start recording into another lot.
    SetLot(LotInfo),
    /// Judge from the next frame on with this anomaly model and this classifier together
    /// (`SetModel` then `SetClassifier` in one command).
    SetInspectionModel(InspectionModel),
    /// Judge from the next frame on with this model (hot swap, no frame lost). Another
    /// version drops the classifier of the old one and takes its paired one (the bundled
    /// classifier for the bundled model, see [`InspectionModel::paired`]).
    SetModel(Arc<AnomalyModel>),
    /// Name the defect class of suspicious items with this grade classifier from the next
    /// frame on (None: no classifier); the inspector's verdicts then use per-class
    /// thresholds. Sent after `SetModel` for a model that has its own classifier file.
    SetClassifier(Option<Arc<GradeClassifier>>),
    /// Save the judged items of the next frame as samples (for labelling).
    CaptureNext,
    /// Judge from the next frame on with these thresholds (same model, no frame lost).
    SetThresholds(Thresholds),
    /// Fire the PLC's ejector once (commissioning); `by` is the signed-in user, audited.
    TestFire {
        /// Who fired it.
        by: String,
    },
    /// Switch to recipe `name` (its newest version) between two frames; `by` is who asked,
    /// audited. A recipe that cannot be applied leaves the line as it was (logged, audited).
    SetRecipe {
        /// The recipe.
        name: String,
        /// Who switched.
        by: String,
    },
}

/// Counters and state for status bars and summaries.
#[derive(Clone, Debug, Default)]
pub struct StationStats {
    /// Each line output's name and counters (sent, acked, late, missed, latency).
    pub line: Vec<(String, OutputCounters)>,
    /// Frames delivered by the source.
    pub frames_captured: u64,
    /// Classes of the live defect classifier, if one is in use.
    pub classifier: Option<String>,
    /// Frames inspected.
    pub frames_inspected: u64,
    /// Frames dropped because inspection was behind (live mode only).
    pub frames_dropped: u64,
    /// Items judged and recorded.
    pub items: u64,
    /// Of those, rejected.
    pub rejects: u64,
    /// Of those, sent to review (between the review and reject thresholds).
    pub reviews: u64,
    /// Of those, items whose score was not a finite number (the model or the features
    /// failed): each is rejected, never passed, and counted here so a broken model shows.
    pub unscored: u64,
    /// Inspected frames per second over the last second or so.
    pub fps: f64,
    /// Inspection time of the last frame, ms.
    pub last_inspect_ms: f64,
    /// Description of the current source (English: logs and alarm payloads).
    pub source: String,
    /// The current source for the window to word in its language.
    pub source_view: crate::capture::SourceView,
    /// Last problem with the source (camera lost, file skipped), if any.
    pub source_problem: Option<String>,
    /// The camera is gone (being reopened): the line hears a fault until a frame comes.
    pub source_lost: bool,
    /// The recipe judged with (`name vN`), empty for none.
    pub recipe: String,
    /// That recipe's name alone (what a restart starts with again), empty for none.
    pub recipe_name: String,
    /// Files a folder replay skipped.
    pub skipped_files: u64,
    /// True while paused.
    pub paused: bool,
    /// True once the source has ended (folder without loop, frame limit reached).
    pub finished: bool,
    /// Version of the model judging items.
    pub model_version: String,
    /// Lot being recorded.
    pub lot: String,
    /// Recorder counters.
    pub recorder: RecorderStats,
    /// Inspection times of recent frames, ms (for percentiles), at most 4096.
    pub recent_inspect_ms: std::collections::VecDeque<f64>,
    /// Capture -> verdict of the recent frames (queueing included), ms, oldest first
    /// (bounded).
    pub recent_latency_ms: std::collections::VecDeque<f64>,
}

impl StationStats {
    /// Rejected share of recorded items, 0 when none.
    pub fn reject_rate(&self) -> f64 {
        if self.items == 0 {
            0.0
        } else {
            self.rejects as f64 / self.items as f64
        }
    }
}

#[derive(Default)]
struct Shared {
    latest: Mutex<Option<Arc<Inspection>>>,
    stats: Mutex<StationStats>,
    stop: AtomicBool,
    paused: AtomicBool,
    capture_next: AtomicBool,
    pending_source: Mutex<Option<SourceSpec>>,
    pending_lot: Mutex<Option<LotInfo>>,
    pending_model: Mutex<Option<Arc<AnomalyModel>>>,
    pending_classifier: Mutex<Option<Option<Arc<GradeClassifier>>>>,
    pending_thresholds: Mutex<Option<Thresholds>>,
    /// Who asked for a test fire not yet sent.
    pending_test_fire: Mutex<Option<String>>,
    /// A recipe switch not yet applied: the recipe name, who asked, and from where
    /// (`command`, `plc`).
    pending_recipe: Mutex<Option<(String, String, &'static str)>>,
}

/// Lock a mutex even if a thread panicked while holding it: the data are counters and
/// latest-value slots, still meaningful.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running station.
pub struct Station {
    shared: Arc<Shared>,
    capture: Option<JoinHandle<()>>,
    inspector: Option<JoinHandle<Result<(), StationError>>>,
    recorder: Option<Arc<InspectionRecorder>>,
    /// Whether the recorder is this station's own (finished when it stops) or shared with
    /// the other stations of a [`group::StationGroup`] (finished by the group).
    owns_recorder: bool,
}

impl Station {
    /// Open the source and the database and start the threads. Fails with a clear message when
    /// the source cannot be opened (missing folder, no camera) or the database cannot be opened.
    ///
    /// `model` is an [`InspectionModel`] or an `Arc<AnomalyModel>` (with its paired classifier:
    /// the bundled classifier for the bundled model, see [`InspectionModel::paired`]).
    pub fn start(
        cfg: StationConfig,
        model: impl Into<InspectionModel>,
    ) -> Result<Station, StationError> {
        let source = Self::open_source(&cfg)?;
        Self::start_with_source(cfg, source, model)
    }

    /// Open the source `cfg` names; the error names it.
    pub(crate) fn open_source(cfg: &StationConfig) -> Result<Box<dyn FrameSource>, StationError> {
        cfg.source
            .open(&cfg.source_options)
            .map_err(|source| StationError::Source {
                spec: cfg.source.to_string(),
                source,
            })
    }

    /// Like [`Station::start`] with a source opened by the caller.
    pub fn start_with_source(
        cfg: StationConfig,
        source: Box<dyn FrameSource>,
        model: impl Into<InspectionModel>,
    ) -> Result<Station, StationError> {
        Self::start_recording_into(cfg, source, model, None)
    }

    /// Like [`Station::start_with_source`], recording through `recorder` when given (shared by
    /// several stations; the caller finishes it) instead of a recorder of its own.
    pub fn start_recording_into(
        cfg: StationConfig,
        source: Box<dyn FrameSource>,
        model: impl Into<InspectionModel>,
        recorder: Option<Arc<InspectionRecorder>>,
    ) -> Result<Station, StationError> {
        let model = model.into();
        let db_path = cfg.paths.db_path();
        let mut store = Store::open(&db_path)?;
        let station_id = store.upsert_station(&cfg.station_name, &cfg.source.to_string())?;
        let lot_id = store.get_or_create_lot(
            &cfg.lot.code,
            &cfg.lot.product,
            &cfg.lot.line,
            &cfg.lot.shift,
        )?;
        // The start recipe's model, thresholds and reject on doubt win over the config's.
        let mut cfg = cfg;
        let (model, recipe) = match &cfg.recipe {
            Some(name) => {
                let r = recipe_switch::resolve(&store, name, &model.anomaly)
                    .map_err(StationError::Recipe)?;
                cfg.reject_on_doubt = r.stored.recipe.reject_on_doubt;
                let mut model = r.model.unwrap_or(model);
                if let Some(t) = &r.stored.recipe.thresholds {
                    model.anomaly = Arc::new(model.anomaly.with_thresholds(t.clone()));
                }
                (model, Some(r.stored))
            }
            None => (model, None),
        };
        store.start_recipe_run(
            station_id,
            recipe.as_ref().map(|r| r.id),
            crate::store::now_ms(),
        )?;
        let model_id = register_model(&mut store, &model.anomaly)?;
        // Thresholds applied to this model version (Thresholds tab) override the file's.
        let anomaly = match recipe.as_ref().and_then(|r| r.recipe.thresholds.clone()) {
            // The recipe's thresholds are the product's: they win over the model's setting.
            Some(t) => Arc::new(model.anomaly.with_thresholds(t)),
            None => with_applied_thresholds(&store, model_id, model.anomaly.clone())?,
        };
        let model_segment = anomaly.segment.clone();
        let seg = recipe_switch::item_finding(recipe.as_ref().map(|r| &r.recipe), &model_segment);
        let anomaly = recipe_switch::with_item_finding(anomaly, seg);
        let model = InspectionModel { anomaly, ..model };
        store.audit(
            cfg.operator.as_deref().unwrap_or(&cfg.station_name),
            "station.start",
            serde_json::json!({
                "station": cfg.station_name,
                "source": cfg.source.to_string(),
                "model": model.anomaly.version,
                "lot": cfg.lot.code,
                "live": cfg.live,
                "recipe": recipe.as_ref().map(|r| r.recipe.recipe_name()),
            }),
        )?;
        // Today's backup, if not made yet, beside the database; the line does not wait for it.
        {
            let db = db_path.clone();
            let spawned = std::thread::Builder::new()
                .name("foodqc-backup".into())
                .spawn(move || match crate::store::daily_backup(&db) {
                    Ok(Some(f)) => tracing::info!(file = %f.display(), "daily backup written"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "daily backup not written"),
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "daily backup not started");
            }
        }
        let owns_recorder = recorder.is_none();
        let recorder = match recorder {
            Some(r) => r,
            None => Arc::new(InspectionRecorder::spawn(
                db_path,
                cfg.paths.samples_dir(),
                8192,
            )?),
        };
        let shared = Arc::new(Shared::default());
        {
            let mut s = lock(&shared.stats);
            s.source = source.describe();
            s.source_view = source.view();
            s.model_version = model.anomaly.version.clone();
            s.lot = cfg.lot.code.clone();
            s.recipe = recipe
                .as_ref()
                .map(|r| r.recipe.recipe_name())
                .unwrap_or_default();
            s.recipe_name = recipe
                .as_ref()
                .map(|r| r.recipe.name.clone())
                .unwrap_or_default();
            s.classifier = model.classes().map(|c| c.join(", "));
        }
        let (frame_tx, frame_rx) = bounded::<Frame>(if cfg.live { 2 } else { 8 });
        let continuous = source.is_continuous();
        let spawn_error = |thread| move |source| StationError::Spawn { thread, source };
        let capture = {
            let shared = shared.clone();
            let drop_rx = frame_rx.clone();
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name("foodqc-capture".into())
                .spawn(move || capture_loop::capture_loop(cfg, source, frame_tx, drop_rx, shared))
                .map_err(spawn_error("capture"))?
        };
        let outputs = LineOutputs::start(
            cfg.line_outputs
                .iter()
                .map(|o| o.open(&cfg.station_name))
                .collect(),
            DEFAULT_STALL,
        )
        .map_err(spawn_error("line output"))?;
        let inspector = {
            let shared = shared.clone();
            let sender = recorder.sender();
            let ctx = InspectCtx {
                store,
                station_name: cfg.station_name.clone(),
                station_id,
                lot_id,
                model_id,
                continuous,
                reject_samples_per_minute: cfg.reject_samples_per_minute,
                reject_on_doubt: cfg.reject_on_doubt,
                lot: cfg.lot.clone(),
                model_segment,
            };
            std::thread::Builder::new()
                .name("foodqc-inspect".into())
                .spawn(move || {
                    inspect_loop::inspect_loop(ctx, model, frame_rx, sender, outputs, shared)
                })
                .map_err(spawn_error("inspector"))?
        };
        Ok(Station {
            shared,
            capture: Some(capture),
            inspector: Some(inspector),
            recorder: Some(recorder),
            owns_recorder,
        })
    }

    /// Queue a command; never blocks.
    pub fn send(&self, cmd: StationCommand) {
        let s = &self.shared;
        match cmd {
            StationCommand::Pause => s.paused.store(true, Ordering::SeqCst),
            StationCommand::Resume => s.paused.store(false, Ordering::SeqCst),
            StationCommand::SetSource(spec) => *lock(&s.pending_source) = Some(spec),
            StationCommand::SetLot(lot) => *lock(&s.pending_lot) = Some(lot),
            StationCommand::SetInspectionModel(m) => {
                *lock(&s.pending_model) = Some(m.anomaly);
                *lock(&s.pending_classifier) = Some(m.classifier);
            }
            StationCommand::SetModel(m) => *lock(&s.pending_model) = Some(m),
            StationCommand::SetClassifier(c) => *lock(&s.pending_classifier) = Some(c),
            StationCommand::CaptureNext => s.capture_next.store(true, Ordering::SeqCst),
            StationCommand::SetThresholds(t) => *lock(&s.pending_thresholds) = Some(t),
            StationCommand::TestFire { by } => *lock(&s.pending_test_fire) = Some(by),
            StationCommand::SetRecipe { name, by } => {
                *lock(&s.pending_recipe) = Some((name, by, "command"));
            }
        }
    }

    /// The most recent inspection, if any.
    pub fn latest(&self) -> Option<Arc<Inspection>> {
        lock(&self.shared.latest).clone()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StationStats {
        let mut s = lock(&self.shared.stats).clone();
        s.paused = self.shared.paused.load(Ordering::SeqCst);
        if let Some(r) = &self.recorder {
            s.recorder = r.stats();
        }
        s
    }

    /// True once the source has ended and every frame is inspected.
    pub fn is_finished(&self) -> bool {
        self.inspector.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Wait until the source ends (folder end, frame limit), flush the recorder, return the
    /// final counters.
    pub fn wait(mut self) -> Result<StationStats, StationError> {
        self.join()
    }

    /// Ask the station to stop without waiting for it ([`Station::wait`] then returns soon).
    pub fn request_stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }

    /// Stop now, flush the recorder, return the final counters.
    pub fn stop(mut self) -> Result<StationStats, StationError> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    fn join(&mut self) -> Result<StationStats, StationError> {
        if let Some(h) = self.capture.take() {
            h.join().map_err(|_| StationError::Panicked("capture"))?;
        }
        if let Some(h) = self.inspector.take() {
            h.join()
                .map_err(|_| StationError::Panicked("inspector"))??;
        }
        let mut stats = self.stats();
        if let Some(r) = self.recorder.take()
            && self.owns_recorder
        {
            let r = Arc::try_unwrap(r).map_err(|_| StationError::RecorderInUse)?;
            stats.recorder = r.finish()?;
        }
        Ok(stats)
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        if self.capture.is_some() || self.inspector.is_some() {
            self.shared.stop.store(true, Ordering::SeqCst);
            if let Err(e) = self.join() {
                tracing::error!("station shutdown: {e}");
            }
        }
    }
}
