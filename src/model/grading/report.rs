//! What the grading evaluation reports.

use serde::Serialize;

use crate::model::classifier::ClassConfusion;
use crate::model::tier::Tier;

/// Precision, recall and F1 of one class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// Items of this class.
    pub support: u64,
    /// Share of the items predicted as this class that are of it.
    pub precision: f64,
    /// Share of the items of this class predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Pooled out-of-fold results of one classification problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProblemReport {
    /// Class names, in matrix order.
    pub classes: Vec<String>,
    /// Images per class.
    pub n_per_class: Vec<usize>,
    /// Per-class measures.
    pub per_class: Vec<ClassMetrics>,
    /// Unweighted mean F1 over the classes.
    pub macro_f1: f64,
    /// Share of images classified right.
    pub accuracy: f64,
    /// Confusion matrix: rows are the true classes, columns the predicted ones.
    pub confusion: Vec<Vec<u64>>,
    /// Settings the inner cross-validation chose in each outer fold (`C`, kernel width).
    pub chosen: Vec<String>,
    /// Seconds spent training (all folds, inner cross-validation included).
    pub training_seconds: f64,
}

impl ProblemReport {
    pub(super) fn from_confusion(
        cm: &ClassConfusion,
        chosen: Vec<String>,
        training_seconds: f64,
    ) -> ProblemReport {
        let per_class = (0..cm.classes.len())
            .map(|k| ClassMetrics {
                class: cm.classes[k].clone(),
                support: cm.support(k),
                precision: cm.precision(k),
                recall: cm.recall(k),
                f1: cm.f1(k),
            })
            .collect();
        ProblemReport {
            classes: cm.classes.clone(),
            n_per_class: (0..cm.classes.len())
                .map(|k| cm.support(k) as usize)
                .collect(),
            per_class,
            macro_f1: cm.macro_f1(),
            accuracy: cm.accuracy(),
            confusion: cm.counts.clone(),
            chosen,
            training_seconds,
        }
    }

    fn to_text(&self, title: &str) -> String {
        let mut s = format!(
            "{title}: macro-F1 {:.3}, accuracy {:.3} ({} images)\n",
            self.macro_f1,
            self.accuracy,
            self.n_per_class.iter().sum::<usize>()
        );
        s.push_str("  class        n   precision  recall     F1\n");
        for m in &self.per_class {
            s.push_str(&format!(
                "  {:<8} {:>5}   {:>9.3}  {:>6.3}  {:>5.3}\n",
                m.class, m.support, m.precision, m.recall, m.f1
            ));
        }
        s.push_str("  confusion (rows = truth, columns = predicted):\n");
        s.push_str(&format!("  {:<8}", ""));
        for c in &self.classes {
            s.push_str(&format!(" {c:>7}"));
        }
        s.push('\n');
        for (c, row) in self.classes.iter().zip(&self.confusion) {
            s.push_str(&format!("  {c:<8}"));
            for v in row {
                s.push_str(&format!(" {v:>7}"));
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "  chosen per fold: {}; training {:.1} s\n",
            self.chosen.join(", "),
            self.training_seconds
        ));
        s
    }
}

/// One tier's results: its descriptor and both problems.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TierReport {
    /// The tier.
    pub tier: Tier,
    /// Descriptor definitions used.
    pub descriptor_set: String,
    /// Number of descriptor values per image.
    pub n_features: usize,
    /// Share of images in which an item was found (else the whole image was used).
    pub item_found_share: f64,
    /// Good / medium / rotten.
    pub three_class: ProblemReport,
    /// Good against rotten, medium left out.
    pub good_vs_rotten: ProblemReport,
    /// Seconds spent loading and describing the images.
    pub descriptor_seconds: f64,
    /// Milliseconds per image to describe it (all cores).
    pub ms_per_image: f64,
}

/// Result of [`super::evaluate_grading`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GradingReport {
    /// Dataset folder.
    pub dataset: String,
    /// Subset evaluated (e.g. `apple`).
    pub subset: String,
    /// How the numbers were obtained.
    pub protocol: String,
    /// Images evaluated.
    pub images: usize,
    /// Near-duplicate groups among them.
    pub groups: usize,
    /// Outer folds.
    pub folds: usize,
    /// Every tier evaluated, the classical first.
    pub tiers: Vec<TierReport>,
    /// What was asked for: `classical`, `deep` or `auto`.
    pub choice: String,
    /// Good / medium / rotten as kept: the one tier's, or with `auto` the tier the inner
    /// cross-validation preferred in each outer fold.
    pub three_class: ProblemReport,
    /// Good against rotten, medium left out, kept as `three_class` is.
    pub good_vs_rotten: ProblemReport,
    /// Seconds spent training both problems over all folds and tiers.
    pub training_seconds: f64,
}

impl GradingReport {
    /// A readable summary with tables.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "Grading evaluation of {} ({}): {} images in {} near-duplicate groups\n{}\n\n",
            self.subset, self.dataset, self.images, self.groups, self.protocol,
        );
        s.push_str("  tier       descriptor                      values  item found  3-class macro-F1 / accuracy  good vs rotten accuracy  ms per image\n");
        for t in &self.tiers {
            s.push_str(&format!(
                "  {:<10} {:<31} {:>6}  {:>9.1} %  {:>16.3} / {:<8.3}  {:>23.3}  {:>12.1}\n",
                t.tier.as_str(),
                t.descriptor_set,
                t.n_features,
                100.0 * t.item_found_share,
                t.three_class.macro_f1,
                t.three_class.accuracy,
                t.good_vs_rotten.accuracy,
                t.ms_per_image,
            ));
        }
        s.push_str(&format!("\nkept ({}):\n", self.choice));
        s.push_str(&self.three_class.to_text("good / medium / rotten"));
        s.push('\n');
        s.push_str(
            &self
                .good_vs_rotten
                .to_text("good vs rotten (medium left out)"),
        );
        let described: f64 = self.tiers.iter().map(|t| t.descriptor_seconds).sum();
        s.push_str(&format!(
            "\ntime: descriptors {:.1} s, training {:.1} s\n",
            described, self.training_seconds
        ));
        s
    }
}
