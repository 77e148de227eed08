//! The station's ear for the plant: a thread that reads the plant's commands
//! (`foodqc.commands`, a consumer group of its own per station, so every station sees every
//! command) and applies the lot decisions for the lots this station has. Each command is
//! applied once (see `store::plant_commands`); its offset is committed after it is applied.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;

use super::KafkaSpec;
use super::publisher::PublishError;
use crate::store::Store;
use crate::store::plant_commands::{COMMANDS_TOPIC, PlantLotCommand};

/// The running command thread; stopped when dropped.
pub struct CommandListener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CommandListener {
    /// Start applying the plant's commands to database `db`, station `origin`.
    pub fn start(db: PathBuf, spec: &KafkaSpec, origin: &str) -> Result<Self, PublishError> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &spec.brokers)
            .set("group.id", format!("foodqc-commands-{origin}"))
            .set("enable.auto.commit", "false")
            // A station new to the plant applies what was decided on its lots before.
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("max.poll.interval.ms", "10000")
            .create()
            .map_err(|source| PublishError::Producer {
                brokers: spec.brokers.clone(),
                source,
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let brokers = spec.brokers.clone();
            let spec = spec.clone();
            std::thread::Builder::new()
                .name("foodqc-commands".into())
                .spawn(move || run(db, &spec, consumer, &stop))
                .map_err(|source| PublishError::Thread { brokers, source })?
        };
        Ok(CommandListener {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for CommandListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread: commands in, lot decisions applied, offsets committed.
fn run(db: PathBuf, spec: &KafkaSpec, consumer: BaseConsumer, stop: &AtomicBool) {
    // The topic may not exist before the first decision; made here so the group can join.
    let mut subscribed = false;
    let mut store: Option<Store> = None;
    while !stop.load(Ordering::SeqCst) {
        if !subscribed {
            if let Err(e) = super::topics::ensure(spec, Duration::from_secs(5)) {
                tracing::warn!("plant topics on {}: {e}", spec.brokers);
            }
            match consumer.subscribe(&[COMMANDS_TOPIC]) {
                Ok(()) => subscribed = true,
                Err(e) => {
                    tracing::warn!("plant commands on {}: {e}", spec.brokers);
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
        }
        let Some(next) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = match next {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("plant commands: {e}");
                continue;
            }
        };
        let command: Result<PlantLotCommand, String> = m
            .payload()
            .ok_or_else(|| "no payload".to_string())
            .and_then(|p| serde_json::from_slice(p).map_err(|e| e.to_string()));
        let applied = match command {
            Ok(c) if c.schema == "foodqc.command/1" && c.kind == "lot.status" => {
                let st = match store.take() {
                    Some(s) => s,
                    None => match Store::open(&db) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::error!("plant command {}: {e}", c.id);
                            std::thread::sleep(Duration::from_secs(1));
                            // Not committed: read again after a restart or a seek.
                            continue;
                        }
                    },
                };
                let st = store.insert(st);
                match st.apply_plant_lot_command(&c) {
                    Ok(true) => {
                        tracing::info!(
                            "plant command {}: lot {} is now {} (by {})",
                            c.id,
                            c.lot,
                            c.status,
                            c.display_name
                        );
                        true
                    }
                    Ok(false) => true,
                    Err(e) => {
                        tracing::error!("plant command {}: {e}", c.id);
                        store = None;
                        false
                    }
                }
            }
            Ok(c) => {
                tracing::warn!(
                    "plant command {}: unknown kind {} ({})",
                    c.id,
                    c.kind,
                    c.schema
                );
                true
            }
            Err(e) => {
                tracing::warn!(
                    "plant commands: message at {}/{} is not a command: {e}",
                    m.partition(),
                    m.offset()
                );
                true
            }
        };
        if applied && let Err(e) = consumer.commit_message(&m, CommitMode::Sync) {
            tracing::warn!("plant commands: cannot commit: {e}");
        }
    }
}
