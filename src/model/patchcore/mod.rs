//! The deep anomaly tier's core, PatchCore-style (Roth et al., "Towards Total Recall in
//! Industrial Anomaly Detection"), independent of the CNN that produces the features.
//!
//! 1. [`embed`]: the backbone's channels-last feature maps become locally aware patch
//!    descriptors (3x3 average pooling of each map, coarser maps bilinearly upsampled to the
//!    finest grid, concatenated), one [`PatchGrid`] per item.
//! 2. [`MemoryBank::build`]: the good items' patches are subsampled by greedy k-center
//!    coreset selection (distances taken in a random projection) into a memory bank.
//! 3. [`MemoryBank::distances`]: a patch's anomaly is its Euclidean distance to the nearest
//!    bank vector; the item's is the largest of its patches' (optionally re-weighted by the
//!    paper's neighbourhood softmax).
//! 4. [`PatchCoreModel::train`]: K-fold out-of-fold distances of the good items calibrate the
//!    scores like the classical tier's (1.0 = the 95th percentile of held-out good items).
//!
//! Non-finite features never pass: they are refused where an error can be returned, and
//! score infinity where it cannot.

mod bank_file;
mod coreset;
mod detector;
mod embed;
mod knn;

pub use bank_file::Precision;
pub use detector::{
    MIN_TRAIN_ITEMS, OutOfFoldScores, PATCHCORE_FORMAT, PATCHCORE_FORMAT_VERSION, PatchCalibration,
    PatchCoreModel, PatchScore,
};
pub use embed::{embed, reduce_dim};
pub use knn::MemoryBank;

use serde::{Deserialize, Serialize};

/// One feature map, channels-last: `data[(y * width + x) * channels + c]`.
#[derive(Clone, Copy, Debug)]
pub struct MapRef<'a> {
    /// Rows of the grid.
    pub height: usize,
    /// Columns of the grid.
    pub width: usize,
    /// Values per cell.
    pub channels: usize,
    /// `height * width * channels` values, row-major cells, channels innermost.
    pub data: &'a [f32],
}

/// Patch descriptors of one item on a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchGrid {
    /// Rows of the grid.
    pub height: usize,
    /// Columns of the grid.
    pub width: usize,
    /// Values per descriptor.
    pub dim: usize,
    /// `height * width` descriptors of `dim` values each, row-major cells.
    pub data: Vec<f32>,
}

impl PatchGrid {
    /// A grid from its parts; refuses data of the wrong length or an empty grid.
    pub fn new(
        height: usize,
        width: usize,
        dim: usize,
        data: Vec<f32>,
    ) -> Result<Self, PatchCoreError> {
        let grid = Self {
            height,
            width,
            dim,
            data,
        };
        grid.check_shape()?;
        Ok(grid)
    }

    /// Number of cells (`height * width`).
    pub fn cells(&self) -> usize {
        self.height * self.width
    }

    /// The descriptor of cell `i` (row-major). Panics when `i` is out of range.
    pub fn cell(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Errors unless the grid has cells, a dimension, and exactly `cells * dim` values.
    pub(crate) fn check_shape(&self) -> Result<(), PatchCoreError> {
        let expected = self
            .height
            .checked_mul(self.width)
            .and_then(|c| c.checked_mul(self.dim));
        if self.cells() == 0 || self.dim == 0 || expected != Some(self.data.len()) {
            return Err(PatchCoreError::GridShape {
                height: self.height,
                width: self.width,
                dim: self.dim,
                found: self.data.len(),
            });
        }
        Ok(())
    }

    /// [`Self::check_shape`], and every value finite; `what` names the grid in the error.
    pub(crate) fn check(&self, what: &str) -> Result<(), PatchCoreError> {
        self.check_shape()?;
        if let Some(at) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(PatchCoreError::NonFinite {
                what: format!(
                    "{what}, cell {} (row {}, column {}), value {}",
                    at / self.dim,
                    at / self.dim / self.width,
                    at / self.dim % self.width,
                    at % self.dim
                ),
            });
        }
        Ok(())
    }
}

/// What went wrong, in words that name the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum PatchCoreError {
    /// [`embed`] was given no maps.
    #[error("{}", crate::tr!("err-model-patchcore-no-maps"))]
    NoMaps,
    /// A feature map's data does not match its stated shape, or the shape is empty.
    #[error(
        "feature map {map} is {height}x{width}x{channels} (= {expected} values) but its data holds {found} values"
    )]
    MapShape {
        /// Index of the map in the slice given.
        map: usize,
        /// Stated rows.
        height: usize,
        /// Stated columns.
        width: usize,
        /// Stated channels.
        channels: usize,
        /// `height * width * channels`.
        expected: usize,
        /// Length of the data.
        found: usize,
    },
    /// A feature map does not fit the first (finest) map's grid.
    #[error("{}", crate::tr!("err-model-patchcore-map-grid", map = .map.to_string(), found = .found.to_string(), first = .first.to_string(), reason = .reason.to_string()))]
    MapGrid {
        /// Index of the map in the slice given.
        map: usize,
        /// Its grid, `HxW`.
        found: String,
        /// The first map's grid, `HxW`.
        first: String,
        /// Why it does not fit.
        reason: &'static str,
    },
    /// A patch grid's data does not match its stated shape, or the shape is empty.
    #[error(
        "patch grid is {height}x{width} cells of {dim} values but its data holds {found} values"
    )]
    GridShape {
        /// Stated rows.
        height: usize,
        /// Stated columns.
        width: usize,
        /// Stated descriptor length.
        dim: usize,
        /// Length of the data.
        found: usize,
    },
    /// A NaN or an infinity in the input.
    #[error("{}", crate::tr!("err-model-patchcore-non-finite", what = .what.to_string()))]
    NonFinite {
        /// Where it was found.
        what: String,
    },
    /// Descriptors of another length than expected.
    #[error("{what} has descriptors of {found} values, expected {expected}")]
    DimMismatch {
        /// What was checked.
        what: String,
        /// Length required.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// Too few items to train and calibrate on.
    #[error(
        "need at least {needed} good items to train the deep anomaly model, found {got}; capture or import more good samples"
    )]
    TooFewItems {
        /// Minimum.
        needed: usize,
        /// Given.
        got: usize,
    },
    /// Options that cannot work.
    #[error("{}", crate::tr!("err-model-patchcore-options", v0 = .0.to_string()))]
    Options(String),
    /// The cancel callback said stop.
    #[error("{}", crate::tr!("err-model-patchcore-cancelled"))]
    Cancelled,
    /// A stored memory bank's vectors do not hash to its checksum.
    #[error(
        "memory bank checksum mismatch: the file says blake3 {stored} but its vectors hash to {computed}; the model file is damaged"
    )]
    ChecksumMismatch {
        /// Checksum in the file.
        stored: String,
        /// Checksum of the vectors read.
        computed: String,
    },
    /// A stored memory bank or model that is not consistent.
    #[error("{}", crate::tr!("err-model-patchcore-damaged", v0 = .0.to_string()))]
    Damaged(String),
    /// Reading or writing a model file failed.
    #[error("{}", crate::tr!("err-model-patchcore-io", path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A model file that does not parse (the message names checksum mismatches too).
    #[error("{}", crate::tr!("err-model-patchcore-parse", path = .path.display().to_string(), reason = .reason.to_string()))]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

/// Training settings. The defaults are product-agnostic; see each field for its reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatchCoreOptions {
    /// Share of the good patches kept in the memory bank. Default 0.1: the paper's main
    /// setting ("PatchCore-10%"), which it reports loses almost nothing against the full bank
    /// while the greedy coreset still covers rare good patches (unlike random subsampling).
    pub coreset_ratio: f64,
    /// Most vectors a bank may hold, whatever the ratio. Default 2048: scoring cost grows
    /// linearly with the bank (one 20x20 item against 2048 x 152 took about 6.5 ms of one
    /// core here, 4096 about 13 ms: `tests/timing.rs`), and the deep tier has about 15 ms
    /// per item after the backbone. 2048 is the full 10 % up to about 50 items of 400
    /// patches; beyond, the coreset keeps the most distinct patches, and the paper reports
    /// even 1 % banks lose little.
    pub max_bank: usize,
    /// Dimension of the random (Gaussian, Johnson-Lindenstrauss) projection the coreset
    /// selection measures distances in; 0, or a value at least the descriptor length, selects
    /// on the descriptors themselves. Default 128: the selection only needs roughly right
    /// distances to find far-apart patches, and at 128 a projected distance is within about
    /// 6 % of the true one (one standard deviation, `1/sqrt(2 p)`); selection time grows
    /// linearly with it, so it also caps that cost for a wider backbone.
    pub projection_dim: usize,
    /// Seed of the projection and of the first coreset centre: training is reproducible.
    pub seed: u64,
    /// Folds of the out-of-fold calibration (fewer when there are fewer items). Default 5, as
    /// the classical tier: each fold's bank sees 80 % of the items, as the final one sees all.
    pub folds: usize,
    /// Neighbourhood size b of the paper's image-score re-weighting (its eq. 7); 0 turns it
    /// off. Default 0: the weight is a softmax of raw distances, so its strength depends on
    /// the backbone's feature scale, which a product-agnostic default cannot know; the plain
    /// maximum is what calibration was designed around. Values of 1 are refused (the weight
    /// would be 0).
    pub reweight_neighbours: usize,
    /// Reduce descriptors to this many values by adaptive average pooling over the channel
    /// axis (the paper's dimension reduction) before anything else; `None` keeps them.
    /// Default `None`: 152 values are cheap enough, and pooling mixes unrelated channels.
    pub reduce_dim: Option<usize>,
    /// Keep bank vectors at f16 precision (rounded when the bank is built, so a saved model
    /// scores exactly as the trained one). Default true: it halves the file, and f16's
    /// relative step (2^-11, about 0.05 %) is far below the distances between patches. A
    /// bank with values beyond f16's range (65504) is kept at f32 instead.
    pub half_precision: bool,
}

impl Default for PatchCoreOptions {
    fn default() -> Self {
        Self {
            coreset_ratio: 0.1,
            max_bank: 2048,
            projection_dim: 128,
            seed: 0x5eed_fdc0_7ec0_4e00,
            folds: 5,
            reweight_neighbours: 0,
            reduce_dim: None,
            half_precision: true,
        }
    }
}

impl PatchCoreOptions {
    /// Errors for settings that cannot work.
    pub fn validate(&self) -> Result<(), PatchCoreError> {
        let bad = |s: String| Err(PatchCoreError::Options(s));
        if !(self.coreset_ratio > 0.0 && self.coreset_ratio <= 1.0) {
            return bad(format!(
                "coreset_ratio must be in (0, 1], got {}",
                self.coreset_ratio
            ));
        }
        if self.max_bank == 0 {
            return bad("max_bank must be at least 1".into());
        }
        if self.folds < 2 {
            return bad(format!("folds must be at least 2, got {}", self.folds));
        }
        if self.reweight_neighbours == 1 {
            return bad("reweight_neighbours must be 0 (off) or at least 2".into());
        }
        if self.reduce_dim == Some(0) {
            return bad("reduce_dim must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
