//! A generator of realistic inspection databases, to measure report queries at scale and to
//! test them on known data.
//!
//! Three stations on two lines; one lot per station and 8-hour shift (A 06-14, B 14-22, C
//! 22-06 UTC); about 2 % rejects with little lot-to-lot variation; defect classes with a Pareto-like
//! spread (crack > burnt > missing piece > foreign speck > unclassified); two model versions
//! (the second from half-way on). Two lots are special: [`GenerateStats::bad_lot`] has three
//! times the usual reject rate (a p-chart rule 1 signal), and in [`GenerateStats::drift_lot`]
//! the scores of good items creep up (lighting drift) without many more rejects. A few rejects
//! get small procedural crop images as samples, so drill-downs and PDFs have pictures.

use std::path::Path;
use std::time::Instant;

use image::{Rgb, RgbImage};
use serde::Serialize;

use crate::domain::BBox;
use crate::domain::Verdict;
use crate::store::{InspectionRow, NewModelVersion, NewSample, Store, StoreError, save_sample_png};

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Inspection rows in total.
    pub rows: u64,
    /// Seed of the random numbers (same seed, same database).
    pub seed: u64,
    /// Start of the first shift (unix ms, UTC); rounded down to a 06:00 shift start.
    pub start_ms: i64,
    /// Items per lot (the number of lots follows from `rows`); at least 100.
    pub items_per_lot: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            rows: 1_000_000,
            seed: 42,
            // 2026-11-02 06:00:00 UTC
            start_ms: 1_793_599_200_000,
            items_per_lot: 7_000,
        }
    }
}

/// What was generated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GenerateStats {
    /// Inspection rows written.
    pub rows: u64,
    /// Lots created.
    pub lots: u64,
    /// Lot codes, in time order.
    pub lot_codes: Vec<String>,
    /// The lot with three times the usual reject rate.
    pub bad_lot: String,
    /// The lot whose good-item scores drift upwards.
    pub drift_lot: String,
    /// Sample images written.
    pub samples: u64,
    /// Wall time, s.
    pub seconds: f64,
}

/// Defect classes and their share of defective items.
pub const DEFECT_CLASSES: [(&str, f64); 4] = [
    ("crack", 0.45),
    ("burnt", 0.25),
    ("missing_piece", 0.15),
    ("foreign_speck", 0.10),
];

const STATIONS: [(&str, &str, &str); 3] = [
    ("line-1-top", "line 1", "butter cookies"),
    ("line-1-bottom", "line 1", "butter cookies"),
    ("line-2", "line 2", "choc chip cookies"),
];
const SHIFT_MS: i64 = 8 * 3_600_000;
/// Reject threshold of the generated scores (as the bundled model's).
const THRESHOLD: f64 = 1.39;

/// SplitMix64: small, fast and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.f().max(1e-12);
        let u2 = self.f();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Fill `store` with generated inspections (see the module docs). With `samples_dir`, a few
/// rejects get crop images saved there. `progress` gets the rows written so far.
pub fn generate(
    store: &mut Store,
    samples_dir: Option<&Path>,
    opts: &GenerateOptions,
    progress: &dyn Fn(u64),
) -> Result<GenerateStats, StoreError> {
    let started = Instant::now();
    let mut rng = Rng(opts.seed);
    let per_lot = opts.items_per_lot.max(100);
    let lots = opts.rows.div_ceil(per_lot).max(1);
    // Shifts start at 06:00, 14:00 and 22:00.
    let day_ms = 86_400_000;
    let six = 6 * 3_600_000;
    let start = (opts.start_ms - six).div_euclid(day_ms) * day_ms + six;

    let ids = register(store)?;
    let (sample_ids, samples) = make_samples(store, samples_dir, &mut rng)?;
    let bad_lot = lots * 2 / 3;
    // Late in the second model version's run, past its drift baseline (its first passed items).
    let drift_lot = if lots * 5 / 6 != bad_lot {
        lots * 5 / 6
    } else {
        lots / 2
    };
    let mut lot_codes = Vec::new();
    let mut written = 0u64;
    let mut batch: Vec<InspectionRow> = Vec::with_capacity(50_000);
    for k in 0..lots {
        let lot = LotPlan::open(store, &ids, k, start, &mut lot_codes)?;
        let n = per_lot.min(opts.rows - written);
        // A process in control: 1.9 % to 2.1 % defects from lot to lot; the bad lot 6 %.
        let defect_p = if k == bad_lot {
            0.06
        } else {
            0.019 + 0.002 * rng.f()
        };
        let plan = LotPlan {
            defect_p,
            drifting: k == drift_lot,
            model_version_id: Some(ids.models[usize::from(k >= lots / 2)]),
            ..lot
        };
        for j in 0..n {
            batch.push(plan.item(&mut rng, j, n, &sample_ids));
            if batch.len() == batch.capacity() {
                written += flush(store, &mut batch)?;
                progress(written);
            }
        }
        written += flush(store, &mut batch)?;
        progress(written);
    }
    Ok(GenerateStats {
        rows: written,
        lots,
        bad_lot: lot_codes[bad_lot as usize].clone(),
        drift_lot: lot_codes[drift_lot as usize].clone(),
        lot_codes,
        samples,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Row ids of the generated stations and model versions.
struct Ids {
    stations: Vec<i64>,
    models: Vec<i64>,
}

/// Register the three stations and the two model versions.
fn register(store: &mut Store) -> Result<Ids, StoreError> {
    let stations = STATIONS
        .iter()
        .map(|(name, _, _)| store.upsert_station(name, "synthetic:demo"))
        .collect::<Result<Vec<_>, _>>()?;
    let models = ["demo-v1", "demo-v2"]
        .iter()
        .map(|v| {
            store.register_model_version(&NewModelVersion {
                version: (*v).to_string(),
                path: format!("models/{v}.json").into(),
                kind: "gaussian-anomaly".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({"generated": true}),
                data_snapshot: serde_json::json!({}),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Ids { stations, models })
}

/// Crop images per defect class (a few each) saved in `samples_dir`: their sample ids by
/// class, and how many were written.
fn make_samples(
    store: &mut Store,
    samples_dir: Option<&Path>,
    rng: &mut Rng,
) -> Result<(Vec<Vec<i64>>, u64), StoreError> {
    let mut sample_ids: Vec<Vec<i64>> = vec![Vec::new(); DEFECT_CLASSES.len()];
    let mut samples = 0;
    if let Some(dir) = samples_dir {
        for (c, ids) in sample_ids.iter_mut().enumerate() {
            for k in 0..4 {
                let img = crop_image(c, rng, k);
                let saved = save_sample_png(dir, &img)?;
                ids.push(store.insert_sample(&NewSample {
                    path: saved.path,
                    hash: saved.hash,
                    width: saved.width,
                    height: saved.height,
                    source: "demo".into(),
                })?);
                samples += 1;
            }
        }
    }
    Ok((sample_ids, samples))
}

/// One lot being generated: where, when and how it behaves.
struct LotPlan {
    station_id: i64,
    lot_id: i64,
    shift_start: i64,
    /// Share of defective items.
    defect_p: f64,
    /// Good items' scores creep up through the lot.
    drifting: bool,
    model_version_id: Option<i64>,
}

impl LotPlan {
    /// Create lot `k` (station `k % 3`, shift `k / 3` from `start`) and push its code.
    fn open(
        store: &mut Store,
        ids: &Ids,
        k: u64,
        start: i64,
        lot_codes: &mut Vec<String>,
    ) -> Result<Self, StoreError> {
        let st = (k % 3) as usize;
        let shift_index = (k / 3) as i64;
        let shift_start = start + shift_index * SHIFT_MS;
        let shift = ["A", "B", "C"][(shift_index % 3) as usize];
        let day = jiff::Timestamp::from_millisecond(shift_start)
            .map(|t| t.strftime("%m%d").to_string())
            .unwrap_or_default();
        let code = format!("L{day}-{shift}-{}", st + 1);
        let (_, line, product) = STATIONS[st];
        let lot_id = store.get_or_create_lot(&code, product, line, shift)?;
        lot_codes.push(code);
        Ok(LotPlan {
            station_id: ids.stations[st],
            lot_id,
            shift_start,
            defect_p: 0.0,
            drifting: false,
            model_version_id: None,
        })
    }

    /// Item `j` of the lot's `n`.
    fn item(&self, rng: &mut Rng, j: u64, n: u64, sample_ids: &[Vec<i64>]) -> InspectionRow {
        let frac = j as f64 / n as f64;
        let ts = self.shift_start + (frac * SHIFT_MS as f64) as i64 + rng.below(500) as i64;
        let (score, verdict, class) = self.judge(rng, frac);
        let sample_id = match class {
            Some(c) if !sample_ids[c].is_empty() && rng.below(40) == 0 => {
                Some(sample_ids[c][rng.below(sample_ids[c].len() as u64) as usize])
            }
            _ => None,
        };
        InspectionRow {
            ts_ms: ts,
            station_id: self.station_id,
            lot_id: Some(self.lot_id),
            model_version_id: self.model_version_id,
            frame_seq: (j / 4) as i64,
            item_index: (j % 4) as i64,
            track_id: Some(j as i64),
            score,
            verdict,
            defect_class: class.map(|c| DEFECT_CLASSES[c].0.to_string()),
            bbox: BBox {
                x: 40 + rng.below(1000) as u32,
                y: 40 + rng.below(500) as u32,
                w: 90 + rng.below(30) as u32,
                h: 90 + rng.below(30) as u32,
            },
            sample_id,
        }
    }

    /// Score, verdict and defect class (index into [`DEFECT_CLASSES`]) of an item `frac` of
    /// the way through the lot.
    fn judge(&self, rng: &mut Rng, frac: f64) -> (f64, Verdict, Option<usize>) {
        // Drift: good items score up to 0.35 higher by the end of the lot.
        let drift = if self.drifting { 0.35 * frac } else { 0.0 };
        if rng.f() < self.defect_p {
            let u = rng.f();
            let mut acc = 0.0;
            let mut class = None;
            for (i, (_, share)) in DEFECT_CLASSES.iter().enumerate() {
                acc += share;
                if u < acc {
                    class = Some(i);
                    break;
                }
            }
            (THRESHOLD + 0.05 + 2.0 * rng.f(), Verdict::Reject, class)
        } else {
            let s = (0.55 + drift + 0.27 * rng.normal()).max(0.02);
            let v = if s > THRESHOLD {
                Verdict::Reject
            } else if s > 1.3 {
                Verdict::Review
            } else {
                Verdict::Pass
            };
            (s, v, None)
        }
    }
}

/// Insert a batch in one transaction and empty it; the number of rows written.
fn flush(store: &mut Store, batch: &mut Vec<InspectionRow>) -> Result<u64, StoreError> {
    let n = store.insert_inspections(batch)? as u64;
    batch.clear();
    Ok(n)
}

/// A 96x96 cookie on a belt with the defect of class `c` drawn on it.
fn crop_image(c: usize, rng: &mut Rng, k: u32) -> RgbImage {
    let size = 96u32;
    let mut img = RgbImage::from_pixel(size, size, Rgb([52, 58, 66]));
    let (cx, cy, r) = (48.0, 48.0, 36.0 + k as f64);
    let angle = rng.f() * std::f64::consts::TAU;
    for y in 0..size {
        for x in 0..size {
            let (dx, dy) = (x as f64 - cx, y as f64 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            if d > r.min(46.0) {
                continue;
            }
            let mut px = Rgb([214, 170, 104]);
            match c {
                // Crack: a dark line through the centre.
                0 => {
                    let across = (dx * angle.sin() - dy * angle.cos()).abs();
                    if across < 2.0 {
                        px = Rgb([90, 60, 30]);
                    }
                }
                // Burnt: a dark brown spot.
                1 => {
                    let (bx, by) = (dx - 10.0, dy + 8.0);
                    if bx * bx + by * by < 180.0 {
                        px = Rgb([70, 40, 20]);
                    }
                }
                // Missing piece: a wedge of belt.
                2 => {
                    let a = dy.atan2(dx);
                    let diff = (a - angle + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                        - std::f64::consts::PI;
                    if diff.abs() < 0.5 && d > 12.0 {
                        px = Rgb([52, 58, 66]);
                    }
                }
                // Foreign speck: a small blue fleck.
                _ => {
                    let (bx, by) = (dx + 12.0, dy - 6.0);
                    if bx * bx + by * by < 20.0 {
                        px = Rgb([40, 90, 200]);
                    }
                }
            }
            img.put_pixel(x, y, px);
        }
    }
    img
}
