//! Scoring one sample image (a saved item crop or an imported photo) with a model, for the
//! order of the labelling queue: the same measurement training and evaluation use
//! ([`crate::eval::main_item_features`]), then the model's item score and verdict.

use std::path::Path;

use crate::model::AnomalyModel;
use crate::store::SampleScore;
use crate::vision::segment::Segmenter;

/// What [`SampleScore::predicted`] says when no item was found or the file is unreadable.
pub const NO_ITEM: &str = "none";

/// Score a sample image with `model`: its worst item. A file that cannot be read or holds
/// no item still gets a score row (`none`, score 0), so it keeps its place in the queue.
pub fn score_sample(model: &AnomalyModel, sample_id: i64, path: &Path) -> SampleScore {
    let mut out = SampleScore {
        sample_id,
        model_version: model.version.clone(),
        score: 0.0,
        threshold: model.thresholds.reject.max(1e-9),
        predicted: NO_ITEM.into(),
        items: 0,
    };
    let Ok(img) = crate::imageio::load_rgb(path) else {
        return out;
    };
    let img = crate::imageio::binning::bin(&img, model.binning);
    let mut seg = Segmenter::new(model.segment.clone());
    let regions = seg.segment(&img);
    let mut scores = Vec::new();
    for i in crate::eval::main_items(&regions) {
        scores.push(model.assess(&img, &regions[i]).score.score);
    }
    out.items = scores.len() as u32;
    // `worst`, not `max`: a NaN item score must not be lost (it makes the sample infinite,
    // which judges as a reject).
    out.score = crate::model::anomaly::worst(scores);
    if out.items > 0 {
        out.predicted = model.verdict(out.score).as_str().to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_scores_as_no_item() {
        let model = AnomalyModel::bundled().unwrap();
        let s = score_sample(&model, 7, Path::new("/nonexistent/sample.png"));
        assert_eq!((s.sample_id, s.items, s.score), (7, 0, 0.0));
        assert_eq!(s.predicted, NO_ITEM);
        assert_eq!(s.model_version, model.version);
        assert!(s.threshold > 0.0);
    }

    #[test]
    fn a_synthetic_item_is_found_and_judged() {
        use crate::capture::{SourceOptions, SourceSpec};
        let model = AnomalyModel::bundled().unwrap();
        let mut source = SourceSpec::Synthetic { seed: 41 }
            .open(&SourceOptions::default())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame.png");
        // Whole belt frames: their main items are measured like a sample crop's.
        let mut judged = None;
        for _ in 0..40 {
            let Some(frame) = source.next_frame().unwrap() else {
                continue;
            };
            frame.image.save(&path).unwrap();
            let s = score_sample(&model, 1, &path);
            if s.items > 0 {
                judged = Some(s);
                break;
            }
        }
        let s = judged.expect("an item in 40 synthetic frames");
        assert!(["pass", "review", "reject"].contains(&s.predicted.as_str()));
    }
}
