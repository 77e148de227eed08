//! The station run headless, end to end: source -> inspection -> SQLite, checked against the
//! ground truth of the synthetic line and on real photos.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foodqc::capture::synthetic::{SyntheticConfig, SyntheticLine};
use foodqc::capture::{FrameSource, SourceOptions, SourceSpec, TruthItem};
use foodqc::domain::AppPaths;
use foodqc::domain::Verdict;
use foodqc::model::AnomalyModel;
use foodqc::model::metrics::Confusion;
use foodqc::station::{LotInfo, Station, StationConfig};
use foodqc::store::Store;

fn config(dir: &std::path::Path, source: SourceSpec, frames: Option<u64>) -> StationConfig {
    StationConfig {
        station_name: "test-station".into(),
        source,
        source_options: SourceOptions::default(),
        lot: LotInfo {
            code: "T-1".into(),
            ..Default::default()
        },
        live: false,
        max_frames: frames,
        paths: AppPaths {
            data_dir: dir.to_path_buf(),
        },
        reject_samples_per_minute: 10,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: Vec::new(),
    }
}

#[test]
fn synthetic_line_records_every_item_once_with_correct_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let seed = 21;
    let frames = 300;
    // A fast belt (an item crosses in about 30 frames) so 300 frames carry ~50 items.
    let line = SyntheticConfig {
        seed,
        belt_speed: Some(40),
        ..Default::default()
    };
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let station = Station::start_with_source(
        config(dir.path(), SourceSpec::Synthetic { seed }, Some(frames)),
        Box::new(SyntheticLine::new(line.clone())),
        model,
    )
    .unwrap();
    let stats = station.wait().unwrap();
    assert_eq!(stats.frames_inspected, frames);
    assert_eq!(stats.frames_dropped, 0, "batch mode never drops");
    assert!(stats.items > 40, "{stats:?}");
    assert_eq!(stats.recorder.recorded, stats.items);
    assert!(stats.recorder.last_error.is_none());

    let store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let rows = store.recent_inspections(1_000_000).unwrap();
    assert_eq!(rows.len() as u64, stats.items);
    let (total, rejects) = store.count_inspections().unwrap();
    assert_eq!((total as u64, rejects as u64), (stats.items, stats.rejects));
    assert!(rows.iter().all(|r| r.lot_code.as_deref() == Some("T-1")));
    let audit = store.audit_entries(10).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "station.start" && a.actor == "test-station"),
        "{audit:?}"
    );

    // Replay the same deterministic line to get the truth of every frame.
    let mut source = SyntheticLine::new(line);
    let mut truth: HashMap<u64, Vec<TruthItem>> = HashMap::new();
    for _ in 0..frames {
        let f = source.next_frame().unwrap().unwrap();
        truth.insert(f.seq, f.truth.unwrap().items);
    }
    let mut confusion = Confusion::default();
    let mut seen = HashSet::new();
    let mut unmatched = 0;
    for r in &rows {
        let items = &truth[&(r.frame_seq as u64)];
        let best = items
            .iter()
            .max_by(|a, b| a.bbox.iou(&r.bbox).total_cmp(&b.bbox.iou(&r.bbox)));
        match best {
            Some(t) if t.bbox.iou(&r.bbox) > 0.6 => {
                assert!(seen.insert(t.item_id), "item {} recorded twice", t.item_id);
                confusion.add(t.is_defective(), r.verdict == Verdict::Reject);
            }
            _ => unmatched += 1,
        }
    }
    assert!(
        unmatched <= rows.len() / 50,
        "{unmatched} rows match no item"
    );
    eprintln!("synthetic line, {} items: {confusion:?}", rows.len());
    // The bundled model comes with its defect classifier: rejected items name their class.
    assert!(stats.classifier.is_some(), "{stats:?}");
    let rejected: Vec<_> = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Reject)
        .collect();
    let named = rejected.iter().filter(|r| r.defect_class.is_some()).count();
    assert!(
        named * 10 >= rejected.len() * 7,
        "{named} of {} rejects named",
        rejected.len()
    );
    assert!(
        rows.iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .all(|r| r.defect_class.is_none())
    );
    assert!(confusion.true_pos + confusion.false_neg >= 10);
    assert!(confusion.recall() >= 0.85, "{confusion:?}");
    assert!(confusion.false_reject_rate() <= 0.08, "{confusion:?}");
}

#[test]
fn folder_of_real_cookie_photos_records_items_of_every_photo() {
    let Some(dir) = common::dataset("cookies/test/crack") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let station = Station::start(
        config(data.path(), SourceSpec::Folder { path: dir }, None),
        model,
    )
    .unwrap();
    let stats = station.wait().unwrap();
    assert_eq!(stats.frames_inspected, 32);
    let store = Store::open(&data.path().join("foodqc.sqlite")).unwrap();
    let rows = store.recent_inspections(10_000).unwrap();
    assert_eq!(rows.len() as u64, stats.items);
    let frames_with_items: HashSet<i64> = rows.iter().map(|r| r.frame_seq).collect();
    assert_eq!(
        frames_with_items.len(),
        32,
        "every photo shows at least one item"
    );
    // Items of one photo are distinct.
    let mut keys = HashSet::new();
    for r in &rows {
        assert!(keys.insert((r.frame_seq, r.item_index)));
    }
}

#[test]
fn missing_folder_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let err = Station::start(
        config(
            data.path(),
            SourceSpec::Folder {
                path: "/no/such/folder".into(),
            },
            None,
        ),
        Arc::new(AnomalyModel::bundled().unwrap()),
    )
    .err()
    .unwrap();
    assert!(format!("{err:#}").contains("/no/such/folder"), "{err:#}");
}

#[test]
fn unopenable_database_names_the_path() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("foodqc.sqlite"),
        b"this is not a database, just text",
    )
    .unwrap();
    let err = Station::start(
        config(data.path(), SourceSpec::Synthetic { seed: 1 }, Some(1)),
        Arc::new(AnomalyModel::bundled().unwrap()),
    )
    .err()
    .unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("foodqc.sqlite"), "{msg}");
}
