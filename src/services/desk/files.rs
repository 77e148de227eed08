//! Import and export of sample files, each on a job thread with its own store connection:
//! the picker (a native dialog) runs there first, then the work with progress and cancel.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::EventSink;
use super::command::{PickPath, PickPaths};
use super::status::{Status, Topic};
use super::worker::{Worker, open_with_retry, spawn_job};
use crate::domain::Permission;
use crate::labeling::Progress;

/// A progress line: `import 3/10: name.png`.
fn busy(what: &str, p: Progress<'_>) -> Status {
    let file = p
        .current
        .and_then(|c| c.file_name())
        .map(|n| format!(": {}", n.to_string_lossy()))
        .unwrap_or_default();
    Status::Busy {
        what: format!("{what} {}/{}{file}", p.done, p.total),
        progress: (p.total > 0).then(|| p.done as f32 / p.total as f32),
    }
}

/// Run `work` as the files job `what`: progress and the final status go to [`Topic::Files`].
fn run_files_job(
    sink: &EventSink,
    cancel: &Arc<AtomicBool>,
    what: &'static str,
    work: impl FnOnce(&AtomicBool, &mut dyn FnMut(Progress<'_>)) -> Result<String, String>
    + Send
    + 'static,
) {
    cancel.store(false, Ordering::Relaxed);
    sink.status(Topic::Files, Status::busy(format!("{what}: choose")));
    let (sink2, cancel) = (sink.clone(), cancel.clone());
    spawn_job(sink, Topic::Files, what, move || {
        let mut report = |p: Progress<'_>| sink2.status(Topic::Files, busy(what, p));
        let status = match work(&cancel, &mut report) {
            Ok(text) => Status::Done(text),
            Err(e) => Status::Failed(format!("{what} not done: {e}")),
        };
        sink2.status(Topic::Files, status);
    });
}

impl Worker {
    /// Import `paths` (or what `pick` asks for) as samples.
    pub(super) fn import(&mut self, paths: Vec<PathBuf>, pick: Option<PickPaths>) {
        let actor = match self.user_for(Permission::CaptureSamples) {
            Ok(user) => user.actor(),
            Err(e) => {
                self.sink
                    .status(Topic::Files, Status::Failed(e.to_string()));
                return;
            }
        };
        let db = self.cfg.paths.db_path();
        let samples_dir = self.cfg.paths.samples_dir();
        run_files_job(
            &self.sink,
            &self.files_cancel,
            "import",
            move |cancel, report| {
                let paths = match (paths.is_empty(), pick) {
                    (false, _) => paths,
                    (true, Some(pick)) => pick().ok_or("nothing chosen")?,
                    (true, None) => return Err("nothing to import".into()),
                };
                let mut store = open_with_retry(&db).map_err(|e| e.to_string())?;
                let r = crate::labeling::import_paths(
                    &mut store,
                    &samples_dir,
                    &paths,
                    actor.as_str(),
                    cancel,
                    report,
                )
                .map_err(|e| e.to_string())?;
                Ok(r.to_string())
            },
        );
    }

    /// Export the labelled set into the folder `pick` asks for.
    pub(super) fn export_labelled(&mut self, pick: PickPath) {
        let db = self.cfg.paths.db_path();
        run_files_job(
            &self.sink,
            &self.files_cancel,
            "export",
            move |cancel, report| {
                let out = pick().ok_or("no folder chosen")?;
                let store = open_with_retry(&db).map_err(|e| e.to_string())?;
                let r = crate::labeling::export_labelled(&store, &out, false, cancel, report)
                    .map_err(|e| e.to_string())?;
                Ok(r.to_string())
            },
        );
    }
}
