//! Synthetic product photos for tests: discs of three kinds on a dark belt.

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
