//! `foodqc bench --plant N`: the plant collector's sustained throughput. N inspection
//! messages, as stations publish them, go to the brokers first; then the collector reads them
//! into an empty plant database, and the rate is taken from its first message read to its
//! last batch stored (the group join before and the idle wait after are not counted).

use std::sync::atomic::{AtomicBool, AtomicI64};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::Serialize;

use super::BenchError;
use crate::plant::KafkaSpec;
use crate::plant::collector::{self, CollectorConfig};
use crate::plant::topics;
use crate::store::plant_db::PlantDb;

/// Station keys the messages are spread over (so they spread over the partitions).
const STATIONS: u64 = 30;

/// What `bench --plant` measured.
#[derive(Clone, Debug, Serialize)]
pub struct PlantBenchReport {
    /// Messages produced.
    pub messages: u64,
    /// Time to produce them, acknowledged (s).
    pub produce_seconds: f64,
    /// Messages the collector read.
    pub read: u64,
    /// Rows it stored.
    pub stored: u64,
    /// From its first message read to its last batch stored (s).
    pub collect_seconds: f64,
    /// Rows stored per second over that time.
    pub rows_per_second: f64,
    /// Stations at 30 FPS with one item a frame (30 items/s) that rate serves.
    pub stations_at_30_items_per_second: f64,
}

/// Produce `messages` inspection messages to `kafka`, collect them into the empty plant
/// database at `postgres`, and time it. `say` gets progress lines.
pub fn plant_bench(
    messages: u64,
    kafka: &KafkaSpec,
    postgres: &str,
    say: &dyn Fn(&str),
) -> Result<PlantBenchReport, BenchError> {
    let db = PlantDb::connect(postgres)?;
    let rows = db.inspection_count()?;
    if rows > 0 {
        return Err(BenchError::PlantNotEmpty {
            db: crate::store::plant_db::without_password(postgres),
            rows,
        });
    }
    drop(db);
    let kafka_err = |e: String| BenchError::Kafka {
        brokers: kafka.brokers.clone(),
        error: e,
    };
    topics::ensure(kafka, Duration::from_secs(10)).map_err(kafka_err)?;
    let run = crate::store::now_ms();
    say(&crate::tr!("bench-plant-producing", messages = messages));
    let produce_seconds = produce(kafka, messages, run).map_err(kafka_err)?;
    say(&crate::tr!("bench-plant-collecting"));
    let cfg = CollectorConfig {
        kafka: kafka.clone(),
        postgres: postgres.to_string(),
        group: format!("foodqc-bench-{run}"),
        idle_exit: Some(Duration::from_secs(3)),
    };
    let stats = collector::run(&cfg, &AtomicBool::new(false), &AtomicI64::new(0))?;
    let collect_seconds = stats.busy.as_secs_f64();
    let rows_per_second = if collect_seconds > 0.0 {
        stats.stored as f64 / collect_seconds
    } else {
        0.0
    };
    Ok(PlantBenchReport {
        messages,
        produce_seconds,
        read: stats.messages,
        stored: stats.stored,
        collect_seconds,
        rows_per_second,
        stations_at_30_items_per_second: rows_per_second / 30.0,
    })
}

/// Send `n` messages shaped like a station's (`foodqc.inspection/1`) and wait for every
/// acknowledgement; the seconds it took.
fn produce(kafka: &KafkaSpec, n: u64, run: i64) -> Result<f64, String> {
    let producer: BaseProducer = crate::plant::client::config(kafka)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for i in 0..n {
        let station = format!("bench-{run}-{}", i % STATIONS);
        let payload = serde_json::json!({
            "schema": "foodqc.inspection/1",
            "station": station,
            "id": i / STATIONS + 1,
            "ts_ms": run + (i as i64),
            "frame": i / STATIONS,
            "item": 0,
            "track": null,
            "verdict": if i % 50 == 0 { "reject" } else { "pass" },
            "score": 0.5,
            "defect_class": null,
            "lot": "BENCH",
            "product": "bench",
            "line": "bench",
            "shift": "A",
            "recipe": null,
            "model_version": "bench",
            "bbox": [10, 10, 100, 100],
        })
        .to_string();
        let mut record = BaseRecord::to(topics::INSPECTIONS)
            .key(&station)
            .payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    // A full local queue drains as the brokers acknowledge.
                    if !matches!(
                        e,
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull
                        )
                    ) {
                        return Err(e.to_string());
                    }
                    record = r;
                    producer.poll(Duration::from_millis(20));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    Ok(started.elapsed().as_secs_f64())
}
