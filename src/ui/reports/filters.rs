//! The filter panel of the Reports tab.

use foodqc::reports::{GroupBy, ReportFilter};
use foodqc::services::desk::Status;

use super::ReportsTab;
use crate::ui::action::{Action, TabCtx};

impl ReportsTab {
    pub(super) fn filters(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.heading("Filters");
        egui::Grid::new("report_filter_grid")
            .num_columns(2)
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                ui.label("From (UTC)");
                ui.add(
                    egui::TextEdit::singleline(&mut self.from_text)
                        .hint_text("2026-11-20 06:00")
                        .desired_width(170.0),
                );
                ui.end_row();
                ui.label("To (UTC)");
                ui.add(
                    egui::TextEdit::singleline(&mut self.to_text)
                        .hint_text("2026-11-21")
                        .desired_width(170.0),
                );
                ui.end_row();
                let o = self.options.clone();
                choice(ui, "Station", &mut self.filter.station, &o.stations);
                choice(ui, "Line", &mut self.filter.line, &o.lines);
                choice(ui, "Lot", &mut self.filter.lot, &o.lots);
                choice(ui, "Product", &mut self.filter.product, &o.products);
                choice(ui, "Shift", &mut self.filter.shift, &o.shifts);
                let verdicts: Vec<String> = foodqc::reports::filter::VERDICTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                choice(ui, "Verdict", &mut self.filter.verdict, &verdicts);
                let mut defects = o.defects.clone();
                defects.push(foodqc::reports::pareto::UNCLASSIFIED.into());
                choice(ui, "Defect", &mut self.filter.defect_class, &defects);
                choice(ui, "Model", &mut self.filter.model_version, &o.models);
                ui.label("Chart by");
                egui::ComboBox::from_id_salt("Chart by")
                    .selected_text(self.group_by.title())
                    .width(170.0)
                    .show_ui(ui, |ui| {
                        for g in GroupBy::ALL {
                            ui.selectable_value(&mut self.group_by, g, g.title());
                        }
                    });
                ui.end_row();
            });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.status.is_busy(), egui::Button::new("Apply"))
                .on_hover_text("Run the report for these filters")
                .clicked()
            {
                self.run(ctx.model, actions);
            }
            if ui.button("Clear").clicked() {
                self.filter = ReportFilter::default();
                self.from_text.clear();
                self.to_text.clear();
                self.run(ctx.model, actions);
            }
        });
        if let Status::Busy { what, .. } = &self.status {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(what);
            });
        }
        if let Some(r) = &self.report {
            ui.separator();
            ui.label(
                egui::RichText::new(format!("Queries took {:.0} ms:", self.report_ms)).small(),
            );
            for (q, ms) in &r.timings_ms {
                ui.label(egui::RichText::new(format!("  {q}: {ms:.0} ms")).small());
            }
        }
    }
}

fn choice(ui: &mut egui::Ui, label: &str, value: &mut Option<String>, values: &[String]) {
    ui.label(label);
    egui::ComboBox::from_id_salt(label)
        .selected_text(value.as_deref().unwrap_or("any"))
        .width(170.0)
        .show_ui(ui, |ui| {
            if ui.selectable_label(value.is_none(), "any").clicked() {
                *value = None;
            }
            for v in values {
                if ui
                    .selectable_label(value.as_deref() == Some(v.as_str()), v)
                    .clicked()
                {
                    *value = Some(v.clone());
                }
            }
        });
    ui.end_row();
}
