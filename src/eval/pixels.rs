//! Pixel-level evaluation: the heat map of each item spread over its pixels and compared with
//! the ground-truth defect mask, as a ROC AUC over millions of pixels.

use std::path::Path;

use image::{GrayImage, Luma};

use super::ScoredImage;
use crate::imageio::grid;
use crate::inspect::HeatMap;
use crate::model::anomaly::ColourModel;
use crate::vision::features::colour_bin;

/// Score bins per unit of calibrated anomaly; scores above `BINS / PER_UNIT` share the top bin.
const PER_UNIT: f32 = 256.0;
const BINS: usize = 256 * 40;

/// ROC AUC accumulated over pixels in fine score bins (exact up to ties within 1/256).
#[derive(Clone, Debug)]
pub struct PixelAuroc {
    pos: Vec<u64>,
    neg: Vec<u64>,
}

impl Default for PixelAuroc {
    fn default() -> Self {
        Self {
            pos: vec![0; BINS],
            neg: vec![0; BINS],
        }
    }
}

impl PixelAuroc {
    /// Count one pixel.
    pub fn add(&mut self, score: f32, defect: bool) {
        let b = ((score.max(0.0) * PER_UNIT) as usize).min(BINS - 1);
        if defect {
            self.pos[b] += 1;
        } else {
            self.neg[b] += 1;
        }
    }

    /// Area under the ROC curve; `None` without pixels of both kinds.
    pub fn auroc(&self) -> Option<f64> {
        let p: u64 = self.pos.iter().sum();
        let n: u64 = self.neg.iter().sum();
        if p == 0 || n == 0 {
            return None;
        }
        let mut below = 0u64;
        let mut acc = 0f64;
        for b in 0..BINS {
            acc += self.pos[b] as f64 * (below as f64 + 0.5 * self.neg[b] as f64);
            below += self.neg[b];
        }
        Some(acc / (p as f64 * n as f64))
    }
}

/// Read a defect mask: any non-black pixel is a defect. It must have the photo's size.
pub fn load_mask(path: &Path, width: u32, height: u32) -> anyhow::Result<GrayImage> {
    let img = image::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read mask {}: {e}", path.display()))?
        .into_rgb8();
    if img.dimensions() != (width, height) {
        anyhow::bail!(
            "mask {} is {}x{} but its photo is {width}x{height}",
            path.display(),
            img.width(),
            img.height()
        );
    }
    Ok(GrayImage::from_fn(width, height, |x, y| {
        let p = img.get_pixel(x, y).0;
        Luma([if p != [0, 0, 0] { 255 } else { 0 }])
    }))
}

/// Heat value at a frame pixel: bilinear between cell centres; unmeasured cells take their
/// neighbours' largest value.
fn filled(h: &HeatMap) -> Vec<f32> {
    let (cols, rows) = (h.cols as i64, h.rows as i64);
    let mut out = h.values.clone();
    for r in 0..rows {
        for c in 0..cols {
            let i = (r * cols + c) as usize;
            if !h.values[i].is_nan() {
                continue;
            }
            let mut best = f32::NAN;
            for dr in -1..=1 {
                for dc in -1..=1 {
                    let (rr, cc) = (r + dr, c + dc);
                    if rr >= 0 && cc >= 0 && rr < rows && cc < cols {
                        let v = h.values[(rr * cols + cc) as usize];
                        if !v.is_nan() && (best.is_nan() || v > best) {
                            best = v;
                        }
                    }
                }
            }
            out[i] = if best.is_nan() { 0.0 } else { best };
        }
    }
    out
}

/// The pixel score map of one scored image: each item's heat map spread over its bounding box
/// (bilinear between cell centres), and inside the product's hull the colour anomaly of each
/// pixel (a crack that opens onto the belt shows belt colour where product should be),
/// smoothed over a quarter of a heat-map cell; 0 elsewhere.
///
/// The colour part is scored and smoothed on 2x2 blocks and sampled back bilinearly: the
/// smoothing window is several pixels wide anyway, and a quarter of the pixels is a quarter
/// of the work.
pub fn score_map(
    img: &ScoredImage,
    photo: &image::RgbImage,
    colour: Option<&ColourModel>,
) -> Vec<f32> {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut map = vec![0f32; w * h];
    if let Some(cm) = colour
        && let Some((hx0, hy0, hx1, hy1)) = mask_bounds(&img.hull)
    {
        // Smooth over a quarter of a heat-map cell (cells scale with the item).
        let cell = img.items.iter().map(|(_, hm)| hm.cell).max().unwrap_or(8);
        let r = (cell / 4).max(1) as usize;
        let half = colour_on_blocks(cm, photo, img.hull.as_raw(), (hx0, hy0, hx1, hy1), r);
        half.sample_into(&mut map, w, img.hull.as_raw());
    }
    for (region, heat) in &img.items {
        let cells = filled(heat);
        let cell = heat.cell as f32;
        let b = region.bbox;
        // The column interpolation is the same on every row: work it out once.
        let (xa, xb) = (b.x as usize, (b.x + b.w).min(img.width) as usize);
        let cols = heat.cols as usize;
        let columns: Vec<(usize, usize, f32)> = (xa..xb)
            .map(|x| grid::axis(x - heat.x0 as usize, cell, cols))
            .collect();
        // One row of cells blended between the two cell rows around the pixel row: then each
        // pixel is one interpolation along the row (bilinear is separable).
        let mut blended = vec![0f32; cols];
        for y in b.y..(b.y + b.h).min(img.height) {
            let (r0, r1, fy) = grid::axis((y - heat.y0) as usize, cell, heat.rows as usize);
            let row0 = &cells[r0 * cols..(r0 + 1) * cols];
            let row1 = &cells[r1 * cols..(r1 + 1) * cols];
            for ((o, a), b) in blended.iter_mut().zip(row0).zip(row1) {
                *o = a + (b - a) * fy;
            }
            let out = &mut map[y as usize * w + xa..y as usize * w + xb];
            for (m, &(c0, c1, fx)) in out.iter_mut().zip(&columns) {
                let (a, b) = (blended[c0], blended[c1]);
                *m = m.max(a + (b - a) * fx);
            }
        }
    }
    map
}

/// Smoothed colour anomaly on 2x2 blocks of a frame region.
struct BlockScores {
    /// Frame pixel of the first block's top-left corner.
    x0: usize,
    y0: usize,
    /// Blocks across and down.
    bw: usize,
    bh: usize,
    values: Vec<f32>,
}

/// The colour anomaly of the hull pixels (0 outside the hull), averaged over 2x2 blocks and
/// smoothed over `(2r+1)²` pixels, on the hull's box plus the smoothing margin.
fn colour_on_blocks(
    cm: &ColourModel,
    photo: &image::RgbImage,
    hull: &[u8],
    (hx0, hy0, hx1, hy1): (usize, usize, usize, usize),
    r: usize,
) -> BlockScores {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    // Only the hull's box plus the smoothing radius holds non-zero raw scores or windows of
    // hull pixels: work there (the rest of the map stays 0). Even corners keep blocks aligned.
    let x0 = hx0.saturating_sub(r + 2) & !1;
    let y0 = hy0.saturating_sub(r + 2) & !1;
    let (x1, y1) = ((hx1 + r + 3).min(w), (hy1 + r + 3).min(h));
    let (bw, bh) = ((x1 - x0).div_ceil(2), (y1 - y0).div_ceil(2));
    // The score of each of the 4096 colour bins, once: a lookup per pixel, not a division.
    let table = cm.score_table();
    let px = photo.as_raw();
    let mut sums = vec![0f32; bw * bh];
    for y in y0..y1 {
        let row = y * w;
        let inside = &hull[row + x0..row + x1];
        let rgb = &px[3 * (row + x0)..3 * (row + x1)];
        let brow = (y - y0) / 2 * bw;
        let blocks = &mut sums[brow..brow + bw];
        for ((b, m2), p2) in blocks.iter_mut().zip(inside.chunks(2)).zip(rgb.chunks(6)) {
            for (&m, p) in m2.iter().zip(p2.chunks_exact(3)) {
                if m != 0 {
                    *b += table[colour_bin([p[0], p[1], p[2]])];
                }
            }
        }
    }
    // Mean over the block. Blocks cut by the region's edge lie in the margin, outside the
    // hull, and hold 0 either way.
    for b in &mut sums {
        *b *= 0.25;
    }
    BlockScores {
        x0,
        y0,
        bw,
        bh,
        values: box_mean(&sums, bw, bh, (r / 2).max(1)),
    }
}

impl BlockScores {
    /// Write the block values, bilinear between block centres, into the hull pixels of the
    /// full-frame `map` (frame width `w`).
    fn sample_into(&self, map: &mut [f32], w: usize, hull: &[u8]) {
        let (bw, bh) = (self.bw, self.bh);
        let x1 = (self.x0 + 2 * bw).min(w);
        let y1 = (self.y0 + 2 * bh).min(map.len() / w);
        // Frame x -> (block column, next block column, weight of the next): the same on
        // every row.
        let columns: Vec<(usize, usize, f32)> = (self.x0..x1)
            .map(|x| grid::axis(x - self.x0, 2.0, bw))
            .collect();
        let mut blended = vec![0f32; bw];
        for y in self.y0..y1 {
            let (r0, r1, fy) = grid::axis(y - self.y0, 2.0, bh);
            let (row0, row1) = (
                &self.values[r0 * bw..(r0 + 1) * bw],
                &self.values[r1 * bw..(r1 + 1) * bw],
            );
            for ((o, a), b) in blended.iter_mut().zip(row0).zip(row1) {
                *o = a + (b - a) * fy;
            }
            let row = y * w;
            let out = &mut map[row + self.x0..row + x1];
            let inside = &hull[row + self.x0..row + x1];
            for ((o, &m), &(c0, c1, fx)) in out.iter_mut().zip(inside).zip(&columns) {
                if m != 0 {
                    let (a, b) = (blended[c0], blended[c1]);
                    *o = a + (b - a) * fx;
                }
            }
        }
    }
}

/// Bounding box (inclusive) of the set pixels of a mask, `None` when none is set.
fn mask_bounds(mask: &GrayImage) -> Option<(usize, usize, usize, usize)> {
    let w = mask.width() as usize;
    if w == 0 {
        return None;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (y, row) in mask.as_raw().chunks_exact(w).enumerate() {
        if let Some(first) = row.iter().position(|&v| v != 0) {
            let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
            x0 = x0.min(first);
            x1 = x1.max(last);
            y0 = y0.min(y);
            y1 = y;
        }
    }
    (x0 != usize::MAX).then_some((x0, y0, x1, y1))
}

/// Pixels inside the convex hull of all the image's main items together (broken pieces of one
/// product share a hull).
pub fn hull_mask(img: &ScoredImage) -> GrayImage {
    let mut mask = GrayImage::new(img.width, img.height);
    let pts: Vec<imageproc::point::Point<i32>> = img
        .items
        .iter()
        .flat_map(|(region, _)| region.contour.iter())
        .map(|p| imageproc::point::Point::new(p[0] as i32, p[1] as i32))
        .collect();
    if pts.len() < 3 {
        return mask;
    }
    let mut hull = imageproc::geometry::convex_hull(pts);
    // draw_polygon refuses a closed polygon whose first and last points are equal.
    if hull.len() >= 2 && hull.first() == hull.last() {
        hull.pop();
    }
    if hull.len() >= 3 {
        imageproc::drawing::draw_polygon_mut(&mut mask, &hull, Luma([255]));
    }
    mask
}

/// Mean over a (2r+1)² window (clipped at the borders), by running sums: O(pixels).
fn box_mean(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut tmp = vec![0f32; w * h];
    for (src, dst) in v.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        let mut sum: f32 = src[..r.min(w - 1) + 1].iter().sum();
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            dst[x] = sum / (b - a + 1) as f32;
            if x + r + 1 < w {
                sum += src[x + r + 1];
            }
            if x >= r {
                sum -= src[x - r];
            }
        }
    }
    let mut out = vec![0f32; w * h];
    let mut sums = vec![0f32; w];
    for row in tmp.chunks_exact(w).take(r.min(h - 1) + 1) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        let n = (b - a + 1) as f32;
        for (o, s) in out[y * w..(y + 1) * w].iter_mut().zip(&sums) {
            *o = s / n;
        }
        if y + r + 1 < h {
            for (s, v) in sums.iter_mut().zip(&tmp[(y + r + 1) * w..(y + r + 2) * w]) {
                *s += v;
            }
        }
        if y >= r {
            for (s, v) in sums.iter_mut().zip(&tmp[(y - r) * w..(y - r + 1) * w]) {
                *s -= v;
            }
        }
    }
    out
}

/// A preview for people: the photo, the pixel scores (white = 2x the heat threshold) and the
/// ground-truth mask side by side.
pub fn side_by_side(
    photo: &image::RgbImage,
    img: &ScoredImage,
    truth: Option<&GrayImage>,
    pixel_threshold: f32,
) -> image::RgbImage {
    let (w, h) = (img.width, img.height);
    let map = &img.pixel_scores;
    let mut out = image::RgbImage::new(w * 3, h);
    image::imageops::replace(&mut out, photo, 0, 0);
    for y in 0..h {
        for x in 0..w {
            let v = map[(y * w + x) as usize] / (2.0 * pixel_threshold);
            let g = (v.clamp(0.0, 1.0) * 255.0) as u8;
            let hot = map[(y * w + x) as usize] > pixel_threshold;
            out.put_pixel(
                w + x,
                y,
                image::Rgb(if hot { [255, g / 2, 200] } else { [g, g, g] }),
            );
            let t = truth.is_some_and(|t| t.get_pixel(x, y).0[0] != 0);
            out.put_pixel(
                2 * w + x,
                y,
                image::Rgb(if t { [255, 255, 255] } else { [0, 0, 0] }),
            );
        }
    }
    out
}

/// Add one image's pixels: all of them to `all`, those inside the product hull to `inside`.
/// `truth` None means a good image (no defect pixel).
pub fn accumulate(
    img: &ScoredImage,
    truth: Option<&GrayImage>,
    all: &mut PixelAuroc,
    inside: &mut PixelAuroc,
) {
    let map = &img.pixel_scores;
    let hull = &img.hull;
    for (i, s) in map.iter().enumerate() {
        let defect = truth.is_some_and(|t| t.as_raw()[i] != 0);
        all.add(*s, defect);
        if hull.as_raw()[i] != 0 {
            inside.add(*s, defect);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_mean_matches_direct_sums() {
        let (w, h) = (7, 5);
        let v: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32).collect();
        let fast = box_mean(&v, w, h, 2);
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(2)..=(y + 2).min(h - 1) {
                    for xx in x.saturating_sub(2)..=(x + 2).min(w - 1) {
                        s += v[yy * w + xx];
                        n += 1.0;
                    }
                }
                assert!((fast[y * w + x] - s / n).abs() < 1e-4, "{x},{y}");
            }
        }
    }

    #[test]
    fn binned_auroc_matches_exact_values() {
        let mut a = PixelAuroc::default();
        for s in [0.1, 0.2] {
            a.add(s, false);
        }
        for s in [0.8, 0.9] {
            a.add(s, true);
        }
        assert_eq!(a.auroc(), Some(1.0));
        // A tie (same bin) counts half: (3 + 0.5) / 4.
        let mut b = PixelAuroc::default();
        b.add(0.1, false);
        b.add(0.5, false);
        b.add(0.5, true);
        b.add(0.9, true);
        assert_eq!(b.auroc(), Some(0.875));
        assert_eq!(PixelAuroc::default().auroc(), None);
    }
}
