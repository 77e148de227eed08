//! The pixel-threshold preview of the Thresholds tab: a few test images scored once by the
//! worker; re-thresholding their heat maps follows the slider at frame rate.

use egui::{Color32, RichText};
use foodqc::inspect::HeatMap;
use foodqc::services::desk::Command;
use foodqc::services::threshold_settings::PreviewImage;
use foodqc::tr;

use super::ThresholdsTab;
use crate::ui::action::{Action, TabCtx};
use crate::ui::theme;

/// Defective preview images asked for.
const PREVIEW_DEFECTIVE: usize = 3;

/// A scored preview image, with its pictures uploaded on first draw.
pub struct PreviewView {
    /// File name, class and score.
    pub name: String,
    photo: Option<egui::ColorImage>,
    mask: Option<egui::ColorImage>,
    /// Photo pixels per preview pixel.
    scale: f32,
    heats: Vec<HeatMap>,
    textures: Option<(egui::TextureHandle, Option<egui::TextureHandle>)>,
}

fn to_color_image(img: &image::RgbImage) -> egui::ColorImage {
    egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw())
}

impl From<PreviewImage> for PreviewView {
    fn from(p: PreviewImage) -> Self {
        Self {
            name: p.name,
            photo: Some(to_color_image(&p.photo)),
            mask: p.mask.as_ref().map(to_color_image),
            scale: p.scale,
            heats: p.heats,
            textures: None,
        }
    }
}

impl PreviewView {
    /// The textures, uploaded on first call.
    fn textures(
        &mut self,
        ctx: &egui::Context,
    ) -> Option<&(egui::TextureHandle, Option<egui::TextureHandle>)> {
        if self.textures.is_none()
            && let Some(photo) = self.photo.take()
        {
            let name = &self.name;
            let t = ctx.load_texture(format!("pv-{name}"), photo, egui::TextureOptions::LINEAR);
            let m = self
                .mask
                .take()
                .map(|m| ctx.load_texture(format!("pvm-{name}"), m, egui::TextureOptions::NEAREST));
            self.textures = Some((t, m));
        }
        self.textures.as_ref()
    }

    /// The photo with the heat cells above half the threshold and the regions above it,
    /// then the truth mask.
    fn draw(&mut self, ui: &mut egui::Ui, pixel: f32) {
        let Some((photo, mask)) = self.textures(ui.ctx()).cloned() else {
            return;
        };
        ui.vertical(|ui| {
            ui.label(RichText::new(&self.name).small());
            ui.horizontal(|ui| {
                let size = photo.size_vec2();
                let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
                let painter = ui.painter_at(rect);
                painter.image(
                    photo.id(),
                    rect,
                    egui::Rect::from_min_max(egui::Pos2::ZERO, egui::pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
                let k = 1.0 / self.scale;
                let at = |x: u32, y: u32| rect.min + egui::vec2(x as f32 * k, y as f32 * k);
                for h in &self.heats {
                    for (x, y, val) in h.cells_above(pixel * 0.5) {
                        let cell = egui::Rect::from_min_size(
                            at(x, y),
                            egui::Vec2::splat(h.cell as f32 * k),
                        );
                        let a = if val > pixel { 0.6 } else { 0.2 };
                        painter.rect_filled(cell, 0.0, theme::HEAT.gamma_multiply(a));
                    }
                    for r in h.regions(pixel) {
                        painter.rect_stroke(
                            egui::Rect::from_min_max(at(r.x, r.y), at(r.x + r.w, r.y + r.h)),
                            0.0,
                            egui::Stroke::new(1.5, theme::HEAT),
                            egui::StrokeKind::Outside,
                        );
                    }
                }
                match mask {
                    Some(m) => {
                        ui.image((m.id(), m.size_vec2()));
                    }
                    None => {
                        ui.label(tr!("thr-preview-good"));
                    }
                }
            });
        });
    }
}

impl ThresholdsTab {
    pub(super) fn pixel_preview(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &TabCtx,
        actions: &mut Vec<Action>,
    ) {
        if self.previews.is_none() && !self.is_busy() {
            let Some(data) = self.data.clone() else {
                ui.label(tr!("thr-preview-load-first"));
                return;
            };
            self.status = foodqc::services::desk::Status::busy(tr!("thr-preview-scoring"));
            actions.push(
                Command::ScorePreviews {
                    workbench: data,
                    model: ctx.model.clone(),
                    n: PREVIEW_DEFECTIVE,
                }
                .into(),
            );
        }
        ui.horizontal(|ui| {
            ui.spacing_mut().slider_width = 300.0;
            ui.add(
                egui::Slider::new(&mut self.pixel, 0.2..=6.0)
                    .max_decimals(2)
                    .text(tr!("thr-pixel-threshold")),
            );
            ui.label(RichText::new(tr!("thr-preview-note")).small());
        });
        let pixel = self.pixel as f32;
        let Some(previews) = self.previews.as_mut() else {
            ui.spinner();
            return;
        };
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("pixel_previews")
                .spacing([24.0, 12.0])
                .show(ui, |ui| {
                    for (i, p) in previews.iter_mut().enumerate() {
                        p.draw(ui, pixel);
                        if i % 2 == 1 {
                            ui.end_row();
                        }
                    }
                });
        });
    }
}
