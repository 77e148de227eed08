//! Training with a tier choice: the classical model is always trained (it is cheap and every
//! deep model carries it); the deep tier is added when asked for, or when the
//! synthetic-defect validation ([`crate::model::selection`]) keeps it with `auto`.

use super::anomaly::{AnomalyModel, ModelCard, TrainOptions};
use super::deep::DeepOptions;
use super::selection::{GoodItem, Selection, SelectionError, select_tier, train_deep_on};
use super::tier::{Tier, TierChoice};
use crate::vision::segment::SegmentConfig;

/// What [`train_with_tier`] gives.
pub struct TieredModel {
    /// The model of the kept tier, its card stating how it was chosen.
    pub model: AnomalyModel,
    /// The synthetic-defect validation, with `auto`.
    pub selection: Option<Selection>,
    /// The deep tier's calibrated out-of-fold scores of the good items, when it was kept
    /// (for cross-validated false-reject figures).
    pub deep_held_out: Option<Vec<f64>>,
}

/// `classical` (already trained on `items`), or the deep tier trained on the same items, as
/// `choice` says; with `auto` the tier is chosen by synthetic defects made on the training
/// items themselves, never by test data.
pub fn train_with_tier(
    classical: AnomalyModel,
    items: &[GoodItem],
    choice: TierChoice,
    segment: &SegmentConfig,
    train: &TrainOptions,
    deep: &DeepOptions,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<TieredModel, SelectionError> {
    let mut too_few = None;
    let selection = match choice {
        TierChoice::Auto => match select_tier(items, &Tier::ALL, segment, train, deep, cancel) {
            Ok(s) => Some(s),
            // Too few items to validate on: the classical tier, which needs fewer, is kept.
            Err(e @ SelectionError::TooFewItems { .. }) => {
                too_few = Some(e.to_string());
                None
            }
            Err(e) => return Err(e),
        },
        _ => None,
    };
    let tier = match (&selection, choice) {
        (Some(s), _) => s.tier,
        (None, TierChoice::Deep) => Tier::Deep,
        _ => Tier::Classical,
    };
    let (mut model, deep_held_out) = match tier {
        Tier::Classical => (classical, None),
        Tier::Deep => {
            let (model, held_out) =
                train_deep_on(&classical, items, deep, train.target_false_reject, cancel)?;
            (model, Some(held_out))
        }
    };
    model
        .card
        .notes
        .push(format!("tier {tier} ({} requested)", choice.as_str()));
    if let Some(s) = &selection {
        s.annotate(&mut model.card);
    }
    if let Some(why) = too_few {
        model
            .card
            .notes
            .push(format!("classical kept without a choice: {why}"));
    }
    Ok(TieredModel {
        model,
        selection,
        deep_held_out,
    })
}

impl Selection {
    /// Write the choice on a model card: the summary as a note, each candidate's synthetic
    /// AUROC as a metric.
    pub fn annotate(&self, card: &mut ModelCard) {
        card.notes.push(self.summary());
        for c in &self.candidates {
            card.metrics
                .insert(format!("{}_synthetic_auroc", c.tier), c.synthetic_auroc);
            card.metrics.insert(
                format!("{}_synthetic_escape_at_1pct", c.tier),
                c.synthetic_escape_at_1pct,
            );
        }
    }
}
