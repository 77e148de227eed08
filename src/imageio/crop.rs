//! Cutting items out of frames.

use crate::domain::BBox;

/// Crop an item with a margin of a quarter of its size, for saved samples.
pub fn crop_with_margin(frame: &image::RgbImage, b: BBox) -> image::RgbImage {
    let (fw, fh) = frame.dimensions();
    let m = (b.w.max(b.h) / 4).max(4);
    let x0 = b.x.saturating_sub(m);
    let y0 = b.y.saturating_sub(m);
    let x1 = (b.x + b.w + m).min(fw);
    let y1 = (b.y + b.h + m).min(fh);
    image::imageops::crop_imm(frame, x0, y0, x1 - x0, y1 - y0).to_image()
}
