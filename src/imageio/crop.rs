//! Cutting items out of frames.

use crate::domain::BBox;

/// Crop an item with a margin of a quarter of its size, for saved samples.
pub fn crop_with_margin(frame: &image::RgbImage, b: BBox) -> image::RgbImage {
    let (fw, fh) = frame.dimensions();
    let m = (b.w.max(b.h) / 4).max(4);
    let x0 = b.x.saturating_sub(m);
    let y0 = b.y.saturating_sub(m);
    let x1 = (b.x + b.w + m).min(fw);
    let y1 = (b.y + b.h + m).min(fh);
    image::imageops::crop_imm(frame, x0, y0, x1 - x0, y1 - y0).to_image()
}

/// Where a [`square_around`] crop lies in its frame: a square of `side` frame pixels whose
/// top-left corner is (`x0`, `y0`), which may lie outside the frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SquareCrop {
    /// Frame x of the square's left edge.
    pub x0: f32,
    /// Frame y of the square's top edge.
    pub y0: f32,
    /// Side in frame pixels.
    pub side: f32,
}

impl SquareCrop {
    /// The frame point under the centre of cell (`col`, `row`) of an `n` x `n` grid laid
    /// over the square.
    pub fn cell_centre(&self, col: usize, row: usize, n: usize) -> (f32, f32) {
        let cell = self.side / n as f32;
        (
            self.x0 + (col as f32 + 0.5) * cell,
            self.y0 + (row as f32 + 0.5) * cell,
        )
    }
}

/// A square around `b`, `1 + margin` times its longer side, centred on it, resampled to `size`
/// x `size` pixels (bilinear, averaging over the source pixels a target pixel covers when
/// shrinking). Parts of the square outside the frame repeat the frame's edge, so an item at
/// the border is not framed by black. Aspect is kept: a long item is not stretched.
pub fn square_around(
    frame: &image::RgbImage,
    b: BBox,
    margin: f32,
    size: u32,
) -> (image::RgbImage, SquareCrop) {
    let side = (b.w.max(b.h).max(1) as f32 * (1.0 + margin.max(0.0))).max(1.0);
    let (cx, cy) = (b.x as f32 + b.w as f32 / 2.0, b.y as f32 + b.h as f32 / 2.0);
    let square = SquareCrop {
        x0: cx - side / 2.0,
        y0: cy - side / 2.0,
        side,
    };
    let (fw, fh) = frame.dimensions();
    let step = side / size.max(1) as f32;
    // Shrinking by more than 2x: average a few samples per target pixel so thin features
    // (cracks) are not aliased away; else one bilinear sample.
    let taps = (step / 1.5).ceil().clamp(1.0, 4.0) as usize;
    let raw = frame.as_raw();
    let sample = |x: f32, y: f32| -> [f32; 3] {
        let x = x.clamp(0.0, fw as f32 - 1.0);
        let y = y.clamp(0.0, fh as f32 - 1.0);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(fw as usize - 1), (y0 + 1).min(fh as usize - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let px = |xx: usize, yy: usize| {
            let i = (yy * fw as usize + xx) * 3;
            [raw[i] as f32, raw[i + 1] as f32, raw[i + 2] as f32]
        };
        let (a, b2, c, d) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
        let mut out = [0.0; 3];
        for k in 0..3 {
            let top = a[k] + (b2[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bottom - top) * fy;
        }
        out
    };
    let mut out = image::RgbImage::new(size, size);
    if fw == 0 || fh == 0 {
        return (out, square);
    }
    let inv = 1.0 / (taps * taps) as f32;
    for (ty, row) in out.rows_mut().enumerate() {
        for (tx, p) in row.enumerate() {
            let mut acc = [0.0f32; 3];
            for sy in 0..taps {
                for sx in 0..taps {
                    let x = square.x0 + (tx as f32 + (sx as f32 + 0.5) / taps as f32) * step - 0.5;
                    let y = square.y0 + (ty as f32 + (sy as f32 + 0.5) / taps as f32) * step - 0.5;
                    let s = sample(x, y);
                    for k in 0..3 {
                        acc[k] += s[k];
                    }
                }
            }
            p.0 = acc.map(|v| (v * inv).round().clamp(0.0, 255.0) as u8);
        }
    }
    (out, square)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_around_keeps_aspect_centres_and_repeats_edges() {
        // A frame with a white 20x10 bar on black, at x 40..60, y 30..40.
        let mut frame = image::RgbImage::new(100, 80);
        for y in 30..40 {
            for x in 40..60 {
                frame.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let b = BBox {
            x: 40,
            y: 30,
            w: 20,
            h: 10,
        };
        let (img, sq) = square_around(&frame, b, 0.0, 20);
        assert_eq!(img.dimensions(), (20, 20));
        assert_eq!((sq.x0, sq.y0, sq.side), (40.0, 25.0, 20.0));
        // Same scale: the bar fills the middle rows, the rows above and below are black.
        assert_eq!(img.get_pixel(10, 10).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(10, 2).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(10, 17).0, [0, 0, 0]);
        assert_eq!(sq.cell_centre(0, 0, 2), (45.0, 30.0));

        // A corner item: outside pixels repeat the frame's edge colour (red here).
        let mut frame = image::RgbImage::from_pixel(50, 50, image::Rgb([200, 0, 0]));
        frame.put_pixel(0, 0, image::Rgb([200, 0, 0]));
        let b = BBox {
            x: 0,
            y: 0,
            w: 10,
            h: 10,
        };
        let (img, sq) = square_around(&frame, b, 1.0, 16);
        assert!(sq.x0 < 0.0 && sq.y0 < 0.0);
        assert!(img.pixels().all(|p| p.0 == [200, 0, 0]));

        // Shrinking a fine checkerboard averages it to grey instead of aliasing.
        let frame = image::RgbImage::from_fn(200, 200, |x, y| {
            if (x + y) % 2 == 0 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let b = BBox {
            x: 0,
            y: 0,
            w: 200,
            h: 200,
        };
        let (img, _) = square_around(&frame, b, 0.0, 25);
        let mid = img.get_pixel(12, 12).0[0];
        assert!((100..=155).contains(&mid), "{mid}");
    }
}
