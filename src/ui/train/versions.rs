//! The model versions of the Train tab: the list with promote buttons, roll back, and the
//! side-by-side comparison of two versions.

use foodqc::domain::{Permission, SignedAction};
use foodqc::services::desk::{Command, Status};
use foodqc::services::promotion::rollback_target;
use foodqc::store::ModelVersionRow;
use foodqc::tr;

use super::{TrainTab, summary};
use crate::ui::action::{Action, TabCtx};
use crate::ui::session::{SignRequest, guarded};
use crate::ui::theme;

impl TrainTab {
    /// Ask for the signature of `action` on `row` (propose, approve or roll back).
    /// An approval of a candidate that fails its acceptance criteria overrides them: the
    /// window says so, and the reason signed is also the override's.
    fn sign_version(
        &mut self,
        ctx: &TabCtx,
        action: SignedAction,
        row: &ModelVersionRow,
        actions: &mut Vec<Action>,
    ) {
        self.promotion = Status::Idle;
        let r = row.clone();
        let live = ctx.model.clone();
        let shortfalls = (action == SignedAction::ApproveModel)
            .then(|| self.acceptance.shortfalls(row.id))
            .flatten();
        let warning = shortfalls
            .as_ref()
            .map(|s| tr!("train-override-warning", shortfalls = s.join("; ")));
        let overriding = shortfalls.is_some();
        actions.push(Action::Sign(SignRequest {
            action,
            record: tr!("train-sign-record", version = row.version.as_str()),
            reason: String::new(),
            warning,
            make: Box::new(move |sign| match action {
                SignedAction::ProposeModel => Command::Propose { row: r, sign },
                SignedAction::RollbackModel => Command::Rollback { row: r, sign },
                _ => Command::Approve {
                    row: r,
                    live,
                    override_reason: overriding.then(|| sign.reason.clone()),
                    sign,
                },
            }),
        }));
    }

    /// The recipe to publish for and "Publish to plant…": the live version, approved here,
    /// goes to the plant's stations on that recipe through this PC's Plant Kafka, signed
    /// again. Disabled, with the reason on hover, while something is missing.
    fn publish_controls(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let snap = ctx.snapshot;
        let live = snap
            .models
            .iter()
            .find(|m| m.version == ctx.stats.model_version);
        let names: Vec<&str> = snap.recipes.iter().map(|r| r.name.as_str()).collect();
        let chosen = self
            .publish_recipe
            .clone()
            .filter(|r| names.contains(&r.as_str()))
            .or_else(|| {
                let running = ctx.stats.recipe_name.as_str();
                names.contains(&running).then(|| running.to_string())
            })
            .or_else(|| names.first().map(|r| r.to_string()));
        ui.separator();
        ui.label(tr!("train-publish-recipe"));
        let mut picked = chosen.clone();
        egui::ComboBox::from_id_salt("publish-recipe")
            .selected_text(picked.clone().unwrap_or_default())
            .show_ui(ui, |ui| {
                for name in &names {
                    ui.selectable_value(&mut picked, Some(name.to_string()), *name);
                }
            });
        if picked != chosen {
            self.publish_recipe = picked.clone();
        }
        let why_not = if ctx.plant_origin.is_none() {
            Some(tr!("train-publish-no-plant"))
        } else if live.is_none() {
            Some(tr!("train-publish-no-version"))
        } else if picked.is_none() {
            Some(tr!("train-publish-no-recipe"))
        } else {
            None
        };
        let ready = why_not.is_none() && !self.promotion.is_busy();
        let button = egui::Button::new(tr!("train-publish"));
        let r = guarded(ui, ctx.session, Permission::ApproveModel, ready, button);
        let r = match &why_not {
            Some(why) => r.on_disabled_hover_text(why),
            None => r,
        };
        let (Some(row), Some(recipe), Some(origin)) = (live, picked, ctx.plant_origin) else {
            return;
        };
        let r = r.on_hover_text(tr!(
            "train-publish-tip",
            version = row.version.as_str(),
            recipe = recipe.as_str()
        ));
        if r.clicked() {
            self.promotion = Status::Idle;
            let (row, origin) = (row.clone(), origin.to_string());
            actions.push(Action::Sign(SignRequest {
                action: SignedAction::PublishModel,
                record: tr!(
                    "train-publish-record",
                    version = row.version.as_str(),
                    recipe = recipe.as_str()
                ),
                reason: String::new(),
                warning: None,
                make: Box::new(move |sign| Command::PublishModel {
                    row,
                    recipe,
                    sign,
                    origin,
                }),
            }));
        }
    }

    pub(super) fn versions_panel(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &TabCtx,
        actions: &mut Vec<Action>,
    ) {
        let snap = ctx.snapshot;
        ui.horizontal(|ui| {
            ui.heading(tr!("train-versions"));
            let busy = self.promotion.is_busy();
            let prev_row = rollback_target(&snap.models, snap.previous_active);
            let rollback = egui::Button::new(tr!("train-rollback"));
            let ready = prev_row.is_some() && !busy;
            let r = guarded(ui, ctx.session, Permission::ApproveModel, ready, rollback)
                .on_hover_text(match prev_row {
                    Some(r) => tr!("train-rollback-tip", version = r.version.as_str()),
                    None => tr!("train-no-earlier"),
                });
            if r.clicked()
                && let Some(row) = prev_row
            {
                self.sign_version(ctx, SignedAction::RollbackModel, row, actions);
            }
            self.publish_controls(ui, ctx, actions);
            if let Status::Busy { .. } = &self.promotion {
                ui.spinner();
            }
        });
        // On a line of its own: a release's message is longer than the room beside the buttons.
        match &self.promotion {
            Status::Done(m) => {
                ui.colored_label(theme::PASS, m);
            }
            Status::Failed(e) => {
                ui.colored_label(theme::REJECT, format!("⚠ {e}"));
            }
            Status::Busy { .. } | Status::Idle => {}
        }
        if let Some(e) = &snap.error {
            ui.colored_label(theme::REJECT, tr!("train-db-error", error = e.as_str()));
            return;
        }
        if snap.models.is_empty() {
            ui.label(tr!(
                "train-no-versions",
                version = ctx.model.version.as_str()
            ));
        }
        let mut to_sign = None;
        // Both ways: at the minimum window size the grid is wider than the room beside the
        // model card.
        egui::ScrollArea::both()
            .max_height(ui.available_height() * 0.55)
            .show(ui, |ui| {
                egui::Grid::new("models")
                    .striped(true)
                    .num_columns(6)
                    .show(ui, |ui| {
                        for h in [
                            tr!("train-col-compare"),
                            tr!("train-col-version"),
                            tr!("train-col-trained"),
                            tr!("train-col-kind"),
                            String::new(),
                            tr!("train-col-metrics"),
                        ] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for m in &snap.models {
                            if let Some(action) = self.version_row(ui, ctx, m) {
                                to_sign = Some((action, m.clone()));
                            }
                            ui.end_row();
                        }
                    });
            });
        if let Some((action, row)) = to_sign {
            self.sign_version(ctx, action, &row, actions);
        }
        self.acceptance_panel(ui, ctx, actions);
        self.compare_panel(&snap.models, ui);
    }

    /// One row of the versions grid; the signed action clicked (propose or approve), if any.
    fn version_row(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &TabCtx,
        m: &ModelVersionRow,
    ) -> Option<SignedAction> {
        let mut ticked = self.compare.contains(&m.id);
        if ui.checkbox(&mut ticked, "").changed() {
            if ticked {
                self.compare.push(m.id);
                if self.compare.len() > 2 {
                    self.compare.remove(0);
                }
            } else {
                self.compare.retain(|id| *id != m.id);
            }
        }
        let live = m.version == ctx.stats.model_version;
        let version = if live {
            egui::RichText::new(tr!("train-live-version", version = m.version.as_str()))
                .color(theme::PASS)
        } else {
            egui::RichText::new(&m.version)
        };
        // Version names run long (source and timestamp): a bounded column, elided with the
        // full name on hover, keeps the kind and Promote columns inside a 900 px window.
        let cell = egui::vec2(VERSION_WIDTH, ui.spacing().interact_size.y);
        ui.allocate_ui(cell, |ui| {
            ui.set_max_width(VERSION_WIDTH);
            ui.add(egui::Label::new(version).truncate());
        });
        ui.label(foodqc::i18n::format_datetime(m.created_at_ms));
        ui.label(kind_label(&m.kind));
        let clicked = if live {
            ui.label("");
            None
        } else {
            self.promotion_cell(ui, ctx, m)
        };
        ui.label(summary(&m.metrics));
        clicked
    }

    /// Propose (nobody has yet) or Approve (proposed by someone else), each enabled for the
    /// role that signs it; the tooltip says who proposed.
    fn promotion_cell(
        &self,
        ui: &mut egui::Ui,
        ctx: &TabCtx,
        m: &ModelVersionRow,
    ) -> Option<SignedAction> {
        let idle = !self.promotion.is_busy();
        let Some(p) = ctx.snapshot.proposals.get(&m.id) else {
            let propose = egui::Button::new(tr!("train-propose"));
            return guarded(ui, ctx.session, Permission::ProposeModel, idle, propose)
                .on_hover_text(tr!("train-propose-tip"))
                .clicked()
                .then_some(SignedAction::ProposeModel);
        };
        let proposed = tr!(
            "train-proposed-by",
            user = p.display_name.as_str(),
            when = foodqc::i18n::format_datetime(p.ts_ms),
            reason = p.reason.as_str()
        );
        let own = ctx.session.user.as_ref().is_some_and(|u| u.id == p.user_id);
        let approve = egui::Button::new(tr!("train-approve"));
        let r = guarded(
            ui,
            ctx.session,
            Permission::ApproveModel,
            idle && !own,
            approve,
        );
        let r = if own {
            r.on_disabled_hover_text(tr!("train-approve-own"))
        } else {
            r
        };
        r.on_hover_text(proposed)
            .clicked()
            .then_some(SignedAction::ApproveModel)
    }

    fn compare_panel(&self, models: &[ModelVersionRow], ui: &mut egui::Ui) {
        let picked: Vec<&ModelVersionRow> = self
            .compare
            .iter()
            .filter_map(|id| models.iter().find(|m| m.id == *id))
            .collect();
        if picked.len() < 2 {
            ui.weak(tr!("train-tick-two"));
            return;
        }
        ui.separator();
        ui.heading(tr!("train-comparison"));
        let keys: std::collections::BTreeSet<String> = picked
            .iter()
            .filter_map(|m| m.metrics.as_object())
            .flat_map(|o| o.keys().cloned())
            .collect();
        egui::Grid::new(tr!("train-col-compare"))
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                ui.strong(tr!("train-col-metric"));
                for m in &picked {
                    ui.strong(&m.version);
                }
                ui.end_row();
                for k in &keys {
                    ui.label(super::card::metric_name(k));
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
                    ui.strong(tr!("train-decisions", version = m.version.as_str()));
                    confusion(ui, &m.metrics);
                });
                ui.add_space(24.0);
            }
        });
    }
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
            ui.strong(tr!("thr-rejected"));
            ui.strong(tr!("thr-passed"));
            ui.end_row();
            ui.strong(tr!("thr-defective"));
            ui.monospace(g("defects_rejected"));
            ui.monospace(g("defects_passed"));
            ui.end_row();
            ui.strong(tr!("thr-good"));
            ui.monospace(g("cv_good_rejected"));
            ui.monospace(g("cv_good_passed"));
            ui.end_row();
        });
}

/// Width of the version column.
const VERSION_WIDTH: f32 = 220.0;

/// A stored model kind (`anomaly`, `gaussian-anomaly`) as people read it; other kinds are
/// shown as stored.
fn kind_label(kind: &str) -> String {
    match kind {
        "anomaly" | "gaussian-anomaly" => tr!("train-kind-anomaly"),
        other => other.to_string(),
    }
}
