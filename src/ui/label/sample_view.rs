//! The selected sample of the Label tab: its picture (asked of the worker once), the class
//! buttons, undo, and the defect mask painted over it.

use foodqc::domain::GOOD;
use foodqc::services::desk::{Command, Status};
use foodqc::store::QueueEntry;
use foodqc::tr;
use image::{GrayImage, Luma};

use super::LabelTab;
use crate::ui::action::Action;
use crate::ui::theme;

impl LabelTab {
    pub(super) fn sample_view(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        if let Status::Failed(e) = &self.data.status {
            ui.colored_label(theme::REJECT, format!("⚠ {e}"));
        }
        let visible = self.visible();
        let Some(entry) = visible.get(self.selected).map(|q| (*q).clone()) else {
            ui.heading(tr!("label-no-sample"));
            return;
        };
        // Ask for the selected image (small crops: a few ms) once.
        if self.image_asked != Some(entry.sample.id) {
            self.image_asked = Some(entry.sample.id);
            self.image_error = None;
            actions.push(
                Command::LoadSampleImage {
                    sample_id: entry.sample.id,
                    path: entry.sample.path.clone(),
                }
                .into(),
            );
        }
        if let Some(e) = &self.image_error {
            ui.colored_label(theme::REJECT, format!("⚠ {e}"));
        }
        sample_header(ui, &entry);
        if let Some(l) = self.class_buttons(ui) {
            self.assign(l, actions);
            return;
        }
        self.mask_tools(ui, actions);
        self.picture(ui, entry.sample.id);
    }

    /// Class buttons: 0 good, then the taxonomy. The class clicked, if any.
    fn class_buttons(&self, ui: &mut egui::Ui) -> Option<String> {
        let mut chosen = None;
        ui.horizontal_wrapped(|ui| {
            if ui
                .add(
                    egui::Button::new(egui::RichText::new(tr!("label-good-button")).strong())
                        .fill(theme::PASS.gamma_multiply(0.5)),
                )
                .clicked()
            {
                chosen = Some(GOOD.to_string());
            }
            for c in &self.data.classes {
                let [r, g, b] = c.rgb();
                let key = c
                    .hotkey
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "·".into());
                let btn = egui::Button::new(
                    egui::RichText::new(format!("{key}  {}", foodqc::i18n::class_name(&c.name)))
                        .strong(),
                )
                .fill(egui::Color32::from_rgb(r, g, b).gamma_multiply(0.6));
                if ui.add(btn).clicked() {
                    chosen = Some(c.name.clone());
                }
            }
        });
        chosen
    }

    fn mask_tools(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        // Every control is its own item so the row wraps between them; a slider with its
        // text is one wide item that ran past the panel's edge at 900 px in Spanish.
        ui.horizontal_wrapped(|ui| {
            ui.toggle_value(&mut self.mask_mode, tr!("label-mask"))
                .on_hover_text(tr!("label-mask-tip"));
            ui.label(tr!("label-brush"));
            ui.spacing_mut().slider_width = 90.0;
            ui.add(egui::Slider::new(&mut self.brush, 2.0..=40.0).max_decimals(0));
            if ui.button(tr!("label-clear-mask")).clicked() {
                self.mask = None;
            }
            ui.separator();
            let can_undo = !self.data.given.is_empty();
            if ui
                .add_enabled(can_undo, egui::Button::new(tr!("label-undo")))
                .clicked()
            {
                self.undo(actions);
            }
        });
        // The key reminder on a line of its own, wrapped rather than cut at the panel edge.
        ui.add(egui::Label::new(egui::RichText::new(tr!("label-keys")).weak()).wrap());
    }

    /// The picture with the mask over it; paints the mask in mask mode.
    fn picture(&mut self, ui: &mut egui::Ui, id: i64) {
        let Some(sample) = self.image.as_ref().filter(|s| s.id == id) else {
            return;
        };
        let (tex, img) = (sample.texture.clone(), sample.image.clone());
        let (w, h) = (img.width() as f32, img.height() as f32);
        let avail = ui.available_size();
        let scale = (avail.x / w).min(avail.y / h).clamp(0.1, 8.0);
        let size = egui::vec2(w * scale, h * scale);
        let (rect, resp) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        ui.painter().image(tex.id(), rect, uv, egui::Color32::WHITE);
        if self.mask_mode {
            let painting = resp.dragged_by(egui::PointerButton::Primary)
                || resp.clicked_by(egui::PointerButton::Primary);
            let erasing = resp.dragged_by(egui::PointerButton::Secondary);
            if (painting || erasing)
                && let Some(p) = resp.interact_pointer_pos()
            {
                let cx = (p.x - rect.min.x) / scale;
                let cy = (p.y - rect.min.y) / scale;
                self.paint(id, img.dimensions(), cx, cy, painting);
            }
        }
        self.draw_mask(ui, id, rect, uv);
        if self.mask_mode
            && let Some(p) = resp.hover_pos()
        {
            ui.painter().circle_stroke(
                p,
                self.brush * scale,
                egui::Stroke::new(1.0, egui::Color32::WHITE),
            );
        }
    }

    /// Paint (or erase) a brush disc at image pixel (cx, cy) of sample `id`.
    fn paint(&mut self, id: i64, (w, h): (u32, u32), cx: f32, cy: f32, painting: bool) {
        let mask = match &mut self.mask {
            Some((mid, m, _)) if *mid == id => m,
            _ => &mut self.mask.insert((id, GrayImage::new(w, h), false)).1,
        };
        paint_disc(mask, cx, cy, self.brush, if painting { 255 } else { 0 });
        if let Some(m) = &mut self.mask {
            m.2 = m.1.pixels().any(|p| p.0[0] > 0);
        }
        self.mask_texture = None;
    }

    fn draw_mask(&mut self, ui: &mut egui::Ui, id: i64, rect: egui::Rect, uv: egui::Rect) {
        let Some((_, m, _)) = self
            .mask
            .as_ref()
            .filter(|(mid, _, any)| *mid == id && *any)
        else {
            return;
        };
        let texture = self.mask_texture.get_or_insert_with(|| {
            let rgba: Vec<egui::Color32> = m
                .pixels()
                .map(|p| {
                    if p.0[0] > 0 {
                        egui::Color32::from_rgba_unmultiplied(255, 60, 40, 110)
                    } else {
                        egui::Color32::TRANSPARENT
                    }
                })
                .collect();
            let c = egui::ColorImage::new([m.width() as usize, m.height() as usize], rgba);
            ui.ctx()
                .load_texture("label_mask", c, egui::TextureOptions::NEAREST)
        });
        ui.painter()
            .image(texture.id(), rect, uv, egui::Color32::WHITE);
    }
}

fn sample_header(ui: &mut egui::Ui, entry: &QueueEntry) {
    ui.horizontal_wrapped(|ui| {
        ui.heading(tr!("label-sample", id = entry.sample.id));
        ui.label(format!(
            "{} · {}×{} · {}",
            super::source_text(&entry.sample.source),
            entry.sample.width,
            entry.sample.height,
            entry.lot.clone().unwrap_or_else(|| tr!("label-no-lot"))
        ));
        if let (Some(s), Some(t)) = (entry.score, entry.threshold) {
            let c = if s > t { theme::REJECT } else { theme::PASS };
            ui.colored_label(
                c,
                tr!(
                    "label-score",
                    score = foodqc::i18n::format_decimal(s, 2),
                    threshold = foodqc::i18n::format_decimal(t, 2)
                ),
            );
        }
    });
}

fn paint_disc(mask: &mut GrayImage, cx: f32, cy: f32, r: f32, v: u8) {
    let (w, h) = mask.dimensions();
    let x0 = (cx - r).floor().max(0.0) as u32;
    let y0 = (cy - r).floor().max(0.0) as u32;
    let x1 = ((cx + r).ceil() as u32).min(w.saturating_sub(1));
    let y1 = ((cy + r).ceil() as u32).min(h.saturating_sub(1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            if dx * dx + dy * dy <= r * r {
                mask.put_pixel(x, y, Luma([v]));
            }
        }
    }
}
