//! The drill-down of the Reports tab: the subgroups as a table (click = drill) and the items
//! behind the last click, with crop thumbnails.

use foodqc::domain::Verdict;
use foodqc::reports::Report;
use foodqc::store::InspectionView;
use foodqc::store::LotStatus;

use super::{ReportsTab, pct};
use crate::ui::action::Action;
use crate::ui::theme;

impl ReportsTab {
    pub(super) fn drill_down(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.heading("Drill-down");
            if self.drill.title.is_empty() {
                ui.label("click a p-chart point, a Pareto bar or a subgroup below");
            } else {
                ui.label(format!(
                    "{}: {} items (latest first, at most 300)",
                    self.drill.title,
                    self.drill.items.len()
                ));
            }
            if self.drill.loading {
                ui.spinner();
            }
            ui.checkbox(&mut self.rejects_only, "rejects only")
                .on_hover_text("Applies to the next click");
            ui.checkbox(&mut self.images_only, "with images only")
                .on_hover_text("Only items whose crop was saved; applies to the next click");
        });
        let Some(r) = self.report.clone() else { return };
        ui.columns(2, |cols| {
            // Left: the subgroups as a table (click = drill).
            egui::ScrollArea::vertical()
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
                    r.group_by.title(),
                    "items",
                    "rejects",
                    "rate",
                    "status",
                    "rules",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for (g, q) in r.groups.iter().zip(&r.chart.points) {
                    if ui
                        .selectable_label(self.drill.title.ends_with(&g.key), &g.key)
                        .clicked()
                    {
                        let title = format!("{} {}", r.group_by.title(), g.key);
                        self.drill(title, g.drill.clone(), actions);
                    }
                    ui.label(g.items.to_string());
                    ui.label(g.rejects.to_string());
                    ui.label(pct(g.reject_rate()));
                    match g.lot_status {
                        Some(LotStatus::Hold) => {
                            ui.colored_label(theme::WARN, "HOLD");
                        }
                        Some(s) => {
                            ui.label(s.as_str());
                        }
                        None => {
                            ui.label("");
                        }
                    }
                    let rules: Vec<String> = q
                        .violations
                        .iter()
                        .map(|x| format!("rule {}", x.number()))
                        .collect();
                    if rules.is_empty() {
                        ui.label("");
                    } else {
                        ui.colored_label(theme::REJECT, format!("OUT: {}", rules.join(", ")));
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
                for h in ["image", "time (UTC)", "lot", "verdict / class", "score"] {
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
        ui.label(foodqc::reports::fmt_ts(it.ts_ms));
        ui.label(it.lot_code.as_deref().unwrap_or("-"));
        let text = match &it.defect_class {
            Some(c) => format!("{} / {c}", it.verdict.as_str().to_uppercase()),
            None => it.verdict.as_str().to_uppercase(),
        };
        ui.colored_label(color, text);
        ui.label(format!("{:.2}", it.score));
    }
}
