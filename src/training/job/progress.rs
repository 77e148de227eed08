//! Progress of a job: stage, units done, and a per-stage ETA from the rate so far.

use std::sync::Mutex;
use std::time::Instant;

use super::{JobProgress, Stage};

/// Progress reporting with a per-stage rate-based ETA.
pub(super) struct Reporter<'a> {
    /// When the job started.
    pub(super) started: Instant,
    stage_started: Mutex<Instant>,
    sink: &'a (dyn Fn(JobProgress) + Sync),
}

impl<'a> Reporter<'a> {
    /// A reporter to `sink`, the job starting now.
    pub(super) fn new(sink: &'a (dyn Fn(JobProgress) + Sync)) -> Self {
        Self {
            started: Instant::now(),
            stage_started: Mutex::new(Instant::now()),
            sink,
        }
    }

    /// Enters `stage` of `total` units.
    pub(super) fn stage(&self, stage: Stage, total: usize) {
        *self.stage_started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.report(stage, 0, total);
    }

    /// Reports `done` of `total` units of `stage`.
    pub(super) fn report(&self, stage: Stage, done: usize, total: usize) {
        let in_stage = self
            .stage_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        let eta = (done > 0 && total > done)
            .then(|| in_stage.mul_f64((total - done) as f64 / done as f64));
        (self.sink)(JobProgress {
            stage,
            done,
            total,
            elapsed: self.started.elapsed(),
            eta,
        });
    }
}
