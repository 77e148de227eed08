//! Supervised grading: a generic descriptor of the main item of an image, and a classifier
//! that learns grade or defect-type classes (any names: `good` / `medium` / `rotten`,
//! `whole` / `broken` / `burnt`, ...) from labelled examples.
//!
//! The classifier is a one-vs-rest RBF support vector machine on standardised features. The
//! kernel width, the penalty `C` and the class weighting are chosen by a grouped inner
//! cross-validation on the training data only, so near-duplicate photos cannot flatter the
//! choice; that search runs on one precomputed kernel matrix with the solver of
//! [`super::svm`], and the final machines are fitted once with linfa-svm. The saved model holds only plain numbers (standardisation,
//! support vectors and their weights), so a file does not depend on a solver's internals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{GrayImage, Luma, RgbImage, imageops};
use linfa::Dataset;
use linfa::prelude::Fit;
use linfa_svm::Svm;
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::BBox;
use crate::model::metrics::quantile;
use crate::model::svm::{BinarySvm, gaussian_block, solve_c_svc, squared_distances};
use crate::vision::components::Components;
use crate::vision::features::{self, ItemFeatures};
use crate::vision::morph::{self, Outside};
use crate::vision::segment::{
    ItemRegion, SegmentConfig, Segmenter, belt_distance, color_l1, fill_holes,
};

// ---------------------------------------------------------------------------------------------
// Descriptor
// ---------------------------------------------------------------------------------------------

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

/// Items touching the frame border over more than this share of their equivalent
/// circumference are pieces of the surroundings (belt edges, the black corners of a rotated
/// photo), not product. A disc cut in half by the border scores about 0.45.
const MAX_BORDER_CONTACT: f64 = 0.6;

/// The largest plausible item: the segmenter's items and the region that stands out from
/// the frame border's colours compete. The second finds the product when it covers most of
/// the frame, where the segmenter (which takes the most common colour for the belt) sees
/// only its surroundings or spots on it.
///
/// `segmented` is the segmenter's items of `img` when they are already known. Returns the
/// item and, when it is one of the segmenter's, its index among them.
fn main_item(
    img: &RgbImage,
    seg: &mut Segmenter,
    segmented: Option<&[ItemRegion]>,
) -> Option<(ItemRegion, Option<usize>)> {
    let (w, h) = img.dimensions();
    let fresh;
    let items = match segmented {
        Some(items) => items,
        None => {
            fresh = seg.segment(img);
            &fresh
        }
    };
    // The last of equal largest areas, as `max_by_key` picks.
    let from_segmenter = items
        .iter()
        .enumerate()
        .filter(|(_, r)| border_contact(r, w, h) <= MAX_BORDER_CONTACT)
        .max_by_key(|(_, r)| r.area);
    let from_border = border_contrast_item(img, seg.config());
    match (from_segmenter, from_border) {
        (Some((_, a)), Some(b)) if b.area > a.area => Some((b, None)),
        (Some((i, a)), _) => Some((a.clone(), Some(i))),
        (None, b) => b.map(|b| (b, None)),
    }
}

/// Mask pixels on the outermost frame rows and columns, per pixel of the circumference of
/// the disc with the item's area.
fn border_contact(r: &ItemRegion, w: u32, h: u32) -> f64 {
    let b = r.bbox;
    if b.x > 0 && b.y > 0 && b.x + b.w < w && b.y + b.h < h {
        // The mask cannot reach the frame border.
        return 0.0;
    }
    let mut on_border = 0u32;
    for (x, y, m) in r.mask.enumerate_pixels() {
        let (fx, fy) = (r.bbox.x + x, r.bbox.y + y);
        if m.0[0] != 0 && (fx == 0 || fy == 0 || fx + 1 >= w || fy + 1 >= h) {
            on_border += 1;
        }
    }
    let circumference = (4.0 * std::f64::consts::PI * f64::from(r.area.max(1))).sqrt();
    f64::from(on_border) / circumference
}

/// Pixels within this L1 distance (0..765) of a border colour belong to it.
const BORDER_COLOUR_RADIUS: u16 = 60;

/// Up to three colours that cover the frame border (a ring 2 px wide), most common first;
/// a further colour is kept when it covers at least a tenth of the ring.
fn border_colours(img: &RgbImage) -> Vec<[u8; 3]> {
    let (w, h) = img.dimensions();
    let mut ring: Vec<[u8; 3]> = img
        .enumerate_pixels()
        .filter(|(x, y, _)| *x < 2 || *y < 2 || *x + 2 >= w || *y + 2 >= h)
        .map(|(_, _, p)| p.0)
        .collect();
    let total = ring.len();
    let bin = |p: &[u8; 3]| {
        (usize::from(p[0] >> 4) << 8) | (usize::from(p[1] >> 4) << 4) | usize::from(p[2] >> 4)
    };
    let mut colours = Vec::new();
    while colours.len() < 3 && !ring.is_empty() {
        // Most common colour at 4 bits per channel, then the mean of its pixels.
        let mut hist = vec![0u32; 4096];
        for p in &ring {
            hist[bin(p)] += 1;
        }
        let mut top = 0;
        for (i, &c) in hist.iter().enumerate() {
            if c > hist[top] {
                top = i;
            }
        }
        let mut sum = [0u64; 3];
        let mut n = 0u64;
        for p in ring.iter().filter(|p| bin(p) == top) {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
            n += 1;
        }
        let n = n.max(1);
        let centre = [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8];
        let before = ring.len();
        ring.retain(|p| color_l1(*p, centre) > BORDER_COLOUR_RADIUS);
        if !colours.is_empty() && (before - ring.len()) * 10 < total {
            break;
        }
        colours.push(centre);
    }
    colours
}

/// The largest plausible region whose colour differs from every border colour (shadows of
/// a border colour count as that colour), holes filled. Same size, fill and aspect limits as
/// the segmenter.
fn border_contrast_item(img: &RgbImage, cfg: &SegmentConfig) -> Option<ItemRegion> {
    let (w, h) = img.dimensions();
    if w < 8 || h < 8 {
        return None;
    }
    let colours = border_colours(img);
    let mut dist = GrayImage::new(w, h);
    for (d, p) in dist.pixels_mut().zip(img.pixels()) {
        let near = colours
            .iter()
            .map(|c| belt_distance(p.0, *c))
            .min()
            .unwrap_or(0);
        d.0[0] = (near / 3) as u8;
    }
    let t = imageproc::contrast::otsu_level(&dist)
        .max(cfg.min_threshold / 3)
        .max(1);
    let mut fg = GrayImage::new(w, h);
    for (f, d) in fg.pixels_mut().zip(dist.pixels()) {
        f.0[0] = if d.0[0] > t { 255 } else { 0 };
    }
    morph::open(&mut fg, 1, Outside::Foreground);
    morph::close(&mut fg, 2, Outside::Foreground);
    // 8-connected components by runs, in raster order of their first pixel (the label order
    // of imageproc's `connected_components`, which ties below follow).
    let mut comps = Components::default();
    comps.label(&fg);
    let min_area = (cfg.min_item_area_frac * (w * h) as f32).max(4.0) as u32;
    let mut candidates: Vec<(usize, ItemRegion)> = comps
        .components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.area >= min_area)
        .map(|(l, c)| {
            let (x0, y0, x1, y1) = (c.x0, c.y0, c.x1, c.y1);
            let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
            let mut mask = GrayImage::new(cw, ch);
            for run in comps.runs_of(l as u32) {
                let row = ((run.y - y0) * cw) as usize;
                mask.as_mut()[row + (run.x0 - x0) as usize..row + (run.x1 - x0) as usize].fill(255);
            }
            fill_holes(&mut mask);
            let area = count_set(&mask) as u32;
            let bbox = BBox {
                x: x0,
                y: y0,
                w: cw,
                h: ch,
            };
            let region = ItemRegion {
                contour: crate::vision::segment::outer_contour(&mask, bbox),
                touches_border: x0 == 0 || y0 == 0 || x1 + 1 >= w || y1 + 1 >= h,
                bbox,
                mask,
                area,
            };
            (l, region)
        })
        .filter(|(_, r)| {
            let (bw, bh) = (r.bbox.w as f32, r.bbox.h as f32);
            (r.area as f32) >= cfg.min_fill * bw * bh
                && bw.max(bh) <= cfg.max_aspect * bw.min(bh)
                && border_contact(r, w, h) <= MAX_BORDER_CONTACT
        })
        .collect();
    candidates.sort_by_key(|(l, r)| (std::cmp::Reverse(r.area), *l));
    candidates.into_iter().next().map(|(_, r)| r)
}

/// The whole frame as one item, for images where the segmenter finds nothing.
fn whole_image(img: &RgbImage) -> ItemRegion {
    let (w, h) = img.dimensions();
    let (fw, fh) = (w as f32, h as f32);
    ItemRegion {
        bbox: BBox { x: 0, y: 0, w, h },
        mask: GrayImage::from_pixel(w, h, Luma([255])),
        area: w * h,
        contour: vec![[0.0, 0.0], [fw, 0.0], [fw, fh], [0.0, fh]],
        touches_border: true,
    }
}

fn count_set(mask: &GrayImage) -> usize {
    mask.as_raw().iter().filter(|&&m| m != 0).count()
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
fn lbp_histogram(grey: &GrayImage, bb: BBox, mask: &GrayImage, radius: i64) -> [f64; 10] {
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
fn lbp_histogram_reference(grey: &GrayImage, bb: BBox, mask: &GrayImage, radius: i64) -> [f64; 10] {
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

// ---------------------------------------------------------------------------------------------
// Multi-class confusion and grouped folds
// ---------------------------------------------------------------------------------------------

/// Counts of predicted against true classes for any number of classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassConfusion {
    /// Class names; indexes below refer to this order.
    pub classes: Vec<String>,
    /// `counts[truth][predicted]`.
    pub counts: Vec<Vec<u64>>,
}

impl ClassConfusion {
    /// An empty matrix over `classes`.
    pub fn new(classes: &[String]) -> Self {
        Self {
            classes: classes.to_vec(),
            counts: vec![vec![0; classes.len()]; classes.len()],
        }
    }

    /// Count one decision (class indexes).
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Number of decisions counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Items of class `k` (row sum).
    pub fn support(&self, k: usize) -> u64 {
        self.counts[k].iter().sum()
    }

    /// Share of the items predicted as `k` that are `k`; 0 when nothing was predicted `k`.
    pub fn precision(&self, k: usize) -> f64 {
        let predicted: u64 = self.counts.iter().map(|row| row[k]).sum();
        ratio(self.counts[k][k], predicted)
    }

    /// Share of the items of class `k` predicted as `k`; 0 when there are none.
    pub fn recall(&self, k: usize) -> f64 {
        ratio(self.counts[k][k], self.support(k))
    }

    /// Harmonic mean of precision and recall of class `k`; 0 when both are 0.
    pub fn f1(&self, k: usize) -> f64 {
        let (p, r) = (self.precision(k), self.recall(k));
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }

    /// Unweighted mean of the per-class F1 over the classes that have items.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<usize> = (0..self.classes.len())
            .filter(|&k| self.support(k) > 0)
            .collect();
        if present.is_empty() {
            return 0.0;
        }
        present.iter().map(|&k| self.f1(k)).sum::<f64>() / present.len() as f64
    }

    /// Share of all decisions that are right; 0 when empty.
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.classes.len()).map(|k| self.counts[k][k]).sum();
        ratio(right, self.total())
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Assign samples to `k` folds so that all samples of a group share a fold and the class
/// proportions of the folds stay as even as possible (greedy, largest groups first, like a
/// stratified group K-fold). Deterministic: no random numbers; ties go to the smallest fold,
/// then the lowest fold number. Returns the fold of each sample.
pub fn grouped_folds(groups: &[u64], classes: &[usize], k: usize) -> Vec<usize> {
    let k = k.max(1);
    let n_classes = classes.iter().copied().max().map_or(0, |m| m + 1);
    let mut per_group: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (&g, &c) in groups.iter().zip(classes) {
        per_group.entry(g).or_insert_with(|| vec![0; n_classes])[c] += 1;
    }
    let mut order: Vec<(u64, Vec<u64>)> = per_group.into_iter().collect();
    order.sort_by(|a, b| {
        let (sa, sb): (u64, u64) = (a.1.iter().sum(), b.1.iter().sum());
        sb.cmp(&sa).then(a.0.cmp(&b.0))
    });
    let totals: Vec<f64> = (0..n_classes)
        .map(|c| classes.iter().filter(|&&x| x == c).count().max(1) as f64)
        .collect();
    let mut fold_counts = vec![vec![0u64; n_classes]; k];
    let mut fold_of_group = BTreeMap::new();
    for (g, counts) in &order {
        let mut best: Option<(f64, u64, usize)> = None;
        for f in 0..k {
            // Spread of the class shares over the folds if the group went to fold f.
            let mut cost = 0.0;
            for c in 0..n_classes {
                let shares: Vec<f64> = (0..k)
                    .map(|j| {
                        let add = if j == f { counts[c] } else { 0 };
                        (fold_counts[j][c] + add) as f64 / totals[c]
                    })
                    .collect();
                let mean = shares.iter().sum::<f64>() / k as f64;
                cost += shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>();
            }
            let size: u64 = fold_counts[f].iter().sum();
            let better = match best {
                None => true,
                Some((bc, bs, _)) => cost < bc - 1e-12 || ((cost - bc).abs() <= 1e-12 && size < bs),
            };
            if better {
                best = Some((cost, size, f));
            }
        }
        let f = best.map_or(0, |b| b.2);
        for c in 0..n_classes {
            fold_counts[f][c] += counts[c];
        }
        fold_of_group.insert(*g, f);
    }
    groups
        .iter()
        .map(|g| fold_of_group.get(g).copied().unwrap_or(0))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Classifier
// ---------------------------------------------------------------------------------------------

/// Value of the `format` field of every grade classifier file.
pub const CLASSIFIER_FORMAT: &str = "foodqc-grade-classifier";
/// Version of the classifier file layout this build reads and writes.
pub const CLASSIFIER_FORMAT_VERSION: u32 = 1;
/// Fewest training examples of each class.
pub const MIN_PER_CLASS: usize = 3;

/// How the errors on each class are weighed in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeighting {
    /// Every example counts the same (common classes dominate).
    Equal,
    /// Each class's errors are weighed by the inverse of its share, so a rare class counts
    /// as much as a common one.
    Balanced,
}

/// The measure the inner cross-validation maximises when it picks the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMetric {
    /// Mean F1 over the classes (every class matters equally).
    MacroF1,
    /// Share of examples classified right.
    Accuracy,
}

impl SelectionMetric {
    fn score(self, cm: &ClassConfusion) -> f64 {
        match self {
            SelectionMetric::MacroF1 => cm.macro_f1(),
            SelectionMetric::Accuracy => cm.accuracy(),
        }
    }
}

/// Training settings. The defaults are meant for every product; nothing is tuned per dataset.
///
/// Every combination of `c_grid` x `width_grid` x `weightings` is a candidate; a grouped
/// inner cross-validation on the training data picks the one with the best `selection`
/// measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradeTrainOptions {
    /// Candidate penalties `C` of the SVM (larger = fits the training data more closely).
    pub c_grid: Vec<f64>,
    /// Candidate RBF kernel widths, as multiples of the number of features: the kernel is
    /// `exp(-|x - y|^2 / (width * n_features))` on standardised features, so 1.0 is the
    /// usual `gamma = 1 / n_features` and larger is smoother.
    pub width_grid: Vec<f64>,
    /// Candidate class weightings.
    pub weightings: Vec<ClassWeighting>,
    /// What the inner cross-validation maximises.
    pub selection: SelectionMetric,
    /// Folds of the inner cross-validation (grouped when groups are given). Below 2, or
    /// with a single candidate, the first candidate is used without cross-validation.
    pub inner_folds: usize,
    /// Stopping tolerance of the SMO solver.
    pub solver_eps: f64,
}

impl Default for GradeTrainOptions {
    fn default() -> Self {
        Self {
            // Factor-8 and factor-4 steps: a coarse grid, cheap enough to cross-validate,
            // spanning stiff to flexible models. Smoother settings first: ties go to them.
            c_grid: vec![1.0, 8.0, 64.0],
            width_grid: vec![16.0, 4.0, 1.0],
            weightings: vec![ClassWeighting::Balanced, ClassWeighting::Equal],
            selection: SelectionMetric::MacroF1,
            inner_folds: 3,
            solver_eps: 1e-3,
        }
    }
}

/// One combination of settings.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Candidate {
    c: f64,
    width_factor: f64,
    weighting: ClassWeighting,
}

/// Errors training, using, loading or saving a grade classifier; file errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The file could not be read or written.
    #[error("cannot read or write classifier file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or misses fields.
    #[error("classifier file {path} is not valid: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The file is some other kind of file.
    #[error("{path} is not a foodqc grade classifier (format field is `{found}`)")]
    WrongFormat { path: PathBuf, found: String },
    /// The file was written by a foodqc with another file layout.
    #[error(
        "classifier file {path} has format version {found}; this foodqc reads version {supported}: retrain the classifier with this version"
    )]
    Version {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The classifier was trained on other features than the ones needed.
    #[error(
        "classifier file {path} was trained on feature set `{found}` but `{expected}` is needed: retrain the classifier with this version"
    )]
    Features {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// The file parses but its arrays do not fit together.
    #[error("classifier file {path} is damaged: {what}")]
    Inconsistent { path: PathBuf, what: String },
    /// The training data are inconsistent.
    #[error("bad training data: {0}")]
    Data(String),
    /// A class has too few training examples.
    #[error(
        "class `{class}` has {got} training examples; at least {needed} are needed for each class"
    )]
    TooFew {
        class: String,
        got: usize,
        needed: usize,
    },
    /// Fewer than two classes to tell apart.
    #[error("need at least two classes to train, found {0}")]
    OneClass(usize),
    /// The SVM solver reported an error.
    #[error("the SVM solver failed: {0}")]
    Fit(String),
    /// A feature vector of the wrong length was given to the classifier.
    #[error("feature vector has {got} values, the classifier expects {expected}")]
    Dimension { got: usize, expected: usize },
}

/// One binary machine (this class against all others): `f(x) = sum_i coef_i k(sv_i, x) - rho`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Offset of the decision function.
    pub rho: f64,
    /// Signed weight of each support vector.
    pub coef: Vec<f64>,
    /// Support vectors, standardised.
    pub support: Vec<Vec<f64>>,
}

impl Machine {
    fn decision(&self, x: &[f64], width: f64) -> f64 {
        let s: f64 = self
            .coef
            .iter()
            .zip(&self.support)
            .map(|(a, sv)| {
                let d2: f64 = sv.iter().zip(x).map(|(p, q)| (p - q) * (p - q)).sum();
                a * (-d2 / width).exp()
            })
            .sum();
        s - self.rho
    }

    /// The machine of the other class of a two-class problem.
    fn mirrored(&self) -> Machine {
        Machine {
            rho: -self.rho,
            coef: self.coef.iter().map(|a| -a).collect(),
            support: self.support.clone(),
        }
    }
}

/// What a classifier was trained on: the model card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifierCard {
    /// Description of the training data.
    pub trained_on: String,
    /// When it was trained (RFC 3339).
    pub created_at: String,
    /// Training examples per class, in class order.
    pub samples_per_class: Vec<usize>,
    /// Measure the inner cross-validation maximised.
    pub selection: Option<SelectionMetric>,
    /// Its value for the chosen settings, when an inner cross-validation ran.
    pub inner_cv_score: Option<f64>,
    /// Seconds spent training, including the inner cross-validation.
    pub training_seconds: f64,
}

/// A trained grade classifier, as saved to and loaded from a file (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeClassifier {
    /// Always [`CLASSIFIER_FORMAT`].
    pub format: String,
    /// Layout version, [`CLASSIFIER_FORMAT_VERSION`] for files this build writes.
    pub format_version: u32,
    /// Identifier of the feature definitions (e.g. [`DESCRIPTOR_SET`]).
    pub feature_set: String,
    /// Feature names, in vector order.
    pub feature_names: Vec<String>,
    /// Class names; scores and indexes follow this order.
    pub classes: Vec<String>,
    /// Training mean of each feature.
    pub mean: Vec<f64>,
    /// Training standard deviation of each feature (1 for constant features).
    pub scale: Vec<f64>,
    /// Chosen SVM penalty.
    pub c: f64,
    /// Chosen class weighting.
    pub weighting: ClassWeighting,
    /// Kernel denominator: `k(x, y) = exp(-|x - y|^2 / kernel_width)`.
    pub kernel_width: f64,
    /// One machine per class, in class order.
    pub machines: Vec<Machine>,
    /// Model card.
    pub card: ClassifierCard,
}

/// The classifier's answer for one sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// Index of the predicted class in [`GradeClassifier::classes`].
    pub index: usize,
    /// Name of the predicted class.
    pub class: String,
    /// One score per class (softmax of the one-vs-rest margins): they sum to 1 and rank the
    /// classes, but are not calibrated probabilities.
    pub scores: Vec<f64>,
}

/// Standardise rows with the given mean and scale.
fn standardise(rows: &[&[f64]], mean: &[f64], scale: &[f64]) -> Array2<f64> {
    let d = mean.len();
    let mut x = Array2::zeros((rows.len(), d));
    for (i, r) in rows.iter().enumerate() {
        for j in 0..d {
            x[[i, j]] = (r[j] - mean[j]) / scale[j];
        }
    }
    x
}

/// Penalties `(C+, C-)` of the machine of a class with `n_pos` of the `n` training rows.
fn penalties(cand: Candidate, n: usize, n_pos: usize) -> (f64, f64) {
    let (n, n_pos) = (n as f64, n_pos as f64);
    match cand.weighting {
        ClassWeighting::Equal => (cand.c, cand.c),
        ClassWeighting::Balanced => (cand.c * n / (2.0 * n_pos), cand.c * n / (2.0 * (n - n_pos))),
    }
}

/// Solve the one-vs-rest machines on the kernel matrix `k` of the training rows; a class
/// absent from `y` (or the only one) gets `None`. Two classes need one machine only: the
/// second is its mirror image, left as `None` here. `warm` holds the solutions of the same
/// problems at a smaller `C` (same weighting), to start from.
fn solve_machines(
    k: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    cand: Candidate,
    solver_eps: f64,
    warm: Option<&[Option<BinarySvm>]>,
) -> Vec<Option<BinarySvm>> {
    let n = y.len();
    let solved = if n_classes == 2 { 1 } else { n_classes };
    (0..n_classes)
        .map(|class| {
            let targets: Vec<bool> = y.iter().map(|&v| v == class).collect();
            let n_pos = targets.iter().filter(|&&t| t).count();
            if class >= solved || n_pos == 0 || n_pos == n {
                return None;
            }
            let (c_pos, c_neg) = penalties(cand, n, n_pos);
            let start = warm
                .and_then(|w| w.get(class))
                .and_then(Option::as_ref)
                .map(|m| m.alpha.as_slice());
            Some(solve_c_svc(k, &targets, c_pos, c_neg, solver_eps, start))
        })
        .collect()
}

/// Fit the final one-vs-rest machines on all rows of `x` (standardised) with linfa-svm's
/// SMO, keeping their support vectors; a class absent from `y` gets `None`.
///
/// The settings were chosen with the precomputed-kernel solver in [`crate::model::svm`],
/// which agrees with linfa-svm to 1e-5 (tested); the machines that are saved and run on the
/// line are linfa's own, fitted once.
fn fit_machines(
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    cand: Candidate,
    solver_eps: f64,
) -> Result<Vec<Option<Machine>>, ClassifierError> {
    let width = cand.width_factor * x.ncols() as f64;
    let mut machines: Vec<Option<Machine>> = Vec::with_capacity(n_classes);
    for k in 0..n_classes {
        if n_classes == 2 && k == 1 {
            let mirror = machines[0].as_ref().map(Machine::mirrored);
            machines.push(mirror);
            break;
        }
        let targets: Array1<bool> = y.iter().map(|&v| v == k).collect();
        let n_pos = targets.iter().filter(|&&t| t).count();
        if n_pos == 0 || n_pos == y.len() {
            machines.push(None);
            continue;
        }
        let (c_pos, c_neg) = penalties(cand, y.len(), n_pos);
        let ds = Dataset::new(x.clone(), targets);
        let svm = Svm::<f64, bool>::params()
            .pos_neg_weights(c_pos, c_neg)
            .gaussian_kernel(width)
            .eps(solver_eps)
            .fit(&ds)
            .map_err(|e| ClassifierError::Fit(e.to_string()))?;
        // linfa keeps the rows whose weight exceeds this as support vectors, in row order.
        let keep = 100.0 * f64::EPSILON;
        let mut coef = Vec::new();
        let mut support = Vec::new();
        for (i, &a) in svm.alpha.iter().enumerate() {
            if a.abs() > keep {
                coef.push(a);
                support.push(x.row(i).to_vec());
            }
        }
        machines.push(Some(Machine {
            rho: svm.rho,
            coef,
            support,
        }));
    }
    Ok(machines)
}

/// Index of the largest value; the first one on ties.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &s) in v.iter().enumerate() {
        if s > v[best] {
            best = i;
        }
    }
    best
}

impl GradeClassifier {
    /// Train on `samples` (one feature vector each) labelled with class names.
    ///
    /// `groups` (optional, one id per sample) keeps near-duplicates together in the inner
    /// cross-validation that picks the settings; without it every sample is its own group.
    /// Classes are sorted by name. `feature_set` and `feature_names` describe the vectors
    /// and are written to the model file.
    ///
    /// # Errors
    /// [`ClassifierError`] when the data are inconsistent (lengths, non-finite values), there
    /// are fewer than two classes or fewer than [`MIN_PER_CLASS`] examples of a class, the
    /// options hold no valid candidate, or the solver fails.
    pub fn train(
        samples: &[Vec<f64>],
        labels: &[String],
        groups: Option<&[u64]>,
        feature_set: &str,
        feature_names: &[&str],
        opts: &GradeTrainOptions,
        trained_on: &str,
    ) -> Result<Self, ClassifierError> {
        let started = Instant::now();
        let d = feature_names.len();
        if samples.len() != labels.len() {
            return Err(ClassifierError::Data(format!(
                "{} samples but {} labels",
                samples.len(),
                labels.len()
            )));
        }
        if let Some(g) = groups
            && g.len() != samples.len()
        {
            return Err(ClassifierError::Data(format!(
                "{} samples but {} group ids",
                samples.len(),
                g.len()
            )));
        }
        if d == 0 {
            return Err(ClassifierError::Data("no features".into()));
        }
        for (i, s) in samples.iter().enumerate() {
            if s.len() != d {
                return Err(ClassifierError::Data(format!(
                    "sample {i} has {} values, expected {d}",
                    s.len()
                )));
            }
            if s.iter().any(|v| !v.is_finite()) {
                return Err(ClassifierError::Data(format!(
                    "sample {i} has a non-finite value"
                )));
            }
        }
        let mut classes: Vec<String> = labels.to_vec();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return Err(ClassifierError::OneClass(classes.len()));
        }
        let y: Vec<usize> = labels
            .iter()
            .map(|l| classes.iter().position(|c| c == l).unwrap_or(0))
            .collect();
        let counts: Vec<usize> = (0..classes.len())
            .map(|k| y.iter().filter(|&&v| v == k).count())
            .collect();
        for (k, &n) in counts.iter().enumerate() {
            if n < MIN_PER_CLASS {
                return Err(ClassifierError::TooFew {
                    class: classes[k].clone(),
                    got: n,
                    needed: MIN_PER_CLASS,
                });
            }
        }
        // Standardisation from the training data only.
        let n = samples.len() as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| samples.iter().map(|s| s[j]).sum::<f64>() / n)
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let var = samples
                    .iter()
                    .map(|s| (s[j] - mean[j]).powi(2))
                    .sum::<f64>()
                    / n;
                let sd = var.sqrt();
                // A constant feature carries no information; keep it at 0 instead of
                // dividing by (almost) zero.
                if sd > 1e-12 { sd } else { 1.0 }
            })
            .collect();
        let rows: Vec<&[f64]> = samples.iter().map(Vec::as_slice).collect();
        let x = standardise(&rows, &mean, &scale);

        let mut candidates = Vec::new();
        for &c in &opts.c_grid {
            for &width_factor in &opts.width_grid {
                for &weighting in &opts.weightings {
                    if c > 0.0 && c.is_finite() && width_factor > 0.0 && width_factor.is_finite() {
                        candidates.push(Candidate {
                            c,
                            width_factor,
                            weighting,
                        });
                    }
                }
            }
        }
        if candidates.is_empty() {
            return Err(ClassifierError::Data(
                "the options hold no candidate (positive C, positive width, a weighting)".into(),
            ));
        }
        let (best, inner_cv_score) = if candidates.len() > 1 && opts.inner_folds >= 2 {
            let own: Vec<u64> = (0..samples.len() as u64).collect();
            let g = groups.unwrap_or(&own);
            let folds = grouped_folds(g, &y, opts.inner_folds);
            // Every fit of the search (all candidates, folds and classes) reads its kernel
            // from these distances.
            let d2 = squared_distances(x.view());
            let scores = inner_cv(&d2, &y, &classes, &folds, &candidates, x.ncols(), opts);
            // First best in grid order: the grid lists smoother models first.
            let best = argmax(&scores);
            (candidates[best], Some(scores[best]))
        } else {
            (candidates[0], None)
        };
        let machines = fit_machines(&x, &y, classes.len(), best, opts.solver_eps)?
            .into_iter()
            .collect::<Option<Vec<Machine>>>()
            .ok_or_else(|| ClassifierError::Fit("a class got no machine".into()))?;
        Ok(Self {
            format: CLASSIFIER_FORMAT.to_string(),
            format_version: CLASSIFIER_FORMAT_VERSION,
            feature_set: feature_set.to_string(),
            feature_names: feature_names.iter().map(|s| s.to_string()).collect(),
            classes,
            mean,
            scale,
            c: best.c,
            weighting: best.weighting,
            kernel_width: best.width_factor * d as f64,
            machines,
            card: ClassifierCard {
                trained_on: trained_on.to_string(),
                created_at: jiff::Timestamp::now().to_string(),
                samples_per_class: counts,
                selection: inner_cv_score.map(|_| opts.selection),
                inner_cv_score,
                training_seconds: started.elapsed().as_secs_f64(),
            },
        })
    }

    /// Classify one feature vector.
    ///
    /// # Errors
    /// [`ClassifierError::Dimension`] when the vector length differs from the training data.
    pub fn predict(&self, features: &[f64]) -> Result<Prediction, ClassifierError> {
        if features.len() != self.mean.len() {
            return Err(ClassifierError::Dimension {
                got: features.len(),
                expected: self.mean.len(),
            });
        }
        let x: Vec<f64> = features
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            // A non-finite input value counts as the training mean.
            .map(|(v, (m, s))| if v.is_finite() { (v - m) / s } else { 0.0 })
            .collect();
        let margins: Vec<f64> = self
            .machines
            .iter()
            .map(|m| m.decision(&x, self.kernel_width))
            .collect();
        let index = argmax(&margins);
        let top = margins[index];
        let exp: Vec<f64> = margins.iter().map(|m| (m - top).exp()).collect();
        let sum: f64 = exp.iter().sum();
        Ok(Prediction {
            index,
            class: self.classes[index].clone(),
            scores: exp.iter().map(|e| e / sum).collect(),
        })
    }

    /// Class names, in score order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Read a classifier file; refuses other formats, versions and damaged files.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClassifierError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Read a classifier file meant for image descriptors: like [`Self::load`], and also
    /// refuses a classifier trained on another feature set than [`DESCRIPTOR_SET`].
    pub fn load_for_images(path: &Path) -> Result<Self, ClassifierError> {
        let m = Self::load(path)?;
        if m.feature_set != DESCRIPTOR_SET || m.feature_names != DESCRIPTOR_FEATURES {
            return Err(ClassifierError::Features {
                path: path.to_path_buf(),
                found: m.feature_set,
                expected: DESCRIPTOR_SET.to_string(),
            });
        }
        Ok(m)
    }

    /// Parse classifier JSON; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, ClassifierError> {
        let p = || path.to_path_buf();
        // Check the header first so an old or foreign file gets a precise message.
        let header: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ClassifierError::Parse {
                path: p(),
                reason: e.to_string(),
            })?;
        let format = header.get("format").and_then(|v| v.as_str()).unwrap_or("");
        if format != CLASSIFIER_FORMAT {
            return Err(ClassifierError::WrongFormat {
                path: p(),
                found: format.to_string(),
            });
        }
        let version = header
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version != u64::from(CLASSIFIER_FORMAT_VERSION) {
            return Err(ClassifierError::Version {
                path: p(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: CLASSIFIER_FORMAT_VERSION,
            });
        }
        let model: Self = serde_json::from_value(header).map_err(|e| ClassifierError::Parse {
            path: p(),
            reason: e.to_string(),
        })?;
        model.check(path)?;
        Ok(model)
    }

    fn check(&self, path: &Path) -> Result<(), ClassifierError> {
        let bad = |what: String| ClassifierError::Inconsistent {
            path: path.to_path_buf(),
            what,
        };
        let d = self.feature_names.len();
        if self.mean.len() != d || self.scale.len() != d {
            return Err(bad(format!(
                "{d} feature names but {} means and {} scales",
                self.mean.len(),
                self.scale.len()
            )));
        }
        if self.classes.len() < 2 || self.machines.len() != self.classes.len() {
            return Err(bad(format!(
                "{} classes but {} machines",
                self.classes.len(),
                self.machines.len()
            )));
        }
        if !(self.kernel_width.is_finite() && self.kernel_width > 0.0) {
            return Err(bad("kernel width must be positive".into()));
        }
        if self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(bad("feature scales must be positive".into()));
        }
        for m in &self.machines {
            if m.coef.len() != m.support.len() || m.support.iter().any(|s| s.len() != d) {
                return Err(bad("support vectors have the wrong size".into()));
            }
        }
        Ok(())
    }

    /// Write the classifier as JSON, atomically (temp file + rename), creating the folder.
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        let io = |source| ClassifierError::Io {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_string(self).map_err(|e| ClassifierError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        super::write_atomically(path, json.as_bytes()).map_err(io)
    }
}

/// Score of each candidate over the inner folds (pooled held-out predictions), from the
/// squared distances `d2` between the standardised rows (`n_features` columns).
///
/// One job per kernel width and fold builds that fold's kernel matrices once; all classes,
/// penalties and weightings of that width are solved on them, each penalty warm-started from
/// the solution at the next smaller one.
fn inner_cv(
    d2: &Array2<f64>,
    y: &[usize],
    classes: &[String],
    folds: &[usize],
    candidates: &[Candidate],
    n_features: usize,
    opts: &GradeTrainOptions,
) -> Vec<f64> {
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    let mut widths: Vec<f64> = Vec::new();
    for c in candidates {
        if !widths.contains(&c.width_factor) {
            widths.push(c.width_factor);
        }
    }
    let jobs: Vec<(f64, usize)> = widths
        .iter()
        .flat_map(|&w| (0..k).map(move |f| (w, f)))
        .collect();
    // Each job: (candidate, truth, predicted) on one held-out fold for one kernel width.
    let results: Vec<Vec<(usize, usize, usize)>> = jobs
        .par_iter()
        .map(|&(width_factor, f)| {
            let train: Vec<usize> = (0..y.len()).filter(|&i| folds[i] != f).collect();
            let test: Vec<usize> = (0..y.len()).filter(|&i| folds[i] == f).collect();
            if train.is_empty() || test.is_empty() {
                return Vec::new();
            }
            let width = width_factor * n_features as f64;
            let k_train = gaussian_block(d2, &train, &train, width);
            let k_test = gaussian_block(d2, &test, &train, width);
            let yt: Vec<usize> = train.iter().map(|&i| y[i]).collect();
            // This width's candidates, per weighting by increasing C (for warm starts).
            let mut mine: Vec<usize> = (0..candidates.len())
                .filter(|&ci| candidates[ci].width_factor == width_factor)
                .collect();
            mine.sort_by(|&a, &b| {
                let (ca, cb) = (candidates[a], candidates[b]);
                let key = |w: ClassWeighting| w == ClassWeighting::Equal;
                key(ca.weighting)
                    .cmp(&key(cb.weighting))
                    .then(ca.c.total_cmp(&cb.c))
            });
            let mut out = Vec::new();
            let mut previous: Option<(ClassWeighting, Vec<Option<BinarySvm>>)> = None;
            for ci in mine {
                let cand = candidates[ci];
                let warm = previous
                    .as_ref()
                    .filter(|(w, _)| *w == cand.weighting)
                    .map(|(_, m)| m.as_slice());
                let machines =
                    solve_machines(&k_train, &yt, classes.len(), cand, opts.solver_eps, warm);
                let decisions: Vec<Option<Vec<f64>>> = machines
                    .iter()
                    .map(|m| m.as_ref().map(|m| m.decisions(&k_test)))
                    .collect();
                for (r, &i) in test.iter().enumerate() {
                    let margins: Vec<f64> = if classes.len() == 2 {
                        // The second machine is the mirror image of the first.
                        let m = decisions[0].as_ref().map_or(f64::NEG_INFINITY, |d| d[r]);
                        vec![m, -m]
                    } else {
                        decisions
                            .iter()
                            .map(|d| d.as_ref().map_or(f64::NEG_INFINITY, |d| d[r]))
                            .collect()
                    };
                    out.push((ci, y[i], argmax(&margins)));
                }
                previous = Some((cand.weighting, machines));
            }
            out
        })
        .collect();
    let mut confusions = vec![ClassConfusion::new(classes); candidates.len()];
    for (ci, t, p) in results.into_iter().flatten() {
        confusions[ci].add(t, p);
    }
    confusions
        .iter()
        .map(|cm| opts.selection.score(cm))
        .collect()
}

/// Synthetic product photos for tests: discs of three kinds on a dark belt.
#[cfg(test)]
pub(crate) mod synthetic {
    use image::{Rgb, RgbImage};
    use imageproc::drawing::draw_filled_circle_mut;

    /// Deterministic pseudo-random number in 0..1 for `(i, salt)`.
    pub fn jitter(i: u32, salt: u32) -> f32 {
        let mut x = i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503);
        x ^= x >> 13;
        x = x.wrapping_mul(1_274_126_177);
        x ^= x >> 16;
        (x % 10_000) as f32 / 10_000.0
    }

    /// Image `i` of `class`: 0 = plain orange disc, 1 = orange disc with dark brown spots,
    /// 2 = green disc. Position, size and colour vary a little with `i`.
    pub fn disc(class: usize, i: u32) -> RgbImage {
        let mut img = RgbImage::from_pixel(400, 300, Rgb([50, 52, 55]));
        let cx = 170 + (60.0 * jitter(i, 1)) as i32;
        let cy = 130 + (40.0 * jitter(i, 2)) as i32;
        let r = 70 + (25.0 * jitter(i, 3)) as i32;
        let d = (20.0 * jitter(i, 4)) as u8;
        let base = if class == 2 {
            Rgb([80 + d, 170 - d, 70])
        } else {
            Rgb([200 - d, 140 + d, 80])
        };
        draw_filled_circle_mut(&mut img, (cx, cy), r, base);
        if class == 1 {
            for k in 0..4u32 {
                let a = std::f32::consts::TAU * jitter(i, 10 + k);
                let rr = 0.5 * r as f32 * jitter(i, 20 + k);
                let (sx, sy) = (cx + (rr * a.cos()) as i32, cy + (rr * a.sin()) as i32);
                draw_filled_circle_mut(&mut img, (sx, sy), r / 5, Rgb([90, 55, 25]));
            }
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::features::ITEM_FEATURES;
    use image::Rgb;

    fn classes3() -> Vec<String> {
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn descriptor_names_are_unique_and_start_with_item_features() {
        assert_eq!(
            &DESCRIPTOR_FEATURES[..ITEM_FEATURES.len()],
            &ITEM_FEATURES[..]
        );
        let mut names = DESCRIPTOR_FEATURES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DESCRIPTOR_FEATURES.len());
    }

    #[test]
    fn describes_an_item_and_falls_back_to_the_whole_image() {
        let mut seg = Segmenter::new(SegmentConfig::default());
        let found = DESCRIPTOR_FEATURES
            .iter()
            .position(|n| *n == "item_found")
            .unwrap();
        let d = describe_image(&synthetic::disc(0, 1), &mut seg);
        assert_eq!(d.len(), DESCRIPTOR_FEATURES.len());
        assert!(d.iter().all(|v| v.is_finite()));
        assert_eq!(d[found], 1.0);

        let empty = RgbImage::from_pixel(500, 400, Rgb([120, 120, 120]));
        let d = describe_image(&empty, &mut seg);
        assert_eq!(d.len(), DESCRIPTOR_FEATURES.len());
        assert!(d.iter().all(|v| v.is_finite()));
        assert_eq!(d[found], 0.0, "a uniform image has no item");
    }

    /// Reusing the segmentation and features of an earlier pass gives the same descriptor as
    /// describing from scratch, for a crop (reused) and a larger photo (segmented again).
    #[test]
    fn describing_with_known_items_gives_the_same_descriptor() {
        let mut seg = Segmenter::new(SegmentConfig::default());
        for class in 0..3 {
            let photo = synthetic::disc(class, 7);
            let crop = imageops::crop_imm(&photo, 60, 20, 300, 260).to_image();
            for img in [&crop, &photo] {
                let (regions, measured) = crate::eval::main_items_measured(&mut seg, img);
                assert!(!measured.is_empty());
                let known = KnownItems {
                    regions: &regions,
                    features: &measured,
                };
                let reused = describe_image_known(img, &mut seg, Some(known));
                assert_eq!(reused, describe_image(img, &mut seg), "class {class}");
            }
        }
    }

    #[test]
    fn fast_lbp_matches_the_reference() {
        // Textured grey image with an item mask that reaches the image border.
        let grey = GrayImage::from_fn(90, 70, |x, y| {
            Luma([(synthetic::jitter(x * 131 + y, 5) * 255.0) as u8 / 2 + (x % 7) as u8 * 9])
        });
        let bb = BBox {
            x: 0,
            y: 5,
            w: 80,
            h: 65,
        };
        let mask = GrayImage::from_fn(bb.w, bb.h, |x, y| {
            Luma([if (x + 2 * y) % 5 == 0 { 0 } else { 255 }])
        });
        for radius in [1, 2, 4] {
            assert_eq!(
                lbp_histogram(&grey, bb, &mask, radius),
                lbp_histogram_reference(&grey, bb, &mask, radius),
                "radius {radius}"
            );
        }
    }

    /// A product filling most of a white frame with black corners (a rotated photo): the
    /// segmenter sees red as the belt; the main item must still be the product.
    #[test]
    fn product_filling_a_rotated_photo_is_the_main_item() {
        use imageproc::drawing::{draw_filled_circle_mut, draw_polygon_mut};
        use imageproc::point::Point;
        let (w, h) = (300i32, 300i32);
        let mut img = RgbImage::from_pixel(w as u32, h as u32, Rgb([250, 250, 250]));
        let black = Rgb([0, 0, 0]);
        for tri in [
            [(0, 0), (90, 0), (0, 90)],
            [(w - 1, 0), (w - 91, 0), (w - 1, 90)],
            [(0, h - 1), (90, h - 1), (0, h - 91)],
            [(w - 1, h - 1), (w - 91, h - 1), (w - 1, h - 91)],
        ] {
            let pts: Vec<Point<i32>> = tri.iter().map(|&(x, y)| Point::new(x, y)).collect();
            draw_polygon_mut(&mut img, &pts, black);
        }
        draw_filled_circle_mut(&mut img, (150, 150), 125, Rgb([200, 30, 40]));
        let mut seg = Segmenter::new(SegmentConfig::default());
        let (item, _) = main_item(&img, &mut seg, None).expect("an item");
        let disc = std::f64::consts::PI * 125.0 * 125.0;
        let ratio = f64::from(item.area) / disc;
        assert!(
            (0.85..1.15).contains(&ratio),
            "area {} vs disc {disc}",
            item.area
        );
        let (cx, cy) = item.bbox.center();
        assert!(
            (cx - 150.0).abs() < 10.0 && (cy - 150.0).abs() < 10.0,
            "{:?}",
            item.bbox
        );
    }

    fn synthetic_set(per_class: u32, offset: u32) -> (Vec<Vec<f64>>, Vec<String>) {
        let names = ["plain", "spotted", "green"];
        let mut seg = Segmenter::new(SegmentConfig::default());
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (c, name) in names.iter().enumerate() {
            for i in 0..per_class {
                x.push(describe_image(&synthetic::disc(c, offset + i), &mut seg));
                y.push(name.to_string());
            }
        }
        (x, y)
    }

    fn train_default(x: &[Vec<f64>], y: &[String]) -> GradeClassifier {
        GradeClassifier::train(
            x,
            y,
            None,
            DESCRIPTOR_SET,
            &DESCRIPTOR_FEATURES,
            &GradeTrainOptions::default(),
            "unit test",
        )
        .unwrap()
    }

    #[test]
    fn learns_separable_synthetic_classes() {
        let (x, y) = synthetic_set(10, 0);
        let model = train_default(&x, &y);
        assert_eq!(model.classes(), ["green", "plain", "spotted"]);
        assert_eq!(model.card.samples_per_class, [10, 10, 10]);
        assert!(model.card.inner_cv_score.is_some());
        let (xt, yt) = synthetic_set(5, 1000);
        for (v, truth) in xt.iter().zip(&yt) {
            let p = model.predict(v).unwrap();
            assert_eq!(&p.class, truth, "{:?}", p.scores);
            assert_eq!(model.classes()[p.index], p.class);
            assert!((p.scores.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let best = p.scores[p.index];
            assert!(p.scores.iter().all(|s| *s <= best));
        }
    }

    /// The stored support vectors and weights reproduce linfa-svm's decision function on the
    /// same problem (both solved to a tight tolerance), and the second machine of two classes
    /// is the mirror of the first.
    #[test]
    fn stored_machines_match_linfa() {
        use linfa::Dataset;
        use linfa::prelude::Fit;
        use linfa_svm::Svm;
        let n = 40;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let t = i as f64;
            (t * 0.37 + j as f64).sin() + if i % 2 == 0 { 0.8 } else { -0.8 }
        });
        let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let cand = Candidate {
            c: 4.0,
            width_factor: 1.0,
            weighting: ClassWeighting::Equal,
        };
        let ours = fit_machines(&x, &y, 2, cand, 1e-9).unwrap();
        let m0 = ours[0].as_ref().unwrap();
        let m1 = ours[1].as_ref().unwrap();
        assert!(m0.support.len() < n, "not every row is a support vector");
        let targets: ndarray::Array1<bool> = y.iter().map(|&v| v == 0).collect();
        let svm = Svm::<f64, bool>::params()
            .pos_neg_weights(4.0, 4.0)
            .gaussian_kernel(3.0)
            .eps(1e-9)
            .fit(&Dataset::new(x.clone(), targets))
            .unwrap();
        for row in x.outer_iter() {
            let theirs = svm.weighted_sum(&row) - svm.rho;
            let v = row.to_vec();
            assert!((m0.decision(&v, 3.0) - theirs).abs() < 1e-6);
            assert!((m1.decision(&v, 3.0) + theirs).abs() < 1e-6, "mirror");
        }
    }

    #[test]
    fn save_load_round_trip_and_refusals() {
        let (x, y) = synthetic_set(4, 0);
        let model = train_default(&x, &y);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grader.json");
        model.save(&path).unwrap();
        let back = GradeClassifier::load(&path).unwrap();
        assert_eq!(back, model);
        assert_eq!(GradeClassifier::load_for_images(&path).unwrap(), model);
        for v in &x {
            assert_eq!(back.predict(v).unwrap(), model.predict(v).unwrap());
        }

        let write = |v: &serde_json::Value| std::fs::write(&path, v.to_string()).unwrap();
        let mut v = serde_json::to_value(&model).unwrap();
        v["format_version"] = 99.into();
        write(&v);
        let err = GradeClassifier::load(&path).unwrap_err();
        assert!(matches!(err, ClassifierError::Version { found: 99, .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("version 99") && msg.contains("grader.json"),
            "{msg}"
        );

        let mut v = serde_json::to_value(&model).unwrap();
        v["format"] = "foodqc-model".into();
        write(&v);
        let err = GradeClassifier::load(&path).unwrap_err();
        assert!(matches!(err, ClassifierError::WrongFormat { .. }), "{err}");

        let mut v = serde_json::to_value(&model).unwrap();
        v["feature_set"] = "old-descriptor".into();
        write(&v);
        assert!(
            GradeClassifier::load(&path).is_ok(),
            "any feature set loads"
        );
        let err = GradeClassifier::load_for_images(&path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("old-descriptor") && err.contains("grader.json"),
            "{err}"
        );

        let mut v = serde_json::to_value(&model).unwrap();
        v["machines"].as_array_mut().unwrap().pop();
        write(&v);
        let err = GradeClassifier::load(&path).unwrap_err();
        assert!(matches!(err, ClassifierError::Inconsistent { .. }), "{err}");

        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(
            GradeClassifier::load(&path),
            Err(ClassifierError::Parse { .. })
        ));
        let err = GradeClassifier::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(matches!(err, ClassifierError::Io { .. }));
        assert!(err.to_string().contains("missing.json"));
    }

    #[test]
    fn bad_inputs_are_explained() {
        let row = vec![0.0; 3];
        let names = ["f1", "f2", "f3"];
        let opts = GradeTrainOptions::default();
        let train = |x: &[Vec<f64>], y: &[&str]| {
            let y: Vec<String> = y.iter().map(|s| s.to_string()).collect();
            GradeClassifier::train(x, &y, None, "t", &names, &opts, "t")
        };
        let one = train(&vec![row.clone(); 4], &["a"; 4]).unwrap_err();
        assert!(matches!(one, ClassifierError::OneClass(1)));
        let few = train(&vec![row.clone(); 5], &["a", "a", "a", "b", "b"]).unwrap_err();
        assert!(few.to_string().contains("`b` has 2"), "{few}");
        let short = train(&[row.clone(), vec![0.0; 2]], &["a", "b"]).unwrap_err();
        assert!(matches!(short, ClassifierError::Data(_)));
        let nan = train(&[vec![f64::NAN, 0.0, 0.0]], &["a"]).unwrap_err();
        assert!(matches!(nan, ClassifierError::Data(_)));

        let x: Vec<Vec<f64>> = (0..8)
            .map(|i| vec![i as f64, 0.0, (i % 2) as f64])
            .collect();
        let y = ["a", "b", "a", "b", "a", "b", "a", "b"];
        let model = train(&x, &y).unwrap();
        assert!(matches!(
            model.predict(&[1.0]),
            Err(ClassifierError::Dimension {
                got: 1,
                expected: 3
            })
        ));
    }

    #[test]
    fn grouped_folds_keep_groups_together() {
        // 60 samples in groups of 1..5, three classes.
        let mut groups = Vec::new();
        let mut classes = Vec::new();
        let mut g = 0u64;
        while groups.len() < 60 {
            let size = 1 + (g % 5) as usize;
            for _ in 0..size {
                groups.push(g * 7 + 3);
                classes.push((g % 3) as usize);
            }
            g += 1;
        }
        let folds = grouped_folds(&groups, &classes, 5);
        assert_eq!(folds.len(), groups.len());
        let mut fold_of = BTreeMap::new();
        for (gid, f) in groups.iter().zip(&folds) {
            assert_eq!(*fold_of.entry(*gid).or_insert(*f), *f, "group {gid} split");
        }
        for f in 0..5 {
            let n = folds.iter().filter(|&&x| x == f).count();
            assert!((6..=18).contains(&n), "fold {f} has {n}");
            for c in 0..3 {
                assert!(
                    folds.iter().zip(&classes).any(|(&x, &k)| x == f && k == c),
                    "fold {f} lacks class {c}"
                );
            }
        }
        assert_eq!(folds, grouped_folds(&groups, &classes, 5), "deterministic");
    }

    #[test]
    fn confusion_measures_by_hand() {
        let mut cm = ClassConfusion::new(&classes3());
        let counts = [[5, 1, 0], [2, 3, 1], [0, 0, 4]];
        for (t, row) in counts.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                for _ in 0..n {
                    cm.add(t, p);
                }
            }
        }
        assert_eq!(cm.total(), 16);
        assert_eq!(cm.support(1), 6);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(cm.precision(0), 5.0 / 7.0));
        assert!(close(cm.recall(0), 5.0 / 6.0));
        assert!(close(cm.f1(0), 10.0 / 13.0));
        assert!(close(cm.f1(1), 3.0 / 5.0));
        assert!(close(cm.f1(2), 8.0 / 9.0));
        assert!(close(
            cm.macro_f1(),
            (10.0 / 13.0 + 3.0 / 5.0 + 8.0 / 9.0) / 3.0
        ));
        assert!(close(cm.accuracy(), 0.75));

        // A class never predicted has precision 0; a class without items is not averaged.
        let mut cm = ClassConfusion::new(&classes3());
        cm.add(0, 0);
        cm.add(1, 0);
        assert_eq!(cm.precision(1), 0.0);
        assert_eq!(cm.f1(1), 0.0);
        assert!(close(cm.macro_f1(), (2.0 / 3.0 + 0.0) / 2.0));
    }
}
