//! The outbox to the plant's Kafka: switched on per database, filled by triggers in the
//! transaction of each record (inspections, audit entries), read and marked delivered by the
//! publisher.

use std::path::Path;

use rusqlite::{Connection, params};

use super::plant_key::{MessageSeal, PlantKey};
use super::{Store, StoreError, sql_err};

/// Reject crops (JPEG, optional; see [`Store::set_outbox_reject_crops`]), keyed by station.
pub const REJECTS_TOPIC: &str = "foodqc.rejects";

/// One message waiting for the plant.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    /// Row id (the order messages are sent in).
    pub id: i64,
    /// Kafka topic (`foodqc.inspections`, `foodqc.audit`, `foodqc.rejects`, ...).
    pub topic: String,
    /// Message key: the station (inspections) or the publishing station (audit entries).
    pub key: String,
    /// The versioned JSON message.
    pub payload: String,
    /// The deciding PC's seal of a plant decision (commands, model releases); `None` for
    /// records, which the collector takes from any station.
    pub seal: Option<MessageSeal>,
}

/// How far the outbox is: waiting and delivered messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Recorded, not yet acknowledged by the plant's brokers.
    pub pending: u64,
    /// Acknowledged.
    pub delivered: u64,
    /// Settled without sending (reject crops gone or over their limit).
    pub skipped: u64,
}

/// Queue a plant decision's message (`topic`, `key`, `payload`) sealed by this PC's `seal`
/// key, in the caller's transaction `conn` of the database at `path`.
pub(crate) fn insert_sealed(
    conn: &Connection,
    path: &Path,
    seal: &PlantKey,
    (topic, key, payload): (&str, &str, &str),
    at_ms: i64,
) -> Result<(), StoreError> {
    let sealed = seal.seal(topic, payload.as_bytes());
    conn.execute(
        "INSERT INTO outbox (topic, key, payload, created_at, seal_key, seal_signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![topic, key, payload, at_ms, sealed.key, sealed.signature],
    )
    .map(drop)
    .map_err(sql_err(path, "insert into outbox"))
}

impl Store {
    /// From now on every inspection and audit entry also goes to the outbox; audit entries
    /// carry `origin` (the publishing station) as their key. Reject crops start off: only a
    /// start that asks for them ([`Store::set_outbox_reject_crops`]) sends them, never one
    /// that inherits an earlier run's setting (the window after a headless run, say).
    pub fn enable_outbox(&self, origin: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO outbox_settings (id, enabled, origin) VALUES (1, 1, ?1)
                 ON CONFLICT (id) DO UPDATE
                 SET enabled = 1, origin = excluded.origin, crop_max_bytes = NULL",
                [origin],
            )
            .map(drop)
            .map_err(sql_err(&self.path, "enable the outbox"))
    }

    /// Send the crop of each reject recorded from now on as well (topic `foodqc.rejects`),
    /// when it is at most `max_bytes` as JPEG; `None`: no crops. Holds until the outbox is
    /// enabled again.
    pub fn set_outbox_reject_crops(&self, max_bytes: Option<u32>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox_settings SET crop_max_bytes = ?1 WHERE id = 1",
                [max_bytes],
            )
            .map(drop)
            .map_err(sql_err(&self.path, "set the outbox's reject crops"))
    }

    /// Settle messages that will not be sent (a crop gone or over its limit) at `at_ms`,
    /// keeping why, in one transaction.
    pub fn mark_outbox_skipped(
        &mut self,
        skipped: &[(i64, String)],
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err(&path, "mark outbox rows skipped"))?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE outbox SET delivered_at = ?2, skipped = ?3 WHERE id = ?1")
                .map_err(sql_err(&path, "mark outbox rows skipped"))?;
            for (id, why) in skipped {
                stmt.execute(params![id, at_ms, why])
                    .map_err(sql_err(&path, "mark outbox rows skipped"))?;
            }
        }
        tx.commit()
            .map_err(sql_err(&path, "mark outbox rows skipped"))
    }

    /// Up to `limit` undelivered messages, oldest first.
    pub fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, topic, key, payload, seal_key, seal_signature FROM outbox
                 WHERE delivered_at IS NULL ORDER BY id LIMIT ?1",
            )
            .map_err(sql_err(&self.path, "select from outbox"))?;
        stmt.query_map([limit as i64], |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                topic: r.get(1)?,
                key: r.get(2)?,
                payload: r.get(3)?,
                seal: match (r.get(4)?, r.get(5)?) {
                    (Some(key), Some(signature)) => Some(MessageSeal { key, signature }),
                    _ => None,
                },
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql_err(&self.path, "select from outbox"))
    }

    /// Mark messages `ids` delivered at `at_ms`, in one transaction.
    pub fn mark_outbox_delivered(&mut self, ids: &[i64], at_ms: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err(&path, "mark outbox rows delivered"))?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE outbox SET delivered_at = ?2 WHERE id = ?1")
                .map_err(sql_err(&path, "mark outbox rows delivered"))?;
            for id in ids {
                stmt.execute(params![id, at_ms])
                    .map_err(sql_err(&path, "mark outbox rows delivered"))?;
            }
        }
        tx.commit()
            .map_err(sql_err(&path, "mark outbox rows delivered"))
    }

    /// Waiting and delivered messages.
    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL),
                        COUNT(*) FILTER (WHERE delivered_at IS NOT NULL AND skipped IS NULL),
                        COUNT(*) FILTER (WHERE skipped IS NOT NULL)
                 FROM outbox",
                [],
                |r| {
                    Ok(OutboxCounts {
                        pending: r.get::<_, i64>(0)? as u64,
                        delivered: r.get::<_, i64>(1)? as u64,
                        skipped: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .map_err(sql_err(&self.path, "count the outbox"))
    }
}
