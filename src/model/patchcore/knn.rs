//! The memory bank of good patches: building it (coreset) and nearest-neighbour distances to
//! it (batched as a matrix product).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, s};

use super::bank_file::Precision;
use super::coreset::{SplitMix64, greedy_k_center, project, projection, sq_dist};
use super::{PatchCoreError, PatchCoreOptions, PatchGrid};

/// Bank vectors per matrix product in [`MemoryBank::distances`]: the block of products (cells
/// x this) stays in the core's cache while it is reduced.
const BANK_BLOCK: usize = 1024;

/// The memory bank: good patch descriptors that cover all the good patches seen in training.
///
/// Serialised (serde) as dimension, count, precision, the vectors as base64 of little-endian
/// bytes, and their blake3 checksum, verified when read (see `bank_file.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryBank {
    /// Values per vector.
    pub(super) dim: usize,
    /// Precision the vectors are stored at (f16: rounded to f16 values).
    pub(super) precision: Precision,
    /// `len x dim` vectors as stored.
    pub(super) vectors: Array2<f32>,
    /// Mean vector; queries and bank are centred on it for the matrix product, so the
    /// `|a|^2 + |b|^2 - 2 a.b` expansion does not cancel large common offsets.
    mean: Vec<f32>,
    /// `vectors - mean`.
    centred: Array2<f32>,
    /// Squared norm of each centred vector.
    norms: Vec<f32>,
}

/// A cell's nearest bank vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Neighbour {
    /// Euclidean distance (infinite for a non-finite cell or a grid that does not fit).
    pub dist: f32,
    /// Index of the bank vector (`u32::MAX` when `dist` is infinite).
    pub index: u32,
}

impl MemoryBank {
    /// Build the bank from good items' patch grids: greedy k-center coreset of all their
    /// patches, `ceil(coreset_ratio * patches)` vectors at most `max_bank` (fewer when every
    /// patch is already covered exactly). Errors on no grids, mismatched dimensions, invalid
    /// options, non-finite values, or when `cancel` returns true.
    pub fn build(
        grids: &[PatchGrid],
        opts: &PatchCoreOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<MemoryBank, PatchCoreError> {
        let refs: Vec<&PatchGrid> = grids.iter().collect();
        Self::build_from(&refs, opts, cancel)
    }

    /// [`Self::build`] on borrowed grids (the training folds).
    pub(super) fn build_from(
        grids: &[&PatchGrid],
        opts: &PatchCoreOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<MemoryBank, PatchCoreError> {
        opts.validate()?;
        let first = grids
            .first()
            .ok_or(PatchCoreError::TooFewItems { needed: 1, got: 0 })?;
        let dim = first.dim;
        for (i, g) in grids.iter().enumerate() {
            g.check(&format!("patch grid {i}"))?;
            if g.dim != dim {
                return Err(PatchCoreError::DimMismatch {
                    what: format!("patch grid {i}"),
                    expected: dim,
                    found: g.dim,
                });
            }
        }
        let n: usize = grids.iter().map(|g| g.cells()).sum();
        let k = ((opts.coreset_ratio * n as f64).ceil() as usize).clamp(1, opts.max_bank.min(n));
        let all: Vec<f32> = grids.iter().flat_map(|g| g.data.iter().copied()).collect();
        let chosen: Vec<usize> = if k == n {
            (0..n).collect()
        } else {
            let mut rng = SplitMix64::new(opts.seed);
            let start = rng.below(n);
            if opts.projection_dim > 0 && opts.projection_dim < dim {
                let proj = projection(dim, opts.projection_dim, rng.next_u64());
                let projected = project(&all, dim, &proj);
                greedy_k_center(&projected, opts.projection_dim, k, start, cancel)?
            } else {
                greedy_k_center(&all, dim, k, start, cancel)?
            }
        };
        let mut data = Vec::with_capacity(chosen.len() * dim);
        for i in chosen {
            data.extend_from_slice(&all[i * dim..(i + 1) * dim]);
        }
        let fits_f16 = data.iter().all(|v| v.abs() <= f32::from(half::f16::MAX));
        let precision = if opts.half_precision && fits_f16 {
            for v in &mut data {
                *v = half::f16::from_f32(*v).to_f32();
            }
            Precision::F16
        } else {
            Precision::F32
        };
        Self::from_vectors(dim, precision, data)
    }

    /// A bank holding `data` (`len x dim`, row-major) as they are; errors when empty, ragged
    /// or non-finite.
    pub(super) fn from_vectors(
        dim: usize,
        precision: Precision,
        data: Vec<f32>,
    ) -> Result<MemoryBank, PatchCoreError> {
        if dim == 0 || data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(PatchCoreError::Damaged(format!(
                "memory bank of {} values cannot hold vectors of {dim}",
                data.len()
            )));
        }
        if let Some(at) = data.iter().position(|v| !v.is_finite()) {
            return Err(PatchCoreError::NonFinite {
                what: format!("memory bank vector {}", at / dim),
            });
        }
        let len = data.len() / dim;
        let vectors = Array2::from_shape_vec((len, dim), data).expect("checked shape");
        let mean_f64 = vectors
            .iter()
            .enumerate()
            .fold(vec![0f64; dim], |mut m, (i, v)| {
                m[i % dim] += f64::from(*v);
                m
            });
        let mean: Vec<f32> = mean_f64.iter().map(|m| (m / len as f64) as f32).collect();
        let mut centred = vectors.clone();
        for mut row in centred.rows_mut() {
            row.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
        }
        let norms = centred.rows().into_iter().map(|r| r.dot(&r)).collect();
        Ok(MemoryBank {
            dim,
            precision,
            vectors,
            mean,
            centred,
            norms,
        })
    }

    /// Euclidean distance of every cell of `grid` (row-major) to its nearest bank vector.
    ///
    /// Batched as a matrix product (`|a|^2 + |b|^2 - 2 a.b`, clamped at 0, with ndarray's
    /// matrixmultiply kernels) on one thread: callers parallelise over items. The distance to
    /// the neighbour found is then recomputed directly, so it carries no cancellation error.
    /// A non-finite cell, or every cell of a grid of another dimension, gets infinity.
    pub fn distances(&self, grid: &PatchGrid) -> Vec<f32> {
        self.nearest(grid).iter().map(|n| n.dist).collect()
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.vectors.nrows()
    }

    /// Always false: a bank holds at least one vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Precision the vectors are kept and stored at.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Vector `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        let d = self.dim;
        &self.vectors.as_slice().expect("standard layout")[i * d..(i + 1) * d]
    }

    /// Every vector, row-major.
    pub(super) fn raw(&self) -> &[f32] {
        self.vectors.as_slice().expect("standard layout")
    }

    /// Nearest bank vector of every cell of `grid` (see [`Self::distances`]).
    pub(super) fn nearest(&self, grid: &PatchGrid) -> Vec<Neighbour> {
        let m = grid.cells();
        let lost = Neighbour {
            dist: f32::INFINITY,
            index: u32::MAX,
        };
        if grid.dim != self.dim || grid.check_shape().is_err() {
            return vec![lost; m];
        }
        let d = self.dim;
        // Centred queries and their squared norms; a non-finite cell becomes a zero row and
        // is marked lost.
        let mut a = Array2::<f32>::zeros((m, d));
        let mut qn = vec![0f32; m];
        let mut ok = vec![true; m];
        for (i, mut row) in a.rows_mut().into_iter().enumerate() {
            let cell = grid.cell(i);
            if cell.iter().all(|v| v.is_finite()) {
                row.iter_mut()
                    .zip(cell.iter().zip(&self.mean))
                    .for_each(|(r, (c, mu))| *r = c - mu);
                qn[i] = row.dot(&row);
            }
            ok[i] = qn[i].is_finite() && cell.iter().all(|v| v.is_finite());
            if !ok[i] {
                row.fill(0.0);
            }
        }
        // Per cell, the smallest |b|^2 - 2 a.b and where.
        let mut best = vec![(f32::INFINITY, 0u32); m];
        let n = self.len();
        let mut g = Array2::<f32>::zeros((m, BANK_BLOCK.min(n)));
        for start in (0..n).step_by(BANK_BLOCK) {
            let end = (start + BANK_BLOCK).min(n);
            let b = self.centred.slice(s![start..end, ..]);
            let mut gv = g.slice_mut(s![.., ..end - start]);
            general_mat_mul(-2.0, &a, &b.t(), 0.0, &mut gv);
            let norms = &self.norms[start..end];
            for (i, row) in gv.rows().into_iter().enumerate() {
                let row = row.as_slice().expect("rows of a standard-layout block");
                let (v, j) = min_plus(row, norms);
                if v < best[i].0 {
                    best[i] = (v, (start + j) as u32);
                }
            }
        }
        (0..m)
            .map(|i| {
                if !ok[i] {
                    return lost;
                }
                let j = best[i].1;
                Neighbour {
                    dist: sq_dist(grid.cell(i), self.vector(j as usize)).sqrt(),
                    index: j,
                }
            })
            .collect()
    }

    /// Indices of the `b` bank vectors nearest to bank vector `j` (itself first).
    pub(super) fn neighbours_of(&self, j: usize, b: usize) -> Vec<usize> {
        let v = self.vector(j);
        let mut d: Vec<(f32, usize)> = (0..self.len())
            .map(|i| (sq_dist(v, self.vector(i)), i))
            .collect();
        // By distance, `j` itself first among equals (duplicates of it), then by index.
        let order = |x: &(f32, usize), y: &(f32, usize)| {
            x.0.total_cmp(&y.0)
                .then((x.1 != j).cmp(&(y.1 != j)))
                .then(x.1.cmp(&y.1))
        };
        let b = b.clamp(1, d.len());
        d.select_nth_unstable_by(b - 1, order);
        d.truncate(b);
        d.sort_by(order);
        d.into_iter().map(|e| e.1).collect()
    }
}

/// The smallest `x + n` over a row of `-2 a.b` and the bank norms, and its index; eight
/// independent lanes so the compiler can vectorise the compare-and-select.
fn min_plus(row: &[f32], norms: &[f32]) -> (f32, usize) {
    let mut val = [f32::INFINITY; 8];
    let mut idx = [0usize; 8];
    let (cr, cn) = (row.chunks_exact(8), norms.chunks_exact(8));
    let (rr, rn) = (cr.remainder(), cn.remainder());
    for (c, (x, nb)) in cr.zip(cn).enumerate() {
        for k in 0..8 {
            let v = x[k] + nb[k];
            if v < val[k] {
                val[k] = v;
                idx[k] = c * 8 + k;
            }
        }
    }
    let mut best = (f32::INFINITY, 0usize);
    for k in 0..8 {
        if val[k] < best.0 || (val[k] == best.0 && idx[k] < best.1) {
            best = (val[k], idx[k]);
        }
    }
    let base = row.len() - rr.len();
    for (k, (x, nb)) in rr.iter().zip(rn).enumerate() {
        let v = x + nb;
        if v < best.0 {
            best = (v, base + k);
        }
    }
    best
}
