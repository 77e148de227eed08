//! Threshold settings per model version (the history behind Apply and Revert) and the recent
//! production scores the threshold workbench shows.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::{Store, StoreError, audit::insert_audit, now_ms, sql_err};
use crate::domain::{Thresholds, Verdict};

/// One row of `model_thresholds`: a setting applied to a model version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThresholdSetting {
    /// Row id (increases with every Apply).
    pub id: i64,
    /// The model version the setting belongs to.
    pub model_version_id: i64,
    /// The thresholds.
    pub thresholds: Thresholds,
    /// Who applied it.
    pub set_by: String,
    /// Why (free text; "revert to #N" for reverts).
    pub reason: String,
    /// When (unix ms).
    pub created_at_ms: i64,
}

/// A recent production inspection's score, with the label of its sample when one was given.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductionScore {
    /// Anomaly score.
    pub score: f64,
    /// Verdict given on the line.
    pub verdict: Verdict,
    /// Latest label of the saved sample, when the item was saved and labelled.
    pub label: Option<String>,
}

/// A `model_thresholds` row as read, before the JSON column is parsed.
type RawSetting = (i64, i64, f64, Option<f64>, f64, String, String, String, i64);

fn setting_row(r: &Row<'_>) -> rusqlite::Result<RawSetting> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

const SETTING_COLUMNS: &str =
    "id, model_version_id, reject, review, pixel, per_class_json, set_by, reason, created_at";

impl Store {
    fn to_setting(&self, raw: RawSetting) -> Result<ThresholdSetting, StoreError> {
        let (id, model_version_id, reject, review, pixel, per_class, set_by, reason, created) = raw;
        let per_class: BTreeMap<String, f64> =
            serde_json::from_str(&per_class).map_err(|source| StoreError::Json {
                path: self.path.clone(),
                table: "model_thresholds",
                column: "per_class_json",
                source,
            })?;
        Ok(ThresholdSetting {
            id,
            model_version_id,
            thresholds: Thresholds {
                reject,
                pixel,
                review,
                per_class,
            },
            set_by,
            reason,
            created_at_ms: created,
        })
    }

    /// Apply `thresholds` to a model version: append a setting and an audit entry
    /// (`model.thresholds` with who, old, new and why) in one transaction. `previous` is what
    /// was in force before (the last setting, else the caller's value, e.g. the model file's).
    /// Invalid thresholds (non-finite, review above reject) are refused with
    /// [`StoreError::InvalidValue`]. Returns the new row id.
    pub fn apply_thresholds(
        &mut self,
        model_version_id: i64,
        thresholds: &Thresholds,
        previous: &Thresholds,
        actor: &str,
        reason: &str,
    ) -> Result<i64, StoreError> {
        let old = self.thresholds_before(model_version_id, thresholds, previous)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (model_thresholds)"))?;
        let id = apply_thresholds_in(
            &tx,
            &self.path,
            model_version_id,
            thresholds,
            &old,
            actor,
            reason,
        )?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (model_thresholds)"))?;
        self.anchor_heads();
        Ok(id)
    }

    /// Check `thresholds` and return the setting they replace: the last applied one, else
    /// `previous` (the model file's).
    pub(crate) fn thresholds_before(
        &self,
        model_version_id: i64,
        thresholds: &Thresholds,
        previous: &Thresholds,
    ) -> Result<Thresholds, StoreError> {
        if let Err(why) = thresholds.validate() {
            return Err(StoreError::InvalidValue {
                path: self.path.clone(),
                table: "model_thresholds",
                column: "reject/review/pixel",
                value: why,
            });
        }
        Ok(match self.current_thresholds(model_version_id)? {
            Some(s) => s.thresholds,
            None => previous.clone(),
        })
    }

    /// The setting in force for a model version (the newest), if any was applied.
    pub fn current_thresholds(
        &self,
        model_version_id: i64,
    ) -> Result<Option<ThresholdSetting>, StoreError> {
        let err = || sql_err(&self.path, "select from model_thresholds");
        let sql = format!(
            "SELECT {SETTING_COLUMNS} FROM model_thresholds WHERE model_version_id = ?1
             ORDER BY id DESC LIMIT 1"
        );
        let raw = self
            .conn
            .prepare_cached(&sql)
            .map_err(err())?
            .query_row([model_version_id], setting_row)
            .optional()
            .map_err(err())?;
        raw.map(|r| self.to_setting(r)).transpose()
    }

    /// Every setting applied to a model version, newest first.
    pub fn threshold_history(
        &self,
        model_version_id: i64,
    ) -> Result<Vec<ThresholdSetting>, StoreError> {
        let err = || sql_err(&self.path, "select from model_thresholds");
        let sql = format!(
            "SELECT {SETTING_COLUMNS} FROM model_thresholds WHERE model_version_id = ?1
             ORDER BY id DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let raw = stmt
            .query_map([model_version_id], setting_row)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter().map(|r| self.to_setting(r)).collect()
    }

    /// The id of a model version by its version string.
    pub fn model_version_id(&self, version: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .prepare_cached("SELECT id FROM model_versions WHERE version = ?1")
            .map_err(sql_err(&self.path, "select from model_versions"))?
            .query_row([version], |r| r.get(0))
            .optional()
            .map_err(sql_err(&self.path, "select from model_versions"))
    }

    /// The scores of the latest `limit` inspections, newest first, with the latest label of
    /// their sample when the item was saved and labelled.
    pub fn recent_scores(&self, limit: usize) -> Result<Vec<ProductionScore>, StoreError> {
        let err = || sql_err(&self.path, "select from inspections");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT i.score, i.verdict,
                    (SELECT l.label FROM labels l WHERE l.sample_id = i.sample_id
                     ORDER BY l.id DESC LIMIT 1)
                 FROM inspections i ORDER BY i.id DESC LIMIT ?1",
            )
            .map_err(err())?;
        let raw = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, f64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter()
            .map(|(score, verdict, label)| {
                let verdict = Verdict::parse(&verdict).ok_or_else(|| StoreError::InvalidValue {
                    path: self.path.clone(),
                    table: "inspections",
                    column: "verdict",
                    value: verdict,
                })?;
                Ok(ProductionScore {
                    score,
                    verdict,
                    label,
                })
            })
            .collect()
    }
}

/// Append a threshold setting and its audit entry (`model.thresholds`) on `tx`, inside the
/// caller's transaction; `old` is the setting it replaces. Returns the new row id.
pub(crate) fn apply_thresholds_in(
    tx: &rusqlite::Connection,
    path: &std::path::Path,
    model_version_id: i64,
    thresholds: &Thresholds,
    old: &Thresholds,
    actor: &str,
    reason: &str,
) -> Result<i64, StoreError> {
    let per_class =
        serde_json::to_string(&thresholds.per_class).map_err(|source| StoreError::Json {
            path: path.to_path_buf(),
            table: "model_thresholds",
            column: "per_class_json",
            source,
        })?;
    let version: Option<String> = tx
        .query_row(
            "SELECT version FROM model_versions WHERE id = ?1",
            [model_version_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err(path, "select from model_versions"))?;
    let Some(version) = version else {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
            table: "model_versions",
            id: model_version_id,
        });
    };
    let id: i64 = tx
        .query_row(
            "INSERT INTO model_thresholds (model_version_id, reject, review, pixel,
                     per_class_json, set_by, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            params![
                model_version_id,
                thresholds.reject,
                thresholds.review,
                thresholds.pixel,
                per_class,
                actor,
                reason,
                now_ms()
            ],
            |r| r.get(0),
        )
        .map_err(sql_err(path, "insert into model_thresholds"))?;
    let details = serde_json::json!({
        "model_version_id": model_version_id,
        "version": version,
        "setting_id": id,
        "who": actor,
        "old": old,
        "new": thresholds,
        "why": reason,
    });
    insert_audit(tx, path, actor, "model.thresholds", &details)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::super::{InspectionRow, NewModelVersion, NewSample};
    use super::*;
    use crate::domain::BBox;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("db.sqlite")).unwrap()
    }

    fn model(s: &mut Store, version: &str) -> i64 {
        s.register_model_version(&NewModelVersion {
            version: version.into(),
            path: "m.json".into(),
            kind: "anomaly".into(),
            params: serde_json::json!({}),
            metrics: serde_json::json!({}),
            data_snapshot: serde_json::json!({}),
        })
        .unwrap()
    }

    #[test]
    fn apply_keeps_history_and_audits_old_and_new() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(&dir);
        let m = model(&mut s, "v1");
        let other = model(&mut s, "v2");
        let file = Thresholds::new(1.8, 1.5);
        assert_eq!(s.current_thresholds(m).unwrap(), None);

        let mut a = Thresholds::new(1.2, 1.5);
        a.review = Some(0.9);
        a.per_class.insert("burnt".into(), 1.0);
        let id1 = s
            .apply_thresholds(m, &a, &file, "ana", "max F1 on cookies")
            .unwrap();
        let b = Thresholds::new(1.4, 1.6);
        let id2 = s
            .apply_thresholds(m, &b, &file, "ben", "too many false rejects")
            .unwrap();
        assert!(id2 > id1);
        let cur = s.current_thresholds(m).unwrap().unwrap();
        assert_eq!(
            (cur.id, &cur.thresholds, cur.set_by.as_str()),
            (id2, &b, "ben")
        );
        let hist = s.threshold_history(m).unwrap();
        assert_eq!(hist.len(), 2);
        assert_eq!(
            hist[1].thresholds, a,
            "review band and per-class survive the round trip"
        );
        assert_eq!(hist[1].reason, "max F1 on cookies");
        assert!(s.threshold_history(other).unwrap().is_empty());

        // Revert = apply the older setting again; history only grows.
        s.apply_thresholds(
            m,
            &hist[1].thresholds,
            &file,
            "ana",
            &format!("revert to #{id1}"),
        )
        .unwrap();
        assert_eq!(s.current_thresholds(m).unwrap().unwrap().thresholds, a);
        assert_eq!(s.threshold_history(m).unwrap().len(), 3);

        let audit: Vec<_> = s
            .audit_entries(100)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "model.thresholds")
            .collect();
        assert_eq!(audit.len(), 3);
        // Oldest first or newest first: find the first apply by its reason.
        let first = audit
            .iter()
            .find(|e| e.details["why"] == "max F1 on cookies")
            .unwrap();
        assert_eq!(first.actor, "ana");
        assert_eq!(first.details["who"], "ana");
        assert_eq!(
            first.details["old"]["reject"], 1.8,
            "old = the model file's"
        );
        assert_eq!(first.details["new"]["reject"], 1.2);
        assert_eq!(first.details["new"]["review"], 0.9);
        let second = audit
            .iter()
            .find(|e| e.details["why"] == "too many false rejects")
            .unwrap();
        assert_eq!(
            second.details["old"]["reject"], 1.2,
            "old = the last setting"
        );
        assert_eq!(second.details["version"], "v1");
    }

    #[test]
    fn invalid_settings_and_unknown_models_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(&dir);
        let m = model(&mut s, "v1");
        let file = Thresholds::new(1.8, 1.5);
        let mut bad = Thresholds::new(1.0, 1.5);
        bad.review = Some(2.0);
        let e = s.apply_thresholds(m, &bad, &file, "ana", "x").unwrap_err();
        assert!(e.to_string().contains("review threshold 2"), "{e}");
        let e = s
            .apply_thresholds(m, &Thresholds::new(f64::NAN, 1.0), &file, "ana", "x")
            .unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
        let e = s
            .apply_thresholds(999, &file, &file, "ana", "x")
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound { id: 999, .. }), "{e}");
        assert!(s.threshold_history(m).unwrap().is_empty());
        assert_eq!(s.model_version_id("v1").unwrap(), Some(m));
        assert_eq!(s.model_version_id("nope").unwrap(), None);
    }

    #[test]
    fn recent_scores_carry_sample_labels() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(&dir);
        let station = s.upsert_station("st", "synthetic").unwrap();
        let sample = s
            .insert_sample(&NewSample {
                path: dir.path().join("a.png"),
                hash: "a".repeat(64),
                width: 4,
                height: 4,
                source: "test".into(),
            })
            .unwrap();
        s.add_label(sample, "crack", None, "ana").unwrap();
        let row = |i: i64, score: f64, verdict: Verdict, sample_id: Option<i64>| InspectionRow {
            ts_ms: 1000 + i,
            station_id: station,
            lot_id: None,
            model_version_id: None,
            frame_seq: i,
            item_index: 0,
            track_id: None,
            score,
            verdict,
            defect_class: None,
            bbox: BBox {
                x: 0,
                y: 0,
                w: 4,
                h: 4,
            },
            sample_id,
        };
        s.insert_inspections(&[
            row(0, 0.3, Verdict::Pass, None),
            row(1, 1.1, Verdict::Review, Some(sample)),
            row(2, 2.5, Verdict::Reject, None),
        ])
        .unwrap();
        let r = s.recent_scores(10).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].score, r[0].verdict, r[0].label.as_deref()),
            (2.5, Verdict::Reject, None)
        );
        assert_eq!(
            (r[1].verdict, r[1].label.as_deref()),
            (Verdict::Review, Some("crack"))
        );
        assert_eq!(s.recent_scores(1).unwrap().len(), 1);
    }
}
