//! The belt: a pre-rendered texture that repeats along the belt, and the lighting falloff
//! across it.

use super::config::Params;
use super::look::BELT_RGB;
use super::math::to_u8;
use super::noise::{RowNoise, hash01, mix64};

/// Pre-rendered belt texture, `period` columns wide and frame-high, repeating along x.
#[derive(Clone, Debug)]
pub(super) struct Belt {
    pub(super) period: usize,
    pub(super) rgb: Vec<u8>,
}

impl Belt {
    pub(super) fn new(p: &Params, seed: u64, light: &[f32]) -> Self {
        let s = p.scale;
        // Faint splice seams at a fixed spacing; the texture period is a whole number of them.
        let seam = ((400.0 * s).round() as usize).max(16);
        let period = seam * p.w.div_ceil(seam).max(1);
        let bseed = mix64(seed, 0xBE17) as u32;
        let cells = |size: f32| ((period as f32 / size).round() as usize).max(1);
        // Large soft mottling, and faint streaks along the belt.
        let mut mottle = RowNoise::new(cells(90.0 * s), period, (90.0 * s).max(1.0), bseed);
        let mut streak =
            RowNoise::new(cells(260.0 * s), period, (4.0 * s).max(1.0), bseed ^ 0x5A5A);
        let (mut mottle_row, mut streak_row) = (vec![0.0; period], vec![0.0; period]);
        // Seams: a dark groove and a faint light lip beside it.
        let seam_w = ((2.0 * s).round() as usize).max(1);
        let seams: Vec<f32> = (0..period)
            .map(|x| match x % seam {
                xs if xs < seam_w => -7.0,
                xs if xs == seam_w => 3.0,
                _ => 0.0,
            })
            .collect();
        let mut rgb = vec![0u8; period * p.h * 3];
        for ((y, row), gain) in rgb.chunks_exact_mut(period * 3).enumerate().zip(light) {
            mottle.fill_row(y as f32, &mut mottle_row);
            streak.fill_row(y as f32, &mut streak_row);
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                let hash = hash01(x as i32, y as i32, bseed);
                let grain = (hash - 0.5) * 8.0;
                // Low-order bits of the same hash: a little independent colour noise.
                let h12 = hash * 4096.0;
                let chroma = (h12 - (h12 as i32) as f32 - 0.5) * 2.0;
                // Fabric weave: a faint 2x2 checker.
                let weave = if (x / 2 + y / 2) % 2 == 0 { 0.8 } else { -0.8 };
                let v = mottle_row[x] * 3.0 + streak_row[x] * 2.0 + grain + weave + seams[x];
                let c = [
                    BELT_RGB[0] + v + chroma,
                    BELT_RGB[1] + v,
                    BELT_RGB[2] + v - chroma,
                ];
                for (o, v) in px.iter_mut().zip(c) {
                    *o = to_u8(v * gain);
                }
            }
        }
        Self { period, rgb }
    }

    /// Copies the belt into `frame` (width `w`), scrolled right by `offset` px.
    pub(super) fn draw(&self, frame: &mut [u8], w: usize, offset: usize) {
        let p = self.period;
        let first = (p - offset % p) % p;
        for (dst, src) in frame
            .chunks_exact_mut(w * 3)
            .zip(self.rgb.chunks_exact(p * 3))
        {
            let (mut x, mut col) = (0, first);
            while x < w {
                let run = (w - x).min(p - col);
                dst[x * 3..(x + run) * 3].copy_from_slice(&src[col * 3..(col + run) * 3]);
                x += run;
                col = 0;
            }
        }
    }
}

/// Lighting gain of each frame row: 1 in the middle, `1 - strength` at the edges.
pub(super) fn light_gains(rows: usize, strength: f32) -> Vec<f32> {
    (0..rows)
        .map(|i| {
            let t = (i as f32 + 0.5) / rows as f32 * 2.0 - 1.0;
            1.0 - strength * t * t
        })
        .collect()
}
