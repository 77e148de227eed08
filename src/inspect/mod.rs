//! Inspection of one frame: find items, measure them, score them, name the defect of the
//! suspicious ones, decide.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use image::RgbImage;
use rayon::prelude::*;

mod classify;
pub mod overlay;

pub use crate::model::heat::HeatMap;
pub use classify::{classify_suspects, lowest_alarm};

use crate::domain::BBox;
use crate::domain::Verdict;
use crate::imageio::binning;
use crate::model::classifier::GradeClassifier;
use crate::model::{AnomalyModel, InspectionModel};
use crate::vision::features;
use crate::vision::segment::{ItemRegion, Segmenter};

/// Everything decided about one item in one frame.
#[derive(Clone, Debug)]
pub struct InspectedItem {
    /// Position in the frame's item list (left to right).
    pub index: usize,
    /// Bounding box in frame pixels.
    pub bbox: BBox,
    /// Outline in frame pixels.
    pub contour: Vec<[f32; 2]>,
    /// Centroid in frame pixels.
    pub centroid: (f32, f32),
    /// Diameter of the disc of equal area, pixels.
    pub equiv_diameter: f32,
    /// Cut by the frame border: on a moving line it is judged when fully in view.
    pub partial: bool,
    /// Anomaly score, when the item was scored.
    pub score: Option<f64>,
    /// Whole-item and worst-patch parts of the score.
    pub score_parts: Option<(f64, f64)>,
    /// Verdict, when the item was scored.
    pub verdict: Option<Verdict>,
    /// Patch anomaly map, when the item was scored.
    pub heat: Option<HeatMap>,
    /// Defect regions found on the heat map, frame pixels.
    pub regions: Vec<BBox>,
    /// Track id on continuous sources (same physical item across frames).
    pub track_id: Option<u64>,
    /// Defect class named by the inspector's defect classifier, on rejected and review items
    /// (when it has a classifier and the class is not `good`); the verdict used that class's
    /// reject threshold.
    pub defect_class: Option<String>,
    /// True on the one frame where this tracked item is recorded.
    pub record: bool,
}

impl InspectedItem {
    /// Map an item found on a frame binned by `n` to the pixels of the `frame` itself.
    pub fn unbin(&mut self, n: u32, frame: (u32, u32)) {
        let up = |b: BBox| binning::bbox_to_frame(b, n, frame);
        self.bbox = up(self.bbox);
        for p in &mut self.contour {
            *p = [binning::to_frame(p[0], n), binning::to_frame(p[1], n)];
        }
        self.centroid = (
            binning::to_frame(self.centroid.0, n),
            binning::to_frame(self.centroid.1, n),
        );
        self.equiv_diameter *= n as f32;
        if let Some(h) = &mut self.heat {
            h.x0 *= n;
            h.y0 *= n;
            h.cell *= n;
        }
        for r in &mut self.regions {
            *r = up(*r);
        }
    }
}

/// Time spent per stage on one frame, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimings {
    /// Finding items.
    pub segment_ms: f64,
    /// Measuring and scoring items (parallel across items).
    pub score_ms: f64,
    /// Naming the defect class of suspicious items (0 without a classifier).
    pub classify_ms: f64,
    /// The whole inspection.
    pub total_ms: f64,
}

/// The result of inspecting one frame.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// Frame sequence number from the source.
    pub seq: u64,
    /// When the frame was captured.
    pub captured_at: SystemTime,
    /// The frame itself (shared, not copied).
    pub frame: Arc<RgbImage>,
    /// File the frame came from, if any.
    pub origin: Option<String>,
    /// Items, left to right.
    pub items: Vec<InspectedItem>,
    /// Stage times.
    pub timings: StageTimings,
    /// Version label of the model that judged the items.
    pub model_version: String,
}

impl Inspection {
    /// Items with a verdict.
    pub fn judged(&self) -> impl Iterator<Item = &InspectedItem> {
        self.items.iter().filter(|i| i.verdict.is_some())
    }
}

/// Turns frames into inspections with one anomaly model and, optionally, a defect
/// classifier; keeps scratch buffers between frames.
pub struct Inspector {
    segmenter: Segmenter,
    model: Arc<AnomalyModel>,
    classifier: Option<Arc<GradeClassifier>>,
}

impl Inspector {
    /// An inspector judging with `model` (its segmentation settings included): an
    /// [`InspectionModel`], or an `Arc<AnomalyModel>` with its paired classifier
    /// ([`InspectionModel::paired`]: the bundled classifier for the bundled model).
    pub fn new(model: impl Into<InspectionModel>) -> Self {
        let InspectionModel {
            anomaly,
            classifier,
        } = model.into();
        Self {
            segmenter: Segmenter::new(anomaly.segment.clone()),
            model: anomaly,
            classifier,
        }
    }

    /// The anomaly model in use.
    pub fn model(&self) -> &Arc<AnomalyModel> {
        &self.model
    }

    /// The defect classifier in use, if any.
    pub fn classifier(&self) -> Option<&Arc<GradeClassifier>> {
        self.classifier.as_ref()
    }

    /// Swap the anomaly model between two frames (hot swap: no frame is lost). The same
    /// version (new thresholds) keeps the classifier; another version takes its paired one
    /// ([`InspectionModel::paired`]), which [`Inspector::set_classifier`] can then replace.
    pub fn set_model(&mut self, model: Arc<AnomalyModel>) {
        if model.version != self.model.version {
            self.classifier = InspectionModel::paired(model.clone()).classifier;
        }
        if model.segment != *self.segmenter.config() {
            self.segmenter = Segmenter::new(model.segment.clone());
        }
        self.model = model;
    }

    /// Name defect classes with `classifier` from the next frame on (`None`: name none).
    pub fn set_classifier(&mut self, classifier: Option<Arc<GradeClassifier>>) {
        self.classifier = classifier;
    }

    /// Swap the anomaly model and the classifier together.
    pub fn set_inspection_model(&mut self, model: InspectionModel) {
        self.set_model(model.anomaly);
        self.classifier = model.classifier;
    }

    /// Inspect one frame. Items cut by the border are scored only when `score_partial` is set
    /// (still photos); on a moving line they are judged once fully in view. With a classifier,
    /// items scoring above [`lowest_alarm`] get a defect class and the verdict of its threshold.
    pub fn inspect(
        &mut self,
        seq: u64,
        captured_at: SystemTime,
        frame: Arc<RgbImage>,
        origin: Option<String>,
        score_partial: bool,
    ) -> Inspection {
        let t0 = Instant::now();
        let model = &self.model;
        // A binned model sees the frame at its own resolution; what it finds is mapped back.
        let binned = (model.binning > 1).then(|| binning::bin(&frame, model.binning));
        let work = binned.as_ref().unwrap_or(&frame);
        let regions = self.segmenter.segment(work);
        let t1 = Instant::now();
        let mut items: Vec<InspectedItem> = regions
            .par_iter()
            .enumerate()
            .map(|(index, region)| judge(model, work, index, region, score_partial))
            .collect();
        if binned.is_some() {
            for it in &mut items {
                it.unbin(model.binning, frame.dimensions());
            }
        }
        let t2 = Instant::now();
        if let Some(c) = &self.classifier {
            // On the full-resolution frame, as the crops a classifier is trained on.
            classify::classify_suspects(c, &model.segment, &model.thresholds, &frame, &mut items);
        }
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
        Inspection {
            seq,
            captured_at,
            frame,
            origin,
            items,
            timings: StageTimings {
                segment_ms: ms(t0, t1),
                score_ms: ms(t1, t2),
                classify_ms: ms(t2, t3),
                total_ms: ms(t0, t3),
            },
            model_version: model.version.clone(),
        }
    }
}

fn judge(
    model: &AnomalyModel,
    frame: &RgbImage,
    index: usize,
    region: &ItemRegion,
    score_partial: bool,
) -> InspectedItem {
    let geo = features::item_geometry(region);
    let mut item = InspectedItem {
        index,
        bbox: region.bbox,
        contour: region.contour.clone(),
        centroid: geo.centroid,
        equiv_diameter: geo.equiv_diameter,
        partial: region.touches_border,
        score: None,
        score_parts: None,
        verdict: None,
        heat: None,
        regions: Vec::new(),
        track_id: None,
        defect_class: None,
        record: !region.touches_border || score_partial,
    };
    if region.touches_border && !score_partial {
        return item;
    }
    let crate::model::anomaly::Assessment { score: s, heat } = model.assess(frame, region);
    item.regions = heat.regions(model.thresholds.pixel as f32);
    item.heat = Some(heat);
    item.verdict = Some(model.verdict(s.score));
    item.score = Some(s.score);
    item.score_parts = Some((s.item_part, s.patch_part));
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same frame inspected at full resolution and binned 2x2: the items come back in
    /// frame pixels, where the full-resolution inspection puts them.
    #[test]
    fn a_binned_model_reports_items_in_frame_pixels() {
        use crate::capture::FrameSource;
        let mut line = crate::capture::synthetic::SyntheticLine::new(Default::default());
        let frame = Arc::new(line.next_frame().unwrap().unwrap().image);
        let model = AnomalyModel::bundled().unwrap();
        let binned_model = AnomalyModel {
            binning: 2,
            ..model.clone()
        };
        let now = SystemTime::now();
        let full = Inspector::new(Arc::new(model)).inspect(0, now, frame.clone(), None, true);
        let binned =
            Inspector::new(Arc::new(binned_model)).inspect(0, now, frame.clone(), None, true);
        assert!(!full.items.is_empty());
        assert_eq!(full.items.len(), binned.items.len());
        for (a, b) in full.items.iter().zip(&binned.items) {
            let near = |u: u32, v: u32| u.abs_diff(v) <= 4;
            assert!(
                near(a.bbox.x, b.bbox.x)
                    && near(a.bbox.y, b.bbox.y)
                    && near(a.bbox.x + a.bbox.w, b.bbox.x + b.bbox.w)
                    && near(a.bbox.y + a.bbox.h, b.bbox.y + b.bbox.h),
                "{:?} vs {:?}",
                a.bbox,
                b.bbox
            );
            assert!((a.centroid.0 - b.centroid.0).abs() < 2.0);
            assert!((a.centroid.1 - b.centroid.1).abs() < 2.0);
            assert!((a.equiv_diameter / b.equiv_diameter - 1.0).abs() < 0.03);
            let inside = |p: &[f32; 2]| {
                p[0] >= b.bbox.x as f32 - 1.0
                    && p[1] >= b.bbox.y as f32 - 1.0
                    && p[0] <= (b.bbox.x + b.bbox.w) as f32
                    && p[1] <= (b.bbox.y + b.bbox.h) as f32
            };
            assert!(b.contour.iter().all(inside));
            if let Some(h) = &b.heat {
                // The heat grid spans the item in frame pixels.
                assert!(h.x0 <= b.bbox.x + h.cell && h.y0 <= b.bbox.y + h.cell);
                assert!(h.x0 + h.cols * h.cell + h.cell >= b.bbox.x + b.bbox.w);
                assert_eq!(h.cell % 2, 0);
            }
        }
    }

    #[test]
    fn heat_regions_group_neighbouring_cells() {
        let nan = f32::NAN;
        let heat = HeatMap {
            x0: 100,
            y0: 50,
            cell: 10,
            cols: 4,
            rows: 3,
            values: vec![
                3.0, 3.0, 0.1, nan, //
                0.2, 0.1, 0.1, 2.5, //
                nan, 0.1, 0.3, 2.0,
            ],
        };
        let mut r = heat.regions(1.0);
        r.sort_by_key(|b| b.x);
        assert_eq!(
            r,
            vec![
                BBox {
                    x: 100,
                    y: 50,
                    w: 20,
                    h: 10
                },
                BBox {
                    x: 130,
                    y: 60,
                    w: 10,
                    h: 20
                },
            ]
        );
    }
}
