//! Tests of the item finder: discs, shadows, cracks, borders and border following.

use super::downscale::ExactDiv;
use super::*;
use image::Rgb;

fn belt_with_discs(discs: &[(i32, i32, i32)]) -> RgbImage {
    let mut img = RgbImage::from_pixel(640, 360, Rgb([50, 52, 55]));
    for &(cx, cy, r) in discs {
        imageproc::drawing::draw_filled_circle_mut(&mut img, (cx, cy), r, Rgb([200, 150, 90]));
    }
    img
}

/// The item's area is that of a disc of radius `r`, within 5 %.
fn assert_disc_area(item: &ItemRegion, r: f32) {
    let expected = std::f32::consts::PI * r * r;
    assert!(
        (item.area as f32 - expected).abs() / expected < 0.05,
        "{} vs {expected}: {:?}",
        item.area,
        item.bbox
    );
}

#[test]
fn finds_each_disc_once() {
    let img = belt_with_discs(&[(100, 100, 40), (300, 200, 50), (520, 120, 35)]);
    let items = Segmenter::new(SegmentConfig::default()).segment(&img);
    assert_eq!(items.len(), 3, "{items:?}");
    assert_disc_area(&items[0], 40.0);
    assert!(items.iter().all(|i| !i.touches_border));
    assert!(items[1].contour.len() > 8);
}

#[test]
fn empty_belt_has_no_items() {
    let mut img = RgbImage::from_pixel(640, 360, Rgb([50, 52, 55]));
    // Mild sensor noise must not turn into items.
    for (i, p) in img.pixels_mut().enumerate() {
        let n = ((i * 2654435761) >> 7) as u8 % 9;
        p.0 = [46 + n, 48 + n, 51 + n];
    }
    assert!(
        Segmenter::new(SegmentConfig::default())
            .segment(&img)
            .is_empty()
    );
}

#[test]
fn item_cut_by_border_is_flagged() {
    let img = belt_with_discs(&[(10, 180, 50)]);
    let items = Segmenter::new(SegmentConfig::default()).segment(&img);
    assert_eq!(items.len(), 1);
    assert!(items[0].touches_border);
}

#[test]
fn dark_crack_does_not_split_or_hole_the_item() {
    let mut img = belt_with_discs(&[(320, 180, 80)]);
    imageproc::drawing::draw_filled_rect_mut(
        &mut img,
        imageproc::rect::Rect::at(300, 140).of_size(60, 4),
        Rgb([50, 52, 55]),
    );
    let items = Segmenter::new(SegmentConfig::default()).segment(&img);
    assert_eq!(items.len(), 1);
    assert_disc_area(&items[0], 80.0);
}

#[test]
fn shadow_is_belt_but_dark_item_is_not() {
    let belt = [90, 92, 85];
    // 60 % of the belt colour: a shadow.
    assert!(belt_distance([54, 55, 51], belt) < 20);
    // A dark brown item is far from the belt.
    assert!(belt_distance([70, 40, 20], belt) > 60);
    // Brighter than the belt is never a shadow.
    assert_eq!(
        belt_distance([200, 150, 90], belt),
        color_l1([200, 150, 90], belt)
    );
}

/// A grey belt whose upper fifth lies in a deep shadow (15 % of the lit belt, slightly
/// warm, as under a tray wall) that lightens over the next third, with mild sensor noise.
fn belt_with_deep_shadow() -> RgbImage {
    let mut img = RgbImage::new(640, 480);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let light = (0.15 + 0.85 * (y as f32 - 100.0) / 160.0).clamp(0.15, 1.0);
        let n = ((x as usize * 7919 + y as usize * 104_729) % 7) as f32;
        p.0 = [
            (116.0 * light + n + 4.0 * (1.0 - light)) as u8,
            (116.0 * light + n) as u8,
            (106.0 * light + n) as u8,
        ];
    }
    img
}

#[test]
fn deep_shadow_on_the_belt_does_not_join_the_item() {
    let mut img = belt_with_deep_shadow();
    // A cookie whose top lies in the shadow, and a roasted coffee bean on the lit belt.
    imageproc::drawing::draw_filled_circle_mut(&mut img, (220, 130), 60, Rgb([220, 170, 100]));
    imageproc::drawing::draw_filled_circle_mut(&mut img, (480, 380), 30, Rgb([40, 25, 10]));
    let items = Segmenter::new(SegmentConfig::default()).segment(&img);
    assert_eq!(
        items.len(),
        2,
        "{:?}",
        items.iter().map(|i| i.bbox).collect::<Vec<_>>()
    );
    let cookie = items[0].bbox;
    assert!(
        cookie.y >= 65 && cookie.y + cookie.h <= 195 && cookie.w <= 130,
        "the cookie's box takes in the shadow: {cookie:?}"
    );
    let expected = std::f32::consts::PI * 60.0 * 60.0;
    assert!(
        (items[0].area as f32 - expected).abs() / expected < 0.05,
        "{}",
        items[0].area
    );
    let bean = items[1].bbox;
    assert!(bean.x >= 445 && bean.x + bean.w <= 515, "{bean:?}");
}

#[test]
fn border_trace_matches_imageproc_contours() {
    // Random blobs: the largest component of each, holes filled, as item masks are.
    for seed in 0..30u64 {
        let mut st = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            st
        };
        let (w, h) = (20 + (next() % 40) as u32, 15 + (next() % 40) as u32);
        let mut m = GrayImage::new(w, h);
        for _ in 0..(3 + next() % 6) {
            let (cx, cy, r) = (next() % u64::from(w), next() % u64::from(h), 2 + next() % 9);
            imageproc::drawing::draw_filled_circle_mut(
                &mut m,
                (cx as i32, cy as i32),
                r as i32,
                image::Luma([255]),
            );
        }
        for _ in 0..(next() % 40) {
            let (x, y) = (
                (next() % u64::from(w)) as u32,
                (next() % u64::from(h)) as u32,
            );
            m.put_pixel(x, y, image::Luma([0]));
        }
        let mut comps = Components::default();
        comps.label(&m);
        let Some((best, _)) = comps
            .components
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| c.area)
        else {
            continue;
        };
        let mut item = GrayImage::new(w, h);
        for r in comps.runs_of(best as u32) {
            for x in r.x0..r.x1 {
                item.put_pixel(x, r.y, image::Luma([255]));
            }
        }
        fill_holes(&mut item);
        // imageproc on the mask padded by one pixel (so borders on the crop edge count),
        // as `outer_contour` did before it traced the border itself.
        let mut padded = GrayImage::new(w + 2, h + 2);
        image::imageops::replace(&mut padded, &item, 1, 1);
        let theirs: Vec<_> = imageproc::contours::find_contours::<i32>(&padded)
            .into_iter()
            .filter(|c| c.parent.is_none())
            .max_by_key(|c| c.points.len())
            .expect("one outer border")
            .points
            .iter()
            .map(|p| imageproc::point::Point::new(p.x - 1, p.y - 1))
            .collect();
        assert_eq!(trace_outer_border(&item), theirs, "seed {seed}");
    }
    assert!(trace_outer_border(&GrayImage::new(4, 3)).is_empty());
    let mut dot = GrayImage::new(4, 3);
    dot.put_pixel(2, 1, image::Luma([255]));
    assert_eq!(
        trace_outer_border(&dot),
        vec![imageproc::point::Point::new(2, 1)]
    );
}

#[test]
fn fast_division_is_exact() {
    for n in 1..=300u32 {
        let d = ExactDiv::new(n);
        for a in 0..=(255 * n).min(70_000) {
            assert_eq!(d.of(a), a / n, "{a} / {n}");
        }
    }
}

#[test]
fn tiny_and_odd_frames_do_not_panic() {
    for (w, h) in [(1, 1), (7, 3), (37, 23), (321, 1)] {
        let img = RgbImage::from_pixel(w, h, Rgb([200, 10, 10]));
        let _ = Segmenter::new(SegmentConfig::default()).segment(&img);
    }
}

#[test]
fn view_in_moves_the_region_into_the_crop() {
    let mut img = belt_with_deep_shadow();
    imageproc::drawing::draw_filled_circle_mut(&mut img, (480, 360), 50, Rgb([220, 170, 100]));
    let regions = Segmenter::new(SegmentConfig::default()).segment(&img);
    let r = &regions[0];
    let (crop, moved) = r.view_in(&img, 0.25);
    assert!(crop.width() >= r.bbox.w && crop.height() >= r.bbox.h);
    assert_eq!(moved.mask, r.mask);
    assert_eq!((moved.bbox.w, moved.bbox.h), (r.bbox.w, r.bbox.h));
    // Every pixel of the item is the same in the crop as in the frame.
    let (dx, dy) = (r.bbox.x - moved.bbox.x, r.bbox.y - moved.bbox.y);
    for (x, y, m) in r.mask.enumerate_pixels() {
        if m[0] > 0 {
            let (fx, fy) = (r.bbox.x + x, r.bbox.y + y);
            assert_eq!(img.get_pixel(fx, fy), crop.get_pixel(fx - dx, fy - dy));
        }
    }
    // The crop finds the same item again.
    let again = Segmenter::new(SegmentConfig::default()).segment(&crop);
    assert!(again.iter().any(|a| a.bbox.iou(&moved.bbox) > 0.8));
}
