//! Tests of the synthetic line: determinism, geometry, truth and speed.

use std::collections::{HashMap, HashSet};

use super::super::{DefectKind, Frame, FrameSource, GroundTruth, Pacing, TruthItem};
use super::config::Params;
use super::look::BELT_RGB;
use super::noise::Rng;
use super::spec::ItemSpec;
use super::sprite::Sprite;
use super::{SyntheticConfig, SyntheticLine};
use crate::domain::BBox;

fn line(cfg: SyntheticConfig) -> SyntheticLine {
    SyntheticLine::new(cfg)
}

fn sized(width: u32, height: u32, seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        width,
        height,
        seed,
        ..Default::default()
    }
}

fn next(src: &mut SyntheticLine) -> (Frame, GroundTruth) {
    let frame = src
        .next_frame()
        .unwrap()
        .expect("the synthetic line never ends");
    let truth = frame.truth.clone().expect("synthetic frames carry truth");
    (frame, truth)
}

fn fully_inside(b: &BBox, w: u32, h: u32) -> bool {
    b.x > 0 && b.y > 0 && b.x + b.w < w && b.y + b.h < h
}

fn in_box(b: &BBox, x: u32, y: u32) -> bool {
    x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h
}

#[test]
fn same_seed_is_byte_identical_and_other_seed_differs() {
    let mut a = line(SyntheticConfig::default());
    let mut b = line(SyntheticConfig::default());
    let mut c = line(sized(1280, 720, 8));
    for _ in 0..12 {
        let (fa, ta) = next(&mut a);
        let (fb, tb) = next(&mut b);
        let (fc, _) = next(&mut c);
        assert_eq!(fa.seq, fb.seq);
        assert!(
            fa.image.as_raw() == fb.image.as_raw(),
            "frame {} differs",
            fa.seq
        );
        assert!(ta.defect_mask.as_raw() == tb.defect_mask.as_raw());
        assert_eq!(ta.items, tb.items);
        assert!(
            fa.image.as_raw() != fc.image.as_raw(),
            "seeds 7 and 8 gave one frame"
        );
    }
}

#[test]
fn frame_metadata_and_source_traits() {
    let mut src = line(SyntheticConfig::default());
    assert_eq!(src.describe(), "synthetic line 1280x720 (seed 7)");
    assert_eq!(src.pacing(), Pacing::Fps(30.0));
    assert!(src.is_continuous());
    assert!(src.take_warnings().is_empty());
    // 1280 px in 3 s at 30 fps.
    assert_eq!(src.belt_speed(), 14);
    for seq in 0..3 {
        let frame = src.next_frame().unwrap().unwrap();
        assert_eq!(frame.seq, seq);
        assert!(frame.origin.is_none());
        assert!(frame.truth.is_some());
    }
}

#[test]
fn frame_size_is_honoured_even_for_odd_sizes() {
    for (w, h) in [(640, 480), (333, 97), (64, 48), (48, 64), (1, 1)] {
        let mut src = line(sized(w, h, 3));
        for _ in 0..20 {
            let (frame, truth) = next(&mut src);
            assert_eq!(frame.image.dimensions(), (w, h));
            assert_eq!(truth.defect_mask.dimensions(), (w, h));
            for item in &truth.items {
                let b = item.bbox;
                assert!(
                    b.w > 0 && b.h > 0 && b.x + b.w <= w && b.y + b.h <= h,
                    "{b:?}"
                );
            }
        }
    }
}

#[test]
fn unusable_config_values_are_replaced() {
    let cfg = SyntheticConfig {
        width: 0,
        height: 0,
        fps: f64::NAN,
        defect_rate: 7.0,
        second_defect_rate: -1.0,
        min_diameter: -5.0,
        max_diameter: f32::INFINITY,
        belt_speed: Some(0),
        crossing_time: 0.0,
        item_pitch: 0.0,
        min_gap: f32::NAN,
        vignette: 3.0,
        ..Default::default()
    };
    let mut src = line(cfg);
    let c = src.config().clone();
    assert_eq!((c.width, c.height), (1, 1));
    assert_eq!(c.fps, 30.0);
    assert_eq!(c.defect_rate, 1.0);
    assert_eq!(c.second_defect_rate, 0.0);
    assert!(c.min_diameter > 0.0 && c.min_diameter <= c.max_diameter);
    assert_eq!(src.belt_speed(), 1);
    for _ in 0..5 {
        let (frame, _) = next(&mut src);
        assert_eq!(frame.image.dimensions(), (1, 1));
    }
}

#[test]
fn config_deserialises_with_defaults() {
    let cfg: SyntheticConfig = serde_json::from_str(r#"{"seed": 3, "defect_rate": 0.5}"#).unwrap();
    assert_eq!(cfg.seed, 3);
    assert_eq!(cfg.defect_rate, 0.5);
    assert_eq!(cfg.width, 1280);
    assert_eq!(cfg.belt_speed, None);
    let back: SyntheticConfig =
        serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back.item_pitch, cfg.item_pitch);
}

#[test]
fn several_items_per_frame() {
    // 640x360 has the geometry of 1280x720 at a quarter of the cost: a long run there. A 4:3
    // frame is narrower for the same item size, so it holds fewer.
    let runs = [
        (640, 360, 400, 5.0..=7.5),
        (1280, 720, 40, 4.0..=9.0),
        (640, 480, 60, 3.0..=7.0),
    ];
    for (w, h, frames, want) in runs {
        let mut src = line(sized(w, h, 11));
        let mut total = 0;
        for _ in 0..frames {
            let (_, truth) = next(&mut src);
            assert!(truth.items.len() >= 2, "only {} items", truth.items.len());
            total += truth.items.len();
        }
        let mean = total as f64 / f64::from(frames);
        assert!(want.contains(&mean), "{w}x{h}: {mean} items per frame");
    }
}

#[test]
fn items_keep_their_id_and_move_with_the_belt() {
    let mut src = line(SyntheticConfig::default());
    let speed = src.belt_speed() as f32;
    let (_, mut prev) = next(&mut src);
    let mut checked = 0;
    for _ in 0..40 {
        let (_, truth) = next(&mut src);
        let before: HashMap<u64, &TruthItem> = prev.items.iter().map(|i| (i.item_id, i)).collect();
        for item in &truth.items {
            if let Some(old) = before.get(&item.item_id) {
                assert!((item.center.0 - old.center.0 - speed).abs() < 1e-3);
                assert_eq!(item.center.1, old.center.1);
                assert_eq!(item.defects, old.defects);
                if fully_inside(&item.bbox, 1280, 720) && fully_inside(&old.bbox, 1280, 720) {
                    assert_eq!(item.bbox.x - old.bbox.x, speed as u32);
                    assert_eq!(
                        (item.bbox.y, item.bbox.w, item.bbox.h),
                        (old.bbox.y, old.bbox.w, old.bbox.h)
                    );
                }
                checked += 1;
            }
        }
        prev = truth;
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn items_never_touch_and_stay_on_the_belt() {
    let fast = SyntheticConfig {
        belt_speed: Some(25),
        ..sized(640, 360, 4)
    };
    for (cfg, frames) in [(SyntheticConfig::default(), 40), (fast, 150)] {
        let height = cfg.height as f32;
        let mut src = line(cfg);
        let mut sprites_checked = HashSet::new();
        for _ in 0..frames {
            next(&mut src);
            let (items, gap) = (&src.items, src.p.gap);
            for (k, a) in items.iter().enumerate() {
                if sprites_checked.insert(a.id) {
                    // The extent really bounds the item's pixels.
                    let sp = &a.sprite;
                    for (idx, px) in sp.px.iter().enumerate() {
                        if px.alpha > 0 {
                            let dx = (idx % sp.size) as f32 + 0.5 - a.centre.0;
                            let dy = (idx / sp.size) as f32 + 0.5 - a.centre.1;
                            assert!((dx * dx + dy * dy).sqrt() <= a.extent + 0.01);
                        }
                    }
                }
                let y = a.y() as f32;
                assert!(y - a.extent >= gap - 0.01 && y + a.extent <= height - gap + 0.01);
                for b in items.iter().skip(k + 1) {
                    let d = (a.x0() - b.x0()).hypot(a.y() - b.y()) as f32;
                    assert!(d >= a.extent + b.extent + gap - 0.01, "{} {}", a.id, b.id);
                }
            }
        }
        assert!(sprites_checked.len() > 10, "{}", sprites_checked.len());
    }
}

#[test]
fn defective_fraction_matches_the_rate() {
    // Small frames and a fast belt: many distinct items in few cheap frames.
    let cfg = SyntheticConfig {
        belt_speed: Some(60),
        ..sized(320, 180, 5)
    };
    let rate = cfg.defect_rate;
    let mut src = line(cfg);
    let mut seen: HashMap<u64, Vec<DefectKind>> = HashMap::new();
    while seen.len() < 500 {
        let (_, truth) = next(&mut src);
        for item in truth.items {
            seen.insert(item.item_id, item.defects);
        }
    }
    let defective = seen.values().filter(|d| !d.is_empty()).count();
    let frac = defective as f64 / seen.len() as f64;
    // 3 standard deviations of a binomial with n = 500, p = 0.25 is 0.058.
    assert!((frac - rate).abs() < 0.06, "defective fraction {frac}");
    let mut kinds: HashMap<DefectKind, usize> = HashMap::new();
    for d in seen.values().flatten() {
        *kinds.entry(*d).or_default() += 1;
    }
    for kind in DefectKind::ALL {
        assert!(
            kinds.get(&kind).copied().unwrap_or(0) >= 15,
            "{kind:?}: {kinds:?}"
        );
    }
    assert!(
        seen.values().any(|d| d.len() == 2),
        "no item with two defects"
    );
    assert!(
        seen.values()
            .all(|d| d.len() <= 2 && (d.len() < 2 || d[0] != d[1]))
    );
}

#[test]
fn extreme_defect_rates() {
    for (rate, want_all) in [(0.0, false), (1.0, true)] {
        let cfg = SyntheticConfig {
            defect_rate: rate,
            ..sized(320, 180, 2)
        };
        let mut src = line(cfg);
        for _ in 0..40 {
            let (_, truth) = next(&mut src);
            for item in &truth.items {
                assert_eq!(item.is_defective(), want_all);
            }
            if !want_all {
                assert!(truth.defect_mask.as_raw().iter().all(|&v| v == 0));
            }
        }
    }
}

#[test]
fn defect_mask_matches_the_items() {
    let cfg = SyntheticConfig {
        defect_rate: 0.5,
        belt_speed: Some(16),
        ..sized(640, 360, 9)
    };
    let mut src = line(cfg);
    let (w, h) = (640, 360);
    let mut defective_checked = 0;
    let mut kinds_seen: HashSet<DefectKind> = HashSet::new();
    for _ in 0..60 {
        let (_, truth) = next(&mut src);
        let mask = &truth.defect_mask;
        for (x, y, v) in mask.enumerate_pixels() {
            assert!(v.0[0] == 0 || v.0[0] == 255);
            if v.0[0] == 255 {
                assert!(
                    truth
                        .items
                        .iter()
                        .any(|i| i.is_defective() && in_box(&i.bbox, x, y)),
                    "defect pixel ({x}, {y}) outside every defective item"
                );
            }
        }
        for item in &truth.items {
            let b = item.bbox;
            let count = (b.y..b.y + b.h)
                .flat_map(|y| (b.x..b.x + b.w).map(move |x| (x, y)))
                .filter(|&(x, y)| mask.get_pixel(x, y).0[0] == 255)
                .count();
            if item.is_defective() && fully_inside(&b, w, h) {
                // Every defect is marked; the smallest, a foreign speck, is 3-5 px across
                // at this frame height.
                assert!(
                    count >= 5,
                    "item {} {:?}: {count} defect pixels",
                    item.item_id,
                    item.defects
                );
                defective_checked += 1;
                kinds_seen.extend(item.defects.iter().copied());
            }
            if !item.is_defective() {
                // Mask pixels in a good item's box can only belong to a neighbour.
                let others: Vec<&TruthItem> =
                    truth.items.iter().filter(|o| o.is_defective()).collect();
                for y in b.y..b.y + b.h {
                    for x in b.x..b.x + b.w {
                        if mask.get_pixel(x, y).0[0] == 255 {
                            assert!(others.iter().any(|o| in_box(&o.bbox, x, y)));
                        }
                    }
                }
            }
        }
    }
    assert!(defective_checked >= 20, "{defective_checked}");
    assert_eq!(kinds_seen.len(), 4, "{kinds_seen:?}");
}

#[test]
fn items_stand_out_from_the_belt() {
    let mut src = line(SyntheticConfig::default());
    let (mut belt_sum, mut belt_n) = ([0f64; 3], 0f64);
    let (mut item_dist, mut item_n) = (0f64, 0f64);
    for _ in 0..10 {
        let (frame, truth) = next(&mut src);
        let inside = |x: u32, y: u32| truth.items.iter().any(|i| in_box(&i.bbox, x, y));
        for (x, y, p) in frame.image.enumerate_pixels() {
            if x % 4 == 0 && y % 4 == 0 && !inside(x, y) {
                for (sum, v) in belt_sum.iter_mut().zip(p.0) {
                    *sum += f64::from(v);
                }
                belt_n += 1.0;
            }
        }
        let belt = belt_sum.map(|s| s / belt_n.max(1.0));
        for item in truth
            .items
            .iter()
            .filter(|i| fully_inside(&i.bbox, 1280, 720))
        {
            let b = item.bbox;
            // Central 40 % of the box.
            for y in b.y + b.h * 3 / 10..b.y + b.h * 7 / 10 {
                for x in b.x + b.w * 3 / 10..b.x + b.w * 7 / 10 {
                    let p = frame.image.get_pixel(x, y).0;
                    let d2: f64 = (0..3).map(|c| (f64::from(p[c]) - belt[c]).powi(2)).sum();
                    item_dist += d2.sqrt();
                    item_n += 1.0;
                }
            }
        }
    }
    let belt = belt_sum.map(|s| s / belt_n);
    for (c, want) in belt.iter().zip(BELT_RGB) {
        assert!((c - f64::from(want)).abs() < 8.0, "belt colour {belt:?}");
    }
    let mean = item_dist / item_n;
    assert!(mean > 100.0, "items only {mean} from the belt colour");
}

/// Time per frame at 1280x720: `cargo test --lib capture::synthetic -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run by hand"]
fn time_per_frame() {
    let t0 = std::time::Instant::now();
    let mut src = line(SyntheticConfig::default());
    let setup = t0.elapsed();
    next(&mut src);
    let frames = 300;
    let t1 = std::time::Instant::now();
    for _ in 0..frames {
        next(&mut src);
    }
    let per = t1.elapsed() / frames;
    println!("new() {setup:?}; {per:?} per 1280x720 frame (mean of {frames})");
    let p = Params::new(&SyntheticConfig::default());
    let mut rng = Rng::new(1);
    let t2 = std::time::Instant::now();
    for _ in 0..50 {
        let spec = ItemSpec::generate(&mut rng, &p);
        std::hint::black_box(Sprite::render(&spec, (0.3, 0.6), &p, &[]));
    }
    println!("{:?} per item sprite (mean of 50)", t2.elapsed() / 50);
}

#[test]
#[ignore = "writes PNGs to the temp dir for a visual check"]
fn dump_frames() {
    let mut src = line(SyntheticConfig {
        defect_rate: 0.6,
        ..Default::default()
    });
    for _ in 0..45 {
        next(&mut src);
    }
    let (frame, truth) = next(&mut src);
    let dir = std::env::temp_dir();
    frame.image.save(dir.join("foodqc_synth.png")).unwrap();
    truth
        .defect_mask
        .save(dir.join("foodqc_synth_mask.png"))
        .unwrap();
    for item in &truth.items {
        println!("{item:?}");
    }
}
