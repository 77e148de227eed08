//! What `foodqc eval` reports, and its text form.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::Tier;
use crate::model::grading::{GradingReport, read_labels};
use crate::model::metrics::Confusion;
use crate::model::operating::LabelledScore;
use crate::model::selection::Selection;

/// Results of the anomaly detector on the test images.
#[derive(Clone, Debug, Serialize)]
pub struct AnomalyReport {
    /// The tier of the model.
    pub tier: Tier,
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
    /// Size of the model file (JSON), bytes.
    pub model_bytes: usize,
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
    /// Share of defective items passed at the model's threshold (1 - defect recall).
    pub escape_rate: f64,
    /// Share of good items rejected at the model's threshold (1 - good recall).
    pub false_reject_rate: f64,
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
            escape_rate: ratio(c.false_neg, c.true_pos),
            false_reject_rate: ratio(c.false_pos, c.true_neg),
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
    /// Anomaly detection (trained on good images only) by the kept tier.
    pub anomaly: AnomalyReport,
    /// Every tier trained, the classical first.
    pub tiers: Vec<AnomalyReport>,
    /// What was asked for: `classical`, `deep` or `auto`.
    pub choice: String,
    /// With `auto`: the synthetic-defect validation on the training items that chose.
    pub selection: Option<Selection>,
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
            "foodqc eval: {}\nmodel {}\n\n",
            self.dataset, self.model_version
        );
        s += "tier       image AUROC  pixel AUROC all / item  escape  false-reject  ms per image  train s  model size\n";
        for t in &self.tiers {
            s += &format!(
                "{:<10} {:>11}  {:>11} / {:<8}  {:>6.3}  {:>12.3}  {:>12.1}  {:>7.1}  {:>7.0} kB\n",
                t.tier.as_str(),
                opt(t.image_auroc),
                opt(t.pixel_auroc_all),
                opt(t.pixel_auroc_item),
                t.confusion.escape_rate,
                t.confusion.false_reject_rate,
                t.ms_per_image_median,
                t.train_seconds,
                t.model_bytes as f64 / 1000.0,
            );
        }
        match &self.selection {
            Some(sel) => s += &format!("kept ({}): {}\n", self.choice, sel.summary()),
            None => s += &format!("kept: {}\n", self.choice),
        }
        s += &format!(
            "\nanomaly detector, {} tier (trained on {} good images, {} items)\n",
            a.tier, a.train_images, a.train_items
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
        s += &format!(
            "  at the threshold   escape rate {:.3} (defective passed), false-reject rate {:.3} (good rejected)\n",
            c.escape_rate, c.false_reject_rate
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
