//! Greedy k-center coreset selection (the paper's Algorithm 1), the random projection it
//! measures distances in, and the small seeded generator both use.

use ndarray::{Array2, ArrayView2};

use super::PatchCoreError;

/// How many selections pass between two calls of the cancel callback.
const CANCEL_EVERY: usize = 32;

/// SplitMix64: tiny, fast, seedable and stable forever, so a seed always trains the same bank.
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(super) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is below 2^-40 for any bank size).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub(super) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: ln is finite
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Squared Euclidean distance, summed in 8 lanes so the compiler vectorises it; the order of
/// the additions depends only on the length, so `sq_dist(a, b) == sq_dist(b, a)` exactly.
pub(super) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    let mut acc = [0f32; 8];
    for (x, y) in ca.iter().zip(cb) {
        for k in 0..8 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// A `dim x p` Gaussian random projection (entries N(0, 1/p)): distances after it are the
/// originals within a few tens of percent with high probability (Johnson-Lindenstrauss).
pub(super) fn projection(dim: usize, p: usize, seed: u64) -> Array2<f32> {
    let mut rng = SplitMix64::new(seed);
    let scale = 1.0 / (p as f64).sqrt();
    Array2::from_shape_simple_fn((dim, p), || (rng.normal() * scale) as f32)
}

/// `rows` (`n x dim`, row-major) times `proj`, row-major `n x p`.
pub(super) fn project(rows: &[f32], dim: usize, proj: &Array2<f32>) -> Vec<f32> {
    let a = ArrayView2::from_shape((rows.len() / dim, dim), rows).expect("whole rows");
    a.dot(proj).into_raw_vec_and_offset().0
}

/// Greedy k-center selection: start at `start`, then repeatedly add the point farthest from
/// every point chosen so far, until `k` are chosen or every point coincides with a chosen one.
/// Returns the indices in the order chosen.
///
/// Exact, and accelerated by the triangle inequality: every point belongs to its nearest
/// centre's group, and a new centre `c` cannot be nearer to a point `x` of centre `a`'s group
/// than `a` is when `d(c, a) >= 2 d(x, a)`. So a group whose radius is at most half its
/// centre's distance to `c` is skipped whole, and so is any point that close to its centre;
/// late in the selection, when the radius is small, most are. The points are still visited in
/// memory order (a skipped one costs a table look-up), so the distances that are computed
/// stream through the cache. The result is the same as the plain O(n k) loop's.
pub(super) fn greedy_k_center(
    points: &[f32],
    dim: usize,
    k: usize,
    start: usize,
    cancel: &dyn Fn() -> bool,
) -> Result<Vec<usize>, PatchCoreError> {
    let n = points.len() / dim;
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    // Distance of every point to its nearest centre, and which centre that is.
    let mut mind: Vec<f32> = (0..n).map(|i| sq_dist(row(i), row(start)).sqrt()).collect();
    let mut owner = vec![0u32; n];
    let mut centres = vec![start];
    // Each group's farthest member (distance, index); index u32::MAX when all sit on it.
    let mut farthest: Vec<(f32, u32)> = vec![farthest_of(0..n, &mind)];
    // Per group: the new centre's distance to the group's centre, or -1 to skip the group.
    let mut reach: Vec<f32> = Vec::with_capacity(k);
    while centres.len() < k.min(n) {
        if centres.len() % CANCEL_EVERY == 0 && cancel() {
            return Err(PatchCoreError::Cancelled);
        }
        // The point farthest from all centres (the first group's on ties).
        let mut best = (0f32, u32::MAX);
        for f in &farthest {
            if f.0 > best.0 {
                best = *f;
            }
        }
        if best.1 == u32::MAX {
            break; // every point coincides with a centre
        }
        let c = best.1 as usize;
        let cv = row(c);
        let t = centres.len() as u32;
        reach.clear();
        for (j, &centre) in centres.iter().enumerate() {
            let radius = farthest[j].0;
            let d_cc = if radius > 0.0 {
                sq_dist(cv, row(centre)).sqrt()
            } else {
                f32::INFINITY
            };
            if d_cc < 2.0 * radius {
                reach.push(d_cc);
                farthest[j] = (0.0, u32::MAX); // recomputed from the members that stay
            } else {
                reach.push(-1.0);
            }
        }
        let mut new_far = (0f32, u32::MAX);
        for i in 0..n {
            let g = owner[i] as usize;
            let d_cc = reach[g];
            if d_cc < 0.0 {
                continue;
            }
            let m = mind[i];
            if d_cc < 2.0 * m {
                let d = sq_dist(row(i), cv).sqrt();
                if d < m {
                    mind[i] = d;
                    owner[i] = t;
                    if d > new_far.0 {
                        new_far = (d, i as u32);
                    }
                    continue;
                }
            }
            if m > farthest[g].0 {
                farthest[g] = (m, i as u32);
            }
        }
        farthest.push(new_far);
        centres.push(c);
    }
    Ok(centres)
}

/// The point farthest from its centre among `members`, `(0, u32::MAX)` when all sit on it.
fn farthest_of(members: impl Iterator<Item = usize>, mind: &[f32]) -> (f32, u32) {
    let mut far = (0f32, u32::MAX);
    for i in members {
        if mind[i] > far.0 {
            far = (mind[i], i as u32);
        }
    }
    far
}
