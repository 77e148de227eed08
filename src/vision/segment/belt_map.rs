//! The belt colour over the frame: medians of a coarse grid of cells, shaded belt grown into
//! covered cells, hidden cells filled from their neighbours, interpolated per work pixel.

use image::GrayImage;

use super::colour::belt_distance;
use crate::imageio::grid;

/// Belt colour over the frame on a coarse grid, interpolated between cell centres.
#[derive(Clone, Debug)]
pub struct BackgroundMap {
    cols: u32,
    rows: u32,
    /// Cell side in work pixels.
    cell: u32,
    /// Work pixels per frame pixel (integer downscale factor).
    pub(super) scale: u32,
    colors: Vec<[f32; 3]>,
    /// Interpolated colour of every work pixel (filled once per frame).
    pub(super) work: Vec<[u8; 3]>,
    pub(super) work_w: u32,
    pub(super) work_h: u32,
}

impl BackgroundMap {
    /// Median belt colour of each cell from the pixels outside `fg`; cells covered by items
    /// take the colour of their neighbours (or `fallback` when the whole frame is covered).
    pub(super) fn estimate(
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
        let cells = CellStats::measure(px, fg, (w, h), cell, (cols, rows));
        let CellStats {
            mut colors,
            covered,
            mut belt_spreads,
        } = cells;
        // A shaded cell may be as uneven as the belt itself, or half a step.
        let max_spread = if belt_spreads.is_empty() {
            0
        } else {
            let k = belt_spreads.len() / 2;
            let typical = *belt_spreads.select_nth_unstable(k).1;
            (u16::from(typical) * 2).max(step / 2)
        };
        grow_shaded_belt(&mut colors, &covered, (cols, rows), step, max_spread);
        let fb = [
            f32::from(fallback[0]),
            f32::from(fallback[1]),
            f32::from(fallback[2]),
        ];
        fill_hidden_cells(&mut colors, (cols, rows), fb);
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
        map.interpolate();
        map
    }

    /// Fills the colour of every work pixel: bilinear between cell centres. The horizontal
    /// blend along every row of cells is worked out once per column (`tops[r][x]`), then each
    /// work pixel blends two of them.
    fn interpolate(&mut self) {
        let (cols, rows, cell) = (self.cols as usize, self.rows as usize, self.cell as f32);
        let (w, h) = (self.work_w as usize, self.work_h as usize);
        let colors = &self.colors;
        let tops: Vec<[f32; 3]> = (0..rows)
            .flat_map(|r| (0..w).map(move |x| (r, x)))
            .map(|(r, x)| {
                let (c0, c1, fx) = grid::axis(x, cell, cols);
                let (a, b) = (colors[r * cols + c0], colors[r * cols + c1]);
                std::array::from_fn(|ch| a[ch] + (b[ch] - a[ch]) * fx)
            })
            .collect();
        self.work.resize(w * h, [0; 3]);
        for (y, out) in self.work.chunks_exact_mut(w).enumerate() {
            let (r0, r1, fy) = grid::axis(y, cell, rows);
            let top = tops[r0 * w..(r0 + 1) * w].as_flattened();
            let bottom = tops[r1 * w..(r1 + 1) * w].as_flattened();
            // Channel by channel over the flat row: the loop vectorises.
            for ((o, t), b) in out.as_flattened_mut().iter_mut().zip(top).zip(bottom) {
                // Same as `.round().clamp(0.0, 255.0) as u8` without a libm call per pixel.
                *o = ((t + (b - t) * fy).clamp(0.0, 255.0) + 0.5) as u8;
            }
        }
    }

    /// Belt colour at a work-resolution pixel.
    #[inline]
    pub(super) fn at_work(&self, x: u32, y: u32) -> [u8; 3] {
        self.work[(y * self.work_w + x) as usize]
    }

    /// Belt colour at a frame pixel (that of the work pixel it falls in).
    pub fn at_frame(&self, x: u32, y: u32) -> [u8; 3] {
        let wx = (x / self.scale).min(self.work_w - 1);
        let wy = (y / self.scale).min(self.work_h - 1);
        self.at_work(wx, wy)
    }
}

/// What the cells of the grid show: the belt colour where enough belt is seen, else the
/// colour and spread of the covered cell.
struct CellStats {
    /// Median belt colour of each cell with enough belt pixels, `None` for covered cells.
    colors: Vec<Option<[f32; 3]>>,
    /// Median colour and spread of every covered cell over all its pixels.
    covered: Vec<([u8; 3], u8)>,
    /// Spread of each belt cell, for `grow_shaded_belt`.
    belt_spreads: Vec<u8>,
}

impl CellStats {
    /// Measures the `cols x rows` cells of side `cell` over the `w x h` work image `px`,
    /// whose item pixels are set in `fg`.
    fn measure(
        px: &[[u8; 3]],
        fg: &GrayImage,
        (w, h): (u32, u32),
        cell: u32,
        (cols, rows): (u32, u32),
    ) -> Self {
        let mut colors: Vec<Option<[f32; 3]>> = vec![None; (cols * rows) as usize];
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
        Self {
            colors,
            covered,
            belt_spreads,
        }
    }
}

/// Fills cells hidden by items from their neighbours, ring by ring (all with `fallback` when
/// no cell shows belt).
fn fill_hidden_cells(
    colors: &mut [Option<[f32; 3]>],
    (cols, rows): (u32, u32),
    fallback: [f32; 3],
) {
    if colors.iter().all(Option::is_none) {
        colors.iter_mut().for_each(|c| *c = Some(fallback));
    }
    while colors.iter().any(Option::is_none) {
        let snapshot = colors.to_vec();
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
