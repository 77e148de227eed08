//! What can stop a station from starting or running.

use crate::capture::CaptureError;
use crate::store::StoreError;

/// Errors starting, running or stopping a station; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// The frame source could not be opened (missing folder, no camera).
    #[error("cannot open source {spec}: {source}")]
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
    #[error("cannot describe model {version} for the database: {source}")]
    ModelJson {
        /// The model version.
        version: String,
        /// The serialisation error.
        #[source]
        source: serde_json::Error,
    },
    /// A station thread could not be started.
    #[error("cannot start the {thread} thread: {source}")]
    Spawn {
        /// Which thread.
        thread: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A station thread panicked.
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
    /// The recorder is still shared when the station stops (a bug).
    #[error("the recorder is still in use")]
    RecorderInUse,
    /// The recipe asked for cannot be applied (unknown, or its model is missing).
    #[error("{0}")]
    Recipe(String),
    /// A group of stations was started with none.
    #[error("no station to start: give at least one source")]
    NoStations,
    /// The stations of one group must record into one data folder.
    #[error("station {station} records into another data folder than the first station")]
    MixedDataDirs {
        /// The station that differs.
        station: String,
    },
    /// The recorder thread stopped while the line was running.
    #[error("the recorder stopped; inspections can no longer be saved")]
    RecorderStopped,
}
