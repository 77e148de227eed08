//! Train tab: start a retraining job (progress, ETA, cancel), list the model versions with
//! their cross-validated metrics, the acceptance check of the selected candidate against the
//! live model, compare two side by side, promote one to the live station
//! (hot swap) or roll back to the previous one. The live view keeps running meanwhile.

mod acceptance;
mod card;
mod versions;

use foodqc::domain::GOOD;
use foodqc::i18n::format_decimal;
use foodqc::services::desk::{Command, Event, Status, Topic};
use foodqc::tr;
use foodqc::training::job::{JobProgress, TrainOutcome};

use super::action::{Action, TabCtx};
use super::theme;

/// A training job as the tab sees it.
#[derive(Clone, Debug, Default)]
pub struct TrainView {
    /// The latest progress, once the job reported one.
    pub progress: Option<JobProgress>,
    /// Cancel was asked.
    pub cancelling: bool,
}

/// The Train tab's state.
#[derive(Default)]
pub struct TrainTab {
    /// The running job, if any.
    pub job: Option<TrainView>,
    /// How the last job ended (text shown to the user).
    pub last: Option<Result<TrainOutcome, String>>,
    /// The last promotion or roll back: busy while the worker loads the version.
    pub promotion: Status,
    /// Versions ticked for comparison.
    pub compare: Vec<i64>,
    /// The acceptance check of the selected candidate.
    pub acceptance: acceptance::AcceptanceView,
    /// UI frame times (ms) while the current job runs: our `ui` alone, and the whole
    /// frame as eframe reports it (ui, tessellation and painting, without the vsync wait).
    pub frame_ms: Vec<f64>,
    pub whole_frame_ms: Vec<f64>,
    /// Frame times during the last job: our `ui`, then the whole frame.
    pub last_frame_stats: Option<(FrameStats, FrameStats)>,
    /// The recipe chosen for a release to the plant (none yet: the one the line runs).
    pub publish_recipe: Option<String>,
}

/// Median, 95th percentile and maximum of frame times (ms) over `frames` frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameStats {
    pub median: f64,
    pub p95: f64,
    pub max: f64,
    pub frames: usize,
}

impl FrameStats {
    fn of(ms: &[f64]) -> Self {
        let q = |p: f64| foodqc::model::metrics::quantile(ms, p);
        Self {
            median: q(0.5),
            p95: q(0.95),
            max: ms.iter().copied().fold(0.0, f64::max),
            frames: ms.len(),
        }
    }
}

impl std::fmt::Display for FrameStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tr!(
            "train-frame-stats",
            median = format_decimal(self.median, 1),
            p95 = format_decimal(self.p95, 1),
            max = format_decimal(self.max, 1)
        ))
    }
}

impl TrainTab {
    /// Note the time of a UI frame (and of the previous whole frame) while a job runs.
    pub fn record_frame(&mut self, ui_ms: f64, whole_ms: Option<f64>) {
        if self.job.is_none() {
            return;
        }
        self.frame_ms.push(ui_ms);
        if let Some(w) = whole_ms {
            self.whole_frame_ms.push(w);
        }
    }

    /// Take an event of the worker (training and promotion).
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::TrainProgress(p) => {
                if let Some(j) = &mut self.job {
                    j.progress = Some(p);
                }
            }
            Event::TrainFinished(r) => self.finished(r),
            Event::Status(Topic::Promotion, s) => self.promotion = s,
            Event::Comparison { version_id, result } => {
                self.acceptance.on_result(version_id, result);
            }
            // The outcome (TrainFinished) says it all.
            _ => {}
        }
    }

    fn finished(&mut self, r: Result<TrainOutcome, String>) {
        self.job = None;
        let ui = FrameStats::of(&std::mem::take(&mut self.frame_ms));
        let whole = FrameStats::of(&std::mem::take(&mut self.whole_frame_ms));
        self.last_frame_stats = Some((ui, whole));
        tracing::info!(
            ok = r.is_ok(),
            ui_ms_median = ui.median,
            ui_ms_p95 = ui.p95,
            ui_ms_max = ui.max,
            frame_ms_median = whole.median,
            frame_ms_p95 = whole.p95,
            frame_ms_max = whole.max,
            frames = ui.frames,
            "training job ended; frame times while it ran"
        );
        self.last = Some(r);
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) -> Vec<Action> {
        let mut actions = Vec::new();
        let width = ui.available_width();
        egui::Panel::right("model_card")
            .resizable(true)
            .default_size((width * 0.3).clamp(260.0, 420.0))
            .show(ui, |ui| {
                ui.heading(tr!("train-live-model"));
                egui::ScrollArea::vertical().show(ui, |ui| card::model_card(ui, ctx.model));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.job_panel(ui, ctx, &mut actions);
            ui.separator();
            self.versions_panel(ui, ctx, &mut actions);
        });
        actions
    }

    fn job_panel(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.heading(tr!("train-heading"));
        let counts = &ctx.snapshot.label_counts;
        let good = counts
            .iter()
            .find(|(l, _)| l == GOOD)
            .map(|c| c.1)
            .unwrap_or(0);
        let total: i64 = counts.iter().map(|c| c.1).sum();
        let defective = total - good;
        ui.label(tr!(
            "train-labelled",
            total = total,
            good = good,
            defective = defective
        ));
        match &mut self.job {
            Some(job) => {
                if progress_line(ui, job) {
                    job.cancelling = true;
                    actions.push(Command::CancelTraining.into());
                }
            }
            None => {
                if ui
                    .button(egui::RichText::new(tr!("train-start")).strong())
                    .on_hover_text(tr!("train-start-tip"))
                    .clicked()
                {
                    self.job = Some(TrainView::default());
                    self.last = None;
                    actions.push(
                        Command::StartTraining {
                            base: ctx.model.clone(),
                        }
                        .into(),
                    );
                }
            }
        }
        self.outcome(ui);
    }

    /// How the last job ended, and the frame times while it ran.
    fn outcome(&self, ui: &mut egui::Ui) {
        match &self.last {
            Some(Ok(o)) => {
                ui.colored_label(
                    theme::PASS,
                    tr!(
                        "train-done",
                        version = o.version.as_str(),
                        seconds = format_decimal(o.seconds, 1),
                        metrics = summary(&serde_json::to_value(&o.metrics).unwrap_or_default())
                    ),
                );
                ui.weak(tr!("train-held-out", count = o.held_out.len()));
                if o.held_out.good_kept_for_training > 0 {
                    ui.colored_label(
                        theme::WARN,
                        tr!(
                            "cli-train-held-out-short",
                            count = o.held_out.good_kept_for_training
                        ),
                    );
                }
                if !o.skipped.is_empty() {
                    ui.colored_label(theme::WARN, tr!("train-skipped", count = o.skipped.len()));
                }
            }
            Some(Err(e)) => {
                ui.colored_label(theme::WARN, format!("⚠ {e}"));
            }
            None => {}
        }
        if let Some((ui_ms, whole)) = self.last_frame_stats
            && self.job.is_none()
        {
            ui.weak(tr!(
                "train-frame-time",
                frames = ui_ms.frames,
                whole = whole.to_string(),
                ui = ui_ms.to_string()
            ));
        }
    }
}

/// The progress bar of a running job; true when Cancel was clicked.
fn progress_line(ui: &mut egui::Ui, job: &TrainView) -> bool {
    let mut cancel = false;
    ui.horizontal(|ui| {
        let (frac, text) = match &job.progress {
            Some(p) => (
                p.fraction(),
                tr!(
                    "train-progress",
                    stage = p.stage.title(),
                    done = p.done,
                    total = p.total,
                    seconds = format_decimal(p.elapsed.as_secs_f64(), 0),
                    eta = p
                        .eta
                        .map(|e| tr!("train-eta", seconds = format_decimal(e.as_secs_f64(), 0)))
                        .unwrap_or_default()
                ),
            ),
            None => (0.0, tr!("starting")),
        };
        ui.add(
            egui::ProgressBar::new(frac)
                .text(text)
                .desired_width(520.0)
                .animate(true),
        );
        cancel = ui
            .add_enabled(!job.cancelling, egui::Button::new(tr!("train-cancel")))
            .clicked();
    });
    cancel
}

/// `recall 0.95 · false rejects 0.01 · AUROC 0.99` from stored metrics.
fn summary(m: &serde_json::Value) -> String {
    let g = |k: &str| m.get(k).and_then(|v| v.as_f64());
    let mut parts = Vec::new();
    if let (Some(good), Some(def)) = (g("good_samples"), g("defect_samples")) {
        parts.push(tr!(
            "metric-good-defective",
            good = format_decimal(good, 0),
            defective = format_decimal(def, 0)
        ));
    }
    if let Some(v) = g("recall") {
        parts.push(tr!("metric-recall", value = format_decimal(v, 3)));
    }
    if let Some(v) = g("cv_false_reject_rate") {
        parts.push(tr!("metric-false-rejects", value = format_decimal(v, 3)));
    }
    if let Some(v) = g("cv_auroc") {
        parts.push(tr!("metric-auroc", value = format_decimal(v, 3)));
    }
    if let Some(v) = g("eval_recall") {
        parts.push(tr!("metric-recall", value = format_decimal(v, 3)));
    }
    if let Some(v) = g("eval_auroc") {
        parts.push(tr!("metric-auroc", value = format_decimal(v, 3)));
    }
    if parts.is_empty() {
        tr!("train-no-metrics")
    } else {
        parts.join(" · ")
    }
}
