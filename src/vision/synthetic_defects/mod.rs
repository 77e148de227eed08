//! Synthetic defects on good items, so a one-class detector can be validated and tuned
//! without a single real defect: a validation set is made from held-out good items by
//! damaging them (after CutPaste, Li et al. 2021; DRAEM, Zavrtanik et al. 2021; NSA, Schlüter
//! et al. 2022).
//!
//! The products are not known in advance, so every defect is product-agnostic: sizes are
//! fractions of the item's equivalent diameter (that of a disc of its mask area), contrasts
//! are multiples of the item's own luma spread, colours are relative to its own mean colour,
//! and positions are drawn inside its mask. [`DefectKind::area_bounds`] states the share of
//! the item each kind covers.

mod blob;
mod crack;
mod item;
mod layer;
mod missing;
mod paste;
mod rng;
mod spot;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod unit_tests;

use image::{GrayImage, RgbImage};
use rayon::prelude::*;

use item::Item;
use rng::{Rng, derive};

pub use item::MIN_DIAMETER;

/// The kinds of synthetic defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefectKind {
    /// A patch of another good item (or of another place of the same item), resized to the
    /// item's scale, rotated, flipped, and pasted with a feathered edge and its colour pulled
    /// toward the surroundings (NSA-style), so the seam alone does not give it away.
    Paste,
    /// A thin, tapered, jagged line darker (or lighter) than the item, with soft sides.
    Crack,
    /// A smooth irregular region of changed colour (rot, burn, a shift) or texture (blurred,
    /// grainy), DRAEM-style.
    Blob,
    /// A bite out of the item's rim, filled with the background: the outline changes.
    MissingPiece,
    /// A few small round dark or off-colour spots with soft edges (foreign matter, mould).
    Spot,
}

impl DefectKind {
    /// Every kind, in a fixed order.
    pub const ALL: [DefectKind; 5] = [
        DefectKind::Paste,
        DefectKind::Crack,
        DefectKind::Blob,
        DefectKind::MissingPiece,
        DefectKind::Spot,
    ];

    /// Short lowercase name (`paste`, `crack`, `blob`, `missing_piece`, `spot`).
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::Paste => "paste",
            DefectKind::Crack => "crack",
            DefectKind::Blob => "blob",
            DefectKind::MissingPiece => "missing_piece",
            DefectKind::Spot => "spot",
        }
    }

    /// The share of the item's area a defect of this kind covers, `(min, max)`: what the
    /// size ranges of each kind work out to (for items at least 100 px across; on smaller
    /// items the one-pixel floors of thin defects can exceed the upper bound).
    pub fn area_bounds(self) -> (f32, f32) {
        match self {
            // Patch side 5-25 % of the diameter: 0.3-8 % of the area, less where clipped.
            DefectKind::Paste => (0.001, 0.09),
            // 20-70 % long, 1-4 % wide, tapered, with soft sides and maybe a branch.
            DefectKind::Crack => (0.001, 0.09),
            // 1-10 % by construction.
            DefectKind::Blob => (0.009, 0.101),
            // A bite 10-30 % of the diameter across, partly over the background.
            DefectKind::MissingPiece => (0.002, 0.09),
            // 1-5 spots of 1-4 % of the diameter across.
            DefectKind::Spot => (0.000_05, 0.012),
        }
    }

    fn index(self) -> u64 {
        match self {
            DefectKind::Paste => 0,
            DefectKind::Crack => 1,
            DefectKind::Blob => 2,
            DefectKind::MissingPiece => 3,
            DefectKind::Spot => 4,
        }
    }
}

impl std::fmt::Display for DefectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An item crop and its mask (same size; mask values above 127 are item, the rest
/// background), as `ItemRegion::mask` over the crop of its bounding box.
#[derive(Clone, Copy, Debug)]
pub struct ItemImage<'a> {
    /// The crop.
    pub rgb: &'a RgbImage,
    /// The item's mask over the crop.
    pub mask: &'a GrayImage,
}

/// A good item with a synthetic defect.
#[derive(Clone, Debug)]
pub struct SyntheticDefect {
    /// The crop with the defect (same size as the input crop).
    pub rgb: RgbImage,
    /// The changed pixels (255), all on the item: for a missing piece, the item pixels that
    /// became background. Every pixel outside this mask equals the input.
    pub mask: GrayImage,
    /// The kind of defect made.
    pub kind: DefectKind,
}

/// Which input an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The item that gets the defect.
    Item,
    /// The donor of a pasted patch.
    Donor,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Item => "item",
            Role::Donor => "donor",
        })
    }
}

/// Why no defect could be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SyntheticDefectError {
    /// The mask has no item pixel.
    #[error("{}", crate::tr!("err-vision-synthetic-defects-empty-mask", role = .role.to_string()))]
    EmptyMask {
        /// Which input.
        role: Role,
    },
    /// The crop and its mask differ in size.
    #[error("{}", crate::tr!("err-vision-synthetic-defects-size-mismatch", role = .role.to_string(), rgb = format!("{:?}", .rgb), mask = format!("{:?}", .mask)))]
    SizeMismatch {
        /// Which input.
        role: Role,
        /// Crop size (width, height).
        rgb: (u32, u32),
        /// Mask size (width, height).
        mask: (u32, u32),
    },
    /// The item is too small to hold a defect.
    #[error(
        "the {role} is {diameter:.1} px across (equivalent diameter), below the minimum {min} px"
    )]
    TooSmall {
        /// Which input.
        role: Role,
        /// Its equivalent diameter, in pixels.
        diameter: f32,
        /// The smallest accepted, in pixels ([`MIN_DIAMETER`]).
        min: f32,
    },
    /// No attempt changed a pixel (an item too thin for the defect).
    #[error("{}", crate::tr!("err-vision-synthetic-defects-not-placed", kind = .kind.to_string(), seed = .seed.to_string()))]
    NotPlaced {
        /// The kind asked for.
        kind: DefectKind,
        /// The seed given.
        seed: u64,
    },
}

/// Attempts (with derived seeds) before [`SyntheticDefectError::NotPlaced`].
const ATTEMPTS: u64 = 4;

/// Makes one defect of `kind` on `item`. Deterministic for a seed; different seeds give
/// different defects. `donor` (another good item) is only read by [`DefectKind::Paste`],
/// which takes its patch from the item itself without one.
pub fn make(
    item: ItemImage,
    donor: Option<ItemImage>,
    kind: DefectKind,
    seed: u64,
) -> Result<SyntheticDefect, SyntheticDefectError> {
    let item = Item::analyse(item, Role::Item)?;
    let donor = match (kind, donor) {
        (DefectKind::Paste, Some(d)) => Some(Item::analyse(d, Role::Donor)?),
        _ => None,
    };
    for attempt in 0..ATTEMPTS {
        let mut rng = Rng::new(derive(seed, kind.index() * ATTEMPTS + attempt));
        let made = match kind {
            DefectKind::Paste => paste::paste(&item, donor.as_ref(), &mut rng),
            DefectKind::Crack => crack::crack(&item, &mut rng),
            DefectKind::Blob => blob::blob(&item, &mut rng),
            DefectKind::MissingPiece => missing::missing_piece(&item, &mut rng),
            DefectKind::Spot => spot::spots(&item, &mut rng),
        };
        if made.mask.as_raw().iter().any(|&m| m != 0) {
            return Ok(made);
        }
    }
    Err(SyntheticDefectError::NotPlaced { kind, seed })
}

/// A validation set: for each good item `i`, one defect of kind `ALL[i % 5]`, with another
/// item of the set as donor and a seed derived from `seed` and `i`; items in parallel, the
/// result in item order and the same for a seed whatever the thread count. Items that cannot
/// take a defect (empty, mismatched or too small) are left out with a warning; a donor that
/// cannot give a patch is replaced by the item itself.
pub fn validation_set(items: &[ItemImage], seed: u64) -> Vec<SyntheticDefect> {
    let n = items.len();
    (0..n)
        .into_par_iter()
        .filter_map(|i| {
            let kind = DefectKind::ALL[i % DefectKind::ALL.len()];
            let s = derive(seed, i as u64);
            let donor = (n > 1).then(|| items[(i + 1 + (s % (n as u64 - 1)) as usize) % n]);
            let made = match make(items[i], donor, kind, s) {
                Err(
                    SyntheticDefectError::EmptyMask { role: Role::Donor }
                    | SyntheticDefectError::SizeMismatch {
                        role: Role::Donor, ..
                    }
                    | SyntheticDefectError::TooSmall {
                        role: Role::Donor, ..
                    },
                ) => make(items[i], None, kind, s),
                other => other,
            };
            made.map_err(|e| tracing::warn!(item = i, "no synthetic defect: {e}"))
                .ok()
        })
        .collect()
}
