//! Synthetic defects on real photos: the main item of a good cookie (and, for the contact
//! sheets, an apple and a banana) found by the project's segmenter, given each kind.

use std::path::{Path, PathBuf};

use image::{GrayImage, Rgb, RgbImage};

use super::unit_tests::check;
use super::*;
use crate::eval::main_items;
use crate::imageio::load_rgb;
use crate::vision::segment::{SegmentConfig, Segmenter};

/// The shared dataset folder `rel`, if present; with `FOODQC_REQUIRE_DATASETS` set its absence
/// fails the test.
fn dataset(rel: &str) -> Option<PathBuf> {
    let roots = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"),
        PathBuf::from("/work/shared/datasets"),
    ];
    if let Some(dir) = roots.iter().map(|r| r.join(rel)).find(|d| d.is_dir()) {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FOODQC_REQUIRE_DATASETS").is_none(),
        "dataset {rel} is missing and FOODQC_REQUIRE_DATASETS is set"
    );
    println!("skipped: dataset {rel} is not present");
    None
}

/// The crop and mask of the largest main item of each of the first photos of `dir` that
/// has one clear of the photo's border (rotated stock photos have black corners that segment
/// as items), sorted by file name.
fn main_item_crops(dir: &Path, photos: usize) -> Vec<(RgbImage, GrayImage)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable dataset folder")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    files.sort();
    let mut seg = Segmenter::new(SegmentConfig::default());
    let mut out = Vec::new();
    for f in files {
        let img = load_rgb(&f).expect("a decodable photo");
        let regions = seg.segment(&img);
        let Some(&i) = main_items(&regions)
            .iter()
            .filter(|&&i| !regions[i].touches_border)
            .max_by_key(|&&i| regions[i].area)
        else {
            continue;
        };
        let b = regions[i].bbox;
        let crop = image::imageops::crop_imm(&img, b.x, b.y, b.w, b.h).to_image();
        out.push((crop, regions[i].mask.clone()));
        if out.len() == photos {
            break;
        }
    }
    out
}

#[test]
fn every_kind_on_a_real_cookie() {
    let Some(dir) = dataset("cookies/train/good") else {
        return;
    };
    let crops = main_item_crops(&dir, 2);
    assert_eq!(crops.len(), 2, "two cookies found in {}", dir.display());
    let item = ItemImage {
        rgb: &crops[0].0,
        mask: &crops[0].1,
    };
    let donor = ItemImage {
        rgb: &crops[1].0,
        mask: &crops[1].1,
    };
    let analysed = item::Item::analyse(item, Role::Item).unwrap();
    assert!(analysed.diameter > 100.0, "{}", analysed.diameter);
    for kind in DefectKind::ALL {
        for seed in 0..3 {
            let d = make(item, Some(donor), kind, seed).unwrap();
            check(item.rgb, item.mask, &d, kind, true, 0.4);
        }
    }
}

/// Scale `img` down so its longer side is at most `side`.
fn fit(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = (side as f32 / w.max(h) as f32).min(1.0);
    let size = (
        (w as f32 * s).round().max(1.0),
        (h as f32 * s).round().max(1.0),
    );
    image::imageops::resize(img, size.0 as u32, size.1 as u32, image::imageops::Triangle)
}

/// `rgb` with the outline of `mask` drawn in magenta.
fn outlined(rgb: &RgbImage, mask: &GrayImage) -> RgbImage {
    let mut out = rgb.clone();
    let (w, h) = mask.dimensions();
    let on = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < i64::from(w)
            && y < i64::from(h)
            && mask.get_pixel(x as u32, y as u32).0[0] != 0
    };
    for (x, y, m) in mask.enumerate_pixels() {
        let (xi, yi) = (i64::from(x), i64::from(y));
        if m.0[0] != 0
            && [(1, 0), (-1, 0), (0, 1), (0, -1)]
                .iter()
                .any(|(dx, dy)| !on(xi + dx, yi + dy))
        {
            out.put_pixel(x, y, Rgb([255, 0, 255]));
        }
    }
    out
}

/// Contact sheets for looking at the defects: per product, rows of seeds; each row the good
/// item then every kind, clean and with the defect mask outlined.
/// Run with `cargo test contact_sheets -- --ignored --nocapture`.
#[test]
#[ignore = "writes /tmp/synthetic-defects-*.png for a person to look at"]
fn contact_sheets() {
    const CELL: u32 = 400;
    for (name, rel) in [
        ("cookie", "cookies/train/good"),
        ("apple", "fruit/apple/train/good"),
        ("banana", "fruit/banana/train/good"),
    ] {
        let Some(dir) = dataset(rel) else { continue };
        let crops = main_item_crops(&dir, 4);
        assert!(crops.len() >= 2, "{name}: items found");
        let cols = 1 + 2 * DefectKind::ALL.len() as u32;
        let rows = crops.len() as u32 - 1;
        let mut sheet = RgbImage::from_pixel(cols * CELL, rows * CELL, Rgb([255, 255, 255]));
        for r in 0..rows as usize {
            let item = ItemImage {
                rgb: &crops[r].0,
                mask: &crops[r].1,
            };
            let donor = ItemImage {
                rgb: &crops[r + 1].0,
                mask: &crops[r + 1].1,
            };
            let mut cells = vec![fit(item.rgb, CELL - 4)];
            for kind in DefectKind::ALL {
                let d = make(item, Some(donor), kind, r as u64).unwrap();
                cells.push(fit(&d.rgb, CELL - 4));
                cells.push(fit(&outlined(&d.rgb, &d.mask), CELL - 4));
            }
            for (c, img) in cells.iter().enumerate() {
                let (x, y) = (c as u32 * CELL + 2, r as u32 * CELL + 2);
                image::imageops::overlay(&mut sheet, img, i64::from(x), i64::from(y));
            }
        }
        let path = format!("/tmp/synthetic-defects-{name}.png");
        sheet.save(&path).unwrap();
        println!("wrote {path}");
    }
}
