//! The outbox publisher: one thread that reads undelivered outbox rows in order, sends them
//! with rdkafka's idempotent producer (acks=all, key = station), and marks the ones the
//! brokers acknowledged. While the brokers are away the station goes on recording; the outbox
//! grows and drains when they are back. A message may reach Kafka twice (sent, acknowledged,
//! then the mark lost in a crash); consumers keep the first by its station and id.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::{reject_crops, seal_headers};
use crate::domain::KafkaSpec;
use crate::store::outbox::REJECTS_TOPIC;
use crate::store::{OutboxRow, Store, StoreError};

/// Messages read from the outbox and sent at a time.
const BATCH: usize = 500;
/// Payload bytes sent at a time at most (after the first message): a batch of reject crops
/// waits in memory until the brokers acknowledge it, however long they are away.
const BATCH_BYTES: usize = 8 << 20;
/// How often the backlog and the brokers' state are refreshed while a batch waits.
const WAITING_REFRESH: Duration = Duration::from_secs(1);

/// The publisher's counters, for status bars and summaries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublisherStats {
    /// Messages the brokers acknowledged since the start.
    pub delivered: u64,
    /// Messages recorded and not yet acknowledged (the backlog).
    pub pending: u64,
    /// Reject crops not sent since the start (gone, or over their size limit as JPEG).
    pub skipped: u64,
    /// The last delivery or database problem, cleared by the next acknowledged batch.
    pub last_error: Option<String>,
}

/// The running publisher thread.
pub struct Publisher {
    db: PathBuf,
    stop: Arc<AtomicBool>,
    drain: Arc<AtomicBool>,
    stats: Arc<Mutex<PublisherStats>>,
    thread: Option<JoinHandle<()>>,
}

/// Why the publisher cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The database could not be opened or the outbox switched on.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The producer could not be made from the settings.
    #[error("{}", crate::tr!("kafka-cannot-start", brokers = .brokers.as_str(), error = .source.to_string()))]
    Producer {
        /// The brokers given.
        brokers: String,
        /// rdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// The thread could not be started.
    #[error("{}", crate::tr!("kafka-cannot-start", brokers = .brokers.as_str(), error = .source.to_string()))]
    Thread {
        /// The brokers given.
        brokers: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Publisher {
    /// Switch the outbox of database `db` on (audit entries keyed by `origin`, the station)
    /// and start sending it to `spec`.
    pub fn start(db: PathBuf, spec: &KafkaSpec, origin: &str) -> Result<Publisher, PublishError> {
        let store = Store::open(&db)?;
        let db = db.clone();
        store.enable_outbox(origin)?;
        let producer = producer(spec, origin)?;
        let stop = Arc::new(AtomicBool::new(false));
        let drain = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(PublisherStats::default()));
        let thread = {
            let (stop, drain, stats) = (stop.clone(), drain.clone(), stats.clone());
            let for_thread = spec.clone();
            let origin = origin.to_string();
            std::thread::Builder::new()
                .name("foodqc-kafka".into())
                .spawn(move || {
                    run(store, producer, &for_thread, &origin, &stop, &drain, &stats);
                })
                .map_err(|source| PublishError::Thread {
                    brokers: spec.brokers.clone(),
                    source,
                })?
        };
        Ok(Publisher {
            db,
            stop,
            drain,
            stats,
            thread: Some(thread),
        })
    }

    /// The counters now.
    pub fn stats(&self) -> PublisherStats {
        lock(&self.stats).clone()
    }

    /// Send what is waiting for up to `timeout`, then stop; the final counters (`pending`
    /// left for the next run when the brokers did not take it).
    pub fn finish(mut self, timeout: Duration) -> PublisherStats {
        self.drain.store(true, Ordering::SeqCst);
        let until = Instant::now() + timeout;
        // Counted here, not from the thread's last look: rows recorded since then count too.
        let store = Store::open(&self.db);
        loop {
            let pending = store.as_ref().ok().and_then(|s| s.outbox_counts().ok());
            if let Some(c) = pending {
                lock(&self.stats).pending = c.pending;
            }
            if pending.is_none_or(|c| c.pending == 0) || Instant::now() >= until {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stats()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Delivery reports of one batch: acknowledged row ids and failures; and the client's last
/// error about the brokers (unreachable, all down), which fails no message by itself.
#[derive(Default)]
struct Reports {
    acked: Mutex<Vec<i64>>,
    failed: Mutex<Vec<String>>,
    brokers: Mutex<Option<String>>,
}

impl ClientContext for Reports {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!("librdkafka: {error}: {reason}");
        *lock(&self.brokers) = Some(format!("{error}: {reason}"));
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<i64>;

    fn delivery(&self, result: &DeliveryResult<'_>, id: Box<i64>) {
        match result {
            Ok(_) => lock(&self.acked).push(*id),
            Err((e, _)) => lock(&self.failed).push(e.to_string()),
        }
    }
}

fn producer(spec: &KafkaSpec, origin: &str) -> Result<BaseProducer<Reports>, PublishError> {
    super::client::config(spec)
        .set("client.id", format!("foodqc-{origin}"))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        // A message waits for its acknowledgement however long the brokers are away. A local
        // timeout would only make a second copy: the outbox sends it again under a new
        // sequence number, and librdkafka bumps the producer epoch, which not every
        // Kafka-protocol broker accepts after a restart (tansu 0.6 does not).
        .set("message.timeout.ms", "0")
        .create_with_context(Reports::default())
        .map_err(|source| PublishError::Producer {
            brokers: spec.brokers.clone(),
            source,
        })
}

/// The thread: batches of outbox rows out, acknowledgements back, until stopped.
fn run(
    mut store: Store,
    mut producer: BaseProducer<Reports>,
    spec: &KafkaSpec,
    origin: &str,
    stop: &AtomicBool,
    drain: &AtomicBool,
    stats: &Mutex<PublisherStats>,
) {
    // Made once the brokers answer; again when one says it does not know a topic.
    let mut topics_made = false;
    while !stop.load(Ordering::SeqCst) {
        let rows = match store.outbox_pending(BATCH) {
            Ok(rows) => rows,
            Err(e) => {
                lock(stats).last_error = Some(e.to_string());
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if rows.is_empty() {
            lock(stats).pending = 0;
            std::thread::sleep(Duration::from_millis(if drain.load(Ordering::SeqCst) {
                10
            } else {
                100
            }));
            continue;
        }
        if !topics_made {
            // The backlog shows before the brokers answer: making the topics waits for them.
            if let Ok(c) = store.outbox_counts() {
                lock(stats).pending = c.pending;
            }
            match super::topics::ensure(spec, Duration::from_secs(5)) {
                Ok(()) => topics_made = true,
                Err(e) => tracing::warn!("plant topics on {}: {e}", spec.brokers),
            }
        }
        let outcome = send_batch(&producer, &rows, stop, &mut |brokers| {
            let counts = store.outbox_counts();
            let mut s = lock(stats);
            if let Ok(c) = counts {
                s.pending = c.pending;
            }
            if brokers.is_some() {
                s.last_error = brokers;
            }
        });
        if !outcome.acked.is_empty()
            && let Err(e) = store.mark_outbox_delivered(&outcome.acked, crate::store::now_ms())
        {
            lock(stats).last_error = Some(e.to_string());
        }
        if !outcome.skipped.is_empty()
            && let Err(e) = store.mark_outbox_skipped(&outcome.skipped, crate::store::now_ms())
        {
            lock(stats).last_error = Some(e.to_string());
        }
        let counts = store.outbox_counts();
        {
            let mut s = lock(stats);
            s.delivered += outcome.acked.len() as u64;
            s.skipped += outcome.skipped.len() as u64;
            if let Ok(c) = counts {
                s.pending = c.pending;
            }
            s.last_error = outcome.failure.clone().or_else(|| {
                (outcome.acked.is_empty())
                    .then(|| s.last_error.clone())
                    .flatten()
            });
        }
        if let Some(failure) = &outcome.failure
            && failure.contains("UnknownTopicOrPartition")
        {
            topics_made = false;
        }
        if outcome.failure.is_some() {
            tracing::warn!(
                "plant brokers {}: {}",
                spec.brokers,
                outcome.failure.as_deref().unwrap_or_default()
            );
            // An idempotent producer that hit a fatal error cannot send again: make a new one.
            if producer.client().fatal_error().is_some() {
                match self::producer(spec, origin) {
                    Ok(p) => producer = p,
                    Err(e) => lock(stats).last_error = Some(e.to_string()),
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let _ = producer.flush(Duration::from_secs(1));
}

/// What one batch came to: the acknowledged ids, and the first failure if any.
struct BatchOutcome {
    acked: Vec<i64>,
    failure: Option<String>,
    /// Rows settled without sending, and why (reject crops gone or over their limit).
    skipped: Vec<(i64, String)>,
}

/// Send `rows` and wait for every delivery report, or until stopped. While it waits,
/// `waiting` is called every second with the client's last error about the brokers, if any.
fn send_batch(
    producer: &BaseProducer<Reports>,
    rows: &[OutboxRow],
    stop: &AtomicBool,
    waiting: &mut dyn FnMut(Option<String>),
) -> BatchOutcome {
    let ctx = producer.context();
    lock(&ctx.acked).clear();
    lock(&ctx.failed).clear();
    lock(&ctx.brokers).take();
    let mut sent = 0usize;
    let mut bytes = 0usize;
    let mut failure = None;
    let mut skipped = Vec::new();
    for row in rows {
        if sent > 0 && bytes >= BATCH_BYTES {
            // The rest stays pending for the next batch.
            break;
        }
        // A reject crop travels as JPEG with its record in headers; one that cannot is settled.
        let crop = match (row.topic == REJECTS_TOPIC).then(|| reject_crops::prepare(row)) {
            Some(Ok(c)) => Some(c),
            Some(Err(why)) => {
                tracing::warn!("{why}");
                skipped.push((row.id, why));
                continue;
            }
            None => None,
        };
        // A plant decision carries its seal in headers.
        let (payload, headers): (&[u8], _) = match &crop {
            Some(c) => (&c.jpeg[..], Some(c.headers.clone())),
            None => (
                row.payload.as_bytes(),
                row.seal.as_ref().map(seal_headers::to_headers),
            ),
        };
        bytes += payload.len();
        let base = BaseRecord::with_opaque_to(&row.topic, Box::new(row.id))
            .key(&row.key)
            .payload(payload);
        let mut record = match headers {
            Some(h) => base.headers(h),
            None => base,
        };
        loop {
            match producer.send(record) {
                Ok(()) => {
                    sent += 1;
                    break;
                }
                // The local queue is full: let it drain and try the same record again.
                Err((
                    KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    r,
                )) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    // No local timeout: a report comes when the brokers answer, or the run stops first
    // (what is unacknowledged then stays in the outbox for the next run).
    let mut refreshed = Instant::now();
    while lock(&ctx.acked).len() + lock(&ctx.failed).len() < sent && !stop.load(Ordering::SeqCst) {
        producer.poll(Duration::from_millis(20));
        if refreshed.elapsed() >= WAITING_REFRESH {
            refreshed = Instant::now();
            waiting(lock(&ctx.brokers).take());
        }
    }
    let mut acked = std::mem::take(&mut *lock(&ctx.acked));
    acked.sort_unstable();
    let failed = std::mem::take(&mut *lock(&ctx.failed));
    BatchOutcome {
        acked,
        failure: failure.or_else(|| failed.into_iter().next()),
        skipped,
    }
}
