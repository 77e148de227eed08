//! Criterion benches, one group per pipeline stage, on a 1280x720 frame of the synthetic line
//! and (when `../shared/datasets/cookies` or `FOODQC_BENCH_PHOTO` is there) a 576x768 cookie
//! photo. Run with `cargo bench --bench pipeline`; `foodqc bench` gives the end-to-end table.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use foodqc::bench::{encode_jpeg, synthetic_jpegs};
use foodqc::eval::{ScoredImage, main_items, pixels};
use foodqc::imageio::{decode_rgb, decode_rgb_binned};
use foodqc::inspect::overlay;
use foodqc::inspect::{HeatMap, Inspector};
use foodqc::model::AnomalyModel;
use foodqc::vision::{Segmenter, extract};

/// (name, JPEG bytes, score cut-border items) of each input.
fn inputs() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut out = vec![(
        "frame_1280x720",
        synthetic_jpegs(1).expect("synthetic frame").remove(0),
        false,
    )];
    let photo = std::env::var_os("FOODQC_BENCH_PHOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/datasets/cookies/test/crack/anomaly-1.jpg")
        });
    if let Ok(bytes) = std::fs::read(&photo) {
        out.push(("photo_576x768", bytes, true));
    }
    out
}

fn stages(c: &mut Criterion) {
    let model = Arc::new(AnomalyModel::bundled().expect("bundled model"));
    let inputs = inputs();

    let mut g = c.benchmark_group("decode");
    for (name, bytes, _) in &inputs {
        g.bench_function(*name, |b| b.iter(|| decode_rgb(black_box(bytes)).unwrap()));
        // What a model binned 2x2 decodes (JPEG scaled in the DCT domain).
        g.bench_function(format!("{name}_binned_2x2"), |b| {
            b.iter(|| decode_rgb_binned(black_box(bytes), 2).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("segment");
    for (name, bytes, _) in &inputs {
        let img = decode_rgb(bytes).unwrap();
        let mut seg = Segmenter::new(model.segment.clone());
        g.bench_function(*name, |b| b.iter(|| seg.segment(black_box(&img))));
    }
    g.finish();

    let mut g = c.benchmark_group("features");
    for (name, bytes, _) in &inputs {
        let img = decode_rgb(bytes).unwrap();
        let regions = Segmenter::new(model.segment.clone()).segment(&img);
        g.bench_function(*name, |b| {
            b.iter(|| {
                regions
                    .iter()
                    .map(|r| extract(black_box(&img), r))
                    .collect::<Vec<_>>()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("score");
    for (name, bytes, _) in &inputs {
        let img = decode_rgb(bytes).unwrap();
        let regions = Segmenter::new(model.segment.clone()).segment(&img);
        let feats: Vec<_> = regions.iter().map(|r| extract(&img, r)).collect();
        g.bench_function(*name, |b| {
            b.iter(|| feats.iter().map(|f| model.score(f)).collect::<Vec<_>>())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("heat_map");
    for (name, bytes, photo) in &inputs {
        let img = decode_rgb(bytes).unwrap();
        let regions = Segmenter::new(model.segment.clone()).segment(&img);
        let main = if *photo {
            main_items(&regions)
        } else {
            (0..regions.len()).collect()
        };
        let scored: Vec<_> = main
            .iter()
            .map(|&i| {
                let f = extract(&img, &regions[i]);
                let s = model.score(&f);
                (regions[i].clone(), f, s)
            })
            .collect();
        g.bench_function(*name, |b| {
            b.iter(|| {
                let heats: Vec<(_, HeatMap)> = scored
                    .iter()
                    .map(|(r, f, s)| {
                        let h = HeatMap::from_cells(&f.patches, &s.cells);
                        black_box(h.regions(model.thresholds.pixel as f32));
                        (r.clone(), h)
                    })
                    .collect();
                if *photo {
                    // The pixel heat map of `foodqc eval`.
                    let mut si = ScoredImage {
                        score: 0.0,
                        width: img.width(),
                        height: img.height(),
                        items: heats,
                        pixel_scores: Vec::new(),
                        hull: image::GrayImage::new(0, 0),
                        ms: 0.0,
                    };
                    si.hull = pixels::hull_mask(&si);
                    si.pixel_scores = pixels::score_map(&si, &img, model.colour.as_ref());
                    black_box(si.pixel_scores);
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("overlay");
    for (name, bytes, photo) in &inputs {
        let img = Arc::new(decode_rgb(bytes).unwrap());
        let insp = Inspector::new(model.clone()).inspect(0, SystemTime::now(), img, None, *photo);
        g.bench_function(*name, |b| {
            b.iter(|| overlay::draw(black_box(&insp), true, model.thresholds.pixel as f32))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("inspect");
    for (name, bytes, photo) in &inputs {
        let img = Arc::new(decode_rgb(bytes).unwrap());
        let mut inspector = Inspector::new(model.clone());
        g.bench_function(*name, |b| {
            b.iter(|| inspector.inspect(0, SystemTime::now(), img.clone(), None, *photo))
        });
    }
    g.finish();

    // What the recorder thread does with a batch: one transaction of inspection rows (the
    // station only queues rows; this is the work behind the queue), per 64 rows.
    let mut g = c.benchmark_group("record");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = foodqc::store::Store::open(&dir.path().join("bench.sqlite3")).unwrap();
    let station_id = store.upsert_station("bench", "bench").unwrap();
    let rows: Vec<_> = (0..64)
        .map(|i| foodqc::store::InspectionRow {
            ts_ms: foodqc::store::now_ms(),
            station_id,
            lot_id: None,
            model_version_id: None,
            frame_seq: i,
            item_index: 0,
            track_id: None,
            score: 0.5,
            verdict: foodqc::domain::Verdict::Pass,
            defect_class: None,
            bbox: foodqc::domain::BBox {
                x: 1,
                y: 2,
                w: 3,
                h: 4,
            },
            sample_id: None,
        })
        .collect();
    g.bench_function("batch_of_64_rows", |b| {
        b.iter(|| store.insert_inspections(black_box(&rows)).unwrap())
    });
    g.finish();

    // Encoding is not a pipeline stage; it shows what a JPEG camera stream costs to produce.
    let mut g = c.benchmark_group("encode_jpeg");
    let img = decode_rgb(&inputs[0].1).unwrap();
    g.bench_function(inputs[0].0, |b| {
        b.iter(|| encode_jpeg(black_box(&img)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the machine is shared; regressions of 10 % and more still show.
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = stages
}
criterion_main!(benches);
