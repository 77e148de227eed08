//! Nearest-neighbour distances against brute force, and their non-finite cases.

use super::{brute_force, random_grid};
use crate::model::patchcore::coreset::SplitMix64;
use crate::model::patchcore::{MemoryBank, PatchGrid, Precision};

fn random_bank(rng: &mut SplitMix64, n: usize, dim: usize, mean: f32, spread: f32) -> MemoryBank {
    let data = (0..n * dim)
        .map(|_| mean + spread * rng.normal() as f32)
        .collect();
    MemoryBank::from_vectors(dim, Precision::F32, data).unwrap()
}

fn assert_matches_brute_force(bank: &MemoryBank, grid: &PatchGrid, what: &str) {
    let fast = bank.distances(grid);
    let slow = brute_force(bank, grid);
    assert_eq!(fast.len(), grid.cells());
    for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
        let err = (f64::from(*f) - s).abs();
        assert!(
            err <= 1e-3 * s.max(1e-3),
            "{what}, cell {i}: {f} vs brute force {s}"
        );
    }
}

#[test]
fn distances_equal_brute_force() {
    let mut rng = SplitMix64::new(42);
    // Bank sizes around the block of 512 and below the 8 lanes; dimensions not multiples of 8.
    for (n, dim, h, w) in [
        (1, 5, 3, 4),
        (7, 1, 2, 2),
        (9, 13, 5, 5),
        (513, 152, 20, 20),
        (1100, 37, 7, 9),
        (64, 8, 1, 1),
    ] {
        let bank = random_bank(&mut rng, n, dim, 0.0, 1.0);
        let grid = random_grid(&mut rng, h, w, dim, 0.0, 1.0);
        assert_matches_brute_force(&bank, &grid, &format!("bank {n} x {dim}"));
    }
}

#[test]
fn distances_survive_a_large_common_offset() {
    // ReLU-like features share a large positive offset; the expansion must not cancel it away.
    let mut rng = SplitMix64::new(8);
    let bank = random_bank(&mut rng, 600, 40, 500.0, 0.5);
    let grid = random_grid(&mut rng, 6, 6, 40, 500.0, 0.5);
    assert_matches_brute_force(&bank, &grid, "offset 500");
}

#[test]
fn a_bank_vector_is_at_distance_zero() {
    let mut rng = SplitMix64::new(1);
    let bank = random_bank(&mut rng, 300, 19, 2.0, 1.0);
    let mut data = Vec::new();
    for j in [0, 17, 299] {
        data.extend_from_slice(bank.vector(j));
    }
    let grid = PatchGrid::new(1, 3, 19, data).unwrap();
    assert_eq!(bank.distances(&grid), vec![0.0; 3]);
    let nearest = bank.nearest(&grid);
    assert_eq!(
        nearest.iter().map(|n| n.index).collect::<Vec<_>>(),
        [0, 17, 299]
    );
}

#[test]
fn non_finite_cells_and_wrong_dimensions_are_infinitely_far() {
    let mut rng = SplitMix64::new(2);
    let bank = random_bank(&mut rng, 50, 6, 0.0, 1.0);
    let mut grid = random_grid(&mut rng, 3, 3, 6, 0.0, 1.0);
    grid.data[4 * 6 + 2] = f32::NAN;
    grid.data[7 * 6] = f32::NEG_INFINITY;
    grid.data[8 * 6 + 5] = 1e30; // finite, but its square is not
    let d = bank.distances(&grid);
    for (i, v) in d.iter().enumerate() {
        if [4, 7, 8].contains(&i) {
            assert_eq!(*v, f32::INFINITY, "cell {i}");
        } else {
            assert!(v.is_finite(), "cell {i}: {v}");
        }
    }
    let other = random_grid(&mut rng, 2, 2, 7, 0.0, 1.0);
    assert_eq!(bank.distances(&other), vec![f32::INFINITY; 4]);
}

#[test]
fn neighbours_of_a_bank_vector_start_with_itself() {
    let data = vec![0.0, 0.0, 1.0, 0.0, 0.0, 3.0, 10.0, 10.0, 0.0, 0.0];
    let bank = MemoryBank::from_vectors(2, Precision::F32, data).unwrap();
    // Vector 4 duplicates vector 0.
    assert_eq!(bank.neighbours_of(0, 3), vec![0, 4, 1]);
    assert_eq!(bank.neighbours_of(4, 3), vec![4, 0, 1]);
    assert_eq!(bank.neighbours_of(3, 2), vec![3, 2]);
    assert_eq!(bank.neighbours_of(1, 99).len(), 5);
}
