//! Finding the items in a frame.
//!
//! Items are found at reduced resolution (a box-filtered copy about 320 px across), as the
//! pixels far from the belt colour, then refined on full-resolution crops. This keeps the
//! whole-frame work small and independent of the camera resolution.

mod belt_map;
mod colour;
mod contour;
mod downscale;
mod refine;
#[cfg(test)]
mod tests;

use image::{GrayImage, RgbImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::components::Components;
use super::morph::{self, Outside};
use crate::domain::BBox;
use colour::dominant_color;
use refine::{REFINE_CLOSE, component_stats, refine_item};

pub use belt_map::BackgroundMap;
pub use colour::{belt_distance, color_l1};
pub use contour::{outer_contour, trace_outer_border};
pub use refine::fill_holes;

/// Settings of the item finder. Defaults fit any product that contrasts with its belt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentConfig {
    /// Longest side of the reduced image used to find items, in pixels.
    pub work_size: u32,
    /// Smallest item, as a fraction of the frame area (drops crumbs and noise).
    pub min_item_area_frac: f32,
    /// Lowest foreground threshold on the colour distance to the belt (0..765, L1 over RGB);
    /// the automatic (Otsu) threshold is never taken below this, so an empty belt stays empty.
    pub min_threshold: u8,
    /// Items whose bounding box fills less than this fraction are thin structures
    /// (belt edges, cables) and are dropped.
    pub min_fill: f32,
    /// Items longer than this many times their width are belt edges or rails, not product.
    pub max_aspect: f32,
    /// Share of an item's pixels that must be clearly off the belt colour (twice the
    /// threshold): reflections and shadows are only slightly off everywhere.
    pub min_strong_frac: f32,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            work_size: 320,
            min_item_area_frac: 0.004,
            min_threshold: 40,
            min_fill: 0.2,
            max_aspect: 6.0,
            min_strong_frac: 0.25,
        }
    }
}

/// One item found in a frame, at full resolution.
#[derive(Clone, Debug)]
pub struct ItemRegion {
    /// Bounding box in frame pixels.
    pub bbox: BBox,
    /// Mask of the item over `bbox` (255 = item), holes filled.
    pub mask: GrayImage,
    /// Item area in pixels (count of mask pixels).
    pub area: u32,
    /// Outer outline in frame pixel coordinates, simplified.
    pub contour: Vec<[f32; 2]>,
    /// True when the item is cut by the frame border.
    pub touches_border: bool,
}

impl ItemRegion {
    /// The item with its surroundings: the part of `frame` around its box, widened by
    /// `margin` times the box's size on every side (clipped to the frame), and the region
    /// moved into that crop's coordinates. What training keeps of an item instead of the
    /// whole frame, enough for the deep tier's crop and for re-finding the item.
    pub fn view_in(&self, frame: &RgbImage, margin: f32) -> (RgbImage, ItemRegion) {
        let b = self.bbox;
        let (fw, fh) = frame.dimensions();
        let mx = (b.w as f32 * margin.max(0.0)).ceil() as u32;
        let my = (b.h as f32 * margin.max(0.0)).ceil() as u32;
        let x0 = b.x.saturating_sub(mx);
        let y0 = b.y.saturating_sub(my);
        let x1 = (b.x + b.w + mx).min(fw);
        let y1 = (b.y + b.h + my).min(fh);
        let crop = image::imageops::crop_imm(frame, x0, y0, x1 - x0, y1 - y0).to_image();
        let region = ItemRegion {
            bbox: BBox {
                x: b.x - x0,
                y: b.y - y0,
                ..b
            },
            mask: self.mask.clone(),
            area: self.area,
            contour: self
                .contour
                .iter()
                .map(|[x, y]| [x - x0 as f32, y - y0 as f32])
                .collect(),
            touches_border: self.touches_border,
        };
        (crop, region)
    }
}

/// Which items of a photo are the product: those at least a quarter the size of the largest
/// (half, for items cut by the photo's border). Crumbs, tray rims and reflections are not.
pub fn main_items(regions: &[ItemRegion]) -> Vec<usize> {
    let largest = regions.iter().map(|r| r.area).max().unwrap_or(0);
    (0..regions.len())
        .filter(|&i| {
            let need = if regions[i].touches_border { 2 } else { 4 };
            regions[i].area * need >= largest
        })
        .collect()
}

/// Finds items; keeps its scratch buffers between frames.
#[derive(Debug, Default)]
pub struct Segmenter {
    cfg: SegmentConfig,
    small: Vec<[u8; 3]>,
    dist: GrayImage,
    fg: GrayImage,
    components: Components,
}

impl Segmenter {
    /// A segmenter with the given settings.
    pub fn new(cfg: SegmentConfig) -> Self {
        Self {
            cfg,
            ..Default::default()
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SegmentConfig {
        &self.cfg
    }

    /// Find all items of `frame`, sorted left to right then top to bottom.
    pub fn segment(&mut self, frame: &RgbImage) -> Vec<ItemRegion> {
        let (fw, fh) = frame.dimensions();
        if fw < 8 || fh < 8 {
            return Vec::new();
        }
        let scale = fw.max(fh).div_ceil(self.cfg.work_size.max(16)).max(1);
        let (sw, sh) = (fw / scale, fh / scale);
        self.downscale(frame, scale, sw, sh);
        if self.dist.dimensions() != (sw, sh) {
            self.dist = GrayImage::new(sw, sh);
            self.fg = GrayImage::new(sw, sh);
        }
        let (bg, t) = self.find_foreground(sw, sh, scale);
        let threshold = u16::from(t) * 3;
        let min_area_small = (self.cfg.min_item_area_frac * (sw * sh) as f32).max(4.0) as u32;
        let regions = self.candidate_boxes(t, min_area_small, scale, (fw, fh));
        // Items are independent: refine them in parallel.
        let min_area = min_area_small * scale * scale;
        let mut items: Vec<ItemRegion> = regions
            .par_iter()
            .filter_map(|r| refine_item(frame, *r, &bg, threshold, min_area))
            .collect();
        items.sort_by_key(|i| (i.bbox.x, i.bbox.y));
        items
    }

    /// Marks the work pixels far from the belt in `self.fg` (closed and opened) and returns
    /// the belt map and the threshold used (on the distance divided by 3).
    fn find_foreground(&mut self, sw: u32, sh: u32, scale: u32) -> (BackgroundMap, u8) {
        // Pass 1: distance to the dominant colour (the belt) finds the obvious items.
        let mode = dominant_color(&self.small);
        for (d, p) in self.dist.as_mut().iter_mut().zip(&self.small) {
            *d = (color_l1(*p, mode) / 3) as u8;
        }
        let t1 = self.threshold_level();
        for (f, d) in self.fg.as_mut().iter_mut().zip(self.dist.as_raw()) {
            *f = if *d > t1 { 255 } else { 0 };
        }
        // Pass 2: the belt colour per region of the frame (lighting is never even), estimated
        // away from the items of pass 1, and the distance to it.
        morph::dilate(&mut self.fg, 2);
        let bg = BackgroundMap::estimate(
            &self.small,
            &self.fg,
            sw,
            sh,
            scale,
            mode,
            u16::from(self.cfg.min_threshold),
        );
        for y in 0..sh {
            for x in 0..sw {
                let i = (y * sw + x) as usize;
                let b = bg.at_work(x, y);
                self.dist.as_mut()[i] = (belt_distance(self.small[i], b) / 3) as u8;
            }
        }
        let t = self.threshold_level();
        for (f, d) in self.fg.as_mut().iter_mut().zip(self.dist.as_raw()) {
            *f = if *d > t { 255 } else { 0 };
        }
        let threshold = u16::from(t) * 3;
        // Close small gaps (cracks) and remove specks of noise.
        morph::close(&mut self.fg, 1, Outside::Foreground);
        morph::open(&mut self.fg, 1, Outside::Foreground);
        tracing::trace!(?mode, threshold, "belt colour and threshold");
        (bg, t)
    }

    /// Full-resolution crop boxes of the foreground components that look like product
    /// (large, filled, not too long, clearly off the belt), for a frame of `fw x fh`.
    fn candidate_boxes(
        &mut self,
        t: u8,
        min_area_small: u32,
        scale: u32,
        (fw, fh): (u32, u32),
    ) -> Vec<BBox> {
        let (sw, sh) = self.fg.dimensions();
        let strong = t.saturating_add(t / 2);
        self.components.label(&self.fg);
        let stats = component_stats(&self.components, Some((&self.dist, strong)));
        stats
            .iter()
            .filter(|c| c.area >= min_area_small)
            .filter(|c| {
                tracing::trace!(?c, "candidate item");
                let bw = c.x1 - c.x0 + 1;
                let bh = c.y1 - c.y0 + 1;
                (c.area as f32) >= self.cfg.min_fill * (bw * bh) as f32
                    && bw.max(bh) as f32 <= self.cfg.max_aspect * bw.min(bh) as f32
                    && (c.strong as f32) >= self.cfg.min_strong_frac * c.area as f32
            })
            .map(|c| {
                // Full-resolution box with a margin of one reduced pixel plus the closing
                // radius used in `refine_item`, so closing never touches the crop edge.
                let m = scale + REFINE_CLOSE + 1;
                let x0 = (c.x0 * scale).saturating_sub(m);
                let y0 = (c.y0 * scale).saturating_sub(m);
                let x1 = if c.x1 + 1 >= sw {
                    fw
                } else {
                    ((c.x1 + 1) * scale + m).min(fw)
                };
                let y1 = if c.y1 + 1 >= sh {
                    fh
                } else {
                    ((c.y1 + 1) * scale + m).min(fh)
                };
                BBox {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                }
            })
            .collect()
    }

    /// Otsu level of the current distance image, never below the configured minimum.
    fn threshold_level(&self) -> u8 {
        imageproc::contrast::otsu_level(&self.dist)
            .max(self.cfg.min_threshold / 3)
            .max(1)
    }
}
