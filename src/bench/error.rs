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
    /// The rayon pool of `--threads` threads could not be built.
    #[error("cannot build the thread pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    /// A scratch folder could not be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A photo of the dataset could not be read.
    #[error("cannot read {}: {source}", path.display())]
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
    #[error("cannot start the line simulator: {0}")]
    LineSim(#[source] std::io::Error),
    /// The synthetic line gave no frame.
    #[error("the synthetic line ended unexpectedly")]
    SourceEnded,
    /// A frame could not be encoded as JPEG.
    #[error("cannot encode a JPEG: {0}")]
    Encode(#[source] image::ImageError),
    /// A benchmark input could not be decoded.
    #[error("cannot decode a benchmark input: {0}")]
    Decode(#[source] image::ImageError),
    /// The header of a benchmark input could not be read.
    #[error("cannot read the size of a benchmark input: {0}")]
    Size(#[source] image::ImageError),
    /// The scratch database or its recorder failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The one-class training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The deep tier could not be trained on the dataset.
    #[error("deep tier: {0}")]
    Deep(#[from] crate::model::deep::DeepTrainError),
    /// Labelled samples could not be captured from the synthetic line.
    #[error(transparent)]
    Samples(#[from] TrainingError),
    /// The labelled training job failed.
    #[error("labelled training failed: {0}")]
    LabelledTraining(#[source] TrainJobError),
    /// No training run was made (zero runs asked for).
    #[error("no training run")]
    NoTrainingRun,
}
