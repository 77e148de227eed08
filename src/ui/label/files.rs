//! Import and export of the Label tab: the buttons, files dropped on the window, and the
//! progress of the job the worker runs. The native dialogs run on the worker's job thread.

use std::path::PathBuf;

use foodqc::services::desk::{Command, PickPath, PickPaths, Status};

use super::LabelTab;
use crate::ui::action::Action;
use crate::ui::theme;

/// Ask for images to import.
fn pick_files() -> PickPaths {
    Box::new(|| {
        rfd::FileDialog::new()
            .set_title("Import images")
            .add_filter("images", &["png", "jpg", "jpeg"])
            .pick_files()
    })
}

/// Ask for a folder to import.
fn pick_import_folder() -> PickPaths {
    Box::new(|| {
        rfd::FileDialog::new()
            .set_title("Import a folder of images (an MVTec-style tree keeps its labels)")
            .pick_folder()
            .map(|p| vec![p])
    })
}

/// Ask for the export folder.
fn pick_export_folder() -> PickPath {
    Box::new(|| {
        rfd::FileDialog::new()
            .set_title("Export the labelled set (an empty folder)")
            .pick_folder()
    })
}

impl LabelTab {
    pub(super) fn files_panel(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.heading("Import and export");
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
                if ui.button("Import files…").clicked() {
                    start = Some(Command::Import {
                        paths: Vec::new(),
                        pick: Some(pick_files()),
                    });
                }
                if ui
                    .button("Import folder…")
                    .on_hover_text("A folder of images; an MVTec-style tree (train/good, test/<class>) or an export keeps its labels")
                    .clicked()
                {
                    start = Some(Command::Import {
                        paths: Vec::new(),
                        pick: Some(pick_import_folder()),
                    });
                }
                if ui.button("Export labelled set…").clicked() {
                    start = Some(Command::ExportLabelled {
                        pick: pick_export_folder(),
                    });
                }
            });
        });
        if let Some(c) = start {
            self.files = Status::busy("starting");
            actions.push(c.into());
        }
        ui.weak("Or drop images or folders on the window.");
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
                    if ui.button("Cancel").clicked() {
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
                dismiss = ui.small_button("OK").clicked();
            }
            Status::Failed(e) => {
                ui.colored_label(theme::WARN, e);
                dismiss = ui.small_button("OK").clicked();
            }
            Status::Idle => {}
        }
        if dismiss {
            self.files = Status::Idle;
        }
    }
}
