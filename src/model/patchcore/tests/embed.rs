//! Patch descriptors: shapes, pooling and upsampling values, errors.

use crate::model::patchcore::embed::{avg_pool3, bilinear};
use crate::model::patchcore::{MapRef, PatchCoreError, PatchGrid, embed, reduce_dim};

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() < 1e-5,
            "value {i}: {x} != {y} in {a:?} vs {b:?}"
        );
    }
}

#[test]
fn effnet_shaped_maps_give_a_20x20_grid_of_152() {
    let s8 = vec![0.5f32; 20 * 20 * 40];
    let s16 = vec![1.5f32; 10 * 10 * 112];
    let grid = embed(&[
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
    ])
    .unwrap();
    assert_eq!((grid.height, grid.width, grid.dim), (20, 20, 152));
    assert_eq!(grid.data.len(), 400 * 152);
    // Constant maps stay constant through pooling and upsampling, in concatenation order.
    let cell = grid.cell(57);
    assert!(cell[..40].iter().all(|v| (*v - 0.5).abs() < 1e-6));
    assert!(cell[40..].iter().all(|v| (*v - 1.5).abs() < 1e-6));
}

#[test]
fn average_pooling_counts_only_neighbours_inside_the_map() {
    // 1 2 3 / 4 5 6 / 7 8 9, and a second channel ten times the first.
    let data: Vec<f32> = (1..=9).flat_map(|v| [v as f32, 10.0 * v as f32]).collect();
    let pooled = avg_pool3(&data, 3, 3, 2);
    // Corner (0,0): mean of 1,2,4,5; edge (0,1): 1..6; centre: all nine; and so on.
    let expected = [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0];
    let first: Vec<f32> = pooled.iter().step_by(2).copied().collect();
    let second: Vec<f32> = pooled.iter().skip(1).step_by(2).copied().collect();
    close(&first, &expected);
    close(&second, &expected.map(|v| 10.0 * v));
}

#[test]
fn bilinear_upsampling_uses_half_pixel_centres() {
    // [1 2; 3 4] to 4x4: positions along an axis read source 0, 0.25, 0.75, 1 (clamped).
    let out = bilinear(&[1.0, 2.0, 3.0, 4.0], 2, 2, 1, 4, 4);
    let c = [0.0, 0.25, 0.75, 1.0];
    let expected: Vec<f32> = (0..16).map(|i| 1.0 + c[i % 4] + 2.0 * c[i / 4]).collect();
    close(&out, &expected);
    // Non-square and odd: 1x3 to 2x5 interpolates along the row only.
    let out = bilinear(&[0.0, 10.0, 20.0], 1, 3, 1, 2, 5);
    // Source x = (i + 0.5) * 3/5 - 0.5 = -0.2, 0.4, 1.0, 1.6, 2.2 -> clamped to [0, 2].
    let row = [0.0, 4.0, 10.0, 16.0, 20.0];
    close(&out, &[row, row].concat());
}

#[test]
fn embed_pools_then_upsamples_then_concatenates() {
    let fine = vec![7.0f32; 6 * 6];
    let coarse: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let grid = embed(&[
        MapRef {
            height: 6,
            width: 6,
            channels: 1,
            data: &fine,
        },
        MapRef {
            height: 3,
            width: 3,
            channels: 1,
            data: &coarse,
        },
    ])
    .unwrap();
    assert_eq!((grid.height, grid.width, grid.dim), (6, 6, 2));
    // The pooled coarse map is 3 + 0.5 x + 1.5 y (see the pooling test): linear, so bilinear
    // upsampling reads it at the clamped source position (o + 0.5) / 2 - 0.5.
    let src = |o: usize| ((o as f32 + 0.5) * 0.5 - 0.5).clamp(0.0, 2.0);
    for y in 0..6 {
        for x in 0..6 {
            let expected = [7.0, 3.0 + 0.5 * src(x) + 1.5 * src(y)];
            close(grid.cell(y * 6 + x), &expected);
        }
    }
}

#[test]
fn bad_maps_are_refused_with_a_clear_message() {
    assert!(matches!(embed(&[]), Err(PatchCoreError::NoMaps)));
    let short = vec![0.0f32; 10];
    let e = embed(&[MapRef {
        height: 2,
        width: 2,
        channels: 3,
        data: &short,
    }])
    .unwrap_err();
    assert!(
        matches!(
            e,
            PatchCoreError::MapShape {
                map: 0,
                expected: 12,
                found: 10,
                ..
            }
        ),
        "{e}"
    );
    let e = embed(&[MapRef {
        height: 0,
        width: 2,
        channels: 3,
        data: &[],
    }])
    .unwrap_err();
    assert!(matches!(e, PatchCoreError::MapShape { .. }), "{e}");

    let small = vec![0.0f32; 2 * 2];
    let big = vec![0.0f32; 4 * 4];
    let e = embed(&[
        MapRef {
            height: 2,
            width: 2,
            channels: 1,
            data: &small,
        },
        MapRef {
            height: 4,
            width: 4,
            channels: 1,
            data: &big,
        },
    ])
    .unwrap_err();
    assert!(e.to_string().contains("finest map first"), "{e}");

    let wide = vec![0.0f32; 4 * 8];
    let square = vec![0.0f32; 4 * 4];
    let e = embed(&[
        MapRef {
            height: 4,
            width: 8,
            channels: 1,
            data: &wide,
        },
        MapRef {
            height: 4,
            width: 4,
            channels: 1,
            data: &square,
        },
    ])
    .unwrap_err();
    assert!(e.to_string().contains("aspect"), "{e}");

    let mut nan = vec![0.0f32; 2 * 2 * 3];
    nan[2 * 3 + 3 + 1] = f32::NAN; // row 1, column 1, channel 1
    let ok = vec![0.0f32; 2 * 2 * 3];
    let e = embed(&[
        MapRef {
            height: 2,
            width: 2,
            channels: 3,
            data: &ok,
        },
        MapRef {
            height: 2,
            width: 2,
            channels: 3,
            data: &nan,
        },
    ])
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("feature map 1 at row 1, column 1, channel 1"),
        "{e}"
    );
    let mut inf = ok.clone();
    inf[0] = f32::INFINITY;
    assert!(matches!(
        embed(&[MapRef {
            height: 2,
            width: 2,
            channels: 3,
            data: &inf
        }]),
        Err(PatchCoreError::NonFinite { .. })
    ));
}

#[test]
fn reduce_dim_averages_adaptive_bins() {
    let grid = PatchGrid::new(
        1,
        2,
        5,
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0, 0.0, 10.0],
    )
    .unwrap();
    // Bins of 5 -> 2: [0, 3) and [2, 5).
    let r = reduce_dim(&grid, 2).unwrap();
    assert_eq!((r.height, r.width, r.dim), (1, 2, 2));
    close(&r.data, &[2.0, 4.0, 0.0, 10.0 / 3.0]);
    assert_eq!(reduce_dim(&grid, 5).unwrap(), grid);
    assert!(reduce_dim(&grid, 0).is_err());
    assert!(reduce_dim(&grid, 6).is_err());
}

#[test]
fn patch_grid_new_checks_its_shape() {
    assert!(PatchGrid::new(2, 2, 3, vec![0.0; 12]).is_ok());
    let e = PatchGrid::new(2, 2, 3, vec![0.0; 11]).unwrap_err();
    assert!(e.to_string().contains("holds 11 values"), "{e}");
    assert!(PatchGrid::new(0, 2, 3, vec![]).is_err());
}
