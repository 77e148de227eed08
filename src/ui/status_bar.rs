//! The status bar: source, problems, recorder counters and UI frame time.

use super::{FoodQcApp, theme};

impl FoodQcApp {
    pub(crate) fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(e) = &self.station_error {
                ui.colored_label(theme::REJECT, format!("⚠ {e}"));
                return;
            }
            ui.label(&self.stats.source);
            if let Some(p) = &self.stats.source_problem {
                ui.colored_label(theme::WARN, format!("⚠ {p}"));
            } else if let foodqc::services::desk::Status::Failed(e) = &self.desk_status {
                ui.colored_label(theme::REJECT, format!("⚠ {e}"));
            } else if let Some(n) = &self.notice {
                ui.label(n);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("UI {:.1} ms p95", self.frame_times.quantile(0.95)));
                ui.separator();
                let r = &self.stats.recorder;
                match &r.last_error {
                    Some(e) => ui.colored_label(
                        theme::REJECT,
                        format!("⚠ recording: {e} · in journal {}", r.in_journal),
                    ),
                    None => ui.label(format!(
                        "recorded {} · pending {} · in journal {}",
                        r.recorded, r.pending, r.in_journal
                    )),
                };
            });
        });
    }
}
