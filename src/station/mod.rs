//! The running line: a capture thread, an inspector thread and a recorder thread joined by
//! bounded channels. The GUI and the headless CLI run exactly this code.
//!
//! Nothing here blocks its caller: commands are queued, results are published into a shared
//! slot that a UI reads once per repaint.

pub mod tracker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use serde::{Deserialize, Serialize};

use crate::capture::{CaptureError, Frame, FrameSource, Pacing, SourceOptions, SourceSpec};
use crate::domain::AppPaths;
use crate::domain::{Thresholds, Verdict};
use crate::imageio::crop::crop_with_margin;
use crate::inspect::{Inspection, Inspector};
use crate::model::AnomalyModel;
use crate::model::classifier::GradeClassifier;
use crate::store::{
    InspectionRecorder, InspectionRow, NewModelVersion, RecordItem, RecorderStats, SampleImage,
    Store,
};
use tracker::Tracker;

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
    /// Judge from the next frame on with this model (hot swap, no frame lost).
    SetModel(Arc<AnomalyModel>),
    /// Name the defect class of rejected and review items with this grade classifier (None:
    /// no classifier). Sent with a model that has one.
    SetClassifier(Option<Arc<GradeClassifier>>),
    /// Save the judged items of the next frame as samples (for labelling).
    CaptureNext,
    /// Judge from the next frame on with these thresholds (same model, no frame lost).
    SetThresholds(Thresholds),
}

/// Counters and state for status bars and summaries.
#[derive(Clone, Debug, Default)]
pub struct StationStats {
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
    /// Inspected frames per second over the last second or so.
    pub fps: f64,
    /// Inspection time of the last frame, ms.
    pub last_inspect_ms: f64,
    /// Description of the current source.
    pub source: String,
    /// Last problem with the source (camera lost, file skipped), if any.
    pub source_problem: Option<String>,
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
    inspector: Option<JoinHandle<anyhow::Result<()>>>,
    recorder: Option<Arc<InspectionRecorder>>,
}

impl Station {
    /// Open the source and the database and start the threads. Fails with a clear message when
    /// the source cannot be opened (missing folder, no camera) or the database cannot be opened.
    pub fn start(cfg: StationConfig, model: Arc<AnomalyModel>) -> anyhow::Result<Station> {
        let source = cfg
            .source
            .open(&cfg.source_options)
            .with_context(|| format!("cannot open source {}", cfg.source))?;
        Self::start_with_source(cfg, source, model)
    }

    /// Like [`Station::start`] with a source opened by the caller.
    pub fn start_with_source(
        cfg: StationConfig,
        source: Box<dyn FrameSource>,
        model: Arc<AnomalyModel>,
    ) -> anyhow::Result<Station> {
        let db_path = cfg.paths.db_path();
        let mut store = Store::open(&db_path)?;
        let station_id = store.upsert_station(&cfg.station_name, &cfg.source.to_string())?;
        let lot_id = store.get_or_create_lot(
            &cfg.lot.code,
            &cfg.lot.product,
            &cfg.lot.line,
            &cfg.lot.shift,
        )?;
        let model_id = register_model(&mut store, &model)?;
        // Thresholds applied to this model version (Thresholds tab) override the file's.
        let model = with_applied_thresholds(&store, model_id, model)?;
        store.audit(
            &cfg.station_name,
            "station.start",
            serde_json::json!({
                "source": cfg.source.to_string(),
                "model": model.version,
                "lot": cfg.lot.code,
                "live": cfg.live,
            }),
        )?;
        let recorder = Arc::new(InspectionRecorder::spawn(
            db_path,
            cfg.paths.samples_dir(),
            8192,
        )?);
        let shared = Arc::new(Shared::default());
        {
            let mut s = lock(&shared.stats);
            s.source = source.describe();
            s.model_version = model.version.clone();
            s.lot = cfg.lot.code.clone();
        }
        let (frame_tx, frame_rx) = bounded::<Frame>(if cfg.live { 2 } else { 8 });
        let continuous = source.is_continuous();
        let capture = {
            let shared = shared.clone();
            let drop_rx = frame_rx.clone();
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name("foodqc-capture".into())
                .spawn(move || capture_loop(cfg, source, frame_tx, drop_rx, shared))?
        };
        let inspector = {
            let shared = shared.clone();
            let recorder = recorder.clone();
            std::thread::Builder::new()
                .name("foodqc-inspect".into())
                .spawn(move || {
                    let ctx = InspectCtx {
                        store,
                        station_name: cfg.station_name.clone(),
                        station_id,
                        lot_id,
                        model_id,
                        continuous,
                        reject_samples_per_minute: cfg.reject_samples_per_minute,
                    };
                    inspect_loop(ctx, model, frame_rx, recorder, shared)
                })?
        };
        Ok(Station {
            shared,
            capture: Some(capture),
            inspector: Some(inspector),
            recorder: Some(recorder),
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
            StationCommand::SetModel(m) => *lock(&s.pending_model) = Some(m),
            StationCommand::SetClassifier(c) => *lock(&s.pending_classifier) = Some(c),
            StationCommand::CaptureNext => s.capture_next.store(true, Ordering::SeqCst),
            StationCommand::SetThresholds(t) => *lock(&s.pending_thresholds) = Some(t),
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
    pub fn wait(mut self) -> anyhow::Result<StationStats> {
        self.join()
    }

    /// Stop now, flush the recorder, return the final counters.
    pub fn stop(mut self) -> anyhow::Result<StationStats> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    fn join(&mut self) -> anyhow::Result<StationStats> {
        if let Some(h) = self.capture.take() {
            h.join()
                .map_err(|_| anyhow::anyhow!("capture thread panicked"))?;
        }
        if let Some(h) = self.inspector.take() {
            h.join()
                .map_err(|_| anyhow::anyhow!("inspector thread panicked"))??;
        }
        let mut stats = self.stats();
        if let Some(r) = self.recorder.take() {
            let r = Arc::try_unwrap(r).map_err(|_| anyhow::anyhow!("recorder still in use"))?;
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
                tracing::error!("station shutdown: {e:#}");
            }
        }
    }
}

fn register_model(store: &mut Store, model: &AnomalyModel) -> anyhow::Result<i64> {
    Ok(store.register_model_version(&NewModelVersion {
        version: model.version.clone(),
        path: std::path::PathBuf::new(),
        kind: "anomaly".into(),
        params: serde_json::to_value(&model.thresholds)?,
        metrics: serde_json::to_value(&model.card.metrics)?,
        data_snapshot: serde_json::json!({ "trained_on": model.card.trained_on, "items": model.card.items }),
    })?)
}

/// The model with the threshold setting last applied to its version, when there is one.
fn with_applied_thresholds(
    store: &Store,
    model_id: i64,
    model: Arc<AnomalyModel>,
) -> anyhow::Result<Arc<AnomalyModel>> {
    Ok(match store.current_thresholds(model_id)? {
        Some(s) if s.thresholds != model.thresholds => {
            tracing::info!(
                "model {}: using thresholds set by {} (setting #{})",
                model.version,
                s.set_by,
                s.id
            );
            Arc::new(model.with_thresholds(s.thresholds))
        }
        _ => model,
    })
}

fn capture_loop(
    cfg: StationConfig,
    mut source: Box<dyn FrameSource>,
    tx: Sender<Frame>,
    drop_rx: Receiver<Frame>,
    shared: Arc<Shared>,
) {
    let mut delivered = 0u64;
    let mut next_due = Instant::now();
    let set_problem = |p: Option<String>| lock(&shared.stats).source_problem = p;
    loop {
        if shared.stop.load(Ordering::SeqCst) || cfg.max_frames.is_some_and(|m| delivered >= m) {
            break;
        }
        if let Some(spec) = lock(&shared.pending_source).take() {
            match spec.open(&cfg.source_options) {
                Ok(s) => {
                    source = s;
                    let mut st = lock(&shared.stats);
                    st.source = source.describe();
                    st.source_problem = None;
                    st.finished = false;
                    tracing::info!("source switched to {}", st.source);
                }
                Err(e) => {
                    tracing::warn!("cannot switch source to {spec}: {e}");
                    set_problem(Some(format!("cannot switch to {spec}: {e}")));
                }
            }
        }
        if shared.paused.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            next_due = Instant::now();
            continue;
        }
        if cfg.live
            && let Pacing::Fps(fps) = source.pacing()
        {
            let now = Instant::now();
            if next_due > now {
                std::thread::sleep(next_due - now);
            }
            next_due = next_due.max(now - Duration::from_millis(100))
                + Duration::from_secs_f64(1.0 / fps.clamp(0.1, 1000.0));
        }
        let result = source.next_frame();
        for w in source.take_warnings() {
            tracing::warn!("{w}");
            let mut st = lock(&shared.stats);
            st.skipped_files += 1;
            st.source_problem = Some(w);
        }
        match result {
            Ok(Some(frame)) => {
                delivered += 1;
                lock(&shared.stats).frames_captured += 1;
                if cfg.live {
                    // Drop the oldest frame rather than lag behind the line.
                    let mut frame = frame;
                    loop {
                        match tx.try_send(frame) {
                            Ok(()) => break,
                            Err(TrySendError::Full(f)) => {
                                if drop_rx.try_recv().is_ok() {
                                    lock(&shared.stats).frames_dropped += 1;
                                }
                                frame = f;
                            }
                            Err(TrySendError::Disconnected(_)) => return,
                        }
                    }
                } else if tx.send(frame).is_err() {
                    return;
                }
            }
            Ok(None) => {
                if cfg.live {
                    // A finished replay in the GUI: keep the last frame, wait for a new source.
                    lock(&shared.stats).finished = true;
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                break;
            }
            Err(e @ CaptureError::CameraLost { .. }) => {
                tracing::error!("{e}");
                set_problem(Some(format!("{e}; retrying every 2 s")));
                if !cfg.live {
                    break;
                }
                // Retry by reopening, without blocking anyone: only this thread waits.
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if lock(&shared.pending_source).is_none() {
                    *lock(&shared.pending_source) = Some(cfg.source.clone());
                }
            }
            Err(e) => {
                tracing::error!("{e}");
                set_problem(Some(e.to_string()));
                if !cfg.live {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    lock(&shared.stats).finished = true;
}

struct InspectCtx {
    store: Store,
    station_name: String,
    station_id: i64,
    lot_id: i64,
    model_id: i64,
    continuous: bool,
    reject_samples_per_minute: u32,
}

fn inspect_loop(
    mut ctx: InspectCtx,
    model: Arc<AnomalyModel>,
    rx: Receiver<Frame>,
    recorder: Arc<InspectionRecorder>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let mut classifier: Option<Arc<GradeClassifier>> = None;
    let mut describe_segmenter = crate::vision::segment::Segmenter::new(model.segment.clone());
    let mut inspector = Inspector::new(model);
    let mut tracker = Tracker::new();
    let sender = recorder.sender();
    let mut fps_window: std::collections::VecDeque<Instant> = Default::default();
    let mut sample_budget = SampleBudget::new(ctx.reject_samples_per_minute);
    loop {
        let frame = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(f) => f,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        if let Some(m) = lock(&shared.pending_model).take() {
            let registered = register_model(&mut ctx.store, &m)
                .and_then(|id| Ok((id, with_applied_thresholds(&ctx.store, id, m.clone())?)));
            match registered {
                Ok((id, m)) => {
                    ctx.model_id = id;
                    let from = lock(&shared.stats).model_version.clone();
                    if let Err(e) = ctx.store.audit(
                        &ctx.station_name,
                        "station.model_swap",
                        serde_json::json!({ "from": from, "to": m.version }),
                    ) {
                        tracing::error!("cannot write the audit log: {e}");
                    }
                    lock(&shared.stats).model_version = m.version.clone();
                    tracing::info!("model {} is live", m.version);
                    inspector.set_model(m);
                }
                Err(e) => tracing::error!("cannot register model {}: {e:#}", m.version),
            }
        }
        if let Some(c) = lock(&shared.pending_classifier).take() {
            tracing::info!(
                "defect classifier: {}",
                c.as_ref()
                    .map(|c| c.classes().join(", "))
                    .unwrap_or_else(|| "none".into())
            );
            lock(&shared.stats).classifier = c.as_ref().map(|c| c.classes().join(", "));
            classifier = c;
        }
        if let Some(t) = lock(&shared.pending_thresholds).take() {
            // Same model version, new operating point: the model row stays, the history of
            // settings lives in model_thresholds (written by whoever applied them).
            let m = Arc::new(inspector.model().with_thresholds(t));
            tracing::info!(
                "thresholds now reject {:.3}, review {:?}, pixel {:.2}",
                m.thresholds.reject,
                m.thresholds.review,
                m.thresholds.pixel
            );
            inspector.set_model(m);
        }
        if let Some(lot) = lock(&shared.pending_lot).take() {
            match ctx
                .store
                .get_or_create_lot(&lot.code, &lot.product, &lot.line, &lot.shift)
            {
                Ok(id) => {
                    ctx.lot_id = id;
                    lock(&shared.stats).lot = lot.code.clone();
                }
                Err(e) => tracing::error!("cannot open lot {}: {e}", lot.code),
            }
        }
        let capture_all = shared.capture_next.swap(false, Ordering::SeqCst);
        let Frame {
            seq,
            captured_at,
            image,
            origin,
            ..
        } = frame;
        let image = Arc::new(image);
        let mut insp = inspector.inspect(seq, captured_at, image, origin, !ctx.continuous);
        if ctx.continuous {
            tracker.update(&mut insp.items);
        }
        let ts_ms = captured_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // Name the defect of each rejected or review item being recorded (one physical item
        // once): a crop, the grade descriptor, the classifier's class unless it says good.
        if let Some(c) = &classifier {
            for it in insp.items.iter_mut().filter(|i| {
                i.record && matches!(i.verdict, Some(Verdict::Reject) | Some(Verdict::Review))
            }) {
                let crop = crop_with_margin(&insp.frame, it.bbox);
                let d = crate::model::classifier::describe_image(&crop, &mut describe_segmenter);
                match c.predict(&d) {
                    Ok(p) if p.class != "good" => it.defect_class = Some(p.class),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("defect classifier: {e}"),
                }
            }
        }
        let (mut items, mut rejects, mut reviews) = (0u64, 0u64, 0u64);
        for it in insp.items.iter().filter(|i| i.record) {
            let (Some(score), Some(verdict)) = (it.score, it.verdict) else {
                continue;
            };
            items += 1;
            let rejected = verdict == Verdict::Reject;
            let review = verdict == Verdict::Review;
            if rejected {
                rejects += 1;
            }
            if review {
                reviews += 1;
            }
            // Rejects, review-band items and near misses (within 20 % below the reject
            // threshold) teach the most when labelled; they share the rate limit so a bad run
            // cannot flood the queue.
            let uncertain =
                review || score >= UNCERTAIN_FRACTION * inspector.model().thresholds.reject;
            let want_sample = capture_all || ((rejected || uncertain) && sample_budget.take());
            let sample = want_sample.then(|| SampleImage {
                image: crop_with_margin(&insp.frame, it.bbox),
                source: insp
                    .origin
                    .clone()
                    .unwrap_or_else(|| format!("frame {}", insp.seq)),
            });
            let row = InspectionRow {
                ts_ms,
                station_id: ctx.station_id,
                lot_id: Some(ctx.lot_id),
                model_version_id: Some(ctx.model_id),
                frame_seq: insp.seq as i64,
                item_index: it.index as i64,
                track_id: it.track_id.map(|t| t as i64),
                score,
                verdict,
                defect_class: it.defect_class.clone(),
                bbox: it.bbox,
                sample_id: None,
            };
            if sender.send(RecordItem { row, sample }).is_err() {
                anyhow::bail!("the recorder stopped; inspections can no longer be saved");
            }
        }
        let now = Instant::now();
        fps_window.push_back(now);
        while fps_window
            .front()
            .is_some_and(|t| now - *t > Duration::from_secs(1))
        {
            fps_window.pop_front();
        }
        {
            let mut st = lock(&shared.stats);
            st.frames_inspected += 1;
            st.items += items;
            st.rejects += rejects;
            st.reviews += reviews;
            st.last_inspect_ms = insp.timings.total_ms;
            if st.recent_inspect_ms.len() >= 4096 {
                st.recent_inspect_ms.pop_front();
            }
            st.recent_inspect_ms.push_back(insp.timings.total_ms);
            st.fps = if fps_window.len() >= 2 {
                let span = (now - fps_window[0]).as_secs_f64();
                (fps_window.len() - 1) as f64 / span.max(1e-3)
            } else {
                0.0
            };
        }
        *lock(&shared.latest) = Some(Arc::new(insp));
    }
    Ok(())
}

/// Rate limit for automatic sample capture (token bucket refilled per minute).
struct SampleBudget {
    per_minute: u32,
    tokens: f64,
    last: Instant,
}

impl SampleBudget {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            tokens: f64::from(per_minute),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = (now - self.last).as_secs_f64() / 60.0 * f64::from(self.per_minute);
        self.tokens = (self.tokens + refill).min(f64::from(self.per_minute));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_budget_limits_rate() {
        let mut b = SampleBudget::new(3);
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
        assert!(!SampleBudget::new(0).take());
    }
}
