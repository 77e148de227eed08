//! The plant collector: consumes the stations' topics with a consumer group, stores each
//! batch in PostgreSQL in one transaction (a row already there is kept), and commits the
//! offsets only after the rows are in. Killed at any point, it reads again from the last
//! commit and the database keeps one row per record. Several collectors of one group share
//! the partitions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::KafkaSpec;
use crate::store::plant_db::{PlantAuditEntry, PlantDb, PlantDbError, PlantInspection};

use super::topics::TOPICS;

/// Messages stored per transaction at most.
const BATCH: usize = 1000;

/// How often the consumer lag is measured.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// What the collector did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Messages read.
    pub messages: u64,
    /// Rows newly stored (a replayed message adds none).
    pub stored: u64,
    /// Messages that were not foodqc records (logged and skipped).
    pub skipped: u64,
    /// From the first message read to the last batch stored.
    pub busy: Duration,
}

/// Why the collector stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// The plant database failed.
    #[error(transparent)]
    Db(#[from] PlantDbError),
    /// The brokers could not be read.
    #[error("{}", crate::tr!("plant-cannot-consume", brokers = .brokers.as_str(), error = .error.as_str()))]
    Kafka {
        /// The brokers given.
        brokers: String,
        /// rdkafka's error.
        error: String,
    },
}

/// Collector settings.
#[derive(Clone, Debug)]
pub struct CollectorConfig {
    /// The brokers.
    pub kafka: KafkaSpec,
    /// The plant database URL.
    pub postgres: String,
    /// Consumer group.
    pub group: String,
    /// Stop after this long without a message (none: until `stop`).
    pub idle_exit: Option<Duration>,
}

/// Run until `stop` is set (or idle for `idle_exit`); the counters. `alive` gets the time
/// (unix ms) of each turn of the loop, for a health check.
pub fn run(
    cfg: &CollectorConfig,
    stop: &AtomicBool,
    alive: &std::sync::atomic::AtomicI64,
) -> Result<CollectorStats, CollectorError> {
    let kafka_err = |e: rdkafka::error::KafkaError| CollectorError::Kafka {
        brokers: cfg.kafka.brokers.clone(),
        error: e.to_string(),
    };
    let mut db = PlantDb::connect(&cfg.postgres)?;
    if let Err(e) = super::topics::ensure(&cfg.kafka, Duration::from_secs(10)) {
        tracing::warn!("plant topics on {}: {e}", cfg.kafka.brokers);
    }
    let consumer: BaseConsumer = super::client::config(&cfg.kafka)
        .set("group.id", &cfg.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // A dead collector's partitions move to the others within seconds.
        .set("session.timeout.ms", "6000")
        .set("max.poll.interval.ms", "10000")
        .create()
        .map_err(kafka_err)?;
    consumer.subscribe(&TOPICS).map_err(kafka_err)?;
    let mut stats = CollectorStats::default();
    let mut first_read: Option<Instant> = None;
    let mut last_message = Instant::now();
    // Measured as soon as partitions are ours, then every LAG_EVERY.
    let mut lag_measured: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        alive.store(crate::store::now_ms(), Ordering::SeqCst);
        if lag_measured.is_none_or(|at| at.elapsed() >= LAG_EVERY)
            && let Some(lag) = consumer_lag(&consumer)
        {
            lag_measured = Some(Instant::now());
            metrics::gauge!("foodqc_collector_lag_messages").set(lag as f64);
        }
        let mut inspections = Vec::new();
        let mut audit = Vec::new();
        // The next offset of each partition read in this batch, committed after the rows.
        let mut offsets: Vec<(String, i32, i64)> = Vec::new();
        let batch_until = Instant::now() + Duration::from_millis(200);
        while inspections.len() + audit.len() < BATCH && Instant::now() < batch_until {
            let Some(next) = consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let m = match next {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!("plant topics: {e}");
                    continue;
                }
            };
            stats.messages += 1;
            first_read.get_or_insert_with(Instant::now);
            metrics::counter!("foodqc_collector_messages_total").increment(1);
            last_message = Instant::now();
            let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
            match parse(&topic, m.key(), m.payload()) {
                Ok(Record::Inspection(r)) => inspections.push(r),
                Ok(Record::Audit(a)) => audit.push(a),
                Err(error) => {
                    stats.skipped += 1;
                    metrics::counter!("foodqc_collector_skipped_total").increment(1);
                    tracing::error!(
                        "{}",
                        crate::tr!(
                            "plant-bad-message",
                            topic = topic.as_str(),
                            partition = partition.to_string(),
                            offset = offset.to_string(),
                            error = error
                        )
                    );
                }
            }
            match offsets
                .iter_mut()
                .find(|(t, p, _)| *t == topic && *p == partition)
            {
                Some(o) => o.2 = offset + 1,
                None => offsets.push((topic, partition, offset + 1)),
            }
        }
        if offsets.is_empty() {
            // Idle counts only once partitions are ours: joining the group (and taking over a
            // dead collector's partitions) takes seconds of no messages.
            let assigned = consumer.assignment().is_ok_and(|a| a.count() > 0);
            if !assigned {
                last_message = Instant::now();
            } else if cfg
                .idle_exit
                .is_some_and(|idle| last_message.elapsed() >= idle)
            {
                break;
            }
            continue;
        }
        let stored = db.store_batch(&inspections, &audit).inspect_err(|_| {
            metrics::counter!("foodqc_collector_db_errors_total").increment(1);
        })?;
        stats.stored += stored;
        stats.busy = first_read.map_or(Duration::ZERO, |t| t.elapsed());
        metrics::counter!("foodqc_collector_rows_stored_total").increment(stored);
        // Only now are the rows safe: commit what was read.
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, next) in &offsets {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))
                .map_err(kafka_err)?;
        }
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            // Not fatal: the rows are in; the messages come again and are kept once.
            tracing::warn!("cannot commit the plant offsets: {e}");
        }
    }
    Ok(stats)
}

/// Messages in this collector's partitions not read yet (each partition's end minus the
/// position reached); `None` while nothing is assigned or the brokers do not answer.
fn consumer_lag(consumer: &BaseConsumer) -> Option<i64> {
    let positions = consumer
        .position()
        .inspect_err(|e| tracing::debug!("consumer lag: no positions: {e}"))
        .ok()?;
    if positions.count() == 0 {
        return None;
    }
    let mut lag = 0;
    for p in positions.elements() {
        let (low, high) = consumer
            .fetch_watermarks(p.topic(), p.partition(), Duration::from_secs(1))
            .inspect_err(|e| {
                tracing::debug!("consumer lag of {}/{}: {e}", p.topic(), p.partition())
            })
            .ok()?;
        // No position yet: everything from the start of the partition is still to read.
        let at = match p.offset() {
            Offset::Offset(o) => o,
            _ => low,
        };
        lag += (high - at).max(0);
    }
    Some(lag)
}

enum Record {
    Inspection(PlantInspection),
    Audit(PlantAuditEntry),
}

/// A message of `topic` as a record; the error says what is wrong with it.
fn parse(topic: &str, key: Option<&[u8]>, payload: Option<&[u8]>) -> Result<Record, String> {
    let payload = payload.ok_or("no payload")?;
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let schema = value["schema"].as_str().unwrap_or_default();
    match (topic, schema) {
        ("foodqc.inspections", "foodqc.inspection/1") => {
            let r: PlantInspection = serde_json::from_value(value).map_err(|e| e.to_string())?;
            if key.is_some_and(|k| k != r.station.as_bytes()) {
                return Err(format!("key is not its station {:?}", r.station));
            }
            Ok(Record::Inspection(r))
        }
        ("foodqc.audit", "foodqc.audit/1") => serde_json::from_value(value)
            .map(Record::Audit)
            .map_err(|e| e.to_string()),
        _ => Err(format!("schema {schema:?} on topic {topic}")),
    }
}
