//! `foodqc plant`: the plant collector. Reads every station's records from the plant's Kafka
//! with a consumer group and stores them in PostgreSQL, committing offsets only after the
//! rows are in; stops on SIGTERM/SIGINT (or after `--idle-exit` seconds without a message).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

use foodqc::plant::KafkaSpec;
use foodqc::plant::collector::{self, CollectorConfig};
use foodqc::tr;

/// Arguments of `foodqc plant`.
#[derive(Args, Debug)]
pub struct PlantArgs {
    /// Kafka brokers: HOST:PORT[,HOST:PORT].
    #[arg(long, value_name = "BROKERS", value_parser = KafkaSpec::parse)]
    kafka: KafkaSpec,
    /// The plant database: postgres://USER[:PASSWORD]@HOST:PORT/DB.
    #[arg(long, value_name = "URL")]
    postgres: String,
    /// Consumer group; collectors of one group share the partitions.
    #[arg(long, default_value = "foodqc-plant")]
    group: String,
    /// Stop after this many seconds without a message (default: run until stopped).
    #[arg(long, value_name = "SECONDS")]
    idle_exit: Option<f64>,
    /// Serve /metrics (Prometheus) and /healthz on this address, e.g. 0.0.0.0:9187.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

/// Run the collector until stopped; print what it stored.
pub fn run(a: PlantArgs) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let cfg = CollectorConfig {
        kafka: a.kafka,
        postgres: a.postgres,
        group: a.group,
        idle_exit: a.idle_exit.map(Duration::from_secs_f64),
    };
    let started = Instant::now();
    let alive = Arc::new(std::sync::atomic::AtomicI64::new(foodqc::store::now_ms()));
    let _metrics = match a.metrics {
        Some(addr) => {
            let alive = alive.clone();
            let health: foodqc::monitor::HealthCheck = Arc::new(move || {
                // The loop turns at least every 200 ms while it can reach the database.
                let quiet = foodqc::store::now_ms() - alive.load(Ordering::SeqCst);
                if quiet > 10_000 {
                    Err(tr!(
                        "monitor-collector-stuck",
                        seconds = (quiet / 1000).to_string()
                    ))
                } else {
                    Ok(())
                }
            });
            Some(foodqc::monitor::MetricsServer::start(addr, health)?)
        }
        None => None,
    };
    let stats = collector::run(&cfg, &stop, &alive)?;
    stop.store(true, Ordering::SeqCst);
    println!(
        "{}",
        tr!(
            "cli-plant-summary",
            messages = stats.messages,
            stored = stats.stored,
            skipped = stats.skipped,
            seconds = foodqc::i18n::format_decimal(started.elapsed().as_secs_f64(), 1)
        )
    );
    Ok(())
}
