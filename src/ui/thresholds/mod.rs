//! Thresholds tab: choose where pass ends and reject begins on cached scores.
//!
//! Everything here works on scores computed earlier (the evaluation's `<model>_scores.json`
//! and the inspections table): the desk worker loads them once into a
//! [`Workbench`]; after that moving a threshold only asks its sorted `ScoreSet` for counts
//! (two binary searches) and redraws.

mod controls;
mod plots;
mod preview;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use foodqc::domain::{SignedAction, Thresholds};
use foodqc::services::desk::{Command, Event, Status};
use foodqc::services::workbench::Workbench;
use foodqc::store::ThresholdSetting;
use foodqc::tr;

use super::action::{Action, TabCtx};
use super::session::SignRequest;

/// State of the Thresholds tab.
pub struct ThresholdsTab {
    /// Score file of the evaluation set (empty = production only).
    pub score_file: String,
    /// Loaded scores.
    pub data: Option<Arc<Workbench>>,
    /// Reject threshold being tried.
    pub reject: f64,
    /// Lower edge of the review band being tried.
    pub review: f64,
    /// Whether the review band is on.
    pub review_on: bool,
    /// Heat-map cell threshold being tried.
    pub pixel: f64,
    /// Per-defect-class reject thresholds being tried.
    pub per_class: BTreeMap<String, f64>,
    /// Escape-rate target for the snap button.
    pub target_escape: f64,
    /// False-reject target for the snap button.
    pub target_frr: f64,
    /// Why (goes to the audit log).
    pub why: String,
    /// Settings applied to the live model version, newest first.
    pub history: Vec<ThresholdSetting>,
    /// Loading, applying, previewing: running, or the last outcome.
    pub status: Status,
    /// Show the pixel-threshold preview instead of the curves.
    pub show_pixels: bool,
    /// Scored sample images for the pixel preview (asked for on first view).
    pub previews: Option<Vec<preview::PreviewView>>,
    started: bool,
}

impl Default for ThresholdsTab {
    fn default() -> Self {
        Self {
            score_file: String::new(),
            data: None,
            reject: 1.0,
            review: 0.8,
            review_on: false,
            pixel: 1.5,
            per_class: BTreeMap::new(),
            target_escape: 0.005,
            target_frr: 0.01,
            why: String::new(),
            history: Vec::new(),
            status: Status::Idle,
            show_pixels: false,
            previews: None,
            started: false,
        }
    }
}

impl ThresholdsTab {
    /// Take the live model's thresholds as the starting point.
    pub fn take_thresholds(&mut self, t: &Thresholds) {
        self.reject = t.reject;
        self.pixel = t.pixel;
        self.review_on = t.review_band().is_some();
        self.review = t.review.unwrap_or(t.reject * 0.8).min(t.reject);
        self.per_class = t.per_class.clone();
    }

    /// The thresholds as set in the tab.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            reject: self.reject,
            pixel: self.pixel,
            review: self.review_on.then_some(self.review.min(self.reject)),
            per_class: self.per_class.clone(),
        }
    }

    /// The operating point at the reject threshold, when scores are loaded.
    #[cfg(test)]
    pub fn point(&self) -> Option<foodqc::model::operating::OperatingPoint> {
        self.data.as_ref().map(|d| d.set.at(self.reject))
    }

    /// Band counts at the current thresholds.
    #[cfg(test)]
    pub fn bands(&self) -> Option<foodqc::model::operating::BandCounts> {
        let review = if self.review_on {
            self.review
        } else {
            self.reject
        };
        self.data.as_ref().map(|d| d.set.bands(review, self.reject))
    }

    /// Use already computed scores instead of loading them (tests, measurements).
    #[cfg(test)]
    pub fn set_data(&mut self, w: Workbench) {
        self.data = Some(Arc::new(w));
        self.started = true;
    }

    /// True while the worker loads, applies or scores for this tab.
    pub fn is_busy(&self) -> bool {
        self.status.is_busy()
    }

    /// Ask for the scores (the score file as typed; on first show, the model's own).
    fn load(&mut self, ctx: &TabCtx, find_default: bool, actions: &mut Vec<Action>) {
        let file = self.score_file.trim();
        let cmd = Command::LoadThresholds {
            score_file: (!file.is_empty()).then(|| PathBuf::from(file)),
            find_default,
            version: ctx.model.version.clone(),
        };
        self.status = Status::busy(tr!("thr-loading"));
        actions.push(cmd.into());
    }

    /// Ask to save `new` (the tab's setting, or an older one for a revert); on success the
    /// app hands it to the station.
    fn apply(&mut self, ctx: &TabCtx, new: Thresholds, why: String, actions: &mut Vec<Action>) {
        let version = ctx.model.version.clone();
        let old = ctx.model.thresholds.clone();
        actions.push(Action::Sign(SignRequest {
            action: SignedAction::ApplyThresholds,
            record: tr!("thr-sign-record", version = version.as_str()),
            reason: why,
            warning: None,
            make: Box::new(move |sign| Command::ApplyThresholds {
                version,
                new,
                old,
                sign,
            }),
        }));
    }

    /// Take an event of the worker (the app has already taken a loaded or applied setting
    /// into the live model).
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::ThresholdsLoaded {
                score_file,
                workbench,
                history,
            } => {
                if self.score_file.is_empty()
                    && let Some(p) = score_file
                {
                    self.score_file = p.display().to_string();
                }
                self.data = Some(workbench);
                self.history = history;
            }
            Event::ThresholdsApplied { history, .. } => {
                self.history = history;
                self.why.clear();
            }
            Event::Previews(p) => {
                self.previews = Some(p.into_iter().map(preview::PreviewView::from).collect());
            }
            Event::Status(_, s) => self.status = s,
            _ => {}
        }
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.started {
            self.started = true;
            self.take_thresholds(&ctx.model.thresholds);
            self.load(ctx, true, &mut actions);
        }
        egui::Panel::left("threshold_controls")
            .resizable(false)
            .exact_size(400.0)
            .show(ui, |ui| {
                // The bar stays visible: at the minimum height the audit fields are below the
                // fold, and a hidden bar would make them look cut off.
                super::theme::visible_scroll_bars(ui);
                egui::ScrollArea::vertical()
                    .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
                    .show(ui, |ui| self.controls(ui, ctx, &mut actions));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.show_pixels, false, tr!("thr-scores-curves"));
                ui.selectable_value(&mut self.show_pixels, true, tr!("thr-pixel-preview"));
            });
            if self.show_pixels {
                self.pixel_preview(ui, ctx, &mut actions);
            } else {
                self.plots(ui);
            }
        });
        actions
    }
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        tr!("n-a")
    } else {
        foodqc::i18n::format_percent(v, 1)
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        tr!("n-a")
    } else {
        foodqc::i18n::format_decimal(v, 3)
    }
}

#[cfg(test)]
mod tests;
