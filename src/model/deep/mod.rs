//! The deep anomaly tier: patches of an ImageNet-pretrained network (EfficientNet-Lite0) on a
//! square crop of each item, a memory bank of good patches (PatchCore), and the distance of
//! each patch to its nearest good patch as the heat map; the worst patch is the item score.
//! Scores are calibrated like the classical tier's (1.0 = the 95th percentile of held-out
//! good items), so thresholds, the workbench and reports treat both tiers alike.

mod patches;

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use patches::{CROP_MARGIN, DeepItemError, ItemPatches, heat_map, item_patches};

use super::anomaly::{Assessment, ItemScore};
use super::backbone::{Backbone, BackboneError};
use super::patchcore::{PatchCoreError, PatchCoreModel, PatchCoreOptions};
use crate::vision::segment::ItemRegion;

/// Name of the network the deep tier runs, as written to model files.
pub const BACKBONE_NAME: &str = "efficientnet-lite0-imagenet-f16";

/// Side of the square crop the network sees, pixels: the stride-8 grid is then 20 x 20 cells,
/// and network plus memory bank take about 13 ms of one core per item (224 px took about
/// 25 ms, the whole budget).
pub const DEFAULT_CROP_SIZE: u32 = 160;

/// Errors training the deep tier.
#[derive(Debug, thiserror::Error)]
pub enum DeepTrainError {
    /// An item could not be measured.
    #[error("{}", crate::tr!("err-model-deep-item", index = .index.to_string(), source = .source.to_string()))]
    Item {
        /// Position of the item in the training set.
        index: usize,
        /// What failed.
        #[source]
        source: DeepItemError,
    },
    /// The memory bank could not be built.
    #[error("{}", crate::tr!("err-model-deep-bank", v0 = .0.to_string()))]
    Bank(#[from] PatchCoreError),
    /// The network is not available.
    #[error("{}", crate::tr!("err-model-deep-backbone", v0 = .0.to_string()))]
    Backbone(#[from] BackboneError),
    /// Stopped on request.
    #[error("{}", crate::tr!("err-model-deep-cancelled"))]
    Cancelled,
}

/// Settings of the deep tier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeepOptions {
    /// Side of the square crop the network sees.
    pub crop_size: u32,
    /// Memory bank settings.
    pub patchcore: PatchCoreOptions,
}

impl Default for DeepOptions {
    fn default() -> Self {
        Self {
            crop_size: DEFAULT_CROP_SIZE,
            patchcore: PatchCoreOptions::default(),
        }
    }
}

/// A trained deep detector, saved inside the model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepDetector {
    /// The network the patches come from ([`BACKBONE_NAME`]).
    pub backbone: String,
    /// Side of the square crop the network sees.
    pub crop_size: u32,
    /// The memory bank of good patches and its calibration.
    pub patchcore: PatchCoreModel,
}

/// Measure every item in parallel: `items` are (frame, region) pairs.
pub fn measure_items(
    items: &[(&RgbImage, &ItemRegion)],
    crop_size: u32,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<ItemPatches>, DeepTrainError> {
    let backbone = Backbone::bundled()?;
    items
        .par_iter()
        .enumerate()
        .map(|(index, (frame, region))| {
            if cancel() {
                return Err(DeepTrainError::Cancelled);
            }
            item_patches(backbone, frame, region, crop_size)
                .map_err(|source| DeepTrainError::Item { index, source })
        })
        .collect()
}

/// `classical` judging with a deep detector trained on the good items `items` ((frame,
/// region) pairs, with their near-duplicate `groups` when known), its reject threshold set at
/// `target_false_reject` of the held-out good scores: what eval, the tier selection, training
/// and the bench train. Also returns the calibrated out-of-fold scores of the good items (with
/// groups, one per group: [`group_medians`]).
pub fn train_deep_tier(
    classical: &super::AnomalyModel,
    items: &[(&RgbImage, &ItemRegion)],
    groups: Option<&[u64]>,
    opts: &DeepOptions,
    target_false_reject: f64,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<(super::AnomalyModel, Vec<f64>), DeepTrainError> {
    let patches = measure_items(items, opts.crop_size, cancel)?;
    let (detector, held_out) = DeepDetector::train(&patches, groups, opts, &|| cancel())?;
    let held_out = match groups {
        Some(g) => group_medians(&held_out, g),
        None => held_out,
    };
    let model = classical.with_deep(detector, &held_out, target_false_reject);
    Ok((model, held_out))
}

/// One score per group, its median, in the order groups first appear. The reject threshold
/// is a quantile of held-out good scores; counted per item, a group of 60 video frames of
/// one scene would weigh as 60 independent items and pull the quantile towards itself (up
/// when its scene is unlike the rest, down when it is alike), while a new item on the line is
/// one draw. Per group, each scene or physical item counts once.
pub fn group_medians(scores: &[f64], groups: &[u64]) -> Vec<f64> {
    let mut order: Vec<u64> = Vec::new();
    let mut members: std::collections::HashMap<u64, Vec<f64>> = Default::default();
    for (&s, &g) in scores.iter().zip(groups) {
        members
            .entry(g)
            .or_insert_with(|| {
                order.push(g);
                Vec::new()
            })
            .push(s);
    }
    order
        .iter()
        .map(|g| {
            let v = members.remove(g).unwrap_or_default();
            // A group with an item that could not be scored counts as the worst.
            if v.iter().any(|s| !s.is_finite()) {
                f64::INFINITY
            } else {
                super::metrics::quantile(&v, 0.5)
            }
        })
        .collect()
}

impl DeepDetector {
    /// Train on the patches of good items. Returns the detector and the calibrated scores of
    /// the good items from banks that did not hold them (the caller sets thresholds from
    /// them). `groups` (one per item) keeps near-duplicates on one side of the calibration
    /// folds; see [`PatchCoreModel::train_grouped`].
    pub fn train(
        items: &[ItemPatches],
        groups: Option<&[u64]>,
        opts: &DeepOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<(Self, Vec<f64>), DeepTrainError> {
        let grids: Vec<_> = items.iter().map(|p| p.grid.clone()).collect();
        let (patchcore, held_out) =
            PatchCoreModel::train_grouped(&grids, groups, &opts.patchcore, cancel)?;
        let detector = Self {
            backbone: BACKBONE_NAME.to_string(),
            crop_size: opts.crop_size,
            patchcore,
        };
        Ok((detector, held_out.images))
    }

    /// Calibrated item score and per-cell scores of measured patches.
    pub fn score_patches(&self, p: &ItemPatches) -> (f64, Vec<f32>) {
        let s = self.patchcore.score(&p.grid);
        (s.score, s.cells)
    }

    /// Judge one item of `frame`. A failure of the network is logged and the item gets an
    /// infinite score: it is rejected, never passed.
    pub fn assess(&self, frame: &RgbImage, region: &ItemRegion) -> Assessment {
        let measured = Backbone::bundled()
            .map_err(DeepItemError::from)
            .and_then(|b| item_patches(b, frame, region, self.crop_size));
        match measured {
            Ok(p) => {
                let (score, cells) = self.score_patches(&p);
                let heat = heat_map(region, &p, &cells);
                Assessment {
                    score: ItemScore {
                        score,
                        item_part: score,
                        patch_part: score,
                        cells,
                    },
                    heat,
                }
            }
            Err(e) => {
                tracing::warn!("deep tier could not judge an item: {e}");
                Assessment {
                    score: ItemScore {
                        score: f64::INFINITY,
                        item_part: f64::INFINITY,
                        patch_part: f64::INFINITY,
                        cells: Vec::new(),
                    },
                    heat: crate::model::heat::HeatMap::default(),
                }
            }
        }
    }
}

#[cfg(test)]
mod group_tests {
    use super::group_medians;

    #[test]
    fn each_group_counts_once_and_an_unscored_item_makes_its_group_worst() {
        let scores = [1.0, 5.0, 3.0, 2.0, 0.5, f64::NAN];
        let groups = [7, 7, 7, 9, 4, 11];
        assert_eq!(group_medians(&scores, &groups)[..3], [3.0, 2.0, 0.5]);
        assert_eq!(group_medians(&scores, &groups)[3], f64::INFINITY);
        // Singletons: the scores as they are.
        assert_eq!(group_medians(&[0.2, 0.1], &[1, 2]), vec![0.2, 0.1]);
    }
}
