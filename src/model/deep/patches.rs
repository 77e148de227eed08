//! One item as the deep tier sees it: a square crop around it through the pretrained network,
//! the patch descriptors of the grid cells that lie on the item.

use image::RgbImage;

use crate::imageio::crop::{SquareCrop, square_around};
use crate::model::backbone::{Backbone, BackboneError, Outputs};
use crate::model::heat::HeatMap;
use crate::model::patchcore::{MapRef, PatchCoreError, PatchGrid, embed};
use crate::vision::segment::ItemRegion;

/// Share of a crop's side added around the item, so its rim is seen with some background and
/// the network's padding does not fall on the item.
pub const CROP_MARGIN: f32 = 0.15;

/// Errors of the deep tier on one item.
#[derive(Debug, thiserror::Error)]
pub enum DeepItemError {
    /// The network failed.
    #[error("{}", crate::tr!("err-model-deep-patches-backbone", v0 = .0.to_string()))]
    Backbone(#[from] BackboneError),
    /// The patch descriptors could not be made.
    #[error("{}", crate::tr!("err-model-deep-patches-patches", v0 = .0.to_string()))]
    Patches(#[from] PatchCoreError),
    /// No grid cell lies on the item (an item smaller than a cell).
    #[error("{}", crate::tr!("err-model-deep-patches-no-cells", side = .side.to_string()))]
    NoCells {
        /// Cells per side.
        side: usize,
    },
}

/// The patches of one item.
#[derive(Clone, Debug)]
pub struct ItemPatches {
    /// The descriptors of the cells on the item, as a 1 x n grid (the bank does not care
    /// where a patch was).
    pub grid: PatchGrid,
    /// (column, row) of each of those cells in the `side` x `side` grid over the crop.
    pub cells: Vec<(usize, usize)>,
    /// Cells per side of the grid over the crop.
    pub side: usize,
    /// Where the crop lies in the frame.
    pub square: SquareCrop,
}

/// The patches of item `region` of `frame` at `crop_size` pixels.
pub fn item_patches(
    backbone: &Backbone,
    frame: &RgbImage,
    region: &ItemRegion,
    crop_size: u32,
) -> Result<ItemPatches, DeepItemError> {
    let (crop, square) = square_around(frame, region.bbox, CROP_MARGIN, crop_size);
    let features = backbone.run(&crop, Outputs::Stride16)?;
    let s8 = &features.stride8;
    let mut maps = vec![MapRef {
        height: s8.height,
        width: s8.width,
        channels: s8.channels,
        data: &s8.data,
    }];
    if let Some(s16) = &features.stride16 {
        maps.push(MapRef {
            height: s16.height,
            width: s16.width,
            channels: s16.channels,
            data: &s16.data,
        });
    }
    let full = embed(&maps)?;
    let side = full.width.min(full.height);
    let cells = item_cells(region, &square, side);
    if cells.is_empty() {
        return Err(DeepItemError::NoCells { side });
    }
    let dim = full.dim;
    let mut data = Vec::with_capacity(cells.len() * dim);
    for &(c, r) in &cells {
        let at = (r * full.width + c) * dim;
        data.extend_from_slice(&full.data[at..at + dim]);
    }
    Ok(ItemPatches {
        grid: PatchGrid {
            height: 1,
            width: cells.len(),
            dim,
            data,
        },
        cells,
        side,
        square,
    })
}

/// The cells of a `side` x `side` grid over `square` that lie on the item: at least two of
/// nine points spread over the cell fall on its mask.
fn item_cells(region: &ItemRegion, square: &SquareCrop, side: usize) -> Vec<(usize, usize)> {
    let b = region.bbox;
    let cell = square.side / side as f32;
    let on_item = |x: f32, y: f32| {
        let (mx, my) = (x - b.x as f32, y - b.y as f32);
        if mx < 0.0 || my < 0.0 {
            return false;
        }
        let (mx, my) = (mx as u32, my as u32);
        mx < region.mask.width()
            && my < region.mask.height()
            && region.mask.get_pixel(mx, my).0[0] > 0
    };
    let mut out = Vec::new();
    for r in 0..side {
        for c in 0..side {
            let x0 = square.x0 + c as f32 * cell;
            let y0 = square.y0 + r as f32 * cell;
            let hits = (0..9)
                .filter(|k| {
                    let fx = (k % 3) as f32 * 0.33 + 0.17;
                    let fy = (k / 3) as f32 * 0.33 + 0.17;
                    on_item(x0 + fx * cell, y0 + fy * cell)
                })
                .count();
            if hits >= 2 {
                out.push((c, r));
            }
        }
    }
    out
}

/// A heat map over the item's box in frame pixels from per-cell values of `patches`: each
/// heat cell takes the value of the grid cell under its centre, NaN off the item.
pub fn heat_map(region: &ItemRegion, patches: &ItemPatches, values: &[f32]) -> HeatMap {
    let side = patches.side;
    let mut grid = vec![f32::NAN; side * side];
    for (&(c, r), v) in patches.cells.iter().zip(values) {
        grid[r * side + c] = *v;
    }
    let sq = patches.square;
    let cell = (sq.side / side as f32).round().max(1.0) as u32;
    let b = region.bbox;
    let cols = b.w.div_ceil(cell).max(1);
    let rows = b.h.div_ceil(cell).max(1);
    let mut out = Vec::with_capacity((cols * rows) as usize);
    for r in 0..rows {
        for c in 0..cols {
            let x = b.x as f32 + (c as f32 + 0.5) * cell as f32;
            let y = b.y as f32 + (r as f32 + 0.5) * cell as f32;
            let gc = ((x - sq.x0) / sq.side * side as f32).floor();
            let gr = ((y - sq.y0) / sq.side * side as f32).floor();
            let v = if gc >= 0.0 && gr >= 0.0 && (gc as usize) < side && (gr as usize) < side {
                grid[gr as usize * side + gc as usize]
            } else {
                f32::NAN
            };
            out.push(v);
        }
    }
    HeatMap {
        x0: b.x,
        y0: b.y,
        cell,
        cols,
        rows,
        values: out,
    }
}
