//! Naming the defect of suspicious items, so the verdict can use the class's own reject
//! threshold.

use image::RgbImage;
use rayon::prelude::*;

use super::InspectedItem;
use crate::domain::{BBox, GOOD, Thresholds, Verdict};
use crate::imageio::crop::crop_with_margin;
use crate::model::classifier::{GradeClassifier, describe_image};
use crate::vision::segment::{SegmentConfig, Segmenter};

/// The lowest score at which any of `t` could reject or review an item: the smallest of the
/// review, reject and every per-class reject threshold. At or below it an item passes
/// whatever its class, so it is not classified.
pub fn lowest_alarm(t: &Thresholds) -> f64 {
    t.per_class
        .values()
        .copied()
        .chain(t.review)
        .fold(t.reject, f64::min)
}

/// Name the class of each scored item above [`lowest_alarm`] with `classifier` and decide its
/// verdict with that class's threshold. An item keeps its class only when it is rejected or
/// reviewed; the classifier's `good` names no class. Clearly good items cost nothing.
///
/// `frame` is the full-resolution frame and the items' boxes are in its pixels; each item is
/// cropped with [`crop_with_margin`] and described with [`describe_image`] (segmented with
/// `segment`, the anomaly model's settings), as the crops a classifier is trained on; in
/// parallel across the suspects.
/// [`super::Inspector::inspect`] runs this step; a caller with its own pipeline (a bench)
/// can run the same step.
pub fn classify_suspects(
    classifier: &GradeClassifier,
    segment: &SegmentConfig,
    thresholds: &Thresholds,
    frame: &RgbImage,
    items: &mut [InspectedItem],
) {
    let lowest = lowest_alarm(thresholds);
    items
        .par_iter_mut()
        .filter(|it| it.score.is_some_and(|s| s > lowest))
        .for_each_init(
            || Segmenter::new(segment.clone()),
            |describer, it| {
                let Some(score) = it.score else { return };
                let class = name_class(classifier, describer, frame, it.bbox);
                let verdict = thresholds.verdict(score, class.as_deref());
                it.verdict = Some(verdict);
                it.defect_class = class.filter(|_| verdict != Verdict::Pass);
            },
        );
}

/// The defect class of the item in `bbox` (frame pixels), `None` when the classifier calls it
/// good or fails (logged: the line runs on without a class).
fn name_class(
    classifier: &GradeClassifier,
    describer: &mut Segmenter,
    frame: &RgbImage,
    bbox: BBox,
) -> Option<String> {
    let crop = crop_with_margin(frame, bbox);
    let d = describe_image(&crop, describer);
    match classifier.predict(&d) {
        Ok(p) if p.class != GOOD => Some(p.class),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("defect classifier: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_alarm_is_the_smallest_threshold() {
        let mut t = Thresholds::new(1.4, 1.5);
        assert_eq!(lowest_alarm(&t), 1.4);
        t.review = Some(1.1);
        assert_eq!(lowest_alarm(&t), 1.1);
        t.per_class.insert("crack".into(), 0.9);
        t.per_class.insert("burnt".into(), 2.0);
        assert_eq!(lowest_alarm(&t), 0.9);
    }
}
