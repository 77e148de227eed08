//! The anomaly detector: trained on good items only, it scores how unlike good product an
//! item is, as a whole (colour, texture, shape) and patch by patch (the heat map).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod assess;

pub use assess::Assessment;

use super::deep::DeepDetector;
use super::gaussian::{FitError, Gaussian, MAX_SANE_SCALE, MIN_SANE_SCALE};
use super::metrics::quantile;
use super::tier::Tier;
use crate::domain::{Thresholds, Verdict};
use crate::vision::features::{
    COLOUR_BINS, FEATURE_SET, ITEM_FEATURE_MIN_STD, ITEM_FEATURES, ItemFeatures,
    PATCH_FEATURE_MIN_STD, PATCH_FEATURES, PATCH_RINGS, colour_bin,
};
use crate::vision::segment::SegmentConfig;

/// Value of the `format` field of every model file.
pub const MODEL_FORMAT: &str = "foodqc-model";
/// Newest model file layout this build reads and writes. Version 2 added `binning`; a model
/// without binning is still written as version 1, so older builds keep reading it, while
/// they refuse a binned one (they would judge it at the wrong resolution). Version 3 added
/// the deep tier (`tier`, `deep`): only deep models are written as 3, so older builds refuse
/// them instead of judging with the classical parts.
pub const MODEL_FORMAT_VERSION: u32 = 3;

/// The model that ships inside the binary, so inspection works on first launch.
pub const BUNDLED_MODEL_JSON: &str = include_str!("../../../models/default.json");

/// Scales that turn raw distances into scores where 1.0 is "as odd as the oddest few percent
/// of good items".
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Item-level distance at the 95th percentile of held-out good items.
    pub item_scale: f64,
    /// Largest patch distance of an item, 95th percentile over held-out good items.
    pub patch_max_scale: f64,
    /// Single patch distance, 99th percentile over held-out good patches.
    pub cell_scale: f64,
}

/// What a model was trained on and how well it did: the model card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Description of the training data.
    pub trained_on: String,
    /// Good items used.
    pub items: usize,
    /// Good patches used.
    pub patches: usize,
    /// Seconds spent fitting.
    pub training_seconds: f64,
    /// Named measures (e.g. `heldout_false_reject_rate`, `synthetic_auroc`).
    pub metrics: BTreeMap<String, f64>,
    /// Free-form remarks.
    pub notes: Vec<String>,
}

/// A trained anomaly detector, as saved to and loaded from a model file (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyModel {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Layout version, [`MODEL_FORMAT_VERSION`] for files this build writes.
    pub format_version: u32,
    /// Feature definitions the model was trained with ([`FEATURE_SET`]).
    pub feature_set: String,
    /// Item feature names, in order.
    pub item_features: Vec<String>,
    /// Patch feature names, in order.
    pub patch_features: Vec<String>,
    /// Human version label, e.g. `synthetic-2026-11-26T06:10`.
    pub version: String,
    /// When it was trained (RFC 3339).
    pub created_at: String,
    /// How items are found in frames.
    pub segment: SegmentConfig,
    /// Frames are reduced by this factor per axis before inspection (1, 2 or 4; see
    /// [`crate::imageio::binning`]). Absent (1) in version 1 files.
    #[serde(default = "unbinned")]
    pub binning: u32,
    /// Item-level Gaussian.
    pub item: Gaussian,
    /// One patch Gaussian per ring (centre to rim).
    pub patch_rings: Vec<Gaussian>,
    /// Distance scales.
    pub calibration: Calibration,
    /// Decision thresholds.
    pub thresholds: Thresholds,
    /// Colours of good product, for pixel-level scores (absent in older files).
    #[serde(default)]
    pub colour: Option<ColourModel>,
    /// Which tier judges items: the classical parts above, or `deep` (absent: classical).
    #[serde(default)]
    pub tier: Tier,
    /// The deep tier's detector, when the model has one. The classical parts are always
    /// trained too: they are small, and the model stays readable without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep: Option<DeepDetector>,
    /// Model card.
    pub card: ModelCard,
}

/// How likely each colour is on good product: a smoothed colour histogram of the interior
/// pixels of the good training items, kept as negative log probabilities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColourModel {
    /// -ln p(bin) for each of the [`COLOUR_BINS`] bins.
    pub nll: Vec<f32>,
    /// The 99th percentile of -ln p over good pixels: a pixel at this value scores 1.
    pub scale: f32,
}

impl ColourModel {
    /// Fit on summed histograms (Laplace-smoothed so unseen colours are finite).
    pub fn fit(items: &[ItemFeatures]) -> Option<Self> {
        let mut counts = vec![0f64; COLOUR_BINS];
        for f in items.iter().filter(|f| f.colour_hist.len() == COLOUR_BINS) {
            for (c, v) in counts.iter_mut().zip(&f.colour_hist) {
                *c += f64::from(*v);
            }
        }
        let total: f64 = counts.iter().sum();
        if total < 100.0 {
            return None;
        }
        let alpha = 0.5;
        let denom = total + alpha * COLOUR_BINS as f64;
        let nll: Vec<f32> = counts
            .iter()
            .map(|c| (-((c + alpha) / denom).ln()) as f32)
            .collect();
        // 99th percentile of nll over the good pixels themselves.
        let mut order: Vec<usize> = (0..COLOUR_BINS).collect();
        order.sort_by(|a, b| nll[*a].total_cmp(&nll[*b]));
        let mut acc = 0.0;
        let mut scale = nll[order[COLOUR_BINS - 1]];
        for i in order {
            acc += counts[i];
            if acc >= 0.99 * total {
                scale = nll[i];
                break;
            }
        }
        Some(Self {
            nll,
            scale: scale.max(1e-3),
        })
    }

    /// Colour anomaly of one pixel: 1 at the 99th percentile of good pixels.
    pub fn score(&self, p: [u8; 3]) -> f32 {
        self.nll[colour_bin(p)] / self.scale
    }

    /// [`ColourModel::score`] of every colour bin, indexed by [`colour_bin`]: for loops over
    /// many pixels.
    pub fn score_table(&self) -> Vec<f32> {
        self.nll.iter().map(|v| v / self.scale).collect()
    }
}

/// The score of one item.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemScore {
    /// Anomaly score: `max(item part, patch part)`; compare with `Thresholds::reject`.
    pub score: f64,
    /// Whole-item part (colour, texture, shape).
    pub item_part: f64,
    /// Worst patch part.
    pub patch_part: f64,
    /// Calibrated anomaly of each measured patch, in the order of `ItemFeatures::patches.cells`.
    pub cells: Vec<f32>,
}

/// Errors loading or saving a model file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}", crate::tr!("err-model-anomaly-io", path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", crate::tr!("err-model-anomaly-parse", path = .path.display().to_string(), reason = .reason.to_string()))]
    Parse { path: PathBuf, reason: String },
    #[error("{path} is not a foodqc model (format field is `{found}`)")]
    WrongFormat { path: PathBuf, found: String },
    #[error(
        "model file {path} has format version {found}; this foodqc reads versions 1 to {supported}: retrain the model with this version"
    )]
    Version {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "model file {path} was trained on feature set `{found}` but this foodqc computes `{expected}`: retrain the model with this version"
    )]
    Features {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{}", crate::tr!("err-model-anomaly-inconsistent", path = .path.display().to_string(), what = .what.to_string()))]
    Inconsistent { path: PathBuf, what: String },
}

/// Why training failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "need at least {needed} good items to train, found {got}; capture or import more good samples"
    )]
    TooFewItems { needed: usize, got: usize },
    #[error("{}", crate::tr!("err-model-anomaly-fit", what = .what.to_string(), source = .source.to_string()))]
    Fit {
        what: &'static str,
        #[source]
        source: FitError,
    },
    #[error("{}", crate::tr!("err-model-anomaly-cancelled"))]
    Cancelled,
}

/// Folds for the out-of-fold calibration.
const TRAIN_FOLDS: usize = 5;

/// Fewest good items a model can be trained on.
pub const MIN_TRAIN_ITEMS: usize = 8;

fn unbinned() -> u32 {
    1
}

/// Training settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainOptions {
    /// Covariance shrinkage toward the identity (0..1).
    pub shrink: f64,
    /// Share of held-out good items that may be rejected at the chosen threshold.
    pub target_false_reject: f64,
    /// Heat-map cells above this calibrated score are defect regions.
    pub pixel_threshold: f64,
    /// Binning the items are measured at, and the model inspects at (1, 2 or 4). None: the
    /// training code chooses it from the size of the items ([`crate::imageio::binning`]).
    pub binning: Option<u32>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            shrink: 0.2,
            target_false_reject: 0.01,
            pixel_threshold: 1.5,
            binning: None,
        }
    }
}

fn fit_parts(
    items: &[&ItemFeatures],
    shrink: f64,
) -> Result<(Gaussian, Vec<Gaussian>), TrainError> {
    let item_rows: Vec<&[f64]> = items.iter().map(|f| f.item.as_slice()).collect();
    let item = Gaussian::fit(&item_rows, &ITEM_FEATURE_MIN_STD, shrink).map_err(|source| {
        TrainError::Fit {
            what: "item",
            source,
        }
    })?;
    let mut rings = Vec::with_capacity(PATCH_RINGS);
    for ring in 0..PATCH_RINGS {
        let rows: Vec<&[f64]> = items
            .iter()
            .flat_map(|f| f.patches.cells.iter())
            .filter(|c| c.ring == ring)
            .map(|c| c.values.as_slice())
            .collect();
        let g = Gaussian::fit(&rows, &PATCH_FEATURE_MIN_STD, shrink).map_err(|source| {
            TrainError::Fit {
                what: "patch",
                source,
            }
        })?;
        rings.push(g);
    }
    Ok((item, rings))
}

/// The largest of `values`, where a NaN or infinity is the worst of all (infinity): `f64::max`
/// drops NaN, which would turn an item that cannot be scored into a pass. 0 when empty.
pub fn worst(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |acc, v| {
        if v.is_finite() {
            acc.max(v)
        } else {
            f64::INFINITY
        }
    })
}

fn raw_distances(item: &Gaussian, rings: &[Gaussian], f: &ItemFeatures) -> (f64, Vec<f64>) {
    let d_item = item.distance(&f.item);
    let cells = f
        .patches
        .cells
        .iter()
        .map(|c| rings[c.ring.min(rings.len() - 1)].distance(&c.values))
        .collect();
    (d_item, cells)
}

/// Raw distances of every good item from a model fitted without it.
struct OutOfFold {
    /// Whole-item distance per item.
    item: Vec<f64>,
    /// Largest patch distance per item.
    max: Vec<f64>,
    /// Every patch distance.
    cells: Vec<f64>,
}

/// Out-of-fold raw distances (K-fold: each fit sees most of the data, as the final model
/// will, so the calibration is not inflated by small folds).
fn out_of_fold(
    good: &[ItemFeatures],
    shrink: f64,
    cancel: &dyn Fn() -> bool,
) -> Result<OutOfFold, TrainError> {
    let folds = TRAIN_FOLDS.min(good.len());
    let (mut oof_item, mut oof_max, mut oof_cells) = (Vec::new(), Vec::new(), Vec::new());
    for fold in 0..folds {
        if cancel() {
            return Err(TrainError::Cancelled);
        }
        let fit: Vec<&ItemFeatures> = good
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .map(|(_, f)| f)
            .collect();
        let (item, rings) = fit_parts(&fit, shrink)?;
        for f in good.iter().skip(fold).step_by(folds) {
            let (d, cells) = raw_distances(&item, &rings, f);
            oof_item.push(d);
            oof_max.push(worst(cells.iter().copied()));
            oof_cells.extend(cells);
        }
    }
    Ok(OutOfFold {
        item: oof_item,
        max: oof_max,
        cells: oof_cells,
    })
}

impl AnomalyModel {
    /// Train on good items. Calibration and the threshold come from held-out items (two-fold
    /// cross-fitting), so they are not flattered by scoring the training data itself.
    pub fn train(
        good: &[ItemFeatures],
        segment: SegmentConfig,
        opts: &TrainOptions,
        trained_on: &str,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Self, TrainError> {
        let started = std::time::Instant::now();
        // The caller measured the items at the binning it resolved (None: it did not bin).
        let binning = opts.binning.unwrap_or(1);
        if good.len() < MIN_TRAIN_ITEMS {
            return Err(TrainError::TooFewItems {
                needed: MIN_TRAIN_ITEMS,
                got: good.len(),
            });
        }
        let OutOfFold {
            item: oof_item,
            max: oof_max,
            cells: oof_cells,
        } = out_of_fold(good, opts.shrink, cancel)?;
        let calibration = Calibration {
            item_scale: quantile(&oof_item, 0.95).max(1e-6),
            patch_max_scale: quantile(&oof_max, 0.95).max(1e-6),
            cell_scale: quantile(&oof_cells, 0.99).max(1e-6),
        };
        let combined: Vec<f64> = oof_item
            .iter()
            .zip(&oof_max)
            .map(|(i, m)| (i / calibration.item_scale).max(m / calibration.patch_max_scale))
            .collect();
        let reject = reject_threshold(&combined, opts.target_false_reject);
        if cancel() {
            return Err(TrainError::Cancelled);
        }
        let all: Vec<&ItemFeatures> = good.iter().collect();
        let (item, patch_rings) = fit_parts(&all, opts.shrink)?;
        let heldout_fr =
            combined.iter().filter(|s| **s > reject).count() as f64 / combined.len() as f64;
        let mut metrics = BTreeMap::new();
        metrics.insert("heldout_false_reject_rate".to_string(), heldout_fr);
        let now = jiff::Timestamp::now();
        Ok(Self {
            format: MODEL_FORMAT.to_string(),
            format_version: if binning > 1 { 2 } else { 1 },
            feature_set: FEATURE_SET.to_string(),
            item_features: ITEM_FEATURES.iter().map(|s| s.to_string()).collect(),
            patch_features: PATCH_FEATURES.iter().map(|s| s.to_string()).collect(),
            version: format!("{}-{}", slug(trained_on), now.strftime("%Y%m%d-%H%M%S")),
            created_at: now.to_string(),
            segment,
            binning,
            item,
            patch_rings,
            calibration,
            thresholds: Thresholds::new(reject, opts.pixel_threshold),
            colour: ColourModel::fit(good),
            tier: Tier::Classical,
            deep: None,
            card: ModelCard {
                trained_on: trained_on.to_string(),
                items: good.len(),
                patches: good.iter().map(|f| f.patches.cells.len()).sum(),
                training_seconds: started.elapsed().as_secs_f64(),
                metrics,
                notes: Vec::new(),
            },
        })
    }

    /// This model judging with the deep tier: `detector`, with the reject threshold set from
    /// its held-out good scores at the model's false-reject target (`target_false_reject`).
    pub fn with_deep(
        &self,
        detector: DeepDetector,
        held_out: &[f64],
        target_false_reject: f64,
    ) -> Self {
        let mut m = self.clone();
        let reject = reject_threshold(held_out, target_false_reject);
        m.thresholds = Thresholds::new(reject, m.thresholds.pixel);
        let fr =
            held_out.iter().filter(|s| **s > reject).count() as f64 / held_out.len().max(1) as f64;
        m.card
            .metrics
            .insert("heldout_false_reject_rate".to_string(), fr);
        m.card.metrics.insert(
            "deep_bank_patches".to_string(),
            detector.patchcore.bank.len() as f64,
        );
        m.card.patches = detector.patchcore.bank.len();
        m.tier = Tier::Deep;
        m.deep = Some(detector);
        m.format_version = 3;
        m.version = format!("{}-deep", self.version);
        m
    }

    /// Score one item with the classical parts.
    pub fn score(&self, f: &ItemFeatures) -> ItemScore {
        let (d_item, cells) = raw_distances(&self.item, &self.patch_rings, f);
        let c = &self.calibration;
        let item_part = d_item / c.item_scale;
        let patch_part = worst(cells.iter().copied()) / c.patch_max_scale;
        ItemScore {
            score: worst([item_part, patch_part]),
            item_part,
            patch_part,
            cells: cells.iter().map(|d| (d / c.cell_scale) as f32).collect(),
        }
    }

    /// Pass, review or reject for a score (see [`Thresholds::verdict`]).
    pub fn verdict(&self, score: f64) -> Verdict {
        self.thresholds.verdict(score, None)
    }

    /// The same model judging with other thresholds (a cheap copy: a few kilobytes).
    pub fn with_thresholds(&self, thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            ..self.clone()
        }
    }

    /// The model compiled into the binary.
    pub fn bundled() -> Result<Self, ModelError> {
        Self::from_json(
            BUNDLED_MODEL_JSON,
            Path::new("<bundled models/default.json>"),
        )
    }

    /// Read a model file; refuses files of another format version or feature set.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Parse model JSON; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, ModelError> {
        let p = || path.to_path_buf();
        // Check the header first so an old or foreign file gets a precise message.
        let header: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ModelError::Parse {
                path: p(),
                reason: e.to_string(),
            })?;
        let format = header.get("format").and_then(|v| v.as_str()).unwrap_or("");
        if format != MODEL_FORMAT {
            return Err(ModelError::WrongFormat {
                path: p(),
                found: format.to_string(),
            });
        }
        let version = header
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if !(1..=MODEL_FORMAT_VERSION).contains(&version) {
            return Err(ModelError::Version {
                path: p(),
                found: version,
                supported: MODEL_FORMAT_VERSION,
            });
        }
        let fs = header
            .get("feature_set")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if fs != FEATURE_SET {
            return Err(ModelError::Features {
                path: p(),
                found: fs.to_string(),
                expected: FEATURE_SET.to_string(),
            });
        }
        let model: AnomalyModel =
            serde_json::from_value(header).map_err(|e| ModelError::Parse {
                path: p(),
                reason: e.to_string(),
            })?;
        model.check(path)?;
        Ok(model)
    }

    fn check(&self, path: &Path) -> Result<(), ModelError> {
        let bad = |what: String| ModelError::Inconsistent {
            path: path.to_path_buf(),
            what,
        };
        if !crate::imageio::binning::FACTORS.contains(&self.binning) {
            return Err(bad(format!(
                "binning {} is not one of {:?}",
                self.binning,
                crate::imageio::binning::FACTORS
            )));
        }
        if self.item_features != ITEM_FEATURES {
            return Err(bad(format!(
                "item feature list {:?} differs from {:?}",
                self.item_features, ITEM_FEATURES
            )));
        }
        if self.patch_features != PATCH_FEATURES {
            return Err(bad(format!(
                "patch feature list {:?} differs from {:?}",
                self.patch_features, PATCH_FEATURES
            )));
        }
        if self.item.dim() != ITEM_FEATURES.len() || !self.item.is_consistent() {
            return Err(bad("item model arrays have the wrong size".into()));
        }
        if let Some(why) = self.item.insane_value() {
            return Err(bad(format!("item model {why}")));
        }
        for (ring, g) in self.patch_rings.iter().enumerate() {
            if let Some(why) = g.insane_value() {
                return Err(bad(format!("patch model ring {ring}: {why}")));
            }
        }
        if self.patch_rings.len() != PATCH_RINGS
            || self
                .patch_rings
                .iter()
                .any(|g| g.dim() != PATCH_FEATURES.len() || !g.is_consistent())
        {
            return Err(bad("patch model arrays have the wrong size".into()));
        }
        if let Some(cm) = &self.colour
            && (cm.nll.len() != COLOUR_BINS || !cm.scale.is_finite() || cm.scale <= 0.0)
        {
            return Err(bad("colour model arrays have the wrong size".into()));
        }
        let c = &self.calibration;
        for (name, v) in [
            ("item_scale", c.item_scale),
            ("patch_max_scale", c.patch_max_scale),
            ("cell_scale", c.cell_scale),
        ] {
            if !(MIN_SANE_SCALE..=MAX_SANE_SCALE).contains(&v) {
                return Err(bad(format!(
                    "calibration.{name} = {v:e} is outside [{MIN_SANE_SCALE:e}, {MAX_SANE_SCALE:e}] (not finite or absurd)"
                )));
            }
        }
        self.thresholds.validate().map_err(bad)?;
        if self.tier == Tier::Deep && self.deep.is_none() {
            return Err(bad(
                "tier is `deep` but the file holds no deep detector".into()
            ));
        }
        Ok(())
    }

    /// Write the model as pretty JSON, atomically (temp file + rename), creating the folder.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| ModelError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        super::write_atomically(path, json.as_bytes()).map_err(io)
    }

    /// The model card as Markdown.
    pub fn card_markdown(&self) -> String {
        let mut s = format!(
            "# Model card: {}\n\n- created: {}\n- trained on: {}\n- good items: {}, good patches: {}\n- training time: {:.2} s\n- resolution: {}\n- feature set: `{}`\n  - item features: {}\n  - patch features: {}\n- reject threshold: {:.3} (score = max(item part, worst patch part); 1.0 = 95th percentile of held-out good items)\n- heat-map cell threshold: {:.2}\n\n## Metrics\n\n| metric | value |\n|---|---|\n",
            self.version,
            self.created_at,
            self.card.trained_on,
            self.card.items,
            self.card.patches,
            self.card.training_seconds,
            if self.binning > 1 {
                format!(
                    "frames binned {0}x{0} before inspection (items were large enough)",
                    self.binning
                )
            } else {
                "full (frames inspected as captured)".to_string()
            },
            self.feature_set,
            self.item_features.join(", "),
            self.patch_features.join(", "),
            self.thresholds.reject,
            self.thresholds.pixel,
        );
        for (k, v) in &self.card.metrics {
            s.push_str(&format!("| {k} | {v:.4} |\n"));
        }
        if !self.card.notes.is_empty() {
            s.push_str("\n## Notes\n\n");
            for n in &self.card.notes {
                s.push_str(&format!("- {n}\n"));
            }
        }
        s
    }
}

/// The reject threshold that a share `target_false_reject` of held-out good scores exceed.
/// With enough items in the tail the empirical quantile is best; with a few dozen it is just
/// the largest score, so the tail is fitted instead.
pub(crate) fn reject_threshold(good_scores: &[f64], target_false_reject: f64) -> f64 {
    if good_scores.len() as f64 * target_false_reject >= 5.0 {
        quantile(good_scores, 1.0 - target_false_reject)
    } else {
        robust_upper_quantile(good_scores, target_false_reject)
    }
}

/// The score that a share `tail` of good items exceeds, from a log-normal fitted robustly
/// (median and MAD of the log scores): with a few dozen items the empirical 99th percentile is
/// just the largest score, and one odd training item would set the threshold.
fn robust_upper_quantile(scores: &[f64], tail: f64) -> f64 {
    let logs: Vec<f64> = scores.iter().map(|s| s.max(1e-9).ln()).collect();
    let median = quantile(&logs, 0.5);
    let deviations: Vec<f64> = logs.iter().map(|l| (l - median).abs()).collect();
    let sigma = 1.4826 * quantile(&deviations, 0.5);
    (median + normal_quantile(1.0 - tail) * sigma).exp()
}

/// Inverse of the standard normal distribution function (Acklam's rational approximation,
/// relative error below 1.2e-9), for p in (0, 1).
fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(24);
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests;
