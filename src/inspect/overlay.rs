//! Drawing inspection results onto an image (saved snapshots, reports, headless output).
//! The GUI draws the same geometry with its own painter and the same state colours.

use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_hollow_rect_mut, draw_line_segment_mut};
use imageproc::rect::Rect;

use crate::domain::Verdict;
use crate::inspect::Inspection;

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
    if x >= iw || y >= ih {
        return;
    }
    // Fixed point (8 fractional bits): the same blend to within one grey level, without a
    // float conversion per channel.
    let a = (alpha.clamp(0.0, 1.0) * 256.0) as u32;
    let keep = 256 - a;
    let add = color.map(|c| u32::from(c) * a);
    let (x0, x1) = (x as usize, (x + size).min(iw) as usize);
    let stride = iw as usize * 3;
    for row in img
        .chunks_exact_mut(stride)
        .skip(y as usize)
        .take((size.min(ih - y)) as usize)
    {
        for p in row[x0 * 3..x1 * 3].chunks_exact_mut(3) {
            for (ch, add) in p.iter_mut().zip(add) {
                *ch = ((u32::from(*ch) * keep + add) >> 8) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_rect_blends_inside_and_clips_at_the_border() {
        let mut img = RgbImage::from_pixel(10, 8, Rgb([100, 100, 100]));
        blend_rect(&mut img, 7, 6, 5, [200, 0, 100], 0.5);
        // Inside the square: half way to the colour (within one level of rounding).
        assert_eq!(img.get_pixel(8, 7).0, [150, 50, 100]);
        assert_eq!(img.get_pixel(9, 6).0, [150, 50, 100]);
        // Outside it: untouched.
        assert_eq!(img.get_pixel(6, 7).0, [100, 100, 100]);
        assert_eq!(img.get_pixel(8, 5).0, [100, 100, 100]);
        // Wholly outside the image: nothing happens, nothing panics.
        blend_rect(&mut img, 10, 0, 4, [0, 0, 0], 1.0);
        blend_rect(&mut img, 0, 8, 4, [0, 0, 0], 1.0);
        assert_eq!(img.get_pixel(0, 0).0, [100, 100, 100]);
    }
}
