//! Tests of the PatchCore tier, by job, and the fixtures they share.

mod bank_file;
mod coreset;
mod detector;
mod embed;
mod knn;
mod timing;

use super::coreset::SplitMix64;
use super::{MemoryBank, PatchGrid};

/// A grid of `h x w` cells of `dim` values, each `mean + spread * N(0, 1)`.
fn random_grid(
    rng: &mut SplitMix64,
    h: usize,
    w: usize,
    dim: usize,
    mean: f32,
    spread: f32,
) -> PatchGrid {
    let data = (0..h * w * dim)
        .map(|_| mean + spread * rng.normal() as f32)
        .collect();
    PatchGrid::new(h, w, dim, data).expect("consistent grid")
}

/// Nearest-neighbour distances the slow, obvious way, in f64.
fn brute_force(bank: &MemoryBank, grid: &PatchGrid) -> Vec<f64> {
    (0..grid.cells())
        .map(|i| {
            (0..bank.len())
                .map(|j| {
                    grid.cell(i)
                        .iter()
                        .zip(bank.vector(j))
                        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}
