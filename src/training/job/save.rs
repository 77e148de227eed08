//! Saving a new model version: the model (and classifier) files first, atomically, then the
//! database row that names them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::measure::Measured;
use super::{TrainJobConfig, TrainJobError};
use crate::model::AnomalyModel;
use crate::model::classifier::GradeClassifier;
use crate::store::{NewModelVersion, Store};
use crate::training::holdout::HoldOut;

/// What a new version is made of, besides its model.
pub(super) struct VersionParts<'a> {
    /// The grade classifier, when one was trained.
    pub(super) classifier: Option<&'a GradeClassifier>,
    /// The metrics stored with the version.
    pub(super) metrics: &'a BTreeMap<String, f64>,
    /// The samples it was trained on.
    pub(super) samples: &'a [Measured],
    /// Samples that could not be used, with the reason.
    pub(super) skipped: &'a [(PathBuf, String)],
    /// Labelled samples per class (those trained on).
    pub(super) per_class: &'a BTreeMap<&'a str, usize>,
    /// The acceptance hold-out: samples kept out of training.
    pub(super) held_out: &'a HoldOut,
}

/// The saved version: its row id, model file and classifier file.
pub(super) struct Saved {
    pub(super) version_id: i64,
    pub(super) model_path: PathBuf,
    pub(super) classifier_path: Option<PathBuf>,
}

/// Writes `model` (and its card and classifier) to the models folder and registers the
/// version in the database.
pub(super) fn save_version(
    cfg: &TrainJobConfig,
    model: &AnomalyModel,
    parts: VersionParts<'_>,
) -> Result<Saved, TrainJobError> {
    let model_path = cfg.models_dir.join(format!("{}.json", model.version));
    model.save(&model_path).map_err(|e| TrainJobError::Save {
        path: model_path.clone(),
        reason: e.to_string(),
    })?;
    let card_path = model_path.with_extension("card.md");
    // The card is a convenience copy: a failure to write it is not the job's failure.
    let _ = crate::domain::private_fs::write_private(&card_path, model.card_markdown());
    let classifier_path = match parts.classifier {
        Some(c) => {
            let p = cfg
                .models_dir
                .join(format!("{}.classifier.json", model.version));
            c.save(&p).map_err(|e| TrainJobError::Save {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            Some(p)
        }
        None => None,
    };
    let (samples, skipped) = (parts.samples, parts.skipped);
    let snapshot = serde_json::json!({
        "sample_ids": samples.iter().map(|m| m.sample_id).collect::<Vec<_>>(),
        "label_ids": samples.iter().map(|m| m.label_id).collect::<Vec<_>>(),
        "label_counts": parts.per_class,
        "skipped": skipped.iter().map(|(p, r)| format!("{}: {r}", p.display())).collect::<Vec<_>>(),
        // Never trained on: the acceptance comparison's independent test data.
        "holdout": {
            "share": crate::training::holdout::HOLDOUT_SHARE,
            "sample_ids": &parts.held_out.sample_ids,
            "per_label": &parts.held_out.per_label,
            "good_kept_for_training": parts.held_out.good_kept_for_training,
        },
    });
    let params = serde_json::json!({
        "train_options": cfg.options,
        "segment": cfg.base.segment,
        "classifier": classifier_path.as_ref().map(|p| p.display().to_string()),
        "trained_by": cfg.actor,
    });
    let version_id = Store::open(&cfg.db_path)?.register_model_version(&NewModelVersion {
        version: model.version.clone(),
        path: model_path.clone(),
        kind: if parts.classifier.is_some() {
            "anomaly+classifier".into()
        } else {
            "anomaly".into()
        },
        params,
        metrics: serde_json::to_value(parts.metrics).unwrap_or_default(),
        data_snapshot: snapshot,
    })?;
    Ok(Saved {
        version_id,
        model_path,
        classifier_path,
    })
}
