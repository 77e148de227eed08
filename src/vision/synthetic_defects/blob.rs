//! Colour and texture blobs (DRAEM-like): low-frequency noise with a radial fall-off,
//! thresholded to exactly the drawn share of the item, inside which the colour turns toward
//! a dark brown (rot, burn) or shifts in a random direction, or the texture is blurred or
//! made grainy.

use super::item::{Item, luma};
use super::layer::{Layer, clamp_rgb, compose, smoothstep, turn_colour};
use super::rng::{Rng, value_noise};
use super::{DefectKind, SyntheticDefect};

/// Blob area as a fraction of the item area.
const AREA: (f32, f32) = (0.01, 0.10);
/// Opacity at the blob's edge (it rises smoothly to the full strength inside).
const EDGE_ALPHA: f32 = 0.25;

/// What a blob does to the pixels under it.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// Toward a dark brown of the item's own brightness scale (rot, burn, bruise).
    Rot,
    /// A colour shift in a random direction.
    Shift,
    /// The texture blurred away.
    Blur,
    /// Grain added.
    Grain,
}

/// One box-blur pass of radius `r` over a `w x h` window of premultiplied colours (the
/// fourth channel is the item weight), with an integral image.
fn box_pass(v: &[[f32; 4]], w: usize, h: usize, r: usize) -> Vec<[f32; 4]> {
    let mut sums = vec![[0f32; 4]; (w + 1) * (h + 1)];
    for j in 0..h {
        for i in 0..w {
            let (up, left, diag) = (
                sums[j * (w + 1) + i + 1],
                sums[(j + 1) * (w + 1) + i],
                sums[j * (w + 1) + i],
            );
            let p = v[j * w + i];
            sums[(j + 1) * (w + 1) + i + 1] =
                std::array::from_fn(|c| p[c] + up[c] + left[c] - diag[c]);
        }
    }
    let mut out = vec![[0f32; 4]; w * h];
    for j in 0..h {
        for i in 0..w {
            let (a0, a1) = (i.saturating_sub(r), (i + r + 1).min(w));
            let (b0, b1) = (j.saturating_sub(r), (j + r + 1).min(h));
            let n = ((a1 - a0) * (b1 - b0)) as f32;
            out[j * w + i] = std::array::from_fn(|c| {
                (sums[b1 * (w + 1) + a1][c]
                    - sums[b0 * (w + 1) + a1][c]
                    - sums[b1 * (w + 1) + a0][c]
                    + sums[b0 * (w + 1) + a0][c])
                    / n
            });
        }
    }
    out
}

/// The item's colours over the layer's window blurred with radius about `r` (two box passes,
/// a tent), from item pixels only: the background never bleeds in.
fn item_blur(item: &Item, layer: &Layer, r: u32) -> Vec<[f32; 3]> {
    let (w, h) = (layer.w as usize, layer.h as usize);
    let mut v = vec![[0f32; 4]; w * h];
    for j in 0..h {
        for i in 0..w {
            let (x, y) = (layer.x0 + i as u32, layer.y0 + j as u32);
            if item.is_item(i64::from(x), i64::from(y)) {
                let p = item.rgb.get_pixel(x, y).0.map(f32::from);
                v[j * w + i] = [p[0], p[1], p[2], 1.0];
            }
        }
    }
    let half = (r as usize).div_ceil(2).max(1);
    let v = box_pass(&box_pass(&v, w, h, half), w, h, half);
    v.iter()
        .map(|p| {
            let n = p[3].max(1e-6);
            [p[0] / n, p[1] / n, p[2] / n]
        })
        .collect()
}

/// A blob on `item`.
pub(super) fn blob(item: &Item, rng: &mut Rng) -> SyntheticDefect {
    let d = item.diameter;
    let target = (rng.range(AREA.0, AREA.1) * item.area as f32)
        .round()
        .max(1.0) as usize;
    let radius = (target as f32 / std::f32::consts::PI).sqrt();
    let (cx, cy) = item.sample_inside(rng, 0.5 * radius);
    // Elongation and irregularity of the outline.
    let (ax, ay) = rng.direction();
    let stretch = rng.range(0.6, 1.0);
    let amp = rng.range(0.4, 1.2);
    let cell = radius * rng.range(0.5, 1.0);
    let noise_seed = rng.next_u64();
    let reach = 2.4 * radius + 2.0;
    let mut layer = Layer::new(item, cx - reach, cy - reach, cx + reach, cy + reach);
    let field = |x: u32, y: u32| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let (dx, dy) = (px - cx, py - cy);
        let (u, v) = (dx * ax + dy * ay, (-dx * ay + dy * ax) / stretch);
        let n = value_noise(noise_seed, px, py, cell)
            + 0.5 * value_noise(noise_seed ^ 1, px, py, 0.5 * cell);
        amp * n - (u * u + v * v) / (radius * radius)
    };
    // The field over the window (-inf off the item), and the threshold that keeps exactly
    // `target` item pixels of it.
    let mut fields = Vec::with_capacity((layer.w * layer.h) as usize);
    for y in layer.y0..layer.y0 + layer.h {
        for x in layer.x0..layer.x0 + layer.w {
            fields.push(if item.is_item(i64::from(x), i64::from(y)) {
                field(x, y)
            } else {
                f32::NEG_INFINITY
            });
        }
    }
    let mut values: Vec<f32> = fields.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return compose(item, &layer, DefectKind::Blob, |_, _, p| p);
    }
    let keep = target.min(values.len());
    let (_, &mut threshold, _) = values.select_nth_unstable_by(keep - 1, |a, b| b.total_cmp(a));
    let top = values.iter().copied().fold(threshold, f32::max);
    let soft = ((top - threshold) * rng.range(0.15, 0.35)).max(1e-3);
    let strength = rng.range(0.7, 1.0);
    let (x0, y0, lw) = (layer.x0, layer.y0, layer.w);
    layer.fill(|x, y| {
        let v = fields[((y - y0) * lw + x - x0) as usize];
        if v < threshold {
            0.0
        } else {
            strength * (EDGE_ALPHA + (1.0 - EDGE_ALPHA) * smoothstep((v - threshold) / soft))
        }
    });
    let change = match rng.unit() {
        u if u < 0.4 => Change::Rot,
        u if u < 0.65 => Change::Shift,
        u if u < 0.8 => Change::Blur,
        _ => Change::Grain,
    };
    let s = item.spread;
    let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
    match change {
        Change::Rot => {
            // A dark brown at 30-65 % of the item's brightness, lit like the pixel it
            // replaces: the item's light and shade stay, its colour goes.
            let brown = [1.0, 0.68, 0.42];
            let l = rng.range(0.3, 0.65) / luma(brown);
            let (mean, grain) = (item.luma.max(1.0), rng.range(0.6, 1.0));
            compose(item, &layer, DefectKind::Blob, |_, _, p| {
                let rel = 1.0 + grain * (luma(p) / mean - 1.0);
                clamp_rgb(brown.map(|c| c * l * mean * rel))
            })
        }
        Change::Shift => {
            // Hue turned, saturation and brightness changed: unripe, faded, discoloured.
            let angle = sign * rng.range(0.2, 0.7);
            let sat = rng.log_range(0.3, 1.3);
            let light = if rng.chance(0.5) { 1.0 } else { -1.0 };
            let gain = 1.0 + light * rng.range(0.5, 1.5) * s / item.luma.max(1.0);
            compose(item, &layer, DefectKind::Blob, |_, _, p| {
                turn_colour(p, angle, sat, gain)
            })
        }
        Change::Blur => {
            let r = (rng.range(0.03, 0.06) * d).max(2.0) as u32;
            let blurred = item_blur(item, &layer, r);
            let shift = sign * rng.range(0.5, 1.0) * s;
            compose(item, &layer, DefectKind::Blob, |x, y, _| {
                let b = blurred[((y - y0) * lw + x - x0) as usize];
                clamp_rgb(b.map(|v| v + shift))
            })
        }
        Change::Grain => {
            let sigma = rng.range(1.5, 2.5) * s;
            let grain = (0.012 * d).max(1.0);
            let seed = rng.next_u64();
            compose(item, &layer, DefectKind::Blob, |x, y, p| {
                let (px, py) = (x as f32, y as f32);
                let n = 0.7 * value_noise(seed, px, py, grain)
                    + 0.5 * value_noise(seed ^ 2, px, py, 0.5 * grain + 0.5);
                clamp_rgb(p.map(|v| v + sigma * n))
            })
        }
    }
}
