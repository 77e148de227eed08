//! One item judged by whichever tier the model is: its score and its heat map.

use image::RgbImage;

use super::{AnomalyModel, ItemScore};
use crate::model::heat::HeatMap;
use crate::model::tier::Tier;
use crate::vision::features;
use crate::vision::segment::ItemRegion;

/// What a detector says about one item.
#[derive(Clone, Debug)]
pub struct Assessment {
    /// The calibrated score and its parts.
    pub score: ItemScore,
    /// Where the item differs from good product, in the pixels of the frame it was found in.
    pub heat: HeatMap,
}

impl AnomalyModel {
    /// Judge the item `region` of `frame` (the frame at the model's binning) with the model's
    /// tier: the classical features and Gaussians, or the pretrained network's patches and
    /// the memory bank of good patches.
    pub fn assess(&self, frame: &RgbImage, region: &ItemRegion) -> Assessment {
        if let (Tier::Deep, Some(deep)) = (self.tier, &self.deep) {
            return deep.assess(frame, region);
        }
        let f = features::extract(frame, region);
        let score = self.score(&f);
        let heat = HeatMap::from_cells(&f.patches, &score.cells);
        Assessment { score, heat }
    }
}
