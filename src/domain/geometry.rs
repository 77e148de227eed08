//! Pixel geometry shared by every layer.

use serde::{Deserialize, Serialize};

/// Axis-aligned rectangle in pixels: `x, y` top-left, `w, h` size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl BBox {
    /// Area in pixels.
    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    /// Intersection over union with another box, in 0..=1.
    pub fn iou(&self, other: &BBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        if x1 <= x0 || y1 <= y0 {
            return 0.0;
        }
        let inter = u64::from(x1 - x0) * u64::from(y1 - y0);
        let union = self.area() + other.area() - inter;
        inter as f32 / union.max(1) as f32
    }

    /// Centre point.
    pub fn center(&self) -> (f32, f32) {
        (
            self.x as f32 + self.w as f32 / 2.0,
            self.y as f32 + self.h as f32 / 2.0,
        )
    }
}
