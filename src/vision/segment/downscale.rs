//! The reduced work image: block means of the frame, with an exact division by a multiply.

use image::RgbImage;

use super::Segmenter;

impl Segmenter {
    /// Fills the work image (`sw x sh`) with the means of `scale x scale` blocks of `frame`.
    pub(super) fn downscale(&mut self, frame: &RgbImage, scale: u32, sw: u32, sh: u32) {
        let (sw, sh) = (sw as usize, sh as usize);
        self.small.clear();
        self.small.resize(sw * sh, [0; 3]);
        let fw = frame.width() as usize;
        let raw = frame.as_raw();
        let s = scale as usize;
        match s {
            2 => return downscale_fixed::<2>(raw, fw, &mut self.small, sw),
            3 => return downscale_fixed::<3>(raw, fw, &mut self.small, sw),
            4 => return downscale_fixed::<4>(raw, fw, &mut self.small, sw),
            _ => {}
        }
        let n = (s * s) as u32;
        let div = ExactDiv::new(n);
        for sy in 0..sh {
            let out = &mut self.small[sy * sw..(sy + 1) * sw];
            let rows = &raw[sy * s * fw * 3..];
            for (ox, o) in out.iter_mut().enumerate() {
                // The block's channel sums in registers (a running sum in memory would chain
                // every add through a store); wrapping adds: at most 255 * 256 per channel
                // for blocks up to 16 x 16, and no overflow-check branch per pixel.
                let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
                for dy in 0..s {
                    let start = dy * fw * 3 + ox * s * 3;
                    for p in rows[start..start + s * 3].chunks_exact(3) {
                        r = r.wrapping_add(u32::from(p[0]));
                        g = g.wrapping_add(u32::from(p[1]));
                        b = b.wrapping_add(u32::from(p[2]));
                    }
                }
                *o = [div.of(r) as u8, div.of(g) as u8, div.of(b) as u8];
            }
        }
    }
}

/// [`Segmenter::downscale`] for a block side known at compile time (the common 2, 3 and 4):
/// the block loops unroll and the division is a constant one. The same floor means.
fn downscale_fixed<const S: usize>(raw: &[u8], fw: usize, small: &mut [[u8; 3]], sw: usize) {
    let div = ExactDiv::new((S * S) as u32);
    for (sy, out) in small.chunks_exact_mut(sw).enumerate() {
        let rows: [&[u8]; S] =
            std::array::from_fn(|dy| &raw[(sy * S + dy) * fw * 3..][..sw * S * 3]);
        for (ox, o) in out.iter_mut().enumerate() {
            let mut sum = [0u32; 3];
            for row in &rows {
                for p in row[ox * S * 3..(ox + 1) * S * 3].chunks_exact(3) {
                    sum[0] += u32::from(p[0]);
                    sum[1] += u32::from(p[1]);
                    sum[2] += u32::from(p[2]);
                }
            }
            *o = sum.map(|v| div.of(v) as u8);
        }
    }
}

/// Exact `a / n` by a multiply and a shift (a hardware division per work pixel and channel
/// costs more than the rest of the downscale), for `a` below 2^16; plain division otherwise.
#[derive(Clone, Copy, Debug)]
pub(super) struct ExactDiv {
    n: u32,
    magic: u64,
}

impl ExactDiv {
    pub(super) fn new(n: u32) -> Self {
        let n = n.max(1);
        // ceil(2^32 / n): exact for dividends and divisors below 2^16.
        Self {
            n,
            magic: (1u64 << 32).div_ceil(u64::from(n)),
        }
    }

    #[inline]
    pub(super) fn of(self, a: u32) -> u32 {
        if a < 1 << 16 && self.n < 1 << 16 {
            ((u64::from(a) * self.magic) >> 32) as u32
        } else {
            a / self.n
        }
    }
}
