//! Drawing inspection results onto an image (saved snapshots, reports, headless output).
//! The GUI draws the same geometry with its own painter and the same state colours.

use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_hollow_rect_mut, draw_line_segment_mut};
use imageproc::rect::Rect;

use crate::inspect::Inspection;
use crate::model::Verdict;

/// State colours (ISA-101 style: colour only for state).
pub mod palette {
    /// Pass.
    pub const PASS: [u8; 3] = [46, 184, 92];
    /// Reject.
    pub const REJECT: [u8; 3] = [226, 61, 52];
    /// Review band.
    pub const REVIEW: [u8; 3] = [240, 170, 30];
    /// Not judged (cut by the frame border).
    pub const PARTIAL: [u8; 3] = [150, 150, 150];
    /// Defect region / heat.
    pub const HEAT: [u8; 3] = [255, 60, 200];
}

/// Colour for a verdict (`None` = not judged).
pub fn verdict_color(v: Option<Verdict>) -> [u8; 3] {
    match v {
        Some(Verdict::Pass) => palette::PASS,
        Some(Verdict::Reject) => palette::REJECT,
        Some(Verdict::Review) => palette::REVIEW,
        None => palette::PARTIAL,
    }
}

/// Draw outlines (thick for rejects, medium for review), defect regions and, if `heat`, the heat map over a copy
/// of the inspected frame.
pub fn draw(inspection: &Inspection, heat: bool, pixel_threshold: f32) -> RgbImage {
    let mut img = (*inspection.frame).clone();
    for item in &inspection.items {
        if heat && let Some(h) = &item.heat {
            for (x, y, v) in h.cells_above(pixel_threshold * 0.5) {
                let alpha = ((v / (pixel_threshold * 2.0)).min(1.0) * 0.6).max(0.15);
                blend_rect(&mut img, x, y, h.cell, palette::HEAT, alpha);
            }
        }
        let color = Rgb(verdict_color(item.verdict));
        let thickness = match item.verdict {
            Some(Verdict::Reject) => 3,
            Some(Verdict::Review) => 2,
            _ => 1,
        };
        let n = item.contour.len();
        for i in 0..n {
            let (a, b) = (item.contour[i], item.contour[(i + 1) % n]);
            for t in 0..thickness {
                let o = t as f32 - (thickness / 2) as f32;
                draw_line_segment_mut(&mut img, (a[0] + o, a[1]), (b[0] + o, b[1]), color);
                draw_line_segment_mut(&mut img, (a[0], a[1] + o), (b[0], b[1] + o), color);
            }
        }
        for r in &item.regions {
            if r.w > 0 && r.h > 0 {
                draw_hollow_rect_mut(
                    &mut img,
                    Rect::at(r.x as i32, r.y as i32).of_size(r.w, r.h),
                    Rgb(palette::HEAT),
                );
            }
        }
    }
    img
}

/// Blend a `size`-pixel square at (x, y) toward `color`.
fn blend_rect(img: &mut RgbImage, x: u32, y: u32, size: u32, color: [u8; 3], alpha: f32) {
    let (iw, ih) = img.dimensions();
    for yy in y..(y + size).min(ih) {
        for xx in x..(x + size).min(iw) {
            let p = img.get_pixel_mut(xx, yy);
            for (ch, target) in p.0.iter_mut().zip(color) {
                *ch = (f32::from(*ch) * (1.0 - alpha) + f32::from(target) * alpha) as u8;
            }
        }
    }
}
