//! The status bar: source, problems, recorder counters and UI frame time.

use egui::{Color32, RichText};
use foodqc::capture::SourceView;
use foodqc::tr;

use super::{FoodQcApp, theme};

impl FoodQcApp {
    pub(crate) fn status_bar(&mut self, ui: &mut egui::Ui) {
        // The counters on the right first: they keep their room, and the message on the left
        // is cut short (full text on hover) instead of running under them.
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if self.station_error.is_none() {
                ui.label(tr!(
                    "status-ui-time",
                    ms = foodqc::i18n::format_decimal(self.frame_times.quantile(0.95), 1)
                ));
                ui.separator();
                self.plant_status(ui);
                let r = &self.stats.recorder;
                match &r.last_error {
                    Some(e) => ui.colored_label(
                        theme::REJECT,
                        tr!(
                            "status-recording-error",
                            error = e.to_string(),
                            journal = r.in_journal
                        ),
                    ),
                    None => ui.label(tr!(
                        "status-recorded",
                        recorded = r.recorded,
                        pending = r.pending,
                        journal = r.in_journal
                    )),
                };
                ui.separator();
            }
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                for (text, color) in self.status_messages() {
                    let mut rich = RichText::new(&text);
                    if let Some(c) = color {
                        rich = rich.color(c);
                    }
                    // A cut message shows its full text on hover (egui does it for elided
                    // labels; a second tooltip of our own showed the text twice).
                    ui.add(egui::Label::new(rich).truncate());
                }
            });
        });
    }

    /// What the left of the status bar says, in order, with the colour of a problem.
    fn status_messages(&self) -> Vec<(String, Option<Color32>)> {
        if let Some(e) = &self.station_error {
            return vec![(format!("⚠ {e}"), Some(theme::REJECT))];
        }
        let mut out = vec![(source_text(&self.stats.source_view), None)];
        if let Some(p) = &self.stats.source_problem {
            out.push((format!("⚠ {p}"), Some(theme::WARN)));
        } else if let foodqc::services::desk::Status::Failed(e) = &self.desk_status {
            out.push((format!("⚠ {e}"), Some(theme::REJECT)));
        } else if self.no_camera {
            out.push((tr!("no-camera-notice"), None));
        }
        out
    }
}

/// The source as the status bar words it, in the language in force.
fn source_text(view: &SourceView) -> String {
    match view {
        SourceView::Synthetic {
            width,
            height,
            seed,
        } => tr!(
            "status-source-synthetic",
            width = width.to_string(),
            height = height.to_string(),
            seed = seed.to_string()
        ),
        SourceView::Folder {
            dir,
            images,
            looping,
        } => {
            let (dir, images) = (dir.display().to_string(), *images);
            if *looping {
                tr!("status-source-folder-loop", dir = dir, images = images)
            } else {
                tr!("status-source-folder-once", dir = dir, images = images)
            }
        }
        SourceView::Other(text) => text.clone(),
    }
}

impl FoodQcApp {
    /// The way to the plant's Kafka, when set: what waits in the outbox, or why it is stuck.
    fn plant_status(&self, ui: &mut egui::Ui) {
        if let Some(e) = &self.plant_error {
            ui.colored_label(theme::REJECT, tr!("status-plant-error", error = e.as_str()));
            ui.separator();
            return;
        }
        let Some(p) = &self.plant else { return };
        let s = p.stats();
        let text = tr!("status-plant", pending = s.pending, delivered = s.delivered);
        match &s.last_error {
            Some(e) => ui
                .colored_label(theme::WARN, text)
                .on_hover_text(e.as_str()),
            None => ui.label(text).on_hover_text(tr!("status-plant-tip")),
        };
        ui.separator();
    }
}
