//! Acceptance of a candidate model before it goes live (issue 17; EU GMP draft Annex 22 asks
//! for acceptance criteria and independent test data): [`compare`] scores the candidate and
//! the live model on the same labelled samples, those neither trained on; [`assess`] names
//! every way the candidate falls short, of the live model or of the QC manager's
//! [`AcceptanceCriteria`]. Promotion calls both; this module blocks nothing by itself.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::domain::{AcceptanceCriteria, GOOD, Permission, Verdict};
use crate::i18n::format_decimal;
use crate::model::AnomalyModel;
use crate::services::auth::{AuthUser, PermissionDenied};
use crate::services::sample_score::score_sample;
use crate::store::{ModelVersionRow, Store, StoreError};
use crate::tr;
use crate::training::job::load_version;

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A model in a comparison.
#[derive(Clone, Copy)]
pub enum Contender<'a> {
    /// A registered version, loaded from its file: it judges at the thresholds in force for
    /// it (the last setting applied, else its file's), and its data snapshot names the
    /// samples it trained on.
    Version(&'a ModelVersionRow),
    /// A model already loaded (the one the station runs). With its registered version `row`
    /// it judges at the thresholds in force for that version and trained on what the row's
    /// snapshot names; without one (the bundled model) it judges at its own thresholds and
    /// saw no labelled sample.
    Loaded {
        /// The model.
        model: &'a AnomalyModel,
        /// Its registered version, if it has one.
        row: Option<&'a ModelVersionRow>,
    },
}

/// A share with its Wilson 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// `k / n`.
    pub value: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

impl Rate {
    /// `0.900 (0.596–0.982)`, in the language in force.
    pub fn display(&self) -> String {
        tr!(
            "acceptance-rate",
            value = format_decimal(self.value, 3),
            low = format_decimal(self.low, 3),
            high = format_decimal(self.high, 3)
        )
    }
}

/// `k` of `n` with its Wilson score interval at 95 % (good at the small counts acceptance
/// tests have, and never outside 0..1); `None` for `n = 0`.
pub fn wilson(k: usize, n: usize) -> Option<Rate> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k.min(n) as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Rate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// How one model did on the independent samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelMeasures {
    /// The model's version.
    pub version: String,
    /// Its reject threshold in the comparison.
    pub threshold: f64,
    /// Defective samples judged.
    pub defects: usize,
    /// Of those, rejected.
    pub defects_rejected: usize,
    /// Good samples judged.
    pub good: usize,
    /// Of those, rejected.
    pub good_rejected: usize,
    /// Defects rejected / defects, when there were defects.
    pub recall: Option<Rate>,
    /// Good rejected / good, when there were good samples.
    pub false_reject_rate: Option<Rate>,
}

/// A candidate and the live model on the same independent samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The candidate.
    pub candidate: ModelMeasures,
    /// The live model; `None` when there is none to compare with.
    pub live: Option<ModelMeasures>,
    /// Labelled samples in the database.
    pub labelled: usize,
    /// Of those, left out because a compared model trained on them.
    pub trained_on: usize,
    /// Of the rest, left out because a model found no item in them (or could not read them).
    pub unjudged: usize,
    /// The independent samples judged by both models.
    pub sample_ids: Vec<i64>,
}

impl Comparison {
    /// Independent defective samples (the same for both models).
    pub fn defect_samples(&self) -> usize {
        self.candidate.defects
    }

    /// Independent good samples (the same for both models).
    pub fn good_samples(&self) -> usize {
        self.candidate.good
    }
}

/// What a shortfall is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Defects rejected / defects.
    Recall,
    /// Good rejected / good.
    FalseRejectRate,
    /// Independent defective samples.
    DefectSamples,
    /// Independent good samples.
    GoodSamples,
}

impl Measure {
    /// Every measure, in the order the comparison shows them.
    pub const ALL: [Measure; 4] = [
        Measure::Recall,
        Measure::FalseRejectRate,
        Measure::DefectSamples,
        Measure::GoodSamples,
    ];

    /// Its name, in the language in force.
    pub fn title(self) -> String {
        match self {
            Measure::Recall => tr!("acceptance-measure-recall"),
            Measure::FalseRejectRate => tr!("acceptance-measure-false-reject-rate"),
            Measure::DefectSamples => tr!("acceptance-measure-defect-samples"),
            Measure::GoodSamples => tr!("acceptance-measure-good-samples"),
        }
    }
}

/// One way a candidate falls short: the measure, the candidate's value and the bound.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shortfall {
    /// It rejects fewer of the defects than the live model.
    RecallBelowLive {
        /// The candidate's recall.
        candidate: f64,
        /// The live model's.
        live: f64,
    },
    /// It rejects more of the good samples than the live model.
    FalseRejectsAboveLive {
        /// The candidate's false-reject rate.
        candidate: f64,
        /// The live model's.
        live: f64,
    },
    /// Its recall is below the criteria's minimum.
    RecallBelowMinimum {
        /// The candidate's recall.
        candidate: f64,
        /// The minimum.
        min: f64,
    },
    /// Its false-reject rate is above the criteria's maximum.
    FalseRejectsAboveMaximum {
        /// The candidate's false-reject rate.
        candidate: f64,
        /// The maximum.
        max: f64,
    },
    /// Too few independent defective samples to tell its recall.
    TooFewDefectSamples {
        /// How many there are.
        count: usize,
        /// How many the criteria ask for.
        min: usize,
    },
    /// Too few independent good samples to tell its false-reject rate.
    TooFewGoodSamples {
        /// How many there are.
        count: usize,
        /// How many the criteria ask for.
        min: usize,
    },
}

impl Shortfall {
    /// The measure it is about.
    pub fn measure(&self) -> Measure {
        match self {
            Shortfall::RecallBelowLive { .. } | Shortfall::RecallBelowMinimum { .. } => {
                Measure::Recall
            }
            Shortfall::FalseRejectsAboveLive { .. }
            | Shortfall::FalseRejectsAboveMaximum { .. } => Measure::FalseRejectRate,
            Shortfall::TooFewDefectSamples { .. } => Measure::DefectSamples,
            Shortfall::TooFewGoodSamples { .. } => Measure::GoodSamples,
        }
    }

    /// True when the bound is the live model's (not the criteria's).
    pub fn against_live(&self) -> bool {
        matches!(
            self,
            Shortfall::RecallBelowLive { .. } | Shortfall::FalseRejectsAboveLive { .. }
        )
    }
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |x: f64| format_decimal(x, 3);
        let text = match *self {
            Shortfall::RecallBelowLive { candidate, live } => tr!(
                "acceptance-shortfall-recall-live",
                candidate = d(candidate),
                live = d(live)
            ),
            Shortfall::FalseRejectsAboveLive { candidate, live } => tr!(
                "acceptance-shortfall-false-rejects-live",
                candidate = d(candidate),
                live = d(live)
            ),
            Shortfall::RecallBelowMinimum { candidate, min } => tr!(
                "acceptance-shortfall-recall-min",
                candidate = d(candidate),
                min = d(min)
            ),
            Shortfall::FalseRejectsAboveMaximum { candidate, max } => tr!(
                "acceptance-shortfall-false-rejects-max",
                candidate = d(candidate),
                max = d(max)
            ),
            Shortfall::TooFewDefectSamples { count, min } => {
                tr!(
                    "acceptance-shortfall-defect-samples",
                    count = count,
                    min = min
                )
            }
            Shortfall::TooFewGoodSamples { count, min } => {
                tr!(
                    "acceptance-shortfall-good-samples",
                    count = count,
                    min = min
                )
            }
        };
        f.write_str(&text)
    }
}

/// The decision on a candidate: blocked by every shortfall, accepted when there is none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assessment {
    /// The criteria it was held to.
    pub criteria: AcceptanceCriteria,
    /// Why it may not go live (without a signed override); empty = accepted.
    pub blocked_by: Vec<Shortfall>,
}

impl Assessment {
    /// True when nothing blocks the candidate.
    pub fn accepted(&self) -> bool {
        self.blocked_by.is_empty()
    }

    /// The shortfalls about `m`.
    pub fn shortfalls_of(&self, m: Measure) -> impl Iterator<Item = &Shortfall> {
        self.blocked_by.iter().filter(move |s| s.measure() == m)
    }
}

/// A model's value of a measure as the comparison shows it: a rate with its interval and
/// counts (`0.971 (0.855–0.995) · 34/35`), or a count; `-` when there is nothing to rate.
pub fn value_text(m: &ModelMeasures, measure: Measure) -> String {
    let rate = |r: Option<Rate>, k: usize, n: usize| match r {
        Some(r) => format!("{} · {k}/{n}", r.display()),
        None => "-".into(),
    };
    match measure {
        Measure::Recall => rate(m.recall, m.defects_rejected, m.defects),
        Measure::FalseRejectRate => rate(m.false_reject_rate, m.good_rejected, m.good),
        Measure::DefectSamples => m.defects.to_string(),
        Measure::GoodSamples => m.good.to_string(),
    }
}

/// The criteria's bound on a measure: `≥ 0.900`, `≤ 0.100`, `≥ 10`.
pub fn bound_text(c: &AcceptanceCriteria, m: Measure) -> String {
    match m {
        Measure::Recall => format!("≥ {}", format_decimal(c.min_recall, 3)),
        Measure::FalseRejectRate => format!("≤ {}", format_decimal(c.max_false_reject_rate, 3)),
        Measure::DefectSamples => format!("≥ {}", c.min_defect_samples),
        Measure::GoodSamples => format!("≥ {}", c.min_good_samples),
    }
}

/// Why a comparison could not be made or criteria not set.
#[derive(Debug)]
pub enum AcceptanceError {
    /// The user's role may not set the criteria.
    Denied(PermissionDenied),
    /// Criteria are changed only with a reason.
    NoReason,
    /// A rate outside 0..1 (or not a number).
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// A model version's file cannot be used.
    Model {
        /// The version.
        version: String,
        /// Why.
        reason: String,
    },
    /// The database failed.
    Store(StoreError),
}

impl fmt::Display for AcceptanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            AcceptanceError::Denied(e) => e.to_string(),
            AcceptanceError::NoReason => tr!("acceptance-error-no-reason"),
            AcceptanceError::Invalid { field, value } => tr!(
                "acceptance-error-invalid",
                field = field.to_string(),
                value = value.to_string()
            ),
            AcceptanceError::Model { version, reason } => tr!(
                "acceptance-error-model",
                version = version.as_str(),
                error = reason.as_str()
            ),
            AcceptanceError::Store(e) => e.to_string(),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for AcceptanceError {}

impl From<StoreError> for AcceptanceError {
    fn from(e: StoreError) -> Self {
        AcceptanceError::Store(e)
    }
}

impl From<PermissionDenied> for AcceptanceError {
    fn from(e: PermissionDenied) -> Self {
        AcceptanceError::Denied(e)
    }
}

/// The criteria in force: the last set, else [`AcceptanceCriteria::DEFAULT`].
pub fn criteria(store: &Store) -> Result<AcceptanceCriteria, StoreError> {
    Ok(store
        .acceptance_criteria()?
        .map(|s| s.criteria)
        .unwrap_or_default())
}

/// Set the acceptance criteria: the QC manager's ([`Permission::SetAcceptanceCriteria`]),
/// with a reason; recorded with its history and in the audit log. Returns the setting's id.
pub fn set_criteria(
    store: &mut Store,
    user: &AuthUser,
    criteria: &AcceptanceCriteria,
    reason: &str,
) -> Result<i64, AcceptanceError> {
    user.require(Permission::SetAcceptanceCriteria)?;
    if reason.trim().is_empty() {
        return Err(AcceptanceError::NoReason);
    }
    if let Some((field, value)) = criteria.invalid_field() {
        return Err(AcceptanceError::Invalid { field, value });
    }
    Ok(store.set_acceptance_criteria(criteria, user.actor().as_str(), reason.trim())?)
}

/// The labelled samples a registered version trained on, from its data snapshot (a version
/// trained from a source names none: it saw no labelled sample).
pub fn trained_sample_ids(row: &ModelVersionRow) -> BTreeSet<i64> {
    row.data_snapshot
        .get("sample_ids")
        .and_then(|v| v.as_array())
        .map(|ids| ids.iter().filter_map(|v| v.as_i64()).collect())
        .unwrap_or_default()
}

/// A contender's model, judging at the thresholds in force for it, and what it trained on.
fn load(store: &Store, c: Contender<'_>) -> Result<(AnomalyModel, BTreeSet<i64>), AcceptanceError> {
    let (model, row) = match c {
        Contender::Loaded { model, row } => (model.clone(), row),
        Contender::Version(row) => {
            let model =
                load_version(&row.path, &row.version).map_err(|reason| AcceptanceError::Model {
                    version: row.version.clone(),
                    reason,
                })?;
            (model, Some(row))
        }
    };
    let Some(row) = row else {
        return Ok((model, BTreeSet::new()));
    };
    let model = match store.current_thresholds(row.id)? {
        Some(s) => model.with_thresholds(s.thresholds),
        None => model,
    };
    Ok((model, trained_sample_ids(row)))
}

/// Whether `model` rejects a sample of this score. A non-finite score is never a pass.
fn rejects(model: &AnomalyModel, score: f64) -> bool {
    !score.is_finite() || model.verdict(score) == Verdict::Reject
}

/// Counts of one model as the samples are judged.
fn measures_of(model: &AnomalyModel, judged: &[(bool, bool)]) -> ModelMeasures {
    // (is defect, rejected) per sample.
    let count = |defect: bool, rejected: Option<bool>| {
        judged
            .iter()
            .filter(|(d, r)| *d == defect && rejected.is_none_or(|x| x == *r))
            .count()
    };
    let (defects, defects_rejected) = (count(true, None), count(true, Some(true)));
    let (good, good_rejected) = (count(false, None), count(false, Some(true)));
    ModelMeasures {
        version: model.version.clone(),
        threshold: model.thresholds.reject,
        defects,
        defects_rejected,
        good,
        good_rejected,
        recall: wilson(defects_rejected, defects),
        false_reject_rate: wilson(good_rejected, good),
    }
}

/// Score the candidate and the live model on the labelled samples neither trained on (each
/// sample's worst item, as the labelling queue scores it; each model at its own thresholds).
/// A sample either model finds no item in is left out of both (counted in `unjudged`), so
/// both are measured on the same samples.
pub fn compare(
    store: &Store,
    candidate: &ModelVersionRow,
    live: Option<Contender<'_>>,
) -> Result<Comparison, AcceptanceError> {
    let (cand_model, mut seen) = load(store, Contender::Version(candidate))?;
    let live_model = match live {
        Some(c) => {
            let (m, trained) = load(store, c)?;
            seen.extend(trained);
            Some(m)
        }
        None => None,
    };
    let labelled = store.labelled_samples()?;
    let mut unjudged = 0;
    let mut sample_ids = Vec::new();
    let (mut cand_judged, mut live_judged) = (Vec::new(), Vec::new());
    let independent = labelled.iter().filter(|(s, _)| !seen.contains(&s.id));
    for (sample, label) in independent {
        let defect = label.label != GOOD;
        let c = score_sample(&cand_model, sample.id, &sample.path);
        let l = live_model
            .as_ref()
            .map(|m| (m, score_sample(m, sample.id, &sample.path)));
        if c.items == 0 || l.as_ref().is_some_and(|(_, s)| s.items == 0) {
            unjudged += 1;
            continue;
        }
        sample_ids.push(sample.id);
        cand_judged.push((defect, rejects(&cand_model, c.score)));
        if let Some((m, s)) = l {
            live_judged.push((defect, rejects(m, s.score)));
        }
    }
    let trained_on = labelled
        .iter()
        .filter(|(s, _)| seen.contains(&s.id))
        .count();
    Ok(Comparison {
        candidate: measures_of(&cand_model, &cand_judged),
        live: live_model.map(|m| measures_of(&m, &live_judged)),
        labelled: labelled.len(),
        trained_on,
        unjudged,
        sample_ids,
    })
}

/// [`compare`] with the live model: `running`, the model the station runs (the promoted
/// version, or the bundled model when none is or it cannot be loaded), with its registered
/// version when it has one (the station registers every model it runs; a row without a
/// file, as the station writes for the bundled model, names no labelled sample).
pub fn compare_with_live(
    store: &Store,
    candidate: &ModelVersionRow,
    running: &AnomalyModel,
) -> Result<Comparison, AcceptanceError> {
    let rows = store.list_model_versions()?;
    let row = rows.iter().find(|r| r.version == running.version);
    let live = Contender::Loaded {
        model: running,
        row,
    };
    compare(store, candidate, Some(live))
}

/// Every way the candidate falls short: fewer independent samples than the criteria ask
/// for, a recall below the live model's (on the same samples: fewer defects rejected) or
/// the minimum, a false-reject rate above the live model's or the maximum.
pub fn assess(c: &Comparison, criteria: &AcceptanceCriteria) -> Assessment {
    let mut blocked_by = Vec::new();
    let cand = &c.candidate;
    if cand.defects < criteria.min_defect_samples {
        blocked_by.push(Shortfall::TooFewDefectSamples {
            count: cand.defects,
            min: criteria.min_defect_samples,
        });
    }
    if cand.good < criteria.min_good_samples {
        blocked_by.push(Shortfall::TooFewGoodSamples {
            count: cand.good,
            min: criteria.min_good_samples,
        });
    }
    if let Some(recall) = cand.recall {
        // Same samples for both: counts compare exactly, without rounding.
        if let Some(live) = &c.live
            && let Some(live_recall) = live.recall
            && cand.defects_rejected < live.defects_rejected
        {
            blocked_by.push(Shortfall::RecallBelowLive {
                candidate: recall.value,
                live: live_recall.value,
            });
        }
        if recall.value < criteria.min_recall {
            blocked_by.push(Shortfall::RecallBelowMinimum {
                candidate: recall.value,
                min: criteria.min_recall,
            });
        }
    }
    if let Some(frr) = cand.false_reject_rate {
        if let Some(live) = &c.live
            && let Some(live_frr) = live.false_reject_rate
            && cand.good_rejected > live.good_rejected
        {
            blocked_by.push(Shortfall::FalseRejectsAboveLive {
                candidate: frr.value,
                live: live_frr.value,
            });
        }
        if frr.value > criteria.max_false_reject_rate {
            blocked_by.push(Shortfall::FalseRejectsAboveMaximum {
                candidate: frr.value,
                max: criteria.max_false_reject_rate,
            });
        }
    }
    Assessment {
        criteria: *criteria,
        blocked_by,
    }
}

#[cfg(test)]
mod tests;
