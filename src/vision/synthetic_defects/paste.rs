//! CutPaste / patch swap (NSA-style): a rectangle or ellipse of another good item (or of
//! another place of the same item) resized to the item's scale, turned, maybe mirrored, and
//! pasted with a feathered edge, its mean colour pulled toward what it covers so the seam is
//! not the tell.

use std::f32::consts::{PI, TAU};

use super::item::Item;
use super::layer::{ALPHA_MIN, Layer, clamp_rgb, compose, smoothstep};
use super::rng::Rng;
use super::{DefectKind, SyntheticDefect};

/// Patch side (geometric mean of width and height) as a fraction of the item diameter.
const SIDE: (f32, f32) = (0.05, 0.25);
/// Smallest patch side in pixels: below this a feathered patch is a blur.
const MIN_SIDE: f32 = 6.0;
/// Patch width / height, log-uniform.
const ASPECT: (f32, f32) = (1.0 / 3.0, 3.0);
/// Chance of taking the patch from the donor when there is one.
const FROM_DONOR: f32 = 0.75;
/// How much of the mean colour difference between patch and covered area is removed.
const MATCH: (f32, f32) = (0.6, 1.0);
/// Brightness change of the patch (a gain), in item luma spreads (either sign).
const JITTER: (f32, f32) = (0.5, 1.2);

/// Bilinear colour and item coverage of `src` at crop point `(x, y)` (pixel centres at +0.5).
fn sample(src: &Item, x: f32, y: f32) -> ([f32; 3], f32) {
    let (fx, fy) = (x - 0.5, y - 0.5);
    let (x0, y0) = (fx.floor(), fy.floor());
    let (tx, ty) = (fx - x0, fy - y0);
    let (mut c, mut m) = ([0f32; 3], 0f32);
    for (dx, dy, w) in [
        (0, 0, (1.0 - tx) * (1.0 - ty)),
        (1, 0, tx * (1.0 - ty)),
        (0, 1, (1.0 - tx) * ty),
        (1, 1, tx * ty),
    ] {
        let (px, py) = (x0 as i64 + dx, y0 as i64 + dy);
        let cx = px.clamp(0, i64::from(src.width) - 1) as u32;
        let cy = py.clamp(0, i64::from(src.height) - 1) as u32;
        let p = src.rgb.get_pixel(cx, cy).0;
        for k in 0..3 {
            c[k] += w * f32::from(p[k]);
        }
        if src.is_item(px, py) {
            m += w;
        }
    }
    (c, m)
}

/// A pasted patch on `item`, from `donor` when given (most of the time) or from the item.
pub(super) fn paste(item: &Item, donor: Option<&Item>, rng: &mut Rng) -> SyntheticDefect {
    let d = item.diameter;
    let side = (rng.range(SIDE.0, SIDE.1) * d).max(MIN_SIDE);
    let aspect = rng.log_range(ASPECT.0, ASPECT.1);
    let (hw, hh) = (0.5 * side * aspect.sqrt(), 0.5 * side / aspect.sqrt());
    let phi = rng.range(0.0, PI);
    let (tx, ty) = item.sample_inside(rng, hw.min(hh));
    let src = match donor {
        Some(d) if rng.chance(FROM_DONOR) => d,
        _ => item,
    };
    let same = std::ptr::eq(src, item);
    // Source pixels per item pixel: the patch keeps the item's scale of texture.
    let k = src.diameter / d * rng.range(0.9, 1.1);
    let reach = hw.hypot(hh) * k;
    let (sx, sy) = if same {
        // The farthest of a few deep points: a patch of a different place.
        (0..6)
            .map(|_| src.sample_inside(rng, reach))
            .max_by(|a, b| {
                let da = (a.0 - tx).hypot(a.1 - ty);
                let db = (b.0 - tx).hypot(b.1 - ty);
                da.total_cmp(&db)
            })
            .unwrap_or((tx, ty))
    } else {
        src.sample_inside(rng, reach)
    };
    let theta = rng.range(0.0, TAU);
    let flip = if rng.chance(0.5) { -1.0 } else { 1.0 };
    let feather = (rng.range(0.25, 0.5) * hw.min(hh)).max(1.0);
    // A rectangle (CutPaste, NSA) or an ellipse: the detector must not learn one outline.
    let oval = rng.chance(0.5);
    let (cp, sp) = (phi.cos(), phi.sin());
    let (ct, st) = (theta.cos() * k, theta.sin() * k);
    let ex = cp.abs() * hw + sp.abs() * hh + 1.0;
    let ey = sp.abs() * hw + cp.abs() * hh + 1.0;
    let mut layer = Layer::new(item, tx - ex, ty - ey, tx + ex, ty + ey);
    let mut colours = vec![[0f32; 3]; (layer.w * layer.h) as usize];
    let (x0, y0, lw) = (layer.x0, layer.y0, layer.w);
    let (mut sum_src, mut sum_dst, mut weight) = ([0f32; 3], [0f32; 3], 0f32);
    layer.fill(|x, y| {
        let (dx, dy) = (x as f32 + 0.5 - tx, y as f32 + 0.5 - ty);
        let u = dx * cp + dy * sp;
        let v = -dx * sp + dy * cp;
        let edge = if oval {
            // Approximate distance inside the ellipse, in pixels.
            (1.0 - ((u / hw).powi(2) + (v / hh).powi(2)).sqrt()) * hw.min(hh)
        } else {
            (hw - u.abs()).min(hh - v.abs())
        };
        if edge <= 0.0 || !item.is_item(i64::from(x), i64::from(y)) {
            return 0.0;
        }
        let fu = flip * u;
        let (c, cover) = sample(src, sx + fu * ct - v * st, sy + fu * st + v * ct);
        let a = smoothstep(edge / feather) * cover;
        if a >= ALPHA_MIN {
            let dst = item.rgb.get_pixel(x, y).0;
            for i in 0..3 {
                sum_src[i] += a * c[i];
                sum_dst[i] += a * f32::from(dst[i]);
            }
            weight += a;
            colours[((y - y0) * lw + x - x0) as usize] = c;
        }
        a
    });
    // Poisson-like: move the patch's mean most of the way to the mean of what it covers,
    // then shift its brightness a little (CutPaste's colour jitter), relative to the item.
    let m = rng.range(MATCH.0, MATCH.1);
    let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
    let gain = 1.0 + sign * rng.range(JITTER.0, JITTER.1) * item.spread / item.luma.max(1.0);
    let offset: [f32; 3] =
        std::array::from_fn(|i| m * (sum_dst[i] - sum_src[i]) / weight.max(1e-3));
    compose(item, &layer, DefectKind::Paste, |x, y, _| {
        let c = colours[((y - y0) * lw + x - x0) as usize];
        clamp_rgb(std::array::from_fn(|i| (c[i] + offset[i]) * gain))
    })
}
