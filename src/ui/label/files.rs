//! Import and export of the Label tab: the buttons, files dropped on the window, and the
//! progress of the job the worker runs. The native dialogs run on the worker's job thread.

use std::path::PathBuf;

use foodqc::services::desk::{Command, PickPath, PickPaths, Status};
use foodqc::tr;

use super::LabelTab;
use crate::ui::action::Action;
use crate::ui::theme;

/// Ask for images to import.
fn pick_files() -> PickPaths {
    // The message is taken here, on the window's thread, in the window's language.
    let title = tr!("files-import-title");
    Box::new(move || {
        rfd::FileDialog::new()
            .set_title(title)
            .add_filter(tr!("files-images"), &["png", "jpg", "jpeg"])
            .pick_files()
    })
}

/// Ask for a folder to import.
fn pick_import_folder() -> PickPaths {
    let title = tr!("files-import-folder-title");
    Box::new(move || {
        rfd::FileDialog::new()
            .set_title(title)
            .pick_folder()
            .map(|p| vec![p])
    })
}

/// Ask for the export folder.
fn pick_export_folder() -> PickPath {
    let title = tr!("files-export-title");
    Box::new(move || rfd::FileDialog::new().set_title(title).pick_folder())
}

impl LabelTab {
    pub(super) fn files_panel(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.heading(tr!("files-heading"));
        // Files dropped on the window are imported.
        let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        let busy = self.files.is_busy();
        let mut start: Option<Command> = None;
        if !dropped.is_empty() && !busy {
            start = Some(Command::Import {
                paths: dropped,
                pick: None,
            });
        }
        ui.add_enabled_ui(!busy, |ui| {
            ui.horizontal_wrapped(|ui| {
                if ui.button(tr!("files-import-files")).clicked() {
                    start = Some(Command::Import {
                        paths: Vec::new(),
                        pick: Some(pick_files()),
                    });
                }
                if ui
                    .button(tr!("files-import-folder"))
                    .on_hover_text(tr!("files-import-folder-tip"))
                    .clicked()
                {
                    start = Some(Command::Import {
                        paths: Vec::new(),
                        pick: Some(pick_import_folder()),
                    });
                }
                if ui.button(tr!("files-export")).clicked() {
                    start = Some(Command::ExportLabelled {
                        pick: pick_export_folder(),
                    });
                }
            });
        });
        if let Some(c) = start {
            self.files = Status::busy(tr!("starting"));
            actions.push(c.into());
        }
        ui.weak(tr!("files-drop"));
        self.files_status(ui, actions);
    }

    fn files_status(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let mut dismiss = false;
        match &self.files {
            Status::Busy { what, progress } => {
                ui.horizontal(|ui| {
                    ui.add(
                        egui::ProgressBar::new(progress.unwrap_or(0.0))
                            .text(what.as_str())
                            .desired_width(180.0),
                    );
                    if ui.button(tr!("cancel")).clicked() {
                        actions.push(Command::CancelFiles.into());
                    }
                });
            }
            Status::Done(text) => {
                egui::ScrollArea::vertical()
                    .id_salt("files_report")
                    .max_height(140.0)
                    .show(ui, |ui| {
                        ui.label(text);
                    });
                dismiss = ui.small_button(tr!("ok")).clicked();
            }
            Status::Failed(e) => {
                ui.colored_label(theme::WARN, e);
                dismiss = ui.small_button(tr!("ok")).clicked();
            }
            Status::Idle => {}
        }
        if dismiss {
            self.files = Status::Idle;
        }
    }
}
