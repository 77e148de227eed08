//! The shell around the tabs: the top bar (tabs, source, pause, theme, help), the keyboard
//! shortcuts that work on every tab, and the shortcut sheet.

use foodqc::capture::SourceSpec;
use foodqc::domain::Permission;
use foodqc::i18n::Language;
use foodqc::station::StationCommand;
use foodqc::tr;

use super::session::guarded;
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
        if space && self.session.may(Permission::RunLine) {
            self.toggle_pause();
        }
        if heat {
            self.settings.live.show_heat = !self.settings.live.show_heat;
        }
        if capture && self.session.may(Permission::CaptureSamples) {
            self.send(StationCommand::CaptureNext);
        }
        if help {
            self.show_help = !self.show_help;
        }
    }

    pub(crate) fn top_bar(&mut self, ui: &mut egui::Ui) {
        // Wrapped: at the minimum window size (and in longer languages) the source controls
        // go to a second row instead of pushing pause, language and help off the edge.
        ui.horizontal_wrapped(|ui| {
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
            let pause_label = if self.stats.paused {
                tr!("top-resume")
            } else {
                tr!("top-pause")
            };
            let pause = egui::Button::new(pause_label);
            if guarded(ui, &self.session, Permission::RunLine, true, pause)
                .on_hover_text(tr!("top-pause-tip"))
                .clicked()
            {
                self.toggle_pause();
            }
            self.language_picker(ui);
            let theme = if self.settings.dark { "☀" } else { "🌙" };
            if ui
                .button(theme)
                .on_hover_text(tr!("top-theme-tip"))
                .clicked()
            {
                self.settings.dark = !self.settings.dark;
            }
            if ui.button("?").on_hover_text(tr!("top-help-tip")).clicked() {
                self.show_help = !self.show_help;
            }
            ui.separator();
            self.session_bar(ui);
            ui.separator();
            // Changing the source changes what the line records: a signed-in role that runs
            // the line does it.
            let may = self.session.may(Permission::RunLine);
            let r = ui.add_enabled_ui(may, |ui| self.source_picker(ui)).response;
            if !may {
                r.on_hover_text(self.session.why_not(Permission::RunLine));
            }
        });
    }

    fn source_picker(&mut self, ui: &mut egui::Ui) {
        let current = self.source.clone();
        let mut choice: Option<SourceSpec> = None;
        egui::ComboBox::from_label(tr!("top-source"))
            .selected_text(source_title(&current))
            .width(190.0)
            .show_ui(ui, |ui| {
                let syn = SourceSpec::default();
                if ui
                    .selectable_label(
                        matches!(current, SourceSpec::Synthetic { .. }),
                        tr!("top-synthetic"),
                    )
                    .clicked()
                {
                    choice = Some(syn);
                }
                if self.cameras.is_empty() {
                    ui.label(tr!("top-no-camera"));
                }
                for (index, name) in &self.cameras {
                    let spec = SourceSpec::Camera { index: *index };
                    if ui
                        .selectable_label(
                            current == spec,
                            tr!(
                                "top-camera",
                                index = index.to_string(),
                                name = name.as_str()
                            ),
                        )
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
                .hint_text(tr!("top-folder-hint"))
                .desired_width(150.0),
        );
        let enter = folder_edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button(tr!("top-replay")).clicked() || enter)
            && !self.settings.folder.trim().is_empty()
        {
            let path = self.settings.folder.trim().into();
            self.switch_source(SourceSpec::Folder { path });
        }
    }

    /// The language picker: switches the window at once (and the desk worker's messages).
    fn language_picker(&mut self, ui: &mut egui::Ui) {
        let before = self.settings.language;
        egui::ComboBox::from_id_salt("language")
            .selected_text(before.native_name())
            .width(90.0)
            .show_ui(ui, |ui| {
                for lang in Language::ALL {
                    ui.selectable_value(&mut self.settings.language, lang, lang.native_name());
                }
            })
            .response
            .on_hover_text(tr!("top-language-tip"));
        if self.settings.language != before {
            // The rest of this frame already speaks it; the desk worker is told next frame.
            foodqc::i18n::set_thread_language(Some(self.settings.language));
        }
    }

    pub(crate) fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_help;
        egui::Window::new(tr!("keys-title"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (k, what) in shortcuts() {
                        ui.strong(k);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.show_help = open;
    }
}

/// The shortcut sheet: (keys, what they do).
fn shortcuts() -> [(String, String); 11] {
    [
        ("F1 … F4".into(), tr!("keys-tabs")),
        ("F5".into(), tr!("tab-thresholds")),
        ("F6".into(), tr!("keys-audit")),
        (tr!("keys-space"), tr!("keys-pause")),
        ("H".into(), tr!("keys-heat")),
        ("C".into(), tr!("keys-capture")),
        ("0 … 9".into(), tr!("keys-label-class")),
        (tr!("keys-up-down"), tr!("keys-label-move")),
        ("Z".into(), tr!("keys-label-undo")),
        ("M".into(), tr!("keys-label-mask")),
        (tr!("keys-f12"), tr!("keys-this-sheet")),
    ]
}

fn source_title(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Synthetic { seed } => tr!("source-synthetic", seed = seed.to_string()),
        SourceSpec::Camera { index } => tr!("source-camera", index = index.to_string()),
        SourceSpec::Folder { path } => tr!(
            "source-folder",
            name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| path.display().to_string())
        ),
    }
}
