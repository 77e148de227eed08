//! A tiny seeded random generator (SplitMix64): the same seed gives the same defect on every
//! machine and every build, whatever crate versions the tree holds.

/// SplitMix64 (Steele, Lea and Flood 2014): one 64-bit state, passes BigCrush, ample for
/// placing defects.
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub(super) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform in `[lo, hi)` (both positive): as likely to halve as to double.
    pub(super) fn log_range(&mut self, lo: f32, hi: f32) -> f32 {
        self.range(lo.ln(), hi.ln()).exp()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box-Muller).
    pub(super) fn normal(&mut self) -> f32 {
        let u = self.unit().max(1e-7);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    /// A random direction, as a unit vector.
    pub(super) fn direction(&mut self) -> (f32, f32) {
        let a = self.range(0.0, std::f32::consts::TAU);
        (a.cos(), a.sin())
    }
}

/// The SplitMix64 output function: a strong 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An independent seed for stream `stream` of `seed` (item `i` of a set, one defect kind).
pub(super) fn derive(seed: u64, stream: u64) -> u64 {
    mix(seed ^ mix(stream.wrapping_add(0x5851_F42D_4C95_7F2D)))
}

/// Smooth value noise in `[-1, 1]`: random values on a lattice of `cell` pixels, interpolated.
pub(super) fn value_noise(seed: u64, x: f32, y: f32, cell: f32) -> f32 {
    let (fx, fy) = (x / cell, y / cell);
    let (ix, iy) = (fx.floor(), fy.floor());
    let (tx, ty) = (
        super::layer::smoothstep(fx - ix),
        super::layer::smoothstep(fy - iy),
    );
    let (ix, iy) = (ix as i32, iy as i32);
    let a = lattice(seed, ix, iy) + tx * (lattice(seed, ix + 1, iy) - lattice(seed, ix, iy));
    let b = lattice(seed, ix, iy + 1)
        + tx * (lattice(seed, ix + 1, iy + 1) - lattice(seed, ix, iy + 1));
    a + ty * (b - a)
}

/// A reproducible value in `[-1, 1]` for lattice point `(ix, iy)` of noise field `seed`.
fn lattice(seed: u64, ix: i32, iy: i32) -> f32 {
    let h = mix(seed ^ mix(((ix as u32 as u64) << 32) | iy as u32 as u64));
    (h >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}
