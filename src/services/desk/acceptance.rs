//! Comparing a candidate with the live model for the Train tab: scoring every independent
//! sample with two models takes seconds, so it runs on a job thread with a store of its own.

use std::sync::Arc;

use super::event::{CandidateReport, Event};
use super::status::Topic;
use super::worker::{Worker, open_with_retry, spawn_job};
use crate::model::AnomalyModel;
use crate::services::acceptance;

impl Worker {
    /// Compare version `version_id` with the live model `live` (the model the station runs)
    /// and assess it; answers with [`Event::Comparison`].
    pub(super) fn compare_candidate(&mut self, version_id: i64, live: Arc<AnomalyModel>) {
        let db = self.cfg.paths.db_path();
        let sink = self.sink.clone();
        spawn_job(&self.sink, Topic::Train, "compare", move || {
            let result = (|| -> Result<Box<CandidateReport>, String> {
                let store = open_with_retry(&db).map_err(|e| e.to_string())?;
                let rows = store.list_model_versions().map_err(|e| e.to_string())?;
                let candidate = rows
                    .iter()
                    .find(|r| r.id == version_id)
                    .ok_or_else(|| crate::tr!("desk-no-version", id = version_id))?;
                let comparison = acceptance::compare_with_live(&store, candidate, &live)
                    .map_err(|e| e.to_string())?;
                let criteria = acceptance::criteria(&store).map_err(|e| e.to_string())?;
                let assessment = acceptance::assess(&comparison, &criteria);
                Ok(Box::new(CandidateReport {
                    comparison,
                    assessment,
                }))
            })();
            sink.emit(Event::Comparison { version_id, result });
        });
    }
}
