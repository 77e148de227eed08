//! The main item of a photo for the grade descriptor: the largest of the segmenter's items or
//! the region that stands out from the colours of the frame border (a second, classifier
//! specific segmenter for product that fills most of the photo).

use image::{GrayImage, Luma, RgbImage};

use crate::domain::BBox;
use crate::vision::components::Components;
use crate::vision::morph::{self, Outside};
use crate::vision::segment::{
    ItemRegion, SegmentConfig, Segmenter, belt_distance, color_l1, fill_holes,
};

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
pub(super) fn main_item(
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
pub(super) fn whole_image(img: &RgbImage) -> ItemRegion {
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

pub(super) fn count_set(mask: &GrayImage) -> usize {
    mask.as_raw().iter().filter(|&&m| m != 0).count()
}
