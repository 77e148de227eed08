//! Why a benchmark run failed; every message names the file, folder or step concerned.

use std::path::PathBuf;

use crate::capture::CaptureError;
use crate::eval::EvalError;
use crate::model::{ModelError, TrainError};
use crate::store::StoreError;
use crate::training::TrainingError;
use crate::training::job::TrainJobError;

/// Errors of `foodqc bench`.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The plant database failed.
    #[error(transparent)]
    PlantDb(#[from] crate::store::plant_db::PlantDbError),
    /// The plant collector stopped.
    #[error(transparent)]
    Collector(#[from] crate::plant::collector::CollectorError),
    /// The plant's brokers refused or did not answer.
    #[error("{}", crate::tr!("err-bench-kafka", brokers = .brokers.as_str(), error = .error.as_str()))]
    Kafka {
        /// The brokers given.
        brokers: String,
        /// What failed.
        error: String,
    },
    /// The plant benchmark needs an empty plant database.
    #[error("{}", crate::tr!("err-bench-plant-not-empty", db = .db.as_str(), rows = .rows))]
    PlantNotEmpty {
        /// The database, without its password.
        db: String,
        /// Inspections it holds.
        rows: i64,
    },
    /// The rayon pool of `--threads` threads could not be built.
    #[error("{}", crate::tr!("err-bench-error-pool", v0 = .0.to_string()))]
    Pool(#[from] rayon::ThreadPoolBuildError),
    /// A scratch folder could not be created.
    #[error("{}", crate::tr!("err-bench-error-create-dir", path = .path.display().to_string(), source = .source.to_string()))]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A photo of the dataset could not be read.
    #[error("{}", crate::tr!("err-bench-error-read", path = .path.display().to_string(), source = .source.to_string()))]
    Read {
        /// The photo.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The dataset could not be opened.
    #[error(transparent)]
    Dataset(#[from] EvalError),
    /// The bundled model could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The synthetic line failed or ended.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The report of an alarm simulation failed.
    #[error(transparent)]
    Report(#[from] crate::reports::ReportError),
    /// The station of a soak failed.
    #[error(transparent)]
    Station(#[from] crate::station::StationError),
    /// The line simulator (the PLC of the line bench) could not listen.
    #[error("{}", crate::tr!("err-bench-error-line-sim", v0 = .0.to_string()))]
    LineSim(#[source] std::io::Error),
    /// The synthetic line gave no frame.
    #[error("{}", crate::tr!("err-bench-error-source-ended"))]
    SourceEnded,
    /// A frame could not be encoded as JPEG.
    #[error("{}", crate::tr!("err-bench-error-encode", v0 = .0.to_string()))]
    Encode(#[source] image::ImageError),
    /// A benchmark input could not be decoded.
    #[error("{}", crate::tr!("err-bench-error-decode", v0 = .0.to_string()))]
    Decode(#[source] image::ImageError),
    /// The header of a benchmark input could not be read.
    #[error("{}", crate::tr!("err-bench-error-size", v0 = .0.to_string()))]
    Size(#[source] image::ImageError),
    /// The scratch database or its recorder failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The one-class training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The deep tier could not be trained on the dataset.
    #[error("{}", crate::tr!("err-bench-error-deep", v0 = .0.to_string()))]
    Deep(#[from] crate::model::deep::DeepTrainError),
    /// Labelled samples could not be captured from the synthetic line.
    #[error(transparent)]
    Samples(#[from] TrainingError),
    /// The labelled training job failed.
    #[error("{}", crate::tr!("err-bench-error-labelled-training", v0 = .0.to_string()))]
    LabelledTraining(#[source] TrainJobError),
    /// No training run was made (zero runs asked for).
    #[error("{}", crate::tr!("err-bench-error-no-training-run"))]
    NoTrainingRun,
}
