//! The control panel of the Thresholds tab: score file, reject and review thresholds with
//! snaps, the operating point, per-class thresholds, apply / revert and the setting history.

use egui::RichText;
use foodqc::domain::Thresholds;
use foodqc::model::operating::ConfusionCounts;
use foodqc::services::desk::Status;
use foodqc::services::workbench::Workbench;

use super::{ThresholdsTab, num, pct};
use crate::ui::action::{Action, TabCtx};
use crate::ui::theme;

impl ThresholdsTab {
    pub(super) fn controls(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label("Scores");
            ui.add(
                egui::TextEdit::singleline(&mut self.score_file)
                    .hint_text("<model>_scores.json from foodqc eval")
                    .desired_width(230.0),
            );
            if ui
                .add_enabled(!self.is_busy(), egui::Button::new("Load"))
                .on_hover_text("Read the score file and the last 10,000 production scores")
                .clicked()
            {
                self.load(ctx, false, actions);
            }
        });
        if let Status::Busy { what, .. } = &self.status {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("{what}…"));
            });
        }
        let Some(data) = self.data.clone() else {
            if !self.is_busy() {
                ui.label("No scores loaded. Run `foodqc eval --dataset DIR` to score a labelled set, or label production samples.");
            }
            self.status_line(ui);
            return;
        };
        ui.label(RichText::new(&data.source).small());
        ui.label(format!(
            "{} labelled items: {} good, {} defective · AUROC {} · AP {}",
            data.set.len(),
            data.set.good(),
            data.set.defective(),
            data.auroc.map(num).unwrap_or_else(|| "n/a".into()),
            data.ap.map(num).unwrap_or_else(|| "n/a".into())
        ));
        ui.separator();
        self.threshold_sliders(ui, &data);
        self.snaps(ui, &data);
        ui.separator();
        self.operating_point(ui, &data);
        if !data.classes.is_empty() {
            self.per_class(ui, &data);
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Heat-map cells above");
            ui.add(
                egui::DragValue::new(&mut self.pixel)
                    .speed(0.01)
                    .range(0.1..=20.0)
                    .max_decimals(2),
            )
            .on_hover_text("What counts as a defect region in the live overlay");
        });
        ui.separator();
        self.apply_controls(ui, ctx, actions);
    }

    fn threshold_sliders(&mut self, ui: &mut egui::Ui, data: &Workbench) {
        let (lo, hi) = data.range;
        ui.strong("Reject above");
        ui.horizontal(|ui| {
            ui.spacing_mut().slider_width = 210.0;
            ui.add(
                egui::Slider::new(&mut self.reject, lo..=hi)
                    .clamping(egui::SliderClamping::Never)
                    .max_decimals(3)
                    .text("Reject threshold"),
            );
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.review_on, "Review band from")
                .on_hover_text("Items between the two thresholds go to a person (labelling queue)");
            ui.add_enabled(
                self.review_on,
                egui::DragValue::new(&mut self.review)
                    .speed((hi - lo) / 500.0)
                    .max_decimals(3)
                    .range(lo.min(self.reject)..=self.reject),
            );
            ui.label("to the reject threshold");
        });
        if self.review_on {
            ui.horizontal(|ui| {
                ui.spacing_mut().slider_width = 210.0;
                let top = self.reject.max(lo);
                ui.add(
                    egui::Slider::new(&mut self.review, lo..=top)
                        .max_decimals(3)
                        .text("Review threshold"),
                );
            });
            self.review = self.review.min(self.reject);
        }
    }

    fn snaps(&mut self, ui: &mut egui::Ui, data: &Workbench) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Snap to");
            if ui
                .button("max F1")
                .on_hover_text("The threshold with the best F1 on the labelled set")
                .clicked()
                && let Some(t) = data.set.snap_max_f1()
            {
                self.reject = t;
            }
        });
        ui.horizontal(|ui| {
            if ui
                .button("escape <=")
                .on_hover_text(
                    "The highest threshold that lets at most this share of defective items pass",
                )
                .clicked()
            {
                match data.set.snap_escape_rate(self.target_escape) {
                    Some(t) => self.reject = t,
                    None => self.status = Status::Failed("No defective items in the set.".into()),
                }
            }
            ui.add(
                egui::DragValue::new(&mut self.target_escape)
                    .speed(0.001)
                    .range(0.0..=1.0)
                    .custom_formatter(|x, _| format!("{:.2} %", 100.0 * x))
                    .custom_parser(|s| {
                        s.trim_end_matches(['%', ' '])
                            .parse::<f64>()
                            .ok()
                            .map(|x| x / 100.0)
                    }),
            );
            if ui
                .button("false reject <=")
                .on_hover_text("The lowest threshold that rejects at most this share of good items")
                .clicked()
            {
                match data.set.snap_false_reject_rate(self.target_frr) {
                    Some(t) => self.reject = t,
                    None => self.status = Status::Failed("No good items in the set.".into()),
                }
            }
            ui.add(
                egui::DragValue::new(&mut self.target_frr)
                    .speed(0.001)
                    .range(0.0..=1.0)
                    .custom_formatter(|x, _| format!("{:.2} %", 100.0 * x))
                    .custom_parser(|s| {
                        s.trim_end_matches(['%', ' '])
                            .parse::<f64>()
                            .ok()
                            .map(|x| x / 100.0)
                    }),
            );
        });
        if self.review_on {
            self.review = self.review.min(self.reject);
        }
    }

    fn operating_point(&self, ui: &mut egui::Ui, data: &Workbench) {
        let op = data.set.at(self.reject);
        let c = op.confusion;
        ui.strong(format!("At {:.3}", self.reject));
        confusion_grid(ui, &c);
        ui.label(
            RichText::new(format!(
                "TP {} FP {} TN {} FN {}",
                c.true_pos, c.false_pos, c.true_neg, c.false_neg
            ))
            .small(),
        );
        egui::Grid::new("rates").num_columns(4).show(ui, |ui| {
            ui.label("Precision");
            ui.strong(num(op.precision));
            ui.label("Recall");
            ui.strong(num(op.recall));
            ui.end_row();
            ui.label("F1");
            ui.strong(num(op.f1));
            ui.label("False rejects");
            ui.strong(pct(op.false_reject_rate));
            ui.end_row();
            ui.label("Escapes");
            ui.strong(pct(op.escape_rate));
            ui.end_row();
        });
        let review = if self.review_on {
            self.review
        } else {
            self.reject
        };
        let b = data.set.bands(review, self.reject);
        ui.label(format!(
            "Bands (good / defective): pass {} / {} · review {} / {} · reject {} / {}",
            b.pass_good,
            b.pass_defective,
            b.review_good,
            b.review_defective,
            b.reject_good,
            b.reject_defective
        ));
        if !data.production.is_empty() {
            let rej = data.production_above(self.reject);
            let rev = data.production_above(review) - rej;
            ui.label(format!(
                "On the last {} production items: {} rejected, {} to review",
                data.production.len(),
                pct(rej),
                pct(rev)
            ));
        }
    }

    fn per_class(&mut self, ui: &mut egui::Ui, data: &Workbench) {
        egui::CollapsingHeader::new("Per defect class")
            .default_open(data.classes.len() > 1)
            .show(ui, |ui| {
                ui.label(
                    RichText::new(
                        "Own reject thresholds are used when a defect classifier names the class; otherwise the reject threshold above applies.",
                    )
                    .small(),
                );
                egui::Grid::new("per_class").num_columns(5).striped(true).show(ui, |ui| {
                    ui.label("class");
                    ui.label("AUROC");
                    ui.label("recall");
                    ui.label("own threshold");
                    ui.label("");
                    ui.end_row();
                    for (class, set) in &data.classes {
                        let own = self.per_class.get(class).copied();
                        let t = own.unwrap_or(self.reject);
                        ui.label(class);
                        ui.label(set.auroc().map(num).unwrap_or_else(|| "n/a".into()));
                        ui.label(num(set.at(t).recall));
                        let mut on = own.is_some();
                        if ui.checkbox(&mut on, "").changed() {
                            if on {
                                self.per_class.insert(class.clone(), self.reject);
                            } else {
                                self.per_class.remove(class);
                            }
                        }
                        if let Some(val) = self.per_class.get_mut(class) {
                            ui.horizontal(|ui| {
                                ui.add(egui::DragValue::new(val).speed(0.005).max_decimals(3));
                                if ui.small_button("max F1").clicked()
                                    && let Some(best) = set.snap_max_f1()
                                {
                                    *val = best;
                                }
                            });
                        } else {
                            ui.label("");
                        }
                        ui.end_row();
                    }
                });
            });
    }

    fn apply_controls(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let live = ctx.model.thresholds.clone();
        let new = self.thresholds();
        let changed = new != live;
        ui.horizontal(|ui| {
            ui.label("Live:");
            ui.label(
                RichText::new(format!(
                    "reject {:.3}{}, pixel {:.2}",
                    live.reject,
                    live.review_band()
                        .map(|r| format!(", review from {r:.3}"))
                        .unwrap_or_default(),
                    live.pixel
                ))
                .strong(),
            );
        });
        egui::Grid::new("apply_who").num_columns(2).show(ui, |ui| {
            ui.label("Who");
            ui.add(egui::TextEdit::singleline(&mut self.who).desired_width(250.0));
            ui.end_row();
            ui.label("Why");
            ui.add(
                egui::TextEdit::singleline(&mut self.why)
                    .hint_text("e.g. max F1 on cookies eval")
                    .desired_width(250.0),
            );
            ui.end_row();
        });
        let mut apply_clicked = false;
        let mut reset = false;
        ui.horizontal(|ui| {
            apply_clicked = ui
                .add_enabled(
                    changed && !self.is_busy(),
                    egui::Button::new("Apply to the line"),
                )
                .on_hover_text(
                    "Save as a setting of the live model version (audit log) and judge with it at once",
                )
                .clicked();
            reset = ui
                .add_enabled(changed, egui::Button::new("Back to live"))
                .on_hover_text("Discard the changes in this tab")
                .clicked();
        });
        if reset {
            self.take_thresholds(&live);
        }
        self.status_line(ui);
        let revert = self.history_table(ui);
        if apply_clicked {
            let why = if self.why.trim().is_empty() {
                "no reason given".to_string()
            } else {
                self.why.trim().to_string()
            };
            self.apply(ctx, new, why, actions);
        } else if let Some((t, why)) = revert {
            self.take_thresholds(&t);
            self.apply(ctx, t, why, actions);
        }
    }

    /// The setting history of the live version; the setting to revert to, when clicked.
    fn history_table(&self, ui: &mut egui::Ui) -> Option<(Thresholds, String)> {
        let mut revert = None;
        if self.history.is_empty() {
            return None;
        }
        ui.separator();
        ui.strong("History of this model version");
        egui::Grid::new("threshold_history")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for (i, s) in self.history.iter().enumerate() {
                    ui.label(format!("#{}", s.id));
                    ui.label(format!(
                        "{:.3}{}",
                        s.thresholds.reject,
                        s.thresholds
                            .review_band()
                            .map(|r| format!(" / {r:.3}"))
                            .unwrap_or_default()
                    ))
                    .on_hover_text(format!("pixel {:.2}", s.thresholds.pixel));
                    ui.label(format!("{}: {}", s.set_by, s.reason))
                        .on_hover_text(foodqc::reports::fmt_ts(s.created_at_ms));
                    if i == 0 {
                        ui.label("in force");
                    } else if ui
                        .add_enabled(!self.is_busy(), egui::Button::new("Revert").small())
                        .clicked()
                    {
                        revert = Some((s.thresholds.clone(), format!("revert to #{}", s.id)));
                    }
                    ui.end_row();
                }
            });
        revert
    }

    fn status_line(&self, ui: &mut egui::Ui) {
        match &self.status {
            Status::Done(msg) => {
                ui.label(RichText::new(msg).small());
            }
            Status::Failed(msg) => {
                ui.colored_label(theme::REJECT, msg);
            }
            _ => {}
        }
    }
}

/// The confusion matrix at the reject threshold, escapes and false rejects marked.
fn confusion_grid(ui: &mut egui::Ui, c: &ConfusionCounts) {
    egui::Grid::new("confusion")
        .num_columns(3)
        .striped(true)
        .min_col_width(90.0)
        .show(ui, |ui| {
            ui.label("");
            ui.label("rejected");
            ui.label("passed");
            ui.end_row();
            ui.label("defective");
            ui.label(RichText::new(c.true_pos.to_string()).size(20.0).strong());
            ui.label(
                RichText::new(c.false_neg.to_string())
                    .size(20.0)
                    .strong()
                    .color(if c.false_neg > 0 {
                        theme::REJECT
                    } else {
                        ui.visuals().text_color()
                    }),
            )
            .on_hover_text("escapes: defective items that pass");
            ui.end_row();
            ui.label("good");
            ui.label(
                RichText::new(c.false_pos.to_string())
                    .size(20.0)
                    .strong()
                    .color(if c.false_pos > 0 {
                        theme::WARN
                    } else {
                        ui.visuals().text_color()
                    }),
            )
            .on_hover_text("false rejects: good items thrown away");
            ui.label(RichText::new(c.true_neg.to_string()).size(20.0).strong());
            ui.end_row();
        });
}
