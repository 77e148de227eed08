//! Which items of a photo are the product, and their features.

use crate::vision::features::{self, ItemFeatures};
use crate::vision::segment::{ItemRegion, Segmenter};

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

/// Measure the product items of one image: features for each main item.
pub(super) fn image_items(
    seg: &mut Segmenter,
    img: &image::RgbImage,
) -> (Vec<ItemRegion>, Vec<usize>) {
    let regions = seg.segment(img);
    let main = main_items(&regions);
    (regions, main)
}

/// The features of the main items of a photo (see [`main_items`]): what training and
/// sample scoring measure of a photo or a sample crop. Empty when no item is found.
pub fn main_item_features(seg: &mut Segmenter, img: &image::RgbImage) -> Vec<ItemFeatures> {
    main_items_measured(seg, img)
        .1
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

/// Like [`main_item_features`], but also hands back all the segmenter's items of the photo
/// and the index of each main item beside its features: a caller that describes the photo
/// further (the grade descriptor, [`crate::model::classifier::describe_image_known`]) then
/// need not segment and measure it again.
pub fn main_items_measured(
    seg: &mut Segmenter,
    img: &image::RgbImage,
) -> (Vec<ItemRegion>, Vec<(usize, ItemFeatures)>) {
    let (regions, main) = image_items(seg, img);
    let measured = main
        .into_iter()
        .map(|i| (i, features::extract(img, &regions[i])))
        .collect();
    (regions, measured)
}
