//! The grade descriptor: colour histograms, browning, texture and spot measures of the main
//! item of an image, product-independent (an apple, a cookie or a coffee bean alike).

use image::{GrayImage, RgbImage, imageops};

use super::descriptor_item::{count_set, main_item, whole_image};
use crate::domain::BBox;
use crate::model::metrics::quantile;
use crate::vision::features::{self, ItemFeatures};
use crate::vision::morph::{self, Outside};
use crate::vision::segment::{ItemRegion, Segmenter};

/// Identifies the definitions of [`DESCRIPTOR_FEATURES`]; bump when any definition changes.
pub const DESCRIPTOR_SET: &str = "foodqc-grade-descriptor-2";

/// Longest side of the copy an image is described on, in pixels: keeps the cost per image
/// small and the texture measures comparable between cameras of different resolution.
pub const DESCRIBE_MAX_SIDE: u32 = 320;

/// Names of the values [`describe_image`] returns, in order. The first 17 are the item
/// features of [`crate::vision::features::ITEM_FEATURES`].
pub const DESCRIPTOR_FEATURES: [&str; 95] = [
    // Item features (colour, texture, shape) of the main item.
    "mean_l",
    "mean_a",
    "mean_b",
    "std_l",
    "std_a",
    "std_b",
    "dark_frac",
    "bright_frac",
    "odd_color_frac",
    "grad_mean",
    "grad_p95",
    "log_area",
    "circularity",
    "solidity",
    "elongation",
    "hull_gap",
    "radius_cv",
    // 1 when an item was found, 0 when the whole image was described.
    //
    // All histogram and share values below are square roots of the share of item pixels
    // (Hellinger mapping).
    "item_found",
    // Hue histogram of the coloured item pixels (30 degree bins, soft), split into dark
    // (value < 0.5) and light pixels: brown is dark orange.
    "hue_000_dark",
    "hue_000_light",
    "hue_030_dark",
    "hue_030_light",
    "hue_060_dark",
    "hue_060_light",
    "hue_090_dark",
    "hue_090_light",
    "hue_120_dark",
    "hue_120_light",
    "hue_150_dark",
    "hue_150_light",
    "hue_180_dark",
    "hue_180_light",
    "hue_210_dark",
    "hue_210_light",
    "hue_240_dark",
    "hue_240_light",
    "hue_270_dark",
    "hue_270_light",
    "hue_300_dark",
    "hue_300_light",
    "hue_330_dark",
    "hue_330_light",
    // Uncoloured item pixels by brightness (with the hues, the shares sum to 1).
    "grey_dark",
    "grey_mid",
    "grey_light",
    // Saturation and value histograms (equal-width bins over 0..1).
    "sat_h0",
    "sat_h1",
    "sat_h2",
    "sat_h3",
    "val_h0",
    "val_h1",
    "val_h2",
    "val_h3",
    "val_h4",
    // Brown (dark orange-yellow) and very dark pixels: browning, rot, burning, mould.
    "brown_frac",
    "very_dark_frac",
    // Circular variance of the hue (0 = one hue, 1 = all hues), saturation-weighted.
    "hue_circ_var",
    "mean_s",
    "std_s",
    "mean_v",
    "std_v",
    // Rotation-invariant uniform local binary patterns, radius 1, 2 and 4 (square rings of 8
    // neighbours) on the grey item interior: bins 0..8 count the
    // brighter neighbours of a uniform pattern, `nu` the non-uniform patterns.
    "lbp1_0",
    "lbp1_1",
    "lbp1_2",
    "lbp1_3",
    "lbp1_4",
    "lbp1_5",
    "lbp1_6",
    "lbp1_7",
    "lbp1_8",
    "lbp1_nu",
    "lbp2_0",
    "lbp2_1",
    "lbp2_2",
    "lbp2_3",
    "lbp2_4",
    "lbp2_5",
    "lbp2_6",
    "lbp2_7",
    "lbp2_8",
    "lbp2_nu",
    "lbp4_0",
    "lbp4_1",
    "lbp4_2",
    "lbp4_3",
    "lbp4_4",
    "lbp4_5",
    "lbp4_6",
    "lbp4_7",
    "lbp4_8",
    "lbp4_nu",
    // Spots: how the patches of the item differ from each other.
    "patch_dark_cells",
    "patch_dl_std",
    "patch_dl_p10",
    "patch_chroma_p90",
];

/// Describe the main item of `img` for grading: the item features of the main item, then
/// colour histograms, browning, texture and spot measures of its pixels. Ordered as
/// [`DESCRIPTOR_FEATURES`].
///
/// The main item is the largest of the segmenter's items and the region that stands out
/// from the colours of the frame border (the segmenter takes the most common colour for the
/// belt, which fails when the product fills most of the frame); pieces of the frame border
/// (belt edges, black corners of rotated photos) are never the main item. When neither
/// finds an item the whole image is described and `item_found` is 0.
///
/// Works on a copy scaled to at most [`DESCRIBE_MAX_SIDE`] pixels. Nothing in it is specific
/// to a product: it describes an apple, a cookie or a coffee bean the same way.
pub fn describe_image(img: &RgbImage, seg: &mut Segmenter) -> Vec<f64> {
    describe_image_known(img, seg, None)
}

/// What an earlier pass over the same photo found (see
/// [`crate::eval::main_items_measured`]): the segmenter's items of the photo at its own size,
/// and the features of some of them by index.
#[derive(Clone, Copy, Debug)]
pub struct KnownItems<'a> {
    /// All items `Segmenter::segment` found in the photo, in its order.
    pub regions: &'a [ItemRegion],
    /// Features of some of those items: (index into `regions`, features).
    pub features: &'a [(usize, ItemFeatures)],
}

/// [`describe_image`] that reuses what an earlier pass over the same photo found instead of
/// segmenting and measuring it again; the result is the same. `known` is used only when the
/// photo is described at its own size (longest side at most [`DESCRIBE_MAX_SIDE`], as item
/// crops are): a larger photo is segmented again on its scaled-down copy.
pub fn describe_image_known(
    img: &RgbImage,
    seg: &mut Segmenter,
    known: Option<KnownItems<'_>>,
) -> Vec<f64> {
    let small = downscale(img, DESCRIBE_MAX_SIDE);
    let known = known.filter(|_| matches!(small, std::borrow::Cow::Borrowed(_)));
    let small: &RgbImage = &small;
    let (region, found, index) = match main_item(small, seg, known.map(|k| k.regions)) {
        Some((r, index)) => (r, true, index),
        None => (whole_image(small), false, None),
    };
    let reuse = index.and_then(|i| {
        known?
            .features
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, f)| f)
    });
    let extracted;
    let f = match reuse {
        Some(f) => f,
        None => {
            extracted = features::extract(small, &region);
            &extracted
        }
    };
    let mut out = Vec::with_capacity(DESCRIPTOR_FEATURES.len());
    out.extend_from_slice(&f.item);
    out.push(if found { 1.0 } else { 0.0 });
    // Colour away from the outline, where pixels are not mixed with the background.
    let mut inner = region.mask.clone();
    morph::erode(&mut inner, 1, Outside::Background);
    let colour_mask = if count_set(&inner) >= 16 {
        &inner
    } else {
        &region.mask
    };
    colour_stats(small, region.bbox, colour_mask, &mut out);
    // Texture where the whole LBP neighbourhood (radius 4) is on the item.
    let mut core = region.mask.clone();
    morph::erode(&mut core, 4, Outside::Background);
    let texture_mask = if count_set(&core) >= 16 {
        &core
    } else {
        &region.mask
    };
    let grey = imageops::grayscale(small);
    for radius in [1, 2, 4] {
        out.extend_from_slice(&lbp_histogram(&grey, region.bbox, texture_mask, radius));
    }
    spot_stats(&f.patches.cells, &mut out);
    debug_assert_eq!(out.len(), DESCRIPTOR_FEATURES.len());
    // Guard the classifier against NaN from degenerate items.
    for v in &mut out {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    out
}

/// A copy of `img` whose longest side is at most `max_side` (the image itself when smaller).
fn downscale(img: &RgbImage, max_side: u32) -> std::borrow::Cow<'_, RgbImage> {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if long <= max_side {
        return std::borrow::Cow::Borrowed(img);
    }
    let (nw, nh) = (
        ((u64::from(w) * u64::from(max_side)) / u64::from(long)).max(1) as u32,
        ((u64::from(h) * u64::from(max_side)) / u64::from(long)).max(1) as u32,
    );
    // `thumbnail` averages the pixels under each target pixel: no aliasing, and fast.
    std::borrow::Cow::Owned(imageops::thumbnail(img, nw, nh))
}

/// Hue in degrees (0..360), saturation and value (0..1) of an RGB pixel.
#[inline]
fn hsv(p: [u8; 3]) -> (f64, f64, f64) {
    let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let v = max / 255.0;
    let s = if max > 0.0 { d / max } else { 0.0 };
    let h = if d <= 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    (h, s, v)
}

/// Pixels less saturated than this, or darker, have no reliable hue.
const MIN_CHROMA_S: f64 = 0.15;
const MIN_CHROMA_V: f64 = 0.12;

/// Hue, grey, saturation and value histograms, browning and HSV moments (31 values).
fn colour_stats(img: &RgbImage, bb: BBox, mask: &GrayImage, out: &mut Vec<f64>) {
    let mut hue = [0f64; 24];
    let mut grey = [0f64; 3];
    let mut sat = [0f64; 4];
    let mut val = [0f64; 5];
    let (mut brown, mut very_dark) = (0f64, 0f64);
    let (mut cx, mut cy, mut cw) = (0f64, 0f64, 0f64);
    let (mut ss, mut sss, mut sv, mut svv, mut n) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (x, y, m) in mask.enumerate_pixels() {
        if m.0[0] == 0 {
            continue;
        }
        let (h, s, v) = hsv(img.get_pixel(bb.x + x, bb.y + y).0);
        n += 1.0;
        ss += s;
        sss += s * s;
        sv += v;
        svv += v * v;
        sat[((s * 4.0) as usize).min(3)] += 1.0;
        val[((v * 5.0) as usize).min(4)] += 1.0;
        if v < 0.2 {
            very_dark += 1.0;
        }
        if (15.0..55.0).contains(&h) && s >= 0.3 && (MIN_CHROMA_V..0.6).contains(&v) {
            brown += 1.0;
        }
        if s >= MIN_CHROMA_S && v >= MIN_CHROMA_V {
            // Soft binning: a hue between two bin centres is shared between them, so a
            // small colour shift does not jump from one bin to the next.
            let pos = h / 30.0 - 0.5;
            let lo = pos.floor();
            let frac = pos - lo;
            let b0 = (lo as i64).rem_euclid(12) as usize;
            let light = usize::from(v >= 0.5);
            hue[2 * b0 + light] += 1.0 - frac;
            hue[2 * ((b0 + 1) % 12) + light] += frac;
            let rad = h.to_radians();
            cx += s * rad.cos();
            cy += s * rad.sin();
            cw += s;
        } else if v < 0.35 {
            grey[0] += 1.0;
        } else if v < 0.7 {
            grey[1] += 1.0;
        } else {
            grey[2] += 1.0;
        }
    }
    let n = n.max(1.0);
    // Square roots of the shares (Hellinger): a small share that appears (a few rotten
    // pixels) moves the vector as much as a large share that changes a little.
    let share = |c: &f64| (c / n).sqrt();
    out.extend(hue.iter().map(share));
    out.extend(grey.iter().map(share));
    out.extend(sat.iter().map(share));
    out.extend(val.iter().map(share));
    out.push(share(&brown));
    out.push(share(&very_dark));
    let resultant = if cw > 0.0 {
        (cx * cx + cy * cy).sqrt() / cw
    } else {
        0.0
    };
    out.push(1.0 - resultant);
    let (ms, mv) = (ss / n, sv / n);
    out.push(ms);
    out.push((sss / n - ms * ms).max(0.0).sqrt());
    out.push(mv);
    out.push((svv / n - mv * mv).max(0.0).sqrt());
}

/// Grey levels a neighbour must exceed the centre by to count as brighter: JPEG noise on
/// flat skin would otherwise look like texture.
const LBP_TOLERANCE: i16 = 3;

/// The 8 neighbours of an LBP code, in bit order, on the square ring at Chebyshev distance
/// `r`.
fn lbp_ring(r: i64) -> [(i64, i64); 8] {
    [
        (r, 0),
        (r, -r),
        (0, -r),
        (-r, -r),
        (-r, 0),
        (-r, r),
        (0, r),
        (r, r),
    ]
}

/// Rotation-invariant uniform LBP histogram (10 bins) over the set pixels of `mask`, with
/// the 8 neighbours on the square ring at Chebyshev distance `radius`.
pub(super) fn lbp_histogram(
    grey: &GrayImage,
    bb: BBox,
    mask: &GrayImage,
    radius: i64,
) -> [f64; 10] {
    let r = radius;
    let ring = lbp_ring(r);
    let (gw, gh) = (i64::from(grey.width()), i64::from(grey.height()));
    // Neighbours as offsets into the raw pixels, and the bin of every 8-bit pattern: the
    // number of brighter neighbours of a uniform pattern (at most 2 transitions round the
    // ring), 9 for the others.
    let offsets = ring.map(|(dx, dy)| dy * gw + dx);
    let bin_of: [u8; 256] = std::array::from_fn(|code| {
        let code = code as u8;
        if (code ^ code.rotate_right(1)).count_ones() <= 2 {
            code.count_ones() as u8
        } else {
            9
        }
    });
    let raw = grey.as_raw();
    let mw = mask.width() as usize;
    let mut counts = [0u32; 10];
    for (y, row) in mask.as_raw().chunks_exact(mw.max(1)).enumerate() {
        let fy = i64::from(bb.y) + y as i64;
        if fy < r || fy + r >= gh {
            continue;
        }
        for (x, &m) in row.iter().enumerate() {
            let fx = i64::from(bb.x) + x as i64;
            if m == 0 || fx < r || fx + r >= gw {
                continue;
            }
            let at = fy * gw + fx;
            let c = i16::from(raw[at as usize]) + LBP_TOLERANCE;
            let mut code = 0u8;
            for (b, off) in offsets.iter().enumerate() {
                // Branch-free: texture makes the comparison unpredictable.
                code |= u8::from(i16::from(raw[(at + off) as usize]) >= c) << b;
            }
            counts[usize::from(bin_of[usize::from(code)])] += 1;
        }
    }
    let n: u32 = counts.iter().sum();
    let mut hist = [0f64; 10];
    if n > 0 {
        for (h, c) in hist.iter_mut().zip(counts) {
            // Square root of the share, like the colour histograms.
            *h = (f64::from(c) / f64::from(n)).sqrt();
        }
    }
    hist
}

/// The LBP histogram as first written (one pixel look-up per neighbour): the reference the
/// fast one is tested against.
#[cfg(test)]
pub(super) fn lbp_histogram_reference(
    grey: &GrayImage,
    bb: BBox,
    mask: &GrayImage,
    radius: i64,
) -> [f64; 10] {
    let r = radius;
    let ring = lbp_ring(r);
    let (gw, gh) = (i64::from(grey.width()), i64::from(grey.height()));
    let mut hist = [0f64; 10];
    let mut n = 0f64;
    for (x, y, m) in mask.enumerate_pixels() {
        if m.0[0] == 0 {
            continue;
        }
        let (fx, fy) = (i64::from(bb.x + x), i64::from(bb.y + y));
        if fx < r || fy < r || fx + r >= gw || fy + r >= gh {
            continue;
        }
        let c = i16::from(grey.get_pixel(fx as u32, fy as u32).0[0]);
        let mut bits = [false; 8];
        for (b, (dx, dy)) in bits.iter_mut().zip(ring) {
            let p = i16::from(grey.get_pixel((fx + dx) as u32, (fy + dy) as u32).0[0]);
            *b = p >= c + LBP_TOLERANCE;
        }
        let ones = bits.iter().filter(|&&b| b).count();
        let transitions = (0..8).filter(|&i| bits[i] != bits[(i + 1) % 8]).count();
        hist[if transitions <= 2 { ones } else { 9 }] += 1.0;
        n += 1.0;
    }
    if n > 0.0 {
        for h in &mut hist {
            *h = (*h / n).sqrt();
        }
    }
    hist
}

/// Spread of the patch measurements: dark cells, lightness spread, darkest patches and the
/// most off-colour patches (4 values).
fn spot_stats(cells: &[features::PatchCell], out: &mut Vec<f64>) {
    if cells.is_empty() {
        out.extend([0.0; 4]);
        return;
    }
    let n = cells.len() as f64;
    let dark = cells.iter().filter(|c| c.values[5] > 0.5).count() as f64 / n;
    let dl: Vec<f64> = cells.iter().map(|c| c.values[0]).collect();
    let mean = dl.iter().sum::<f64>() / n;
    let std = (dl.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let chroma: Vec<f64> = cells
        .iter()
        .map(|c| (c.values[1].powi(2) + c.values[2].powi(2)).sqrt())
        .collect();
    out.extend([dark, std, quantile(&dl, 0.1), quantile(&chroma, 0.9)]);
}
