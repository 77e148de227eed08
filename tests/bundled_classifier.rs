//! The defect classifier bundled with the default model (`models/default.classifier.json`):
//! how it is made (seeded, from synthetic-line crops labelled by the line's ground truth, the
//! same crop and descriptor the inspector uses) and how well it names the defects of items it
//! never saw.
//!
//! Regenerate the file (deterministic: same build, same bytes):
//! `cargo test --test bundled_classifier -- --ignored regenerate`

use std::collections::HashMap;
use std::sync::Arc;

use foodqc::capture::FrameSource;
use foodqc::capture::synthetic::{SyntheticConfig, SyntheticLine};
use foodqc::domain::{GOOD, Verdict};
use foodqc::imageio::crop::crop_with_margin;
use foodqc::inspect::Inspector;
use foodqc::model::classifier::{
    ClassConfusion, DESCRIPTOR_FEATURES, DESCRIPTOR_SET, GradeClassifier, GradeTrainOptions,
    describe_image,
};
use foodqc::model::{AnomalyModel, InspectionModel};
use foodqc::vision::segment::Segmenter;
use image::RgbImage;

/// Seed of the training line (the bundled anomaly model was trained on seed 7).
const TRAIN_SEED: u64 = 101;
/// Items of each class in the training set: enough to learn the five classes, few enough
/// to keep the file small (every item may become a support vector of every machine).
const PER_CLASS: usize = 14;
/// Fixed card fields, so a regenerated file is byte-identical.
const CREATED_AT: &str = "2026-12-05T00:00:00Z";

/// One physical item, seen once: its descriptor and its true defect names (empty = good).
struct Example {
    descriptor: Vec<f64>,
    defects: Vec<String>,
}

impl Example {
    /// The training label: good, or the one defect (items with two defects are not used).
    fn label(&self) -> Option<String> {
        match self.defects.as_slice() {
            [] => Some(GOOD.to_string()),
            [d] => Some(d.clone()),
            _ => None,
        }
    }
}

/// A fast belt (an item crosses in about 30 frames) with many defects.
fn line(seed: u64, defect_rate: f64, second_defect_rate: f64) -> SyntheticConfig {
    SyntheticConfig {
        seed,
        belt_speed: Some(40),
        defect_rate,
        second_defect_rate,
        ..Default::default()
    }
}

/// Every physical item of the first `frames` frames of `cfg`, once: the view nearest the
/// frame centre among the fully visible ones, cropped and described as the inspector does.
fn examples(cfg: SyntheticConfig, frames: u64) -> Vec<Example> {
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let mut inspector = Inspector::new(InspectionModel::new(model.clone(), None));
    let mut source = SyntheticLine::new(cfg);
    // item id -> (distance from the centre, crop, defects)
    let mut best: HashMap<u64, (f32, RgbImage, Vec<String>)> = HashMap::new();
    for _ in 0..frames {
        let f = source.next_frame().unwrap().unwrap();
        let truth = f.truth.unwrap();
        let centre = f.image.width() as f32 / 2.0;
        let insp = inspector.inspect(f.seq, f.captured_at, Arc::new(f.image), None, false);
        for it in insp.judged() {
            let Some(t) = truth
                .items
                .iter()
                .max_by(|a, b| a.bbox.iou(&it.bbox).total_cmp(&b.bbox.iou(&it.bbox)))
                .filter(|t| t.bbox.iou(&it.bbox) > 0.6)
            else {
                continue;
            };
            let off = (it.centroid.0 - centre).abs();
            if best.get(&t.item_id).is_some_and(|(d, _, _)| *d <= off) {
                continue;
            }
            let defects = t.defects.iter().map(|d| d.name().to_string()).collect();
            let crop = crop_with_margin(&insp.frame, it.bbox);
            best.insert(t.item_id, (off, crop, defects));
        }
    }
    let mut ids: Vec<u64> = best.keys().copied().collect();
    ids.sort();
    let mut describer = Segmenter::new(model.segment.clone());
    ids.into_iter()
        .map(|id| {
            let (_, crop, defects) = &best[&id];
            Example {
                descriptor: describe_image(crop, &mut describer),
                defects: defects.clone(),
            }
        })
        .collect()
}

/// Round to 4 significant digits: the file shrinks to a third, the decisions do not move.
fn round4(v: &mut f64) {
    if v.is_finite() && *v != 0.0 {
        *v = format!("{:.3e}", *v).parse().unwrap_or(*v);
    }
}

/// Train the bundled classifier: the first [`PER_CLASS`] items of each class of the training
/// line, in item order.
fn train_bundled() -> GradeClassifier {
    let all = examples(line(TRAIN_SEED, 0.7, 0.0), 1500);
    let mut taken: HashMap<String, usize> = HashMap::new();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for e in &all {
        let Some(label) = e.label() else { continue };
        let n = taken.entry(label.clone()).or_default();
        if *n < PER_CLASS {
            *n += 1;
            x.push(e.descriptor.clone());
            y.push(label);
        }
    }
    assert_eq!(taken.len(), 5, "classes found: {taken:?}");
    assert!(taken.values().all(|n| *n == PER_CLASS), "{taken:?}");
    let trained_on = format!(
        "synthetic line 1280x720 (seed {TRAIN_SEED}, belt 40 px/frame, defect rate 0.7), {PER_CLASS} items per class labelled by the line's ground truth; regenerate with tests/bundled_classifier.rs"
    );
    let mut c = GradeClassifier::train(
        &x,
        &y,
        None,
        DESCRIPTOR_SET,
        &DESCRIPTOR_FEATURES,
        &GradeTrainOptions::default(),
        &trained_on,
    )
    .unwrap();
    c.card.created_at = CREATED_AT.to_string();
    c.card.training_seconds = 0.0;
    for v in c.mean.iter_mut().chain(c.scale.iter_mut()) {
        round4(v);
    }
    for m in &mut c.machines {
        round4(&mut m.rho);
        m.coef.iter_mut().for_each(round4);
        m.support.iter_mut().flatten().for_each(round4);
    }
    c
}

#[test]
#[ignore = "writes models/default.classifier.json"]
fn regenerate_bundled_classifier() {
    let c = train_bundled();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.classifier.json");
    let json = serde_json::to_string(&c).unwrap();
    std::fs::write(&path, format!("{json}\n")).unwrap();
    eprintln!(
        "wrote {} ({} bytes, classes {:?}, C {}, width {}, support vectors {:?})",
        path.display(),
        json.len() + 1,
        c.classes,
        c.c,
        c.kernel_width,
        c.machines
            .iter()
            .map(|m| m.support.len())
            .collect::<Vec<_>>()
    );
}

#[test]
fn bundled_classifier_is_small_and_loads_with_the_bundled_model() {
    let size = foodqc::model::classifier::BUNDLED_CLASSIFIER_JSON.len();
    assert!(size < 200_000, "{size} bytes");
    let c = GradeClassifier::bundled().unwrap();
    assert_eq!(
        c.classes(),
        ["burnt", "crack", "foreign_matter", GOOD, "missing_piece"]
    );
    let m = InspectionModel::bundled().unwrap();
    assert_eq!(m.classes(), Some(c.classes()));
    // Another model version does not get it.
    let other = AnomalyModel {
        version: "other".into(),
        ..AnomalyModel::bundled().unwrap()
    };
    assert!(
        InspectionModel::paired(Arc::new(other))
            .classifier
            .is_none()
    );
}

/// Items of another seed, never seen in training: the bundled classifier names a defect of
/// most defective items (an item with two defects counts as right for either).
#[test]
fn bundled_classifier_names_the_defects_of_unseen_items() {
    let c = GradeClassifier::bundled().unwrap();
    let test = examples(line(202, 0.6, 0.2), 900);
    let mut cm = ClassConfusion::new(c.classes());
    let (mut defective, mut right) = (0usize, 0usize);
    for e in &test {
        let p = c.predict(&e.descriptor).unwrap();
        if !e.defects.is_empty() {
            defective += 1;
            right += usize::from(e.defects.contains(&p.class));
        }
        if let Some(label) = e.label() {
            let truth = c.classes().iter().position(|k| *k == label).unwrap();
            cm.add(truth, p.index);
        }
    }
    let accuracy = right as f64 / defective.max(1) as f64;
    eprintln!(
        "bundled classifier on {} unseen items ({defective} defective): defect named right {:.3}, single-label accuracy {:.3}, macro-F1 {:.3}; confusion (rows truth, columns predicted, {:?}): {:?}",
        test.len(),
        accuracy,
        cm.accuracy(),
        cm.macro_f1(),
        cm.classes,
        cm.counts
    );
    assert!(defective >= 60, "{defective} defective items");
    assert!(accuracy >= 0.8, "defect named right for {accuracy:.3}");
}

/// A fresh inspector on the bundled model names the class of the items it rejects (each
/// physical item judged on the first frame it is rejected).
#[test]
fn a_fresh_inspector_names_defect_classes() {
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let mut inspector = Inspector::new(model);
    assert!(inspector.classifier().is_some());
    let mut source = SyntheticLine::new(line(303, 0.5, 0.0));
    let mut first_reject: HashMap<u64, Option<bool>> = HashMap::new();
    let (mut classify_ms, mut total_ms) = (0.0, 0.0);
    for _ in 0..300 {
        let f = source.next_frame().unwrap().unwrap();
        let truth = f.truth.unwrap();
        let insp = inspector.inspect(f.seq, f.captured_at, Arc::new(f.image), None, false);
        assert!(insp.timings.classify_ms <= insp.timings.total_ms);
        classify_ms += insp.timings.classify_ms;
        total_ms += insp.timings.total_ms;
        for it in insp.judged() {
            if it.verdict == Some(Verdict::Pass) {
                assert!(it.defect_class.is_none(), "a passed item names no defect");
            }
            let Some(t) = truth
                .items
                .iter()
                .max_by(|a, b| a.bbox.iou(&it.bbox).total_cmp(&b.bbox.iou(&it.bbox)))
            else {
                continue;
            };
            if it.verdict != Some(Verdict::Reject) || first_reject.contains_key(&t.item_id) {
                continue;
            }
            let right = it
                .defect_class
                .as_ref()
                .map(|c| t.defects.iter().any(|d| d.name() == c));
            first_reject.insert(t.item_id, right);
        }
    }
    let rejects = first_reject.len();
    let named = first_reject.values().filter(|r| r.is_some()).count();
    let right = first_reject.values().filter(|r| **r == Some(true)).count();
    eprintln!(
        "{rejects} rejected items, {named} named, {right} named right; classification {:.2} ms of {:.2} ms per frame",
        classify_ms / 300.0,
        total_ms / 300.0
    );
    assert!(rejects >= 20, "{rejects}");
    assert!(named * 10 >= rejects * 8, "{named} of {rejects} named");
    assert!(right * 10 >= named * 8, "{right} of {named} right");
}

/// What naming classes costs on the default line (about 6 items a frame, a quarter of them
/// defective, each seen on some 90 frames): printed for the bench, not asserted.
#[test]
fn classification_cost_on_the_default_line() {
    let mut inspector = Inspector::new(Arc::new(AnomalyModel::bundled().unwrap()));
    let mut source = SyntheticLine::new(SyntheticConfig::default());
    let (mut classify_ms, mut total_ms, mut classified) = (0.0, 0.0, 0);
    let frames = 90;
    for _ in 0..frames {
        let f = source.next_frame().unwrap().unwrap();
        let insp = inspector.inspect(f.seq, f.captured_at, Arc::new(f.image), None, false);
        classify_ms += insp.timings.classify_ms;
        total_ms += insp.timings.total_ms;
        let lowest = foodqc::inspect::lowest_alarm(&inspector.model().thresholds);
        classified += insp.judged().filter(|i| i.score > Some(lowest)).count();
    }
    eprintln!(
        "default line: {:.2} suspects a frame, classification {:.2} ms of {:.2} ms per frame",
        classified as f64 / frames as f64,
        classify_ms / frames as f64,
        total_ms / frames as f64
    );
}
