//! Acceptance criteria as a history: each change appends a row (who, when, why) and an audit
//! entry (`acceptance.criteria`, with the old and new values) in one transaction; the newest
//! row is in force.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::{Store, StoreError, audit::insert_audit, now_ms, sql_err};
use crate::domain::AcceptanceCriteria;

/// One row of `acceptance_criteria`: criteria set by someone, for a reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CriteriaSetting {
    /// Row id (increases with every change).
    pub id: i64,
    /// The criteria.
    pub criteria: AcceptanceCriteria,
    /// Who set them.
    pub set_by: String,
    /// Why.
    pub reason: String,
    /// When (unix ms).
    pub created_at_ms: i64,
}

const COLUMNS: &str = "id, min_recall, max_false_reject_rate, min_defect_samples, \
                       min_good_samples, set_by, reason, created_at";

fn setting(r: &Row<'_>) -> rusqlite::Result<CriteriaSetting> {
    Ok(CriteriaSetting {
        id: r.get(0)?,
        criteria: AcceptanceCriteria {
            min_recall: r.get(1)?,
            max_false_reject_rate: r.get(2)?,
            min_defect_samples: r.get::<_, i64>(3)?.max(0) as usize,
            min_good_samples: r.get::<_, i64>(4)?.max(0) as usize,
        },
        set_by: r.get(5)?,
        reason: r.get(6)?,
        created_at_ms: r.get(7)?,
    })
}

impl Store {
    /// Record new acceptance criteria set by `actor` for `reason`, with an audit entry
    /// (`acceptance.criteria`: who, old, new, why), in one transaction. Rates outside 0..=1
    /// and an empty reason are refused with [`StoreError::InvalidValue`]. Returns the row id.
    /// Permissions are the caller's business ([`crate::services::acceptance::set_criteria`]).
    pub fn set_acceptance_criteria(
        &mut self,
        criteria: &AcceptanceCriteria,
        actor: &str,
        reason: &str,
    ) -> Result<i64, StoreError> {
        let invalid = |column: &'static str, value: String| StoreError::InvalidValue {
            path: self.path.clone(),
            table: "acceptance_criteria",
            column,
            value,
        };
        if let Some((column, value)) = criteria.invalid_field() {
            return Err(invalid(column, value.to_string()));
        }
        if reason.trim().is_empty() {
            return Err(invalid("reason", reason.to_string()));
        }
        let old = self.acceptance_criteria()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (acceptance_criteria)"))?;
        let id: i64 = tx
            .query_row(
                "INSERT INTO acceptance_criteria (min_recall, max_false_reject_rate,
                     min_defect_samples, min_good_samples, set_by, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![
                    criteria.min_recall,
                    criteria.max_false_reject_rate,
                    criteria.min_defect_samples as i64,
                    criteria.min_good_samples as i64,
                    actor,
                    reason,
                    now_ms()
                ],
                |r| r.get(0),
            )
            .map_err(sql_err(&self.path, "insert into acceptance_criteria"))?;
        let details = serde_json::json!({
            "setting_id": id,
            "who": actor,
            "old": old.map(|s| s.criteria),
            "new": criteria,
            "why": reason,
        });
        insert_audit(&tx, &self.path, actor, "acceptance.criteria", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (acceptance_criteria)"))?;
        self.anchor_heads();
        Ok(id)
    }

    /// The criteria in force (the newest setting), or `None` when nobody set any (then the
    /// defaults apply).
    pub fn acceptance_criteria(&self) -> Result<Option<CriteriaSetting>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM acceptance_criteria ORDER BY id DESC LIMIT 1");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([], setting).optional())
            .map_err(sql_err(&self.path, "select from acceptance_criteria"))
    }

    /// Every setting of the criteria, newest first.
    pub fn acceptance_criteria_history(&self) -> Result<Vec<CriteriaSetting>, StoreError> {
        let err = || sql_err(&self.path, "select from acceptance_criteria");
        let sql = format!("SELECT {COLUMNS} FROM acceptance_criteria ORDER BY id DESC");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        stmt.query_map([], setting)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_are_a_history_with_audit_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        assert!(store.acceptance_criteria().unwrap().is_none());
        let strict = AcceptanceCriteria {
            min_recall: 0.95,
            ..AcceptanceCriteria::DEFAULT
        };
        store
            .set_acceptance_criteria(&AcceptanceCriteria::DEFAULT, "qc.anna", "start")
            .unwrap();
        store
            .set_acceptance_criteria(&strict, "qc.anna", "foreign bodies")
            .unwrap();
        let now = store.acceptance_criteria().unwrap().unwrap();
        assert_eq!(now.criteria, strict);
        assert_eq!(
            (now.set_by.as_str(), now.reason.as_str()),
            ("qc.anna", "foreign bodies")
        );
        assert_eq!(store.acceptance_criteria_history().unwrap().len(), 2);
        let audit = store.audit_entries(10).unwrap();
        let e = audit
            .iter()
            .find(|e| e.action == "acceptance.criteria")
            .unwrap();
        assert_eq!(e.details["new"]["min_recall"], 0.95);
        assert_eq!(e.details["old"]["min_recall"], 0.9);
        assert_eq!(e.details["why"], "foreign bodies");
        // The history cannot be rewritten.
        assert!(
            store
                .connection()
                .execute("DELETE FROM acceptance_criteria", [])
                .is_err()
        );
    }

    #[test]
    fn bad_rates_and_empty_reasons_are_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let bad = AcceptanceCriteria {
            min_recall: 1.2,
            ..AcceptanceCriteria::DEFAULT
        };
        let e = store.set_acceptance_criteria(&bad, "qc", "x").unwrap_err();
        assert!(e.to_string().contains("min_recall"), "{e}");
        let e = store
            .set_acceptance_criteria(&AcceptanceCriteria::DEFAULT, "qc", "  ")
            .unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        assert!(store.acceptance_criteria().unwrap().is_none());
    }
}
