//! The recipe editor, a window opened from the Live tab: the saved recipes on the left, the
//! one being edited on the right. A recipe starts from the running setup (model version and
//! thresholds) or from a saved one or a file; saving makes the next version of its name (QC
//! managers, `manage_recipes`); a saved recipe is exported as a file for another station.

use std::sync::Arc;

use foodqc::domain::{Permission, Recipe};
use foodqc::model::AnomalyModel;
use foodqc::services::desk::Command;
use foodqc::tr;

use super::action::{Action, TabCtx};
use super::session::guarded;
use super::theme;

/// The editor's state: open or not, the recipe being edited, the desk's last word.
#[derive(Default)]
pub struct RecipeEditor {
    /// Whether the window is shown.
    pub open: bool,
    /// The recipe being edited (version 0 until saved).
    draft: Option<Recipe>,
    /// The saved recipe the draft started from (for export), by name.
    from_saved: Option<String>,
    /// What the last save, export or read said.
    pub status: Option<String>,
}

impl RecipeEditor {
    /// Open the editor on the running setup.
    pub fn open(&mut self) {
        self.open = true;
    }

    /// A saved version came back from the desk: edit it from now on.
    pub fn saved(&mut self, recipe: Recipe) {
        self.from_saved = Some(recipe.name.clone());
        self.draft = Some(recipe);
    }

    /// A file was read: edit its recipe (saved only when the user saves it).
    pub fn read(&mut self, recipe: Recipe) {
        self.from_saved = None;
        self.draft = Some(Recipe {
            version: 0,
            ..recipe
        });
        self.open = true;
    }

    /// The recipe being edited, if any (tests).
    #[cfg(test)]
    pub fn draft_mut(&mut self) -> Option<&mut Recipe> {
        self.draft.as_mut()
    }

    /// Draw the window while open.
    pub fn ui(&mut self, ctx: &egui::Context, tab: &TabCtx, actions: &mut Vec<Action>) {
        if !self.open {
            return;
        }
        let mut open = true;
        egui::Window::new(tr!("recipe-editor-title"))
            .id(egui::Id::unique("recipe_editor"))
            .open(&mut open)
            .default_width(620.0)
            .resizable(true)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(170.0);
                        self.saved_list(ui, tab);
                    });
                    ui.separator();
                    ui.vertical(|ui| self.form(ui, tab, actions));
                });
            });
        self.open = open;
    }

    /// The saved recipes (newest versions); a click edits one.
    fn saved_list(&mut self, ui: &mut egui::Ui, tab: &TabCtx) {
        ui.strong(tr!("recipe-editor-saved"));
        if tab.snapshot.recipes.is_empty() {
            ui.label(egui::RichText::new(tr!("recipe-editor-none-saved")).small());
        }
        egui::ScrollArea::vertical()
            .id_salt("recipe_list")
            .max_height(320.0)
            .show(ui, |ui| {
                for r in &tab.snapshot.recipes {
                    let chosen = self.from_saved.as_deref() == Some(r.name.as_str());
                    let text = match r.plc_index {
                        Some(i) => tr!(
                            "recipe-editor-entry-plc",
                            recipe = r.recipe_name(),
                            index = u64::from(i)
                        ),
                        None => r.recipe_name(),
                    };
                    if ui.selectable_label(chosen, text).clicked() {
                        self.from_saved = Some(r.name.clone());
                        self.draft = Some(r.clone());
                    }
                }
            });
        ui.add_space(6.0);
        if ui
            .button(tr!("recipe-editor-from-running"))
            .on_hover_text(tr!("recipe-editor-from-running-tip"))
            .clicked()
        {
            self.from_saved = None;
            self.draft = Some(from_running(tab.model));
        }
    }

    /// The draft's fields, what is wrong with it, and Save / Export / Read a file.
    fn form(&mut self, ui: &mut egui::Ui, tab: &TabCtx, actions: &mut Vec<Action>) {
        let draft = self.draft.get_or_insert_with(|| from_running(tab.model));
        egui::Grid::new("recipe_form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| fields(ui, draft, tab));
        ui.add_space(4.0);
        let problem = draft.validate().err();
        match &problem {
            // A fresh recipe only lacks its name: say what to do, not that it is wrong.
            Some(_) if draft.name.is_empty() => {
                ui.label(tr!("recipe-editor-give-name"));
            }
            Some(e) => {
                ui.colored_label(
                    theme::REJECT,
                    format!("{}: {}", field_label(e.field), e.problem),
                );
            }
            None => {}
        }
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            let save = egui::Button::new(tr!("recipe-editor-save"));
            if guarded(
                ui,
                tab.session,
                Permission::ManageRecipes,
                problem.is_none(),
                save,
            )
            .on_hover_text(tr!("recipe-editor-save-tip"))
            .clicked()
            {
                actions.push(Command::SaveRecipe(draft.clone()).into());
            }
            let saved = self
                .from_saved
                .as_ref()
                .and_then(|n| tab.snapshot.recipes.iter().find(|r| &r.name == n))
                .cloned();
            let export = ui
                .add_enabled(
                    saved.is_some(),
                    egui::Button::new(tr!("recipe-editor-export")),
                )
                .on_hover_text(tr!("recipe-editor-export-tip"));
            if export.clicked()
                && let Some(recipe) = saved
            {
                let name = format!("{}.recipe.json", recipe.name);
                let dir = tab.exports_dir.to_path_buf();
                let pick = Box::new(move || {
                    rfd::FileDialog::new()
                        .set_directory(&dir)
                        .set_file_name(&name)
                        .add_filter("JSON", &["json"])
                        .save_file()
                });
                actions.push(Command::ExportRecipe { recipe, pick }.into());
            }
            if ui
                .button(tr!("recipe-editor-read"))
                .on_hover_text(tr!("recipe-editor-read-tip"))
                .clicked()
            {
                let dir = tab.exports_dir.to_path_buf();
                let pick = Box::new(move || {
                    rfd::FileDialog::new()
                        .set_directory(&dir)
                        .add_filter("JSON", &["json"])
                        .pick_file()
                });
                actions.push(Command::ReadRecipe { pick }.into());
            }
        });
        if let Some(s) = &self.status {
            ui.label(egui::RichText::new(s).small());
        }
    }
}

/// A new recipe from the running setup: the model version judging now and its thresholds;
/// the name is the user's to give.
fn from_running(model: &Arc<AnomalyModel>) -> Recipe {
    Recipe {
        model_version: Some(model.version.clone()),
        thresholds: Some(model.thresholds.clone()),
        ..Recipe::default()
    }
}

/// The editor's label of a recipe field (as named in the file).
fn field_label(field: &str) -> String {
    match field {
        "name" => tr!("recipe-field-name"),
        "plc_index" => tr!("recipe-field-plc-index"),
        "model_version" => tr!("recipe-field-model"),
        "thresholds" => tr!("recipe-field-thresholds"),
        "min_item_area" => tr!("recipe-field-min-item"),
        "min_belt_contrast" => tr!("recipe-field-contrast"),
        other => other.to_string(),
    }
}

/// One row per field; an optional field has a checkbox that says whether the recipe sets it.
fn fields(ui: &mut egui::Ui, r: &mut Recipe, tab: &TabCtx) {
    ui.label(tr!("recipe-field-name"));
    ui.add(
        egui::TextEdit::singleline(&mut r.name)
            .desired_width(220.0)
            .hint_text(tr!("recipe-field-name-hint")),
    );
    ui.end_row();

    ui.label(tr!("recipe-field-plc-index"))
        .on_hover_text(tr!("recipe-field-plc-index-tip"));
    let mut index = r.plc_index.unwrap_or(0);
    ui.add(egui::DragValue::new(&mut index).range(0..=u16::MAX));
    r.plc_index = (index != 0).then_some(index);
    ui.end_row();

    let label = ui.label(tr!("recipe-field-model")).id;
    let running = tr!("recipe-field-model-running");
    egui::ComboBox::from_id_salt("recipe_model")
        .selected_text(r.model_version.clone().unwrap_or_else(|| running.clone()))
        .width(220.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut r.model_version, None, running);
            for m in &tab.snapshot.models {
                let v = Some(m.version.clone());
                ui.selectable_value(&mut r.model_version, v, m.version.as_str());
            }
        })
        .response
        .labelled_by(label);
    ui.end_row();

    ui.label(tr!("recipe-field-thresholds"));
    ui.horizontal(|ui| {
        let mut own = r.thresholds.is_some();
        ui.checkbox(&mut own, tr!("recipe-field-own"))
            .on_hover_text(tr!("recipe-field-thresholds-tip"));
        match (own, &mut r.thresholds) {
            (true, Some(t)) => {
                ui.label(tr!("recipe-field-reject"));
                ui.add(
                    egui::DragValue::new(&mut t.reject)
                        .speed(0.01)
                        .max_decimals(3),
                );
                let mut band = t.review.is_some();
                ui.checkbox(&mut band, tr!("recipe-field-review"));
                match (band, &mut t.review) {
                    (true, Some(v)) => {
                        ui.add(egui::DragValue::new(v).speed(0.01).max_decimals(3));
                    }
                    (true, None) => t.review = Some(t.reject * 0.9),
                    (false, _) => t.review = None,
                }
            }
            (true, None) => r.thresholds = Some(tab.model.thresholds.clone()),
            (false, _) => r.thresholds = None,
        }
    });
    ui.end_row();

    ui.label(tr!("recipe-field-min-item"))
        .on_hover_text(tr!("recipe-field-min-item-tip"));
    ui.horizontal(|ui| {
        let mut own = r.min_item_area.is_some();
        ui.checkbox(&mut own, tr!("recipe-field-own"));
        match (own, &mut r.min_item_area) {
            (true, Some(a)) => {
                let mut pct = *a * 100.0;
                ui.add(
                    egui::DragValue::new(&mut pct)
                        .range(0.01..=50.0)
                        .speed(0.01)
                        .max_decimals(2)
                        .suffix(" %"),
                );
                *a = pct / 100.0;
            }
            (true, None) => r.min_item_area = Some(tab.model.segment.min_item_area_frac),
            (false, _) => r.min_item_area = None,
        }
    });
    ui.end_row();

    ui.label(tr!("recipe-field-contrast"))
        .on_hover_text(tr!("recipe-field-contrast-tip"));
    ui.horizontal(|ui| {
        let mut own = r.min_belt_contrast.is_some();
        ui.checkbox(&mut own, tr!("recipe-field-own"));
        match (own, &mut r.min_belt_contrast) {
            (true, Some(c)) => {
                ui.add(egui::DragValue::new(c).range(1..=255));
            }
            (true, None) => r.min_belt_contrast = Some(tab.model.segment.min_threshold.max(1)),
            (false, _) => r.min_belt_contrast = None,
        }
    });
    ui.end_row();

    ui.label(tr!("recipe-field-expected-items"));
    let mut expected = r.expected_items_per_frame.unwrap_or(0);
    ui.add(egui::DragValue::new(&mut expected).range(0..=1000))
        .on_hover_text(tr!("recipe-field-expected-items-tip"));
    r.expected_items_per_frame = (expected != 0).then_some(expected);
    ui.end_row();

    ui.label(String::new());
    ui.checkbox(&mut r.reject_on_doubt, tr!("line-setup-reject-on-doubt"))
        .on_hover_text(tr!("line-setup-reject-on-doubt-tip"));
    ui.end_row();

    ui.label(tr!("recipe-field-notes"));
    ui.add(
        egui::TextEdit::multiline(&mut r.notes)
            .desired_rows(2)
            .desired_width(220.0)
            .hint_text(tr!("recipe-field-notes-hint")),
    );
    ui.end_row();
}
