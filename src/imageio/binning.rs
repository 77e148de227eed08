//! Pixel binning: a model may look at frames reduced N×N (N = 1, 2 or 4), like a camera's
//! binning mode. Large items (a cookie filling a photo) keep all the detail the features use
//! at half resolution, while the pixel work drops fourfold; small items stay at full
//! resolution.
//!
//! This module holds the pixel side: block means, sizes, and mapping binned values, masks and
//! boxes back to frame pixels. The factor itself is chosen at training from the size of the
//! items (`vision::resolution`).

use image::{GrayImage, RgbImage};

use super::grid;
use crate::domain::BBox;

/// Binning factors a model may use, smallest first.
pub const FACTORS: [u32; 3] = [1, 2, 4];

/// Size of an image binned by `n`: partial blocks at the right and bottom edges count (as a
/// JPEG decoder scaling by 1/n rounds up).
pub fn binned_size(width: u32, height: u32, n: u32) -> (u32, u32) {
    (width.div_ceil(n), height.div_ceil(n))
}

/// The mean of each `n`×`n` block (rounded to nearest); edge blocks average the pixels they
/// have. `n` = 1 copies the image.
pub fn bin(img: &RgbImage, n: u32) -> RgbImage {
    if n <= 1 {
        return img.clone();
    }
    if n == 2 && img.width().is_multiple_of(2) && img.height().is_multiple_of(2) {
        return bin_2x2(img);
    }
    let (w, h) = img.dimensions();
    let (bw, bh) = binned_size(w, h, n);
    let (w, n_us) = (w as usize, n as usize);
    let mut out = RgbImage::new(bw, bh);
    let src = img.as_raw();
    let mut sums = vec![0u32; bw as usize * 3];
    for (by, out_row) in out.chunks_exact_mut(bw as usize * 3).enumerate() {
        sums.fill(0);
        let y0 = by * n_us;
        let rows = n_us.min(h as usize - y0);
        for y in y0..y0 + rows {
            let row = &src[y * w * 3..(y + 1) * w * 3];
            // One block of n pixels at a time; the last one may be short.
            for (sum, block) in sums.chunks_exact_mut(3).zip(row.chunks(n_us * 3)) {
                for px in block.chunks_exact(3) {
                    sum[0] += u32::from(px[0]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[2]);
                }
            }
        }
        for (bx, (o, s)) in out_row
            .chunks_exact_mut(3)
            .zip(sums.chunks_exact(3))
            .enumerate()
        {
            let cols = n_us.min(w - bx * n_us);
            let count = (cols * rows) as u32;
            for c in 0..3 {
                o[c] = ((s[c] + count / 2) / count) as u8;
            }
        }
    }
    out
}

/// [`bin`] by 2 of an image of even size: two rows at a time, so the compiler can vectorise.
fn bin_2x2(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let row_len = w as usize * 3;
    let mut out = RgbImage::new(w / 2, h / 2);
    for (pair, out_row) in img
        .as_raw()
        .chunks_exact(2 * row_len)
        .zip(out.chunks_exact_mut(row_len / 2))
    {
        let (top, bottom) = pair.split_at(row_len);
        for ((o, t), b) in out_row
            .chunks_exact_mut(3)
            .zip(top.chunks_exact(6))
            .zip(bottom.chunks_exact(6))
        {
            for c in 0..3 {
                let s =
                    u16::from(t[c]) + u16::from(t[c + 3]) + u16::from(b[c]) + u16::from(b[c + 3]);
                o[c] = ((s + 2) >> 2) as u8;
            }
        }
    }
    out
}

/// A binned pixel coordinate (pixel centres at integers) in frame pixels: the centre of its
/// block.
pub fn to_frame(v: f32, n: u32) -> f32 {
    v * n as f32 + (n as f32 - 1.0) / 2.0
}

/// Per-pixel values on an image binned by `n` (`bw`×`bh`, row-major) spread back over the
/// `width`×`height` frame, bilinear between block centres.
pub fn upsample(
    values: &[f32],
    (bw, bh): (u32, u32),
    n: u32,
    (width, height): (u32, u32),
) -> Vec<f32> {
    let (bw, bh) = (bw as usize, bh as usize);
    debug_assert_eq!(values.len(), bw * bh);
    // A block is a cell of n frame pixels, its value at its centre.
    let axis = |x: u32, len: usize| grid::axis(x as usize, n as f32, len);
    let columns: Vec<_> = (0..width).map(|x| axis(x, bw)).collect();
    let mut out = Vec::with_capacity(width as usize * height as usize);
    let mut blended = vec![0f32; bw];
    for y in 0..height {
        let (r0, r1, fy) = axis(y, bh);
        let (a, b) = (
            &values[r0 * bw..(r0 + 1) * bw],
            &values[r1 * bw..(r1 + 1) * bw],
        );
        for ((o, a), b) in blended.iter_mut().zip(a).zip(b) {
            *o = a + (b - a) * fy;
        }
        out.extend(columns.iter().map(|&(c0, c1, fx)| {
            let (a, b) = (blended[c0], blended[c1]);
            a + (b - a) * fx
        }));
    }
    out
}

/// A mask on an image binned by `n` over the `width`×`height` frame: each block's value on
/// all its pixels.
pub fn upsample_mask(mask: &GrayImage, n: u32, (width, height): (u32, u32)) -> GrayImage {
    let (bw, bh) = mask.dimensions();
    GrayImage::from_fn(width, height, |x, y| {
        *mask.get_pixel((x / n).min(bw - 1), (y / n).min(bh - 1))
    })
}

/// A box on a frame binned by `n` in the `width`×`height` frame's pixels: the blocks it
/// covers, cut at the frame's edge.
pub fn bbox_to_frame(b: BBox, n: u32, (width, height): (u32, u32)) -> BBox {
    let (x, y) = ((b.x * n).min(width), (b.y * n).min(height));
    BBox {
        x,
        y,
        w: (b.w * n).min(width - x),
        h: (b.h * n).min(height - y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_averages_blocks_and_keeps_partial_edges() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([(x * 10 + y) as u8, 7, 200]));
        let b = bin(&img, 2);
        assert_eq!(b.dimensions(), (3, 2));
        // Block (0,0): x 0..2, y 0..2 -> values 0,10,1,11 -> mean 5.5 -> 6 (rounded).
        assert_eq!(b.get_pixel(0, 0).0, [6, 7, 200]);
        // Right edge block: only x = 4, y 0..2 -> 40, 41 -> 40.5 -> 41.
        assert_eq!(b.get_pixel(2, 0).0, [41, 7, 200]);
        // Bottom-right: x = 4, y = 2 alone.
        assert_eq!(b.get_pixel(2, 1).0, [42, 7, 200]);
        assert_eq!(bin(&img, 1), img);
        assert_eq!(binned_size(576, 768, 2), (288, 384));
        assert_eq!(binned_size(577, 769, 4), (145, 193));
    }

    #[test]
    fn even_2x2_binning_matches_the_general_one() {
        let img = RgbImage::from_fn(8, 6, |x, y| {
            image::Rgb([(x * 31 + y * 7) as u8, (x * y) as u8, 255 - x as u8])
        });
        let fast = bin_2x2(&img);
        // The general path, on a copy with an odd column, then the odd column cut off.
        let wide = RgbImage::from_fn(9, 6, |x, y| *img.get_pixel(x.min(7), y));
        let general = bin(&wide, 2);
        for y in 0..3 {
            for x in 0..4 {
                assert_eq!(fast.get_pixel(x, y), general.get_pixel(x, y), "{x},{y}");
            }
        }
    }

    #[test]
    fn upsampling_interpolates_between_block_centres() {
        // Two blocks of 2 pixels: centres at frame x 0.5 and 2.5.
        let v = upsample(&[0.0, 4.0], (2, 1), 2, (4, 1));
        assert_eq!(v, vec![0.0, 1.0, 3.0, 4.0]);
        // Constant stays constant, sizes follow the frame (odd sizes included).
        let v = upsample(&[2.5; 6], (3, 2), 2, (5, 3));
        assert_eq!(v.len(), 15);
        assert!(v.iter().all(|x| *x == 2.5));
        // Pixels a frame has in common come out the same whatever its width.
        let v: Vec<f32> = (0..12).map(|i| ((i * 7) % 5) as f32).collect();
        let wide = upsample(&v, (4, 3), 2, (8, 6));
        let narrow = upsample(&v, (4, 3), 2, (7, 6));
        for y in 0..6 {
            for x in 0..7 {
                assert!(
                    (wide[y * 8 + x] - narrow[y * 7 + x]).abs() < 1e-5,
                    "{x},{y}"
                );
            }
        }
        let m = GrayImage::from_raw(2, 1, vec![0, 255]).unwrap();
        let up = upsample_mask(&m, 2, (3, 2));
        assert_eq!(up.as_raw(), &vec![0, 0, 255, 0, 0, 255]);
    }

    #[test]
    fn binned_coordinates_map_to_block_centres() {
        assert_eq!(to_frame(0.0, 1), 0.0);
        assert_eq!(to_frame(0.0, 2), 0.5);
        assert_eq!(to_frame(3.0, 2), 6.5);
        assert_eq!(to_frame(1.0, 4), 5.5);
        let b = BBox {
            x: 10,
            y: 5,
            w: 20,
            h: 8,
        };
        assert_eq!(
            bbox_to_frame(b, 2, (100, 100)),
            BBox {
                x: 20,
                y: 10,
                w: 40,
                h: 16
            }
        );
        // A partial edge block: cut at the frame.
        assert_eq!(
            bbox_to_frame(b, 2, (55, 25)),
            BBox {
                x: 20,
                y: 10,
                w: 35,
                h: 15
            }
        );
    }
}
