//! Choosing a detector without defect examples: synthetic defects on held-out good items.
//!
//! A one-class model never sees a defect, so its settings cannot be validated on real ones
//! without peeking at test data. Instead the first half of the good training items fits each
//! candidate detector, the second half is kept back, and defects are made on the kept-back items
//! (patches pasted from other items, cracks, colour and texture blobs, missing pieces, spots:
//! [`crate::vision::synthetic_defects`]). Each candidate scores the kept-back items as they
//! are and with their synthetic defects, through the same segmentation and scoring as the
//! line; the candidate that separates them best (AUROC) is kept, the faster on a tie.

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::anomaly::{AnomalyModel, TrainError, TrainOptions};
use super::deep::{DeepOptions, DeepTrainError, train_deep_tier};
use super::metrics::{auroc, quantile};
use super::tier::{Tier, pick_tier};
use crate::vision::features;
use crate::vision::segment::{ItemRegion, SegmentConfig, Segmenter, main_items};
use crate::vision::synthetic_defects::{DefectKind, ItemImage, make};

/// Seed of the synthetic defects: the same training data always gives the same choice.
pub const SELECTION_SEED: u64 = 0x5EED_F00D;

/// Fewest kept-back items a validation needs to mean anything.
pub const MIN_VALIDATION_ITEMS: usize = 6;

/// Errors of the selection.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// Too few good items to split.
    #[error("{}", crate::tr!("err-model-selection-too-few-items", needed = .needed.to_string(), got = .got.to_string()))]
    TooFewItems {
        /// Items needed.
        needed: usize,
        /// Items given.
        got: usize,
    },
    /// The classical candidate failed to train.
    #[error("{}", crate::tr!("err-model-selection-classical", v0 = .0.to_string()))]
    Classical(#[from] TrainError),
    /// The deep candidate failed to train.
    #[error("{}", crate::tr!("err-model-selection-deep", v0 = .0.to_string()))]
    Deep(#[from] DeepTrainError),
}

/// One good training item: the frame it is in (at the model's binning) and where.
#[derive(Clone, Copy)]
pub struct GoodItem<'a> {
    /// The frame.
    pub frame: &'a RgbImage,
    /// The item.
    pub region: &'a ItemRegion,
    /// Its near-duplicate group: items showing the same physical item (or near-identical
    /// photos of it) share one, and validation never splits a group between fitting and
    /// checking. Without better knowledge, the index of its photo or frame.
    pub group: u64,
}

/// The groups of `items`, one per item, for the calibration folds.
pub fn groups_of(items: &[GoodItem]) -> Vec<u64> {
    items.iter().map(|g| g.group).collect()
}

/// [`train_deep_tier`] on good items, their groups keeping near-duplicates on one side of
/// the calibration folds: what the selection, training and eval fit.
pub fn train_deep_on(
    classical: &AnomalyModel,
    items: &[GoodItem],
    deep: &DeepOptions,
    target_false_reject: f64,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<(AnomalyModel, Vec<f64>), DeepTrainError> {
    let pairs: Vec<(&RgbImage, &ItemRegion)> = items.iter().map(|g| (g.frame, g.region)).collect();
    let groups = groups_of(items);
    train_deep_tier(
        classical,
        &pairs,
        Some(&groups),
        deep,
        target_false_reject,
        cancel,
    )
}

/// Split `items` into (fit, kept back) index lists: whole groups, in the order they first
/// appear, go to the fitting side until it holds half the items; the rest is kept back.
/// Consecutive items are often near-duplicates, and alternating would validate each item
/// against its own twin.
fn split_by_group(items: &[GoodItem]) -> (Vec<usize>, Vec<usize>) {
    let half = items.len() / 2;
    let mut order: Vec<u64> = Vec::new();
    for g in items {
        if !order.contains(&g.group) {
            order.push(g.group);
        }
    }
    let mut fit_groups = std::collections::HashSet::new();
    let mut fitted = 0;
    for group in order {
        if fitted >= half {
            break;
        }
        fitted += items.iter().filter(|g| g.group == group).count();
        fit_groups.insert(group);
    }
    (0..items.len()).partition(|&i| fit_groups.contains(&items[i].group))
}

/// How one candidate did on the synthetic validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// The tier.
    pub tier: Tier,
    /// AUROC of kept-back good items against their synthetic defects.
    pub synthetic_auroc: f64,
    /// Share of synthetic defects scoring at or below the 99th percentile of the kept-back
    /// good items: what would pass at a 1 % false-reject threshold.
    pub synthetic_escape_at_1pct: f64,
    /// Median milliseconds to score one item (one core).
    pub ms_per_item: f64,
}

/// The result of [`select_tier`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// The tier kept.
    pub tier: Tier,
    /// Every candidate, in [`Tier::ALL`] order.
    pub candidates: Vec<CandidateResult>,
    /// Items that fitted the candidates.
    pub fit_items: usize,
    /// Kept-back good items (one synthetic defect made on each).
    pub validation_items: usize,
}

impl Selection {
    /// One line per candidate, for the model card and reports.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .candidates
            .iter()
            .map(|c| {
                format!(
                    "{} synthetic AUROC {:.3}, escapes at 1 % false rejects {:.3}, {:.1} ms/item",
                    c.tier, c.synthetic_auroc, c.synthetic_escape_at_1pct, c.ms_per_item
                )
            })
            .collect();
        format!(
            "{} kept by synthetic-defect validation ({} items fitted, {} kept back): {}",
            self.tier,
            self.fit_items,
            self.validation_items,
            parts.join("; ")
        )
    }
}

/// Fit each tier of `tiers` on half of `items`, validate on synthetic defects made on the
/// other half, and keep the best (the faster on a tie, see [`pick_tier`]).
pub fn select_tier(
    items: &[GoodItem],
    tiers: &[Tier],
    segment: &SegmentConfig,
    classical: &TrainOptions,
    deep: &DeepOptions,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<Selection, SelectionError> {
    let (fit, kept) = split_by_group(items);
    if kept.len() < MIN_VALIDATION_ITEMS {
        return Err(SelectionError::TooFewItems {
            needed: 2 * MIN_VALIDATION_ITEMS,
            got: items.len(),
        });
    }
    let fit_items: Vec<GoodItem> = fit.iter().map(|&i| items[i]).collect();
    let kept_items: Vec<GoodItem> = kept.iter().map(|&i| items[i]).collect();
    let frames = validation_frames(&kept_items);
    let mut candidates = Vec::new();
    for &tier in tiers {
        let model = fit_candidate(tier, &fit_items, segment, classical, deep, cancel)?;
        candidates.push(validate(&model, tier, &frames, segment));
    }
    let scores: Vec<(Tier, f64)> = candidates
        .iter()
        .map(|c| (c.tier, c.synthetic_auroc))
        .collect();
    Ok(Selection {
        tier: pick_tier(&scores).unwrap_or(Tier::Classical),
        candidates,
        fit_items: fit_items.len(),
        validation_items: kept_items.len(),
    })
}

/// A model of one tier fitted on `items`.
fn fit_candidate(
    tier: Tier,
    items: &[GoodItem],
    segment: &SegmentConfig,
    classical: &TrainOptions,
    deep: &DeepOptions,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<AnomalyModel, SelectionError> {
    let feats: Vec<_> = items
        .par_iter()
        .map(|g| features::extract(g.frame, g.region))
        .collect();
    let base = AnomalyModel::train(&feats, segment.clone(), classical, "validation", &|| {
        cancel()
    })?;
    match tier {
        Tier::Classical => Ok(base),
        Tier::Deep => {
            Ok(train_deep_on(&base, items, deep, classical.target_false_reject, cancel)?.0)
        }
    }
}

/// A kept-back item in its frame, as it is and with a synthetic defect pasted in.
struct ValidationFrame<'a> {
    good: GoodItem<'a>,
    defective: RgbImage,
}

/// Synthetic defects made on the kept-back items (donors are other kept-back items), pasted
/// back into copies of their frames.
fn validation_frames<'a>(items: &[GoodItem<'a>]) -> Vec<ValidationFrame<'a>> {
    let crops: Vec<(RgbImage, image::GrayImage)> = items
        .iter()
        .map(|g| {
            let b = g.region.bbox;
            let rgb = image::imageops::crop_imm(g.frame, b.x, b.y, b.w, b.h).to_image();
            (rgb, g.region.mask.clone())
        })
        .collect();
    let views: Vec<ItemImage> = crops
        .iter()
        .map(|(rgb, mask)| ItemImage { rgb, mask })
        .collect();
    let n = views.len();
    // One defect per item, the kinds in turn, the donor the next item; an item on which no
    // defect can be made (too small) is left out with its pair.
    (0..n)
        .into_par_iter()
        .filter_map(|i| {
            let kind = DefectKind::ALL[i % DefectKind::ALL.len()];
            let donor = (n > 1).then(|| views[(i + 1) % n]);
            let seed = SELECTION_SEED
                .wrapping_add(i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            match make(views[i], donor, kind, seed) {
                Ok(d) => {
                    let g = items[i];
                    let mut frame = g.frame.clone();
                    let b = g.region.bbox;
                    image::imageops::replace(&mut frame, &d.rgb, i64::from(b.x), i64::from(b.y));
                    Some(ValidationFrame {
                        good: g,
                        defective: frame,
                    })
                }
                Err(e) => {
                    tracing::warn!("no synthetic defect on validation item {i}: {e}");
                    None
                }
            }
        })
        .collect()
}

/// Scores of the kept-back items and their defects under `model`, through segmentation as on
/// the line, and the measures of the candidate.
fn validate(
    model: &AnomalyModel,
    tier: Tier,
    frames: &[ValidationFrame],
    segment: &SegmentConfig,
) -> CandidateResult {
    let scored: Vec<(f64, f64, f64)> = frames
        .par_iter()
        .map_init(
            || Segmenter::new(segment.clone()),
            |seg, v| {
                let started = std::time::Instant::now();
                let good = score_at(model, seg, v.good.frame, v.good.region);
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let bad = score_at(model, seg, &v.defective, v.good.region);
                (good, bad, ms)
            },
        )
        .collect();
    let good: Vec<f64> = scored.iter().map(|s| s.0).collect();
    let bad: Vec<f64> = scored.iter().map(|s| s.1).collect();
    let mut all = good.clone();
    all.extend(&bad);
    let labels: Vec<bool> = (0..all.len()).map(|i| i >= good.len()).collect();
    let threshold = quantile(&good, 0.99);
    let escapes = bad
        .iter()
        .filter(|s| s.is_finite() && **s <= threshold)
        .count();
    let ms: Vec<f64> = scored.iter().map(|s| s.2).collect();
    CandidateResult {
        tier,
        synthetic_auroc: auroc(&all, &labels).unwrap_or(f64::NAN),
        synthetic_escape_at_1pct: escapes as f64 / bad.len().max(1) as f64,
        ms_per_item: quantile(&ms, 0.5),
    }
}

/// The worst score of the main items of `frame` near where `region` was (the item may have
/// changed shape): the largest-overlap main item, or infinity when segmentation lost it (a
/// defect that hides the item is not a pass).
fn score_at(
    model: &AnomalyModel,
    seg: &mut Segmenter,
    frame: &RgbImage,
    region: &ItemRegion,
) -> f64 {
    let regions = seg.segment(frame);
    let b = region.bbox;
    let (cx, cy) = (b.x + b.w / 2, b.y + b.h / 2);
    main_items(&regions)
        .into_iter()
        .filter(|&i| {
            let r = regions[i].bbox;
            r.x <= cx && cx < r.x + r.w && r.y <= cy && cy < r.y + r.h
        })
        .map(|i| model.assess(frame, &regions[i]).score.score)
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.max(s)))
        })
        .unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the kept-back frames with their synthetic defects to /tmp to look at.
    #[test]
    #[ignore = "writes pictures to look at"]
    fn dump_validation_frames() {
        let dir = std::path::Path::new("../shared/datasets/cookies/train/good");
        let mut photos = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().take(6) {
            let img = crate::imageio::load_rgb_binned(&e.unwrap().path(), 2).unwrap();
            let regions = Segmenter::new(SegmentConfig::default()).segment(&img);
            photos.push((img, regions));
        }
        let items: Vec<GoodItem> = photos
            .iter()
            .enumerate()
            .flat_map(|(k, (f, r))| {
                main_items(r).into_iter().map(move |i| GoodItem {
                    frame: f,
                    region: &r[i],
                    group: k as u64,
                })
            })
            .collect();
        for (k, v) in validation_frames(&items).iter().enumerate() {
            v.defective.save(format!("/tmp/valframe-{k}.png")).unwrap();
            let changed = v
                .defective
                .pixels()
                .zip(v.good.frame.pixels())
                .filter(|(a, b)| a != b)
                .count();
            println!(
                "frame {k}: {changed} pixels changed, item area {}",
                v.good.region.area
            );
        }
    }
}
