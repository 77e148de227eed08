//! Finding the items in a frame.
//!
//! Items are found at reduced resolution (a box-filtered copy about 320 px across), as the
//! pixels far from the belt colour, then refined on full-resolution crops. This keeps the
//! whole-frame work small and independent of the camera resolution.

use image::{GrayImage, RgbImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::components::Components;
use super::morph::{self, Outside};
use crate::domain::BBox;
use crate::imageio::grid;

/// Settings of the item finder. Defaults fit any product that contrasts with its belt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentConfig {
    /// Longest side of the reduced image used to find items, in pixels.
    pub work_size: u32,
    /// Smallest item, as a fraction of the frame area (drops crumbs and noise).
    pub min_item_area_frac: f32,
    /// Lowest foreground threshold on the colour distance to the belt (0..765, L1 over RGB);
    /// the automatic (Otsu) threshold is never taken below this, so an empty belt stays empty.
    pub min_threshold: u8,
    /// Items whose bounding box fills less than this fraction are thin structures
    /// (belt edges, cables) and are dropped.
    pub min_fill: f32,
    /// Items longer than this many times their width are belt edges or rails, not product.
    pub max_aspect: f32,
    /// Share of an item's pixels that must be clearly off the belt colour (twice the
    /// threshold): reflections and shadows are only slightly off everywhere.
    pub min_strong_frac: f32,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            work_size: 320,
            min_item_area_frac: 0.004,
            min_threshold: 40,
            min_fill: 0.2,
            max_aspect: 6.0,
            min_strong_frac: 0.25,
        }
    }
}

/// One item found in a frame, at full resolution.
#[derive(Clone, Debug)]
pub struct ItemRegion {
    /// Bounding box in frame pixels.
    pub bbox: BBox,
    /// Mask of the item over `bbox` (255 = item), holes filled.
    pub mask: GrayImage,
    /// Item area in pixels (count of mask pixels).
    pub area: u32,
    /// Outer outline in frame pixel coordinates, simplified.
    pub contour: Vec<[f32; 2]>,
    /// True when the item is cut by the frame border.
    pub touches_border: bool,
}

/// Finds items; keeps its scratch buffers between frames.
#[derive(Debug, Default)]
pub struct Segmenter {
    cfg: SegmentConfig,
    small: Vec<[u8; 3]>,
    dist: GrayImage,
    fg: GrayImage,
    components: Components,
}

impl Segmenter {
    /// A segmenter with the given settings.
    pub fn new(cfg: SegmentConfig) -> Self {
        Self {
            cfg,
            ..Default::default()
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SegmentConfig {
        &self.cfg
    }

    /// Find all items of `frame`, sorted left to right then top to bottom.
    pub fn segment(&mut self, frame: &RgbImage) -> Vec<ItemRegion> {
        let (fw, fh) = frame.dimensions();
        if fw < 8 || fh < 8 {
            return Vec::new();
        }
        let scale = fw.max(fh).div_ceil(self.cfg.work_size.max(16)).max(1);
        let (sw, sh) = (fw / scale, fh / scale);
        self.downscale(frame, scale, sw, sh);
        if self.dist.dimensions() != (sw, sh) {
            self.dist = GrayImage::new(sw, sh);
            self.fg = GrayImage::new(sw, sh);
        }
        // Pass 1: distance to the dominant colour (the belt) finds the obvious items.
        let mode = dominant_color(&self.small);
        for (d, p) in self.dist.as_mut().iter_mut().zip(&self.small) {
            *d = (color_l1(*p, mode) / 3) as u8;
        }
        let t1 = self.threshold_level();
        for (f, d) in self.fg.as_mut().iter_mut().zip(self.dist.as_raw()) {
            *f = if *d > t1 { 255 } else { 0 };
        }
        // Pass 2: the belt colour per region of the frame (lighting is never even), estimated
        // away from the items of pass 1, and the distance to it.
        morph::dilate(&mut self.fg, 2);
        let bg = BackgroundMap::estimate(
            &self.small,
            &self.fg,
            sw,
            sh,
            scale,
            mode,
            u16::from(self.cfg.min_threshold),
        );
        for y in 0..sh {
            for x in 0..sw {
                let i = (y * sw + x) as usize;
                let b = bg.at_work(x, y);
                self.dist.as_mut()[i] = (belt_distance(self.small[i], b) / 3) as u8;
            }
        }
        let t = self.threshold_level();
        for (f, d) in self.fg.as_mut().iter_mut().zip(self.dist.as_raw()) {
            *f = if *d > t { 255 } else { 0 };
        }
        let threshold = u16::from(t) * 3;
        // Close small gaps (cracks) and remove specks of noise.
        morph::close(&mut self.fg, 1, Outside::Foreground);
        morph::open(&mut self.fg, 1, Outside::Foreground);
        let strong = t.saturating_add(t / 2);
        self.components.label(&self.fg);
        let stats = component_stats(&self.components, Some((&self.dist, strong)));
        let min_area_small = (self.cfg.min_item_area_frac * (sw * sh) as f32).max(4.0) as u32;
        tracing::trace!(?mode, threshold, "belt colour and threshold");
        let regions: Vec<BBox> = stats
            .iter()
            .filter(|c| c.area >= min_area_small)
            .filter(|c| {
                tracing::trace!(?c, "candidate item");
                let bw = c.x1 - c.x0 + 1;
                let bh = c.y1 - c.y0 + 1;
                (c.area as f32) >= self.cfg.min_fill * (bw * bh) as f32
                    && bw.max(bh) as f32 <= self.cfg.max_aspect * bw.min(bh) as f32
                    && (c.strong as f32) >= self.cfg.min_strong_frac * c.area as f32
            })
            .map(|c| {
                // Full-resolution box with a margin of one reduced pixel plus the closing
                // radius used in `refine_item`, so closing never touches the crop edge.
                let m = scale + REFINE_CLOSE + 1;
                let x0 = (c.x0 * scale).saturating_sub(m);
                let y0 = (c.y0 * scale).saturating_sub(m);
                let x1 = if c.x1 + 1 >= sw {
                    fw
                } else {
                    ((c.x1 + 1) * scale + m).min(fw)
                };
                let y1 = if c.y1 + 1 >= sh {
                    fh
                } else {
                    ((c.y1 + 1) * scale + m).min(fh)
                };
                BBox {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                }
            })
            .collect();
        // Items are independent: refine them in parallel.
        let min_area = min_area_small * scale * scale;
        let mut items: Vec<ItemRegion> = regions
            .par_iter()
            .filter_map(|r| refine_item(frame, *r, &bg, threshold, min_area))
            .collect();
        items.sort_by_key(|i| (i.bbox.x, i.bbox.y));
        items
    }

    /// Otsu level of the current distance image, never below the configured minimum.
    fn threshold_level(&self) -> u8 {
        imageproc::contrast::otsu_level(&self.dist)
            .max(self.cfg.min_threshold / 3)
            .max(1)
    }

    fn downscale(&mut self, frame: &RgbImage, scale: u32, sw: u32, sh: u32) {
        let (sw, sh) = (sw as usize, sh as usize);
        self.small.clear();
        self.small.resize(sw * sh, [0; 3]);
        let fw = frame.width() as usize;
        let raw = frame.as_raw();
        let s = scale as usize;
        match s {
            2 => return downscale_fixed::<2>(raw, fw, &mut self.small, sw),
            3 => return downscale_fixed::<3>(raw, fw, &mut self.small, sw),
            4 => return downscale_fixed::<4>(raw, fw, &mut self.small, sw),
            _ => {}
        }
        let n = (s * s) as u32;
        let div = ExactDiv::new(n);
        for sy in 0..sh {
            let out = &mut self.small[sy * sw..(sy + 1) * sw];
            let rows = &raw[sy * s * fw * 3..];
            for (ox, o) in out.iter_mut().enumerate() {
                // The block's channel sums in registers (a running sum in memory would chain
                // every add through a store); wrapping adds: at most 255 * 256 per channel
                // for blocks up to 16 x 16, and no overflow-check branch per pixel.
                let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
                for dy in 0..s {
                    let start = dy * fw * 3 + ox * s * 3;
                    for p in rows[start..start + s * 3].chunks_exact(3) {
                        r = r.wrapping_add(u32::from(p[0]));
                        g = g.wrapping_add(u32::from(p[1]));
                        b = b.wrapping_add(u32::from(p[2]));
                    }
                }
                *o = [div.of(r) as u8, div.of(g) as u8, div.of(b) as u8];
            }
        }
    }
}

/// [`Segmenter::downscale`] for a block side known at compile time (the common 2, 3 and 4):
/// the block loops unroll and the division is a constant one. The same floor means.
fn downscale_fixed<const S: usize>(raw: &[u8], fw: usize, small: &mut [[u8; 3]], sw: usize) {
    let div = ExactDiv::new((S * S) as u32);
    for (sy, out) in small.chunks_exact_mut(sw).enumerate() {
        let rows: [&[u8]; S] =
            std::array::from_fn(|dy| &raw[(sy * S + dy) * fw * 3..][..sw * S * 3]);
        for (ox, o) in out.iter_mut().enumerate() {
            let mut sum = [0u32; 3];
            for row in &rows {
                for p in row[ox * S * 3..(ox + 1) * S * 3].chunks_exact(3) {
                    sum[0] += u32::from(p[0]);
                    sum[1] += u32::from(p[1]);
                    sum[2] += u32::from(p[2]);
                }
            }
            *o = sum.map(|v| div.of(v) as u8);
        }
    }
}

/// Exact `a / n` by a multiply and a shift (a hardware division per work pixel and channel
/// costs more than the rest of the downscale), for `a` below 2^16; plain division otherwise.
#[derive(Clone, Copy, Debug)]
struct ExactDiv {
    n: u32,
    magic: u64,
}

impl ExactDiv {
    fn new(n: u32) -> Self {
        let n = n.max(1);
        // ceil(2^32 / n): exact for dividends and divisors below 2^16.
        Self {
            n,
            magic: (1u64 << 32).div_ceil(u64::from(n)),
        }
    }

    #[inline]
    fn of(self, a: u32) -> u32 {
        if a < 1 << 16 && self.n < 1 << 16 {
            ((u64::from(a) * self.magic) >> 32) as u32
        } else {
            a / self.n
        }
    }
}

/// How far a pixel is from the belt colour under it (0..=765), not counting shade: a pixel
/// that is the belt colour darkened (a shadow next to an item) is near, so shadows do not
/// join items to each other or to the belt edge. Darker pixels of another hue stay far.
#[inline(always)]
pub fn belt_distance(p: [u8; 3], belt: [u8; 3]) -> u16 {
    belt_distance_given(p, belt, color_l1(p, belt))
}

/// [`belt_distance`] when the colour distance `d` of `p` to `belt` is already known.
#[inline(always)]
fn belt_distance_given(p: [u8; 3], belt: [u8; 3], d: u16) -> u16 {
    let sp = u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
    let sb = u32::from(belt[0]) + u32::from(belt[1]) + u32::from(belt[2]);
    // Shadows darken to 35..100 % of the belt and keep its chromaticity.
    if sb == 0 || sp >= sb || sp * 100 < sb * 35 {
        return d;
    }
    shadow_distance(p, belt, d, sp, sb)
}

/// [`belt_distance`] of a pixel darker than the belt: its chromaticity difference when that is
/// small (a shadow), else the colour distance `d`. Out of line: the common case is above.
#[inline(never)]
fn shadow_distance(p: [u8; 3], belt: [u8; 3], d: u16, sp: u32, sb: u32) -> u16 {
    // Chromaticity difference, in the same 0..765 scale as the colour distance.
    let mut chroma = 0u32;
    for c in 0..3 {
        let a = u32::from(p[c]) * sb;
        let b = u32::from(belt[c]) * sp;
        chroma += a.abs_diff(b) * 255 / (sp * sb).max(1);
    }
    // Dark pixels carry more noise in their chromaticity: allow for it.
    let tolerance = 20 + 2000 / sp.max(10);
    if chroma <= tolerance {
        (chroma as u16).min(d)
    } else {
        d
    }
}

/// L1 distance between two RGB colours (0..=765).
#[inline]
pub fn color_l1(a: [u8; 3], b: [u8; 3]) -> u16 {
    u16::from(a[0].abs_diff(b[0])) + u16::from(a[1].abs_diff(b[1])) + u16::from(a[2].abs_diff(b[2]))
}

/// The most common colour (4 bits per channel, then averaged): the belt, which covers most
/// of a frame.
fn dominant_color(px: &[[u8; 3]]) -> [u8; 3] {
    let mut hist = vec![0u32; 4096];
    let bin = |p: &[u8; 3]| {
        ((p[0] as usize >> 4) << 8) | ((p[1] as usize >> 4) << 4) | (p[2] as usize >> 4)
    };
    for p in px {
        hist[bin(p)] += 1;
    }
    let best = hist
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| **c)
        .map(|(b, _)| b)
        .unwrap_or(0);
    let (mut sum, mut n) = ([0u64; 3], 0u64);
    for p in px.iter().filter(|p| bin(p) == best) {
        for c in 0..3 {
            sum[c] += u64::from(p[c]);
        }
        n += 1;
    }
    let n = n.max(1);
    [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]
}

/// Belt colour over the frame on a coarse grid, interpolated between cell centres.
#[derive(Clone, Debug)]
pub struct BackgroundMap {
    cols: u32,
    rows: u32,
    /// Cell side in work pixels.
    cell: u32,
    /// Work pixels per frame pixel (integer downscale factor).
    scale: u32,
    colors: Vec<[f32; 3]>,
    /// Interpolated colour of every work pixel (filled once per frame).
    work: Vec<[u8; 3]>,
    work_w: u32,
    work_h: u32,
}

impl BackgroundMap {
    /// Median belt colour of each cell from the pixels outside `fg`; cells covered by items
    /// take the colour of their neighbours (or `fallback` when the whole frame is covered).
    fn estimate(
        px: &[[u8; 3]],
        fg: &GrayImage,
        w: u32,
        h: u32,
        scale: u32,
        fallback: [u8; 3],
        step: u16,
    ) -> Self {
        let cell = (w.max(h) / 12).max(4);
        let (cols, rows) = (w.div_ceil(cell), h.div_ceil(cell));
        let mut colors: Vec<Option<[f32; 3]>> = vec![None; (cols * rows) as usize];
        // Median colour and spread of every covered cell over all its pixels, and the spread
        // of the belt cells, for `grow_shaded_belt`.
        let mut covered = vec![([0u8; 3], 0u8); (cols * rows) as usize];
        let mut belt_spreads = Vec::new();
        // Per-channel histograms of the cell's belt pixels: the median is read off the counts
        // (the same value as selecting the middle element, without sorting).
        let mut hist = [[0u32; 256]; 3];
        for r in 0..rows {
            for c in 0..cols {
                let (x0, x1) = ((c * cell) as usize, ((c + 1) * cell).min(w) as usize);
                // Counts the cell's pixels (only those outside `fg` when `belt_only`).
                let count = |hist: &mut [[u32; 256]; 3], belt_only: bool| {
                    hist.iter_mut().for_each(|h| h.fill(0));
                    let mut n = 0u32;
                    for y in r * cell..((r + 1) * cell).min(h) {
                        let row = (y * w) as usize;
                        for (p, &f) in px[row + x0..row + x1]
                            .iter()
                            .zip(&fg.as_raw()[row + x0..row + x1])
                        {
                            if f == 0 || !belt_only {
                                n += 1;
                                hist[0][usize::from(p[0])] += 1;
                                hist[1][usize::from(p[1])] += 1;
                                hist[2][usize::from(p[2])] += 1;
                            }
                        }
                    }
                    n
                };
                let n = count(&mut hist, true);
                if n >= cell * cell / 4 {
                    let (median, spread) = cell_stats(&hist, n);
                    colors[(r * cols + c) as usize] = Some(median.map(f32::from));
                    belt_spreads.push(spread);
                } else {
                    let n = count(&mut hist, false);
                    covered[(r * cols + c) as usize] = cell_stats(&hist, n);
                }
            }
        }
        // A shaded cell may be as uneven as the belt itself, or half a step.
        let max_spread = if belt_spreads.is_empty() {
            0
        } else {
            let k = belt_spreads.len() / 2;
            let typical = *belt_spreads.select_nth_unstable(k).1;
            (u16::from(typical) * 2).max(step / 2)
        };
        grow_shaded_belt(&mut colors, &covered, (cols, rows), step, max_spread);
        // Fill cells hidden by items from their neighbours, ring by ring.
        let fb = [
            f32::from(fallback[0]),
            f32::from(fallback[1]),
            f32::from(fallback[2]),
        ];
        if colors.iter().all(Option::is_none) {
            colors.iter_mut().for_each(|c| *c = Some(fb));
        }
        while colors.iter().any(Option::is_none) {
            let snapshot = colors.clone();
            for r in 0..rows as i32 {
                for c in 0..cols as i32 {
                    let i = (r * cols as i32 + c) as usize;
                    if snapshot[i].is_some() {
                        continue;
                    }
                    let (mut sum, mut n) = ([0f32; 3], 0f32);
                    for (dr, dc) in [
                        (-1, 0),
                        (1, 0),
                        (0, -1),
                        (0, 1),
                        (-1, -1),
                        (1, 1),
                        (-1, 1),
                        (1, -1),
                    ] {
                        let (rr, cc) = (r + dr, c + dc);
                        if rr < 0 || cc < 0 || rr >= rows as i32 || cc >= cols as i32 {
                            continue;
                        }
                        if let Some(v) = snapshot[(rr * cols as i32 + cc) as usize] {
                            for ch in 0..3 {
                                sum[ch] += v[ch];
                            }
                            n += 1.0;
                        }
                    }
                    if n > 0.0 {
                        colors[i] = Some([sum[0] / n, sum[1] / n, sum[2] / n]);
                    }
                }
            }
        }
        let mut map = Self {
            cols,
            rows,
            cell,
            scale,
            colors: colors.into_iter().map(|c| c.unwrap_or(fb)).collect(),
            work: Vec::with_capacity((w * h) as usize),
            work_w: w,
            work_h: h,
        };
        // Bilinear between cell centres: the horizontal blend along every row of cells is
        // worked out once per column (`tops[r][x]`), then each work pixel blends two of them.
        let (cols, rows, cell) = (map.cols as usize, map.rows as usize, map.cell as f32);
        let (w, h) = (w as usize, h as usize);
        let tops: Vec<[f32; 3]> = (0..rows)
            .flat_map(|r| (0..w).map(move |x| (r, x)))
            .map(|(r, x)| {
                let (c0, c1, fx) = grid::axis(x, cell, cols);
                let (a, b) = (map.colors[r * cols + c0], map.colors[r * cols + c1]);
                std::array::from_fn(|ch| a[ch] + (b[ch] - a[ch]) * fx)
            })
            .collect();
        map.work.resize(w * h, [0; 3]);
        for (y, out) in map.work.chunks_exact_mut(w).enumerate() {
            let (r0, r1, fy) = grid::axis(y, cell, rows);
            let top = tops[r0 * w..(r0 + 1) * w].as_flattened();
            let bottom = tops[r1 * w..(r1 + 1) * w].as_flattened();
            // Channel by channel over the flat row: the loop vectorises.
            for ((o, t), b) in out.as_flattened_mut().iter_mut().zip(top).zip(bottom) {
                // Same as `.round().clamp(0.0, 255.0) as u8` without a libm call per pixel.
                *o = ((t + (b - t) * fy).clamp(0.0, 255.0) + 0.5) as u8;
            }
        }
        map
    }

    /// Belt colour at a work-resolution pixel.
    fn at_work(&self, x: u32, y: u32) -> [u8; 3] {
        self.work[(y * self.work_w + x) as usize]
    }

    /// Belt colour at a frame pixel (that of the work pixel it falls in).
    pub fn at_frame(&self, x: u32, y: u32) -> [u8; 3] {
        let wx = (x / self.scale).min(self.work_w - 1);
        let wy = (y / self.scale).min(self.work_h - 1);
        self.at_work(wx, wy)
    }
}

/// Takes covered cells (`colors` is `None`; `covered` holds their median colour and spread)
/// that are an even shade of a neighbouring belt cell as belt, spreading outwards from the
/// belt cells.
///
/// Lighting changes smoothly across a belt while an item's outline is a step: a deep shadow
/// or the dim wall of a tray is reached from the lit belt through even cells that each differ
/// from the next by shading alone (or by at most `step`, L1), whereas the cells along an
/// item's outline are uneven (part item, part belt) and its inner cells differ from the belt
/// by at least its contrast. Without this, a shadow too deep for the shadow rule of
/// [`belt_distance`] would join the items it touches.
fn grow_shaded_belt(
    colors: &mut [Option<[f32; 3]>],
    covered: &[([u8; 3], u8)],
    (cols, rows): (u32, u32),
    step: u16,
    max_spread: u16,
) {
    let (cols, rows) = (cols as i32, rows as i32);
    let mut queue: std::collections::VecDeque<usize> =
        (0..colors.len()).filter(|&i| colors[i].is_some()).collect();
    while let Some(i) = queue.pop_front() {
        let Some(from) = colors[i].map(|v| v.map(|v| v.round() as u8)) else {
            continue;
        };
        let (r, c) = (i as i32 / cols, i as i32 % cols);
        for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
            let (rr, cc) = (r + dr, c + dc);
            if rr < 0 || cc < 0 || rr >= rows || cc >= cols {
                continue;
            }
            let j = (rr * cols + cc) as usize;
            let (to, spread) = covered[j];
            // Not counting shade when darker (a shadow falling across the belt); a brighter
            // cell must be near in plain colour (an item brighter than the belt is not lit
            // belt).
            if colors[j].is_none()
                && u16::from(spread) <= max_spread
                && belt_distance(to, from) <= step
            {
                colors[j] = Some(to.map(f32::from));
                queue.push_back(j);
            }
        }
    }
}

/// Median colour and spread (the largest interquartile range of the three channels) of the
/// `n` pixels counted in per-channel histograms.
fn cell_stats(hist: &[[u32; 256]; 3], n: u32) -> ([u8; 3], u8) {
    let median = std::array::from_fn(|ch| nth_in_histogram(&hist[ch], n / 2));
    let spread = (0..3)
        .map(|ch| nth_in_histogram(&hist[ch], n * 3 / 4) - nth_in_histogram(&hist[ch], n / 4))
        .max()
        .unwrap_or(0);
    (median, spread)
}

/// The value at sorted position `k` (0-based) of the values counted in `hist`.
fn nth_in_histogram(hist: &[u32; 256], k: u32) -> u8 {
    let mut seen = 0u32;
    for (v, &c) in hist.iter().enumerate() {
        seen += c;
        if seen > k {
            return v as u8;
        }
    }
    255
}

#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // fields read through Debug in traces
struct ComponentStats {
    area: u32,
    /// Pixels whose distance to the belt exceeds the "strong" level.
    strong: u32,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

fn component_stats(comps: &Components, strength: Option<(&GrayImage, u8)>) -> Vec<ComponentStats> {
    let mut stats: Vec<ComponentStats> = comps
        .components
        .iter()
        .map(|c| ComponentStats {
            area: c.area,
            strong: 0,
            x0: c.x0,
            y0: c.y0,
            x1: c.x1,
            y1: c.y1,
        })
        .collect();
    if let Some((dist, level)) = strength {
        let w = dist.width() as usize;
        for (r, c) in comps.runs.iter().zip(&comps.run_component) {
            let row = &dist.as_raw()[r.y as usize * w..][r.x0 as usize..r.x1 as usize];
            stats[*c as usize].strong += row.iter().filter(|&&d| d > level).count() as u32;
        }
    }
    stats
}

/// Radius (pixels) of the closing that bridges cracks in full-resolution item masks.
const REFINE_CLOSE: u32 = 3;

/// Full-resolution mask of the item inside `region`: pixels far from the belt, the largest
/// connected part, holes filled (a crack is part of the item, not background).
fn refine_item(
    frame: &RgbImage,
    region: BBox,
    bg: &BackgroundMap,
    threshold: u16,
    min_area: u32,
) -> Option<ItemRegion> {
    let BBox { x: rx, y: ry, w, h } = region;
    let mut mask = GrayImage::new(w, h);
    // Work-pixel column of each crop column (the belt colour is per work pixel).
    let wxs: Vec<usize> = (rx..rx + w)
        .map(|x| (x / bg.scale).min(bg.work_w - 1) as usize)
        .collect();
    let fw = frame.width() as usize;
    // The belt colour under each crop pixel of the current row, and the per-channel absolute
    // differences to it: straight byte loops the compiler vectorises.
    let mut belt_row = vec![0u8; w as usize * 3];
    let mut diff = vec![0u8; w as usize * 3];
    let mut belt_wy = usize::MAX;
    for (y, out) in mask.chunks_exact_mut(w as usize).enumerate() {
        let fy = ry as usize + y;
        let wy = (fy as u32 / bg.scale).min(bg.work_h - 1) as usize;
        if wy != belt_wy {
            let belt = &bg.work[wy * bg.work_w as usize..(wy + 1) * bg.work_w as usize];
            for (b, wx) in belt_row.chunks_exact_mut(3).zip(&wxs) {
                b.copy_from_slice(&belt[*wx]);
            }
            belt_wy = wy;
        }
        let px = &frame.as_raw()[(fy * fw + rx as usize) * 3..(fy * fw + (rx + w) as usize) * 3];
        for ((d, p), b) in diff.iter_mut().zip(px).zip(&belt_row) {
            *d = p.abs_diff(*b);
        }
        for (((o, d), p), b) in out
            .iter_mut()
            .zip(diff.chunks_exact(3))
            .zip(px.chunks_exact(3))
            .zip(belt_row.chunks_exact(3))
        {
            // The plain colour distance first: belt_distance never exceeds it.
            let d = u16::from(d[0]) + u16::from(d[1]) + u16::from(d[2]);
            if d > threshold
                && belt_distance_given([p[0], p[1], p[2]], [b[0], b[1], b[2]], d) > threshold
            {
                *o = 255;
            }
        }
    }
    morph::open(&mut mask, 1, Outside::Foreground);
    // A dark crack across an item is close to the belt colour: bridge it so the item
    // stays whole (a piece broken off with belt between stays apart at work scale).
    morph::close(&mut mask, REFINE_CLOSE, Outside::Foreground);
    let mut comps = Components::default();
    comps.label(&mask);
    // The largest component (the last of equal ones, as before).
    let (best, s) = comps
        .components
        .iter()
        .enumerate()
        .max_by_key(|(_, s)| s.area)
        .map(|(i, s)| (i as u32, *s))?;
    if s.area < min_area / 2 {
        return None;
    }
    // Crop to the chosen component.
    let (cw, ch) = (s.x1 - s.x0 + 1, s.y1 - s.y0 + 1);
    let mut item = GrayImage::new(cw, ch);
    for r in comps.runs_of(best) {
        let row = (r.y - s.y0) as usize * cw as usize;
        item.as_mut()[row + (r.x0 - s.x0) as usize..row + (r.x1 - s.x0) as usize].fill(255);
    }
    fill_holes(&mut item);
    let area = item.as_raw().iter().filter(|&&v| v != 0).count() as u32;
    let bbox = BBox {
        x: rx + s.x0,
        y: ry + s.y0,
        w: cw,
        h: ch,
    };
    let (fw, fh) = frame.dimensions();
    let touches_border =
        bbox.x == 0 || bbox.y == 0 || bbox.x + bbox.w >= fw || bbox.y + bbox.h >= fh;
    let contour = outer_contour(&item, bbox);
    Some(ItemRegion {
        bbox,
        mask: item,
        area,
        contour,
        touches_border,
    })
}

/// Set every background pixel not connected to the crop border to foreground.
pub fn fill_holes(mask: &mut GrayImage) {
    let (w, h) = mask.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    // Background runs, 4-connected: components that do not reach the border are holes.
    let mut bg = Components::default();
    bg.label_with(mask, false, false);
    let hole: Vec<bool> = bg
        .components
        .iter()
        .map(|c| c.x0 > 0 && c.y0 > 0 && c.x1 + 1 < w && c.y1 + 1 < h)
        .collect();
    let out = mask.as_mut();
    for (r, c) in bg.runs.iter().zip(&bg.run_component) {
        if hole[*c as usize] {
            let row = r.y as usize * w as usize;
            out[row + r.x0 as usize..row + r.x1 as usize].fill(255);
        }
    }
}

/// The outer outline of a crop mask holding one item (one 8-connected component, as the
/// masks of [`ItemRegion`]), in frame coordinates, simplified to about one point per 2 px of
/// deviation.
pub fn outer_contour(mask: &GrayImage, bbox: BBox) -> Vec<[f32; 2]> {
    let outer = trace_outer_border(mask);
    if outer.is_empty() {
        return Vec::new();
    }
    let simplified = imageproc::geometry::approximate_polygon_dp(&outer, 1.5, true);
    simplified
        .iter()
        .map(|p| {
            [
                (bbox.x as i32 + p.x) as f32 + 0.5,
                (bbox.y as i32 + p.y) as f32 + 0.5,
            ]
        })
        .collect()
}

/// Moore neighbours in the order of `imageproc::contours`: w, nw, n, ne, e, se, s, sw.
const NEIGHBOURS: [(i32, i32); 8] = [
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
];

/// The outer border of the component holding the mask's first set pixel (raster order), as
/// the same points, in the same order, as the first contour of
/// `imageproc::contours::find_contours` (Suzuki-Abe border following) on the mask padded by
/// one background pixel. Follows the border only: no copy of the mask, no scan of the crop.
pub fn trace_outer_border(mask: &GrayImage) -> Vec<imageproc::point::Point<i32>> {
    use imageproc::point::Point;
    let (w, h) = (mask.width() as i32, mask.height() as i32);
    let raw = mask.as_raw();
    let Some(first) = raw.iter().position(|&v| v != 0) else {
        return Vec::new();
    };
    let set = |x: i32, y: i32| x >= 0 && y >= 0 && x < w && y < h && raw[(y * w + x) as usize] != 0;
    let dir = |from: Point<i32>, to: Point<i32>| {
        let d = (to.x - from.x, to.y - from.y);
        NEIGHBOURS.iter().position(|n| *n == d).expect("neighbours")
    };
    let start = Point::new(first as i32 % w, first as i32 / w);
    // Clockwise from the west neighbour (background: the first set pixel has none before it).
    let Some(pos1) = (0..8).map(|k| NEIGHBOURS[k]).find_map(|(dx, dy)| {
        set(start.x + dx, start.y + dy).then(|| Point::new(start.x + dx, start.y + dy))
    }) else {
        return vec![start];
    };
    let mut points = Vec::new();
    let (mut pos2, mut pos3) = (pos1, start);
    loop {
        points.push(pos3);
        // Counter-clockwise from the neighbour before the previous point.
        let k = dir(pos3, pos2);
        let pos4 = (1..=8)
            .map(|j| NEIGHBOURS[(k + 8 - j) % 8])
            .find_map(|(dx, dy)| {
                set(pos3.x + dx, pos3.y + dy).then(|| Point::new(pos3.x + dx, pos3.y + dy))
            })
            .expect("the previous point is set");
        if pos4 == start && pos3 == pos1 {
            break;
        }
        pos2 = pos3;
        pos3 = pos4;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn belt_with_discs(discs: &[(i32, i32, i32)]) -> RgbImage {
        let mut img = RgbImage::from_pixel(640, 360, Rgb([50, 52, 55]));
        for &(cx, cy, r) in discs {
            imageproc::drawing::draw_filled_circle_mut(&mut img, (cx, cy), r, Rgb([200, 150, 90]));
        }
        img
    }

    #[test]
    fn finds_each_disc_once() {
        let img = belt_with_discs(&[(100, 100, 40), (300, 200, 50), (520, 120, 35)]);
        let items = Segmenter::new(SegmentConfig::default()).segment(&img);
        assert_eq!(items.len(), 3, "{items:?}");
        let expected = std::f32::consts::PI * 40.0 * 40.0;
        assert!(
            (items[0].area as f32 - expected).abs() / expected < 0.05,
            "{} vs {expected}: {:?}",
            items[0].area,
            items[0].bbox
        );
        assert!(items.iter().all(|i| !i.touches_border));
        assert!(items[1].contour.len() > 8);
    }

    #[test]
    fn empty_belt_has_no_items() {
        let mut img = RgbImage::from_pixel(640, 360, Rgb([50, 52, 55]));
        // Mild sensor noise must not turn into items.
        for (i, p) in img.pixels_mut().enumerate() {
            let n = ((i * 2654435761) >> 7) as u8 % 9;
            p.0 = [46 + n, 48 + n, 51 + n];
        }
        assert!(
            Segmenter::new(SegmentConfig::default())
                .segment(&img)
                .is_empty()
        );
    }

    #[test]
    fn item_cut_by_border_is_flagged() {
        let img = belt_with_discs(&[(10, 180, 50)]);
        let items = Segmenter::new(SegmentConfig::default()).segment(&img);
        assert_eq!(items.len(), 1);
        assert!(items[0].touches_border);
    }

    #[test]
    fn dark_crack_does_not_split_or_hole_the_item() {
        let mut img = belt_with_discs(&[(320, 180, 80)]);
        imageproc::drawing::draw_filled_rect_mut(
            &mut img,
            imageproc::rect::Rect::at(300, 140).of_size(60, 4),
            Rgb([50, 52, 55]),
        );
        let items = Segmenter::new(SegmentConfig::default()).segment(&img);
        assert_eq!(items.len(), 1);
        let expected = std::f32::consts::PI * 80.0 * 80.0;
        assert!(
            (items[0].area as f32 - expected).abs() / expected < 0.05,
            "{} vs {expected}: {:?}",
            items[0].area,
            items[0].bbox
        );
    }

    #[test]
    fn shadow_is_belt_but_dark_item_is_not() {
        let belt = [90, 92, 85];
        // 60 % of the belt colour: a shadow.
        assert!(belt_distance([54, 55, 51], belt) < 20);
        // A dark brown item is far from the belt.
        assert!(belt_distance([70, 40, 20], belt) > 60);
        // Brighter than the belt is never a shadow.
        assert_eq!(
            belt_distance([200, 150, 90], belt),
            color_l1([200, 150, 90], belt)
        );
    }

    /// A grey belt whose upper fifth lies in a deep shadow (15 % of the lit belt, slightly
    /// warm, as under a tray wall) that lightens over the next third, with mild sensor noise.
    fn belt_with_deep_shadow() -> RgbImage {
        let mut img = RgbImage::new(640, 480);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let light = (0.15 + 0.85 * (y as f32 - 100.0) / 160.0).clamp(0.15, 1.0);
            let n = ((x as usize * 7919 + y as usize * 104_729) % 7) as f32;
            p.0 = [
                (116.0 * light + n + 4.0 * (1.0 - light)) as u8,
                (116.0 * light + n) as u8,
                (106.0 * light + n) as u8,
            ];
        }
        img
    }

    #[test]
    fn deep_shadow_on_the_belt_does_not_join_the_item() {
        let mut img = belt_with_deep_shadow();
        // A cookie whose top lies in the shadow, and a roasted coffee bean on the lit belt.
        imageproc::drawing::draw_filled_circle_mut(&mut img, (220, 130), 60, Rgb([220, 170, 100]));
        imageproc::drawing::draw_filled_circle_mut(&mut img, (480, 380), 30, Rgb([40, 25, 10]));
        let items = Segmenter::new(SegmentConfig::default()).segment(&img);
        assert_eq!(
            items.len(),
            2,
            "{:?}",
            items.iter().map(|i| i.bbox).collect::<Vec<_>>()
        );
        let cookie = items[0].bbox;
        assert!(
            cookie.y >= 65 && cookie.y + cookie.h <= 195 && cookie.w <= 130,
            "the cookie's box takes in the shadow: {cookie:?}"
        );
        let expected = std::f32::consts::PI * 60.0 * 60.0;
        assert!(
            (items[0].area as f32 - expected).abs() / expected < 0.05,
            "{}",
            items[0].area
        );
        let bean = items[1].bbox;
        assert!(bean.x >= 445 && bean.x + bean.w <= 515, "{bean:?}");
    }

    #[test]
    fn border_trace_matches_imageproc_contours() {
        // Random blobs: the largest component of each, holes filled, as item masks are.
        for seed in 0..30u64 {
            let mut st = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = || {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                st
            };
            let (w, h) = (20 + (next() % 40) as u32, 15 + (next() % 40) as u32);
            let mut m = GrayImage::new(w, h);
            for _ in 0..(3 + next() % 6) {
                let (cx, cy, r) = (next() % u64::from(w), next() % u64::from(h), 2 + next() % 9);
                imageproc::drawing::draw_filled_circle_mut(
                    &mut m,
                    (cx as i32, cy as i32),
                    r as i32,
                    image::Luma([255]),
                );
            }
            for _ in 0..(next() % 40) {
                let (x, y) = (
                    (next() % u64::from(w)) as u32,
                    (next() % u64::from(h)) as u32,
                );
                m.put_pixel(x, y, image::Luma([0]));
            }
            let mut comps = Components::default();
            comps.label(&m);
            let Some((best, _)) = comps
                .components
                .iter()
                .enumerate()
                .max_by_key(|(_, c)| c.area)
            else {
                continue;
            };
            let mut item = GrayImage::new(w, h);
            for r in comps.runs_of(best as u32) {
                for x in r.x0..r.x1 {
                    item.put_pixel(x, r.y, image::Luma([255]));
                }
            }
            fill_holes(&mut item);
            // imageproc on the mask padded by one pixel (so borders on the crop edge count),
            // as `outer_contour` did before it traced the border itself.
            let mut padded = GrayImage::new(w + 2, h + 2);
            image::imageops::replace(&mut padded, &item, 1, 1);
            let theirs: Vec<_> = imageproc::contours::find_contours::<i32>(&padded)
                .into_iter()
                .filter(|c| c.parent.is_none())
                .max_by_key(|c| c.points.len())
                .expect("one outer border")
                .points
                .iter()
                .map(|p| imageproc::point::Point::new(p.x - 1, p.y - 1))
                .collect();
            assert_eq!(trace_outer_border(&item), theirs, "seed {seed}");
        }
        assert!(trace_outer_border(&GrayImage::new(4, 3)).is_empty());
        let mut dot = GrayImage::new(4, 3);
        dot.put_pixel(2, 1, image::Luma([255]));
        assert_eq!(
            trace_outer_border(&dot),
            vec![imageproc::point::Point::new(2, 1)]
        );
    }

    #[test]
    fn fast_division_is_exact() {
        for n in 1..=300u32 {
            let d = ExactDiv::new(n);
            for a in 0..=(255 * n).min(70_000) {
                assert_eq!(d.of(a), a / n, "{a} / {n}");
            }
        }
    }

    #[test]
    fn tiny_and_odd_frames_do_not_panic() {
        for (w, h) in [(1, 1), (7, 3), (37, 23), (321, 1)] {
            let img = RgbImage::from_pixel(w, h, Rgb([200, 10, 10]));
            let _ = Segmenter::new(SegmentConfig::default()).segment(&img);
        }
    }
}
