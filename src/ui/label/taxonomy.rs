//! The side panel of the Label tab: import / export, label counts and the defect taxonomy
//! (colour, hotkey, add, remove).

use foodqc::services::desk::Command;
use foodqc::store::DefectClass;
use foodqc::tr;

use super::LabelTab;
use crate::ui::action::Action;

impl LabelTab {
    pub(super) fn side_panel(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        self.files_panel(ui, actions);
        ui.separator();
        ui.heading(tr!("label-counts"));
        if self.data.counts.is_empty() {
            ui.label(tr!("label-no-labels"));
        }
        egui::Grid::new("label_counts")
            .striped(true)
            .show(ui, |ui| {
                for (label, n) in &self.data.counts {
                    ui.label(foodqc::i18n::class_name(label));
                    ui.strong(n.to_string());
                    ui.end_row();
                }
            });
        ui.separator();
        egui::CollapsingHeader::new(tr!("label-classes"))
            .default_open(true)
            .show(ui, |ui| self.taxonomy(ui, actions));
    }

    fn taxonomy(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let mut save = None;
        let mut delete = None;
        egui::Grid::new("taxonomy").num_columns(4).show(ui, |ui| {
            for c in &self.data.classes {
                if let Some(changed) = class_row(ui, c, &mut delete) {
                    save = Some(changed);
                }
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.new_class)
                    .hint_text(tr!("label-new-class"))
                    .desired_width(140.0),
            );
            if ui.button(tr!("label-add")).clicked() && !self.new_class.trim().is_empty() {
                let used: Vec<u8> = self.data.classes.iter().filter_map(|c| c.hotkey).collect();
                save = Some(DefectClass {
                    id: 0,
                    name: self.new_class.trim().to_string(),
                    colour: "#8c8c8c".into(),
                    hotkey: (1..=9).find(|k| !used.contains(k)),
                    position: self.data.classes.len() as i64 + 1,
                });
                self.new_class.clear();
            }
        });
        if let Some(c) = save {
            actions.push(Command::SaveDefectClass(c).into());
        }
        if let Some(id) = delete {
            actions.push(Command::DeleteDefectClass(id).into());
        }
    }
}

/// One class of the taxonomy grid: colour, name, hotkey, remove. The changed class, if any;
/// a click on remove sets `delete`.
fn class_row(ui: &mut egui::Ui, c: &DefectClass, delete: &mut Option<i64>) -> Option<DefectClass> {
    let mut save = None;
    let mut col = {
        let [r, g, b] = c.rgb();
        egui::Color32::from_rgb(r, g, b)
    };
    if ui.color_edit_button_srgba(&mut col).changed() {
        let mut c2 = c.clone();
        c2.colour = format!("#{:02x}{:02x}{:02x}", col.r(), col.g(), col.b());
        save = Some(c2);
    }
    // The name the plant typed; the built-in English keys show translated.
    ui.label(foodqc::i18n::class_name(&c.name));
    let mut key = c.hotkey.unwrap_or(0);
    let r = egui::ComboBox::from_id_salt(("key", c.id))
        .selected_text(if key == 0 {
            "-".into()
        } else {
            key.to_string()
        })
        .width(40.0)
        .show_ui(ui, |ui| {
            let mut ch = false;
            ch |= ui.selectable_value(&mut key, 0, "-").changed();
            for k in 1..=9u8 {
                ch |= ui.selectable_value(&mut key, k, k.to_string()).changed();
            }
            ch
        });
    if r.inner == Some(true) {
        let mut c2 = c.clone();
        c2.hotkey = (key != 0).then_some(key);
        save = Some(c2);
    }
    if ui
        .small_button("x")
        .on_hover_text(tr!("label-remove-class"))
        .clicked()
    {
        *delete = Some(c.id);
    }
    save
}
