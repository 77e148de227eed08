//! Several stations in one process: one line PC watching several cameras (two sides of a
//! product, two lanes, several lines from one desk). Each camera is its own [`Station`]
//! (capture, inspect threads, its own station row, lot and line outputs); they share one
//! recorder (one database connection, batched writes) and rayon's pool, sized to the machine.
//! When the machine cannot keep up, each station drops its own oldest frames and counts them:
//! no camera waits for another.

use std::sync::Arc;

use super::{Station, StationConfig, StationError, StationStats};
use crate::model::InspectionModel;
use crate::store::{InspectionRecorder, RecorderStats};

/// The stations of one process and their shared recorder.
pub struct StationGroup {
    stations: Vec<Station>,
    recorder: Option<Arc<InspectionRecorder>>,
}

impl StationGroup {
    /// Open every configured source and start one station per config. All configs must
    /// record into the same data folder (the first one's); a source that cannot be opened
    /// stops the ones already started and fails naming it.
    pub fn start(
        configs: Vec<StationConfig>,
        model: impl Into<InspectionModel>,
    ) -> Result<StationGroup, StationError> {
        let model = model.into();
        let Some(first) = configs.first() else {
            return Err(StationError::NoStations);
        };
        let paths = first.paths.clone();
        if let Some(other) = configs.iter().find(|c| c.paths.data_dir != paths.data_dir) {
            return Err(StationError::MixedDataDirs {
                station: other.station_name.clone(),
            });
        }
        let recorder = Arc::new(InspectionRecorder::spawn(
            paths.db_path(),
            paths.samples_dir(),
            8192 * configs.len(),
        )?);
        let mut stations = Vec::with_capacity(configs.len());
        for cfg in configs {
            let source = Station::open_source(&cfg)?;
            // On an error the stations started so far stop when dropped.
            stations.push(Station::start_recording_into(
                cfg,
                source,
                model.clone(),
                Some(recorder.clone()),
            )?);
        }
        Ok(StationGroup {
            stations,
            recorder: Some(recorder),
        })
    }

    /// The stations, in config order.
    pub fn stations(&self) -> &[Station] {
        &self.stations
    }

    /// Each station's counters (the recorder's are the group's, the same in each).
    pub fn stats(&self) -> Vec<StationStats> {
        self.stations.iter().map(Station::stats).collect()
    }

    /// Whether every station's source has ended and its frames are inspected.
    pub fn is_finished(&self) -> bool {
        self.stations.iter().all(Station::is_finished)
    }

    /// Wait for every source to end, flush the recorder; each station's final counters and
    /// the recorder's.
    pub fn wait(self) -> Result<(Vec<StationStats>, RecorderStats), StationError> {
        self.finish(false)
    }

    /// Stop every station now, flush the recorder; the final counters.
    pub fn stop(self) -> Result<(Vec<StationStats>, RecorderStats), StationError> {
        self.finish(true)
    }

    fn finish(mut self, stop: bool) -> Result<(Vec<StationStats>, RecorderStats), StationError> {
        if stop {
            // Ask all at once, so none keeps capturing while another drains.
            for s in &self.stations {
                s.request_stop();
            }
        }
        let mut all = Vec::with_capacity(self.stations.len());
        for s in std::mem::take(&mut self.stations) {
            all.push(s.wait()?);
        }
        let recorder = match self.recorder.take() {
            Some(r) => Arc::try_unwrap(r)
                .map_err(|_| StationError::RecorderInUse)?
                .finish()?,
            None => RecorderStats::default(),
        };
        for s in &mut all {
            s.recorder = recorder.clone();
        }
        Ok((all, recorder))
    }
}
