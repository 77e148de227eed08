//! Greedy k-center coreset: coverage, the 2-approximation certificate, exactness of the
//! accelerated loop, and against random subsampling.

use super::random_grid;
use crate::model::patchcore::coreset::{SplitMix64, greedy_k_center, sq_dist};
use crate::model::patchcore::{MemoryBank, PatchCoreError, PatchCoreOptions, PatchGrid};

fn never() -> bool {
    false
}

/// The textbook O(n k) greedy loop.
fn naive_greedy(points: &[f32], dim: usize, k: usize, start: usize) -> Vec<usize> {
    let n = points.len() / dim;
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    let mut mind: Vec<f32> = (0..n).map(|i| sq_dist(row(i), row(start)).sqrt()).collect();
    let mut chosen = vec![start];
    while chosen.len() < k {
        let (c, &r) =
            mind.iter().enumerate().fold(
                (0, &0f32),
                |best, (i, d)| if *d > *best.1 { (i, d) } else { best },
            );
        if r == 0.0 {
            break;
        }
        chosen.push(c);
        for (i, m) in mind.iter_mut().enumerate() {
            let d = sq_dist(row(i), row(c)).sqrt();
            if d < *m {
                *m = d;
            }
        }
    }
    chosen
}

/// Largest distance of any point to its nearest chosen point, and which point that is.
fn covering_radius(points: &[f32], dim: usize, chosen: &[usize]) -> (f32, usize) {
    let n = points.len() / dim;
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    (0..n)
        .map(|i| {
            let d = chosen
                .iter()
                .map(|&c| sq_dist(row(i), row(c)))
                .fold(f32::INFINITY, f32::min);
            (d.sqrt(), i)
        })
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

/// `clusters` tight clusters of `per` points in `dim` dimensions, and their centres.
fn clustered(
    rng: &mut SplitMix64,
    clusters: usize,
    per: usize,
    dim: usize,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| (0..dim).map(|_| 10.0 * rng.normal() as f32).collect())
        .collect();
    let mut points = Vec::new();
    for p in 0..clusters * per {
        // Interleaved, so clusters are not contiguous runs of indices.
        let c = &centres[p % clusters];
        points.extend(c.iter().map(|v| v + 0.05 * rng.normal() as f32));
    }
    (points, centres)
}

#[test]
fn accelerated_greedy_matches_the_plain_loop() {
    let mut rng = SplitMix64::new(7);
    for (n, dim, k) in [(3000, 16, 200), (500, 3, 499), (800, 9, 1), (1000, 128, 64)] {
        let points: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
        let start = rng.below(n);
        let fast = greedy_k_center(&points, dim, k, start, &never).unwrap();
        assert_eq!(
            fast,
            naive_greedy(&points, dim, k, start),
            "n {n} dim {dim} k {k}"
        );
    }
    let (points, _) = clustered(&mut rng, 20, 100, 32);
    let fast = greedy_k_center(&points, 32, 300, 5, &never).unwrap();
    assert_eq!(fast, naive_greedy(&points, 32, 300, 5));
}

#[test]
fn coreset_holds_a_point_of_every_cluster() {
    let mut rng = SplitMix64::new(11);
    let (dim, clusters) = (32, 12);
    let (points, centres) = clustered(&mut rng, clusters, 100, dim);
    // Split into items as a trainer would get them; ratio 12/1200 asks for exactly 12.
    let grids: Vec<PatchGrid> = points
        .chunks(100 * dim)
        .map(|c| PatchGrid::new(10, 10, dim, c.to_vec()).unwrap())
        .collect();
    for projection_dim in [8, 0] {
        let opts = PatchCoreOptions {
            coreset_ratio: 0.01,
            projection_dim,
            ..Default::default()
        };
        let bank = MemoryBank::build(&grids, &opts, &never).unwrap();
        assert_eq!(bank.len(), clusters);
        for (ci, c) in centres.iter().enumerate() {
            let nearest = (0..bank.len())
                .map(|j| sq_dist(c, bank.vector(j)).sqrt())
                .fold(f32::INFINITY, f32::min);
            assert!(
                nearest < 1.0,
                "cluster {ci} has no bank vector (nearest {nearest}), projection {projection_dim}"
            );
        }
    }
}

#[test]
fn greedy_radius_is_certified_within_twice_the_optimum_and_beats_random() {
    let mut rng = SplitMix64::new(3);
    // Low-dimensional data, where random subsets visibly leave holes (in many dimensions
    // every covering of few centres is poor and the gap narrows).
    let (n, dim, k) = (4000, 3, 60);
    let points: Vec<f32> = (0..n * dim).map(|_| rng.next_f64() as f32).collect();
    let chosen = greedy_k_center(&points, dim, k, 0, &never).unwrap();
    let (radius, far) = covering_radius(&points, dim, &chosen);
    // The k centres and the farthest point are pairwise at least `radius` apart, so any k
    // centres leave two of them in one cluster: the optimum radius is at least radius / 2.
    let mut witnesses = chosen.clone();
    witnesses.push(far);
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    for (a, &i) in witnesses.iter().enumerate() {
        for &j in &witnesses[a + 1..] {
            let d = sq_dist(row(i), row(j)).sqrt();
            assert!(
                d >= radius * (1.0 - 1e-5),
                "witnesses {i}, {j} at {d} < radius {radius}"
            );
        }
    }
    // Random subsets of the same size cover clearly worse.
    for trial in 0..5 {
        let random: Vec<usize> = (0..k).map(|_| rng.below(n)).collect();
        let (r_random, _) = covering_radius(&points, dim, &random);
        println!("covering radius: greedy {radius:.3}, random {r_random:.3}");
        assert!(
            radius < 0.85 * r_random,
            "trial {trial}: greedy {radius} vs random {r_random}"
        );
    }
}

#[test]
fn covered_points_stop_the_selection_early() {
    // Three distinct patches, repeated: a ratio asking for 30 keeps 3.
    let protos = [[0.0f32, 0.0], [1.0, 0.0], [0.0, 5.0]];
    let data: Vec<f32> = (0..300).flat_map(|i| protos[i % 3]).collect();
    let grid = PatchGrid::new(10, 30, 2, data).unwrap();
    let bank = MemoryBank::build(&[grid], &PatchCoreOptions::default(), &never).unwrap();
    assert_eq!(bank.len(), 3);
}

#[test]
fn bank_size_follows_ratio_and_cap_and_seed_reproduces() {
    let mut rng = SplitMix64::new(5);
    let grids: Vec<PatchGrid> = (0..4)
        .map(|_| random_grid(&mut rng, 10, 10, 6, 0.0, 1.0))
        .collect();
    let opts = PatchCoreOptions {
        coreset_ratio: 0.1,
        ..Default::default()
    };
    let a = MemoryBank::build(&grids, &opts, &never).unwrap();
    assert_eq!(a.len(), 40);
    assert_eq!(a, MemoryBank::build(&grids, &opts, &never).unwrap());
    let capped = PatchCoreOptions {
        max_bank: 25,
        ..opts.clone()
    };
    assert_eq!(
        MemoryBank::build(&grids, &capped, &never).unwrap().len(),
        25
    );
    let all = PatchCoreOptions {
        coreset_ratio: 1.0,
        ..opts
    };
    assert_eq!(MemoryBank::build(&grids, &all, &never).unwrap().len(), 400);
}

#[test]
fn build_refuses_bad_input_and_honours_cancel() {
    let mut rng = SplitMix64::new(9);
    let good = random_grid(&mut rng, 20, 20, 8, 0.0, 1.0);
    let opts = PatchCoreOptions::default();
    assert!(matches!(
        MemoryBank::build(&[], &opts, &never),
        Err(PatchCoreError::TooFewItems { .. })
    ));
    let other = random_grid(&mut rng, 4, 4, 9, 0.0, 1.0);
    assert!(matches!(
        MemoryBank::build(&[good.clone(), other], &opts, &never),
        Err(PatchCoreError::DimMismatch {
            expected: 8,
            found: 9,
            ..
        })
    ));
    let mut bad = good.clone();
    bad.data[3 * 8 + 2] = f32::INFINITY;
    let e = MemoryBank::build(&[good.clone(), bad], &opts, &never).unwrap_err();
    assert!(e.to_string().contains("patch grid 1, cell 3"), "{e}");
    let bad_opts = PatchCoreOptions {
        coreset_ratio: 0.0,
        ..Default::default()
    };
    assert!(matches!(
        MemoryBank::build(std::slice::from_ref(&good), &bad_opts, &never),
        Err(PatchCoreError::Options(_))
    ));
    let many = vec![good; 30]; // 12000 patches -> 1200 selections: the callback is asked
    assert!(matches!(
        MemoryBank::build(&many, &opts, &|| true),
        Err(PatchCoreError::Cancelled)
    ));
}
