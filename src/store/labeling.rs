//! The labelling side of the store: the defect taxonomy, per-model sample scores, the queue of
//! samples waiting for a label (most uncertain first), undo, and the labelled set.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::audit::{insert_audit, limit_param};
use super::samples::{SAMPLE_COLUMNS, sample_row};
use super::{SampleRow, Store, StoreError, now_ms, sql_err};

/// One class of the defect taxonomy (`good` is implicit and never stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DefectClass {
    /// Row id (0 for a class not saved yet).
    pub id: i64,
    /// Name shown and stored in labels, e.g. `crack`.
    pub name: String,
    /// Display colour, `#rrggbb`.
    pub colour: String,
    /// Digit key 1..9 that assigns it, if any.
    pub hotkey: Option<u8>,
    /// Order in lists.
    pub position: i64,
}

impl DefectClass {
    /// The colour as RGB (grey if the stored text is malformed).
    pub fn rgb(&self) -> [u8; 3] {
        parse_hex_colour(&self.colour).unwrap_or([128, 128, 128])
    }
}

/// `#rrggbb` to RGB.
pub fn parse_hex_colour(s: &str) -> Option<[u8; 3]> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 {
        return None;
    }
    let v = u32::from_str_radix(h, 16).ok()?;
    Some([(v >> 16) as u8, (v >> 8) as u8, v as u8])
}

/// Which unlabelled samples the queue shows (all `None` = every one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueFilter {
    /// Only samples from this source (exact match).
    pub source: Option<String>,
    /// Only samples captured in this lot (by code).
    pub lot: Option<String>,
    /// Only samples registered at or after this time (unix ms).
    pub since_ms: Option<i64>,
    /// Only samples the current model predicts as this (`pass`, `reject`, `none` = no item).
    pub predicted: Option<String>,
}

/// One sample in the labelling queue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueEntry {
    /// The sample.
    pub sample: SampleRow,
    /// Its anomaly score under the current model, once scored.
    pub score: Option<f64>,
    /// The reject threshold the score is compared with.
    pub threshold: Option<f64>,
    /// What the current model predicts.
    pub predicted: Option<String>,
    /// Lot it was captured in (live captures only).
    pub lot: Option<String>,
}

impl QueueEntry {
    /// How far the score is from the threshold, relative to it (0 = on the threshold, the
    /// most uncertain); `None` until scored.
    pub fn margin(&self) -> Option<f64> {
        Some((self.score? - self.threshold?).abs() / self.threshold?)
    }
}

/// A model's score of one sample, to cache with [`Store::record_sample_score`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleScore {
    /// The sample.
    pub sample_id: i64,
    /// The model version that scored it.
    pub model_version: String,
    /// Worst item score in the sample (0 when no item was found).
    pub score: f64,
    /// The model's reject threshold.
    pub threshold: f64,
    /// `pass`, `reject`, or `none` (no item found).
    pub predicted: String,
    /// Items found.
    pub items: u32,
}

fn class_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DefectClass> {
    Ok(DefectClass {
        id: r.get(0)?,
        name: r.get(1)?,
        colour: r.get(2)?,
        hotkey: r.get::<_, Option<i64>>(3)?.map(|k| k as u8),
        position: r.get(4)?,
    })
}

impl Store {
    /// The defect taxonomy, in display order.
    pub fn defect_classes(&self) -> Result<Vec<DefectClass>, StoreError> {
        let err = || sql_err(&self.path, "select from defect_classes");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, colour, hotkey, position FROM defect_classes
                 ORDER BY position, id",
            )
            .map_err(err())?;
        let rows = stmt.query_map([], class_row).map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// Add (`id == 0`) or change a defect class, with an audit entry (`taxonomy.save`).
    /// A name of `good`, a duplicate name or hotkey, or a malformed colour is refused.
    pub fn save_defect_class(&mut self, c: &DefectClass, actor: &str) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (defect_classes)"))?;
        let colour = c.colour.to_ascii_lowercase();
        let hotkey = c.hotkey.map(i64::from);
        let before: Option<DefectClass> = if c.id == 0 {
            None
        } else {
            tx.query_row(
                "SELECT id, name, colour, hotkey, position FROM defect_classes WHERE id = ?1",
                [c.id],
                class_row,
            )
            .optional()
            .map_err(sql_err(&self.path, "select from defect_classes"))?
        };
        let id = match &before {
            None if c.id != 0 => {
                return Err(StoreError::NotFound {
                    path: self.path.clone(),
                    table: "defect_classes",
                    id: c.id,
                });
            }
            None => tx
                .query_row(
                    "INSERT INTO defect_classes (name, colour, hotkey, position)
                     VALUES (?1, ?2, ?3, ?4) RETURNING id",
                    params![c.name.trim(), colour, hotkey, c.position],
                    |r| r.get(0),
                )
                .map_err(sql_err(&self.path, "insert into defect_classes"))?,
            Some(_) => {
                tx.execute(
                    "UPDATE defect_classes SET name = ?2, colour = ?3, hotkey = ?4, position = ?5
                     WHERE id = ?1",
                    params![c.id, c.name.trim(), colour, hotkey, c.position],
                )
                .map_err(sql_err(&self.path, "update defect_classes"))?;
                c.id
            }
        };
        let details = serde_json::json!({
            "id": id,
            "before": before,
            "after": {"name": c.name.trim(), "colour": colour, "hotkey": hotkey, "position": c.position},
        });
        insert_audit(&tx, &self.path, actor, "taxonomy.save", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (defect_classes)"))?;
        self.anchor_heads();
        Ok(id)
    }

    /// Remove a defect class from the taxonomy (labels already given keep their text), with
    /// an audit entry (`taxonomy.delete`).
    pub fn delete_defect_class(&mut self, id: i64, actor: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (defect_classes)"))?;
        let name: Option<String> = tx
            .query_row("SELECT name FROM defect_classes WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_err(&self.path, "select from defect_classes"))?;
        let Some(name) = name else {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                table: "defect_classes",
                id,
            });
        };
        tx.execute("DELETE FROM defect_classes WHERE id = ?1", [id])
            .map_err(sql_err(&self.path, "delete from defect_classes"))?;
        insert_audit(
            &tx,
            &self.path,
            actor,
            "taxonomy.delete",
            &serde_json::json!({"id": id, "name": name}),
        )?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (defect_classes)"))?;
        self.anchor_heads();
        Ok(())
    }

    /// Cache a model's score of a sample (replaces an earlier score by the same model).
    pub fn record_sample_score(&mut self, s: &SampleScore) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sample_scores
                 (sample_id, model_version, score, threshold, predicted, items, scored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.sample_id,
                    s.model_version,
                    s.score,
                    s.threshold,
                    s.predicted,
                    s.items,
                    now_ms()
                ],
            )
            .map_err(sql_err(&self.path, "insert into sample_scores"))?;
        Ok(())
    }

    /// Unlabelled samples that `model_version` has not scored yet, newest first.
    pub fn unscored_samples(
        &self,
        model_version: &str,
        limit: usize,
    ) -> Result<Vec<SampleRow>, StoreError> {
        let sql = format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples AS s
             WHERE NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.sample_id = s.id)
               AND NOT EXISTS (SELECT 1 FROM sample_scores AS c
                               WHERE c.sample_id = s.id AND c.model_version = ?1)
             ORDER BY s.id DESC LIMIT ?2"
        );
        let err = || sql_err(&self.path, "select unscored samples");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let rows = stmt
            .query_map(params![model_version, limit_param(limit)], sample_row)
            .map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// The labelling queue: unlabelled samples matching `filter`, the most uncertain under
    /// `model_version` first (score closest to the threshold), then the ones not scored yet
    /// (newest first).
    pub fn label_queue(
        &self,
        model_version: &str,
        filter: &QueueFilter,
        limit: usize,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        let sql = format!(
            "SELECT {SAMPLE_COLUMNS}, c.score, c.threshold, c.predicted, lo.code
             FROM samples AS s
             LEFT JOIN sample_scores AS c ON c.sample_id = s.id AND c.model_version = ?1
             LEFT JOIN lots AS lo ON lo.id =
                 (SELECT i.lot_id FROM inspections AS i WHERE i.sample_id = s.id LIMIT 1)
             WHERE NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.sample_id = s.id)
               AND (?2 IS NULL OR s.source = ?2)
               AND (?3 IS NULL OR lo.code = ?3)
               AND (?4 IS NULL OR s.created_at >= ?4)
               AND (?5 IS NULL OR c.predicted = ?5)
             ORDER BY c.score IS NULL, abs(c.score - c.threshold) / c.threshold, s.id DESC
             LIMIT ?6"
        );
        let err = || sql_err(&self.path, "select the labelling queue");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let rows = stmt
            .query_map(
                params![
                    model_version,
                    filter.source,
                    filter.lot,
                    filter.since_ms,
                    filter.predicted,
                    limit_param(limit)
                ],
                |r| {
                    Ok(QueueEntry {
                        sample: sample_row(r)?,
                        score: r.get(7)?,
                        threshold: r.get(8)?,
                        predicted: r.get(9)?,
                        lot: r.get(10)?,
                    })
                },
            )
            .map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// Distinct sample sources (for the queue's filter menu).
    pub fn sample_sources(&self) -> Result<Vec<String>, StoreError> {
        let err = || sql_err(&self.path, "select sample sources");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT source FROM samples ORDER BY source")
            .map_err(err())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// Undo a label: remove it if it is still its sample's current label (the sample then
    /// has its previous label, or none), with an audit entry (`label.undo`). Returns the
    /// sample id. Refused for a label that a later one has replaced.
    pub fn undo_label(&mut self, label_id: i64, actor: &str) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (labels)"))?;
        let row: Option<(i64, String, i64)> = tx
            .query_row(
                "SELECT sample_id, label,
                        (SELECT max(id) FROM labels AS m WHERE m.sample_id = l.sample_id)
                 FROM labels AS l WHERE id = ?1",
                [label_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql_err(&self.path, "select from labels"))?;
        let Some((sample_id, label, latest)) = row else {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                table: "labels",
                id: label_id,
            });
        };
        if latest != label_id {
            return Err(StoreError::Conflict {
                path: self.path.clone(),
                what: format!(
                    "label {label_id} of sample {sample_id} was already replaced by label {latest}"
                ),
            });
        }
        tx.execute("DELETE FROM labels WHERE id = ?1", [label_id])
            .map_err(sql_err(&self.path, "delete from labels"))?;
        let details = serde_json::json!({
            "label_id": label_id,
            "sample_id": sample_id,
            "label": label,
        });
        insert_audit(&tx, &self.path, actor, "label.undo", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (labels)"))?;
        self.anchor_heads();
        Ok(sample_id)
    }
}
