//! Train tab: start a retraining job (progress, ETA, cancel), list the model versions with
//! their cross-validated metrics, compare two side by side, promote one to the live station
//! (hot swap) or roll back to the previous one. The live view keeps running meanwhile.

use std::sync::Arc;

use crossbeam_channel::{Receiver, bounded};
use foodqc::model::AnomalyModel;
use foodqc::model::classifier::GradeClassifier;
use foodqc::store::{ModelVersionRow, Store};
use foodqc::training::job::{
    TrainJob, TrainJobConfig, TrainOutcome, classifier_beside, load_version,
};

use super::{FoodQcApp, theme};

/// The Train tab's state.
#[derive(Default)]
pub struct TrainState {
    /// The running job, if any.
    pub job: Option<TrainJob>,
    /// How the last job ended (text shown to the user).
    pub last: Option<Result<TrainOutcome, String>>,
    /// A promotion being done in the background: the loaded model, or why not.
    promoting: Option<Receiver<Result<Promoted, String>>>,
    /// Message about the last promotion.
    pub promote_message: Option<Result<String, String>>,
    /// Versions ticked for comparison.
    pub compare: Vec<i64>,
    /// UI frame times (ms) while the current job runs: our `ui` alone, and the whole
    /// frame as eframe reports it (ui, tessellation and painting, without the vsync wait).
    pub frame_ms: Vec<f64>,
    pub whole_frame_ms: Vec<f64>,
    /// Frame times during the last job: our `ui`, then the whole frame.
    pub last_frame_stats: Option<(FrameStats, FrameStats)>,
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
        write!(
            f,
            "median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            self.median, self.p95, self.max
        )
    }
}

/// A version loaded for promotion: the model and its defect classifier, if any.
type Promoted = (Arc<AnomalyModel>, Option<Arc<GradeClassifier>>);

/// Start a training job on the app's data folder.
pub fn start_job(app: &mut FoodQcApp, ctx: &egui::Context) {
    let cfg = TrainJobConfig {
        db_path: app.paths.db_path(),
        models_dir: app.paths.models_dir(),
        base: app.model.clone(),
        options: Default::default(),
        actor: app.actor.clone(),
        threads: Some(1),
    };
    let ctx = ctx.clone();
    match TrainJob::spawn(cfg, move || ctx.request_repaint()) {
        Ok(j) => {
            app.train.job = Some(j);
            app.train.last = None;
        }
        Err(e) => app.train.last = Some(Err(format!("cannot start training: {e}"))),
    }
}

/// Promote a version: load its file and activate it in the database on a worker thread;
/// the UI hands the model to the station when it arrives (no frame is dropped: the station
/// swaps between two frames).
pub fn promote(app: &mut FoodQcApp, row: &ModelVersionRow) {
    let (tx, rx) = bounded(1);
    let db = app.paths.db_path();
    let (path, version, id, actor) = (
        row.path.clone(),
        row.version.clone(),
        row.id,
        app.actor.clone(),
    );
    let spawned = std::thread::Builder::new()
        .name("foodqc-promote".into())
        .spawn(move || {
            let r = (|| {
                let model = load_version(&path, &version)?;
                let classifier = classifier_beside(&path).transpose()?.map(Arc::new);
                Store::open(&db)
                    .and_then(|mut s| s.set_active_model(id, &actor))
                    .map_err(|e| e.to_string())?;
                Ok((Arc::new(model), classifier))
            })();
            let _ = tx.send(r);
        });
    match spawned {
        Ok(_) => app.train.promoting = Some(rx),
        Err(e) => app.train.promote_message = Some(Err(format!("cannot promote: {e}"))),
    }
}

/// Poll the job and a pending promotion (called every frame, whatever the tab).
pub fn poll(app: &mut FoodQcApp) {
    if let Some(job) = &mut app.train.job
        && let Some(r) = job.try_finish()
    {
        app.train.job = None;
        let ui = FrameStats::of(&std::mem::take(&mut app.train.frame_ms));
        let whole = FrameStats::of(&std::mem::take(&mut app.train.whole_frame_ms));
        app.train.last_frame_stats = Some((ui, whole));
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
        app.train.last = Some(r.map_err(|e| e.to_string()));
        app.db.refresh();
    }
    if let Some(rx) = &app.train.promoting
        && let Ok(r) = rx.try_recv()
    {
        app.train.promoting = None;
        match r {
            Ok((model, classifier)) => {
                let v = model.version.clone();
                app.model = model.clone();
                app.send(foodqc::station::StationCommand::SetModel(model));
                app.send(foodqc::station::StationCommand::SetClassifier(classifier));
                app.train.promote_message = Some(Ok(format!("{v} is live")));
            }
            Err(e) => app.train.promote_message = Some(Err(e)),
        }
        app.db.refresh();
    }
}

/// The version that was live before the current one (from the audit trail of activations).
fn previous_version(app: &FoodQcApp) -> Option<i64> {
    let snap = app.db.snapshot();
    snap.previous_active
}

/// Draw the Train tab.
pub fn show(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    egui::Panel::right("model_card")
        .resizable(true)
        .default_size(420.0)
        .show(ui, |ui| {
            ui.heading("Live model");
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.add(
                    egui::Label::new(egui::RichText::new(app.model.card_markdown()).monospace())
                        .wrap(),
                );
            });
        });
    egui::CentralPanel::default().show(ui, |ui| {
        job_panel(app, ui);
        ui.separator();
        versions_panel(app, ui);
    });
}

fn job_panel(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    ui.heading("Retrain from labelled samples");
    let snap = app.db.snapshot();
    let good = snap
        .label_counts
        .iter()
        .find(|(l, _)| l == "good")
        .map(|c| c.1)
        .unwrap_or(0);
    let total: i64 = snap.label_counts.iter().map(|c| c.1).sum();
    ui.label(format!(
        "{total} labelled samples ({good} good, {} defective). The anomaly detector learns good product; with three or more samples in two classes a grade classifier is trained too.",
        total - good
    ));
    let ctx = ui.ctx().clone();
    match &app.train.job {
        Some(job) => {
            let p = job.progress();
            ui.horizontal(|ui| {
                let (frac, text) = match &p {
                    Some(p) => (
                        p.fraction(),
                        format!(
                            "{} {}/{} · {:.0} s{}",
                            p.stage.title(),
                            p.done,
                            p.total,
                            p.elapsed.as_secs_f64(),
                            p.eta
                                .map(|e| format!(
                                    " · about {:.0} s left in this step",
                                    e.as_secs_f64()
                                ))
                                .unwrap_or_default()
                        ),
                    ),
                    None => (0.0, "starting".to_string()),
                };
                ui.add(
                    egui::ProgressBar::new(frac)
                        .text(text)
                        .desired_width(520.0)
                        .animate(true),
                );
                let cancelling = job.is_cancelling();
                if ui
                    .add_enabled(!cancelling, egui::Button::new("Cancel training"))
                    .clicked()
                {
                    job.cancel();
                }
            });
        }
        None => {
            if ui
                .button(egui::RichText::new("Train new model").strong())
                .on_hover_text("Runs in the background; the line keeps running")
                .clicked()
            {
                start_job(app, &ctx);
            }
        }
    }
    match &app.train.last {
        Some(Ok(o)) => {
            ui.colored_label(
                theme::PASS,
                format!(
                    "Trained {} in {:.1} s: {}. Promote it below to make it live.",
                    o.version,
                    o.seconds,
                    summary(&serde_json::to_value(&o.metrics).unwrap_or_default())
                ),
            );
            if !o.skipped.is_empty() {
                ui.colored_label(
                    theme::WARN,
                    format!(
                        "{} samples skipped (no item found or unreadable)",
                        o.skipped.len()
                    ),
                );
            }
        }
        Some(Err(e)) => {
            ui.colored_label(theme::WARN, format!("⚠ {e}"));
        }
        None => {}
    }
    if let Some((ui_ms, whole)) = app.train.last_frame_stats
        && app.train.job.is_none()
    {
        ui.weak(format!(
            "Frame time while it ran ({} frames): whole frame {whole}; of which our UI code {ui_ms}",
            ui_ms.frames
        ));
    }
}

/// `recall 0.95 · false rejects 0.01 · AUROC 0.99` from stored metrics.
fn summary(m: &serde_json::Value) -> String {
    let g = |k: &str| m.get(k).and_then(|v| v.as_f64());
    let mut parts = Vec::new();
    if let (Some(good), Some(def)) = (g("good_samples"), g("defect_samples")) {
        parts.push(format!("{good:.0} good / {def:.0} defective"));
    }
    if let Some(v) = g("recall") {
        parts.push(format!("recall {v:.3}"));
    }
    if let Some(v) = g("cv_false_reject_rate") {
        parts.push(format!("false rejects {v:.3}"));
    }
    if let Some(v) = g("cv_auroc") {
        parts.push(format!("AUROC {v:.3}"));
    }
    if let Some(v) = g("eval_recall") {
        parts.push(format!("recall {v:.3}"));
    }
    if let Some(v) = g("eval_auroc") {
        parts.push(format!("AUROC {v:.3}"));
    }
    if parts.is_empty() {
        "no metrics".into()
    } else {
        parts.join(" · ")
    }
}

fn versions_panel(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    let snap = app.db.snapshot();
    ui.horizontal(|ui| {
        ui.heading("Model versions");
        let prev = previous_version(app);
        let busy = app.train.promoting.is_some();
        let prev_row = prev.and_then(|id| snap.models.iter().find(|m| m.id == id).cloned());
        let r = ui
            .add_enabled(prev_row.is_some() && !busy, egui::Button::new("Roll back"))
            .on_hover_text(match &prev_row {
                Some(r) => format!("Make {} live again", r.version),
                None => "No earlier live version".into(),
            });
        if r.clicked()
            && let Some(row) = prev_row
        {
            promote(app, &row);
        }
        match &app.train.promote_message {
            Some(Ok(m)) => {
                ui.colored_label(theme::PASS, m);
            }
            Some(Err(e)) => {
                ui.colored_label(theme::REJECT, format!("⚠ {e}"));
            }
            None => {}
        }
    });
    if let Some(e) = &snap.error {
        ui.colored_label(theme::REJECT, format!("⚠ Database: {e}"));
        return;
    }
    if snap.models.is_empty() {
        ui.label(format!(
            "No trained versions yet: the live model is {} (bundled).",
            app.model.version
        ));
    }
    let mut to_promote = None;
    egui::ScrollArea::vertical()
        .max_height(ui.available_height() * 0.55)
        .show(ui, |ui| {
            egui::Grid::new("models")
                .striped(true)
                .num_columns(6)
                .show(ui, |ui| {
                    for h in ["compare", "version", "trained", "kind", "", "metrics"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for m in &snap.models {
                        let mut ticked = app.train.compare.contains(&m.id);
                        if ui.checkbox(&mut ticked, "").changed() {
                            if ticked {
                                app.train.compare.push(m.id);
                                if app.train.compare.len() > 2 {
                                    app.train.compare.remove(0);
                                }
                            } else {
                                app.train.compare.retain(|id| *id != m.id);
                            }
                        }
                        let live = m.version == app.stats.model_version;
                        if live {
                            ui.colored_label(theme::PASS, format!("▶ {} (live)", m.version));
                        } else {
                            ui.label(&m.version);
                        }
                        ui.label(super::tabs::fmt_ts(m.created_at_ms));
                        ui.label(&m.kind);
                        if live {
                            ui.label("");
                        } else if ui
                            .add_enabled(
                                app.train.promoting.is_none(),
                                egui::Button::new("Promote"),
                            )
                            .on_hover_text("Make this version live now (hot swap)")
                            .clicked()
                        {
                            to_promote = Some(m.clone());
                        }
                        ui.label(summary(&m.metrics));
                        ui.end_row();
                    }
                });
        });
    if let Some(row) = to_promote {
        promote(app, &row);
    }
    compare_panel(app, &snap.models, ui);
}

fn compare_panel(app: &FoodQcApp, models: &[ModelVersionRow], ui: &mut egui::Ui) {
    let picked: Vec<&ModelVersionRow> = app
        .train
        .compare
        .iter()
        .filter_map(|id| models.iter().find(|m| m.id == *id))
        .collect();
    if picked.len() < 2 {
        ui.weak("Tick two versions to compare them side by side.");
        return;
    }
    ui.separator();
    ui.heading("Comparison");
    let keys: std::collections::BTreeSet<String> = picked
        .iter()
        .filter_map(|m| m.metrics.as_object())
        .flat_map(|o| o.keys().cloned())
        .collect();
    egui::Grid::new("compare")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            ui.strong("metric");
            for m in &picked {
                ui.strong(&m.version);
            }
            ui.end_row();
            for k in &keys {
                ui.label(k);
                for m in &picked {
                    let v = m.metrics.get(k).and_then(|v| v.as_f64());
                    ui.monospace(v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "—".into()));
                }
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        for m in &picked {
            ui.vertical(|ui| {
                ui.strong(format!("{}: decisions", m.version));
                confusion(ui, &m.metrics);
            });
            ui.add_space(24.0);
        }
    });
}

/// The confusion matrix from stored metrics (cross-validated good, defects vs the model).
fn confusion(ui: &mut egui::Ui, m: &serde_json::Value) {
    let g = |k: &str| {
        m.get(k)
            .and_then(|v| v.as_f64())
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "—".into())
    };
    egui::Grid::new(ui.next_auto_id())
        .striped(true)
        .show(ui, |ui| {
            ui.label("");
            ui.strong("rejected");
            ui.strong("passed");
            ui.end_row();
            ui.strong("defective");
            ui.monospace(g("defects_rejected"));
            ui.monospace(g("defects_passed"));
            ui.end_row();
            ui.strong("good");
            ui.monospace(g("cv_good_rejected"));
            ui.monospace(g("cv_good_passed"));
            ui.end_row();
        });
}
