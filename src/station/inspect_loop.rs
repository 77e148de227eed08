//! The inspector thread: applies the commands a UI queued, inspects each frame (the
//! [`Inspector`] judges it whole, defect classes included), tracks items on a moving line,
//! records the judged items and updates the counters.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::alarm_watch::AlarmWatch;
use super::tracker::Tracker;
use super::{Shared, StationError, UNCERTAIN_FRACTION, lock};
use crate::capture::Frame;
use crate::domain::Verdict;
use crate::imageio::crop::crop_with_margin;
use crate::inspect::{Inspection, Inspector};
use crate::lineio::{ItemDecision, LineOutputs};
use crate::model::{AnomalyModel, InspectionModel};
use crate::reports::drift::DriftReference;
use crate::store::{InspectionRow, NewModelVersion, RecordItem, RecordSender, SampleImage, Store};

/// What the inspector thread writes to and records under.
pub(super) struct InspectCtx {
    pub(super) store: Store,
    pub(super) station_name: String,
    pub(super) station_id: i64,
    pub(super) lot_id: i64,
    pub(super) model_id: i64,
    pub(super) continuous: bool,
    pub(super) reject_samples_per_minute: u32,
    pub(super) reject_on_doubt: bool,
    /// The lot being recorded (product, line and shift carry over to a lot the PLC selects).
    pub(super) lot: super::LotInfo,
    /// How the running model's file finds items (a recipe's settings go on top of it).
    pub(super) model_segment: crate::vision::segment::SegmentConfig,
}

/// Items of one frame that were recorded, by verdict.
#[derive(Default)]
struct Counts {
    items: u64,
    rejects: u64,
    reviews: u64,
    unscored: u64,
    /// Passed items, and those of them above the drift reference score.
    passed: u64,
    passed_above: u64,
}

/// The inspector thread's state between frames.
struct InspectThread {
    ctx: InspectCtx,
    inspector: Inspector,
    tracker: Tracker,
    sender: RecordSender,
    outputs: LineOutputs,
    /// Run-rule and drift alarms for the outputs (only watched when there are outputs).
    alarms: AlarmWatch,
    /// Lot code and model version the line hears with each decision.
    lot_code: Arc<str>,
    model_version: Arc<str>,
    /// The PLC's lot number last followed.
    plc_lot: Option<u16>,
    /// The PLC's recipe index last followed.
    plc_recipe: Option<u16>,
    fps_window: VecDeque<Instant>,
    sample_budget: SampleBudget,
    shared: Arc<Shared>,
    /// Time to judge a frame, for `/metrics` (a no-op unless `--metrics` installed a
    /// recorder before the station started); registered once, not per frame.
    inspect_seconds: metrics::Histogram,
}

pub(super) fn inspect_loop(
    ctx: InspectCtx,
    model: InspectionModel,
    rx: Receiver<Frame>,
    sender: RecordSender,
    outputs: LineOutputs,
    shared: Arc<Shared>,
) -> Result<(), StationError> {
    let (lot_code, model_version) = {
        let st = lock(&shared.stats);
        (
            Arc::from(st.lot.as_str()),
            Arc::from(st.model_version.as_str()),
        )
    };
    let mut t = InspectThread {
        inspect_seconds: metrics::histogram!(
            "foodqc_inspection_seconds",
            "station" => ctx.station_name.clone()
        ),
        sample_budget: SampleBudget::new(ctx.reject_samples_per_minute),
        ctx,
        alarms: AlarmWatch::new(DriftReference::for_model(&model.anomaly)),
        lot_code,
        model_version,
        plc_lot: None,
        plc_recipe: None,
        inspector: Inspector::new(model),
        tracker: Tracker::new(),
        sender,
        outputs,
        fps_window: VecDeque::new(),
        shared,
    };
    let result = (|| -> Result<(), StationError> {
        while let Some(frame) = t.next_frame(&rx) {
            t.apply_pending_commands(frame.captured_at);
            let capture_all = t.shared.capture_next.swap(false, Ordering::SeqCst);
            let insp = t.inspect(frame);
            let counts = t.record(&insp, capture_all)?;
            t.outputs.frame_judged();
            t.update_stats(&counts, &insp);
            t.watch_alarms(&counts);
            *lock(&t.shared.latest) = Some(Arc::new(insp));
        }
        Ok(())
    })();
    // What is queued for the line still goes out (briefly) before the station reports.
    let outputs = std::mem::replace(&mut t.outputs, LineOutputs::none());
    lock(&t.shared.stats).line = outputs.stop(Duration::from_millis(500));
    result
}

impl InspectThread {
    /// The next frame; `None` when the station stops or the source has ended. While none
    /// comes, the outputs hear why (paused, source lost) and a test fire still goes out.
    fn next_frame(&mut self, rx: &Receiver<Frame>) -> Option<Frame> {
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(f) => {
                    self.outputs.set_paused(false);
                    self.outputs.set_source_lost(false);
                    return Some(f);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.outputs
                        .set_paused(self.shared.paused.load(Ordering::SeqCst));
                    let lost = lock(&self.shared.stats).source_lost;
                    self.outputs.set_source_lost(lost);
                    self.fire_if_asked();
                    if self.shared.stop.load(Ordering::SeqCst) {
                        return None;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Send the test fire a user asked for, and audit it.
    fn fire_if_asked(&mut self) {
        let Some(by) = lock(&self.shared.pending_test_fire).take() else {
            return;
        };
        let heard = self.outputs.test_fire();
        tracing::info!("test fire by {by} (PLC connected: {heard})");
        if let Err(e) = self.ctx.store.audit(
            &by,
            "line.test_fire",
            serde_json::json!({ "station": self.ctx.station_name, "sent_to_plc": heard }),
        ) {
            tracing::error!("cannot write the audit log: {e}");
        }
    }

    /// What the PLC last wrote into its input registers (the first PLC output's).
    fn plc_inputs(&self) -> Option<crate::lineio::PlcInputs> {
        lock(&self.shared.stats)
            .line
            .iter()
            .find_map(|(_, c)| c.plc_inputs)
    }

    /// The PLC selected another recipe index: switch to the recipe that answers to it.
    fn follow_plc_recipe(&mut self) {
        let plc_recipe = self.plc_inputs().map(|i| i.recipe).filter(|&n| n != 0);
        let Some(n) = plc_recipe else { return };
        if self.plc_recipe == Some(n) {
            return;
        }
        self.plc_recipe = Some(n);
        match self.ctx.store.recipe_for_plc(n) {
            Ok(Some(r)) => {
                let name = r.recipe.name.clone();
                if lock(&self.shared.stats).recipe != r.recipe.recipe_name() {
                    *lock(&self.shared.pending_recipe) =
                        Some((name, self.ctx.station_name.clone(), "plc"));
                }
            }
            Ok(None) => tracing::error!("the PLC selects recipe index {n}, which no recipe has"),
            Err(e) => tracing::error!("cannot look up PLC recipe index {n}: {e}"),
        }
    }

    /// Judge with recipe `name` (newest version) from the frame captured at `at` on: model,
    /// thresholds, reject on doubt; the run and the audit entry say when and who. A recipe
    /// that cannot be applied leaves everything as it was.
    fn switch_recipe(&mut self, name: &str, by: &str, source: &str, at: SystemTime) {
        let from = lock(&self.shared.stats).recipe.clone();
        let running = self.inspector.model().clone();
        let resolved = super::recipe_switch::resolve(&self.ctx.store, name, &running);
        let r = match resolved {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("recipe not switched: {e}");
                if let Err(e2) = self.ctx.store.audit(
                    by,
                    "station.recipe_refused",
                    serde_json::json!({ "station": self.ctx.station_name, "recipe": name, "error": e }),
                ) {
                    tracing::error!("cannot write the audit log: {e2}");
                }
                return;
            }
        };
        if let Some(m) = r.model {
            self.swap_model(m.anomaly.clone());
            self.inspector.set_classifier(m.classifier);
            self.publish_classifier();
        }
        if let Some(t) = &r.stored.recipe.thresholds {
            let m = Arc::new(self.inspector.model().with_thresholds(t.clone()));
            self.inspector.set_model(m);
        }
        // Another recipe without settings of its own finds items as the model file does.
        let seg =
            super::recipe_switch::item_finding(Some(&r.stored.recipe), &self.ctx.model_segment);
        let m = super::recipe_switch::with_item_finding(self.inspector.model().clone(), seg);
        self.inspector.set_model(m);
        self.alarms
            .set_drift_reference(DriftReference::for_model(self.inspector.model()));
        self.ctx.reject_on_doubt = r.stored.recipe.reject_on_doubt;
        let at_ms = crate::lineio::unix_ms(at) as i64;
        if let Err(e) =
            self.ctx
                .store
                .start_recipe_run(self.ctx.station_id, Some(r.stored.id), at_ms)
        {
            tracing::error!("cannot record the recipe run: {e}");
        }
        let to = r.stored.recipe.recipe_name();
        if let Err(e) = self.ctx.store.audit(
            by,
            "station.recipe",
            serde_json::json!({
                "station": self.ctx.station_name,
                "from": from,
                "to": to,
                "source": source,
                "first_frame_ms": at_ms,
            }),
        ) {
            tracing::error!("cannot write the audit log: {e}");
        }
        tracing::info!("recipe {to} from the next frame on");
        let mut stats = lock(&self.shared.stats);
        stats.recipe = to;
        stats.recipe_name = r.stored.recipe.name.clone();
    }

    /// The PLC selected another lot number: record into lot `<number>` from the next frame
    /// (product, line and shift carry over), audited.
    fn follow_plc_lot(&mut self) {
        let plc_lot = self.plc_inputs().map(|i| i.lot).filter(|&n| n != 0);
        let Some(n) = plc_lot else { return };
        if self.plc_lot == Some(n) {
            return;
        }
        let first = self.plc_lot.is_none();
        self.plc_lot = Some(n);
        let code = n.to_string();
        if first && *self.lot_code == *code {
            return;
        }
        let lot = super::LotInfo {
            code: code.clone(),
            ..self.ctx.lot.clone()
        };
        if let Err(e) = self.ctx.store.audit(
            &self.ctx.station_name,
            "station.lot_from_plc",
            serde_json::json!({ "from": &*self.lot_code, "to": code, "plc_lot": n }),
        ) {
            tracing::error!("cannot write the audit log: {e}");
        }
        *lock(&self.shared.pending_lot) = Some(lot);
    }

    /// Apply what a UI queued since the last frame: model, classifier, thresholds, lot (in
    /// that order, so a model sent with its classifier judges the next frame with it).
    fn apply_pending_commands(&mut self, next_captured: SystemTime) {
        self.fire_if_asked();
        self.follow_plc_lot();
        self.follow_plc_recipe();
        let recipe = lock(&self.shared.pending_recipe).take();
        if let Some((name, by, source)) = recipe {
            self.switch_recipe(&name, &by, source, next_captured);
        }
        let model = lock(&self.shared.pending_model).take();
        if let Some(m) = model {
            self.swap_model(m);
        }
        let classifier = lock(&self.shared.pending_classifier).take();
        if let Some(c) = classifier {
            self.inspector.set_classifier(c);
            self.publish_classifier();
        }
        let thresholds = lock(&self.shared.pending_thresholds).take();
        if let Some(t) = thresholds {
            // Same model version, new operating point: the model row stays, the history of
            // settings lives in model_thresholds (written by whoever applied them).
            let m = Arc::new(self.inspector.model().with_thresholds(t));
            tracing::info!(
                "thresholds now reject {:.3}, review {:?}, pixel {:.2}",
                m.thresholds.reject,
                m.thresholds.review,
                m.thresholds.pixel
            );
            self.inspector.set_model(m);
        }
        let lot = lock(&self.shared.pending_lot).take();
        if let Some(lot) = lot {
            match self
                .ctx
                .store
                .get_or_create_lot(&lot.code, &lot.product, &lot.line, &lot.shift)
            {
                Ok(id) => {
                    self.ctx.lot_id = id;
                    self.ctx.lot = lot.clone();
                    self.lot_code = Arc::from(lot.code.as_str());
                    lock(&self.shared.stats).lot = lot.code.clone();
                }
                Err(e) => tracing::error!("cannot open lot {}: {e}", lot.code),
            }
        }
    }

    /// Register a new model version and judge with it from the next frame on.
    fn swap_model(&mut self, m: Arc<AnomalyModel>) {
        let ctx = &mut self.ctx;
        let registered = register_model(&mut ctx.store, &m)
            .and_then(|id| Ok((id, with_applied_thresholds(&ctx.store, id, m.clone())?)));
        let (id, m) = match registered {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot register model {}: {e}", m.version);
                return;
            }
        };
        ctx.model_id = id;
        ctx.model_segment = m.segment.clone();
        let from = lock(&self.shared.stats).model_version.clone();
        if let Err(e) = ctx.store.audit(
            &ctx.station_name,
            "station.model_swap",
            serde_json::json!({ "from": from, "to": m.version }),
        ) {
            tracing::error!("cannot write the audit log: {e}");
        }
        lock(&self.shared.stats).model_version = m.version.clone();
        self.model_version = Arc::from(m.version.as_str());
        self.alarms
            .set_drift_reference(DriftReference::for_model(&m));
        tracing::info!("model {} is live", m.version);
        self.inspector.set_model(m);
        self.publish_classifier();
    }

    /// Show the inspector's classifier classes in the counters and the log.
    fn publish_classifier(&self) {
        let classes = self.inspector.classifier().map(|c| c.classes().join(", "));
        tracing::info!(
            "defect classifier: {}",
            classes.as_deref().unwrap_or("none")
        );
        lock(&self.shared.stats).classifier = classes;
    }

    /// Judge one frame (defect classes included) and follow its items along the line.
    fn inspect(&mut self, frame: Frame) -> Inspection {
        let Frame {
            seq,
            captured_at,
            image,
            origin,
            ..
        } = frame;
        let continuous = self.ctx.continuous;
        let mut insp =
            self.inspector
                .inspect(seq, captured_at, Arc::new(image), origin, !continuous);
        if continuous {
            self.tracker.update(&mut insp.items);
        }
        insp
    }

    /// Send the judged items to be recorded (each physical item once), with a crop of the
    /// ones worth labelling.
    fn record(&mut self, insp: &Inspection, capture_all: bool) -> Result<Counts, StationError> {
        let ts_ms = insp
            .captured_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let reject = self.inspector.model().thresholds.reject;
        let mut counts = Counts::default();
        for it in insp.items.iter().filter(|i| i.record) {
            let (Some(score), Some(verdict)) = (it.score, it.verdict) else {
                continue;
            };
            counts.items += 1;
            let rejected = verdict == Verdict::Reject;
            let review = verdict == Verdict::Review;
            counts.rejects += u64::from(rejected);
            counts.reviews += u64::from(review);
            counts.unscored += u64::from(!score.is_finite());
            if verdict == Verdict::Pass {
                counts.passed += 1;
                counts.passed_above += u64::from(score > self.alarms.drift_score());
            }
            // Rejects, review-band items and near misses (within 20 % below the reject
            // threshold) teach the most when labelled; they share the rate limit so a bad run
            // cannot flood the queue.
            let uncertain = review || score >= UNCERTAIN_FRACTION * reject;
            let want_sample = capture_all || ((rejected || uncertain) && self.sample_budget.take());
            let sample = want_sample.then(|| SampleImage {
                image: crop_with_margin(&insp.frame, it.bbox),
                source: insp
                    .origin
                    .clone()
                    .unwrap_or_else(|| format!("frame {}", insp.seq)),
            });
            let ctx = &self.ctx;
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
            if self.sender.send(RecordItem { row, sample }).is_err() {
                return Err(StationError::RecorderStopped);
            }
            if !self.outputs.is_empty() {
                let centre = f64::from(it.bbox.x) + f64::from(it.bbox.w) / 2.0;
                let width = f64::from(insp.frame.width().max(1));
                let class_id = match (&it.defect_class, self.inspector.classifier()) {
                    (Some(class), Some(c)) => c
                        .classes()
                        .iter()
                        .position(|k| k == class)
                        .map_or(0, |i| i as u16 + 1),
                    _ => 0,
                };
                // Reject on doubt: what the model could not clear goes off the line.
                let doubt = verdict == Verdict::Review || !score.is_finite();
                let to_line = if self.ctx.reject_on_doubt && doubt {
                    Verdict::Reject
                } else {
                    verdict
                };
                self.outputs.send(ItemDecision {
                    seq: 0,
                    captured_at: insp.captured_at,
                    track_id: it.track_id,
                    x_permille: (centre / width * 1000.0).clamp(0.0, 1000.0) as u16,
                    verdict: to_line,
                    class_id,
                    score,
                    frame_seq: insp.seq,
                    item_index: it.index as u32,
                    defect_class: it.defect_class.clone(),
                    lot: self.lot_code.clone(),
                    model_version: self.model_version.clone(),
                });
            }
        }
        Ok(counts)
    }

    /// Raise or clear run-rule and drift alarms on the line's outputs.
    fn watch_alarms(&mut self, counts: &Counts) {
        if self.outputs.is_empty() {
            return;
        }
        let (items, rejects) = {
            let st = lock(&self.shared.stats);
            (st.items, st.rejects)
        };
        for alarm in self
            .alarms
            .observe(items, rejects, counts.passed, counts.passed_above)
        {
            tracing::warn!("{}", alarm.message);
            self.outputs.alarm(alarm);
        }
    }

    /// Count the frame and its items; frame rate over the last second.
    fn update_stats(&mut self, counts: &Counts, insp: &Inspection) {
        let now = Instant::now();
        let window = &mut self.fps_window;
        window.push_back(now);
        while window
            .front()
            .is_some_and(|t| now - *t > Duration::from_secs(1))
        {
            window.pop_front();
        }
        self.inspect_seconds.record(insp.timings.total_ms / 1000.0);
        let mut st = lock(&self.shared.stats);
        st.frames_inspected += 1;
        st.items += counts.items;
        st.rejects += counts.rejects;
        st.reviews += counts.reviews;
        st.unscored += counts.unscored;
        st.last_inspect_ms = insp.timings.total_ms;
        if st.recent_inspect_ms.len() >= 4096 {
            st.recent_inspect_ms.pop_front();
        }
        st.recent_inspect_ms.push_back(insp.timings.total_ms);
        if st.recent_latency_ms.len() >= 4096 {
            st.recent_latency_ms.pop_front();
        }
        let latency = SystemTime::now()
            .duration_since(insp.captured_at)
            .unwrap_or_default();
        st.recent_latency_ms
            .push_back(latency.as_secs_f64() * 1000.0);
        if !self.outputs.is_empty() {
            st.line = self.outputs.counters();
        }
        st.fps = if window.len() >= 2 {
            let span = (now - window[0]).as_secs_f64();
            (window.len() - 1) as f64 / span.max(1e-3)
        } else {
            0.0
        };
    }
}

/// Register `model`'s version in the database (once per version); its row id.
pub(super) fn register_model(store: &mut Store, model: &AnomalyModel) -> Result<i64, StationError> {
    let json = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|source| StationError::ModelJson {
            version: model.version.clone(),
            source,
        })
    };
    Ok(store.register_model_version(&NewModelVersion {
        version: model.version.clone(),
        path: std::path::PathBuf::new(),
        kind: "anomaly".into(),
        params: json(serde_json::to_value(&model.thresholds))?,
        metrics: json(serde_json::to_value(&model.card.metrics))?,
        data_snapshot: serde_json::json!({ "trained_on": model.card.trained_on, "items": model.card.items }),
    })?)
}

/// The model with the threshold setting last applied to its version, when there is one.
pub(super) fn with_applied_thresholds(
    store: &Store,
    model_id: i64,
    model: Arc<AnomalyModel>,
) -> Result<Arc<AnomalyModel>, StationError> {
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
