//! The station's ear for the plant: a thread that reads the plant's commands
//! (`foodqc.commands`) and model releases (`foodqc.models`), with a consumer group of its own
//! per station so every station sees every message. It applies the lot decisions for the
//! lots this station has, and takes the model versions released to the recipes it has (see
//! [`crate::services::plant_model`]). Each is applied once (see `store::plant_commands` and
//! `store::plant_models`); an offset is committed after its message is applied or kept.
//! What changed a recipe is told to the station's owner ([`PlantEvent`]), which switches a
//! station running that recipe between two frames. Only a message sealed by a key the
//! station trusts (or its own) is applied; any other is refused and audited
//! (`plant.message.refuse`), see `store::plant_key`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;

use super::KafkaSpec;
use super::publisher::PublishError;
use super::seal_headers;
use crate::domain::AppPaths;
use crate::services::plant_model::{self, Received};
use crate::store::Store;
use crate::store::plant_commands::{COMMANDS_TOPIC, PlantLotCommand};
use crate::store::plant_key::{self, MessageSeal, TrustedKey};
use crate::store::plant_models::{MODELS_TOPIC, PlantModelPart};

/// What the plant changed at this station that a running line must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlantEvent {
    /// Recipe `recipe` has a new version judging with model `version` (released by `by`,
    /// `plant:<signer>`): a station running that recipe switches to it.
    RecipeUpdated {
        /// The recipe's name.
        recipe: String,
        /// The model version it names now.
        version: String,
        /// Who released it (`plant:<signer>`).
        by: String,
    },
}

/// The running command thread; stopped when dropped.
pub struct CommandListener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    events: crossbeam_channel::Receiver<PlantEvent>,
}

impl CommandListener {
    /// Start applying the plant's commands and model releases to the data folder `paths`
    /// (its database and models folder), station `origin`.
    pub fn start(paths: &AppPaths, spec: &KafkaSpec, origin: &str) -> Result<Self, PublishError> {
        let consumer: BaseConsumer = super::client::config(spec)
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
        let (tx, events) = crossbeam_channel::unbounded();
        let thread = {
            let stop = stop.clone();
            let brokers = spec.brokers.clone();
            let spec = spec.clone();
            let at = Station {
                db: paths.db_path(),
                models_dir: paths.models_dir(),
                name: origin.to_string(),
                events: tx,
            };
            std::thread::Builder::new()
                .name("foodqc-commands".into())
                .spawn(move || run(&at, &spec, consumer, &stop))
                .map_err(|source| PublishError::Thread { brokers, source })?
        };
        Ok(CommandListener {
            stop,
            thread: Some(thread),
            events,
        })
    }

    /// What the plant changed since the last call (never blocks).
    pub fn events(&self) -> Vec<PlantEvent> {
        self.events.try_iter().collect()
    }
}

/// Where the thread applies what it reads.
struct Station {
    db: PathBuf,
    models_dir: PathBuf,
    name: String,
    events: crossbeam_channel::Sender<PlantEvent>,
}

impl Drop for CommandListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread: messages in, applied or kept, offsets committed.
fn run(at: &Station, spec: &KafkaSpec, consumer: BaseConsumer, stop: &AtomicBool) {
    // The topics may not exist before the first decision; made here so the group can join.
    let mut subscribed = false;
    let mut store: Option<Store> = None;
    while !stop.load(Ordering::SeqCst) {
        if !subscribed {
            if let Err(e) = super::topics::ensure(spec, Duration::from_secs(5)) {
                tracing::warn!("plant topics on {}: {e}", spec.brokers);
            }
            match consumer.subscribe(&[COMMANDS_TOPIC, MODELS_TOPIC]) {
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
        let st = match store.take() {
            Some(s) => s,
            None => match Store::open(&at.db) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("plant message at {}/{}: {e}", m.partition(), m.offset());
                    std::thread::sleep(Duration::from_secs(1));
                    // Not committed: read again after a restart or a seek.
                    continue;
                }
            },
        };
        let st = store.insert(st);
        let payload = m.payload().unwrap_or_default();
        let seal = seal_headers::from_headers(m.headers());
        let done = if m.topic() == MODELS_TOPIC {
            take_model_part(st, at, payload, seal.as_ref())
        } else {
            apply_lot_command(st, at, payload, seal.as_ref())
        };
        match done {
            Ok(()) => {
                if let Err(e) = consumer.commit_message(&m, CommitMode::Sync) {
                    tracing::warn!("plant commands: cannot commit: {e}");
                }
            }
            Err(e) => {
                tracing::error!("plant message at {}/{}: {e}", m.partition(), m.offset());
                store = None;
            }
        }
    }
}

/// The key that sealed message `id` on `topic`, when this station trusts it (its admin's
/// list, or its own key); else the refusal is logged and audited once and `None` comes back.
/// Err when the database failed.
fn sealed_by(
    st: &mut Store,
    at: &Station,
    (id, topic, payload): (&str, &str, &[u8]),
    seal: Option<&MessageSeal>,
) -> Result<Option<TrustedKey>, String> {
    let db = |e: crate::store::StoreError| format!("plant message {id}: {e}");
    let mut trusted = st.trusted_plant_keys().map_err(db)?;
    if let Some(own) = st.existing_plant_key().map_err(db)? {
        trusted.push(TrustedKey {
            name: format!("{} (own key)", at.name),
            key: own.public_key(),
            added_by: at.name.clone(),
            added_at: 0,
        });
    }
    match plant_key::check(seal, topic, payload, &trusted) {
        Ok(key) => Ok(Some(key.clone())),
        Err(why) => {
            tracing::error!("plant message {id} on {topic} refused: {why}");
            metrics::counter!("foodqc_plant_messages_refused_total", "topic" => topic.to_string())
                .increment(1);
            st.refuse_plant_message(id, topic, seal, &why, &at.name)
                .map_err(db)?;
            Ok(None)
        }
    }
}

/// Apply a lot decision. Ok when the message is settled (applied, not for this station,
/// refused or unreadable: logged, never retried); Err when the database failed (retried).
fn apply_lot_command(
    st: &mut Store,
    at: &Station,
    payload: &[u8],
    seal: Option<&MessageSeal>,
) -> Result<(), String> {
    let c: PlantLotCommand = match serde_json::from_slice(payload) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("plant commands: a message that is not a command: {e}");
            return Ok(());
        }
    };
    if c.schema != "foodqc.command/1" || c.kind != "lot.status" {
        tracing::warn!(
            "plant command {}: unknown kind {} ({})",
            c.id,
            c.kind,
            c.schema
        );
        return Ok(());
    }
    let Some(key) = sealed_by(st, at, (&c.id, COMMANDS_TOPIC, payload), seal)? else {
        return Ok(());
    };
    if st
        .apply_plant_lot_command(&c, &key)
        .map_err(|e| format!("plant command {}: {e}", c.id))?
    {
        tracing::info!(
            "plant command {}: lot {} is now {} (by {})",
            c.id,
            c.lot,
            c.status,
            c.display_name
        );
    }
    Ok(())
}

/// Keep or apply a model part, as [`apply_lot_command`] does a decision.
fn take_model_part(
    st: &mut Store,
    at: &Station,
    payload: &[u8],
    seal: Option<&MessageSeal>,
) -> Result<(), String> {
    let part: PlantModelPart = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("plant models: a message that is not a model part: {e}");
            return Ok(());
        }
    };
    let r = &part.release;
    if sealed_by(st, at, (&r.id, MODELS_TOPIC, payload), seal)?.is_none() {
        return Ok(());
    }
    match plant_model::receive(st, &at.models_dir, &part, &at.name) {
        Ok(Received::Applied(recipe)) => {
            tracing::info!(
                "plant model {}: recipe {} now judges with {} (by {})",
                r.id,
                recipe.recipe.recipe_name(),
                r.version,
                r.display_name
            );
            let _ = at.events.send(PlantEvent::RecipeUpdated {
                recipe: r.recipe.clone(),
                version: r.version.clone(),
                by: format!("plant:{}", r.signer),
            });
            Ok(())
        }
        Ok(Received::Refused(why)) => {
            tracing::error!("plant model {}: {why}", r.id);
            Ok(())
        }
        Ok(Received::Waiting { have, parts }) => {
            tracing::debug!("plant model {}: {have} of {parts} parts", r.id);
            Ok(())
        }
        Ok(Received::Skipped) => Ok(()),
        Err(plant_model::PlantModelError::BadMessage(why)) => {
            tracing::warn!("plant model {}: {why}", r.id);
            Ok(())
        }
        Err(e) => Err(format!("plant model {}: {e}", r.id)),
    }
}
