//! The plant: stations stream what they record to the plant's Kafka, so many lines feed one
//! quality picture. Records go to an outbox in the transaction that writes them (see
//! `store::outbox`); [`publisher`] sends the outbox with an idempotent producer and marks what
//! the brokers acknowledged. Plant decisions (lot commands, model releases) travel sealed by
//! the deciding PC's key ([`seal_headers`]); a station applies only what a key it trusts sealed.

pub mod client;
pub mod collector;
pub mod commands;
pub mod publisher;
pub mod reject_crops;
pub mod seal_headers;
pub mod topics;

pub use crate::domain::KafkaSpec;
pub use commands::{CommandListener, PlantEvent};
pub use publisher::{Publisher, PublisherStats};
