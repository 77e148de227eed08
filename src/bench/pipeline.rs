//! One input through the pipeline, stage by stage, as the station (frames) or `foodqc eval`
//! (photos) takes it: decode, segment, features, score, heat map, overlay, record.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use image::RgbImage;
use rayon::prelude::*;

use super::workload::Recorder;
use super::{BenchError, process_cpu_ms};
use crate::domain::BBox;
use crate::eval::{ScoredImage, main_items, pixels};
use crate::imageio::decode_rgb_binned;
use crate::inspect::{HeatMap, InspectedItem, Inspection, overlay};
use crate::model::backbone::Backbone;
use crate::model::deep::{DeepDetector, DeepTrainError, ItemPatches, heat_map, item_patches};
use crate::model::{AnomalyModel, ItemScore, Tier};
use crate::store::{InspectionRow, RecordItem};
use crate::vision::features::{self, ItemFeatures, ItemGeometry};
use crate::vision::segment::{ItemRegion, Segmenter};

/// Stage wall and CPU times (ms) of one run, and the items judged.
pub(super) type RunTimes = ([f64; 7], [f64; 7], usize);

/// One input through the pipeline.
pub(super) fn pipeline_once(
    bytes: &[u8],
    model: &Arc<AnomalyModel>,
    seg: &mut Segmenter,
    photos: bool,
    seq: u64,
    recorder: &Recorder,
) -> Result<RunTimes, BenchError> {
    let mut t = [0f64; 7];
    let mut cpu = [0f64; 7];
    let mut clock = Instant::now();
    let mut cpu_clock = process_cpu_ms();
    let mut lap = |i: usize, t: &mut [f64; 7]| {
        let now = Instant::now();
        let now_cpu = process_cpu_ms();
        t[i] = (now - clock).as_secs_f64() * 1000.0;
        cpu[i] = now_cpu - cpu_clock;
        clock = now;
        cpu_clock = now_cpu;
    };
    // A binned model's frames are decoded straight to its resolution (as `foodqc eval`).
    let frame = Arc::new(decode_rgb_binned(bytes, model.binning).map_err(BenchError::Decode)?);
    lap(0, &mut t);
    let regions = seg.segment(&frame);
    // Photos: the product items (as `foodqc eval`); frames: items fully in view (as the
    // station on a moving line).
    let judged: Vec<usize> = if photos {
        main_items(&regions)
    } else {
        (0..regions.len())
            .filter(|&i| !regions[i].touches_border)
            .collect()
    };
    lap(1, &mut t);
    let geos: Vec<_> = regions.iter().map(features::item_geometry).collect();
    let (scores, heats) = match (&model.deep, model.tier) {
        (Some(deep), Tier::Deep) => deep_stages(deep, &frame, &regions, &judged, &mut lap, &mut t)?,
        _ => classical_stages(model, &frame, &regions, &judged, &mut lap, &mut t),
    };
    let hot: Vec<_> = heats
        .iter()
        .map(|h| h.regions(model.thresholds.pixel as f32))
        .collect();
    if photos {
        pixel_heat_map(&frame, &regions, &judged, &scores, &heats, model);
    }
    lap(4, &mut t);
    let judgement = Judgement {
        judged: &judged,
        scores: &scores,
        heats,
        hot,
    };
    let items = inspected_items(&regions, &geos, judgement, model);
    let inspection = Inspection {
        seq,
        captured_at: SystemTime::now(),
        frame: frame.clone(),
        origin: None,
        items,
        timings: Default::default(),
        model_version: model.version.clone(),
    };
    let drawn = overlay::draw(&inspection, true, model.thresholds.pixel as f32);
    std::hint::black_box(&drawn);
    lap(5, &mut t);
    record(&inspection, seq, recorder)?;
    lap(6, &mut t);
    Ok((t, cpu, judged.len()))
}

/// Features (stage 2), scores (3) and heat maps of the classical tier.
fn classical_stages(
    model: &AnomalyModel,
    frame: &RgbImage,
    regions: &[ItemRegion],
    judged: &[usize],
    lap: &mut impl FnMut(usize, &mut [f64; 7]),
    t: &mut [f64; 7],
) -> (Vec<ItemScore>, Vec<HeatMap>) {
    let feats: Vec<ItemFeatures> = judged
        .par_iter()
        .map(|&i| features::extract(frame, &regions[i]))
        .collect();
    lap(2, t);
    let scores: Vec<_> = feats.par_iter().map(|f| model.score(f)).collect();
    lap(3, t);
    let heats = feats
        .iter()
        .zip(&scores)
        .map(|(f, s)| HeatMap::from_cells(&f.patches, &s.cells))
        .collect();
    (scores, heats)
}

/// The deep tier's stages: the network and patch descriptors (stage 2), the memory bank
/// (3), and heat maps.
fn deep_stages(
    deep: &DeepDetector,
    frame: &RgbImage,
    regions: &[ItemRegion],
    judged: &[usize],
    lap: &mut impl FnMut(usize, &mut [f64; 7]),
    t: &mut [f64; 7],
) -> Result<(Vec<ItemScore>, Vec<HeatMap>), BenchError> {
    let backbone = Backbone::bundled().map_err(|e| BenchError::Deep(e.into()))?;
    let patches: Vec<ItemPatches> = judged
        .par_iter()
        .map(|&i| {
            item_patches(backbone, frame, &regions[i], deep.crop_size)
                .map_err(|source| BenchError::Deep(DeepTrainError::Item { index: i, source }))
        })
        .collect::<Result<_, _>>()?;
    lap(2, t);
    let scored: Vec<(f64, Vec<f32>)> = patches.par_iter().map(|p| deep.score_patches(p)).collect();
    lap(3, t);
    let heats = judged
        .iter()
        .zip(&patches)
        .zip(&scored)
        .map(|((&i, p), (_, cells))| heat_map(&regions[i], p, cells))
        .collect();
    let scores = scored
        .into_iter()
        .map(|(score, cells)| ItemScore {
            score,
            item_part: score,
            patch_part: score,
            cells,
        })
        .collect();
    Ok((scores, heats))
}

/// The pixel heat map of `foodqc eval`: heat spread over the pixels, colour anomaly inside
/// the product's hull (computed for its time only).
fn pixel_heat_map(
    frame: &RgbImage,
    regions: &[ItemRegion],
    judged: &[usize],
    scores: &[ItemScore],
    heats: &[HeatMap],
    model: &AnomalyModel,
) {
    let mut scored = ScoredImage {
        score: crate::model::anomaly::worst(scores.iter().map(|s| s.score)),
        width: frame.width(),
        height: frame.height(),
        items: judged
            .iter()
            .zip(heats)
            .map(|(&i, h)| (regions[i].clone(), h.clone()))
            .collect(),
        pixel_scores: Vec::new(),
        hull: image::GrayImage::new(0, 0),
        ms: 0.0,
    };
    scored.hull = pixels::hull_mask(&scored);
    scored.pixel_scores = pixels::score_map(&scored, frame, model.colour.as_ref());
    std::hint::black_box(&scored.pixel_scores);
}

/// What was worked out for the judged items, in the order of `judged`.
struct Judgement<'a> {
    /// Indices (into the regions) of the items judged.
    judged: &'a [usize],
    scores: &'a [ItemScore],
    heats: Vec<HeatMap>,
    /// Hot regions of each heat map, frame pixels.
    hot: Vec<Vec<BBox>>,
}

/// Every region as an inspected item, the judged ones with their score, verdict and heat.
fn inspected_items(
    regions: &[ItemRegion],
    geos: &[ItemGeometry],
    judgement: Judgement<'_>,
    model: &AnomalyModel,
) -> Vec<InspectedItem> {
    let Judgement {
        judged,
        scores,
        heats,
        hot,
    } = judgement;
    let mut scored_at = vec![None; regions.len()];
    for (k, &i) in judged.iter().enumerate() {
        scored_at[i] = Some(k);
    }
    let mut hot = hot.into_iter().map(Some).collect::<Vec<_>>();
    let mut heats = heats.into_iter().map(Some).collect::<Vec<_>>();
    regions
        .iter()
        .zip(geos)
        .enumerate()
        .map(|(index, (r, g))| {
            let k = scored_at[index];
            let s = k.map(|k| &scores[k]);
            InspectedItem {
                index,
                bbox: r.bbox,
                contour: r.contour.clone(),
                centroid: g.centroid,
                equiv_diameter: g.equiv_diameter,
                partial: r.touches_border,
                score: s.map(|s| s.score),
                score_parts: s.map(|s| (s.item_part, s.patch_part)),
                verdict: s.map(|s| model.verdict(s.score)),
                heat: k.and_then(|k| heats[k].take()),
                regions: k.and_then(|k| hot[k].take()).unwrap_or_default(),
                track_id: None,
                defect_class: None,
                record: k.is_some(),
            }
        })
        .collect()
}

/// Queues the recorded items of `inspection` on the scratch recorder.
fn record(inspection: &Inspection, seq: u64, recorder: &Recorder) -> Result<(), BenchError> {
    let ts_ms = crate::store::now_ms();
    for it in inspection.items.iter().filter(|i| i.record) {
        let (Some(score), Some(verdict)) = (it.score, it.verdict) else {
            continue;
        };
        recorder.sender.send(RecordItem {
            row: InspectionRow {
                ts_ms,
                station_id: recorder.station_id,
                lot_id: Some(recorder.lot_id),
                model_version_id: None,
                frame_seq: seq as i64,
                item_index: it.index as i64,
                track_id: None,
                score,
                verdict,
                defect_class: None,
                bbox: it.bbox,
                sample_id: None,
            },
            sample: None,
        })?;
    }
    Ok(())
}
