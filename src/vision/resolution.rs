//! The resolution a model inspects at: the binning factor chosen once, at training, from the
//! size of the training items, and stored in the model; inspection then reduces every frame
//! by it (`imageio::binning`) and maps what it finds back to frame pixels.

use image::RgbImage;

use super::features;
use super::segment::{SegmentConfig, Segmenter};
use crate::imageio::binning::FACTORS;

/// Smallest median item diameter, in binned pixels, that a factor must keep: below it the
/// texture cells on an item get too few pixels to see a hairline crack.
pub const MIN_ITEM_DIAMETER: f32 = 160.0;

/// The largest factor that keeps the median item at least [`MIN_ITEM_DIAMETER`] across.
/// `diameters` are full-resolution equivalent diameters; none gives 1.
pub fn choose(diameters: &[f32]) -> u32 {
    let mut d: Vec<f32> = diameters
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .collect();
    if d.is_empty() {
        return 1;
    }
    d.sort_by(f32::total_cmp);
    let median = d[d.len() / 2];
    FACTORS
        .iter()
        .copied()
        .rfind(|&n| median / n as f32 >= MIN_ITEM_DIAMETER)
        .unwrap_or(1)
}

/// How many frames of a training set [`choose_for_frames`] looks at: a product's items are
/// alike, so a few frames tell their size.
pub const SAMPLE_FRAMES: usize = 8;

/// The binning for a product, from a few of its frames at full resolution: [`choose`] on the
/// diameters of the items found whole (of all items when every one touches the border).
/// None when the frames show no item at all.
pub fn choose_for_frames(frames: &[&RgbImage], segment: &SegmentConfig) -> Option<u32> {
    let mut seg = Segmenter::new(segment.clone());
    let (mut whole, mut all) = (Vec::new(), Vec::new());
    for f in frames {
        for r in seg.segment(f) {
            let d = features::item_geometry(&r).equiv_diameter;
            if !r.touches_border {
                whole.push(d);
            }
            all.push(d);
        }
    }
    if all.is_empty() {
        return None;
    }
    Some(choose(if whole.is_empty() { &all } else { &whole }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_keeps_items_large_enough() {
        assert_eq!(choose(&[]), 1);
        assert_eq!(choose(&[112.0, 150.0, 159.0]), 1);
        // Cookies in 576x768 photos are about 410 px across.
        assert_eq!(choose(&[403.0, 410.0, 424.0]), 2);
        assert_eq!(choose(&[700.0, 640.0, 660.0]), 4);
        // The median decides, not an outlier.
        assert_eq!(choose(&[100.0, 110.0, 900.0]), 1);
        assert_eq!(choose(&[f32::NAN]), 1);
    }
}
