//! The deep descriptor of a photo for the grade classifier: the pretrained network's pooled
//! embedding of a square crop around the photo's main item.

use std::time::Instant;

use rayon::prelude::*;

use super::cv::DescriptorSet;
use super::{GradingError, LabelledImage, PROGRESS_CHUNK};
use crate::domain::BBox;
use crate::imageio::crop::square_around;
use crate::imageio::load_rgb;
use crate::model::backbone::{Backbone, Outputs};
use crate::model::deep::{CROP_MARGIN, DEFAULT_CROP_SIZE};
use crate::model::tier::Tier;
use crate::vision::segment::{SegmentConfig, Segmenter, main_items};

/// Identifier of the deep grade descriptor, written to classifier files.
pub const DEEP_DESCRIPTOR_SET: &str = "efficientnet-lite0-embedding-160";

/// The embedding of one photo, and whether an item was found (else the whole photo was
/// used).
pub fn describe_image_deep(
    backbone: &Backbone,
    img: &image::RgbImage,
    seg: &mut Segmenter,
) -> Result<(Vec<f64>, bool), crate::model::backbone::BackboneError> {
    let regions = seg.segment(img);
    let largest = main_items(&regions)
        .into_iter()
        .max_by_key(|&i| regions[i].area);
    let (bbox, found) = match largest {
        Some(i) => (regions[i].bbox, true),
        None => (
            BBox {
                x: 0,
                y: 0,
                w: img.width(),
                h: img.height(),
            },
            false,
        ),
    };
    let (crop, _) = square_around(img, bbox, CROP_MARGIN, DEFAULT_CROP_SIZE);
    let features = backbone.run(&crop, Outputs::Embedding)?;
    let embedding = features.embedding.unwrap_or_default();
    Ok((embedding.iter().map(|v| f64::from(*v)).collect(), found))
}

/// Every image described by [`describe_image_deep`], in parallel.
pub(super) fn describe_images_deep(
    images: &[LabelledImage],
    segment: &SegmentConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<DescriptorSet, GradingError> {
    let started = Instant::now();
    let backbone = Backbone::bundled().map_err(|e| GradingError::Network(e.to_string()))?;
    let total = images.len();
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(total);
    let mut found = 0usize;
    progress(0, total);
    for chunk in images.chunks(PROGRESS_CHUNK) {
        let part: Vec<(Vec<f64>, bool)> = chunk
            .par_iter()
            .map_init(
                || Segmenter::new(segment.clone()),
                |seg, item| -> Result<(Vec<f64>, bool), GradingError> {
                    let img = load_rgb(&item.path)?;
                    describe_image_deep(backbone, &img, seg)
                        .map_err(|e| GradingError::Network(format!("{}: {e}", item.path.display())))
                },
            )
            .collect::<Result<_, GradingError>>()?;
        for (row, f) in part {
            found += usize::from(f);
            rows.push(row);
        }
        progress(rows.len(), total);
    }
    let dim = rows.first().map_or(0, Vec::len);
    Ok(DescriptorSet {
        tier: Tier::Deep,
        name: DEEP_DESCRIPTOR_SET.to_string(),
        feature_names: (0..dim).map(|i| format!("embedding_{i}")).collect(),
        rows,
        item_found_share: found as f64 / total.max(1) as f64,
        seconds: started.elapsed().as_secs_f64(),
    })
}
