//! What can stop a station from starting or running.

use crate::capture::CaptureError;
use crate::store::StoreError;

/// Errors starting, running or stopping a station; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// The frame source could not be opened (missing folder, no camera).
    #[error("{}", crate::tr!("station-source", spec = .spec.as_str()))]
    Source {
        /// The source, as the user named it.
        spec: String,
        /// Why it cannot be opened.
        #[source]
        source: CaptureError,
    },
    /// The database could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A model's settings could not be written as JSON for the database.
    #[error("{}", crate::tr!("station-model-json", version = .version.as_str()))]
    ModelJson {
        /// The model version.
        version: String,
        /// The serialisation error.
        #[source]
        source: serde_json::Error,
    },
    /// A station thread could not be started.
    #[error("{}", crate::tr!("station-spawn", thread = .thread.to_string()))]
    Spawn {
        /// Which thread.
        thread: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A station thread panicked.
    #[error("{}", crate::tr!("station-panicked", thread = .0.to_string()))]
    Panicked(&'static str),
    /// The recorder is still shared when the station stops (a bug).
    #[error("{}", crate::tr!("station-recorder-in-use"))]
    RecorderInUse,
    /// The recipe asked for cannot be applied (unknown, or its model is missing).
    #[error("{0}")]
    Recipe(String),
    /// A group of stations was started with none.
    #[error("{}", crate::tr!("station-none"))]
    NoStations,
    /// The stations of one group must record into one data folder.
    #[error("{}", crate::tr!("station-mixed-data-dirs", station = .station.as_str()))]
    MixedDataDirs {
        /// The station that differs.
        station: String,
    },
    /// The recorder thread stopped while the line was running.
    #[error("{}", crate::tr!("station-recorder-stopped"))]
    RecorderStopped,
}
