//! Threshold commands: loading the workbench and previews on job threads, applying a
//! setting on the worker's store.

use std::path::PathBuf;
use std::sync::Arc;

use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker, open_with_retry, spawn_job};
use crate::domain::{Permission, Thresholds};
use crate::model::AnomalyModel;
use crate::services::signing::SignatureInput;
use crate::services::threshold_settings::{self as settings, ThresholdError};
use crate::services::workbench::Workbench;

impl Worker {
    /// Load the scores and the setting history of `version` on a job thread.
    pub(super) fn load_thresholds(
        &mut self,
        score_file: Option<PathBuf>,
        find_default: bool,
        version: String,
    ) {
        let db = self.cfg.paths.db_path();
        let models_dir = self.cfg.paths.models_dir();
        let sink = self.sink.clone();
        sink.status(Topic::Thresholds, Status::busy(crate::tr!("thr-loading")));
        spawn_job(&self.sink, Topic::Thresholds, "thresholds", move || {
            let score_file = score_file.or_else(|| {
                find_default
                    .then(|| settings::default_score_file(&models_dir, &version))
                    .flatten()
            });
            let loaded = (|| -> Result<_, ThresholdError> {
                let store = open_with_retry(&db)?;
                let history = settings::history(&store, &version)?;
                let w = settings::load_workbench(score_file.as_deref(), &store)?;
                Ok((w, history))
            })();
            match loaded {
                Ok((w, history)) => {
                    let msg = crate::tr!("desk-scores-loaded", source = w.source.as_str());
                    sink.emit(Event::ThresholdsLoaded {
                        score_file,
                        workbench: Arc::new(w),
                        history,
                    });
                    sink.status(Topic::Thresholds, Status::Done(msg));
                }
                Err(e) => sink.status(Topic::Thresholds, Status::Failed(e.to_string())),
            }
        });
    }

    /// Save a setting; the front end hands it to the station on the answer.
    pub(super) fn apply_thresholds(
        &mut self,
        version: &str,
        new: Thresholds,
        old: &Thresholds,
        sign: &SignatureInput,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ApplyThresholds)?;
        let applied = self
            .store()
            .map_err(ThresholdError::from)
            .and_then(|s| settings::apply(s, &user, version, new, old, sign));
        match applied {
            Ok((thresholds, history)) => {
                let msg = crate::tr!(
                    "desk-thresholds-applied",
                    id = history.first().map(|s| s.id).unwrap_or(0)
                );
                self.sink.emit(Event::ThresholdsApplied {
                    thresholds,
                    history,
                });
                self.sink.status(Topic::Thresholds, Status::Done(msg));
                Ok(())
            }
            Err(e) => Err(DeskError::Other(crate::tr!(
                "desk-not-applied",
                error = e.to_string()
            ))),
        }
    }

    /// Score preview images on a job thread.
    pub(super) fn score_previews(
        &mut self,
        workbench: Arc<Workbench>,
        model: Arc<AnomalyModel>,
        n: usize,
    ) {
        let sink = self.sink.clone();
        sink.status(
            Topic::Thresholds,
            Status::busy(crate::tr!("thr-preview-scoring")),
        );
        spawn_job(&self.sink, Topic::Thresholds, "previews", move || {
            let r =
                settings::load_previews(&workbench.items, workbench.dataset.as_deref(), model, n);
            match r {
                Ok(p) => {
                    let msg = crate::tr!("desk-previews-scored", count = p.len());
                    sink.emit(Event::Previews(p));
                    sink.status(Topic::Thresholds, Status::Done(msg));
                }
                Err(e) => {
                    sink.emit(Event::Previews(Vec::new()));
                    sink.status(Topic::Thresholds, Status::Failed(e.to_string()));
                }
            }
        });
    }
}
