//! Which items of a photo are the product, and their features.

use crate::vision::features::{self, ItemFeatures};
pub use crate::vision::segment::main_items;
use crate::vision::segment::{ItemRegion, Segmenter};

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
