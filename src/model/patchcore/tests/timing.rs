//! Timings for the report (dev profile, one core); not run by default:
//! `cargo test --lib model::patchcore::tests::timing -- --ignored --nocapture`.

use std::time::Instant;

use super::random_grid;
use crate::model::patchcore::coreset::SplitMix64;
use crate::model::patchcore::{
    MapRef, MemoryBank, PatchCalibration, PatchCoreModel, PatchCoreOptions, PatchGrid, Precision,
    embed,
};

const DIM: usize = 152;

fn never() -> bool {
    false
}

/// CPU seconds this thread has run: the machine is shared, so wall time would count other
/// people's work.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// CPU milliseconds per call of `f`, best of a few rounds of `reps` calls.
fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = cpu_seconds();
        for _ in 0..reps {
            f();
        }
        best = best.min((cpu_seconds() - t) * 1e3 / reps as f64);
    }
    best
}

/// Patches near a low-dimensional manifold, as CNN features are: `latent` factors mixed into
/// `DIM` values, a ReLU-like offset, and a little noise.
fn structured(rng: &mut SplitMix64, n: usize, latent: usize) -> Vec<f32> {
    let mix: Vec<f32> = (0..latent * DIM).map(|_| rng.normal() as f32).collect();
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let z: Vec<f32> = (0..latent).map(|_| rng.normal() as f32).collect();
        for d in 0..DIM {
            let v: f32 = (0..latent).map(|k| z[k] * mix[k * DIM + d]).sum();
            out.push((v + 1.0).max(0.0) + 0.05 * rng.normal() as f32);
        }
    }
    out
}

#[test]
#[ignore = "timing for the report; run with --ignored --nocapture"]
fn timings() {
    let mut rng = SplitMix64::new(1);
    let s8: Vec<f32> = (0..20 * 20 * 40).map(|_| rng.next_f64() as f32).collect();
    let s16: Vec<f32> = (0..10 * 10 * 112).map(|_| rng.next_f64() as f32).collect();
    let maps = [
        MapRef {
            height: 20,
            width: 20,
            channels: 40,
            data: &s8,
        },
        MapRef {
            height: 10,
            width: 10,
            channels: 112,
            data: &s16,
        },
    ];
    let ms = time_ms(50, || {
        std::hint::black_box(embed(&maps).unwrap());
    });
    println!("embed 20x20x40 + 10x10x112 -> 20x20x152: {ms:.3} ms");

    let grid = random_grid(&mut rng, 20, 20, DIM, 0.0, 1.0);
    for n in [1000, 2048, 4096, 10_000] {
        let data = (0..n * DIM).map(|_| rng.normal() as f32).collect();
        let bank = MemoryBank::from_vectors(DIM, Precision::F16, data).unwrap();
        let reps = (40_000 / n).max(3);
        let a = ndarray::Array2::from_shape_vec((400, DIM), grid.data.clone()).unwrap();
        let b = bank.vectors.clone();
        let gemm = time_ms(reps, || {
            std::hint::black_box(a.dot(&b.t()));
        });
        println!(
            "  matrix product alone 400 x {DIM} x {n}: {gemm:.2} ms ({:.1} GFLOP/s)",
            2.0 * 400.0 * DIM as f64 * n as f64 / gemm / 1e6
        );
        let ms = time_ms(reps, || {
            std::hint::black_box(bank.distances(&grid));
        });
        let model = PatchCoreModel {
            format: crate::model::patchcore::PATCHCORE_FORMAT.into(),
            format_version: crate::model::patchcore::PATCHCORE_FORMAT_VERSION,
            input_dim: DIM,
            items: 1,
            patches: n,
            calibration: PatchCalibration {
                image_scale: 1.0,
                cell_scale: 1.0,
            },
            options: PatchCoreOptions {
                reweight_neighbours: 9,
                ..Default::default()
            },
            bank,
        };
        let ms_rw = time_ms(reps, || {
            std::hint::black_box(model.score(&grid));
        });
        println!(
            "distances 400 cells x {DIM} vs bank {n}: {ms:.2} ms; score with re-weighting (b 9): {ms_rw:.2} ms"
        );
    }

    for (what, points) in [
        (
            "gaussian (worst case)",
            (0..40_000 * DIM)
                .map(|_| rng.normal() as f32)
                .collect::<Vec<f32>>(),
        ),
        (
            "structured (8 latent factors)",
            structured(&mut rng, 40_000, 8),
        ),
    ] {
        let grids: Vec<PatchGrid> = points
            .chunks(400 * DIM)
            .map(|c| PatchGrid::new(20, 20, DIM, c.to_vec()).unwrap())
            .collect();
        for (projection_dim, max_bank) in [(128, 4096), (64, 4096), (128, 2048)] {
            let opts = PatchCoreOptions {
                projection_dim,
                max_bank,
                ..Default::default()
            };
            let (t, wall) = (cpu_seconds(), Instant::now());
            let bank = MemoryBank::build(&grids, &opts, &never).unwrap();
            println!(
                "coreset {what}: 40000 x {DIM} -> {} (projection {projection_dim}): {:.2} s CPU ({:.2} s wall)",
                bank.len(),
                cpu_seconds() - t,
                wall.elapsed().as_secs_f64()
            );
        }
        let (t, wall) = (cpu_seconds(), Instant::now());
        let (model, _) =
            PatchCoreModel::train(&grids, &PatchCoreOptions::default(), &never).unwrap();
        println!(
            "train {what}, defaults: 100 items of 20x20x{DIM} -> bank {} (5 fold banks + final): {:.1} s CPU ({:.1} s wall)",
            model.bank.len(),
            cpu_seconds() - t,
            wall.elapsed().as_secs_f64()
        );
        let ms = time_ms(20, || {
            std::hint::black_box(model.score(&grids[0]));
        });
        println!("score one item with the trained default model: {ms:.2} ms");
    }

    for precision in [Precision::F16, Precision::F32] {
        let data: Vec<f32> = structured(&mut rng, 5000, 8)
            .iter()
            .map(|v| half::f16::from_f32(*v).to_f32())
            .collect();
        let bank = MemoryBank::from_vectors(DIM, precision, data).unwrap();
        let t = cpu_seconds();
        let text = serde_json::to_string(&bank).unwrap();
        let save = (cpu_seconds() - t) * 1e3;
        let ms = time_ms(3, || {
            std::hint::black_box(serde_json::from_str::<MemoryBank>(&text).unwrap());
        });
        println!(
            "bank 5000 x {DIM} {precision:?}: {} bytes of JSON, save {save:.1} ms, load {ms:.1} ms",
            text.len()
        );
    }
}
