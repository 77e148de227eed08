//! The queue of the Label tab: its filters and the list of samples waiting.

use foodqc::reports::filter::verdict_label;
use foodqc::store::QueueEntry;
use foodqc::tr;

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
        ui.heading(tr!("label-queue"));
        ui.label(tr!(
            "label-queue-note",
            model = model.version.as_str(),
            threshold = foodqc::i18n::format_decimal(model.thresholds.reject, 2)
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
                ui.label(tr!("top-source"));
                let src = self.filter.source.clone().unwrap_or_else(|| tr!("any"));
                egui::ComboBox::from_id_salt("f_source")
                    .selected_text(src)
                    .width(200.0)
                    .show_ui(ui, |ui| {
                        changed |= ui
                            .selectable_value(&mut self.filter.source, None, tr!("any"))
                            .changed();
                        for s in self.data.sources.clone() {
                            changed |= ui
                                .selectable_value(&mut self.filter.source, Some(s.clone()), s)
                                .changed();
                        }
                    });
                ui.end_row();
                ui.label(tr!("live-lot"));
                let r = ui.add(
                    egui::TextEdit::singleline(&mut self.lot_text)
                        .hint_text(tr!("any"))
                        .desired_width(200.0),
                );
                if r.changed() {
                    let t = self.lot_text.trim();
                    self.filter.lot = (!t.is_empty()).then(|| t.to_string());
                    changed = true;
                }
                ui.end_row();
                ui.label(tr!("label-captured"));
                changed |= self.since_combo(ui);
                ui.end_row();
                ui.label(tr!("label-predicted"));
                let p = match self.filter.predicted.as_deref() {
                    None => tr!("any"),
                    Some("none") => tr!("label-no-item"),
                    Some(v) => verdict_label(v),
                };
                egui::ComboBox::from_id_salt("f_pred")
                    .selected_text(p)
                    .show_ui(ui, |ui| {
                        for (v, t) in [
                            (None, tr!("any")),
                            (Some("reject".to_string()), verdict_label("reject")),
                            (Some("review".to_string()), verdict_label("review")),
                            (Some("pass".to_string()), verdict_label("pass")),
                            (Some("none".to_string()), tr!("label-no-item")),
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
            None => tr!("label-any-time"),
            Some(t) if foodqc::store::now_ms() - t <= day + 60_000 => tr!("label-last-24h"),
            Some(_) => tr!("label-last-7d"),
        };
        egui::ComboBox::from_id_salt("f_since")
            .selected_text(current.clone())
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(current == tr!("label-any-time"), tr!("label-any-time"))
                    .clicked()
                {
                    self.filter.since_ms = None;
                    changed = true;
                }
                if ui
                    .selectable_label(current == tr!("label-last-24h"), tr!("label-last-24h"))
                    .clicked()
                {
                    self.filter.since_ms = since(1);
                    changed = true;
                }
                if ui
                    .selectable_label(current == tr!("label-last-7d"), tr!("label-last-7d"))
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
            ui.label(tr!("label-queue-empty"));
            return;
        }
        self.selected = self.selected.min(visible.len() - 1);
        ui.label(tr!("label-waiting", count = visible.len()));
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, q) in visible.iter().enumerate() {
                let text = format!(
                    "#{:<5} {:>8} {:>7}  {}",
                    q.sample.id,
                    match (q.score, q.threshold) {
                        (Some(s), Some(t)) => format!(
                            "{}/{}",
                            foodqc::i18n::format_decimal(s, 2),
                            foodqc::i18n::format_decimal(t, 2)
                        ),
                        _ => tr!("label-unscored"),
                    },
                    q.predicted
                        .as_deref()
                        .map(verdict_label)
                        .unwrap_or_default(),
                    super::source_text(&q.sample.source)
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
