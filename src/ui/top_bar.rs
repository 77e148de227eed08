//! The shell around the tabs: the top bar (tabs, source, pause, theme, help), the keyboard
//! shortcuts that work on every tab, and the shortcut sheet.

use foodqc::capture::SourceSpec;
use foodqc::station::StationCommand;

use super::{FoodQcApp, Tab};

impl FoodQcApp {
    pub(crate) fn handle_keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        ctx.input(|i| {
            for tab in Tab::ALL {
                if i.key_pressed(tab.key()) {
                    self.settings.tab = tab;
                }
            }
        });
        let (space, heat, capture, help) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::H),
                i.key_pressed(egui::Key::C),
                i.key_pressed(egui::Key::Questionmark) || i.key_pressed(egui::Key::F12),
            )
        });
        if space {
            self.toggle_pause();
        }
        if heat {
            self.settings.live.show_heat = !self.settings.live.show_heat;
        }
        if capture {
            self.send(StationCommand::CaptureNext);
        }
        if help {
            self.show_help = !self.show_help;
        }
    }

    pub(crate) fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("foodqc");
            ui.separator();
            for tab in Tab::ALL {
                let r = ui
                    .selectable_label(self.settings.tab == tab, tab.title())
                    .on_hover_text(format!("{:?}", tab.key()));
                if r.clicked() {
                    self.settings.tab = tab;
                }
            }
            ui.separator();
            self.source_picker(ui);
            ui.separator();
            let pause_label = if self.stats.paused {
                "▶ Resume"
            } else {
                "⏸ Pause"
            };
            if ui
                .button(pause_label)
                .on_hover_text("Pause or resume the line view (Space)")
                .clicked()
            {
                self.toggle_pause();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("?")
                    .on_hover_text("Keyboard shortcuts (F12)")
                    .clicked()
                {
                    self.show_help = !self.show_help;
                }
                let theme = if self.settings.dark { "☀" } else { "🌙" };
                if ui
                    .button(theme)
                    .on_hover_text("Light / dark theme")
                    .clicked()
                {
                    self.settings.dark = !self.settings.dark;
                }
            });
        });
    }

    fn source_picker(&mut self, ui: &mut egui::Ui) {
        let current = self.source.clone();
        let mut choice: Option<SourceSpec> = None;
        egui::ComboBox::from_label("Source")
            .selected_text(source_title(&current))
            .width(220.0)
            .show_ui(ui, |ui| {
                let syn = SourceSpec::default();
                if ui
                    .selectable_label(
                        matches!(current, SourceSpec::Synthetic { .. }),
                        "Synthetic line",
                    )
                    .clicked()
                {
                    choice = Some(syn);
                }
                if self.cameras.is_empty() {
                    ui.label("No camera found");
                }
                for (index, name) in &self.cameras {
                    let spec = SourceSpec::Camera { index: *index };
                    if ui
                        .selectable_label(current == spec, format!("Camera {index}: {name}"))
                        .clicked()
                    {
                        choice = Some(spec);
                    }
                }
            });
        if let Some(spec) = choice {
            self.switch_source(spec);
        }
        let folder_edit = ui.add(
            egui::TextEdit::singleline(&mut self.settings.folder)
                .hint_text("folder to replay")
                .desired_width(180.0),
        );
        let enter = folder_edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Replay folder").clicked() || enter)
            && !self.settings.folder.trim().is_empty()
        {
            let path = self.settings.folder.trim().into();
            self.switch_source(SourceSpec::Folder { path });
        }
    }

    pub(crate) fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_help;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (k, what) in SHORTCUTS {
                        ui.strong(k);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.show_help = open;
    }
}

/// The shortcut sheet.
const SHORTCUTS: [(&str, &str); 10] = [
    ("F1 … F4", "Live, Label, Train, Reports"),
    ("F5", "Thresholds"),
    ("Space", "Pause / resume the line view"),
    ("H", "Heat map on / off"),
    ("C", "Capture the items of the next frame for labelling"),
    (
        "0 … 9",
        "Label tab: good (0) or the defect class with that key",
    ),
    ("Up, Down", "Label tab: previous / next sample"),
    ("Z", "Label tab: undo the last label"),
    ("M", "Label tab: paint a defect mask"),
    ("F12 or ?", "This sheet"),
];

fn source_title(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Synthetic { seed } => format!("Synthetic line (seed {seed})"),
        SourceSpec::Camera { index } => format!("Camera {index}"),
        SourceSpec::Folder { path } => format!(
            "Folder {}",
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| path.display().to_string())
        ),
    }
}
