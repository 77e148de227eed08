//! The station's users: names, roles, password hashes, failed attempts and locks.
//!
//! The store keeps rows and writes each change together with its audit entry (one
//! transaction); hashing, the password policy and the lockout rule are the auth service's
//! (`crate::services::auth`). No password ever reaches this module, only its PHC hash.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::domain::Role;

use super::audit::insert_audit;
use super::{Store, StoreError, now_ms, sql_err};

/// One row of `users`. Serializes without the password hash (for `foodqc user list --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Login name (unique, see [`crate::domain::role::check_user_name`]).
    pub name: String,
    /// Name as people read it ("Ana Quispe").
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// The Argon2id PHC string (`$argon2id$v=19$...`).
    #[serde(skip)]
    pub password_hash: String,
    /// A service account of a headless station (password from a file or environment).
    pub service: bool,
    /// Disabled users cannot sign in; they are never deleted.
    pub disabled: bool,
    /// Consecutive failed sign-ins since the last success or lock.
    pub failed_attempts: u32,
    /// Refused until this time (unix ms), after too many failures.
    pub locked_until_ms: Option<i64>,
    /// When the user was created (unix ms).
    pub created_at_ms: i64,
    /// When the password was last set (unix ms).
    pub password_changed_at_ms: i64,
}

/// A user to create (the hash is made by the caller).
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    /// Login name.
    pub name: &'a str,
    /// Name as people read it.
    pub display_name: &'a str,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
    /// Service account.
    pub service: bool,
}

/// What a failed sign-in left behind (see [`Store::record_login_failure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureOutcome {
    /// Consecutive failures counted, this one included.
    pub attempts: u32,
    /// Set when this failure locked the account: until when (unix ms).
    pub locked_until_ms: Option<i64>,
}

const USER_COLUMNS: &str = "id, name, display_name, role, password_hash, service, disabled, \
     failed_attempts, locked_until, created_at, password_changed_at";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<(UserRow, String)> {
    let role: String = r.get(3)?;
    Ok((
        UserRow {
            id: r.get(0)?,
            name: r.get(1)?,
            display_name: r.get(2)?,
            // Checked below, where the error can name the table and value.
            role: Role::Admin,
            password_hash: r.get(4)?,
            service: r.get(5)?,
            disabled: r.get(6)?,
            failed_attempts: r.get(7)?,
            locked_until_ms: r.get(8)?,
            created_at_ms: r.get(9)?,
            password_changed_at_ms: r.get(10)?,
        },
        role,
    ))
}

impl Store {
    fn parse_role(&self, (mut user, role): (UserRow, String)) -> Result<UserRow, StoreError> {
        user.role = role.parse().map_err(|_| StoreError::InvalidValue {
            path: self.path.clone(),
            table: "users",
            column: "role",
            value: role,
        })?;
        Ok(user)
    }

    /// How many users exist (disabled ones included): 0 on a station nobody set up yet.
    pub fn user_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .map_err(sql_err(&self.path, "count users"))
    }

    /// The user called `name`, if any.
    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
                [name],
                user_from_row,
            )
            .optional()
            .map_err(sql_err(&self.path, "select from users"))?;
        raw.map(|r| self.parse_role(r)).transpose()
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let err = || sql_err(&self.path, "select from users");
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
            .map_err(err())?;
        let raw = stmt
            .query_map([], user_from_row)
            .map_err(err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err())?;
        raw.into_iter().map(|r| self.parse_role(r)).collect()
    }

    /// Create a user and audit it (`user.create`) under `actor`, in one transaction. A name
    /// already taken is a [`StoreError::Conflict`] naming it.
    pub fn insert_user(&mut self, actor: &str, new: &NewUser<'_>) -> Result<UserRow, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err(&path, "begin transaction"))?;
        let taken: bool = tx
            .query_row(
                "SELECT 1 FROM users WHERE name = ?1",
                [new.name],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql_err(&path, "select from users"))?
            .is_some();
        if taken {
            return Err(StoreError::Conflict {
                path,
                what: crate::tr!("store-user-exists", user = new.name),
            });
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO users (name, display_name, role, password_hash, service, created_at,
                                password_changed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                new.name,
                new.display_name.trim(),
                new.role.as_str(),
                new.password_hash,
                new.service,
                now
            ],
        )
        .map_err(sql_err(&path, "insert into users"))?;
        let details = serde_json::json!({
            "user": new.name,
            "display_name": new.display_name.trim(),
            "role": new.role.as_str(),
            "service": new.service,
        });
        insert_audit(&tx, &path, actor, "user.create", &details)?;
        tx.commit().map_err(sql_err(&path, "commit user"))?;
        self.user_by_name(new.name)?.ok_or(StoreError::Conflict {
            path: self.path.clone(),
            what: format!("user {:?} vanished after it was created", new.name),
        })
    }

    /// Disable (or enable again) the user `name`, audited as `user.disable` / `user.enable`.
    pub fn set_user_disabled(
        &mut self,
        actor: &str,
        name: &str,
        disabled: bool,
    ) -> Result<(), StoreError> {
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.update_user(
            actor,
            name,
            action,
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            &[&disabled],
            serde_json::json!({ "user": name }),
        )
    }

    /// Replace the password hash of `name` (which also clears failures and a lock), audited
    /// as `user.passwd` (the hash is not written to the audit log).
    pub fn set_user_password(
        &mut self,
        actor: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.update_user(
            actor,
            name,
            "user.passwd",
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3,
                              failed_attempts = 0, locked_until = NULL
             WHERE name = ?1",
            &[&password_hash, &now_ms()],
            serde_json::json!({ "user": name }),
        )
    }

    /// Count a failed sign-in of `name` at `now_ms`; the `max_failures`-th consecutive one
    /// locks the account for `lock_ms` and starts the count again. Audited as
    /// `auth.failure` (with `reason`), plus `auth.lockout` when it locks. `name` must exist.
    pub fn record_login_failure(
        &mut self,
        name: &str,
        reason: &str,
        now_ms: i64,
        max_failures: u32,
        lock_ms: i64,
    ) -> Result<FailureOutcome, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err(&path, "begin transaction"))?;
        let counted: Option<(u32, Option<i64>)> = tx
            .query_row(
                "UPDATE users SET
                     locked_until = CASE WHEN failed_attempts + 1 >= ?2 THEN ?3 + ?4
                                         ELSE locked_until END,
                     failed_attempts = CASE WHEN failed_attempts + 1 >= ?2 THEN 0
                                            ELSE failed_attempts + 1 END
                 WHERE name = ?1
                 RETURNING failed_attempts, locked_until",
                params![name, max_failures, now_ms, lock_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql_err(&path, "update users"))?;
        let Some((left, locked_until)) = counted else {
            return Err(StoreError::Conflict {
                path,
                what: crate::tr!("store-no-such-user", user = name),
            });
        };
        // The count restarts at 0 when the account locks; the failure that locked it is the
        // `max_failures`-th.
        let just_locked = left == 0;
        let attempts = if just_locked { max_failures } else { left };
        let details = serde_json::json!({
            "user": name,
            "reason": reason,
            "attempts": attempts,
        });
        insert_audit(&tx, &path, name, "auth.failure", &details)?;
        if just_locked {
            let details = serde_json::json!({
                "user": name,
                "attempts": attempts,
                "locked_until_ms": locked_until,
            });
            insert_audit(&tx, &path, name, "auth.lockout", &details)?;
        }
        tx.commit()
            .map_err(sql_err(&path, "commit login failure"))?;
        Ok(FailureOutcome {
            attempts,
            locked_until_ms: locked_until.filter(|_| just_locked),
        })
    }

    /// A successful sign-in of `name`: failures and lock cleared, audited as `auth.login`.
    pub fn record_login_success(&mut self, name: &str) -> Result<(), StoreError> {
        self.update_user(
            name,
            name,
            "auth.login",
            "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE name = ?1",
            &[],
            serde_json::json!({ "user": name }),
        )
    }

    /// Run one `UPDATE users ... WHERE name = ?1` (more parameters from ?2 on) and its audit
    /// entry in one transaction; no such user is a [`StoreError::Conflict`] naming it.
    fn update_user(
        &mut self,
        actor: &str,
        name: &str,
        action: &str,
        sql: &str,
        more: &[&dyn rusqlite::ToSql],
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err(&path, "begin transaction"))?;
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&name];
        all.extend_from_slice(more);
        let changed = tx
            .execute(sql, all.as_slice())
            .map_err(sql_err(&path, "update users"))?;
        if changed == 0 {
            return Err(StoreError::Conflict {
                path,
                what: crate::tr!("store-no-such-user", user = name),
            });
        }
        insert_audit(&tx, &path, actor, action, &details)?;
        tx.commit().map_err(sql_err(&path, "commit users"))
    }
}

/// Each user's language preference (a language code such as `es`).
impl Store {
    /// The language user `user_id` last chose in the window, if any.
    pub fn user_language(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT language FROM user_preferences WHERE user_id = ?1",
                [user_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(sql_err(&self.path, "select from user_preferences"))
    }

    /// Remember `language` (a code such as `es`) as user `user_id`'s language.
    pub fn set_user_language(&self, user_id: i64, language: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO user_preferences (user_id, language) VALUES (?1, ?2)
                 ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
                params![user_id, language],
            )
            .map(drop)
            .map_err(sql_err(&self.path, "update user_preferences"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        (dir, store)
    }

    fn anna() -> NewUser<'static> {
        NewUser {
            name: "qc.anna",
            display_name: " Ana Quispe ",
            role: Role::QcManager,
            password_hash: HASH,
            service: false,
        }
    }

    #[test]
    fn users_are_created_listed_and_audited() {
        let (_dir, mut store) = store();
        assert_eq!(store.user_count().unwrap(), 0);
        let row = store.insert_user("admin", &anna()).unwrap();
        assert_eq!(row.display_name, "Ana Quispe");
        assert_eq!(row.role, Role::QcManager);
        assert_eq!(store.users().unwrap(), vec![row.clone()]);
        assert!(matches!(
            store.insert_user("admin", &anna()),
            Err(StoreError::Conflict { what, .. }) if what.contains("qc.anna")
        ));
        let audit = store.audit_entries(10).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (audit[0].actor.as_str(), audit[0].action.as_str()),
            ("admin", "user.create")
        );
        // The JSON view has no hash.
        let json = serde_json::to_string(&row).unwrap();
        assert!(!json.contains("argon2"), "{json}");
    }

    #[test]
    fn the_schema_refuses_bad_rows_and_deletes() {
        let (_dir, mut store) = store();
        for bad in [
            NewUser {
                name: "Ana",
                ..anna()
            },
            NewUser {
                password_hash: "plain text",
                ..anna()
            },
            NewUser {
                display_name: "  ",
                ..anna()
            },
        ] {
            assert!(store.insert_user("admin", &bad).is_err(), "{bad:?}");
        }
        store.insert_user("admin", &anna()).unwrap();
        assert!(store.connection().execute("DELETE FROM users", []).is_err());
        assert!(
            store
                .connection()
                .execute("UPDATE users SET role = 'boss'", [])
                .is_err()
        );
    }

    #[test]
    fn failures_lock_after_the_limit_and_success_clears() {
        let (_dir, mut store) = store();
        store.insert_user("admin", &anna()).unwrap();
        for i in 1..=4 {
            let out = store
                .record_login_failure("qc.anna", "wrong password", 1_000, 5, 900_000)
                .unwrap();
            assert_eq!(
                out,
                FailureOutcome {
                    attempts: i,
                    locked_until_ms: None
                }
            );
        }
        let out = store
            .record_login_failure("qc.anna", "wrong password", 1_000, 5, 900_000)
            .unwrap();
        assert_eq!(out.attempts, 5);
        assert_eq!(out.locked_until_ms, Some(901_000));
        let row = store.user_by_name("qc.anna").unwrap().unwrap();
        assert_eq!(
            (row.failed_attempts, row.locked_until_ms),
            (0, Some(901_000))
        );
        store.record_login_success("qc.anna").unwrap();
        let row = store.user_by_name("qc.anna").unwrap().unwrap();
        assert_eq!((row.failed_attempts, row.locked_until_ms), (0, None));
        assert!(store.record_login_failure("nobody", "x", 0, 5, 1).is_err());
    }
}
