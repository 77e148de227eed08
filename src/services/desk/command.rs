//! Everything a front end may ask of the desk worker: one enum, sent through one
//! [`CommandSender`].

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Sender;
use image::GrayImage;

use crate::domain::Thresholds;
use crate::model::AnomalyModel;
use crate::reports::drift::DriftReference;
use crate::reports::pdf::PdfMeta;
use crate::reports::{GroupBy, Report, ReportFilter};
use crate::services::signing::SignatureInput;
use crate::services::workbench::Workbench;
use crate::store::{AuditFilter, DefectClass, LotStatus, ModelVersionRow, QueueFilter};

/// Asks the user for files (a native dialog); run on a job thread, never on the UI's.
/// `None` when the user chose nothing.
pub type PickPaths = Box<dyn FnOnce() -> Option<Vec<PathBuf>> + Send>;

/// Asks the user for one file to write; run on a job thread. `None` when cancelled.
pub type PickPath = Box<dyn FnOnce() -> Option<PathBuf> + Send>;

/// Where an export goes.
pub enum SaveTarget {
    /// This file (its folder is created).
    Path(PathBuf),
    /// The file the user picks (a save dialog run by the job).
    Ask(PickPath),
}

/// One request of the front end. Replies come back as [`super::Event`]s.
pub enum Command {
    /// Speak this language from now on: the worker's status messages and its jobs' (the
    /// window's language, which may differ from the process's).
    SetLanguage(crate::i18n::Language),

    /// Read lots, model versions and label counts again ([`super::Event::Snapshot`]).
    RefreshSnapshot,

    /// Score a few samples the model has not seen, then publish the labelling queue,
    /// taxonomy, counts and sources ([`super::Event::LabelQueue`]).
    RefreshLabelQueue {
        /// Which samples.
        filter: QueueFilter,
        /// The model in use (scores and queue order).
        model: Arc<AnomalyModel>,
    },
    /// Read a sample's image ([`super::Event::SampleImage`]).
    LoadSampleImage {
        /// The sample.
        sample_id: i64,
        /// Its file.
        path: PathBuf,
    },
    /// Give a sample a label, with an optional defect mask saved to the path given.
    Label {
        /// The sample.
        sample_id: i64,
        /// `good` or a defect class.
        label: String,
        /// Where to save the painted mask, and the mask.
        mask: Option<(PathBuf, GrayImage)>,
    },
    /// Undo a label (by label id).
    UndoLabel(i64),
    /// Add (id 0) or change a defect class.
    SaveDefectClass(DefectClass),
    /// Remove a defect class.
    DeleteDefectClass(i64),
    /// Import images or folders as samples: the paths given, or (when empty) what `pick` asks.
    Import {
        /// Files or folders to import.
        paths: Vec<PathBuf>,
        /// Asks for them when `paths` is empty.
        pick: Option<PickPaths>,
    },
    /// Export the labelled set into the folder `pick` asks for.
    ExportLabelled {
        /// Asks for the (empty) target folder.
        pick: PickPath,
    },
    /// Stop the running import or export at the next file.
    CancelFiles,

    /// Read the reports from the plant database at this URL from now on (none: this
    /// station's database).
    ReportDatabase {
        /// `postgres://…` of the plant database.
        plant: Option<String>,
    },
    /// Read the values of the report filter menus ([`super::Event::ReportOptions`]).
    ReportOptions,
    /// Run the report queries ([`super::Event::Report`]).
    BuildReport {
        /// Which inspections.
        filter: ReportFilter,
        /// p-chart subgroups.
        group_by: GroupBy,
        /// Drift reference of the model in use.
        reference: DriftReference,
    },
    /// Read the items behind a chart point or bar ([`super::Event::Drill`]).
    Drill {
        /// Title it is shown under (echoed back).
        title: String,
        /// Which items.
        filter: ReportFilter,
        /// Only items with a saved crop.
        images_only: bool,
    },
    /// Hold or release a lot: the signed-in QC manager signs (password again, reason).
    SetLotStatus {
        /// Lot code.
        code: String,
        /// New status.
        status: LotStatus,
        /// The signature's password and reason.
        sign: SignatureInput,
    },
    /// Hold or release a lot of the plant database at every station that has it: the
    /// signed-in QC manager signs here and the command waits in the outbox for the plant's
    /// Kafka (see [`crate::store::plant_commands`]).
    SetPlantLotStatus {
        /// Lot code.
        code: String,
        /// New status.
        status: LotStatus,
        /// The signature's password and reason.
        sign: SignatureInput,
        /// The station name this PC publishes under.
        origin: String,
    },
    /// Close a shift report: the signed-in QC manager signs it "reviewed" (password again,
    /// reason); then the review is read again ([`super::Event::ShiftReview`]).
    CloseShift {
        /// The shift.
        key: crate::services::shift_review::ShiftKey,
        /// The signature's password and reason.
        sign: SignatureInput,
    },
    /// Write the filtered inspections as CSV (progress, cancel with [`Command::CancelExport`]).
    ExportCsv {
        /// Which inspections.
        filter: ReportFilter,
        /// Where.
        to: SaveTarget,
    },
    /// Write the report as PDF.
    ExportPdf {
        /// The report.
        report: Box<Report>,
        /// Title, time, author.
        meta: PdfMeta,
        /// Where.
        to: SaveTarget,
    },
    /// Stop a running CSV export.
    CancelExport,
    /// Record a raised line alarm in the audit log.
    LogAlarm(serde_json::Value),
    /// Read this PC's plant key (made on first use) and the keys the station trusts
    /// ([`super::Event::PlantKeys`]).
    PlantKeys,
    /// Trust a deciding PC's public key (base64) as `name` (an admin's, audited).
    TrustPlantKey {
        /// The name it is trusted under.
        name: String,
        /// The public key as `foodqc keys show` prints it.
        key: String,
    },
    /// Stop trusting key `name` (an admin's, audited).
    RevokePlantKey {
        /// The name it was trusted under.
        name: String,
    },
    /// Change where the station's decisions go (an admin's setting, audited): PLC and MQTT
    /// addresses, one per entry, and reject on doubt ([`super::Event::LineOutputs`]).
    SetLineOutputs {
        /// `modbus-tcp://...` addresses.
        plc: Vec<String>,
        /// `mqtt://...` addresses.
        mqtt: Vec<String>,
        /// Review-band items go to the PLC as rejects.
        reject_on_doubt: bool,
        /// The plant's Kafka brokers, empty for none.
        kafka: String,
        /// The brokers' certificate authority (PEM file) for TLS, empty for the environment's.
        kafka_ca: String,
    },
    /// Save a recipe as the next version of its name (a QC manager's; audited):
    /// [`super::Event::RecipeSaved`].
    SaveRecipe(crate::domain::Recipe),
    /// Write a recipe as a JSON file the user picks (a job).
    ExportRecipe {
        /// The recipe (a stored version).
        recipe: crate::domain::Recipe,
        /// Asks for the file.
        pick: PickPath,
    },
    /// Read a recipe file the user picks, checked, into the editor (not saved):
    /// [`super::Event::RecipeRead`].
    ReadRecipe {
        /// Asks for the file.
        pick: PickPath,
    },

    /// Load the scores for the threshold workbench and the setting history of `version`
    /// ([`super::Event::ThresholdsLoaded`]).
    LoadThresholds {
        /// The score file; `None` = production scores only, unless `find_default`.
        score_file: Option<PathBuf>,
        /// Look for the model's score file in the models folder when none is given.
        find_default: bool,
        /// The live model version.
        version: String,
    },
    /// Save a threshold setting for `version` ([`super::Event::ThresholdsApplied`]).
    ApplyThresholds {
        /// The live model version.
        version: String,
        /// The new setting.
        new: Thresholds,
        /// The setting it replaces.
        old: Thresholds,
        /// The signed-in QC manager's signature: password again and reason.
        sign: SignatureInput,
    },
    /// Score a few test images of the workbench for the pixel preview
    /// ([`super::Event::Previews`]).
    ScorePreviews {
        /// The loaded scores (their files and dataset).
        workbench: Arc<Workbench>,
        /// The model in use.
        model: Arc<AnomalyModel>,
        /// Defective images wanted.
        n: usize,
    },

    /// Start a training job on the labelled samples, based on `base` (progress events).
    StartTraining {
        /// The model in use: its segmentation settings are kept.
        base: Arc<AnomalyModel>,
    },
    /// Cancel the running training job.
    CancelTraining,
    /// Propose a trained version for the line (the signed-in data scientist signs).
    Propose {
        /// The version.
        row: ModelVersionRow,
        /// Password again and reason.
        sign: SignatureInput,
    },
    /// Approve a proposed version: it goes live ([`super::Event::Promoted`]); the signed-in
    /// QC manager signs.
    Approve {
        /// The version.
        row: ModelVersionRow,
        /// The model the line runs (the candidate is compared with it).
        live: Arc<AnomalyModel>,
        /// Password again and reason.
        sign: SignatureInput,
        /// The reason of an override when the candidate fails its acceptance criteria.
        override_reason: Option<String>,
    },
    /// Return to the version live before ([`super::Event::Promoted`]); the signed-in QC
    /// manager signs.
    Rollback {
        /// The version to return to.
        row: ModelVersionRow,
        /// Password again and reason.
        sign: SignatureInput,
    },
    /// Send an approved version to the plant's stations that run `recipe`: the signed-in QC
    /// manager signs here and the release waits in the outbox for the plant's Kafka (see
    /// [`crate::services::plant_model`]).
    PublishModel {
        /// The version (approved at this PC with these very files).
        row: ModelVersionRow,
        /// The recipe whose stations take it.
        recipe: String,
        /// Password again and reason.
        sign: SignatureInput,
        /// The station name this PC publishes under.
        origin: String,
    },

    /// Several commands, run in order (a signed change and the refresh that shows it).
    Batch(Vec<Command>),

    /// Sign in ([`super::Event::Session`]).
    SignIn {
        /// Login name.
        name: String,
        /// Password.
        password: String,
    },
    /// Sign out (`idle`: the idle lock did it).
    SignOut {
        /// Whether the idle lock ended the session.
        idle: bool,
    },
    /// Create the station's first user, an admin, and sign them in (only while there is no
    /// user).
    CreateFirstAdmin {
        /// Login name.
        name: String,
        /// Name as people read it.
        display_name: String,
        /// Password.
        password: String,
    },
    /// Compare a registered version with the live model on the labelled samples neither
    /// trained on and assess it against the acceptance criteria ([`super::Event::Comparison`]).
    CompareCandidate {
        /// The candidate's row id.
        version_id: i64,
        /// The model the station runs: the live model when no version is promoted.
        live: Arc<AnomalyModel>,
    },

    /// Read the audit entries `filter` selects, newest first ([`super::Event::AuditEntries`]);
    /// the signed-in user's role must read the audit trail.
    LoadAudit {
        /// Which entries (at most `limit`).
        filter: AuditFilter,
    },
    /// Walk the hash chains of the audit log and the inspections
    /// ([`super::Event::AuditVerified`]), on a job thread.
    VerifyAudit,
    /// Ask where to write a signed audit extract (a save dialog run by a job):
    /// [`super::Event::AuditExportPath`], which the window follows with the signature.
    ChooseAuditExport {
        /// Asks for the file.
        pick: PickPath,
    },
    /// Write the extract `filter` selects as a PDF the signed-in QC manager signs as
    /// reviewed (password again, reason), on a job thread.
    ExportAuditSigned {
        /// Which entries (all that match).
        filter: AuditFilter,
        /// The PDF to write.
        pdf: PathBuf,
        /// The signature's password and reason.
        sign: SignatureInput,
    },
}

/// The sending end of the desk's command channel; cheap to clone.
#[derive(Clone)]
pub struct CommandSender(pub(super) Sender<Command>);

impl CommandSender {
    /// Queue a command; false when the worker has stopped.
    pub fn send(&self, cmd: Command) -> bool {
        self.0.send(cmd).is_ok()
    }
}
