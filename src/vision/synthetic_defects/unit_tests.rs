//! Tests of the synthetic defects on drawn items (discs, ellipses, rectangles) with a
//! texture that scales with the item.

use image::{GrayImage, Luma, Rgb, RgbImage};

use super::*;

/// Outline of a drawn item.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Semi-axes `a` (x) and `b` (y).
    Ellipse(f32, f32),
    /// Half width and half height.
    Rect(f32, f32),
}

/// A crop with a textured warm item of `shape` on a grainy grey belt, and its mask; the
/// texture's scale follows the item's size.
fn drawn(shape: Shape) -> (RgbImage, GrayImage) {
    let (hx, hy) = match shape {
        Shape::Ellipse(a, b) | Shape::Rect(a, b) => (a, b),
    };
    let margin = 0.15 * hx.max(hy) + 4.0;
    let (w, h) = ((2.0 * (hx + margin)) as u32, (2.0 * (hy + margin)) as u32);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let scale = hx.max(hy);
    let mut rgb = RgbImage::new(w, h);
    let mut mask = GrayImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let inside = match shape {
                Shape::Ellipse(a, b) => (dx / a).powi(2) + (dy / b).powi(2) <= 1.0,
                Shape::Rect(a, b) => dx.abs() <= a && dy.abs() <= b,
            };
            let grain = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 13) as f32 - 6.0;
            let p = if inside {
                mask.put_pixel(x, y, Luma([255]));
                let (u, v) = (dx / scale, dy / scale);
                let t = 18.0 * (9.0 * u + 4.0 * v).sin() * (7.0 * v - 3.0 * u).cos()
                    + 12.0 * (1.0 - u * u - v * v)
                    + grain;
                [200.0 + t, 150.0 + 0.8 * t, 90.0 + 0.5 * t]
            } else {
                [50.0 + grain, 52.0 + grain, 55.0 + grain]
            };
            rgb.put_pixel(x, y, Rgb(p.map(|v| v.clamp(0.0, 255.0) as u8)));
        }
    }
    (rgb, mask)
}

fn disc(r: f32) -> (RgbImage, GrayImage) {
    drawn(Shape::Ellipse(r, r))
}

pub(super) fn count(mask: &GrayImage) -> usize {
    mask.as_raw().iter().filter(|&&v| v > 127).count()
}

/// Standard deviation of the luma of the item pixels.
fn item_std(rgb: &RgbImage, mask: &GrayImage) -> f32 {
    let ls: Vec<f32> = rgb
        .pixels()
        .zip(mask.as_raw())
        .filter(|(_, m)| **m > 127)
        .map(|(p, _)| item::luma(p.0.map(f32::from)))
        .collect();
    let mean = ls.iter().sum::<f32>() / ls.len() as f32;
    (ls.iter().map(|l| (l - mean).powi(2)).sum::<f32>() / ls.len() as f32).sqrt()
}

/// Mean colour change (Euclidean, over RGB) over the defect mask.
fn mean_change(before: &RgbImage, d: &SyntheticDefect) -> f32 {
    let (mut sum, mut n) = (0.0, 0.0);
    for ((a, b), m) in before.pixels().zip(d.rgb.pixels()).zip(d.mask.as_raw()) {
        if *m != 0 {
            let sq: f32 = (0..3)
                .map(|c| (f32::from(a.0[c]) - f32::from(b.0[c])).powi(2))
                .sum();
            sum += sq.sqrt();
            n += 1.0;
        }
    }
    sum / n
}

/// Everything a defect promises, checked: size, a non-empty mask on the item, nothing
/// changed outside it, a visible change inside it (a mean colour change of more than
/// `min_change` times the item's luma standard deviation), and (with `bounds`) its share of
/// the item.
pub(super) fn check(
    rgb: &RgbImage,
    mask: &GrayImage,
    d: &SyntheticDefect,
    kind: DefectKind,
    bounds: bool,
    min_change: f32,
) {
    let what = format!("{kind} on {:?}", rgb.dimensions());
    assert_eq!(d.kind, kind);
    assert_eq!(d.rgb.dimensions(), rgb.dimensions(), "{what}");
    assert_eq!(d.mask.dimensions(), rgb.dimensions(), "{what}");
    let n = count(&d.mask);
    assert!(n > 0, "{what}: empty mask");
    for ((m, item), (a, b)) in d
        .mask
        .as_raw()
        .iter()
        .zip(mask.as_raw())
        .zip(rgb.pixels().zip(d.rgb.pixels()))
    {
        assert!(*m == 0 || *item > 127, "{what}: defect off the item");
        assert!(
            *m != 0 || a == b,
            "{what}: a pixel outside the defect changed"
        );
    }
    if bounds {
        let share = n as f32 / count(mask) as f32;
        let (lo, hi) = kind.area_bounds();
        assert!(
            (lo..=hi).contains(&share),
            "{what}: covers {share} of the item"
        );
    }
    let change = mean_change(rgb, d) / item_std(rgb, mask);
    assert!(
        change > min_change,
        "{what}: mean change {change} item spreads"
    );
}

#[test]
fn every_kind_keeps_its_promises_on_round_and_other_shapes() {
    let donor = disc(110.0);
    let donor = ItemImage {
        rgb: &donor.0,
        mask: &donor.1,
    };
    for shape in [
        Shape::Ellipse(150.0, 150.0),
        Shape::Ellipse(200.0, 80.0),
        Shape::Rect(130.0, 70.0),
    ] {
        let (rgb, mask) = drawn(shape);
        let item = ItemImage {
            rgb: &rgb,
            mask: &mask,
        };
        for kind in DefectKind::ALL {
            for seed in 0..6 {
                let d = make(item, Some(donor), kind, seed).unwrap();
                check(&rgb, &mask, &d, kind, true, 0.5);
            }
        }
    }
}

#[test]
fn small_and_large_items_take_every_kind() {
    for (r, bounds) in [(20.0, false), (300.0, true)] {
        let (rgb, mask) = disc(r);
        let item = ItemImage {
            rgb: &rgb,
            mask: &mask,
        };
        for kind in DefectKind::ALL {
            for seed in 0..3 {
                let d = make(item, Some(item), kind, seed).unwrap();
                check(&rgb, &mask, &d, kind, bounds, 0.5);
            }
        }
    }
}

#[test]
fn a_seed_gives_one_defect_and_another_seed_another() {
    let (rgb, mask) = drawn(Shape::Ellipse(120.0, 90.0));
    let item = ItemImage {
        rgb: &rgb,
        mask: &mask,
    };
    for kind in DefectKind::ALL {
        let a = make(item, None, kind, 7).unwrap();
        let b = make(item, None, kind, 7).unwrap();
        let c = make(item, None, kind, 8).unwrap();
        assert_eq!(a.rgb, b.rgb, "{kind}");
        assert_eq!(a.mask, b.mask, "{kind}");
        assert_ne!(a.mask, c.mask, "{kind}");
    }
}

#[test]
fn defects_scale_with_the_item() {
    let (small_rgb, small_mask) = disc(70.0);
    let (large_rgb, large_mask) = disc(140.0);
    for kind in DefectKind::ALL {
        let (mut small, mut large) = (0usize, 0usize);
        for seed in 0..10 {
            for (rgb, mask, total) in [
                (&small_rgb, &small_mask, &mut small),
                (&large_rgb, &large_mask, &mut large),
            ] {
                let item = ItemImage { rgb, mask };
                *total += count(&make(item, None, kind, seed).unwrap().mask);
            }
        }
        let ratio = large as f32 / small as f32;
        assert!(
            (3.2..=4.8).contains(&ratio),
            "{kind}: {large} / {small} = {ratio}"
        );
    }
}

#[test]
fn missing_piece_turns_item_pixels_into_background() {
    let (rgb, mask) = disc(100.0);
    let item = ItemImage {
        rgb: &rgb,
        mask: &mask,
    };
    for seed in 0..5 {
        let d = make(item, None, DefectKind::MissingPiece, seed).unwrap();
        // The removed pixels now look like the belt (luma about 52), not the item (~160).
        let (mut sum, mut n) = (0.0, 0.0);
        for (p, m) in d.rgb.pixels().zip(d.mask.as_raw()) {
            if *m != 0 {
                sum += item::luma(p.0.map(f32::from));
                n += 1.0;
            }
        }
        let mean = sum / n;
        assert!(mean < 110.0, "seed {seed}: removed pixels have luma {mean}");
        // And they touch the outline: the bite is at the rim.
        let rim_hit = d.mask.enumerate_pixels().any(|(x, y, m)| {
            m.0[0] != 0
                && [(1i64, 0i64), (-1, 0), (0, 1), (0, -1)]
                    .iter()
                    .any(|(dx, dy)| {
                        let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
                        mask.get_pixel(nx as u32, ny as u32).0[0] == 0
                    })
        });
        assert!(rim_hit, "seed {seed}: the bite does not reach the outline");
    }
}

#[test]
fn bad_inputs_are_refused_naming_the_value() {
    let (rgb, mask) = disc(60.0);
    let empty = GrayImage::new(rgb.width(), rgb.height());
    let item = |mask| ItemImage { rgb: &rgb, mask };
    let err = make(item(&empty), None, DefectKind::Crack, 1).unwrap_err();
    assert_eq!(err, SyntheticDefectError::EmptyMask { role: Role::Item });
    let wrong = GrayImage::new(10, 12);
    let err = make(item(&wrong), None, DefectKind::Blob, 1).unwrap_err();
    assert!(err.to_string().contains("(10, 12)"), "{err}");
    let (tiny_rgb, tiny_mask) = disc(6.0);
    let tiny = ItemImage {
        rgb: &tiny_rgb,
        mask: &tiny_mask,
    };
    let err = make(tiny, None, DefectKind::Spot, 1).unwrap_err();
    assert!(
        matches!(err, SyntheticDefectError::TooSmall { role: Role::Item, diameter, .. } if diameter < MIN_DIAMETER),
        "{err}"
    );
    assert!(err.to_string().contains("16 px"), "{err}");
    // A bad donor is refused for a paste only.
    let err = make(item(&mask), Some(tiny), DefectKind::Paste, 1).unwrap_err();
    assert!(matches!(
        err,
        SyntheticDefectError::TooSmall {
            role: Role::Donor,
            ..
        }
    ));
    assert!(make(item(&mask), Some(tiny), DefectKind::Crack, 1).is_ok());
}

#[test]
fn validation_set_cycles_the_kinds_and_is_reproducible() {
    let drawn: Vec<_> = [60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 65.0]
        .into_iter()
        .map(disc)
        .collect();
    let (tiny_rgb, tiny_mask) = disc(5.0);
    let mut items: Vec<ItemImage> = drawn
        .iter()
        .map(|(rgb, mask)| ItemImage { rgb, mask })
        .collect();
    let a = validation_set(&items, 42);
    let kinds: Vec<_> = a.iter().map(|d| d.kind).collect();
    let want: Vec<_> = (0..7).map(|i| DefectKind::ALL[i % 5]).collect();
    assert_eq!(kinds, want);
    let b = validation_set(&items, 42);
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| x.rgb == y.rgb && x.mask == y.mask)
    );
    let c = validation_set(&items, 43);
    assert!(a.iter().zip(&c).any(|(x, y)| x.mask != y.mask));
    // An item too small for a defect is left out; as a donor it is replaced by the item.
    items.push(ItemImage {
        rgb: &tiny_rgb,
        mask: &tiny_mask,
    });
    assert_eq!(validation_set(&items, 42).len(), 7);
}

#[test]
fn each_defect_takes_a_few_milliseconds_on_a_300_px_item() {
    let (rgb, mask) = disc(150.0);
    let (drgb, dmask) = disc(140.0);
    let item = ItemImage {
        rgb: &rgb,
        mask: &mask,
    };
    let donor = ItemImage {
        rgb: &drgb,
        mask: &dmask,
    };
    let runs = 20;
    let t = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(item::Item::analyse(item, Role::Item).unwrap());
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(runs as u32);
    println!("measuring the item (part of every defect): {ms:.2} ms");
    for kind in DefectKind::ALL {
        let t = std::time::Instant::now();
        for seed in 0..runs {
            std::hint::black_box(make(item, Some(donor), kind, seed).unwrap());
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(runs as u32);
        println!("{kind}: {ms:.2} ms per defect on a 300 px item");
        // Generous against a busy machine; the target is under 5 ms.
        assert!(ms < 40.0, "{kind}: {ms:.1} ms");
    }
}
