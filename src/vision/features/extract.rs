//! Measuring one item: colour, lightness and texture over its interior, item-level sums in
//! one pass and patch-level measurements in a second, on per-thread scratch buffers.

use image::{GrayImage, RgbImage};

use super::super::morph::{self, Outside};
use super::super::segment::ItemRegion;
use super::{
    CELLS_ACROSS, COLOUR_BINS, ItemFeatures, ItemGeometry, PatchCell, PatchGrid, colour_bin,
    histogram_quantile, item_geometry, lightness, merge_histograms, opponent, shape_features,
};

/// Buffers reused by [`extract`] on each thread: an item crop can be 250 000 pixels, and
/// fresh buffers of that size cost page faults on every item.
#[derive(Default)]
struct Scratch {
    interior: Vec<u8>,
    l: Vec<f32>,
    grad: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Sums over the interior pixels of one patch. Sums of `a` and `2b` are whole numbers and
/// kept exact in integers.
#[derive(Clone, Copy, Default)]
struct CellSums {
    n: u32,
    l: f64,
    ll: f64,
    a: i64,
    b2: i64,
    grad: f64,
    n_grad: u32,
    dark: u32,
    /// Gradient sum and count including zero gradients (for the item's mean).
    grad_all: f64,
    n_grad_all: u32,
    bright: u32,
    odd: u32,
}

/// Measure one item of `frame`.
pub fn extract(frame: &RgbImage, region: &ItemRegion) -> ItemFeatures {
    SCRATCH.with(|s| extract_with(frame, region, &mut s.borrow_mut()))
}

fn extract_with(frame: &RgbImage, region: &ItemRegion, scratch: &mut Scratch) -> ItemFeatures {
    let bb = region.bbox;
    let (w, h) = (bb.w as usize, bb.h as usize);
    let geo = item_geometry(region);
    let interior = eroded_interior(region, &geo, std::mem::take(&mut scratch.interior));
    let inside = interior.as_raw();
    let crop = Crop {
        raw: frame.as_raw(),
        fw: frame.width() as usize,
        x0: bb.x as usize,
        y0: bb.y as usize,
        w,
    };
    let px = PixelStats::measure(&crop, inside, h, &mut scratch.l);
    gradient(inside, &scratch.l, w, h, &mut scratch.grad);
    let patches = PatchStats::measure(&crop, inside, h, (&scratch.l, &scratch.grad), &geo, &px);
    scratch.interior = interior.into_raw();
    let grad_hist = merge_histograms(&patches.grad_hists);

    let n_in = px.n_in;
    let std = |s: f64, ss: f64| (ss / n_in - (s / n_in).powi(2)).max(0.0).sqrt();
    let shape = shape_features(region, &geo);
    let item = vec![
        px.mean_l,
        px.mean_a,
        px.mean_b,
        std(px.sl, px.sll),
        std(px.sa, px.saa),
        std(px.sb, px.sbb),
        patches.dark as f64 / n_in,
        patches.bright as f64 / n_in,
        patches.odd as f64 / n_in,
        patches.g_sum / (patches.g_n as f64).max(1.0),
        histogram_quantile(&grad_hist, 0.95),
        f64::from(region.area.max(1)).ln(),
        shape.circularity,
        shape.solidity,
        shape.elongation,
        shape.hull_gap,
        shape.radius_cv,
    ];
    ItemFeatures {
        item,
        colour_hist: px.colour_hist,
        patches: PatchGrid {
            x0: bb.x,
            y0: bb.y,
            cell: patches.cell,
            cols: patches.cols,
            rows: patches.rows,
            cells: patches.cells,
        },
    }
}

/// The item's interior: its mask eroded away from the outline, where colour is not mixed
/// with the belt (in `buf`, reused).
fn eroded_interior(region: &ItemRegion, geo: &ItemGeometry, mut buf: Vec<u8>) -> GrayImage {
    let bb = region.bbox;
    let erode_by = ((geo.equiv_diameter / 60.0).round() as u8).clamp(1, 4);
    buf.clear();
    buf.extend_from_slice(region.mask.as_raw());
    let mut interior = GrayImage::from_raw(bb.w, bb.h, buf).expect("mask matches its box");
    morph::erode(&mut interior, u32::from(erode_by), Outside::Background);
    interior
}

/// The item's bounding box in the frame's raw RGB bytes.
struct Crop<'a> {
    raw: &'a [u8],
    /// Frame width, pixels.
    fw: usize,
    x0: usize,
    y0: usize,
    /// Crop width, pixels.
    w: usize,
}

impl Crop<'_> {
    /// The RGB bytes of crop row `y`.
    #[inline]
    fn row(&self, y: usize) -> &[u8] {
        let start = ((self.y0 + y) * self.fw + self.x0) * 3;
        &self.raw[start..start + self.w * 3]
    }
}

/// Pass 1 over the interior: colour histogram, L histogram, and the sums of L, a and b.
struct PixelStats {
    colour_hist: Vec<u32>,
    /// Interior pixels (at least 1).
    n_in: f64,
    sl: f64,
    sll: f64,
    sa: f64,
    saa: f64,
    sb: f64,
    sbb: f64,
    mean_l: f64,
    mean_a: f64,
    mean_b: f64,
    median_l: f32,
}

impl PixelStats {
    /// Measures the interior (`inside`, crop-sized) of `crop` (`h` rows) and writes the L of
    /// every crop pixel to `l` (kept for the gradient). L sums are f64 in raster order; the
    /// sums of a and 2b are whole numbers, kept exact in integers.
    fn measure(crop: &Crop<'_>, inside: &[u8], h: usize, l: &mut Vec<f32>) -> Self {
        let w = crop.w;
        l.clear();
        l.resize(w * h, 0.0);
        let mut colour_hist = vec![0u32; COLOUR_BINS];
        // Histograms are counted in four interleaved copies (by column) and summed: neighbouring
        // pixels mostly fall in the same bin, and one copy would serialise on that counter.
        let mut hists = [[0u32; 256]; 4];
        // L sums in two lanes (even and odd columns) to halve the chain of dependent adds.
        let (mut sl, mut sll) = ([0f64; 2], [0f64; 2]);
        let (mut sa, mut saa, mut sb2, mut sbb4) = (0i64, 0i64, 0i64, 0i64);
        let mut count = 0u64;
        for y in 0..h {
            let lrow = &mut l[y * w..(y + 1) * w];
            // L of the whole row first: a branch-free loop the compiler vectorises.
            for (p, lo) in crop.row(y).chunks_exact(3).zip(lrow.iter_mut()) {
                *lo = lightness([p[0], p[1], p[2]]);
            }
            let mrow = &inside[y * w..(y + 1) * w];
            for (x, ((p, &pl), &m)) in crop
                .row(y)
                .chunks_exact(3)
                .zip(lrow.iter())
                .zip(mrow)
                .enumerate()
            {
                let p = [p[0], p[1], p[2]];
                if m != 0 {
                    count += 1;
                    colour_hist[colour_bin(p)] += 1;
                    let (pa, pb2) = opponent(p);
                    sa += i64::from(pa);
                    saa += i64::from(pa * pa);
                    sb2 += i64::from(pb2);
                    sbb4 += i64::from(pb2 * pb2);
                    let pl64 = f64::from(pl);
                    sl[x & 1] += pl64;
                    sll[x & 1] += pl64 * pl64;
                    // Through i32: the same bin as `pl.clamp(0.0, 255.0) as usize` for every
                    // f32 (NaN too), without the long float-to-usize conversion.
                    hists[x & 3][(pl as i32).clamp(0, 255) as usize] += 1;
                }
            }
        }
        let n_in = count.max(1) as f64;
        let (sl, sll) = (sl[0] + sl[1], sll[0] + sll[1]);
        let (sa, saa) = (sa as f64, saa as f64);
        let (sb, sbb) = (sb2 as f64 / 2.0, sbb4 as f64 / 4.0);
        let hist = merge_histograms(&hists);
        let mean = |s: f64| s / n_in;
        Self {
            colour_hist,
            n_in,
            sl,
            sll,
            sa,
            saa,
            sb,
            sbb,
            mean_l: mean(sl),
            mean_a: mean(sa),
            mean_b: mean(sb),
            median_l: histogram_quantile(&hist, 0.5) as f32,
        }
    }
}

/// Gradient magnitude (central differences) of `l` where the pixel and its four neighbours
/// are inside, -1 elsewhere, into `grad`: whole rows of straight-line f32 work the compiler
/// vectorises.
fn gradient(inside: &[u8], l: &[f32], w: usize, h: usize, grad: &mut Vec<f32>) {
    grad.clear();
    grad.resize(w * h, -1.0);
    if w < 3 {
        return;
    }
    for y in 1..h.saturating_sub(1) {
        let row = y * w;
        let (up, mid, down) = (
            &inside[row - w..row],
            &inside[row..row + w],
            &inside[row + w..row + 2 * w],
        );
        let (lu, lm, ld) = (&l[row - w..row], &l[row..row + w], &l[row + w..row + 2 * w]);
        let out = &mut grad[row + 1..row + w - 1];
        for (k, g) in out.iter_mut().enumerate() {
            let x = k + 1;
            let cross = (up[x] & down[x] & mid[x - 1] & mid[x] & mid[x + 1]) != 0;
            let v = 0.5 * ((lm[x + 1] - lm[x - 1]).abs() + (ld[x] - lu[x]).abs());
            *g = if cross { v } else { -1.0 };
        }
    }
}

/// Pass 2, patch by patch: the gradient histogram and sums, the dark / bright / odd-colour
/// counts, and the measured patches.
struct PatchStats {
    cell: u32,
    cols: u32,
    rows: u32,
    cells: Vec<PatchCell>,
    grad_hists: [[u32; 256]; 4],
    g_sum: f64,
    g_n: u64,
    dark: u64,
    bright: u64,
    odd: u64,
}

impl PatchStats {
    /// Measures the patches of `crop` (`h` rows) from its interior, L and gradient
    /// (`(l, grad)`, crop-sized) against the item-level statistics `px`.
    fn measure(
        crop: &Crop<'_>,
        inside: &[u8],
        h: usize,
        (l, grad): (&[f32], &[f32]),
        geo: &ItemGeometry,
        px: &PixelStats,
    ) -> Self {
        let median_l = px.median_l;
        let cuts = Cuts {
            dark: 0.6 * median_l,
            bright: median_l + 0.5 * (255.0 - median_l),
            mean_a: px.mean_a,
            mean_b: px.mean_b,
        };
        let planes = Planes {
            crop,
            inside,
            l,
            grad,
        };
        let cell = ((geo.equiv_diameter / CELLS_ACROSS).round() as u32).max(4);
        let w = crop.w;
        let cols = (w as u32).div_ceil(cell);
        let rows = (h as u32).div_ceil(cell);
        let radius = (geo.equiv_diameter / 2.0).max(1.0);
        let mut cells = Vec::new();
        let mut grad_hists = [[0u32; 256]; 4];
        let (mut g_sum, mut g_n) = (0f64, 0u64);
        let (mut dark, mut bright, mut odd) = (0u64, 0u64, 0u64);
        let cs = cell as usize;
        for row in 0..rows {
            let (cy0, cy1) = (row as usize * cs, ((row as usize + 1) * cs).min(h));
            for col in 0..cols {
                let (cx0, cx1) = (col as usize * cs, ((col as usize + 1) * cs).min(w));
                let s = CellSums::measure(&planes, (cx0, cx1), (cy0, cy1), &cuts, &mut grad_hists);
                g_sum += s.grad_all;
                g_n += u64::from(s.n_grad_all);
                dark += u64::from(s.dark);
                bright += u64::from(s.bright);
                odd += u64::from(s.odd);
                let area = ((cx1 - cx0) * (cy1 - cy0)) as f64;
                let n = f64::from(s.n);
                if n < 0.4 * area || n < 4.0 {
                    continue;
                }
                let ccx = crop.x0 as f32 + (cx0 + cx1) as f32 / 2.0;
                let ccy = crop.y0 as f32 + (cy0 + cy1) as f32 / 2.0;
                let r = ((ccx - geo.centroid.0).powi(2) + (ccy - geo.centroid.1).powi(2)).sqrt()
                    / radius;
                cells.push(PatchCell {
                    col,
                    row,
                    ring: ring_of(r),
                    values: s.values(n, &cuts, median_l),
                });
            }
        }
        Self {
            cell,
            cols,
            rows,
            cells,
            grad_hists,
            g_sum,
            g_n,
            dark,
            bright,
            odd,
        }
    }
}

/// The per-pixel planes of a crop that pass 2 reads: the frame bytes, the interior, L and
/// the gradient (each crop-sized).
struct Planes<'a> {
    crop: &'a Crop<'a>,
    inside: &'a [u8],
    l: &'a [f32],
    grad: &'a [f32],
}

/// Item-level levels a patch's pixels are judged against.
struct Cuts {
    /// Darker than this is a dark pixel.
    dark: f32,
    /// Brighter than this is a bright pixel.
    bright: f32,
    /// The item's mean opponent colours.
    mean_a: f64,
    mean_b: f64,
}

/// The ring of a patch whose centre is `r` item radii from the item's centroid.
fn ring_of(r: f32) -> usize {
    if r < 0.45 {
        0
    } else if r < 0.75 {
        1
    } else {
        2
    }
}

impl CellSums {
    /// The patch features of these sums over `n` pixels, ordered as [`PATCH_FEATURES`].
    #[inline]
    fn values(&self, n: f64, cuts: &Cuts, median_l: f32) -> [f64; 6] {
        let s = self;
        let ml = s.l / n;
        [
            ml - f64::from(median_l),
            s.a as f64 / n - cuts.mean_a,
            s.b2 as f64 / 2.0 / n - cuts.mean_b,
            (s.ll / n - ml * ml).max(0.0).sqrt(),
            s.grad / f64::from(s.n_grad).max(1.0),
            f64::from(s.dark) / n,
        ]
    }

    /// Sums over the interior pixels of the patch `cx0..cx1` x `cy0..cy1`; the gradients are
    /// also counted into `grad_hists` (four interleaved copies, by column).
    #[inline]
    fn measure(
        planes: &Planes<'_>,
        (cx0, cx1): (usize, usize),
        (cy0, cy1): (usize, usize),
        cuts: &Cuts,
        grad_hists: &mut [[u32; 256]; 4],
    ) -> Self {
        let w = planes.crop.w;
        let mut s = Self::default();
        for y in cy0..cy1 {
            let px = &planes.crop.row(y)[cx0 * 3..cx1 * 3];
            let mrow = &planes.inside[y * w + cx0..y * w + cx1];
            let lrow = &planes.l[y * w + cx0..y * w + cx1];
            let grow = &planes.grad[y * w + cx0..y * w + cx1];
            for (dx, (((p, &m), &pl), &g)) in
                px.chunks_exact(3).zip(mrow).zip(lrow).zip(grow).enumerate()
            {
                if m == 0 {
                    continue;
                }
                let x = cx0 + dx;
                if g >= 0.0 {
                    // As `g.min(255.0) as usize` for g >= 0, through i32.
                    grad_hists[x & 3][(g as i32).min(255) as usize] += 1;
                    s.n_grad_all += 1;
                    s.grad_all += f64::from(g);
                    if g > 0.0 {
                        s.grad += f64::from(g);
                        s.n_grad += 1;
                    }
                }
                let is_dark = pl < cuts.dark;
                s.dark += u32::from(is_dark);
                s.bright += u32::from(pl > cuts.bright);
                let (pa, pb2) = opponent([p[0], p[1], p[2]]);
                let (pa64, pb64) = (f64::from(pa), f64::from(pb2) / 2.0);
                s.odd += u32::from((pa64 - cuts.mean_a).abs() + (pb64 - cuts.mean_b).abs() > 45.0);
                s.n += 1;
                let pl64 = f64::from(pl);
                s.l += pl64;
                s.ll += pl64 * pl64;
                s.a += i64::from(pa);
                s.b2 += i64::from(pb2);
            }
        }
        s
    }
}
