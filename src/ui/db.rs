//! Database queries for the UI, run on their own thread so the UI never waits on SQLite.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use foodqc::store::{LotSummary, ModelVersionRow, Store};

/// What the UI shows from the database; refreshed in the background.
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
    /// When this snapshot was taken and how long the queries took.
    pub taken_at: Option<Instant>,
    /// Query time in ms.
    pub query_ms: f64,
    /// Last error, if the queries failed.
    pub error: Option<String>,
}

/// Background reader: ask with [`DbReader::refresh`], read [`DbReader::snapshot`].
pub struct DbReader {
    tx: Sender<()>,
    snapshot: Arc<Mutex<DbSnapshot>>,
}

impl DbReader {
    /// Start the reader thread on `db_path`; `on_update` is called after each refresh
    /// (to request a repaint).
    pub fn spawn(db_path: PathBuf, on_update: impl Fn() + Send + 'static) -> Self {
        let (tx, rx): (Sender<()>, Receiver<()>) = bounded(1);
        let snapshot = Arc::new(Mutex::new(DbSnapshot::default()));
        let snap = snapshot.clone();
        let spawned = std::thread::Builder::new()
            .name("foodqc-ui-db".into())
            .spawn(move || {
                let mut store: Option<Store> = None;
                while rx.recv().is_ok() {
                    let t0 = Instant::now();
                    let result = (|| -> Result<DbSnapshot, foodqc::store::StoreError> {
                        if store.is_none() {
                            store = Some(Store::open(&db_path)?);
                        }
                        let Some(s) = store.as_ref() else {
                            unreachable!("opened above")
                        };
                        Ok(DbSnapshot {
                            lots: s.lot_summaries()?,
                            models: s.list_model_versions()?,
                            label_counts: s.label_counts()?,
                            previous_active: s.previous_active_model()?,
                            ..Default::default()
                        })
                    })();
                    let mut out = match result {
                        Ok(s) => s,
                        Err(e) => {
                            store = None;
                            DbSnapshot {
                                error: Some(e.to_string()),
                                ..Default::default()
                            }
                        }
                    };
                    out.taken_at = Some(Instant::now());
                    out.query_ms = t0.elapsed().as_secs_f64() * 1000.0;
                    *snap.lock().unwrap_or_else(|e| e.into_inner()) = out;
                    on_update();
                }
            });
        if let Err(e) = spawned {
            snapshot.lock().unwrap_or_else(|e| e.into_inner()).error =
                Some(format!("cannot start database reader: {e}"));
        }
        Self { tx, snapshot }
    }

    /// Ask for fresh data (ignored when a refresh is already queued).
    pub fn refresh(&self) {
        let _ = self.tx.try_send(());
    }

    /// Ask for fresh data when the last snapshot is older than `max_age`.
    pub fn refresh_if_older(&self, max_age: Duration) {
        let stale = self
            .snapshot()
            .taken_at
            .is_none_or(|t| t.elapsed() > max_age);
        if stale {
            self.refresh();
        }
    }

    /// The latest data.
    pub fn snapshot(&self) -> DbSnapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
