//! The filter panel of the Reports tab.

use foodqc::reports::{GroupBy, ReportFilter};
use foodqc::services::desk::Status;
use foodqc::tr;

use super::ReportsTab;
use crate::ui::action::{Action, TabCtx};

impl ReportsTab {
    /// Which database the reports read: this station's or the plant's (URL, Open).
    fn database(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let mut switch = false;
        ui.horizontal(|ui| {
            ui.label(tr!("reports-database"));
            let mut plant = self.plant;
            ui.selectable_value(&mut plant, false, tr!("reports-db-station"));
            ui.selectable_value(&mut plant, true, tr!("reports-db-plant"))
                .on_hover_text(tr!("reports-db-plant-tip"));
            if plant != self.plant {
                self.plant = plant;
                // Back to the station at once; the plant once its address is there. Until
                // then the station's report is not shown as if it were the plant's.
                switch = !plant || !self.plant_url.trim().is_empty();
                if !switch {
                    self.report = None;
                    self.drill = super::Drill::default();
                }
            }
        });
        if self.plant {
            ui.horizontal(|ui| {
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut self.plant_url)
                        .hint_text(tr!("reports-plant-url-hint"))
                        .desired_width(ui.available_width() - 60.0),
                );
                let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let ready = !self.plant_url.trim().is_empty();
                let open = ui.add_enabled(ready, egui::Button::new(tr!("reports-plant-open")));
                switch |= ready && (entered || open.clicked());
            });
        }
        if switch {
            self.switch_database(ctx.model, actions);
        }
        ui.separator();
    }

    pub(super) fn filters(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        self.database(ui, ctx, actions);
        ui.heading(tr!("reports-filters"));
        // People type plant-time dates; `parse_time` turns them into UTC for the database.
        let zone = foodqc::i18n::plant_time_zone()
            .iana_name()
            .unwrap_or("UTC-5")
            .to_string();
        let time_tip = tr!("reports-time-tip", zone = zone);
        egui::Grid::new("report_filter_grid")
            .num_columns(2)
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                ui.label(tr!("reports-from"));
                ui.add(
                    egui::TextEdit::singleline(&mut self.from_text)
                        .hint_text("2026-11-20 06:00")
                        .desired_width(140.0),
                )
                .on_hover_text(&time_tip);
                ui.end_row();
                ui.label(tr!("reports-to"));
                ui.add(
                    egui::TextEdit::singleline(&mut self.to_text)
                        .hint_text("2026-11-21")
                        .desired_width(140.0),
                )
                .on_hover_text(&time_tip);
                ui.end_row();
                let o = self.options.clone();
                let same = |v: &str| v.to_string();
                let filter = &mut self.filter;
                choice(
                    ui,
                    "station",
                    tr!("reports-station"),
                    &mut filter.station,
                    &o.stations,
                    same,
                );
                choice(
                    ui,
                    "line",
                    tr!("reports-line"),
                    &mut filter.line,
                    &o.lines,
                    same,
                );
                choice(ui, "lot", tr!("live-lot"), &mut filter.lot, &o.lots, same);
                choice(
                    ui,
                    "product",
                    tr!("reports-product"),
                    &mut filter.product,
                    &o.products,
                    same,
                );
                choice(
                    ui,
                    "shift",
                    tr!("reports-shift"),
                    &mut filter.shift,
                    &o.shifts,
                    same,
                );
                let verdicts: Vec<String> = foodqc::reports::filter::VERDICTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let verdict_label = foodqc::reports::filter::verdict_label;
                choice(
                    ui,
                    "verdict",
                    tr!("reports-verdict"),
                    &mut filter.verdict,
                    &verdicts,
                    verdict_label,
                );
                let mut defects = o.defects.clone();
                defects.push(foodqc::reports::pareto::UNCLASSIFIED.into());
                let class_name = foodqc::i18n::class_name;
                choice(
                    ui,
                    "defect",
                    tr!("reports-defect"),
                    &mut filter.defect_class,
                    &defects,
                    class_name,
                );
                choice(
                    ui,
                    "model",
                    tr!("live-model"),
                    &mut filter.model_version,
                    &o.models,
                    same,
                );
                choice(
                    ui,
                    "recipe",
                    tr!("live-recipe"),
                    &mut filter.recipe,
                    &o.recipes,
                    same,
                );
                ui.label(tr!("reports-chart-by"));
                egui::ComboBox::from_id_salt("chart_by")
                    .selected_text(self.group_by.label())
                    .width(140.0)
                    .show_ui(ui, |ui| {
                        for g in GroupBy::ALL {
                            ui.selectable_value(&mut self.group_by, g, g.label());
                        }
                    });
                ui.end_row();
            });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.status.is_busy(), egui::Button::new(tr!("apply")))
                .on_hover_text(tr!("reports-apply-tip"))
                .clicked()
            {
                self.run(ctx.model, actions);
            }
            if ui.button(tr!("reports-clear")).clicked() {
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
                egui::RichText::new(tr!(
                    "reports-queries-took",
                    ms = foodqc::i18n::format_decimal(self.report_ms, 0)
                ))
                .small(),
            );
            for (q, ms) in &r.timings_ms {
                let q = foodqc::reports::query::query_label(q);
                ui.label(egui::RichText::new(format!("  {q}: {ms:.0} ms")).small());
            }
        }
    }
}

/// One filter row: its label and a menu of `values` (stored as they are, shown through
/// `show`), "any" first. `id` keeps the menu's state when the language changes.
fn choice(
    ui: &mut egui::Ui,
    id: &str,
    label: String,
    value: &mut Option<String>,
    values: &[String],
    show: impl Fn(&str) -> String,
) {
    ui.label(label);
    egui::ComboBox::from_id_salt(id)
        .selected_text(value.as_deref().map(&show).unwrap_or_else(|| tr!("any")))
        .width(140.0)
        .show_ui(ui, |ui| {
            if ui.selectable_label(value.is_none(), tr!("any")).clicked() {
                *value = None;
            }
            for v in values {
                if ui
                    .selectable_label(value.as_deref() == Some(v.as_str()), show(v))
                    .clicked()
                {
                    *value = Some(v.clone());
                }
            }
        });
    ui.end_row();
}
