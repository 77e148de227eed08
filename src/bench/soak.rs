//! The soak: the live station on the synthetic line at its frame rate, recording every
//! inspection, for minutes or hours, while the process's memory, the rows written and the
//! recorder's queue are sampled. A leak shows as a memory slope, a lost record as a difference
//! between the items judged and the rows in the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;
use crate::capture::{SourceOptions, SourceSpec};
use crate::domain::AppPaths;
use crate::model::AnomalyModel;
use crate::station::{LotInfo, Station, StationConfig};
use crate::store::Store;

/// How to soak.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// How long the line runs.
    pub duration: Duration,
    /// Frames per second of the synthetic line (paced, frames dropped when behind).
    pub fps: f64,
    /// Time between two samples.
    pub every: Duration,
    /// The data folder the station records into (a fresh one gives exact row counts).
    pub paths: AppPaths,
}

/// One reading during the soak.
#[derive(Clone, Debug, Serialize)]
pub struct SoakSample {
    /// Seconds since the start.
    pub seconds: f64,
    /// Resident memory of the process, MiB.
    pub rss_mib: f64,
    /// Items judged so far.
    pub items: u64,
    /// Rows the recorder has written so far.
    pub recorded: u64,
    /// Inspections queued for the recorder.
    pub pending: u64,
    /// Frames dropped so far (inspection behind the line).
    pub frames_dropped: u64,
}

/// What a soak found.
#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    /// Every sample, in order.
    pub samples: Vec<SoakSample>,
    /// Least-squares slope of resident memory over the run after its first fifth (start-up
    /// and warm caches excluded), MiB per hour.
    pub rss_slope_mib_per_hour: f64,
    /// Resident memory at the first and last sample after warm-up, MiB.
    pub rss_after_warmup_mib: f64,
    /// Resident memory at the end, MiB.
    pub rss_end_mib: f64,
    /// Items judged.
    pub items: u64,
    /// Rows in the database at the end.
    pub rows: u64,
    /// Items judged but not in the database.
    pub rows_lost: i64,
    /// Frames captured, inspected and dropped.
    pub frames: (u64, u64, u64),
    /// Largest recorder queue seen.
    pub max_pending: u64,
}

/// Resident memory of this process (VmRSS), MiB (Linux only).
pub fn resident_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Run the soak; `progress(sample)` after each sample.
pub fn soak(
    opts: &SoakOptions,
    model: Arc<AnomalyModel>,
    progress: &dyn Fn(&SoakSample),
) -> Result<SoakReport, BenchError> {
    let cfg = StationConfig {
        station_name: "soak".into(),
        source: SourceSpec::Synthetic { seed: 11 },
        source_options: SourceOptions {
            fps: opts.fps,
            ..SourceOptions::default()
        },
        lot: LotInfo {
            code: "SOAK".into(),
            product: "synthetic".into(),
            line: "soak".into(),
            shift: "A".into(),
        },
        live: true,
        max_frames: None,
        paths: opts.paths.clone(),
        reject_samples_per_minute: 60,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: Vec::new(),
    };
    let station = Station::start(cfg, model)?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let take = |station: &Station| {
        let st = station.stats();
        SoakSample {
            seconds: started.elapsed().as_secs_f64(),
            rss_mib: resident_mib().unwrap_or(f64::NAN),
            items: st.items,
            recorded: st.recorder.recorded,
            pending: st.recorder.pending,
            frames_dropped: st.frames_dropped,
        }
    };
    while started.elapsed() < opts.duration {
        let left = opts.duration.saturating_sub(started.elapsed());
        std::thread::sleep(opts.every.min(left).max(Duration::from_millis(10)));
        let s = take(&station);
        progress(&s);
        samples.push(s);
    }
    let stats = station.stop()?;
    let rows = Store::open(&opts.paths.db_path())?.count_inspections()?.0 as u64;
    let warm = samples.len() / 5;
    let tail = &samples[warm.min(samples.len().saturating_sub(2))..];
    Ok(SoakReport {
        rss_slope_mib_per_hour: slope(tail) * 3600.0,
        rss_after_warmup_mib: tail.first().map_or(f64::NAN, |s| s.rss_mib),
        rss_end_mib: samples.last().map_or(f64::NAN, |s| s.rss_mib),
        items: stats.items,
        rows,
        rows_lost: stats.items as i64 - rows as i64,
        frames: (
            stats.frames_captured,
            stats.frames_inspected,
            stats.frames_dropped,
        ),
        max_pending: samples.iter().map(|s| s.pending).max().unwrap_or(0),
        samples,
    })
}

/// Least-squares slope of memory against time, MiB per second; 0 with fewer than 2 samples.
fn slope(samples: &[SoakSample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mt = samples.iter().map(|s| s.seconds).sum::<f64>() / n;
    let mm = samples.iter().map(|s| s.rss_mib).sum::<f64>() / n;
    let cov: f64 = samples
        .iter()
        .map(|s| (s.seconds - mt) * (s.rss_mib - mm))
        .sum();
    let var: f64 = samples.iter().map(|s| (s.seconds - mt).powi(2)).sum();
    if var > 0.0 { cov / var } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short soak on a fresh data folder: every item judged is a row, memory is read, and
    /// the slope of a known line is recovered.
    #[test]
    fn a_short_soak_loses_no_row_and_reads_memory() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SoakOptions {
            duration: Duration::from_secs(4),
            fps: 15.0,
            every: Duration::from_millis(500),
            paths: AppPaths {
                data_dir: dir.path().to_path_buf(),
            },
        };
        let model = Arc::new(AnomalyModel::bundled().unwrap());
        let r = soak(&opts, model, &|_| {}).unwrap();
        assert!(r.samples.len() >= 6, "{}", r.samples.len());
        assert!(r.items > 0, "{r:?}");
        assert_eq!(r.rows_lost, 0, "{r:?}");
        assert!(r.rss_end_mib > 1.0);

        let line: Vec<SoakSample> = (0..10)
            .map(|i| SoakSample {
                seconds: i as f64,
                rss_mib: 50.0 + 0.5 * i as f64,
                items: 0,
                recorded: 0,
                pending: 0,
                frames_dropped: 0,
            })
            .collect();
        assert!((slope(&line) - 0.5).abs() < 1e-12);
    }
}
