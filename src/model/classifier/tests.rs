use std::collections::BTreeMap;

use image::{GrayImage, Luma, Rgb, RgbImage, imageops};
use ndarray::Array2;

use super::descriptor::{lbp_histogram, lbp_histogram_reference};
use super::descriptor_item::main_item;
use super::train::{Candidate, fit_machines};
use super::*;
use crate::domain::BBox;
use crate::vision::features::ITEM_FEATURES;
use crate::vision::segment::{SegmentConfig, Segmenter};

fn classes3() -> Vec<String> {
    ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
}

#[test]
fn descriptor_names_are_unique_and_start_with_item_features() {
    assert_eq!(
        &DESCRIPTOR_FEATURES[..ITEM_FEATURES.len()],
        &ITEM_FEATURES[..]
    );
    let mut names = DESCRIPTOR_FEATURES.to_vec();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), DESCRIPTOR_FEATURES.len());
}

#[test]
fn describes_an_item_and_falls_back_to_the_whole_image() {
    let mut seg = Segmenter::new(SegmentConfig::default());
    let found = DESCRIPTOR_FEATURES
        .iter()
        .position(|n| *n == "item_found")
        .unwrap();
    let d = describe_image(&synthetic::disc(0, 1), &mut seg);
    assert_eq!(d.len(), DESCRIPTOR_FEATURES.len());
    assert!(d.iter().all(|v| v.is_finite()));
    assert_eq!(d[found], 1.0);

    let empty = RgbImage::from_pixel(500, 400, Rgb([120, 120, 120]));
    let d = describe_image(&empty, &mut seg);
    assert_eq!(d.len(), DESCRIPTOR_FEATURES.len());
    assert!(d.iter().all(|v| v.is_finite()));
    assert_eq!(d[found], 0.0, "a uniform image has no item");
}

/// Reusing the segmentation and features of an earlier pass gives the same descriptor as
/// describing from scratch, for a crop (reused) and a larger photo (segmented again).
#[test]
fn describing_with_known_items_gives_the_same_descriptor() {
    let mut seg = Segmenter::new(SegmentConfig::default());
    for class in 0..3 {
        let photo = synthetic::disc(class, 7);
        let crop = imageops::crop_imm(&photo, 60, 20, 300, 260).to_image();
        for img in [&crop, &photo] {
            let (regions, measured) = crate::eval::main_items_measured(&mut seg, img);
            assert!(!measured.is_empty());
            let known = KnownItems {
                regions: &regions,
                features: &measured,
            };
            let reused = describe_image_known(img, &mut seg, Some(known));
            assert_eq!(reused, describe_image(img, &mut seg), "class {class}");
        }
    }
}

#[test]
fn fast_lbp_matches_the_reference() {
    // Textured grey image with an item mask that reaches the image border.
    let grey = GrayImage::from_fn(90, 70, |x, y| {
        Luma([(synthetic::jitter(x * 131 + y, 5) * 255.0) as u8 / 2 + (x % 7) as u8 * 9])
    });
    let bb = BBox {
        x: 0,
        y: 5,
        w: 80,
        h: 65,
    };
    let mask = GrayImage::from_fn(bb.w, bb.h, |x, y| {
        Luma([if (x + 2 * y) % 5 == 0 { 0 } else { 255 }])
    });
    for radius in [1, 2, 4] {
        assert_eq!(
            lbp_histogram(&grey, bb, &mask, radius),
            lbp_histogram_reference(&grey, bb, &mask, radius),
            "radius {radius}"
        );
    }
}

/// A product filling most of a white frame with black corners (a rotated photo): the
/// segmenter sees red as the belt; the main item must still be the product.
#[test]
fn product_filling_a_rotated_photo_is_the_main_item() {
    use imageproc::drawing::{draw_filled_circle_mut, draw_polygon_mut};
    use imageproc::point::Point;
    let (w, h) = (300i32, 300i32);
    let mut img = RgbImage::from_pixel(w as u32, h as u32, Rgb([250, 250, 250]));
    let black = Rgb([0, 0, 0]);
    for tri in [
        [(0, 0), (90, 0), (0, 90)],
        [(w - 1, 0), (w - 91, 0), (w - 1, 90)],
        [(0, h - 1), (90, h - 1), (0, h - 91)],
        [(w - 1, h - 1), (w - 91, h - 1), (w - 1, h - 91)],
    ] {
        let pts: Vec<Point<i32>> = tri.iter().map(|&(x, y)| Point::new(x, y)).collect();
        draw_polygon_mut(&mut img, &pts, black);
    }
    draw_filled_circle_mut(&mut img, (150, 150), 125, Rgb([200, 30, 40]));
    let mut seg = Segmenter::new(SegmentConfig::default());
    let (item, _) = main_item(&img, &mut seg, None).expect("an item");
    let disc = std::f64::consts::PI * 125.0 * 125.0;
    let ratio = f64::from(item.area) / disc;
    assert!(
        (0.85..1.15).contains(&ratio),
        "area {} vs disc {disc}",
        item.area
    );
    let (cx, cy) = item.bbox.center();
    assert!(
        (cx - 150.0).abs() < 10.0 && (cy - 150.0).abs() < 10.0,
        "{:?}",
        item.bbox
    );
}

fn synthetic_set(per_class: u32, offset: u32) -> (Vec<Vec<f64>>, Vec<String>) {
    let names = ["plain", "spotted", "green"];
    let mut seg = Segmenter::new(SegmentConfig::default());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (c, name) in names.iter().enumerate() {
        for i in 0..per_class {
            x.push(describe_image(&synthetic::disc(c, offset + i), &mut seg));
            y.push(name.to_string());
        }
    }
    (x, y)
}

fn train_default(x: &[Vec<f64>], y: &[String]) -> GradeClassifier {
    GradeClassifier::train(
        x,
        y,
        None,
        DESCRIPTOR_SET,
        &DESCRIPTOR_FEATURES,
        &GradeTrainOptions::default(),
        "unit test",
    )
    .unwrap()
}

#[test]
fn learns_separable_synthetic_classes() {
    let (x, y) = synthetic_set(10, 0);
    let model = train_default(&x, &y);
    assert_eq!(model.classes(), ["green", "plain", "spotted"]);
    assert_eq!(model.card.samples_per_class, [10, 10, 10]);
    assert!(model.card.inner_cv_score.is_some());
    let (xt, yt) = synthetic_set(5, 1000);
    for (v, truth) in xt.iter().zip(&yt) {
        let p = model.predict(v).unwrap();
        assert_eq!(&p.class, truth, "{:?}", p.scores);
        assert_eq!(model.classes()[p.index], p.class);
        assert!((p.scores.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let best = p.scores[p.index];
        assert!(p.scores.iter().all(|s| *s <= best));
    }
}

/// The stored support vectors and weights reproduce linfa-svm's decision function on the
/// same problem (both solved to a tight tolerance), and the second machine of two classes
/// is the mirror of the first.
#[test]
fn stored_machines_match_linfa() {
    use linfa::Dataset;
    use linfa::prelude::Fit;
    use linfa_svm::Svm;
    let n = 40;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| {
        let t = i as f64;
        (t * 0.37 + j as f64).sin() + if i % 2 == 0 { 0.8 } else { -0.8 }
    });
    let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let cand = Candidate {
        c: 4.0,
        width_factor: 1.0,
        weighting: ClassWeighting::Equal,
    };
    let ours = fit_machines(&x, &y, 2, cand, 1e-9).unwrap();
    let m0 = ours[0].as_ref().unwrap();
    let m1 = ours[1].as_ref().unwrap();
    assert!(m0.support.len() < n, "not every row is a support vector");
    let targets: ndarray::Array1<bool> = y.iter().map(|&v| v == 0).collect();
    let svm = Svm::<f64, bool>::params()
        .pos_neg_weights(4.0, 4.0)
        .gaussian_kernel(3.0)
        .eps(1e-9)
        .fit(&Dataset::new(x.clone(), targets))
        .unwrap();
    for row in x.outer_iter() {
        let theirs = svm.weighted_sum(&row) - svm.rho;
        let v = row.to_vec();
        assert!((m0.decision(&v, 3.0) - theirs).abs() < 1e-6);
        assert!((m1.decision(&v, 3.0) + theirs).abs() < 1e-6, "mirror");
    }
}

#[test]
fn save_load_round_trip_and_refusals() {
    let (x, y) = synthetic_set(4, 0);
    let model = train_default(&x, &y);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grader.json");
    model.save(&path).unwrap();
    let back = GradeClassifier::load(&path).unwrap();
    assert_eq!(back, model);
    assert_eq!(GradeClassifier::load_for_images(&path).unwrap(), model);
    for v in &x {
        assert_eq!(back.predict(v).unwrap(), model.predict(v).unwrap());
    }

    let write = |v: &serde_json::Value| std::fs::write(&path, v.to_string()).unwrap();
    let mut v = serde_json::to_value(&model).unwrap();
    v["format_version"] = 99.into();
    write(&v);
    let err = GradeClassifier::load(&path).unwrap_err();
    assert!(matches!(err, ClassifierError::Version { found: 99, .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("version 99") && msg.contains("grader.json"),
        "{msg}"
    );

    let mut v = serde_json::to_value(&model).unwrap();
    v["format"] = "foodqc-model".into();
    write(&v);
    let err = GradeClassifier::load(&path).unwrap_err();
    assert!(matches!(err, ClassifierError::WrongFormat { .. }), "{err}");

    let mut v = serde_json::to_value(&model).unwrap();
    v["feature_set"] = "old-descriptor".into();
    write(&v);
    assert!(
        GradeClassifier::load(&path).is_ok(),
        "any feature set loads"
    );
    let err = GradeClassifier::load_for_images(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("old-descriptor") && err.contains("grader.json"),
        "{err}"
    );

    let mut v = serde_json::to_value(&model).unwrap();
    v["machines"].as_array_mut().unwrap().pop();
    write(&v);
    let err = GradeClassifier::load(&path).unwrap_err();
    assert!(matches!(err, ClassifierError::Inconsistent { .. }), "{err}");

    std::fs::write(&path, "not json").unwrap();
    assert!(matches!(
        GradeClassifier::load(&path),
        Err(ClassifierError::Parse { .. })
    ));
    let err = GradeClassifier::load(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(err, ClassifierError::Io { .. }));
    assert!(err.to_string().contains("missing.json"));
}

#[test]
fn bad_inputs_are_explained() {
    let row = vec![0.0; 3];
    let names = ["f1", "f2", "f3"];
    let opts = GradeTrainOptions::default();
    let train = |x: &[Vec<f64>], y: &[&str]| {
        let y: Vec<String> = y.iter().map(|s| s.to_string()).collect();
        GradeClassifier::train(x, &y, None, "t", &names, &opts, "t")
    };
    let one = train(&vec![row.clone(); 4], &["a"; 4]).unwrap_err();
    assert!(matches!(one, ClassifierError::OneClass(1)));
    let few = train(&vec![row.clone(); 5], &["a", "a", "a", "b", "b"]).unwrap_err();
    assert!(few.to_string().contains("`b` has 2"), "{few}");
    let short = train(&[row.clone(), vec![0.0; 2]], &["a", "b"]).unwrap_err();
    assert!(matches!(short, ClassifierError::Data(_)));
    let nan = train(&[vec![f64::NAN, 0.0, 0.0]], &["a"]).unwrap_err();
    assert!(matches!(nan, ClassifierError::Data(_)));

    let x: Vec<Vec<f64>> = (0..8)
        .map(|i| vec![i as f64, 0.0, (i % 2) as f64])
        .collect();
    let y = ["a", "b", "a", "b", "a", "b", "a", "b"];
    let model = train(&x, &y).unwrap();
    assert!(matches!(
        model.predict(&[1.0]),
        Err(ClassifierError::Dimension {
            got: 1,
            expected: 3
        })
    ));
}

#[test]
fn grouped_folds_keep_groups_together() {
    // 60 samples in groups of 1..5, three classes.
    let mut groups = Vec::new();
    let mut classes = Vec::new();
    let mut g = 0u64;
    while groups.len() < 60 {
        let size = 1 + (g % 5) as usize;
        for _ in 0..size {
            groups.push(g * 7 + 3);
            classes.push((g % 3) as usize);
        }
        g += 1;
    }
    let folds = grouped_folds(&groups, &classes, 5);
    assert_eq!(folds.len(), groups.len());
    let mut fold_of = BTreeMap::new();
    for (gid, f) in groups.iter().zip(&folds) {
        assert_eq!(*fold_of.entry(*gid).or_insert(*f), *f, "group {gid} split");
    }
    for f in 0..5 {
        let n = folds.iter().filter(|&&x| x == f).count();
        assert!((6..=18).contains(&n), "fold {f} has {n}");
        for c in 0..3 {
            assert!(
                folds.iter().zip(&classes).any(|(&x, &k)| x == f && k == c),
                "fold {f} lacks class {c}"
            );
        }
    }
    assert_eq!(folds, grouped_folds(&groups, &classes, 5), "deterministic");
}

#[test]
fn confusion_measures_by_hand() {
    let mut cm = ClassConfusion::new(&classes3());
    let counts = [[5, 1, 0], [2, 3, 1], [0, 0, 4]];
    for (t, row) in counts.iter().enumerate() {
        for (p, &n) in row.iter().enumerate() {
            for _ in 0..n {
                cm.add(t, p);
            }
        }
    }
    assert_eq!(cm.total(), 16);
    assert_eq!(cm.support(1), 6);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(cm.precision(0), 5.0 / 7.0));
    assert!(close(cm.recall(0), 5.0 / 6.0));
    assert!(close(cm.f1(0), 10.0 / 13.0));
    assert!(close(cm.f1(1), 3.0 / 5.0));
    assert!(close(cm.f1(2), 8.0 / 9.0));
    assert!(close(
        cm.macro_f1(),
        (10.0 / 13.0 + 3.0 / 5.0 + 8.0 / 9.0) / 3.0
    ));
    assert!(close(cm.accuracy(), 0.75));

    // A class never predicted has precision 0; a class without items is not averaged.
    let mut cm = ClassConfusion::new(&classes3());
    cm.add(0, 0);
    cm.add(1, 0);
    assert_eq!(cm.precision(1), 0.0);
    assert_eq!(cm.f1(1), 0.0);
    assert!(close(cm.macro_f1(), (2.0 / 3.0 + 0.0) / 2.0));
}
