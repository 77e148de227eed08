//! Candidate items at work scale, refined on full-resolution crops into item masks.

use image::{GrayImage, RgbImage};

use super::super::components::Components;
use super::super::morph::{self, Outside};
use super::ItemRegion;
use super::belt_map::BackgroundMap;
use super::colour::belt_distance_given;
use super::contour::outer_contour;
use crate::domain::BBox;

/// Size, strength and bounding box (work pixels, inclusive) of one foreground component.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // fields read through Debug in traces
pub(super) struct ComponentStats {
    pub(super) area: u32,
    /// Pixels whose distance to the belt exceeds the "strong" level.
    pub(super) strong: u32,
    pub(super) x0: u32,
    pub(super) y0: u32,
    pub(super) x1: u32,
    pub(super) y1: u32,
}

/// The stats of every component; `strength` (distance image, level) counts strong pixels.
pub(super) fn component_stats(
    comps: &Components,
    strength: Option<(&GrayImage, u8)>,
) -> Vec<ComponentStats> {
    let mut stats: Vec<ComponentStats> = comps
        .components
        .iter()
        .map(|c| ComponentStats {
            area: c.area,
            strong: 0,
            x0: c.x0,
            y0: c.y0,
            x1: c.x1,
            y1: c.y1,
        })
        .collect();
    if let Some((dist, level)) = strength {
        let w = dist.width() as usize;
        for (r, c) in comps.runs.iter().zip(&comps.run_component) {
            let row = &dist.as_raw()[r.y as usize * w..][r.x0 as usize..r.x1 as usize];
            stats[*c as usize].strong += row.iter().filter(|&&d| d > level).count() as u32;
        }
    }
    stats
}

/// Radius (pixels) of the closing that bridges cracks in full-resolution item masks.
pub(super) const REFINE_CLOSE: u32 = 3;

/// Mask over `region` of the frame pixels farther than `threshold` from the belt under them.
fn far_from_belt(frame: &RgbImage, region: BBox, bg: &BackgroundMap, threshold: u16) -> GrayImage {
    let BBox { x: rx, y: ry, w, h } = region;
    let mut mask = GrayImage::new(w, h);
    // Work-pixel column of each crop column (the belt colour is per work pixel).
    let wxs: Vec<usize> = (rx..rx + w)
        .map(|x| (x / bg.scale).min(bg.work_w - 1) as usize)
        .collect();
    let fw = frame.width() as usize;
    // The belt colour under each crop pixel of the current row, and the per-channel absolute
    // differences to it: straight byte loops the compiler vectorises.
    let mut belt_row = vec![0u8; w as usize * 3];
    let mut diff = vec![0u8; w as usize * 3];
    let mut belt_wy = usize::MAX;
    for (y, out) in mask.chunks_exact_mut(w as usize).enumerate() {
        let fy = ry as usize + y;
        let wy = (fy as u32 / bg.scale).min(bg.work_h - 1) as usize;
        if wy != belt_wy {
            let belt = &bg.work[wy * bg.work_w as usize..(wy + 1) * bg.work_w as usize];
            for (b, wx) in belt_row.chunks_exact_mut(3).zip(&wxs) {
                b.copy_from_slice(&belt[*wx]);
            }
            belt_wy = wy;
        }
        let px = &frame.as_raw()[(fy * fw + rx as usize) * 3..(fy * fw + (rx + w) as usize) * 3];
        for ((d, p), b) in diff.iter_mut().zip(px).zip(&belt_row) {
            *d = p.abs_diff(*b);
        }
        for (((o, d), p), b) in out
            .iter_mut()
            .zip(diff.chunks_exact(3))
            .zip(px.chunks_exact(3))
            .zip(belt_row.chunks_exact(3))
        {
            // The plain colour distance first: belt_distance never exceeds it.
            let d = u16::from(d[0]) + u16::from(d[1]) + u16::from(d[2]);
            if d > threshold
                && belt_distance_given([p[0], p[1], p[2]], [b[0], b[1], b[2]], d) > threshold
            {
                *o = 255;
            }
        }
    }
    mask
}

/// Full-resolution mask of the item inside `region`: pixels far from the belt, the largest
/// connected part, holes filled (a crack is part of the item, not background).
pub(super) fn refine_item(
    frame: &RgbImage,
    region: BBox,
    bg: &BackgroundMap,
    threshold: u16,
    min_area: u32,
) -> Option<ItemRegion> {
    let BBox { x: rx, y: ry, .. } = region;
    let mut mask = far_from_belt(frame, region, bg, threshold);
    morph::open(&mut mask, 1, Outside::Foreground);
    // A dark crack across an item is close to the belt colour: bridge it so the item
    // stays whole (a piece broken off with belt between stays apart at work scale).
    morph::close(&mut mask, REFINE_CLOSE, Outside::Foreground);
    let mut comps = Components::default();
    comps.label(&mask);
    // The largest component (the last of equal ones, as before).
    let (best, s) = comps
        .components
        .iter()
        .enumerate()
        .max_by_key(|(_, s)| s.area)
        .map(|(i, s)| (i as u32, *s))?;
    if s.area < min_area / 2 {
        return None;
    }
    // Crop to the chosen component.
    let (cw, ch) = (s.x1 - s.x0 + 1, s.y1 - s.y0 + 1);
    let mut item = GrayImage::new(cw, ch);
    for r in comps.runs_of(best) {
        let row = (r.y - s.y0) as usize * cw as usize;
        item.as_mut()[row + (r.x0 - s.x0) as usize..row + (r.x1 - s.x0) as usize].fill(255);
    }
    fill_holes(&mut item);
    let area = item.as_raw().iter().filter(|&&v| v != 0).count() as u32;
    let bbox = BBox {
        x: rx + s.x0,
        y: ry + s.y0,
        w: cw,
        h: ch,
    };
    let (fw, fh) = frame.dimensions();
    let touches_border =
        bbox.x == 0 || bbox.y == 0 || bbox.x + bbox.w >= fw || bbox.y + bbox.h >= fh;
    let contour = outer_contour(&item, bbox);
    Some(ItemRegion {
        bbox,
        mask: item,
        area,
        contour,
        touches_border,
    })
}

/// Set every background pixel not connected to the crop border to foreground.
pub fn fill_holes(mask: &mut GrayImage) {
    let (w, h) = mask.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    // Background runs, 4-connected: components that do not reach the border are holes.
    let mut bg = Components::default();
    bg.label_with(mask, false, false);
    let hole: Vec<bool> = bg
        .components
        .iter()
        .map(|c| c.x0 > 0 && c.y0 > 0 && c.x1 + 1 < w && c.y1 + 1 < h)
        .collect();
    let out = mask.as_mut();
    for (r, c) in bg.runs.iter().zip(&bg.run_component) {
        if hole[*c as usize] {
            let row = r.y as usize * w as usize;
            out[row + r.x0 as usize..row + r.x1 as usize].fill(255);
        }
    }
}
