//! Evaluation on an MVTec-style dataset tree: train on `train/good`, score every image of
//! `test*/<class>/`, compare with the truth (folder = class, `ground_truth/<class>/*_mask.png`
//! = defect pixels).

pub mod gate;
pub mod pixels;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;
use serde::Serialize;

use crate::capture::folder::list_images;
use crate::imageio::binning;
use crate::imageio::{load_rgb, load_rgb_binned};
use crate::inspect::HeatMap;
use crate::model::grading::{GradingOptions, GradingReport, evaluate_grading, read_labels};
use crate::model::metrics::{Confusion, auroc};
use crate::model::operating::LabelledScore;
use crate::model::{AnomalyModel, TrainOptions};
use crate::vision::features::{self, ItemFeatures};
use crate::vision::resolution;
use crate::vision::segment::{ItemRegion, SegmentConfig, Segmenter};

/// One test image with its class and, when the dataset has one, its defect mask.
#[derive(Clone, Debug)]
pub struct TestImage {
    /// The photo.
    pub path: PathBuf,
    /// Folder name under `test*/`: `good` or a defect class.
    pub class: String,
    /// `ground_truth/<class>/<stem>_mask.png`, when present.
    pub mask: Option<PathBuf>,
}

impl TestImage {
    /// True for good product.
    pub fn is_good(&self) -> bool {
        self.class == "good"
    }
}

/// An MVTec-style dataset on disk.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Root folder.
    pub root: PathBuf,
    /// `train/good` images.
    pub train_good: Vec<PathBuf>,
    /// Every image under `test*/<class>/`.
    pub test: Vec<TestImage>,
}

impl Dataset {
    /// Read the tree. Errors name the folder that is missing or empty.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        if !root.is_dir() {
            anyhow::bail!("dataset folder {} does not exist", root.display());
        }
        let train_dir = root.join("train/good");
        let train_good = list_images(&train_dir)
            .with_context(|| format!("dataset {} needs good training images", root.display()))?;
        let mut test = Vec::new();
        let mut test_dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .with_context(|| format!("cannot list {}", root.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("test"))
            })
            .collect();
        test_dirs.sort();
        for dir in test_dirs {
            let mut classes: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot list {}", dir.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            classes.sort();
            for class_dir in classes {
                let class = class_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let Ok(images) = list_images(&class_dir) else {
                    continue;
                };
                for path in images {
                    let stem = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let mask = root
                        .join("ground_truth")
                        .join(&class)
                        .join(format!("{stem}_mask.png"));
                    test.push(TestImage {
                        path,
                        class: class.clone(),
                        mask: (class != "good" && mask.is_file()).then_some(mask),
                    });
                }
            }
        }
        if test.is_empty() {
            anyhow::bail!(
                "dataset {} has no test images (test/<class>/*.jpg)",
                root.display()
            );
        }
        Ok(Self {
            root: root.to_path_buf(),
            train_good,
            test,
        })
    }

    /// Test classes in order of first appearance, `good` first.
    pub fn classes(&self) -> Vec<String> {
        let mut out = vec!["good".to_string()];
        for t in &self.test {
            if !out.contains(&t.class) {
                out.push(t.class.clone());
            }
        }
        out
    }
}

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

/// Results of the anomaly detector on the test images.
#[derive(Clone, Debug, Serialize)]
pub struct AnomalyReport {
    /// Good training images and the items found in them.
    pub train_images: usize,
    pub train_items: usize,
    /// Test images per class.
    pub test_images: Vec<(String, usize)>,
    /// Image AUROC, good vs every defect class together.
    pub image_auroc: Option<f64>,
    /// Image AUROC of good vs each defect class.
    pub image_auroc_per_class: Vec<(String, f64)>,
    /// Pixel AUROC over all pixels of the images with masks (and the good images).
    pub pixel_auroc_all: Option<f64>,
    /// Pixel AUROC over the pixels inside the convex hull of the product.
    pub pixel_auroc_item: Option<f64>,
    /// Images that contributed pixels (masked defects + good).
    pub pixel_images: usize,
    /// Reject threshold chosen on the training images (held-out folds), not on the test set.
    pub threshold: f64,
    /// Decisions at that threshold (positive = defective).
    pub confusion: ConfusionReport,
    /// Share of each defect class rejected.
    pub recall_per_class: Vec<(String, f64)>,
    /// Seconds: training (feature extraction included), scoring the test set.
    pub train_seconds: f64,
    pub test_seconds: f64,
    /// Median time per test image from decoded pixels to verdict and heat map, ms.
    pub ms_per_image_median: f64,
}

/// A 2x2 confusion matrix with the derived rates, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct ConfusionReport {
    pub true_pos: u64,
    pub false_pos: u64,
    pub true_neg: u64,
    pub false_neg: u64,
    /// Defect class: precision, recall, F1.
    pub defect_precision: f64,
    pub defect_recall: f64,
    pub defect_f1: f64,
    /// Good class: precision, recall, F1.
    pub good_precision: f64,
    pub good_recall: f64,
    pub good_f1: f64,
}

impl From<Confusion> for ConfusionReport {
    fn from(c: Confusion) -> Self {
        let f1 = |p: f64, r: f64| {
            if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            }
        };
        let ratio = |a: u64, b: u64| {
            if a + b > 0 {
                a as f64 / (a + b) as f64
            } else {
                0.0
            }
        };
        let dp = ratio(c.true_pos, c.false_pos);
        let dr = ratio(c.true_pos, c.false_neg);
        let gp = ratio(c.true_neg, c.false_neg);
        let gr = ratio(c.true_neg, c.false_pos);
        Self {
            true_pos: c.true_pos,
            false_pos: c.false_pos,
            true_neg: c.true_neg,
            false_neg: c.false_neg,
            defect_precision: dp,
            defect_recall: dr,
            defect_f1: f1(dp, dr),
            good_precision: gp,
            good_recall: gr,
            good_f1: f1(gp, gr),
        }
    }
}

/// Everything `foodqc eval` reports.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Dataset folder.
    pub dataset: String,
    /// Model version trained for this evaluation.
    pub model_version: String,
    /// Anomaly detection (trained on good images only).
    pub anomaly: AnomalyReport,
    /// Grade classification, when the dataset has labels with near-duplicate groups
    /// (`labels.csv` beside the tree, rows under `<dataset name>/`).
    pub grading: Option<GradingReport>,
    /// Every test image's score with its true class: saved beside the model as
    /// `<name>_scores.json` so thresholds can be chosen without recomputing features.
    #[serde(skip)]
    pub scores: Vec<LabelledScore>,
}

/// Where the grade labels of a dataset tree are: `labels.csv` in its parent folder with rows
/// under `<tree name>/` and a `neardup_group` column (the fruit layout). `None` otherwise.
pub fn grading_labels(root: &Path) -> Option<(PathBuf, String)> {
    let parent = root.parent()?;
    let name = root.file_name()?.to_string_lossy().to_string();
    let rows = read_labels(parent, &name).ok()?;
    (!rows.is_empty()).then(|| (parent.to_path_buf(), name))
}

/// Measure the product items of one image: features for each main item.
fn image_items(seg: &mut Segmenter, img: &image::RgbImage) -> (Vec<ItemRegion>, Vec<usize>) {
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

/// Train on `train/good` and evaluate on the test images. `progress(done, total, stage)`.
/// With `previews`, a side-by-side picture (photo, pixel scores, truth) of every test image
/// with a mask is written there.
pub fn evaluate(
    ds: &Dataset,
    segment: &SegmentConfig,
    train: &TrainOptions,
    previews: Option<&Path>,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> anyhow::Result<(EvalReport, AnomalyModel)> {
    let t0 = Instant::now();
    let n_train = ds.train_good.len();
    let binning = match train.binning {
        Some(n) => n,
        None => choose_binning(&ds.train_good, segment),
    };
    let train = &TrainOptions {
        binning: Some(binning),
        ..train.clone()
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let per_image: Vec<anyhow::Result<Vec<ItemFeatures>>> = ds
        .train_good
        .par_iter()
        .map(|path| {
            let img = load_rgb_binned(path, binning).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut seg = Segmenter::new(segment.clone());
            let items = main_item_features(&mut seg, &img);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, n_train, "training");
            Ok(items)
        })
        .collect();
    let mut good = Vec::new();
    for r in per_image {
        match r {
            Ok(items) => good.extend(items),
            Err(e) => tracing::warn!("skipped a training image: {e:#}"),
        }
    }
    let name = ds
        .root
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "dataset".into());
    let model = AnomalyModel::train(&good, segment.clone(), train, &name, &|| false)?;
    let train_seconds = t0.elapsed().as_secs_f64();

    // Score the test images in parallel.
    let t1 = Instant::now();
    let total = ds.test.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let scored: Vec<anyhow::Result<ScoredImage>> = ds
        .test
        .par_iter()
        .map(|t| {
            let r = score_image(&model, segment, t);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total, "testing");
            r
        })
        .collect();
    let test_seconds = t1.elapsed().as_secs_f64();
    let mut images = Vec::new();
    for r in scored {
        images.push(r?);
    }

    let scores: Vec<f64> = images.iter().map(|s| s.score).collect();
    let defective: Vec<bool> = ds.test.iter().map(|t| !t.is_good()).collect();
    let image_auroc = auroc(&scores, &defective);
    let mut per_class = Vec::new();
    let mut recall_per_class = Vec::new();
    let mut test_images = Vec::new();
    for class in ds.classes() {
        let n = ds.test.iter().filter(|t| t.class == class).count();
        test_images.push((class.clone(), n));
        if class == "good" {
            continue;
        }
        let (s, d): (Vec<f64>, Vec<bool>) = ds
            .test
            .iter()
            .zip(&scores)
            .filter(|(t, _)| t.is_good() || t.class == class)
            .map(|(t, s)| (*s, !t.is_good()))
            .unzip();
        if let Some(a) = auroc(&s, &d) {
            per_class.push((class.clone(), a));
        }
        let rejected = ds
            .test
            .iter()
            .zip(&scores)
            .filter(|(t, s)| t.class == class && **s > model.thresholds.reject)
            .count();
        recall_per_class.push((class, rejected as f64 / n.max(1) as f64));
    }
    let mut confusion = Confusion::default();
    for (t, s) in ds.test.iter().zip(&scores) {
        confusion.add(!t.is_good(), *s > model.thresholds.reject);
    }
    // Pixel AUROC over images that have masks, plus the good ones (all-zero masks).
    let mut all = pixels::PixelAuroc::default();
    let mut inside = pixels::PixelAuroc::default();
    let mut pixel_images = 0;
    let has_masks = ds.test.iter().any(|t| t.mask.is_some());
    if has_masks {
        for (t, img) in ds.test.iter().zip(&images) {
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
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let photo = load_rgb(&t.path).map_err(|e| anyhow::anyhow!("{e}"))?;
                let pic = pixels::side_by_side(
                    &photo,
                    img,
                    truth.as_ref(),
                    model.thresholds.pixel as f32,
                );
                let name = t
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                let out = dir.join(format!("{}-{name}.png", t.class));
                pic.save(&out)
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
        }
    }
    let mut ms: Vec<f64> = images.iter().map(|i| i.ms).collect();
    ms.sort_by(f64::total_cmp);
    let report = EvalReport {
        dataset: ds.root.display().to_string(),
        model_version: model.version.clone(),
        anomaly: AnomalyReport {
            train_images: n_train,
            train_items: good.len(),
            test_images,
            image_auroc,
            image_auroc_per_class: per_class,
            pixel_auroc_all: has_masks.then(|| all.auroc()).flatten(),
            pixel_auroc_item: has_masks.then(|| inside.auroc()).flatten(),
            pixel_images,
            threshold: model.thresholds.reject,
            confusion: confusion.into(),
            recall_per_class,
            train_seconds,
            test_seconds,
            ms_per_image_median: crate::model::metrics::quantile(&ms, 0.5),
        },
        grading: match grading_labels(&ds.root) {
            Some((dir, subset)) => Some(evaluate_grading(
                &dir,
                &subset,
                &GradingOptions::default(),
                &|done, total| progress(done, total, "grading"),
            )?),
            None => None,
        },
        scores: ds
            .test
            .iter()
            .zip(&scores)
            .map(|(t, s)| LabelledScore {
                score: *s,
                class: t.class.clone(),
                origin: t.path.display().to_string(),
            })
            .collect(),
    };
    Ok((report, model))
}

/// One scored test image: its image score and what is needed for pixel scores.
pub struct ScoredImage {
    /// Image score: the worst main item (0 when no item was found).
    pub score: f64,
    /// Image size.
    pub width: u32,
    pub height: u32,
    /// Main items: their region and heat map.
    pub items: Vec<(ItemRegion, HeatMap)>,
    /// Pixel anomaly scores, row-major (see [`pixels::score_map`]).
    pub pixel_scores: Vec<f32>,
    /// Pixels inside the product's convex hull (see [`pixels::hull_mask`]).
    pub hull: image::GrayImage,
    /// Decode-excluded processing time, ms.
    pub ms: f64,
}

/// The binning for a dataset: from the items of its first few training photos at full
/// resolution (see [`resolution::choose_for_frames`]). Unreadable photos are skipped here; the
/// training pass reports them.
fn choose_binning(train_good: &[PathBuf], segment: &SegmentConfig) -> u32 {
    let photos: Vec<image::RgbImage> = train_good
        .iter()
        .take(resolution::SAMPLE_FRAMES)
        .filter_map(|p| load_rgb(p).ok())
        .collect();
    let refs: Vec<&image::RgbImage> = photos.iter().collect();
    let n = resolution::choose_for_frames(&refs, segment).unwrap_or(1);
    tracing::info!(
        "binning {n}x{n}, from the items of {} training photos",
        refs.len()
    );
    n
}

fn score_image(
    model: &AnomalyModel,
    segment: &SegmentConfig,
    t: &TestImage,
) -> anyhow::Result<ScoredImage> {
    let img = load_rgb_binned(&t.path, model.binning).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let mut seg = Segmenter::new(segment.clone());
    let (regions, main) = image_items(&mut seg, &img);
    let mut score: f64 = 0.0;
    let mut items = Vec::new();
    for i in main {
        let f = features::extract(&img, &regions[i]);
        let s = model.score(&f);
        score = score.max(s.score);
        items.push((
            regions[i].clone(),
            HeatMap::from_cells(&f.patches, &s.cells),
        ));
    }
    let mut scored = ScoredImage {
        score,
        width: img.width(),
        height: img.height(),
        items,
        pixel_scores: Vec::new(),
        hull: image::GrayImage::new(0, 0),
        ms: 0.0,
    };
    scored.hull = pixels::hull_mask(&scored);
    scored.pixel_scores = pixels::score_map(&scored, &img, model.colour.as_ref());
    if model.binning > 1 {
        // Pixel scores are judged against the masks at the photo's own resolution.
        let (w, h) = image::image_dimensions(&t.path)
            .with_context(|| format!("cannot read the size of {}", t.path.display()))?;
        let n = model.binning;
        // The stored size is before the EXIF rotation, which the pixels have had.
        let full = if binning::binned_size(w, h, n) == img.dimensions() {
            (w, h)
        } else {
            (h, w)
        };
        scored.pixel_scores = binning::upsample(&scored.pixel_scores, img.dimensions(), n, full);
        scored.hull = binning::upsample_mask(&scored.hull, n, full);
        (scored.width, scored.height) = full;
    }
    scored.ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(scored)
}

impl EvalReport {
    /// The test scores as a score file for `model`.
    pub fn score_file(&self) -> crate::model::operating::ScoreFile {
        crate::model::operating::ScoreFile {
            format: crate::model::operating::SCORE_FILE_FORMAT.into(),
            model_version: self.model_version.clone(),
            dataset: self.dataset.clone(),
            items: self.scores.clone(),
        }
    }

    /// A readable summary.
    pub fn to_text(&self) -> String {
        let a = &self.anomaly;
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "n/a".into());
        let mut s = format!(
            "foodqc eval: {}\nmodel {}\n\nanomaly detector (trained on {} good images, {} items)\n",
            self.dataset, self.model_version, a.train_images, a.train_items
        );
        let classes: Vec<String> = a
            .test_images
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        s += &format!("  test images        {}\n", classes.join(", "));
        s += &format!("  image AUROC        {}\n", opt(a.image_auroc));
        for (c, v) in &a.image_auroc_per_class {
            s += &format!("    good vs {c:<10} {v:.4}\n");
        }
        s += &format!(
            "  pixel AUROC        {} (all pixels), {} (inside the item), over {} images\n",
            opt(a.pixel_auroc_all),
            opt(a.pixel_auroc_item),
            a.pixel_images
        );
        s += &format!(
            "  threshold          {:.3} (from held-out training folds)\n",
            a.threshold
        );
        let c = &a.confusion;
        s += &format!(
            "  confusion          predicted reject / pass\n    defective        {:>5} / {:<5}\n    good             {:>5} / {:<5}\n",
            c.true_pos, c.false_neg, c.false_pos, c.true_neg
        );
        s += &format!(
            "  defect             precision {:.3}  recall {:.3}  F1 {:.3}\n  good               precision {:.3}  recall {:.3}  F1 {:.3}\n",
            c.defect_precision,
            c.defect_recall,
            c.defect_f1,
            c.good_precision,
            c.good_recall,
            c.good_f1
        );
        for (class, r) in &a.recall_per_class {
            s += &format!("    rejected {class:<10} {r:.3}\n");
        }
        s += &format!(
            "  time               train {:.2} s, test {:.2} s, {:.1} ms per image (median, decoded)\n",
            a.train_seconds, a.test_seconds, a.ms_per_image_median
        );
        if let Some(g) = &self.grading {
            s += "\n";
            s += &g.to_text();
        }
        s
    }
}
