//! The control panel of the Thresholds tab: score file, reject and review thresholds with
//! snaps, the operating point, per-class thresholds, apply / revert and the setting history.

use egui::RichText;
use foodqc::domain::{Permission, Thresholds};
use foodqc::i18n::format_decimal;
use foodqc::model::operating::ConfusionCounts;
use foodqc::services::desk::Status;
use foodqc::services::workbench::Workbench;
use foodqc::tr;

use super::{ThresholdsTab, num, pct};
use crate::ui::action::{Action, TabCtx};
use crate::ui::session::guarded;
use crate::ui::theme;

impl ThresholdsTab {
    pub(super) fn controls(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label(tr!("live-scores"));
            ui.add(
                egui::TextEdit::singleline(&mut self.score_file)
                    .hint_text(tr!("thr-score-file-hint"))
                    .desired_width(230.0),
            );
            if ui
                .add_enabled(!self.is_busy(), egui::Button::new(tr!("thr-load")))
                .on_hover_text(tr!("thr-load-tip"))
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
                ui.label(tr!("thr-no-scores"));
            }
            self.status_line(ui);
            return;
        };
        ui.label(RichText::new(&data.source).small());
        ui.label(tr!(
            "thr-set-summary",
            items = data.set.len(),
            good = data.set.good(),
            defective = data.set.defective(),
            auroc = data.auroc.map(num).unwrap_or_else(|| tr!("n-a")),
            ap = data.ap.map(num).unwrap_or_else(|| tr!("n-a"))
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
            ui.label(tr!("thr-pixel"));
            ui.add(
                egui::DragValue::new(&mut self.pixel)
                    .speed(0.01)
                    .range(0.1..=20.0)
                    .max_decimals(2),
            )
            .on_hover_text(tr!("thr-pixel-tip"));
        });
        ui.separator();
        self.apply_controls(ui, ctx, actions);
    }

    fn threshold_sliders(&mut self, ui: &mut egui::Ui, data: &Workbench) {
        let (lo, hi) = data.range;
        ui.strong(tr!("thr-reject-above"));
        ui.horizontal(|ui| {
            ui.spacing_mut().slider_width = 210.0;
            ui.add(
                egui::Slider::new(&mut self.reject, lo..=hi)
                    .clamping(egui::SliderClamping::Never)
                    .max_decimals(3)
                    .text(tr!("thr-reject-threshold")),
            );
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.review_on, tr!("thr-review-from"))
                .on_hover_text(tr!("thr-review-tip"));
            ui.add_enabled(
                self.review_on,
                egui::DragValue::new(&mut self.review)
                    .speed((hi - lo) / 500.0)
                    .max_decimals(3)
                    .range(lo.min(self.reject)..=self.reject),
            );
            ui.label(tr!("thr-review-to"));
        });
        if self.review_on {
            ui.horizontal(|ui| {
                ui.spacing_mut().slider_width = 210.0;
                let top = self.reject.max(lo);
                ui.add(
                    egui::Slider::new(&mut self.review, lo..=top)
                        .max_decimals(3)
                        .text(tr!("thr-review-threshold")),
                );
            });
            self.review = self.review.min(self.reject);
        }
    }

    fn snaps(&mut self, ui: &mut egui::Ui, data: &Workbench) {
        ui.horizontal_wrapped(|ui| {
            ui.label(tr!("thr-snap"));
            if ui
                .button(tr!("thr-max-f1"))
                .on_hover_text(tr!("thr-max-f1-tip"))
                .clicked()
                && let Some(t) = data.set.snap_max_f1()
            {
                self.reject = t;
            }
        });
        ui.horizontal(|ui| {
            if ui
                .button(tr!("thr-escape"))
                .on_hover_text(tr!("thr-escape-tip"))
                .clicked()
            {
                match data.set.snap_escape_rate(self.target_escape) {
                    Some(t) => self.reject = t,
                    None => self.status = Status::Failed(tr!("thr-no-defective")),
                }
            }
            ui.add(
                egui::DragValue::new(&mut self.target_escape)
                    .speed(0.001)
                    .range(0.0..=1.0)
                    .custom_formatter(|x, _| foodqc::i18n::format_percent(x, 2))
                    .custom_parser(|s| {
                        s.trim_end_matches(['%', ' '])
                            .parse::<f64>()
                            .ok()
                            .map(|x| x / 100.0)
                    }),
            );
            if ui
                .button(tr!("thr-false-reject"))
                .on_hover_text(tr!("thr-false-reject-tip"))
                .clicked()
            {
                match data.set.snap_false_reject_rate(self.target_frr) {
                    Some(t) => self.reject = t,
                    None => self.status = Status::Failed(tr!("thr-no-good")),
                }
            }
            ui.add(
                egui::DragValue::new(&mut self.target_frr)
                    .speed(0.001)
                    .range(0.0..=1.0)
                    .custom_formatter(|x, _| foodqc::i18n::format_percent(x, 2))
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
        ui.strong(tr!(
            "thr-at",
            threshold = foodqc::i18n::format_decimal(self.reject, 3)
        ));
        confusion_grid(ui, &c);
        ui.label(
            RichText::new(format!(
                "TP {} FP {} TN {} FN {}",
                c.true_pos, c.false_pos, c.true_neg, c.false_neg
            ))
            .small(),
        );
        egui::Grid::new("rates").num_columns(4).show(ui, |ui| {
            ui.label(tr!("thr-precision"));
            ui.strong(num(op.precision));
            ui.label(tr!("thr-recall"));
            ui.strong(num(op.recall));
            ui.end_row();
            ui.label("F1");
            ui.strong(num(op.f1));
            ui.label(tr!("thr-false-rejects"));
            ui.strong(pct(op.false_reject_rate));
            ui.end_row();
            ui.label(tr!("thr-escapes"));
            ui.strong(pct(op.escape_rate));
            ui.end_row();
        });
        let review = if self.review_on {
            self.review
        } else {
            self.reject
        };
        let b = data.set.bands(review, self.reject);
        ui.label(tr!(
            "thr-bands",
            pg = b.pass_good,
            pd = b.pass_defective,
            vg = b.review_good,
            vd = b.review_defective,
            rg = b.reject_good,
            rd = b.reject_defective
        ));
        if !data.production.is_empty() {
            let rej = data.production_above(self.reject);
            let rev = data.production_above(review) - rej;
            ui.label(tr!(
                "thr-production",
                count = data.production.len(),
                rejected = pct(rej),
                review = pct(rev)
            ));
        }
    }

    fn per_class(&mut self, ui: &mut egui::Ui, data: &Workbench) {
        egui::CollapsingHeader::new(tr!("thr-per-class"))
            .default_open(data.classes.len() > 1)
            .show(ui, |ui| {
                ui.label(RichText::new(tr!("thr-per-class-note")).small());
                egui::Grid::new("per_class")
                    .num_columns(5)
                    .striped(true)
                    .show(ui, |ui| {
                        ui.label(tr!("thr-col-class"));
                        ui.label("AUROC");
                        ui.label(tr!("thr-col-recall"));
                        ui.label(tr!("thr-col-own"));
                        ui.label("");
                        ui.end_row();
                        for (class, set) in &data.classes {
                            let own = self.per_class.get(class).copied();
                            let t = own.unwrap_or(self.reject);
                            ui.label(foodqc::i18n::class_name(class));
                            ui.label(set.auroc().map(num).unwrap_or_else(|| tr!("n-a")));
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
                                    if ui.small_button(tr!("thr-max-f1")).clicked()
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
            ui.label(tr!("thr-live"));
            ui.label(
                RichText::new(tr!(
                    "thr-live-setting",
                    reject = format_decimal(live.reject, 3),
                    review = live
                        .review_band()
                        .map(|r| tr!("thr-live-review", review = format_decimal(r, 3)))
                        .unwrap_or_default(),
                    pixel = format_decimal(live.pixel, 2)
                ))
                .strong(),
            );
        });
        egui::Grid::new("apply_who").num_columns(2).show(ui, |ui| {
            ui.label(tr!("thr-why"));
            ui.add(
                egui::TextEdit::singleline(&mut self.why)
                    .hint_text(tr!("thr-why-hint"))
                    .desired_width(250.0),
            );
            ui.end_row();
        });
        let mut apply_clicked = false;
        let mut reset = false;
        ui.horizontal(|ui| {
            let ready = changed && !self.is_busy();
            let apply = egui::Button::new(tr!("thr-apply"));
            apply_clicked = guarded(ui, ctx.session, Permission::ApplyThresholds, ready, apply)
                .on_hover_text(tr!("thr-apply-tip"))
                .clicked();
            reset = ui
                .add_enabled(changed, egui::Button::new(tr!("thr-back")))
                .on_hover_text(tr!("thr-back-tip"))
                .clicked();
        });
        if reset {
            self.take_thresholds(&live);
        }
        self.status_line(ui);
        let revert = self.history_table(ui, ctx);
        if apply_clicked {
            // The signature window asks for the reason when none is typed here.
            let why = self.why.trim().to_string();
            self.apply(ctx, new, why, actions);
        } else if let Some((t, why)) = revert {
            self.take_thresholds(&t);
            self.apply(ctx, t, why, actions);
        }
    }

    /// The setting history of the live version; the setting to revert to, when clicked.
    fn history_table(&self, ui: &mut egui::Ui, ctx: &TabCtx) -> Option<(Thresholds, String)> {
        let mut revert = None;
        if self.history.is_empty() {
            return None;
        }
        ui.separator();
        ui.strong(tr!("thr-history"));
        egui::Grid::new("threshold_history")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for (i, s) in self.history.iter().enumerate() {
                    ui.label(format!("#{}", s.id));
                    ui.label(format!(
                        "{}{}",
                        format_decimal(s.thresholds.reject, 3),
                        s.thresholds
                            .review_band()
                            .map(|r| format!(" / {}", format_decimal(r, 3)))
                            .unwrap_or_default()
                    ))
                    .on_hover_text(tr!(
                        "thr-pixel-tip-value",
                        pixel = format_decimal(s.thresholds.pixel, 2)
                    ));
                    ui.label(format!("{}: {}", s.set_by, s.reason))
                        .on_hover_text(foodqc::i18n::format_datetime(s.created_at_ms));
                    if i == 0 {
                        ui.label(tr!("thr-in-force"));
                    } else if guarded(
                        ui,
                        ctx.session,
                        Permission::ApplyThresholds,
                        !self.is_busy(),
                        egui::Button::new(tr!("thr-revert")).small(),
                    )
                    .clicked()
                    {
                        revert = Some((s.thresholds.clone(), tr!("thr-revert-reason", id = s.id)));
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
            ui.label(tr!("thr-rejected"));
            ui.label(tr!("thr-passed"));
            ui.end_row();
            ui.label(tr!("thr-defective"));
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
            .on_hover_text(tr!("thr-escapes-tip"));
            ui.end_row();
            ui.label(tr!("thr-good"));
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
            .on_hover_text(tr!("thr-false-rejects-tip"));
            ui.label(RichText::new(c.true_neg.to_string()).size(20.0).strong());
            ui.end_row();
        });
}
