//! Measurements of one item: colour, texture and shape for the whole item, and a grid of
//! patch measurements that the model turns into a coarse anomaly heat map.
//!
//! The names and order of the features are part of the model file format: a model refuses to
//! load when its feature set differs from [`FEATURE_SET`].

use serde::{Deserialize, Serialize};

use super::segment::ItemRegion;

mod extract;

pub use extract::extract;

/// Identifies the feature definitions below; bump when any definition changes.
pub const FEATURE_SET: &str = "foodqc-features-1";

/// Item-level feature names, in vector order.
pub const ITEM_FEATURES: [&str; 17] = [
    "mean_l",
    "mean_a",
    "mean_b",
    "std_l",
    "std_a",
    "std_b",
    "dark_frac",
    "bright_frac",
    "odd_color_frac",
    "grad_mean",
    "grad_p95",
    "log_area",
    "circularity",
    "solidity",
    "elongation",
    "hull_gap",
    "radius_cv",
];

/// Smallest spread the model assumes for each item feature (same order), so a feature that
/// happens to be constant on the training items does not make every small change an anomaly.
pub const ITEM_FEATURE_MIN_STD: [f64; 17] = [
    2.0, 1.5, 1.5, 1.0, 1.0, 1.0, 0.005, 0.005, 0.003, 0.5, 1.0, 0.03, 0.01, 0.005, 0.01, 0.005,
    0.005,
];

/// Patch-level feature names, in vector order.
pub const PATCH_FEATURES: [&str; 6] = ["dl", "da", "db", "std_l", "grad", "dark_frac"];

/// Smallest spread assumed for each patch feature.
pub const PATCH_FEATURE_MIN_STD: [f64; 6] = [2.0, 1.5, 1.5, 1.0, 0.5, 0.01];

/// Number of concentric rings patches are grouped in (a rim looks different from a centre).
pub const PATCH_RINGS: usize = 3;

/// Cells across the item's equivalent diameter in the patch grid.
pub const CELLS_ACROSS: f32 = 12.0;

/// Everything measured on one item.
#[derive(Clone, Debug, Default)]
pub struct ItemFeatures {
    /// Item-level vector, ordered as [`ITEM_FEATURES`].
    pub item: Vec<f64>,
    /// The patch grid.
    pub patches: PatchGrid,
    /// Colour histogram of the item's interior pixels, [`COLOUR_BINS`] bins (see
    /// [`colour_bin`]).
    pub colour_hist: Vec<u32>,
}

/// Bins of the colour histogram: 16 levels per RGB channel.
pub const COLOUR_BINS: usize = 4096;

/// Histogram bin of an RGB colour.
#[inline]
pub fn colour_bin(p: [u8; 3]) -> usize {
    ((p[0] as usize >> 4) << 8) | ((p[1] as usize >> 4) << 4) | (p[2] as usize >> 4)
}

/// A grid of patches over an item's bounding box.
#[derive(Clone, Debug, Default)]
pub struct PatchGrid {
    /// Frame x of the grid's top-left corner, in pixels.
    pub x0: u32,
    /// Frame y of the grid's top-left corner, in pixels.
    pub y0: u32,
    /// Cell side in pixels.
    pub cell: u32,
    /// Number of columns.
    pub cols: u32,
    /// Number of rows.
    pub rows: u32,
    /// Cells with enough item pixels to be measured.
    pub cells: Vec<PatchCell>,
}

/// One measured patch.
#[derive(Clone, Debug)]
pub struct PatchCell {
    /// Column in the grid.
    pub col: u32,
    /// Row in the grid.
    pub row: u32,
    /// Ring 0 (centre) .. PATCH_RINGS-1 (rim).
    pub ring: usize,
    /// Features ordered as [`PATCH_FEATURES`].
    pub values: [f64; 6],
}

/// Where an item is and how big it is.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ItemGeometry {
    /// Centroid in frame pixels.
    pub centroid: (f32, f32),
    /// Diameter of the disc with the same area, in pixels.
    pub equiv_diameter: f32,
}

/// Lightness L of an RGB pixel, 0..255 (its opponent colours are [`opponent`]).
#[inline]
fn lightness(p: [u8; 3]) -> f32 {
    let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Centroid and size of an item.
pub fn item_geometry(region: &ItemRegion) -> ItemGeometry {
    // Integer sums are exact (the f64 sums of the same integers were too): same result.
    // Per row in u32 with wrapping adds (no overflow-check branch, so the loop vectorises):
    // a row sum of x stays below 2^31 for rows narrower than 65 536 pixels.
    let (mut sx, mut sy, mut n) = (0u64, 0u64, 0u64);
    let w = region.mask.width() as usize;
    if w > 0 {
        for (y, row) in region.mask.as_raw().chunks_exact(w).enumerate() {
            let (mut rx, mut rn) = (0u32, 0u32);
            for (x, m) in row.iter().enumerate() {
                let on = u32::from(*m != 0);
                rx = rx.wrapping_add((x as u32).wrapping_mul(on));
                rn = rn.wrapping_add(on);
            }
            sx += u64::from(rx);
            sy += y as u64 * u64::from(rn);
            n += u64::from(rn);
        }
    }
    let (sx, sy, n) = (sx as f64, sy as f64, (n as f64).max(1.0));
    ItemGeometry {
        centroid: (
            (region.bbox.x as f64 + sx / n) as f32,
            (region.bbox.y as f64 + sy / n) as f32,
        ),
        equiv_diameter: (4.0 * region.area as f32 / std::f32::consts::PI).sqrt(),
    }
}

/// The opponent colours of a pixel as whole numbers: a = R-G and 2b = R+G-2B (so
/// b = (R+G)/2-B).
#[inline]
fn opponent(p: [u8; 3]) -> (i32, i32) {
    let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
    (r - g, r + g - 2 * b)
}

/// Bin-wise sum of interleaved histograms.
fn merge_histograms(hists: &[[u32; 256]; 4]) -> [u32; 256] {
    let mut out = [0u32; 256];
    for h in hists {
        for (o, v) in out.iter_mut().zip(h) {
            *o += v;
        }
    }
    out
}

/// Value below which a fraction `q` of a 256-bin histogram lies.
fn histogram_quantile(hist: &[u32; 256], q: f64) -> f64 {
    let total: u64 = hist.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0.0;
    }
    let target = (q * total as f64).ceil() as u64;
    let mut acc = 0u64;
    for (v, &c) in hist.iter().enumerate() {
        acc += u64::from(c);
        if acc >= target {
            return v as f64;
        }
    }
    255.0
}

struct Shape {
    circularity: f64,
    solidity: f64,
    elongation: f64,
    hull_gap: f64,
    radius_cv: f64,
}

fn shape_features(region: &ItemRegion, geo: &ItemGeometry) -> Shape {
    let area = f64::from(region.area.max(1));
    let pts: Vec<imageproc::point::Point<f64>> = region
        .contour
        .iter()
        .map(|p| imageproc::point::Point::new(f64::from(p[0]), f64::from(p[1])))
        .collect();
    if pts.len() < 3 {
        return Shape {
            circularity: 0.0,
            solidity: 0.0,
            elongation: 0.0,
            hull_gap: 0.0,
            radius_cv: 0.0,
        };
    }
    let perimeter = imageproc::geometry::arc_length(&pts, true).max(1.0);
    let hull = imageproc::geometry::convex_hull(pts.clone());
    let hull_area = imageproc::geometry::contour_area(&hull).max(1.0);
    let radius = f64::from(geo.equiv_diameter) / 2.0;
    // Deepest point of the outline inside its convex hull ("bite" depth).
    let mut gap: f64 = 0.0;
    for p in &pts {
        let mut d_min = f64::INFINITY;
        for i in 0..hull.len() {
            let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
            d_min = d_min.min(point_segment_distance(*p, a, b));
        }
        gap = gap.max(d_min);
    }
    // Second moments of the mask for elongation.
    let (cx, cy) = (
        f64::from(geo.centroid.0) - f64::from(region.bbox.x),
        f64::from(geo.centroid.1) - f64::from(region.bbox.y),
    );
    let (mut mxx, mut myy, mut mxy) = (0f64, 0f64, 0f64);
    let mw = region.mask.width() as usize;
    if mw > 0 {
        for (y, row) in region.mask.as_raw().chunks_exact(mw).enumerate() {
            let dy = y as f64 - cy;
            for (x, &m) in row.iter().enumerate() {
                if m != 0 {
                    let dx = x as f64 - cx;
                    mxx += dx * dx;
                    myy += dy * dy;
                    mxy += dx * dy;
                }
            }
        }
    }
    let tr = (mxx + myy) / area;
    let det = (mxx * myy - mxy * mxy) / (area * area);
    let disc = (tr * tr / 4.0 - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, (tr / 2.0 - disc).max(0.0));
    // Radius spread along the outline (sampled densely so long straight edges count).
    let mut radii = Vec::new();
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        let len = ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
        let steps = (len / 2.0).ceil().max(1.0) as usize;
        for s in 0..steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (a.x + t * (b.x - a.x), a.y + t * (b.y - a.y));
            radii.push(
                ((x - f64::from(geo.centroid.0)).powi(2) + (y - f64::from(geo.centroid.1)).powi(2))
                    .sqrt(),
            );
        }
    }
    let rm = radii.iter().sum::<f64>() / radii.len() as f64;
    let rv = radii.iter().map(|r| (r - rm).powi(2)).sum::<f64>() / radii.len() as f64;
    Shape {
        circularity: (4.0 * std::f64::consts::PI * area / (perimeter * perimeter)).min(1.5),
        solidity: (area / hull_area).min(1.5),
        elongation: if l1 > 0.0 { (l2 / l1).sqrt() } else { 0.0 },
        hull_gap: gap / radius.max(1.0),
        radius_cv: rv.sqrt() / rm.max(1.0),
    }
}

fn point_segment_distance(
    p: imageproc::point::Point<f64>,
    a: imageproc::point::Point<f64>,
    b: imageproc::point::Point<f64>,
) -> f64 {
    let (vx, vy) = (b.x - a.x, b.y - a.y);
    let len2 = vx * vx + vy * vy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * vx + (p.y - a.y) * vy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.x + t * vx, a.y + t * vy);
    ((p.x - qx).powi(2) + (p.y - qy).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::segment::{SegmentConfig, Segmenter};
    use image::Rgb;
    use image::RgbImage;

    fn one_item(draw: impl Fn(&mut RgbImage)) -> (RgbImage, ItemRegion) {
        let mut img = RgbImage::from_pixel(400, 300, Rgb([50, 52, 55]));
        imageproc::drawing::draw_filled_circle_mut(&mut img, (200, 150), 80, Rgb([200, 150, 90]));
        draw(&mut img);
        let mut items = Segmenter::new(SegmentConfig::default()).segment(&img);
        assert_eq!(items.len(), 1);
        let item = items.remove(0);
        (img, item)
    }

    fn feature(f: &ItemFeatures, name: &str) -> f64 {
        let i = ITEM_FEATURES.iter().position(|n| *n == name).unwrap();
        f.item[i]
    }

    #[test]
    fn disc_is_round_and_solid() {
        let (img, item) = one_item(|_| {});
        let f = extract(&img, &item);
        assert_eq!(f.item.len(), ITEM_FEATURES.len());
        assert!(feature(&f, "solidity") > 0.97, "{:?}", f.item);
        assert!(feature(&f, "elongation") > 0.95);
        assert!(feature(&f, "hull_gap") < 0.05);
        assert!(feature(&f, "dark_frac") < 0.001);
        assert!(!f.patches.cells.is_empty());
        assert!(f.patches.cells.iter().any(|c| c.ring == 0));
        assert!(f.patches.cells.iter().any(|c| c.ring == 2));
    }

    #[test]
    fn bite_lowers_solidity_and_raises_hull_gap() {
        let (img, item) = one_item(|img| {
            imageproc::drawing::draw_filled_circle_mut(img, (275, 150), 35, Rgb([50, 52, 55]));
        });
        let f = extract(&img, &item);
        assert!(feature(&f, "solidity") < 0.95, "{:?}", f.item);
        assert!(feature(&f, "hull_gap") > 0.15, "{:?}", f.item);
    }

    #[test]
    fn dark_spot_shows_in_item_and_patch_features() {
        let (img, item) = one_item(|img| {
            imageproc::drawing::draw_filled_circle_mut(img, (190, 140), 15, Rgb([40, 25, 15]));
        });
        let f = extract(&img, &item);
        assert!(feature(&f, "dark_frac") > 0.02, "{:?}", f.item);
        let darkest = f
            .patches
            .cells
            .iter()
            .map(|c| c.values[5])
            .fold(0.0, f64::max);
        assert!(darkest > 0.5);
    }
}
