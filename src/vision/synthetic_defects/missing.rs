//! Missing pieces: an irregular bite out of the item's rim, filled with background pixels
//! taken from the crop around it (outliers tamed), so the outline itself changes.

use std::f32::consts::TAU;

use image::GrayImage;

use super::item::Item;
use super::layer::{ALPHA_MIN, Layer, compose, smoothstep};
use super::rng::Rng;
use super::{DefectKind, SyntheticDefect};
use crate::vision::morph;

/// Bite diameter as a fraction of the item diameter.
const SIZE: (f32, f32) = (0.10, 0.30);
/// Offset of the bite's centre from the rim along the outward normal, in bite radii
/// (negative: inward, a deep bite).
const OFFSET: (f32, f32) = (-0.35, 0.45);
/// Smallest share of the item a bite removes; shallower bites move inward.
const MIN_SHARE: f32 = 0.0025;
/// Distance from the item of the background pixels a bite is filled with, in pixels.
const CLEAR: u32 = 2;

/// The outward direction of the outline at rim pixel `(x, y)`: away from the mean of the
/// item pixels within `r`.
fn outward(item: &Item, (x, y): (u32, u32), r: f32) -> (f32, f32) {
    let r = r.max(2.0) as i64;
    let (xi, yi) = (i64::from(x), i64::from(y));
    let (mut sx, mut sy, mut n) = (0f32, 0f32, 0f32);
    for dy in -r..=r {
        for dx in -r..=r {
            if item.is_item(xi + dx, yi + dy) {
                sx += dx as f32;
                sy += dy as f32;
                n += 1.0;
            }
        }
    }
    let (mx, my) = (-sx / n.max(1.0), -sy / n.max(1.0));
    let len = mx.hypot(my);
    if len < 1e-3 {
        (1.0, 0.0)
    } else {
        (mx / len, my / len)
    }
}

/// Background colours near `(cx, cy)`: the non-item pixels within `r` that are at least
/// [`CLEAR`] pixels from the item (the item's blurred edge is not background); else any
/// non-item pixels of the crop; else the crop's border pixels.
fn background(item: &Item, (cx, cy): (f32, f32), r: f32) -> Vec<[u8; 3]> {
    let clip = |v: f32, hi: u32| v.clamp(0.0, hi as f32) as u32;
    let (x0, y0) = (clip(cx - r, item.width), clip(cy - r, item.height));
    let (x1, y1) = (
        clip(cx + r + 1.0, item.width),
        clip(cy + r + 1.0, item.height),
    );
    let mut near = GrayImage::new(x1 - x0, y1 - y0);
    for (x, y, p) in near.enumerate_pixels_mut() {
        if item.is_item(i64::from(x0 + x), i64::from(y0 + y)) {
            p.0[0] = 255;
        }
    }
    morph::dilate(&mut near, CLEAR);
    let local: Vec<[u8; 3]> = near
        .enumerate_pixels()
        .filter(|(_, _, m)| m.0[0] == 0)
        .map(|(x, y, _)| item.rgb.get_pixel(x0 + x, y0 + y).0)
        .collect();
    if local.len() >= 16 {
        return local;
    }
    let all: Vec<[u8; 3]> = item
        .rgb
        .enumerate_pixels()
        .filter(|(x, y, _)| !item.is_item(i64::from(*x), i64::from(*y)))
        .map(|(_, _, p)| p.0)
        .collect();
    if !all.is_empty() {
        return all;
    }
    item.rgb
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || x + 1 == item.width || y + 1 == item.height)
        .map(|(_, _, p)| p.0)
        .collect()
}

/// A bite out of `item`'s rim.
pub(super) fn missing_piece(item: &Item, rng: &mut Rng) -> SyntheticDefect {
    let d = item.diameter;
    let rim = item.rim();
    let at = rim[rng.below(rim.len())];
    let r = 0.5 * rng.range(SIZE.0, SIZE.1) * d;
    let (nx, ny) = outward(item, at, r);
    let mut offset = rng.range(OFFSET.0, OFFSET.1) * r;
    // An irregular outline: a few low harmonics, and a little roughness for a broken edge.
    let harmonics: Vec<(f32, f32, f32)> = [2, 3, 4, 7, 8, 9]
        .into_iter()
        .map(|k: u8| {
            let amp = if k < 5 { 0.24 / f32::from(k) } else { 0.03 };
            (f32::from(k), rng.range(0.0, amp), rng.range(0.0, TAU))
        })
        .collect();
    let radius_at = |angle: f32| {
        r * (1.0
            + harmonics
                .iter()
                .map(|&(k, a, p)| a * (k * angle + p).cos())
                .sum::<f32>())
    };
    let (px, py) = (at.0 as f32 + 0.5, at.1 as f32 + 0.5);
    let reach = 1.6 * r + 2.0;
    let mut centre = (px, py);
    let mut layer = Layer::new(item, 0.0, 0.0, 0.0, 0.0);
    for _ in 0..5 {
        centre = (px + nx * offset, py + ny * offset);
        let (cx, cy) = centre;
        layer = Layer::new(item, cx - reach, cy - reach, cx + reach, cy + reach);
        let mut removed = 0usize;
        layer.fill(|x, y| {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let edge = radius_at(dy.atan2(dx)) - dx.hypot(dy);
            let a = smoothstep(edge + 0.5);
            if a >= ALPHA_MIN && item.is_item(i64::from(x), i64::from(y)) {
                removed += 1;
            }
            a
        });
        if removed as f32 >= MIN_SHARE * item.area as f32 {
            break;
        }
        offset -= 0.3 * r;
    }
    let fill = background(item, centre, 3.0 * r + 4.0);
    let (median, spread) = robust_colour(&fill);
    // The background's grain without its outliers (a tray rim, a corner of another colour):
    // random background pixels, each channel kept within two deviations of the median.
    compose(item, &layer, DefectKind::MissingPiece, |_, _, _| {
        let p = fill[rng.below(fill.len())];
        std::array::from_fn(|c| {
            let lim = 2.0 * spread[c];
            median[c] + (f32::from(p[c]) - median[c]).clamp(-lim, lim)
        })
    })
}

/// Per-channel median and median absolute deviation (scaled to a standard deviation) of
/// `pixels` (not empty).
fn robust_colour(pixels: &[[u8; 3]]) -> ([f32; 3], [f32; 3]) {
    let mut median = [0f32; 3];
    let mut spread = [0f32; 3];
    for c in 0..3 {
        let mut hist = [0u32; 256];
        for p in pixels {
            hist[usize::from(p[c])] += 1;
        }
        let m = median_of(&hist, pixels.len() as u32);
        let mut dev = [0u32; 256];
        for (v, n) in hist.iter().enumerate() {
            dev[(v as i32 - m as i32).unsigned_abs() as usize] += n;
        }
        median[c] = m as f32;
        spread[c] = 1.4826 * median_of(&dev, pixels.len() as u32) as f32;
    }
    (median, spread)
}

/// The median value of a histogram holding `n` values.
fn median_of(hist: &[u32; 256], n: u32) -> usize {
    let mut seen = 0;
    for (v, k) in hist.iter().enumerate() {
        seen += k;
        if 2 * seen >= n {
            return v;
        }
    }
    255
}
