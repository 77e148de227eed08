//! Quality gates on an evaluation: `foodqc eval --require image-auroc=0.995` fails (non-zero
//! exit) when a measured value is below its floor (or, for the rates at the model's own
//! threshold, `--require escape-rate=0.05`, above its ceiling), so CI can stop a regression
//! from landing and an engineer can check a new product's dataset before a line goes live.

use std::fmt;
use std::str::FromStr;

use super::EvalReport;

/// A measure an evaluation reports, by the name used on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Image AUROC, good vs every defect class.
    ImageAuroc,
    /// Pixel AUROC over all pixels of the masked and good test images.
    PixelAuroc,
    /// Pixel AUROC over the pixels inside the product's convex hull.
    PixelAurocItem,
    /// Macro-F1 of the three-grade classifier (grouped cross-validation).
    GradeMacroF1,
    /// Accuracy of good vs rotten (grouped cross-validation).
    GoodVsRottenAccuracy,
    /// Share of defective test images passed at the model's own threshold (a ceiling).
    EscapeRate,
    /// Share of good test images rejected at the model's own threshold (a ceiling).
    FalseRejectRate,
}

impl Metric {
    /// Every metric with its command-line name.
    pub const ALL: [(Metric, &'static str); 7] = [
        (Metric::ImageAuroc, "image-auroc"),
        (Metric::PixelAuroc, "pixel-auroc"),
        (Metric::PixelAurocItem, "pixel-auroc-item"),
        (Metric::GradeMacroF1, "grade-macro-f1"),
        (Metric::GoodVsRottenAccuracy, "good-vs-rotten-accuracy"),
        (Metric::EscapeRate, "escape-rate"),
        (Metric::FalseRejectRate, "false-reject-rate"),
    ];

    /// True for the rates, whose required value is a ceiling rather than a floor.
    pub fn lower_is_better(self) -> bool {
        matches!(self, Metric::EscapeRate | Metric::FalseRejectRate)
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// The measured value, `None` when the evaluation could not measure it (no masks, no
    /// grade labels, a single class).
    pub fn value(self, report: &EvalReport) -> Option<f64> {
        let a = &report.anomaly;
        let g = report.grading.as_ref();
        match self {
            Metric::ImageAuroc => a.image_auroc,
            Metric::PixelAuroc => a.pixel_auroc_all,
            Metric::PixelAurocItem => a.pixel_auroc_item,
            Metric::GradeMacroF1 => g.map(|g| g.three_class.macro_f1),
            Metric::GoodVsRottenAccuracy => g.map(|g| g.good_vs_rotten.accuracy),
            // Rates need both kinds of test image to mean anything.
            Metric::EscapeRate => (a.confusion.true_pos + a.confusion.false_neg > 0)
                .then_some(a.confusion.escape_rate),
            Metric::FalseRejectRate => (a.confusion.true_neg + a.confusion.false_pos > 0)
                .then_some(a.confusion.false_reject_rate),
        }
    }
}

/// One bound: `metric` must be at least `min`, or at most it for a rate
/// ([`Metric::lower_is_better`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Requirement {
    /// What is measured.
    pub metric: Metric,
    /// The lowest acceptable value (the highest, for a rate).
    pub min: f64,
}

impl Requirement {
    /// Whether `value` meets the bound.
    pub fn met_by(&self, value: f64) -> bool {
        if self.metric.lower_is_better() {
            value <= self.min
        } else {
            value >= self.min
        }
    }
}

impl FromStr for Requirement {
    type Err = String;

    /// Parse `NAME=BOUND`, e.g. `image-auroc=0.995`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let names = || {
            Metric::ALL
                .iter()
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (name, min) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not NAME=BOUND (names: {})", names()))?;
        let metric = Metric::ALL
            .iter()
            .find(|(_, n)| *n == name.trim())
            .map(|(m, _)| *m)
            .ok_or_else(|| format!("unknown metric `{}` (names: {})", name.trim(), names()))?;
        let min: f64 = min
            .trim()
            .parse()
            .map_err(|_| format!("the floor of {name} must be a number, got `{}`", min.trim()))?;
        if !(0.0..=1.0).contains(&min) {
            return Err(format!(
                "the floor of {name} must be between 0 and 1, got {min}"
            ));
        }
        Ok(Self { metric, min })
    }
}

/// A requirement that was not met.
#[derive(Clone, Debug, PartialEq)]
pub struct Miss {
    /// The requirement.
    pub requirement: Requirement,
    /// What was measured (`None`: not measurable on this dataset).
    pub value: Option<f64>,
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.requirement;
        match self.value {
            Some(v) if r.metric.lower_is_better() => {
                write!(
                    f,
                    "{} {v:.4} is above the ceiling {}",
                    r.metric.name(),
                    r.min
                )
            }
            Some(v) => write!(f, "{} {v:.4} is below the floor {}", r.metric.name(), r.min),
            None => write!(
                f,
                "{} was not measured on this dataset (floor {})",
                r.metric.name(),
                r.min
            ),
        }
    }
}

/// The requirements `report` misses; empty when all are met.
pub fn check(report: &EvalReport, requirements: &[Requirement]) -> Vec<Miss> {
    requirements
        .iter()
        .filter_map(|r| {
            let value = r.metric.value(report);
            match value {
                Some(v) if r.met_by(v) => None,
                _ => Some(Miss {
                    requirement: *r,
                    value,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_floors_with_clear_errors() {
        let r: Requirement = "pixel-auroc-item=0.98".parse().unwrap();
        assert_eq!(r.metric, Metric::PixelAurocItem);
        assert_eq!(r.min, 0.98);
        let e = "pixel-aurock=0.9".parse::<Requirement>().unwrap_err();
        assert!(
            e.contains("pixel-aurock") && e.contains("image-auroc"),
            "{e}"
        );
        let e = "image-auroc".parse::<Requirement>().unwrap_err();
        assert!(e.contains("NAME=BOUND"), "{e}");
        let e = "image-auroc=high".parse::<Requirement>().unwrap_err();
        assert!(e.contains("`high`"), "{e}");
        let e = "image-auroc=99".parse::<Requirement>().unwrap_err();
        assert!(e.contains("between 0 and 1"), "{e}");
        for (m, n) in Metric::ALL {
            assert_eq!(m.name(), n);
        }
        let r: Requirement = "escape-rate=0.05".parse().unwrap();
        assert!(r.metric.lower_is_better());
        assert!(r.met_by(0.05) && r.met_by(0.0) && !r.met_by(0.051));
        let r: Requirement = "image-auroc=0.9".parse().unwrap();
        assert!(r.met_by(0.9) && !r.met_by(0.89));
        let miss = Miss {
            requirement: "false-reject-rate=0.08".parse().unwrap(),
            value: Some(0.1),
        };
        assert!(
            miss.to_string().contains("above the ceiling 0.08"),
            "{miss}"
        );
        assert!(!r.met_by(f64::NAN));
        assert!(
            !"escape-rate=0.05"
                .parse::<Requirement>()
                .unwrap()
                .met_by(f64::NAN)
        );
    }
}
