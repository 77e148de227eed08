//! The trained detector: a memory bank plus the calibration that makes its scores read like
//! the classical tier's, trained with out-of-fold calibration and saved as JSON.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::coreset::sq_dist;
use super::embed::reduce_dim;
use super::knn::MemoryBank;
use super::{PatchCoreError, PatchCoreOptions, PatchGrid};
use crate::model::metrics::quantile;

/// Value of the `format` field of every PatchCore model file.
pub const PATCHCORE_FORMAT: &str = "foodqc-patchcore";
/// Newest PatchCore model file layout this build reads and writes.
pub const PATCHCORE_FORMAT_VERSION: u32 = 1;
/// Fewest good items a model can be trained on (as the classical tier): the 95th percentile
/// of fewer held-out scores is little more than their maximum.
pub const MIN_TRAIN_ITEMS: usize = 8;
/// Smallest calibration scale, so identical training items do not divide by zero.
const MIN_SCALE: f64 = 1e-6;

/// Scales that turn raw distances into scores where 1.0 is "as odd as the oddest few percent
/// of good items" (the convention of the classical tier's `Calibration`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchCalibration {
    /// Raw image score (largest patch distance, re-weighted when that is on) at the 95th
    /// percentile of held-out good items.
    pub image_scale: f64,
    /// Single patch distance at the 99th percentile of held-out good patches.
    pub cell_scale: f64,
}

/// The score of one item.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchScore {
    /// Calibrated image score: 1.0 = the 95th percentile of held-out good items; infinite for
    /// an item that cannot be scored (non-finite features, wrong dimension).
    pub score: f64,
    /// Calibrated anomaly of every cell, row-major in the grid's shape: 1.0 = the 99th
    /// percentile of held-out good patches (the heat map).
    pub cells: Vec<f32>,
}

/// Calibrated scores of the good training items, each scored by a bank built without it: what
/// the model will make of new good items, for the caller to set thresholds from.
#[derive(Clone, Debug, PartialEq)]
pub struct OutOfFoldScores {
    /// Image score of each item, in the order given to training.
    pub images: Vec<f64>,
    /// Cell scores of each item, in the order given to training.
    pub cells: Vec<Vec<f32>>,
}

/// A trained PatchCore detector, as saved to and loaded from a model file (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchCoreModel {
    /// Always [`PATCHCORE_FORMAT`].
    pub format: String,
    /// Layout version, [`PATCHCORE_FORMAT_VERSION`] for files this build writes.
    pub format_version: u32,
    /// Descriptor length the model takes (before `options.reduce_dim`).
    pub input_dim: usize,
    /// Good items trained on.
    pub items: usize,
    /// Good patches trained on.
    pub patches: usize,
    /// Distance scales.
    pub calibration: PatchCalibration,
    /// Settings it was trained with (scoring uses `reduce_dim` and `reweight_neighbours`).
    pub options: PatchCoreOptions,
    /// The memory bank (last, so the file's header fields come first).
    pub bank: MemoryBank,
}

/// The calibration fold of each of `n` items. With groups (some shared), a group stays in
/// one fold (the grouped K-fold of the classifier). Without, contiguous blocks, not every k-th item: items
/// that follow each other (burst photos, one item over consecutive frames) are
/// near-duplicates, and a held-out item whose twin is in the bank scores too low, which sets
/// the threshold too low.
fn calibration_folds(n: usize, folds: usize, groups: Option<&[u64]>) -> Vec<usize> {
    let distinct = groups.map_or(0, |g| {
        g.iter().collect::<std::collections::BTreeSet<_>>().len()
    });
    match groups {
        // One group cannot be held out; all groups distinct tells nothing (and grouped folds
        // of singletons would interleave neighbours); fewer groups than folds leave fewer
        // folds.
        Some(g) if (2..n).contains(&distinct) => {
            crate::model::classifier::grouped_folds(g, &vec![0; n], folds.min(distinct))
        }
        _ => (0..n).map(|i| i * folds / n).collect(),
    }
}

impl PatchCoreModel {
    /// Train on good items, one [`PatchGrid`] each (all of one dimension). K-fold (the
    /// options' `folds`, fewer with fewer items): each item is scored by a bank built on the
    /// other folds, and those out-of-fold distances give the calibration; then the final bank
    /// is built on all items. Returns the model and the calibrated out-of-fold scores.
    ///
    /// Errors on fewer than [`MIN_TRAIN_ITEMS`] items, invalid options, mismatched or
    /// non-finite grids, or when `cancel` returns true.
    pub fn train(
        grids: &[PatchGrid],
        opts: &PatchCoreOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<(PatchCoreModel, OutOfFoldScores), PatchCoreError> {
        Self::train_grouped(grids, None, opts, cancel)
    }

    /// [`Self::train`] with the items' groups (one per grid): items that show the same
    /// physical item or near-duplicate photos of it share a group, and a group is never split
    /// between the bank and the held-out fold of the calibration. Without groups the folds are
    /// contiguous blocks.
    pub fn train_grouped(
        grids: &[PatchGrid],
        groups: Option<&[u64]>,
        opts: &PatchCoreOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<(PatchCoreModel, OutOfFoldScores), PatchCoreError> {
        opts.validate()?;
        if let Some(g) = groups
            && g.len() != grids.len()
        {
            return Err(PatchCoreError::Options(format!(
                "{} groups given for {} training items",
                g.len(),
                grids.len()
            )));
        }
        if grids.len() < MIN_TRAIN_ITEMS {
            return Err(PatchCoreError::TooFewItems {
                needed: MIN_TRAIN_ITEMS,
                got: grids.len(),
            });
        }
        let input_dim = grids[0].dim;
        for (i, g) in grids.iter().enumerate() {
            g.check(&format!("training item {i}"))?;
            if g.dim != input_dim {
                return Err(PatchCoreError::DimMismatch {
                    what: format!("training item {i}"),
                    expected: input_dim,
                    found: g.dim,
                });
            }
        }
        let reduced: Vec<PatchGrid>;
        let items: Vec<&PatchGrid> = match opts.reduce_dim {
            Some(t) => {
                reduced = grids
                    .iter()
                    .map(|g| reduce_dim(g, t))
                    .collect::<Result<_, _>>()?;
                reduced.iter().collect()
            }
            None => grids.iter().collect(),
        };
        let n = items.len();
        let fold_of = calibration_folds(n, opts.folds.min(n), groups);
        let folds = fold_of.iter().max().map_or(1, |m| m + 1);
        let fold_of = |i: usize| fold_of[i];
        let mut raw_images = vec![0f64; n];
        let mut raw_cells: Vec<Vec<f32>> = vec![Vec::new(); n];
        for fold in 0..folds {
            if cancel() {
                return Err(PatchCoreError::Cancelled);
            }
            let fit: Vec<&PatchGrid> = (0..n)
                .filter(|&i| fold_of(i) != fold)
                .map(|i| items[i])
                .collect();
            let bank = MemoryBank::build_from(&fit, opts, cancel)?;
            for i in (0..n).filter(|&i| fold_of(i) == fold) {
                (raw_images[i], raw_cells[i]) = raw_score(&bank, items[i], opts);
            }
        }
        let all_cells: Vec<f64> = raw_cells.iter().flatten().map(|v| f64::from(*v)).collect();
        let calibration = PatchCalibration {
            image_scale: quantile(&raw_images, 0.95).max(MIN_SCALE),
            cell_scale: quantile(&all_cells, 0.99).max(MIN_SCALE),
        };
        if cancel() {
            return Err(PatchCoreError::Cancelled);
        }
        let bank = MemoryBank::build_from(&items, opts, cancel)?;
        let oof = OutOfFoldScores {
            images: raw_images
                .iter()
                .map(|s| s / calibration.image_scale)
                .collect(),
            cells: raw_cells
                .iter()
                .map(|c| calibrate_cells(c, calibration.cell_scale))
                .collect(),
        };
        let model = PatchCoreModel {
            format: PATCHCORE_FORMAT.to_string(),
            format_version: PATCHCORE_FORMAT_VERSION,
            input_dim,
            items: n,
            patches: items.iter().map(|g| g.cells()).sum(),
            calibration,
            options: opts.clone(),
            bank,
        };
        Ok((model, oof))
    }

    /// Calibrated image score and per-cell scores of one item. Never a passing score for an
    /// item that cannot be scored: non-finite features or another dimension give an infinite
    /// score, with every cell infinite (no cells when the grid's data does not match its
    /// shape). [`Self::try_score`] tells why.
    pub fn score(&self, grid: &PatchGrid) -> PatchScore {
        self.try_score(grid).unwrap_or_else(|_| {
            let cells = if grid.check_shape().is_ok() {
                grid.cells()
            } else {
                0
            };
            PatchScore {
                score: f64::INFINITY,
                cells: vec![f32::INFINITY; cells],
            }
        })
    }

    /// [`Self::score`], with an error instead of an infinite score for a grid that does not
    /// fit the model or holds a NaN or an infinity.
    pub fn try_score(&self, grid: &PatchGrid) -> Result<PatchScore, PatchCoreError> {
        grid.check("the scored item")?;
        if grid.dim != self.input_dim {
            return Err(PatchCoreError::DimMismatch {
                what: "the scored item".into(),
                expected: self.input_dim,
                found: grid.dim,
            });
        }
        let reduced;
        let grid = match self.options.reduce_dim {
            Some(t) => {
                reduced = reduce_dim(grid, t)?;
                &reduced
            }
            None => grid,
        };
        let (image, cells) = raw_score(&self.bank, grid, &self.options);
        Ok(PatchScore {
            score: image / self.calibration.image_scale,
            cells: calibrate_cells(&cells, self.calibration.cell_scale),
        })
    }

    /// Read a model file; refuses other formats and versions, damaged banks (checksum) and
    /// inconsistent models.
    pub fn load(path: &Path) -> Result<Self, PatchCoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| PatchCoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Parse model JSON; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, PatchCoreError> {
        let parse = |reason: String| PatchCoreError::Parse {
            path: path.to_path_buf(),
            reason,
        };
        let model: Self = serde_json::from_str(text)
            .map_err(|e| {
                // A foreign or newer file gets a precise message rather than a missing field.
                #[derive(Deserialize)]
                struct Header {
                    format: Option<String>,
                    format_version: Option<u32>,
                }
                match serde_json::from_str::<Header>(text) {
                    Ok(h) => header_problem(h.format.as_deref(), h.format_version)
                        .unwrap_or_else(|| e.to_string()),
                    Err(_) => e.to_string(),
                }
            })
            .map_err(parse)?;
        if let Some(problem) = header_problem(Some(&model.format), Some(model.format_version)) {
            return Err(parse(problem));
        }
        model.check().map_err(|e| parse(e.to_string()))?;
        Ok(model)
    }

    /// The model as compact JSON (the bank is one base64 string either way).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a model serialises: plain fields and strings")
    }

    /// Write the model file atomically (temporary file and rename), creating the folder.
    pub fn save(&self, path: &Path) -> Result<(), PatchCoreError> {
        crate::model::write_atomically(path, self.to_json().as_bytes()).map_err(|source| {
            PatchCoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Errors unless the parts fit together.
    fn check(&self) -> Result<(), PatchCoreError> {
        let bad = |s: String| Err(PatchCoreError::Damaged(s));
        self.options.validate()?;
        let bank_dim = self.options.reduce_dim.unwrap_or(self.input_dim);
        if self.bank.dim() != bank_dim {
            return bad(format!(
                "memory bank vectors have {} values, the model expects {bank_dim}",
                self.bank.dim()
            ));
        }
        let c = &self.calibration;
        if ![c.image_scale, c.cell_scale]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
        {
            return bad("calibration scales must be positive".into());
        }
        Ok(())
    }
}

/// Why a file's header is not one this build reads, if it is not.
fn header_problem(format: Option<&str>, version: Option<u32>) -> Option<String> {
    if format != Some(PATCHCORE_FORMAT) {
        return Some(format!(
            "not a foodqc PatchCore model (format field is `{}`)",
            format.unwrap_or_default()
        ));
    }
    match version {
        Some(v) if v != PATCHCORE_FORMAT_VERSION => Some(format!(
            "format version {v}; this foodqc reads version {PATCHCORE_FORMAT_VERSION}: retrain the model with this version"
        )),
        _ => None,
    }
}

fn calibrate_cells(raw: &[f32], scale: f64) -> Vec<f32> {
    raw.iter().map(|d| (f64::from(*d) / scale) as f32).collect()
}

/// Raw image score and raw cell distances of one item against a bank: the largest cell
/// distance, re-weighted by the paper's neighbourhood softmax when the options ask. Any
/// non-finite cell makes the image score infinite.
fn raw_score(bank: &MemoryBank, grid: &PatchGrid, opts: &PatchCoreOptions) -> (f64, Vec<f32>) {
    let nearest = bank.nearest(grid);
    let cells: Vec<f32> = nearest
        .iter()
        .map(|n| {
            if n.dist.is_nan() {
                f32::INFINITY
            } else {
                n.dist
            }
        })
        .collect();
    let Some((at, worst)) = cells
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return (f64::INFINITY, cells);
    };
    let mut image = f64::from(worst);
    if opts.reweight_neighbours >= 2 && image.is_finite() {
        image *= reweight(bank, grid.cell(at), nearest[at].index as usize, worst, opts);
    }
    (image, cells)
}

/// The paper's eq. 7: `1 - exp(d(q, m*)) / sum over m in N_b(m*) of exp(d(q, m))`, where `q`
/// is the worst cell, `m*` its nearest bank vector and `N_b(m*)` the `b` bank vectors nearest
/// to `m*` (itself included). Between `1 - 1/b` (`m*` sits in a dense part of the bank) and 1
/// (it is isolated: a rare good patch, so the distance counts in full). Computed as
/// `1 - 1 / sum exp(d(q, m) - d(q, m*))`, which cannot overflow to NaN.
fn reweight(bank: &MemoryBank, q: &[f32], nn: usize, d0: f32, opts: &PatchCoreOptions) -> f64 {
    let neighbours = bank.neighbours_of(nn, opts.reweight_neighbours);
    if neighbours.len() < 2 {
        return 1.0;
    }
    let sum: f64 = neighbours
        .iter()
        .map(|&m| (f64::from(sq_dist(q, bank.vector(m)).sqrt()) - f64::from(d0)).exp())
        .sum();
    (1.0 - 1.0 / sum).clamp(0.0, 1.0)
}
