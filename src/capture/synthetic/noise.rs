//! Random numbers and noise: a seeded SplitMix64 generator and integer hash noise, stable
//! whatever the dependencies do.

use std::f32::consts::TAU;

use super::math::{floor_i32, lerp};

/// SplitMix64: tiny, fast, good enough for procedural content, and stable forever.
#[derive(Clone, Debug)]
pub(super) struct Rng {
    state: u64,
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1), double precision (for probabilities).
    pub(super) fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [lo, hi).
    pub(super) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in 0..n (n > 0).
    pub(super) fn index(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit_f64() < p
    }

    pub(super) fn angle(&mut self) -> f32 {
        self.range(0.0, TAU)
    }

    /// A random phase as (cos, sin).
    pub(super) fn phase(&mut self) -> (f32, f32) {
        let a = self.angle();
        (a.cos(), a.sin())
    }
}

/// Derives an independent seed from a seed and a stream number.
pub(super) fn mix64(seed: u64, stream: u64) -> u64 {
    Rng::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// Integer hash of a lattice point, uniform in [0, 1).
#[inline]
pub(super) fn hash01(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x27D4_EB2D)
        ^ (y as u32).wrapping_mul(0x1656_67B1)
        ^ seed.wrapping_mul(0x9E37_79B9);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Smooth value noise in [-1, 1] at `(x, y)` in lattice cells.
#[inline]
pub(super) fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (floor_i32(x), floor_i32(y));
    let (tx, ty) = (x - ix as f32, y - iy as f32);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (x0, x1) = (ix, ix.wrapping_add(1));
    let y1 = iy.wrapping_add(1);
    let top = lerp(hash01(x0, iy, seed), hash01(x1, iy, seed), sx);
    let bottom = lerp(hash01(x0, y1, seed), hash01(x1, y1, seed), sx);
    lerp(top, bottom, sy) * 2.0 - 1.0
}

/// Value noise like [`value_noise`] evaluated a whole texture row at a time: the lattice is
/// interpolated in y once per cell column, so each pixel costs one smooth 1-D interpolation.
pub(super) struct RowNoise {
    /// Lattice cells across the texture (the lattice wraps after them).
    cells: usize,
    cell_w: f32,
    cell_h: f32,
    seed: u32,
    /// Scratch: the row's lattice values, `cells + 1` of them.
    column: Vec<f32>,
}

impl RowNoise {
    pub(super) fn new(cells: usize, period: usize, cell_h: f32, seed: u32) -> Self {
        Self {
            cells,
            cell_w: period as f32 / cells as f32,
            cell_h,
            seed,
            column: vec![0.0; cells + 1],
        }
    }

    /// Writes the noise (in -1..=1) of texture row `y` into `out` (one value per column).
    pub(super) fn fill_row(&mut self, y: f32, out: &mut [f32]) {
        let fy = y / self.cell_h;
        let iy = floor_i32(fy);
        let ty = fy - iy as f32;
        let sy = ty * ty * (3.0 - 2.0 * ty);
        for (i, v) in self.column.iter_mut().enumerate() {
            let ix = (i % self.cells) as i32;
            *v = lerp(
                hash01(ix, iy, self.seed),
                hash01(ix, iy.wrapping_add(1), self.seed),
                sy,
            ) * 2.0
                - 1.0;
        }
        for (x, o) in out.iter_mut().enumerate() {
            let fx = x as f32 / self.cell_w;
            let i = (fx as usize).min(self.cells - 1);
            let t = fx - i as f32;
            let sx = t * t * (3.0 - 2.0 * t);
            *o = lerp(self.column[i], self.column[i + 1], sx);
        }
    }
}
