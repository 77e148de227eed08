//! What every defect needs to know about the item it goes on: its size, its colour statistics,
//! and how far each pixel lies from its outline. All defect parameters are relative to these.

use super::rng::Rng;
use super::{ItemImage, Role, SyntheticDefectError};

/// Smallest item a defect is made on, as equivalent diameter in pixels: below this the
/// thinnest defects (1 % of the diameter) are far under one pixel.
pub const MIN_DIAMETER: f32 = 16.0;

/// Smallest intensity spread used to size contrasts, in grey levels (of 255): on a perfectly
/// even item a contrast of "one spread" would otherwise be invisible.
const MIN_SPREAD: f32 = 8.0;

/// Mask values above this are item pixels.
const ITEM_LEVEL: u8 = 127;

/// Cells of the depth grid across the item's equivalent diameter (at most; never finer than a
/// pixel): depths are known to about 2 % of the diameter, ample for placing defects.
const DEPTH_CELLS: f32 = 48.0;

/// An item crop with its statistics.
pub(super) struct Item<'a> {
    pub rgb: &'a image::RgbImage,
    pub mask: &'a image::GrayImage,
    pub width: u32,
    pub height: u32,
    /// Item pixels.
    pub area: u32,
    /// Equivalent diameter: that of a disc of the item's area, in pixels.
    pub diameter: f32,
    /// Mean colour of the item pixels.
    pub mean: [f32; 3],
    /// Mean luma of the item pixels.
    pub luma: f32,
    /// Standard deviation of the item's luma, at least [`MIN_SPREAD`].
    pub spread: f32,
    /// Mean colour of the item's darkest tenth (by luma): the colour of its own shadows and
    /// dark parts, what a crack or a burnt speck on it turns toward.
    pub shadow: [f32; 3],
    /// Bounding box of the item pixels: `x0, y0, x1, y1` (end exclusive).
    pub bbox: [u32; 4],
    /// Depths on a grid of `cell`-pixel cells (see [`Depths`]).
    depths: Depths,
}

/// Rec. 601 luma of a colour.
pub(super) fn luma(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

impl<'a> Item<'a> {
    /// Checks sizes and measures the item; `role` names it in errors.
    pub(super) fn analyse(img: ItemImage<'a>, role: Role) -> Result<Self, SyntheticDefectError> {
        let (width, height) = img.rgb.dimensions();
        if img.mask.dimensions() != (width, height) {
            return Err(SyntheticDefectError::SizeMismatch {
                role,
                rgb: (width, height),
                mask: img.mask.dimensions(),
            });
        }
        // One pass: pixel count and colour sums per (integer) luma level, and the box.
        let mut count = [0u32; 256];
        let mut sums = [[0u32; 3]; 256];
        let mut bbox = [u32::MAX, u32::MAX, 0, 0];
        let w = width as usize;
        let rows = img.mask.as_raw().chunks_exact(w.max(1));
        for (y, (row, px)) in rows
            .zip(img.rgb.as_raw().chunks_exact(3 * w.max(1)))
            .enumerate()
        {
            let mut first = None;
            let mut last = 0;
            for (x, (m, p)) in row.iter().zip(px.chunks_exact(3)).enumerate() {
                if *m <= ITEM_LEVEL {
                    continue;
                }
                let (r, g, b) = (u32::from(p[0]), u32::from(p[1]), u32::from(p[2]));
                let l = ((77 * r + 150 * g + 29 * b + 128) >> 8) as usize;
                count[l] += 1;
                sums[l][0] += r;
                sums[l][1] += g;
                sums[l][2] += b;
                first.get_or_insert(x);
                last = x;
            }
            if let Some(first) = first {
                let y = y as u32;
                bbox = [
                    bbox[0].min(first as u32),
                    bbox[1].min(y),
                    bbox[2].max(last as u32 + 1),
                    bbox[3].max(y + 1),
                ];
            }
        }
        let area: u32 = count.iter().sum();
        if area == 0 {
            return Err(SyntheticDefectError::EmptyMask { role });
        }
        let diameter = (4.0 * area as f32 / std::f32::consts::PI).sqrt();
        if diameter < MIN_DIAMETER {
            return Err(SyntheticDefectError::TooSmall {
                role,
                diameter,
                min: MIN_DIAMETER,
            });
        }
        let (mut total, mut sq, mut shadow, mut dark) = ([0f64; 3], 0f64, [0f64; 3], 0u32);
        for (l, (n, s)) in count.iter().zip(&sums).enumerate() {
            let s = s.map(f64::from);
            for c in 0..3 {
                total[c] += s[c];
            }
            sq += f64::from(*n) * (l * l) as f64;
            // The darkest tenth: whole levels until a tenth of the pixels are in.
            if dark * 10 < area {
                dark += n;
                for c in 0..3 {
                    shadow[c] += s[c];
                }
            }
        }
        let n = f64::from(area);
        let mean = total.map(|s| (s / n) as f32);
        let l = f64::from(luma(mean));
        let spread = ((sq / n - l * l).max(0.0).sqrt() as f32).max(MIN_SPREAD);
        let shadow = shadow.map(|s| (s / f64::from(dark.max(1))) as f32);
        let cell = ((diameter / DEPTH_CELLS) as u32).max(1);
        Ok(Self {
            rgb: img.rgb,
            mask: img.mask,
            width,
            height,
            area,
            diameter,
            mean,
            luma: luma(mean),
            spread,
            shadow,
            bbox,
            depths: Depths::new(img.mask, cell),
        })
    }

    /// True when `(x, y)` is an item pixel (false off the crop).
    pub(super) fn is_item(&self, x: i64, y: i64) -> bool {
        x >= 0
            && y >= 0
            && x < i64::from(self.width)
            && y < i64::from(self.height)
            && self.mask.as_raw()[(y as usize) * self.width as usize + x as usize] > ITEM_LEVEL
    }

    /// Distance of pixel `(x, y)` to the item's outline, in pixels, to within a cell of the
    /// depth grid (0 near or off the item's edge).
    pub(super) fn depth(&self, x: u32, y: u32) -> f32 {
        self.depths.at(x, y)
    }

    /// A random point inside the item at least `depth` pixels from its outline (or, when the
    /// item is too thin for that, the deepest of the points tried, which are all on the item).
    /// Returns pixel centres.
    pub(super) fn sample_inside(&self, rng: &mut Rng, depth: f32) -> (f32, f32) {
        let need = depth.min(0.8 * self.depths.max()).max(0.0);
        let [x0, y0, x1, y1] = self.bbox;
        let mut best = None::<(f32, u32, u32)>;
        let mut any = None;
        for _ in 0..600 {
            let x = x0 + ((x1 - x0) as f32 * rng.unit()) as u32;
            let y = y0 + ((y1 - y0) as f32 * rng.unit()) as u32;
            let (x, y) = (x.min(x1 - 1), y.min(y1 - 1));
            if !self.is_item(i64::from(x), i64::from(y)) {
                continue;
            }
            any.get_or_insert((x, y));
            let d = self.depth(x, y);
            if d >= need && d > 0.0 {
                return (x as f32 + 0.5, y as f32 + 0.5);
            }
            if best.is_none_or(|b| d > b.0) {
                best = Some((d, x, y));
            }
        }
        match best.filter(|b| b.0 > 0.0).map(|b| (b.1, b.2)).or(any) {
            Some((x, y)) => (x as f32 + 0.5, y as f32 + 0.5),
            None => self.some_pixel(),
        }
    }

    /// The centre of the first item pixel in raster order.
    fn some_pixel(&self) -> (f32, f32) {
        let w = self.width as usize;
        let i = self
            .mask
            .as_raw()
            .iter()
            .position(|&m| m > ITEM_LEVEL)
            .unwrap_or(0);
        ((i % w) as f32 + 0.5, (i / w) as f32 + 0.5)
    }

    /// Item pixels on the outline: with a 4-neighbour inside the crop that is not item. Falls
    /// back to the item pixels on the crop's border when the item fills its crop.
    pub(super) fn rim(&self) -> Vec<(u32, u32)> {
        let mut rim = Vec::new();
        let mut border = Vec::new();
        let [x0, y0, x1, y1] = self.bbox;
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        for y in y0..y1 {
            for x in x0..x1 {
                let (xi, yi) = (i64::from(x), i64::from(y));
                if !self.is_item(xi, yi) {
                    continue;
                }
                let mut edge = false;
                for (nx, ny) in [(xi + 1, yi), (xi - 1, yi), (xi, yi + 1), (xi, yi - 1)] {
                    if nx < 0 || ny < 0 || nx >= w || ny >= h {
                        edge = true;
                    } else if !self.is_item(nx, ny) {
                        rim.push((x, y));
                        edge = false;
                        break;
                    }
                }
                if edge {
                    border.push((x, y));
                }
            }
        }
        if rim.is_empty() { border } else { rim }
    }
}

/// Distances to the item's outline on a coarse grid: a cell is item only when all its pixels
/// are; chamfer (3-4) distances between cells, outside the crop counting as non-item.
struct Depths {
    /// Cell side in pixels.
    cell: u32,
    /// Grid width in cells.
    gw: usize,
    /// Chamfer distances in thirds of a cell, framed by a cell of zeros (row length
    /// `gw + 2`), so the passes need no bounds checks.
    dist: Vec<u16>,
    /// Largest distance.
    max: u16,
}

impl Depths {
    fn new(mask: &image::GrayImage, cell: u32) -> Self {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let c = cell as usize;
        let (gw, gh) = (w.div_ceil(c), h.div_ceil(c));
        let pw = gw + 2;
        // A cell is item when every pixel of it is (cells over the crop's edge are not).
        let mut full = vec![true; gw * gh];
        for (y, row) in mask.as_raw().chunks_exact(w.max(1)).enumerate() {
            let cells = &mut full[(y / c) * gw..(y / c + 1) * gw];
            for (x, &m) in row.iter().enumerate() {
                if m <= ITEM_LEVEL {
                    cells[x / c] = false;
                }
            }
        }
        for (x, v) in full.iter_mut().enumerate() {
            let (gx, gy) = (x % gw, x / gw);
            if (gx + 1) * c > w || (gy + 1) * c > h {
                *v = false;
            }
        }
        const BIG: u16 = u16::MAX - 8;
        let mut d = vec![0u16; pw * (gh + 2)];
        for (gy, row) in full.chunks_exact(gw).enumerate() {
            for (gx, &f) in row.iter().enumerate() {
                d[(gy + 1) * pw + gx + 1] = if f { BIG } else { 0 };
            }
        }
        for y in 1..=gh {
            for i in y * pw + 1..y * pw + 1 + gw {
                if d[i] != 0 {
                    let v = (d[i - 1] + 3)
                        .min(d[i - pw] + 3)
                        .min(d[i - pw - 1] + 4)
                        .min(d[i - pw + 1] + 4);
                    d[i] = d[i].min(v);
                }
            }
        }
        for y in (1..=gh).rev() {
            for i in (y * pw + 1..y * pw + 1 + gw).rev() {
                if d[i] != 0 {
                    let v = (d[i + 1] + 3)
                        .min(d[i + pw] + 3)
                        .min(d[i + pw + 1] + 4)
                        .min(d[i + pw - 1] + 4);
                    d[i] = d[i].min(v);
                }
            }
        }
        let max = d.iter().copied().max().unwrap_or(0);
        Self {
            cell,
            gw,
            dist: d,
            max,
        }
    }

    /// Depth of pixel `(x, y)` in pixels: its cell's distance, less half a cell.
    fn at(&self, x: u32, y: u32) -> f32 {
        let (gx, gy) = ((x / self.cell) as usize, (y / self.cell) as usize);
        let d = self.dist[(gy + 1) * (self.gw + 2) + gx + 1];
        self.pixels(d)
    }

    /// The largest depth, in pixels.
    fn max(&self) -> f32 {
        self.pixels(self.max)
    }

    fn pixels(&self, d: u16) -> f32 {
        if d == 0 {
            0.0
        } else {
            (f32::from(d) / 3.0 - 0.5) * self.cell as f32
        }
    }
}
