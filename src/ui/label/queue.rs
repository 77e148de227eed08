//! The queue of the Label tab: its filters and the list of samples waiting.

use foodqc::store::QueueEntry;

use super::LabelTab;
use crate::ui::action::{Action, TabCtx};

impl LabelTab {
    pub(super) fn queue_panel(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &TabCtx,
        actions: &mut Vec<Action>,
    ) {
        let model = ctx.model;
        ui.heading("Queue");
        ui.label(format!(
            "Most uncertain first under model {} (score closest to its threshold {:.2}).",
            model.version, model.thresholds.reject
        ));
        if self.filter_grid(ui) {
            self.selected = 0;
            self.refresh(ctx, actions);
        }
        ui.separator();
        self.queue_list(ui);
    }

    /// The queue filters; true when one changed.
    fn filter_grid(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        egui::Grid::new("queue_filters")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Source");
                let src = self.filter.source.clone().unwrap_or_else(|| "any".into());
                egui::ComboBox::from_id_salt("f_source")
                    .selected_text(src)
                    .width(200.0)
                    .show_ui(ui, |ui| {
                        changed |= ui
                            .selectable_value(&mut self.filter.source, None, "any")
                            .changed();
                        for s in self.data.sources.clone() {
                            changed |= ui
                                .selectable_value(&mut self.filter.source, Some(s.clone()), s)
                                .changed();
                        }
                    });
                ui.end_row();
                ui.label("Lot");
                let r = ui.add(
                    egui::TextEdit::singleline(&mut self.lot_text)
                        .hint_text("any")
                        .desired_width(200.0),
                );
                if r.changed() {
                    let t = self.lot_text.trim();
                    self.filter.lot = (!t.is_empty()).then(|| t.to_string());
                    changed = true;
                }
                ui.end_row();
                ui.label("Captured");
                changed |= self.since_combo(ui);
                ui.end_row();
                ui.label("Predicted");
                let p = self
                    .filter
                    .predicted
                    .clone()
                    .unwrap_or_else(|| "any".into());
                egui::ComboBox::from_id_salt("f_pred")
                    .selected_text(p)
                    .show_ui(ui, |ui| {
                        for (v, t) in [
                            (None, "any"),
                            (Some("reject".to_string()), "reject"),
                            (Some("review".to_string()), "review"),
                            (Some("pass".to_string()), "pass"),
                            (Some("none".to_string()), "no item found"),
                        ] {
                            changed |= ui
                                .selectable_value(&mut self.filter.predicted, v, t)
                                .changed();
                        }
                    });
                ui.end_row();
            });
        changed
    }

    /// The "captured" filter; true when it changed.
    fn since_combo(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        let day = 86_400_000i64;
        let since = |days: i64| Some(foodqc::store::now_ms() - days * day);
        let current = match self.filter.since_ms {
            None => "any time",
            Some(t) if foodqc::store::now_ms() - t <= day + 60_000 => "last 24 h",
            Some(_) => "last 7 days",
        };
        egui::ComboBox::from_id_salt("f_since")
            .selected_text(current)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(current == "any time", "any time")
                    .clicked()
                {
                    self.filter.since_ms = None;
                    changed = true;
                }
                if ui
                    .selectable_label(current == "last 24 h", "last 24 h")
                    .clicked()
                {
                    self.filter.since_ms = since(1);
                    changed = true;
                }
                if ui
                    .selectable_label(current == "last 7 days", "last 7 days")
                    .clicked()
                {
                    self.filter.since_ms = since(7);
                    changed = true;
                }
            });
        changed
    }

    fn queue_list(&mut self, ui: &mut egui::Ui) {
        let visible: Vec<QueueEntry> = self.visible().into_iter().cloned().collect();
        if visible.is_empty() {
            ui.label("Nothing to label. Press C on the Live tab to capture the items of a frame; rejects and near misses are captured automatically (at most 30 a minute).");
            return;
        }
        self.selected = self.selected.min(visible.len() - 1);
        ui.label(format!("{} samples waiting", visible.len()));
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, q) in visible.iter().enumerate() {
                let text = format!(
                    "#{:<5} {:>8} {:>7}  {}",
                    q.sample.id,
                    match (q.score, q.threshold) {
                        (Some(s), Some(t)) => format!("{:.2}/{t:.2}", s),
                        _ => "unscored".into(),
                    },
                    q.predicted.as_deref().unwrap_or(""),
                    q.sample.source
                );
                let r =
                    ui.selectable_label(i == self.selected, egui::RichText::new(text).monospace());
                if r.clicked() {
                    self.selected = i;
                }
                if i == self.selected {
                    r.scroll_to_me(None);
                }
            }
        });
    }
}
