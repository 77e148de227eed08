//! What the desk worker answers: typed events, taken by the front end each frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use super::status::{Status, Topic};
use crate::domain::Thresholds;
use crate::reports::Report;
use crate::reports::audit::ChainCheck;
use crate::services::acceptance::{Assessment, Comparison};
use crate::services::promotion::Promoted;
use crate::services::threshold_settings::PreviewImage;
use crate::services::workbench::Workbench;
use crate::store::{AuditEntry, AuditFilter, InspectionView};
use crate::store::{DefectClass, LotSummary, ModelVersionRow, QueueEntry, ThresholdSetting};
use crate::training::job::{JobProgress, TrainOutcome};

/// What the front end shows from the database, refreshed on request.
#[derive(Clone, Debug, Default)]
pub struct DbSnapshot {
    /// Per-lot counts.
    pub lots: Vec<LotSummary>,
    /// Registered model versions.
    pub models: Vec<ModelVersionRow>,
    /// Label counts per class.
    pub label_counts: Vec<(String, i64)>,
    /// The version live before the current one (for roll back).
    pub previous_active: Option<i64>,
    /// How many users the station has (0: the first admin is still to be created).
    pub users: i64,
    /// The standing proposal of each proposed version, by version id.
    pub proposals: std::collections::BTreeMap<i64, crate::store::SignatureRow>,
    /// The recipes (newest versions), for the Live tab's recipe choice and editor.
    pub recipes: Vec<crate::domain::Recipe>,
    /// When this snapshot was taken.
    pub taken_at: Option<Instant>,
    /// Query time in ms.
    pub query_ms: f64,
    /// Why the queries failed, if they did.
    pub error: Option<String>,
}

/// The labelling queue and what goes with it.
#[derive(Clone, Debug, Default)]
pub struct LabelQueue {
    /// Unlabelled samples, most uncertain first.
    pub queue: Vec<QueueEntry>,
    /// The defect taxonomy.
    pub classes: Vec<DefectClass>,
    /// Samples per current label.
    pub counts: Vec<(String, i64)>,
    /// Sources for the filter menu.
    pub sources: Vec<String>,
    /// Samples scored by the model during this refresh.
    pub scored: usize,
}

/// One answer of the desk worker.
pub enum Event {
    /// What the user is told about a piece of work.
    Status(Topic, Status),
    /// Fresh database snapshot.
    Snapshot(DbSnapshot),
    /// Fresh labelling queue.
    LabelQueue(LabelQueue),
    /// A label was stored.
    Labelled {
        /// Its id (for undo).
        label_id: i64,
        /// The sample.
        sample_id: i64,
        /// Label counts after it.
        counts: Vec<(String, i64)>,
    },
    /// A label was undone.
    Unlabelled {
        /// Its id.
        label_id: i64,
        /// Label counts after it.
        counts: Vec<(String, i64)>,
    },
    /// The taxonomy after a change.
    DefectClasses(Vec<DefectClass>),
    /// A sample's image, or why it cannot be read.
    SampleImage {
        /// The sample.
        sample_id: i64,
        /// The pixels.
        image: Result<Arc<RgbImage>, String>,
    },
    /// Values for the report filter menus.
    ReportOptions(crate::store::FilterOptions),
    /// A report and its query time (ms).
    Report(Box<Report>, f64),
    /// The review of the shift the last report shows (`None`: it shows no single shift).
    ShiftReview(Option<crate::services::shift_review::ShiftReviewState>),
    /// Items of a drill-down, with thumbnails (at most 128 px) of crops not sent before.
    Drill {
        /// The title it was asked under.
        title: String,
        /// The items, latest first.
        items: Vec<InspectionView>,
        /// New thumbnails.
        thumbs: Vec<(PathBuf, RgbImage)>,
    },
    /// Scores loaded for the threshold workbench.
    ThresholdsLoaded {
        /// The score file used (found or given).
        score_file: Option<PathBuf>,
        /// The workbench.
        workbench: Arc<Workbench>,
        /// The settings of the model version, newest (in force) first.
        history: Vec<ThresholdSetting>,
    },
    /// A threshold setting was saved: now in force.
    ThresholdsApplied {
        /// The thresholds in force.
        thresholds: Thresholds,
        /// The new history, newest first.
        history: Vec<ThresholdSetting>,
    },
    /// Preview images scored (empty when none could be).
    Previews(Vec<PreviewImage>),
    /// Training progress.
    TrainProgress(JobProgress),
    /// A training job ended.
    TrainFinished(Result<TrainOutcome, String>),
    /// A version was made live: hand it to the station.
    Promoted(Promoted),
    /// Who is signed in now (`None`: nobody; the window is read-only).
    Session(Option<crate::services::auth::AuthUser>),
    /// A candidate compared with the live model, or why it could not be.
    Comparison {
        /// The candidate's row id.
        version_id: i64,
        /// The comparison and its assessment against the criteria in force.
        result: Result<Box<CandidateReport>, String>,
    },
    /// Audit entries, newest first.
    AuditEntries {
        /// The filter they were read for.
        filter: AuditFilter,
        /// The entries.
        entries: Vec<AuditEntry>,
    },
    /// What walking the hash chains found.
    AuditVerified(ChainCheck),
    /// The file chosen for a signed audit extract (the signature is asked next).
    AuditExportPath(PathBuf),
    /// The user who signed in chose this language before: the window speaks it now.
    UserLanguage(crate::i18n::Language),
    /// A recipe was saved (this version).
    RecipeSaved(crate::domain::Recipe),
    /// A recipe file was read and checked, for the editor.
    RecipeRead(crate::domain::Recipe),
    /// This PC's plant key and the keys the station trusts, as they are now.
    PlantKeys {
        /// This PC's public key (base64).
        own: String,
        /// The trusted keys, by name.
        trusted: Vec<crate::store::plant_key::TrustedKey>,
    },
    /// The line outputs setting was changed (and audited): restart the station with it.
    LineOutputs {
        /// Where decisions go.
        outputs: Vec<crate::lineio::LineOutputSpec>,
        /// Review-band items go to the PLC as rejects.
        reject_on_doubt: bool,
        /// Where the records go to the plant, if anywhere.
        kafka: Option<crate::domain::KafkaSpec>,
        /// The brokers' authority as the setting names it, empty for the environment's.
        kafka_ca: String,
    },
}

/// What [`Event::Comparison`] carries: the comparison and the decision on it.
#[derive(Clone, Debug)]
pub struct CandidateReport {
    /// Both models on the independent samples.
    pub comparison: Comparison,
    /// The shortfalls against the live model and the criteria.
    pub assessment: Assessment,
}
