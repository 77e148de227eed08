//! The batched inspection recorder: the station's inspector thread hands over inspections (and
//! optional item crops) through a channel and never waits for the disk.
//!
//! The recorder thread owns its own [`Store`]. It collects up to `max_batch` items (512) or
//! `max_wait` (100 ms) from the first one, whichever comes first, saves the crops as
//! `samples_dir/<blake3>.png` (atomically, once per distinct image), and writes the batch in
//! one transaction. A crop that cannot be saved (disk full, read-only samples folder) never
//! holds its inspection back: the row is written without it and says why
//! (`inspections.sample_missing`). When the transaction fails (database locked, disk full,
//! read-only) the batch is kept, the error is logged and shown in
//! [`RecorderStats::last_error`], and the batch is retried with backoff (0.2 s doubling to
//! 5 s); once it has failed for `journal_after` (5 s), or when the recorder is finishing, the
//! batch goes to the pending journal beside the database (see [`super::journal`]: fsync'd,
//! checksummed lines) and is replayed into the database as soon as a write succeeds again (or
//! at the next open). Only rows the database refuses for good (a constraint violation, e.g.
//! an unknown station id) are dropped, each with an error log, and counted in
//! [`RecorderStats::dropped`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use image::RgbImage;
use rusqlite::{ErrorCode, TransactionBehavior};
use serde::Serialize;

use super::inspections::{INSERT_INSPECTION_SQL, InspectionRow, insert_one};
use super::journal::{self, JournalEntry};
use super::samples::{NewSample, encode_png, get_or_create_sample, sample_file, write_png_file};
use super::{Store, StoreError, sql_err};

/// An item crop to keep with an inspection.
#[derive(Clone, Debug)]
pub struct SampleImage {
    /// The crop, 8-bit RGB.
    pub image: RgbImage,
    /// Where it came from, e.g. the station name; stored in `samples.source`.
    pub source: String,
}

/// One inspection to record, with an optional crop to save and link.
#[derive(Clone, Debug)]
pub struct RecordItem {
    /// The inspection. With a `sample`, its `sample_id` is replaced by the saved sample's.
    pub row: InspectionRow,
    /// The crop to save as a sample, if any.
    pub sample: Option<SampleImage>,
}

/// Counters of a recorder, cheap to read every frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecorderStats {
    /// Inspections written to the database directly.
    pub recorded: u64,
    /// Inspections sent but neither written nor journaled yet (queued, or in a batch being
    /// retried).
    pub pending: u64,
    /// Inspections of this recorder that went to the pending journal (the database could not
    /// take them).
    pub journaled: u64,
    /// Rows replayed from the journal into the database by this recorder (its own and any
    /// left by earlier runs).
    pub replayed: u64,
    /// Rows waiting in the journal now, as far as this recorder knows.
    pub in_journal: u64,
    /// Crops that could not be saved (their inspections are recorded without them, saying
    /// why).
    pub samples_missing: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Inspections the database refused for good (constraint violations), each logged.
    pub dropped: u64,
    /// True while the current batch fails and is being retried.
    pub failing: bool,
    /// The most recent error (kept after recovery, so it can be shown), naming the path
    /// and cause.
    pub last_error: Option<String>,
}

/// Tuning of a recorder; [`Default`] gives the production values.
#[derive(Clone, Debug, PartialEq)]
pub struct RecorderOptions {
    /// Channel capacity; `send` blocks when this many items are queued.
    pub capacity: usize,
    /// Most items per transaction.
    pub max_batch: usize,
    /// Longest wait, from the first item of a batch, before writing it.
    pub max_wait: Duration,
    /// How long a write waits for another connection's lock before counting as failed.
    pub busy_timeout: Duration,
    /// First retry delay after a failed batch.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long [`InspectionRecorder::finish`] keeps retrying a failing batch before giving
    /// up and reporting the unrecorded items.
    pub finish_timeout: Duration,
    /// How long a batch may keep failing before it goes to the pending journal.
    pub journal_after: Duration,
    /// Crops are not saved while the samples folder's file system has less free space than
    /// this: the room left is kept for the inspection rows (and their journal).
    pub disk_reserve_bytes: u64,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            capacity: 8192,
            max_batch: 512,
            max_wait: Duration::from_millis(100),
            // Short, so a shutdown never waits long on a lock: a locked database is retried
            // (and journaled after `journal_after`) rather than waited for in SQLite.
            busy_timeout: Duration::from_millis(500),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            finish_timeout: Duration::from_secs(30),
            journal_after: super::DEFAULT_BUSY_TIMEOUT,
            disk_reserve_bytes: 64 << 20,
        }
    }
}

/// State shared by the handle, the senders and the thread.
#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    recorded: AtomicU64,
    dropped: AtomicU64,
    journaled: AtomicU64,
    replayed: AtomicU64,
    in_journal: AtomicU64,
    samples_missing: AtomicU64,
    batches: AtomicU64,
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Set by `finish`: a failing batch is retried until then, then given up.
    give_up_at: Mutex<Option<Instant>>,
}

impl Shared {
    fn stats(&self) -> RecorderStats {
        let recorded = self.recorded.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let journaled = self.journaled.load(Ordering::Acquire);
        let sent = self.sent.load(Ordering::Acquire);
        RecorderStats {
            recorded,
            pending: sent.saturating_sub(recorded + dropped + journaled),
            journaled,
            replayed: self.replayed.load(Ordering::Acquire),
            in_journal: self.in_journal.load(Ordering::Acquire),
            samples_missing: self.samples_missing.load(Ordering::Acquire),
            batches: self.batches.load(Ordering::Acquire),
            dropped,
            failing: self.failing.load(Ordering::Acquire),
            last_error: self.last_error().clone(),
        }
    }

    fn last_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // A panic while holding this lock cannot leave the Option inconsistent.
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn set_error(&self, msg: String) {
        *self.last_error() = Some(msg);
    }

    fn give_up_at(&self) -> Option<Instant> {
        *self
            .give_up_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where to send items to a recorder. Cheap to clone; one per producing thread.
#[derive(Clone)]
pub struct RecordSender {
    tx: Sender<RecordItem>,
    shared: Arc<Shared>,
    db_path: Arc<PathBuf>,
}

impl std::fmt::Debug for RecordSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSender")
            .field("db_path", &self.db_path)
            .finish_non_exhaustive()
    }
}

impl RecordSender {
    /// Queue an item for recording. Returns at once unless the queue is full (then waits
    /// for room). Fails only when the recorder thread has stopped.
    pub fn send(&self, item: RecordItem) -> Result<(), StoreError> {
        // Count before sending so `pending` never goes below what the thread has taken.
        self.shared.sent.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(item).is_err() {
            self.shared.sent.fetch_sub(1, Ordering::AcqRel);
            let last = self.shared.last_error().clone();
            return Err(StoreError::Recorder {
                path: self.db_path.as_ref().clone(),
                reason: format!(
                    "the recorder has stopped; item not recorded (last error: {})",
                    last.as_deref().unwrap_or("none")
                ),
            });
        }
        Ok(())
    }
}

/// A running recorder: its thread, and the handle to feed it, watch it and finish it.
///
/// Dropping it without [`InspectionRecorder::finish`] does the same as `finish` (logging a
/// failure instead of returning it).
pub struct InspectionRecorder {
    sender: RecordSender,
    /// Dropped to tell the thread to write what is queued and stop (even while producers
    /// still hold senders, so finishing can never wait on them).
    close: Option<Sender<()>>,
    thread: Option<JoinHandle<Result<(), StoreError>>>,
    shared: Arc<Shared>,
    db_path: PathBuf,
    finish_timeout: Duration,
}

impl std::fmt::Debug for InspectionRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InspectionRecorder")
            .field("db_path", &self.db_path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl InspectionRecorder {
    /// Open the database at `db_path` (its own connection) and start the recorder thread,
    /// with a queue of `capacity` items and the default batching and retry settings. Crops
    /// go to `samples_dir` (created when the first one is saved). Fails if the database
    /// cannot be opened or the thread not started.
    pub fn spawn(
        db_path: PathBuf,
        samples_dir: PathBuf,
        capacity: usize,
    ) -> Result<InspectionRecorder, StoreError> {
        Self::spawn_with(
            db_path,
            samples_dir,
            RecorderOptions {
                capacity,
                ..RecorderOptions::default()
            },
        )
    }

    /// Like [`InspectionRecorder::spawn`] with every setting given.
    pub fn spawn_with(
        db_path: PathBuf,
        samples_dir: PathBuf,
        opts: RecorderOptions,
    ) -> Result<InspectionRecorder, StoreError> {
        // Opening replays what an earlier run left in the journal.
        let store = Store::open_with_busy_timeout(&db_path, opts.busy_timeout)?;
        let (tx, rx) = crossbeam_channel::bounded(opts.capacity.max(1));
        let (close_tx, close_rx) = crossbeam_channel::bounded::<()>(0);
        let shared = Arc::new(Shared::default());
        shared.in_journal.store(
            journal::pending_rows(&db_path).unwrap_or(0),
            Ordering::Release,
        );
        let thread_shared = Arc::clone(&shared);
        let finish_timeout = opts.finish_timeout;
        let thread = std::thread::Builder::new()
            .name("foodqc-recorder".into())
            .spawn(move || {
                Worker {
                    store,
                    samples_dir,
                    shared: thread_shared,
                    opts,
                    key_prefix: journal::new_key_prefix(),
                    next_key: 0,
                }
                .run(rx, close_rx)
            })
            .map_err(|e| StoreError::Recorder {
                path: db_path.clone(),
                reason: format!("cannot start the recorder thread: {e}"),
            })?;
        Ok(InspectionRecorder {
            sender: RecordSender {
                tx,
                shared: Arc::clone(&shared),
                db_path: Arc::new(db_path.clone()),
            },
            close: Some(close_tx),
            thread: Some(thread),
            shared,
            db_path,
            finish_timeout,
        })
    }

    /// A sender for a producing thread. After [`InspectionRecorder::finish`], its `send`
    /// fails with an error instead of queueing.
    pub fn sender(&self) -> RecordSender {
        self.sender.clone()
    }

    /// Current counters (a few atomic loads and one uncontended lock).
    pub fn stats(&self) -> RecorderStats {
        self.shared.stats()
    }

    /// The database file this recorder writes to.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Stop taking items, write everything queued, and join the thread. Stop the producers
    /// first: senders still held keep working until the queue is drained, then their `send`
    /// fails. If writing keeps failing, retries for up to `finish_timeout` (30 s by default)
    /// and then returns [`StoreError::Unrecorded`] with the number of items not written and
    /// the error. Also returns `Unrecorded` if an item sent during the shutdown was missed.
    pub fn finish(mut self) -> Result<RecorderStats, StoreError> {
        let timeout = self.finish_timeout;
        self.close_and_join(timeout)
    }

    /// Like [`InspectionRecorder::finish`], giving up on a failing batch after `timeout`.
    pub fn finish_within(mut self, timeout: Duration) -> Result<RecorderStats, StoreError> {
        self.close_and_join(timeout)
    }

    fn close_and_join(&mut self, timeout: Duration) -> Result<RecorderStats, StoreError> {
        *self
            .shared
            .give_up_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + timeout);
        self.close = None; // wakes the thread: drain and stop
        let Some(handle) = self.thread.take() else {
            return Ok(self.stats());
        };
        match handle.join() {
            Ok(Ok(())) => {
                let stats = self.stats();
                if stats.pending > 0 {
                    // A producer raced the shutdown: its item reached the queue after the
                    // last drain. Say so rather than losing it silently.
                    return Err(StoreError::Unrecorded {
                        path: self.db_path.clone(),
                        unrecorded: stats.pending,
                        last_error: "sent while the recorder was finishing".into(),
                    });
                }
                Ok(stats)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::Recorder {
                path: self.db_path.clone(),
                reason: "the recorder thread panicked".into(),
            }),
        }
    }
}

impl Drop for InspectionRecorder {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let timeout = self.finish_timeout;
            if let Err(e) = self.close_and_join(timeout) {
                tracing::error!(error = %e, "inspection recorder dropped with errors");
            }
        }
    }
}

/// A crop, encoded once on arrival and kept across retries.
struct PreparedSample {
    png: Vec<u8>,
    hash: String,
    width: u32,
    height: u32,
    source: String,
    /// Set once the file is known to be on disk, so a retry does not touch it again.
    on_disk: bool,
    /// Why the file could not be saved: the inspection is recorded without it.
    missing: Option<String>,
}

struct Prepared {
    row: InspectionRow,
    sample: Option<PreparedSample>,
}

/// The recorder thread.
struct Worker {
    store: Store,
    samples_dir: PathBuf,
    shared: Arc<Shared>,
    opts: RecorderOptions,
    /// Journal keys are `<prefix>-<n>`: unique to this recorder.
    key_prefix: String,
    next_key: u64,
}

/// What one committed batch did.
struct Outcome {
    recorded: u64,
    dropped: u64,
}

impl Worker {
    fn run(mut self, rx: Receiver<RecordItem>, close: Receiver<()>) -> Result<(), StoreError> {
        let mut batch: Vec<Prepared> = Vec::with_capacity(self.opts.max_batch);
        loop {
            // `close` only ever fires by disconnecting (the handle dropped its end).
            let first = crossbeam_channel::select! {
                recv(rx) -> item => item.ok(),
                recv(close) -> _ => None,
            };
            let Some(first) = first else { break };
            batch.push(self.prepare(first));
            let deadline = Instant::now() + self.opts.max_wait;
            while batch.len() < self.opts.max_batch {
                match rx.recv_deadline(deadline) {
                    Ok(item) => batch.push(self.prepare(item)),
                    Err(_) => break, // timed out, or closed: write what we have
                }
            }
            self.write_with_retry(&mut batch)?;
        }
        // Finishing: write whatever is still queued. Returning drops `rx`, after which sends
        // fail.
        while let Ok(item) = rx.try_recv() {
            batch.push(self.prepare(item));
            if batch.len() >= self.opts.max_batch {
                self.write_with_retry(&mut batch)?;
            }
        }
        if !batch.is_empty() {
            self.write_with_retry(&mut batch)?;
        }
        // The last batches may have been written within the anchoring interval.
        self.store.anchor_heads();
        Ok(())
    }

    /// Encode and hash the crop now, so retries reuse the bytes.
    fn prepare(&self, item: RecordItem) -> Prepared {
        let RecordItem { row, sample } = item;
        let sample = sample.and_then(|s| match encode_png(&s.image) {
            Ok(enc) => Some(PreparedSample {
                png: enc.bytes,
                hash: enc.hash,
                width: s.image.width(),
                height: s.image.height(),
                source: s.source,
                on_disk: false,
                missing: None,
            }),
            Err(source) => {
                // The inspection still counts; only its crop is lost.
                let e = StoreError::Encode {
                    dir: self.samples_dir.clone(),
                    width: s.image.width(),
                    height: s.image.height(),
                    source,
                };
                tracing::error!(error = %e, frame_seq = row.frame_seq, "sample crop not saved");
                self.shared.set_error(e.to_string());
                None
            }
        });
        Prepared { row, sample }
    }

    fn write_with_retry(&mut self, batch: &mut Vec<Prepared>) -> Result<(), StoreError> {
        let mut backoff = self.opts.backoff_min;
        let first_failure = Instant::now();
        loop {
            match self.write_batch(batch) {
                Ok(outcome) => {
                    // Recorded before pending: `pending` is derived from these counters.
                    self.shared
                        .dropped
                        .fetch_add(outcome.dropped, Ordering::AcqRel);
                    self.shared
                        .recorded
                        .fetch_add(outcome.recorded, Ordering::AcqRel);
                    self.shared.batches.fetch_add(1, Ordering::AcqRel);
                    if self.shared.failing.swap(false, Ordering::AcqRel) {
                        tracing::info!(path = %self.store.path().display(), "recording works again");
                    }
                    batch.clear();
                    self.replay_if_waiting();
                    return Ok(());
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.shared.set_error(msg.clone());
                    self.shared.failing.store(true, Ordering::Release);
                    let finishing = self.shared.give_up_at().is_some();
                    if finishing || first_failure.elapsed() >= self.opts.journal_after {
                        match self.journal_batch(batch) {
                            Ok(()) => return Ok(()),
                            Err(je) => {
                                tracing::error!(error = %je, items = batch.len(),
                                    "the pending journal cannot take the batch either; keeping it in memory");
                                self.shared.set_error(format!("{msg}; journal: {je}"));
                            }
                        }
                    }
                    tracing::error!(error = %msg, items = batch.len(), retry_in = ?backoff,
                        "recording inspections failed; keeping the batch and retrying");
                    if !self.sleep_unless_giving_up(backoff) {
                        let stats = self.shared.stats();
                        return Err(StoreError::Unrecorded {
                            path: self.store.path().to_path_buf(),
                            unrecorded: stats.pending,
                            last_error: msg,
                        });
                    }
                    backoff = (backoff * 2).min(self.opts.backoff_max);
                }
            }
        }
    }

    /// Append the batch to the pending journal (fsync'd); on success the batch is cleared
    /// and counted as journaled.
    fn journal_batch(&mut self, batch: &mut Vec<Prepared>) -> Result<(), StoreError> {
        let entries: Vec<JournalEntry> = batch
            .iter()
            .map(|p| {
                self.next_key += 1;
                let (sample, sample_missing) = match &p.sample {
                    None => (None, None),
                    Some(s) if s.on_disk => (
                        Some(NewSample {
                            path: sample_file(&self.samples_dir, &s.hash),
                            hash: s.hash.clone(),
                            width: s.width,
                            height: s.height,
                            source: s.source.clone(),
                        }),
                        None,
                    ),
                    Some(s) => (
                        None,
                        Some(
                            s.missing
                                .clone()
                                .unwrap_or_else(|| "crop not saved".to_string()),
                        ),
                    ),
                };
                JournalEntry {
                    key: format!("{}-{}", self.key_prefix, self.next_key),
                    row: p.row.clone(),
                    sample,
                    sample_missing,
                }
            })
            .collect();
        journal::append(self.store.path(), &entries)?;
        let n = entries.len() as u64;
        self.shared.in_journal.fetch_add(n, Ordering::AcqRel);
        self.shared.journaled.fetch_add(n, Ordering::AcqRel);
        tracing::warn!(rows = n, journal = %journal::journal_path(self.store.path()).display(),
            "database unavailable: rows kept in the pending journal");
        batch.clear();
        Ok(())
    }

    /// After a successful write: bring in what waits in the journal.
    fn replay_if_waiting(&mut self) {
        if self.shared.in_journal.load(Ordering::Acquire) == 0 {
            return;
        }
        match self.store.replay_journal() {
            Ok(out) => {
                self.shared
                    .replayed
                    .fetch_add(out.replayed, Ordering::AcqRel);
                self.shared.in_journal.store(0, Ordering::Release);
            }
            Err(e) => tracing::warn!(error = %e, "journal not replayed yet; retrying later"),
        }
    }

    /// Sleep `d`, waking early when `finish` sets a deadline that passes. Returns false when
    /// the deadline has passed (give up), true to retry.
    fn sleep_unless_giving_up(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            let now = Instant::now();
            if let Some(t) = self.shared.give_up_at()
                && now >= t
            {
                return false;
            }
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(50)));
        }
    }

    /// Save the crops not yet on disk, then write the batch in one transaction.
    fn write_batch(&mut self, batch: &mut [Prepared]) -> Result<Outcome, StoreError> {
        for s in batch.iter_mut().filter_map(|p| p.sample.as_mut()) {
            if !s.on_disk && s.missing.is_none() {
                // The crop is optional: failing to save it never holds the row back, and
                // crops never eat the last room the records need.
                let saved = match free_bytes(&self.samples_dir) {
                    Some(free) if free < self.opts.disk_reserve_bytes + s.png.len() as u64 => {
                        Err(format!(
                            "disk almost full ({free} bytes free under {}): crop not saved, the room is kept for the records",
                            self.samples_dir.display()
                        ))
                    }
                    _ => write_png_file(&self.samples_dir, &s.hash, &s.png)
                        .map(drop)
                        .map_err(|e| e.to_string()),
                };
                match saved {
                    Ok(()) => s.on_disk = true,
                    Err(e) => {
                        tracing::error!(error = %e, "sample crop not saved; the inspection is recorded without it");
                        self.shared.set_error(e.clone());
                        self.shared.samples_missing.fetch_add(1, Ordering::AcqRel);
                        s.missing = Some(e);
                    }
                }
                s.png = Vec::new(); // on disk now (or given up); free the memory
            }
        }

        let db_path = self.store.path.clone();
        let key = super::audit::chain_key(&db_path)?;
        let tx = self
            .store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&db_path, "begin (inspections)"))?;
        let first_id = super::seal::max_inspection_id(&tx, &db_path)? + 1;
        let mut outcome = Outcome {
            recorded: 0,
            dropped: 0,
        };
        {
            let mut sample_ids: HashMap<&str, i64> = HashMap::new();
            let mut stmt = tx
                .prepare_cached(INSERT_INSPECTION_SQL)
                .map_err(sql_err(&db_path, "insert into inspections"))?;
            for p in batch.iter() {
                let missing = p.sample.as_ref().and_then(|s| s.missing.as_deref());
                let sample_id = match &p.sample {
                    None => p.row.sample_id,
                    Some(s) if s.missing.is_some() => None,
                    Some(s) => match sample_ids.get(s.hash.as_str()) {
                        Some(&id) => Some(id),
                        None => {
                            let new = NewSample {
                                path: sample_file(&self.samples_dir, &s.hash),
                                hash: s.hash.clone(),
                                width: s.width,
                                height: s.height,
                                source: s.source.clone(),
                            };
                            match get_or_create_sample(&tx, &db_path, &new) {
                                Ok(id) => {
                                    sample_ids.insert(&s.hash, id);
                                    Some(id)
                                }
                                // Refused for good: keep the inspection without its crop.
                                Err(e) if is_permanent(&e) => {
                                    tracing::error!(error = %e, "sample not registered");
                                    self.shared.set_error(e.to_string());
                                    None
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    },
                };
                // A failed INSERT only undoes itself; the transaction goes on.
                match insert_one(&mut stmt, &p.row, sample_id, missing) {
                    Ok(_) => outcome.recorded += 1,
                    Err(e) if is_constraint(&e) => {
                        let e = StoreError::InvalidValue {
                            path: db_path.clone(),
                            table: "inspections",
                            column: "(row)",
                            value: format!(
                                "station {} frame {} item {}: {e}",
                                p.row.station_id, p.row.frame_seq, p.row.item_index
                            ),
                        };
                        tracing::error!(error = %e, "inspection refused by the database; dropped");
                        self.shared.set_error(e.to_string());
                        outcome.dropped += 1;
                    }
                    Err(e) => return Err(sql_err(&db_path, "insert into inspections")(e)),
                }
            }
        }
        // The batch's rows are sealed in the hash chain in the same transaction.
        super::seal::seal_batch(&tx, &db_path, &key, first_id)?;
        tx.commit()
            .map_err(sql_err(&db_path, "commit (inspections)"))?;
        self.store
            .anchor_heads_every(super::seal::RECORDER_ANCHOR_EVERY);
        Ok(outcome)
    }
}

/// Free bytes for an unprivileged writer on the file system of `dir` (or of its nearest
/// existing ancestor); `None` when it cannot be told.
fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let existing = dir.ancestors().find(|p| p.exists())?;
        let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// Errors that retrying cannot fix.
fn is_permanent(e: &StoreError) -> bool {
    match e {
        StoreError::Sqlite { source, .. } => is_constraint(source),
        StoreError::NonUtf8Path { .. } => true,
        _ => false,
    }
}
