//! Training and promotion: the job runs on its own thread (one worker thread, so the line's
//! inspection never waits behind it); the desk polls it for progress between commands.

use std::sync::Arc;

use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker};
use crate::domain::Permission;
use crate::model::AnomalyModel;
use crate::services::signing::SignatureInput;
use crate::services::{plant_model, promotion};
use crate::store::ModelVersionRow;
use crate::training::job::{JobProgress, TrainJob, TrainJobConfig};

/// A running training job and the last progress sent.
pub(super) struct TrainRun {
    pub(super) job: TrainJob,
    last: Option<JobProgress>,
}

impl Worker {
    pub(super) fn start_training(&mut self, base: Arc<AnomalyModel>) -> Result<(), DeskError> {
        let user = self.user_for(Permission::Train)?;
        if self.train.is_some() {
            return Err(DeskError::Other(crate::tr!("desk-training-running")));
        }
        let cfg = TrainJobConfig {
            db_path: self.cfg.paths.db_path(),
            models_dir: self.cfg.paths.models_dir(),
            base,
            options: Default::default(),
            tier: crate::model::TierChoice::Auto,
            actor: user.name.clone(),
            threads: Some(1),
        };
        match TrainJob::spawn(cfg, || {}) {
            Ok(job) => {
                self.train = Some(TrainRun { job, last: None });
                Ok(())
            }
            Err(e) => {
                let msg = crate::tr!("desk-cannot-start-training", error = e.to_string());
                self.sink.emit(Event::TrainFinished(Err(msg.clone())));
                Err(DeskError::Other(msg))
            }
        }
    }

    pub(super) fn cancel_training(&mut self) {
        if let Some(t) = &self.train {
            t.job.cancel();
        }
    }

    /// Send new progress; when the job has ended, its outcome and a fresh snapshot.
    pub(super) fn poll_training(&mut self) {
        let Some(run) = &mut self.train else {
            return;
        };
        if let Some(p) = run.job.progress()
            && run.last.as_ref() != Some(&p)
        {
            run.last = Some(p.clone());
            self.sink.emit(Event::TrainProgress(p));
        }
        if let Some(r) = run.job.try_finish() {
            self.train = None;
            let status = match &r {
                Ok(o) => Status::Done(crate::tr!("desk-trained", version = o.version.as_str())),
                Err(e) => Status::Failed(e.to_string()),
            };
            self.sink
                .emit(Event::TrainFinished(r.map_err(|e| e.to_string())));
            self.sink.status(Topic::Train, status);
            self.publish_snapshot();
        }
    }

    /// Propose `row` for the line under the signed-in data scientist's signature.
    pub(super) fn propose(
        &mut self,
        row: &ModelVersionRow,
        sign: &SignatureInput,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ProposeModel)?;
        let sig = promotion::propose(self.store()?, &user, row, sign)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        let msg = crate::tr!(
            "desk-proposed",
            version = row.version.as_str(),
            user = sig.display_name.as_str()
        );
        self.sink.status(Topic::Promotion, Status::Done(msg));
        self.publish_snapshot();
        Ok(())
    }

    /// Approve `row` under the signed-in QC manager's signature: it goes live.
    pub(super) fn approve(
        &mut self,
        row: &ModelVersionRow,
        live: &AnomalyModel,
        sign: &SignatureInput,
        override_reason: Option<&str>,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ApproveModel)?;
        let (promoted, _) =
            promotion::approve(self.store()?, &user, row, live, sign, override_reason)
                .map_err(|e| DeskError::Other(e.to_string()))?;
        self.went_live(promoted);
        Ok(())
    }

    /// Return to `row`, the version live before, under the QC manager's signature.
    pub(super) fn rollback(
        &mut self,
        row: &ModelVersionRow,
        sign: &SignatureInput,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ApproveModel)?;
        let store = self.store()?;
        let previous = store.previous_active_model()?;
        let (promoted, _) = promotion::rollback(store, &user, row, previous, sign)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        self.went_live(promoted);
        Ok(())
    }

    /// Sign the release of `row` for the plant's stations on `recipe` and queue it in the
    /// outbox; the window's publisher sends it.
    pub(super) fn publish_model(
        &mut self,
        row: &ModelVersionRow,
        recipe: &str,
        sign: &SignatureInput,
        origin: &str,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ApproveModel)?;
        let (sig, release, parts) =
            plant_model::publish(self.store()?, &user, row, recipe, sign, origin)
                .map_err(|e| DeskError::Other(e.to_string()))?;
        let msg = crate::tr!(
            "desk-model-published",
            version = row.version.as_str(),
            recipe = release.recipe.as_str(),
            actor = sig.display_name.as_str(),
            parts = parts
        );
        self.sink.status(Topic::Promotion, Status::Done(msg));
        Ok(())
    }

    fn went_live(&mut self, promoted: promotion::Promoted) {
        let msg = crate::tr!("desk-live", version = promoted.model.version.as_str());
        self.sink.emit(Event::Promoted(promoted));
        self.sink.status(Topic::Promotion, Status::Done(msg));
        self.publish_snapshot();
    }
}
