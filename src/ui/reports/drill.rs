//! The drill-down of the Reports tab: the subgroups as a table (click = drill) and the items
//! behind the last click, with crop thumbnails.

use foodqc::domain::Verdict;
use foodqc::reports::Report;
use foodqc::reports::filter::verdict_label;
use foodqc::store::InspectionView;
use foodqc::store::LotStatus;
use foodqc::tr;

use super::{ReportsTab, pct};
use crate::ui::action::Action;
use crate::ui::theme;

impl ReportsTab {
    pub(super) fn drill_down(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            ui.heading(tr!("reports-drill"));
            if self.drill.title.is_empty() {
                ui.label(tr!("reports-drill-hint"));
            } else {
                ui.label(tr!(
                    "reports-drill-count",
                    title = self.drill.title.as_str(),
                    count = self.drill.items.len()
                ));
            }
            if self.drill.loading {
                ui.spinner();
            }
            ui.checkbox(&mut self.rejects_only, tr!("reports-rejects-only"))
                .on_hover_text(tr!("reports-next-click"));
            ui.checkbox(&mut self.images_only, tr!("reports-images-only"))
                .on_hover_text(tr!("reports-images-only-tip"));
        });
        let Some(r) = self.report.clone() else { return };
        ui.columns(2, |cols| {
            // Left: the subgroups as a table (click = drill).
            // Both ways: a wide table scrolls inside its column instead of running under the
            // items beside it.
            egui::ScrollArea::both()
                .id_salt("groups")
                .show(&mut cols[0], |ui| self.groups_table(ui, &r, actions));
            // Right: the items, with crop thumbnails.
            egui::ScrollArea::both()
                .id_salt("drill_items")
                .show(&mut cols[1], |ui| self.items_grid(ui));
        });
    }

    fn groups_table(&mut self, ui: &mut egui::Ui, r: &Report, actions: &mut Vec<Action>) {
        egui::Grid::new("report_groups")
            .striped(true)
            .num_columns(6)
            .show(ui, |ui| {
                for h in [
                    r.group_by.label(),
                    tr!("reports-col-items"),
                    tr!("chart-rejects"),
                    tr!("reports-col-rate"),
                    tr!("reports-col-status"),
                    tr!("reports-col-rules"),
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for (g, q) in r.groups.iter().zip(&r.chart.points) {
                    if ui
                        .selectable_label(self.drill.title.ends_with(&g.key), &g.key)
                        .clicked()
                    {
                        let title = tr!(
                            "reports-group-key",
                            group = r.group_by.label(),
                            key = g.key.as_str()
                        );
                        self.drill(title, g.drill.clone(), actions);
                    }
                    ui.label(g.items.to_string());
                    ui.label(g.rejects.to_string());
                    ui.label(pct(g.reject_rate()));
                    match g.lot_status {
                        Some(LotStatus::Hold) => {
                            ui.colored_label(theme::WARN, tr!("reports-hold-badge"));
                        }
                        Some(s) => {
                            ui.label(foodqc::reports::lot_status_label(s));
                        }
                        None => {
                            ui.label("");
                        }
                    }
                    let rules: Vec<String> = q
                        .violations
                        .iter()
                        .map(|x| tr!("reports-rule", number = x.number()))
                        .collect();
                    if rules.is_empty() {
                        ui.label("");
                    } else {
                        ui.colored_label(
                            theme::REJECT,
                            tr!("reports-out", rules = rules.join(", ")),
                        );
                    }
                    ui.end_row();
                }
            });
    }

    fn items_grid(&self, ui: &mut egui::Ui) {
        egui::Grid::new("drill_grid")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for h in [
                    tr!("reports-col-image"),
                    tr!("reports-col-time"),
                    tr!("group-lot"),
                    tr!("reports-col-verdict"),
                    tr!("reports-col-score"),
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for it in &self.drill.items {
                    self.item_row(ui, it);
                    ui.end_row();
                }
            });
    }

    fn item_row(&self, ui: &mut egui::Ui, it: &InspectionView) {
        let color = match it.verdict.as_str() {
            "reject" => theme::REJECT,
            "review" => theme::WARN,
            _ => theme::PASS,
        };
        match it.sample_path.as_ref().and_then(|p| self.thumbs.get(p)) {
            Some(t) => {
                let r = ui.add(egui::Image::new(egui::load::SizedTexture::new(
                    t.id(),
                    egui::vec2(56.0, 56.0),
                )));
                // Overlay: verdict outline (thick for rejects) like the live view.
                let w = if it.verdict == Verdict::Reject {
                    3.0
                } else {
                    1.5
                };
                ui.painter().rect_stroke(
                    r.rect,
                    2.0,
                    egui::Stroke::new(w, color),
                    egui::StrokeKind::Outside,
                );
            }
            None => {
                ui.label("-");
            }
        }
        ui.label(foodqc::i18n::format_datetime(it.ts_ms));
        ui.label(it.lot_code.as_deref().unwrap_or("-"));
        let text = match &it.defect_class {
            Some(c) => format!(
                "{} / {}",
                verdict_label(it.verdict.as_str()).to_uppercase(),
                foodqc::i18n::class_name(c)
            ),
            None => verdict_label(it.verdict.as_str()).to_uppercase(),
        };
        ui.colored_label(color, text);
        ui.label(foodqc::i18n::format_decimal(it.score, 2));
    }
}
