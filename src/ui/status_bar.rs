//! The status bar: source, problems, recorder counters and UI frame time.

use foodqc::tr;

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
            } else if self.no_camera {
                ui.label(tr!("no-camera-notice"));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(tr!(
                    "status-ui-time",
                    ms = foodqc::i18n::format_decimal(self.frame_times.quantile(0.95), 1)
                ));
                ui.separator();
                let r = &self.stats.recorder;
                match &r.last_error {
                    Some(e) => ui.colored_label(
                        theme::REJECT,
                        tr!("status-recording-error", error = e.to_string()),
                    ),
                    None => ui.label(tr!(
                        "status-recorded",
                        recorded = r.recorded,
                        pending = r.pending
                    )),
                };
            });
        });
    }
}
