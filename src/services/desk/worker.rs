//! The worker loop: takes commands in order, runs the quick ones on the store it owns and
//! hands the long ones to job threads; polls a running training job between commands.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::command::Command;
use super::event::{DbSnapshot, Event};
use super::status::{Status, Topic};
use super::{DeskConfig, EventSink};
use crate::services::auth::AuthUser;
use crate::store::{Store, StoreError};

/// How often a running training job is polled for progress.
const POLL: Duration = Duration::from_millis(50);

/// Why a command failed; shown to the user as a [`Status::Failed`].
#[derive(Debug, thiserror::Error)]
pub(super) enum DeskError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A report query or export failed.
    #[error(transparent)]
    Report(#[from] crate::reports::ReportError),
    /// Anything else, said in words.
    #[error("{0}")]
    Other(String),
}

/// The worker's state: the store (opened on first use, reopened after an error), the running
/// training job and the cancel flags of the file and export jobs.
pub(super) struct Worker {
    pub(super) cfg: DeskConfig,
    pub(super) sink: EventSink,
    store: Option<Store>,
    pub(super) train: Option<super::train::TrainRun>,
    pub(super) files_cancel: Arc<AtomicBool>,
    pub(super) export_cancel: Arc<AtomicBool>,
    /// Crops whose thumbnails were already sent.
    pub(super) thumbs_sent: HashSet<PathBuf>,
    /// Who is signed in at the window.
    pub(super) session: Option<AuthUser>,
    /// The plant database the reports read instead of the store, when one is chosen.
    pub(super) plant_url: Option<String>,
    /// Its connection, opened when first needed.
    pub(super) plant: Option<crate::store::plant_db::PlantDb>,
}

impl Worker {
    pub(super) fn new(cfg: DeskConfig, sink: EventSink) -> Self {
        Self {
            cfg,
            sink,
            store: None,
            train: None,
            files_cancel: Arc::new(AtomicBool::new(false)),
            export_cancel: Arc::new(AtomicBool::new(false)),
            thumbs_sent: HashSet::new(),
            session: None,
            plant_url: None,
            plant: None,
        }
    }

    /// Run until every sender is gone; a running training job is cancelled then.
    pub(super) fn run(mut self, rx: Receiver<Command>) {
        loop {
            let cmd = if self.train.is_some() {
                match rx.recv_timeout(POLL) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => break,
                }
            };
            if let Some(cmd) = cmd {
                self.handle(cmd);
            }
            self.poll_training();
        }
        if let Some(t) = &self.train {
            t.job.cancel();
        }
    }

    /// The store, opened when needed.
    pub(super) fn store(&mut self) -> Result<&mut Store, StoreError> {
        let store = match self.store.take() {
            Some(s) => s,
            None => open_with_retry(&self.cfg.paths.db_path())?,
        };
        Ok(self.store.insert(store))
    }

    fn handle(&mut self, cmd: Command) {
        let topic = topic_of(&cmd);
        let result = self.dispatch(cmd);
        if let Err(e) = result {
            tracing::error!("{topic:?}: {e}");
            if matches!(e, DeskError::Store(_)) {
                // Reopen on the next command: the file may have been replaced or locked.
                self.store = None;
            }
            if matches!(e, DeskError::Report(crate::reports::ReportError::Plant(_))) {
                // The plant database may be back by the next command.
                self.plant = None;
            }
            self.sink.status(topic, Status::Failed(e.to_string()));
        }
    }

    /// Run one command; quick ones here, long ones handed to job threads.
    fn dispatch(&mut self, cmd: Command) -> Result<(), DeskError> {
        use super::label::TaxonomyChange;
        match cmd {
            Command::SetLanguage(lang) => self.set_language(lang),
            Command::RefreshSnapshot => self.publish_snapshot(),
            Command::RefreshLabelQueue { filter, model } => {
                return self.refresh_label_queue(&filter, &model);
            }
            Command::LoadSampleImage { sample_id, path } => {
                self.load_sample_image(sample_id, &path)
            }
            Command::Label {
                sample_id,
                label,
                mask,
            } => return self.label(sample_id, &label, mask),
            Command::UndoLabel(id) => return self.undo_label(id),
            Command::SaveDefectClass(c) => return self.edit_taxonomy(TaxonomyChange::Save(c)),
            Command::DeleteDefectClass(id) => {
                return self.edit_taxonomy(TaxonomyChange::Delete(id));
            }
            Command::Import { paths, pick } => self.import(paths, pick),
            Command::ExportLabelled { pick } => self.export_labelled(pick),
            Command::CancelFiles => self.files_cancel.store(true, Ordering::Relaxed),
            Command::ReportDatabase { plant } => self.report_database(plant),
            Command::ReportOptions => return self.report_options(),
            Command::BuildReport {
                filter,
                group_by,
                reference,
            } => return self.build_report(&filter, group_by, &reference),
            Command::Drill {
                title,
                filter,
                images_only,
            } => return self.drill(title, &filter, images_only),
            Command::SetLotStatus { code, status, sign } => {
                return self.set_lot_status(&code, status, &sign);
            }
            Command::SetPlantLotStatus {
                code,
                status,
                sign,
                origin,
            } => return self.set_plant_lot_status(&code, status, &sign, &origin),
            Command::CloseShift { key, sign } => return self.close_shift(&key, &sign),
            Command::ExportCsv { filter, to } => self.export_csv(filter, to),
            Command::ExportPdf { report, meta, to } => self.export_pdf(report, meta, to),
            Command::CancelExport => self.export_cancel.store(true, Ordering::Relaxed),
            Command::LogAlarm(details) => return self.log_alarm(details),
            Command::SetLineOutputs {
                plc,
                mqtt,
                reject_on_doubt,
                kafka,
                kafka_ca,
            } => return self.set_line_outputs(&plc, &mqtt, reject_on_doubt, &kafka, &kafka_ca),
            Command::PlantKeys => return self.plant_keys(),
            Command::TrustPlantKey { name, key } => return self.trust_plant_key(&name, &key),
            Command::RevokePlantKey { name } => return self.revoke_plant_key(&name),
            Command::SaveRecipe(recipe) => return self.save_recipe(&recipe),
            Command::ExportRecipe { recipe, pick } => self.export_recipe(recipe, pick),
            Command::ReadRecipe { pick } => self.read_recipe(pick),
            Command::LoadThresholds {
                score_file,
                find_default,
                version,
            } => self.load_thresholds(score_file, find_default, version),
            Command::ApplyThresholds {
                version,
                new,
                old,
                sign,
            } => return self.apply_thresholds(&version, new, &old, &sign),
            Command::ScorePreviews {
                workbench,
                model,
                n,
            } => self.score_previews(workbench, model, n),
            Command::StartTraining { base } => return self.start_training(base),
            Command::CancelTraining => self.cancel_training(),
            Command::Propose { row, sign } => return self.propose(&row, &sign),
            Command::Approve {
                row,
                live,
                sign,
                override_reason,
            } => return self.approve(&row, &live, &sign, override_reason.as_deref()),
            Command::Rollback { row, sign } => return self.rollback(&row, &sign),
            Command::PublishModel {
                row,
                recipe,
                sign,
                origin,
            } => return self.publish_model(&row, &recipe, &sign, &origin),
            Command::Batch(cmds) => {
                // The first failure stops the rest: a refresh after a refused change would
                // hide the refusal.
                for c in cmds {
                    self.dispatch(c)?;
                }
            }
            Command::SignIn { name, password } => return self.sign_in(&name, &password),
            Command::SignOut { idle } => return self.sign_out(idle),
            Command::CreateFirstAdmin {
                name,
                display_name,
                password,
            } => return self.create_first_admin(&name, &display_name, &password),
            Command::CompareCandidate { version_id, live } => {
                self.compare_candidate(version_id, live);
            }
            Command::LoadAudit { filter } => return self.load_audit(filter),
            Command::VerifyAudit => return self.verify_audit(),
            Command::ChooseAuditExport { pick } => self.choose_audit_export(pick),
            Command::ExportAuditSigned { filter, pdf, sign } => {
                return self.export_audit_signed(filter, pdf, sign);
            }
        }
        Ok(())
    }

    /// Read the snapshot and send it (errors go into the snapshot).
    pub(super) fn publish_snapshot(&mut self) {
        let t0 = Instant::now();
        let result = self.store().and_then(|s| {
            Ok(DbSnapshot {
                lots: s.lot_summaries()?,
                models: s.list_model_versions()?,
                label_counts: s.label_counts()?,
                previous_active: s.previous_active_model()?,
                users: s.user_count()?,
                proposals: open_proposals(s)?,
                recipes: s.recipes()?.into_iter().map(|r| r.recipe).collect(),
                ..Default::default()
            })
        });
        let mut snap = result.unwrap_or_else(|e| {
            self.store = None;
            DbSnapshot {
                error: Some(e.to_string()),
                ..Default::default()
            }
        });
        snap.taken_at = Some(Instant::now());
        snap.query_ms = t0.elapsed().as_secs_f64() * 1000.0;
        self.sink.emit(Event::Snapshot(snap));
    }
}

/// The standing proposal of each registered version that has one, by version id.
fn open_proposals(
    s: &Store,
) -> Result<std::collections::BTreeMap<i64, crate::store::SignatureRow>, StoreError> {
    let mut out = std::collections::BTreeMap::new();
    for m in s.list_model_versions()? {
        match crate::services::promotion::open_proposal(s, &m) {
            Ok(Some(p)) => {
                out.insert(m.id, p);
            }
            Ok(None) => {}
            Err(crate::services::promotion::PromotionError::Store(e)) => return Err(e),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// The topic a command's failure is reported under.
fn topic_of(cmd: &Command) -> Topic {
    match cmd {
        Command::SetLanguage(_) => Topic::Desk,
        Command::Batch(cmds) => cmds.first().map_or(Topic::Desk, topic_of),
        Command::RefreshSnapshot => Topic::Snapshot,
        Command::RefreshLabelQueue { .. }
        | Command::LoadSampleImage { .. }
        | Command::Label { .. }
        | Command::UndoLabel(_)
        | Command::SaveDefectClass(_)
        | Command::DeleteDefectClass(_) => Topic::Label,
        Command::Import { .. } | Command::ExportLabelled { .. } | Command::CancelFiles => {
            Topic::Files
        }
        Command::ReportDatabase { .. }
        | Command::ReportOptions
        | Command::BuildReport { .. }
        | Command::Drill { .. }
        | Command::SetLotStatus { .. }
        | Command::SetPlantLotStatus { .. }
        | Command::CloseShift { .. }
        | Command::ExportCsv { .. }
        | Command::ExportPdf { .. }
        | Command::CancelExport
        | Command::LogAlarm(_) => Topic::Reports,
        Command::LoadThresholds { .. }
        | Command::ApplyThresholds { .. }
        | Command::ScorePreviews { .. } => Topic::Thresholds,
        Command::StartTraining { .. } | Command::CancelTraining => Topic::Train,
        Command::Propose { .. }
        | Command::Approve { .. }
        | Command::Rollback { .. }
        | Command::PublishModel { .. } => Topic::Promotion,
        Command::SignIn { .. } | Command::SignOut { .. } | Command::CreateFirstAdmin { .. } => {
            Topic::Session
        }
        Command::CompareCandidate { .. } => Topic::Train,
        Command::LoadAudit { .. }
        | Command::VerifyAudit
        | Command::ChooseAuditExport { .. }
        | Command::ExportAuditSigned { .. } => Topic::Audit,
        Command::SetLineOutputs { .. } => Topic::Line,
        Command::PlantKeys | Command::TrustPlantKey { .. } | Command::RevokePlantKey { .. } => {
            Topic::PlantKeys
        }
        Command::SaveRecipe(_) | Command::ExportRecipe { .. } | Command::ReadRecipe { .. } => {
            Topic::Recipes
        }
    }
}

/// Open the database, retrying briefly: at start-up the station, the worker and the job
/// threads open a new file at the same time, and all but one may fail while another
/// creates the schema.
pub(super) fn open_with_retry(path: &Path) -> Result<Store, StoreError> {
    let mut tries = 0;
    loop {
        match Store::open(path) {
            Ok(s) => return Ok(s),
            Err(e) if tries < 5 => {
                tracing::debug!("desk: opening {} failed, retrying: {e}", path.display());
                tries += 1;
                std::thread::sleep(Duration::from_millis(100 * tries));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Run `work` on a job thread of its own; when no thread can be started, say so under
/// `topic`.
pub(super) fn spawn_job(
    sink: &EventSink,
    topic: Topic,
    name: &str,
    work: impl FnOnce() + Send + 'static,
) {
    // A job speaks the language of the worker that started it.
    let lang = crate::i18n::language();
    let spawned = std::thread::Builder::new()
        .name(format!("foodqc-{name}"))
        .spawn(move || {
            crate::i18n::set_thread_language(Some(lang));
            work()
        });
    if let Err(e) = spawned {
        sink.status(
            topic,
            Status::Failed(crate::tr!(
                "desk-cannot-start-job",
                job = name,
                error = e.to_string()
            )),
        );
    }
}
