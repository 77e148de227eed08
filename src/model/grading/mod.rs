//! Honest evaluation of the grade classifier on a labelled image collection such as the
//! `fruit` dataset (`labels.csv` + images): grouped K-fold cross-validation in which every
//! near-duplicate group lies entirely on one side of each split, with pooled out-of-fold
//! predictions. The classifier's own settings are picked by an inner cross-validation on
//! the training folds only; nothing is chosen by looking at the test folds.

mod cv;
pub mod deep;
mod report;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use cv::DescriptorSet;
pub use report::{ClassMetrics, GradingReport, ProblemReport, TierReport};

use super::classifier::ClassifierError;
use super::classifier::{
    DESCRIPTOR_FEATURES, DESCRIPTOR_SET, GradeTrainOptions, SelectionMetric, describe_image,
    grouped_folds,
};
use super::tier::{Tier, TierChoice};
use crate::domain::GOOD;
use crate::imageio::{ImageLoadError, load_rgb};
use crate::vision::segment::{SegmentConfig, Segmenter};

/// Errors of the grading evaluation; each names the file, line or fold concerned.
#[derive(Debug, thiserror::Error)]
pub enum GradingError {
    /// `labels.csv` could not be read.
    #[error("{}", crate::tr!("err-model-grading-read", path = .path.display().to_string(), source = .source.to_string()))]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `labels.csv` is malformed.
    #[error("{path}: {what}")]
    Labels {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line number.
        what: String,
    },
    /// An image could not be decoded.
    #[error(transparent)]
    Image(#[from] ImageLoadError),
    /// Training or using a classifier failed on one problem and fold.
    #[error("{problem}, {step}: {source}")]
    Classifier {
        /// The problem (`good / medium / rotten`, `good vs rotten`).
        problem: &'static str,
        /// What was being done.
        step: String,
        /// The classifier's error.
        #[source]
        source: ClassifierError,
    },
    /// The pretrained network failed (on the named image).
    #[error("{}", crate::tr!("err-model-grading-network", v0 = .0.to_string()))]
    Network(String),
    /// The data handed in do not fit together (a bug in the caller).
    #[error("{0}")]
    Inconsistent(String),
}

/// The grade classes of the evaluation, in report order.
pub const GRADE_CLASSES: [&str; 3] = [GOOD, "medium", "rotten"];

/// Map a row of `labels.csv` to a grade class.
///
/// The `original_class` prefix decides (`fresh_*` -> `good`, `normal_*` -> `medium`,
/// `rotten_*` -> `rotten`); when it has none of these prefixes the `label` column does
/// (`good` -> `good`, `medium` -> `medium`, `defect` -> `rotten`). `None` for anything else.
pub fn grade_class(original_class: &str, label: &str) -> Option<&'static str> {
    let prefix = original_class.split('_').next().unwrap_or("");
    match prefix {
        "fresh" => Some(GOOD),
        "normal" => Some("medium"),
        "rotten" => Some("rotten"),
        _ => match label {
            GOOD => Some(GOOD),
            "medium" => Some("medium"),
            "defect" => Some("rotten"),
            _ => None,
        },
    }
}

/// One labelled image of the collection.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledImage {
    /// Full path of the photo.
    pub path: PathBuf,
    /// Grade class, one of [`GRADE_CLASSES`].
    pub class: &'static str,
    /// Near-duplicate group id: images of a group never straddle a train/test split.
    pub group: u64,
}

/// Read `labels.csv` of `dir` and keep the rows whose image lies under `<subset>/` (e.g.
/// `apple`), every split included. Errors name the file and line.
pub fn read_labels(dir: &Path, subset: &str) -> Result<Vec<LabelledImage>, GradingError> {
    let csv = dir.join("labels.csv");
    let text = std::fs::read_to_string(&csv).map_err(|source| GradingError::Read {
        path: csv.clone(),
        source,
    })?;
    let bad = |what: String| GradingError::Labels {
        path: csv.clone(),
        what,
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| bad("the file is empty".into()))?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| bad(format!("no `{name}` column")))
    };
    let columns = LabelColumns {
        image: col("image")?,
        label: col("label")?,
        original: col("original_class")?,
        group: col("neardup_group")?,
    };
    let prefix = format!("{subset}/");
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = parse_label_row(line, &columns, &prefix)
            .map_err(|what| bad(format!("line {}: {what}", i + 2)))?;
        if let Some((image, class, group)) = row {
            out.push(LabelledImage {
                path: dir.join(image),
                class,
                group,
            });
        }
    }
    if out.is_empty() {
        return Err(bad(format!("lists no images under `{prefix}`")));
    }
    Ok(out)
}

/// Column positions of `labels.csv`.
struct LabelColumns {
    image: usize,
    label: usize,
    original: usize,
    group: usize,
}

/// One row of `labels.csv`: `None` when its image is not under `prefix`; an error in words.
fn parse_label_row<'a>(
    line: &'a str,
    c: &LabelColumns,
    prefix: &str,
) -> Result<Option<(&'a str, &'static str, u64)>, String> {
    // The file has no quoted fields (paths and class names only).
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let at = |c: usize| {
        f.get(c)
            .copied()
            .ok_or_else(|| "too few columns".to_string())
    };
    let image = at(c.image)?;
    if !image.starts_with(prefix) {
        return Ok(None);
    }
    let class = grade_class(at(c.original)?, at(c.label)?).ok_or_else(|| {
        format!(
            "unknown class `{}` / label `{}`",
            f.get(c.original).copied().unwrap_or(""),
            f.get(c.label).copied().unwrap_or("")
        )
    })?;
    let group = at(c.group)?
        .parse::<u64>()
        .map_err(|_| "neardup_group is not a number".to_string())?;
    Ok(Some((image, class, group)))
}

/// Evaluation settings; the defaults are the same for every dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradingOptions {
    /// Outer folds of the grouped cross-validation.
    pub folds: usize,
    /// How items are found in the photos.
    pub segment: SegmentConfig,
    /// Classifier training settings (candidate grid of the inner cross-validation). Its
    /// `selection` is set per problem: macro-F1 for the three classes, accuracy for good
    /// vs rotten, the measures each problem is reported with.
    pub train: GradeTrainOptions,
    /// Which descriptor tiers to evaluate; `auto` keeps, per outer fold, the one the inner
    /// cross-validation scores higher.
    pub tier: TierChoice,
}

impl Default for GradingOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            segment: SegmentConfig::default(),
            train: GradeTrainOptions::default(),
            tier: TierChoice::Auto,
        }
    }
}

/// Images described per progress report.
pub(super) const PROGRESS_CHUNK: usize = 16;

/// Evaluate the grade classifier on the images of `fruit_dir/labels.csv` under `fruit/`
/// (every split), with a grouped K-fold cross-validation: every `neardup_group` lies entirely
/// in one fold, folds are assigned deterministically, and the reported measures pool the
/// out-of-fold predictions. Two problems are evaluated on the same folds: good / medium /
/// rotten, and good vs rotten with medium left out.
///
/// `progress(done, total)` is called on the calling thread while images are described.
///
/// # Errors
/// When `labels.csv` is missing or malformed, an image cannot be decoded (the error names
/// it), or a training fold lacks examples of a class.
pub fn evaluate_grading(
    fruit_dir: &Path,
    fruit: &str,
    opts: &GradingOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<GradingReport, GradingError> {
    let images = read_labels(fruit_dir, fruit)?;
    let sets = opts
        .tier
        .tiers()
        .into_iter()
        .map(|tier| describe_tier(tier, &images, &opts.segment, progress))
        .collect::<Result<Vec<_>, _>>()?;
    evaluate_descriptors(fruit_dir, fruit, &images, &sets, opts)
}

/// The images described by one tier.
fn describe_tier(
    tier: Tier,
    images: &[LabelledImage],
    segment: &SegmentConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<DescriptorSet, GradingError> {
    let started = Instant::now();
    match tier {
        Tier::Classical => {
            let rows = describe_images(images, segment, progress)?;
            Ok(DescriptorSet {
                tier,
                name: DESCRIPTOR_SET.to_string(),
                feature_names: DESCRIPTOR_FEATURES.iter().map(|n| n.to_string()).collect(),
                item_found_share: item_found_share(&rows, images.len())?,
                rows,
                seconds: started.elapsed().as_secs_f64(),
            })
        }
        Tier::Deep => deep::describe_images_deep(images, segment, progress),
    }
}

/// Describe every image with [`describe_image`], in parallel (one segmenter per worker);
/// `progress(done, total)` is called on the calling thread.
///
/// # Errors
/// When an image cannot be decoded; the error names the file.
pub fn describe_images(
    images: &[LabelledImage],
    segment: &SegmentConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Vec<f64>>, GradingError> {
    let total = images.len();
    let mut descriptors: Vec<Vec<f64>> = Vec::with_capacity(total);
    progress(0, total);
    for chunk in images.chunks(PROGRESS_CHUNK) {
        let part: Vec<Vec<f64>> = chunk
            .par_iter()
            .map_init(
                || Segmenter::new(segment.clone()),
                |seg, item| -> Result<Vec<f64>, GradingError> {
                    let img = load_rgb(&item.path)?;
                    Ok(describe_image(&img, seg))
                },
            )
            .collect::<Result<_, GradingError>>()?;
        descriptors.extend(part);
        progress(descriptors.len(), total);
    }
    Ok(descriptors)
}

/// The cross-validation part of [`evaluate_grading`], on descriptors already computed.
fn evaluate_descriptors(
    fruit_dir: &Path,
    fruit: &str,
    images: &[LabelledImage],
    sets: &[DescriptorSet],
    opts: &GradingOptions,
) -> Result<GradingReport, GradingError> {
    let total = images.len();
    for set in sets {
        if set.rows.len() != total {
            return Err(GradingError::Inconsistent(format!(
                "{} {} descriptors for {total} images",
                set.rows.len(),
                set.tier
            )));
        }
    }
    let class_idx: Vec<usize> = images
        .iter()
        .map(|i| {
            GRADE_CLASSES
                .iter()
                .position(|c| *c == i.class)
                .unwrap_or(0)
        })
        .collect();
    let groups: Vec<u64> = images.iter().map(|i| i.group).collect();
    let k = opts.folds.max(2);
    let folds = grouped_folds(&groups, &class_idx, k);
    let n_groups = groups.iter().collect::<BTreeSet<_>>().len();

    let started = Instant::now();
    let all: Vec<usize> = (0..total).collect();
    // The inner cross-validation optimises the measure each problem is judged by.
    let mut train = opts.train.clone();
    train.selection = SelectionMetric::MacroF1;
    let three_class = cv::cross_validate(
        &cv::Problem {
            images,
            folds: &folds,
            k,
            subset: &all,
            train: &train,
            name: "good / medium / rotten",
        },
        sets,
    )?;
    let good_rotten: Vec<usize> = (0..total)
        .filter(|&i| images[i].class != "medium")
        .collect();
    train.selection = SelectionMetric::Accuracy;
    let good_vs_rotten = cv::cross_validate(
        &cv::Problem {
            images,
            folds: &folds,
            k,
            subset: &good_rotten,
            train: &train,
            name: "good vs rotten",
        },
        sets,
    )?;
    let training_seconds = started.elapsed().as_secs_f64();
    let tiers = sets
        .iter()
        .enumerate()
        .map(|(s, set)| TierReport {
            tier: set.tier,
            descriptor_set: set.name.clone(),
            n_features: set.feature_names.len(),
            item_found_share: set.item_found_share,
            three_class: three_class.per_tier[s].clone(),
            good_vs_rotten: good_vs_rotten.per_tier[s].clone(),
            descriptor_seconds: set.seconds,
            ms_per_image: 1000.0 * set.seconds / total.max(1) as f64,
        })
        .collect();

    Ok(GradingReport {
        dataset: fruit_dir.display().to_string(),
        subset: fruit.to_string(),
        protocol: format!(
            "grouped {k}-fold cross-validation over all splits (each near-duplicate group in one fold, folds balanced by class, deterministic); pooled out-of-fold predictions; C, kernel width, class weighting and (auto) the tier chosen by a grouped {}-fold inner cross-validation on the training folds only (maximising macro-F1 for 3 classes, accuracy for 2)",
            opts.train.inner_folds
        ),
        images: total,
        groups: n_groups,
        folds: k,
        tiers,
        choice: opts.tier.as_str().to_string(),
        three_class: three_class.kept,
        good_vs_rotten: good_vs_rotten.kept,
        training_seconds,
    })
}

/// Share of the `total` images whose descriptor found an item (not the whole image).
fn item_found_share(descriptors: &[Vec<f64>], total: usize) -> Result<f64, GradingError> {
    if descriptors.len() != total {
        return Err(GradingError::Inconsistent(format!(
            "{} descriptors for {total} images",
            descriptors.len()
        )));
    }
    let found_at = DESCRIPTOR_FEATURES
        .iter()
        .position(|n| *n == "item_found")
        .ok_or_else(|| GradingError::Inconsistent("descriptor has no item_found value".into()))?;
    Ok(descriptors.iter().filter(|d| d[found_at] > 0.5).count() as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_mapping() {
        assert_eq!(grade_class("fresh_apple", "good"), Some("good"));
        assert_eq!(grade_class("normal_banana", "medium"), Some("medium"));
        assert_eq!(grade_class("rotten_apple", "defect"), Some("rotten"));
        assert_eq!(grade_class("", "defect"), Some("rotten"));
        assert_eq!(grade_class("whatever", "medium"), Some("medium"));
        assert_eq!(grade_class("odd", "odd"), None);
    }

    #[test]
    fn reads_labels_of_one_subset_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let header =
            "image,split,label,original_class,n_boxes,annotation,neardup_group,width,height\n";
        let rows = "apple/train/good/1.jpg,train,good,fresh_apple,1,a.xml,1,10,10\n\
                    banana/test/rotten/2.jpg,test,defect,rotten_banana,1,b.xml,2,10,10\n\
                    apple/test/medium/3.jpg,test,medium,normal_apple,3,c.xml,1,10,10\n";
        std::fs::write(dir.path().join("labels.csv"), format!("{header}{rows}")).unwrap();
        let apples = read_labels(dir.path(), "apple").unwrap();
        assert_eq!(apples.len(), 2);
        assert_eq!(apples[0].path, dir.path().join("apple/train/good/1.jpg"));
        assert_eq!((apples[0].class, apples[0].group), ("good", 1));
        assert_eq!((apples[1].class, apples[1].group), ("medium", 1));
        let err = read_labels(dir.path(), "cherry").unwrap_err().to_string();
        assert!(err.contains("no images"), "{err}");

        let bad = "apple/x.jpg,train,good,fresh_apple,1,a.xml,notanumber,10,10\n";
        std::fs::write(dir.path().join("labels.csv"), format!("{header}{bad}")).unwrap();
        let err = format!("{:#}", read_labels(dir.path(), "apple").unwrap_err());
        assert!(
            err.contains("line 2") && err.contains("neardup_group"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            read_labels(&dir.path().join("nope"), "apple").unwrap_err()
        );
        assert!(err.contains("labels.csv"), "{err}");
    }

    /// The whole pipeline on a small synthetic collection: separable discs, near-duplicate
    /// pairs as groups.
    #[test]
    fn evaluates_a_synthetic_collection() {
        use crate::model::classifier::synthetic;
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from(
            "image,split,label,original_class,n_boxes,annotation,neardup_group,width,height\n",
        );
        let kinds = [
            ("good", "fresh_disc"),
            ("rotten", "rotten_disc"),
            ("medium", "normal_disc"),
        ];
        for (c, (label, orig)) in kinds.iter().enumerate() {
            let folder = dir.path().join("disc").join(label);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..16u32 {
                let name = format!("{c}{i}.png");
                synthetic::disc(c, i).save(folder.join(&name)).unwrap();
                let label = if *label == "rotten" { "defect" } else { label };
                // Pairs of images form a near-duplicate group.
                let group = 100 * c as u32 + i / 2;
                csv.push_str(&format!(
                    "disc/{}/{name},test,{label},{orig},1,x.xml,{group},400,300\n",
                    kinds[c].0
                ));
            }
        }
        std::fs::write(dir.path().join("labels.csv"), csv).unwrap();
        let calls = std::cell::RefCell::new(Vec::new());
        let opts = GradingOptions {
            folds: 3,
            ..GradingOptions::default()
        };
        let report = evaluate_grading(dir.path(), "disc", &opts, &|d, t| {
            calls.borrow_mut().push((d, t))
        })
        .unwrap();
        assert_eq!(calls.borrow().last(), Some(&(48, 48)));
        assert_eq!((report.images, report.groups, report.folds), (48, 24, 3));
        assert_eq!(report.three_class.classes, ["good", "medium", "rotten"]);
        assert_eq!(report.three_class.n_per_class, [16, 16, 16]);
        assert_eq!(report.good_vs_rotten.classes, ["good", "rotten"]);
        let total: u64 = report.good_vs_rotten.confusion.iter().flatten().sum();
        assert_eq!(total, 32);
        assert_eq!(report.three_class.chosen.len(), 3);
        assert!(report.three_class.macro_f1 > 0.9, "{}", report.to_text());
        assert!(report.good_vs_rotten.accuracy > 0.9, "{}", report.to_text());
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["three_class"]["per_class"][0]["f1"].is_number());
        let text = report.to_text();
        assert!(
            text.contains("good vs rotten") && text.contains("confusion"),
            "{text}"
        );
    }
}
