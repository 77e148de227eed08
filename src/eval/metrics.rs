//! Image- and pixel-level metrics of a scored test set, and the preview pictures.

use std::path::Path;

use super::{Dataset, EvalError, ScoredImage, TestImage, pixels};
use crate::domain::GOOD;
use crate::imageio::load_rgb;
use crate::model::AnomalyModel;
use crate::model::metrics::{Confusion, auroc};

/// Image-level results: AUROC overall and per defect class, recall per class at the reject
/// threshold, the confusion matrix and the test images per class.
pub(super) struct ImageMetrics {
    pub(super) image_auroc: Option<f64>,
    pub(super) per_class: Vec<(String, f64)>,
    pub(super) recall_per_class: Vec<(String, f64)>,
    pub(super) test_images: Vec<(String, usize)>,
    pub(super) confusion: Confusion,
}

impl ImageMetrics {
    /// The metrics of `scores` (one per test image of `ds`, in order) at threshold `reject`.
    pub(super) fn of(ds: &Dataset, scores: &[f64], reject: f64) -> Self {
        let defective: Vec<bool> = ds.test.iter().map(|t| !t.is_good()).collect();
        let image_auroc = auroc(scores, &defective);
        let mut per_class = Vec::new();
        let mut recall_per_class = Vec::new();
        let mut test_images = Vec::new();
        for class in ds.classes() {
            let n = ds.test.iter().filter(|t| t.class == class).count();
            test_images.push((class.clone(), n));
            if class == GOOD {
                continue;
            }
            let (s, d): (Vec<f64>, Vec<bool>) = ds
                .test
                .iter()
                .zip(scores)
                .filter(|(t, _)| t.is_good() || t.class == class)
                .map(|(t, s)| (*s, !t.is_good()))
                .unzip();
            if let Some(a) = auroc(&s, &d) {
                per_class.push((class.clone(), a));
            }
            let rejected = ds
                .test
                .iter()
                .zip(scores)
                .filter(|(t, s)| t.class == class && **s > reject)
                .count();
            recall_per_class.push((class, rejected as f64 / n.max(1) as f64));
        }
        let mut confusion = Confusion::default();
        for (t, s) in ds.test.iter().zip(scores) {
            // A score that is not finite is never a pass.
            confusion.add(!t.is_good(), !(s.is_finite() && *s <= reject));
        }
        Self {
            image_auroc,
            per_class,
            recall_per_class,
            test_images,
            confusion,
        }
    }
}

/// Pixel-level results over the images that have masks, plus the good ones (all-zero masks).
pub(super) struct PixelMetrics {
    /// AUROC over all their pixels; `None` when the dataset has no mask at all.
    pub(super) all: Option<f64>,
    /// AUROC over the pixels inside the product's hull.
    pub(super) inside: Option<f64>,
    /// Images that contributed pixels.
    pub(super) images: usize,
}

impl PixelMetrics {
    /// Accumulates the pixel scores of `images` (one per test image of `ds`) against their
    /// masks; with `previews`, writes a side-by-side picture of each there.
    pub(super) fn of(
        ds: &Dataset,
        images: &[ScoredImage],
        model: &AnomalyModel,
        previews: Option<&Path>,
    ) -> Result<Self, EvalError> {
        let mut all = pixels::PixelAuroc::default();
        let mut inside = pixels::PixelAuroc::default();
        let mut pixel_images = 0;
        let has_masks = ds.test.iter().any(|t| t.mask.is_some());
        if has_masks {
            for (t, img) in ds.test.iter().zip(images) {
                if !(t.is_good() || t.mask.is_some()) {
                    continue;
                }
                let truth = match &t.mask {
                    Some(m) => Some(pixels::load_mask(m, img.width, img.height)?),
                    None => None,
                };
                pixels::accumulate(img, truth.as_ref(), &mut all, &mut inside);
                pixel_images += 1;
                if let Some(dir) = previews {
                    write_preview(dir, t, img, truth.as_ref(), model.thresholds.pixel as f32)?;
                }
            }
        }
        Ok(Self {
            all: has_masks.then(|| all.auroc()).flatten(),
            inside: has_masks.then(|| inside.auroc()).flatten(),
            images: pixel_images,
        })
    }
}

/// Writes `<dir>/<class>-<stem>.png`: the photo, its pixel scores and the truth side by side.
fn write_preview(
    dir: &Path,
    t: &TestImage,
    img: &ScoredImage,
    truth: Option<&image::GrayImage>,
    pixel_threshold: f32,
) -> Result<(), EvalError> {
    std::fs::create_dir_all(dir).map_err(|source| EvalError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let photo = load_rgb(&t.path)?;
    let pic = pixels::side_by_side(&photo, img, truth, pixel_threshold);
    let name = t
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let out = dir.join(format!("{}-{name}.png", t.class));
    crate::imageio::save_png_private(&pic, &out)
        .map_err(|source| EvalError::WritePreview { path: out, source })
}
