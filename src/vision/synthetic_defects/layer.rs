//! The opacity of a defect over a window of the crop, and composing it onto the item: every
//! kind draws an opacity, then says what colour each covered pixel turns toward.

use image::{GrayImage, Luma, Rgb};

use super::item::{Item, luma};
use super::{DefectKind, SyntheticDefect};

/// Opacities below this are dropped: the faint tail of a soft edge is neither drawn nor
/// marked, so the defect mask is exactly the changed region.
pub(super) const ALPHA_MIN: f32 = 0.06;

/// Opacity over a window of the crop (0 outside the window).
pub(super) struct Layer {
    pub x0: u32,
    pub y0: u32,
    pub w: u32,
    pub h: u32,
    a: Vec<f32>,
}

impl Layer {
    /// A clear layer over the window `[x0, x1) x [y0, y1)` (crop coordinates, rounded
    /// outward and clipped to the crop).
    pub(super) fn new(item: &Item, x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        let clip = |v: f32, hi: u32| v.clamp(0.0, hi as f32) as u32;
        let (x0, y0) = (clip(x0.floor(), item.width), clip(y0.floor(), item.height));
        let (x1, y1) = (clip(x1.ceil(), item.width), clip(y1.ceil(), item.height));
        let (w, h) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
        Self {
            x0,
            y0,
            w,
            h,
            a: vec![0.0; (w * h) as usize],
        }
    }

    /// Opacity at crop pixel `(x, y)`.
    pub(super) fn get(&self, x: u32, y: u32) -> f32 {
        if x < self.x0 || y < self.y0 || x >= self.x0 + self.w || y >= self.y0 + self.h {
            return 0.0;
        }
        self.a[((y - self.y0) * self.w + x - self.x0) as usize]
    }

    /// Raise the opacity at crop pixel `(x, y)` to `v` (no-op outside the window).
    pub(super) fn raise(&mut self, x: u32, y: u32, v: f32) {
        if x >= self.x0 && y >= self.y0 && x < self.x0 + self.w && y < self.y0 + self.h {
            let a = &mut self.a[((y - self.y0) * self.w + x - self.x0) as usize];
            *a = a.max(v);
        }
    }

    /// Set the opacity of every window pixel from its crop coordinates.
    pub(super) fn fill(&mut self, mut f: impl FnMut(u32, u32) -> f32) {
        for j in 0..self.h {
            for i in 0..self.w {
                self.a[(j * self.w + i) as usize] = f(self.x0 + i, self.y0 + j);
            }
        }
    }
}

/// Smooth step from 0 at `t <= 0` to 1 at `t >= 1`.
pub(super) fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The item with the layer drawn on it: every item pixel of opacity `a >= ALPHA_MIN` moves a
/// fraction `a` toward `target(x, y, colour)` and is marked in the defect mask; all other
/// pixels stay as they were.
pub(super) fn compose(
    item: &Item,
    layer: &Layer,
    kind: DefectKind,
    mut target: impl FnMut(u32, u32, [f32; 3]) -> [f32; 3],
) -> SyntheticDefect {
    let mut rgb = item.rgb.clone();
    let mut mask = GrayImage::new(item.width, item.height);
    for y in layer.y0..layer.y0 + layer.h {
        for x in layer.x0..layer.x0 + layer.w {
            let a = layer.get(x, y).min(1.0);
            if a < ALPHA_MIN || !item.is_item(i64::from(x), i64::from(y)) {
                continue;
            }
            let p = rgb.get_pixel(x, y).0.map(f32::from);
            let t = target(x, y, p);
            let out: [u8; 3] =
                std::array::from_fn(|c| (p[c] + a * (t[c] - p[c])).round().clamp(0.0, 255.0) as u8);
            rgb.put_pixel(x, y, Rgb(out));
            mask.put_pixel(x, y, Luma([255]));
        }
    }
    SyntheticDefect { rgb, mask, kind }
}

/// Clamp a colour to the displayable range.
pub(super) fn clamp_rgb(c: [f32; 3]) -> [f32; 3] {
    c.map(|v| v.clamp(0.0, 255.0))
}

/// `p` with its chroma (the colour around its grey) turned by `angle` and scaled by `sat`,
/// and its brightness scaled by `gain`.
pub(super) fn turn_colour(p: [f32; 3], angle: f32, sat: f32, gain: f32) -> [f32; 3] {
    let y = luma(p);
    // Chroma axes of YCbCr (unscaled).
    let (cb, cr) = (p[2] - y, p[0] - y);
    let (sa, ca) = angle.sin_cos();
    let (cb, cr) = (sat * (cb * ca - cr * sa), sat * (cb * sa + cr * ca));
    let y = y * gain;
    // Back to RGB from Y, B-Y, R-Y.
    let (r, b) = (y + cr, y + cb);
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    clamp_rgb([r, g, b])
}
