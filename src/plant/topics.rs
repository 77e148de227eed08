//! The plant's topics, made when missing. Brokers often refuse to create a topic on first
//! use (`auto.create.topics.enable=false`), so the publisher and the collector create theirs
//! with the admin API; one that exists already is left as it is, and brokers that do not let
//! this client create topics get them from their operators.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::KafkaSpec;

/// Every record of an inspection, keyed by station.
pub const INSPECTIONS: &str = "foodqc.inspections";
/// Every audit entry, keyed by the station that recorded it.
pub const AUDIT: &str = "foodqc.audit";
/// The topics a station publishes and the collector reads.
pub const TOPICS: [&str; 2] = [INSPECTIONS, AUDIT];
/// Every topic of the plant: also reject crops, and the plant's commands and model releases
/// to its stations.
pub const ALL: [&str; 5] = [
    INSPECTIONS,
    AUDIT,
    crate::store::outbox::REJECTS_TOPIC,
    crate::store::plant_commands::COMMANDS_TOPIC,
    crate::store::plant_models::MODELS_TOPIC,
];

/// Partitions of a topic made here: as many collectors as this can share the work.
pub const PARTITIONS: i32 = 6;

/// Create the plant's topics that are missing, waiting at most `timeout` for the brokers.
/// The error says which topic could not be made and why.
pub fn ensure(spec: &KafkaSpec, timeout: Duration) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = super::client::config(spec)
        .create()
        .map_err(|e| e.to_string())?;
    // The broker's own replication factor (-1): one broker in a test, three in a plant.
    let topics: Vec<NewTopic<'_>> = ALL
        .iter()
        .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().request_timeout(Some(timeout));
    let results = futures_lite::future::block_on(admin.create_topics(&topics, &options))
        .map_err(|e| e.to_string())?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("{topic}: {code}")),
        }
    }
    Ok(())
}
