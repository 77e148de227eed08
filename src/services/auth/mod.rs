//! Signing in and managing users: Argon2id password hashes, the password policy, lockout after
//! repeated failures, the permission check every state-changing service call makes, and the
//! idle lock of a shared line PC. Every failure, lockout, success and user change is written
//! to the audit log with the acting user.
//!
//! Password policy ([`check_password_policy`]), stated once: at least
//! [`MIN_PASSWORD_CHARS`] characters (at most [`MAX_PASSWORD_CHARS`]), not containing the user
//! name, and not all of one character class (lowercase, uppercase, digits, other).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::role::{UserNameProblem, check_user_name, role_list};
use crate::domain::{Actor, Permission, Role};
use crate::store::{NewUser, Store, StoreError, UserRow, now_ms};
use crate::tr;

/// Consecutive failed sign-ins that lock an account.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;

/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Idle time after which a shared line PC locks its session ([`IdleLock::default`]).
pub const DEFAULT_IDLE_LOCK: Duration = Duration::from_secs(15 * 60);

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Longest password accepted (Argon2 takes any length; this bounds the work per attempt).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A signed-in user: what services take to check and record who acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUser {
    /// `users.id`.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Name as people read it (printed with signatures).
    pub display_name: String,
    /// Role at sign-in.
    pub role: Role,
}

impl AuthUser {
    /// Ok when the user's role may do `p`; else the error names the roles that may.
    pub fn require(&self, p: Permission) -> Result<(), PermissionDenied> {
        if self.role.may(p) {
            Ok(())
        } else {
            Err(PermissionDenied {
                user: self.name.clone(),
                role: self.role,
                permission: p,
            })
        }
    }

    /// The name audit entries and records are written under.
    pub fn actor(&self) -> Actor {
        Actor::named(&self.name)
    }
}

/// A role asked to do what it may not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionDenied {
    /// Who asked.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// What they asked to do.
    pub permission: Permission,
}

impl PermissionDenied {
    /// The roles that may do it.
    pub fn allowed(&self) -> Vec<Role> {
        self.permission.roles()
    }
}

impl fmt::Display for PermissionDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tr!(
            "auth-permission-denied",
            user = self.user.as_str(),
            role = self.role.as_str(),
            permission = self.permission.as_str(),
            roles = role_list(&self.allowed())
        ))
    }
}

impl std::error::Error for PermissionDenied {}

/// A password the policy refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    TooLong,
    /// Contains the user name.
    ContainsName,
    /// Only lowercase, only uppercase, only digits or only other characters.
    OneClass,
}

/// Errors of signing in and of user management. Messages come from the catalogue and name the
/// user or value concerned; a wrong password and an unknown name read the same.
#[derive(Debug)]
pub enum AuthError {
    /// Unknown user or wrong password (not told apart, so names cannot be probed).
    BadCredentials(String),
    /// Too many failures: refused until the lock ends.
    Locked {
        /// The user.
        user: String,
        /// Minutes left (rounded up).
        minutes: i64,
    },
    /// The account is disabled.
    Disabled(String),
    /// The role may not do it.
    Denied(PermissionDenied),
    /// A user name that is not acceptable.
    BadName {
        /// The name given.
        name: String,
        /// What is wrong.
        problem: UserNameProblem,
    },
    /// A display name that is empty or too long.
    BadDisplayName(String),
    /// The password policy refuses the password.
    WeakPassword {
        /// Whose password.
        user: String,
        /// What is wrong.
        problem: PasswordProblem,
    },
    /// The first user of a station must be a (non-service) admin, or nobody could add others.
    FirstUserNotAdmin(String),
    /// Users exist, so this needs a signed-in admin.
    SignInNeeded,
    /// A service account cannot be an admin (a headless station manages no users).
    ServiceAdmin(String),
    /// An admin may not disable their own account (there would be no admin left to undo it).
    DisableSelf(String),
    /// No user of that name (for management commands, which need not hide it).
    NoSuchUser(String),
    /// A secret file could not be read.
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Hashing failed, or a stored hash cannot be read.
    Hash {
        /// Whose password.
        user: String,
        /// What argon2 said.
        error: String,
    },
    /// The database failed.
    Store(StoreError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::domain::role::MAX_USER_NAME_CHARS;
        let text = match self {
            AuthError::BadCredentials(user) => tr!("auth-bad-credentials", user = user.as_str()),
            AuthError::Locked { user, minutes } => {
                tr!(
                    "auth-locked",
                    user = user.as_str(),
                    minutes = minutes.to_string()
                )
            }
            AuthError::Disabled(user) => tr!("auth-disabled", user = user.as_str()),
            AuthError::Denied(e) => e.to_string(),
            AuthError::BadName { name, problem } => match problem {
                UserNameProblem::Length => {
                    tr!(
                        "auth-name-length",
                        name = name.as_str(),
                        max = MAX_USER_NAME_CHARS
                    )
                }
                UserNameProblem::Chars => tr!("auth-name-chars", name = name.as_str()),
            },
            AuthError::BadDisplayName(value) => tr!("auth-display-name", value = value.as_str()),
            AuthError::WeakPassword { user, problem } => {
                let user = user.as_str();
                match problem {
                    PasswordProblem::TooShort => {
                        tr!("auth-password-short", user = user, min = MIN_PASSWORD_CHARS)
                    }
                    PasswordProblem::TooLong => {
                        tr!("auth-password-long", user = user, max = MAX_PASSWORD_CHARS)
                    }
                    PasswordProblem::ContainsName => tr!("auth-password-name", user = user),
                    PasswordProblem::OneClass => tr!("auth-password-one-class", user = user),
                }
            }
            AuthError::FirstUserNotAdmin(user) => {
                tr!("auth-first-user-admin", user = user.as_str())
            }
            AuthError::SignInNeeded => tr!("auth-sign-in-needed"),
            AuthError::ServiceAdmin(user) => tr!("auth-service-admin", user = user.as_str()),
            AuthError::DisableSelf(user) => tr!("auth-disable-self", user = user.as_str()),
            AuthError::NoSuchUser(user) => tr!("auth-no-such-user", user = user.as_str()),
            AuthError::SecretFile { path, source } => tr!(
                "auth-secret-file",
                path = path.display().to_string(),
                error = source.to_string()
            ),
            AuthError::Hash { user, error } => {
                tr!("auth-hash", user = user.as_str(), error = error.as_str())
            }
            AuthError::Store(e) => e.to_string(),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuthError::SecretFile { source, .. } => Some(source),
            AuthError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e)
    }
}

impl From<PermissionDenied> for AuthError {
    fn from(e: PermissionDenied) -> Self {
        AuthError::Denied(e)
    }
}

/// Check `password` for `user` against the policy stated in the module documentation.
pub fn check_password_policy(user: &str, password: &str) -> Result<(), AuthError> {
    let weak = |problem| {
        Err(AuthError::WeakPassword {
            user: user.to_string(),
            problem,
        })
    };
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return weak(PasswordProblem::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return weak(PasswordProblem::TooLong);
    }
    if !user.is_empty() && password.to_lowercase().contains(&user.to_lowercase()) {
        return weak(PasswordProblem::ContainsName);
    }
    let class = |c: char| {
        if c.is_lowercase() {
            0
        } else if c.is_uppercase() {
            1
        } else if c.is_numeric() {
            2
        } else {
            3
        }
    };
    let mut classes = password.chars().map(class);
    let first = classes.next();
    if classes.all(|c| Some(c) == first) {
        return weak(PasswordProblem::OneClass);
    }
    Ok(())
}

/// The Argon2id PHC string of `password` (default parameters, a random salt).
pub fn hash_password(user: &str, password: &str) -> Result<String, AuthError> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| AuthError::Hash {
            user: user.to_string(),
            error: e.to_string(),
        })?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash`. A hash that cannot be parsed is an error,
/// not a mismatch (the row is damaged, and saying so beats a puzzling "wrong password").
pub fn verify_password(user: &str, password: &str, hash: &str) -> Result<bool, AuthError> {
    let bad = |e: argon2::password_hash::Error| AuthError::Hash {
        user: user.to_string(),
        error: e.to_string(),
    };
    let parsed = PasswordHash::new(hash).map_err(|e| AuthError::Hash {
        user: user.to_string(),
        error: e.to_string(),
    })?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(bad(e)),
    }
}

/// A hash of nothing anybody types, verified against when the name is unknown so an unknown
/// name takes as long as a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_password("-", "\u{0}not a password\u{0}").ok());

/// Sign `name` in with `password` now (see [`authenticate_at`]).
pub fn authenticate(store: &mut Store, name: &str, password: &str) -> Result<AuthUser, AuthError> {
    authenticate_at(store, name, password, now_ms())
}

/// Sign `name` in with `password` at `now_ms` (unix ms; explicit for the tests). Refuses an
/// unknown name or wrong password, a disabled account and a locked one; each refusal is
/// audited (`auth.failure` with the reason), and the [`MAX_FAILED_ATTEMPTS`]-th consecutive
/// failure locks the account for [`LOCKOUT`] (`auth.lockout`). A success is `auth.login`.
pub fn authenticate_at(
    store: &mut Store,
    name: &str,
    password: &str,
    now_ms: i64,
) -> Result<AuthUser, AuthError> {
    let Some(user) = store.user_by_name(name)? else {
        if let Some(dummy) = DUMMY_HASH.as_deref() {
            let _ = verify_password(name, password, dummy);
        }
        // The typed name is recorded as the actor: who tried is all there is to know.
        let actor = if name.trim().is_empty() {
            "unknown"
        } else {
            name
        };
        let details = serde_json::json!({ "user": name, "reason": "unknown user" });
        store.audit(actor, "auth.failure", details)?;
        return Err(AuthError::BadCredentials(name.to_string()));
    };
    let fail_plain = |store: &mut Store, reason: &str| -> Result<(), AuthError> {
        let details = serde_json::json!({ "user": name, "reason": reason });
        store.audit(name, "auth.failure", details)?;
        Ok(())
    };
    if user.disabled {
        fail_plain(store, "disabled")?;
        return Err(AuthError::Disabled(user.name));
    }
    if let Some(until) = user.locked_until_ms.filter(|&t| t > now_ms) {
        fail_plain(store, "locked")?;
        return Err(locked(&user.name, until, now_ms));
    }
    if !verify_password(&user.name, password, &user.password_hash)? {
        let lock_ms = i64::try_from(LOCKOUT.as_millis()).unwrap_or(i64::MAX);
        let out = store.record_login_failure(
            &user.name,
            "wrong password",
            now_ms,
            MAX_FAILED_ATTEMPTS,
            lock_ms,
        )?;
        return Err(match out.locked_until_ms {
            Some(until) => locked(&user.name, until, now_ms),
            None => AuthError::BadCredentials(user.name),
        });
    }
    store.record_login_success(&user.name)?;
    Ok(AuthUser {
        id: user.id,
        name: user.name,
        display_name: user.display_name,
        role: user.role,
    })
}

fn locked(user: &str, until_ms: i64, now_ms: i64) -> AuthError {
    AuthError::Locked {
        user: user.to_string(),
        minutes: ((until_ms - now_ms).max(0) + 59_999) / 60_000,
    }
}

/// A user to create through [`create_user`].
#[derive(Clone, Debug)]
pub struct NewAccount<'a> {
    /// Login name.
    pub name: &'a str,
    /// Name as people read it (the login name when None).
    pub display_name: Option<&'a str>,
    /// Role.
    pub role: Role,
    /// Service account of a headless station.
    pub service: bool,
}

/// Create a user with `password`. The first user of a station is created by nobody (there is
/// nobody yet) and must be a non-service admin; after that `actor` must be signed in and may
/// [`Permission::ManageUsers`]. Audited as `user.create`.
pub fn create_user(
    store: &mut Store,
    actor: Option<&AuthUser>,
    new: &NewAccount<'_>,
    password: &str,
) -> Result<UserRow, AuthError> {
    check_user_name(new.name).map_err(|problem| AuthError::BadName {
        name: new.name.to_string(),
        problem,
    })?;
    let display_name = new.display_name.unwrap_or(new.name).trim();
    if display_name.is_empty() || display_name.chars().count() > 128 {
        return Err(AuthError::BadDisplayName(display_name.to_string()));
    }
    if new.service && new.role == Role::Admin {
        return Err(AuthError::ServiceAdmin(new.name.to_string()));
    }
    let actor_name = if store.user_count()? == 0 {
        if new.role != Role::Admin {
            return Err(AuthError::FirstUserNotAdmin(new.name.to_string()));
        }
        // The first admin creates itself: nobody else exists to be named.
        new.name.to_string()
    } else {
        let actor = actor.ok_or(AuthError::SignInNeeded)?;
        actor.require(Permission::ManageUsers)?;
        actor.name.clone()
    };
    check_password_policy(new.name, password)?;
    let hash = hash_password(new.name, password)?;
    let row = store.insert_user(
        &actor_name,
        &NewUser {
            name: new.name,
            display_name,
            role: new.role,
            password_hash: &hash,
            service: new.service,
        },
    )?;
    Ok(row)
}

/// Disable `name` (it can no longer sign in; its records keep its name). Needs
/// [`Permission::ManageUsers`]; an admin cannot disable themselves. Audited as `user.disable`.
pub fn disable_user(store: &mut Store, actor: &AuthUser, name: &str) -> Result<(), AuthError> {
    actor.require(Permission::ManageUsers)?;
    if actor.name == name {
        return Err(AuthError::DisableSelf(name.to_string()));
    }
    if store.user_by_name(name)?.is_none() {
        return Err(AuthError::NoSuchUser(name.to_string()));
    }
    store.set_user_disabled(&actor.name, name, true)?;
    Ok(())
}

/// Set a new password for `name` (policy checked; failures and lock cleared). Users may
/// change their own; anyone else's needs [`Permission::ManageUsers`]. Audited as
/// `user.passwd`.
pub fn change_password(
    store: &mut Store,
    actor: &AuthUser,
    name: &str,
    password: &str,
) -> Result<(), AuthError> {
    if actor.name != name {
        actor.require(Permission::ManageUsers)?;
    }
    if store.user_by_name(name)?.is_none() {
        return Err(AuthError::NoSuchUser(name.to_string()));
    }
    check_password_policy(name, password)?;
    let hash = hash_password(name, password)?;
    store.set_user_password(&actor.name, name, &hash)?;
    Ok(())
}

/// A password (or service account secret) from a file: its first line, without the line end.
/// For headless stations and scripts; the file should be readable only by the service user.
pub fn password_from_file(path: &Path) -> Result<String, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::SecretFile {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Locks a shared line PC's session after a time without input. Pure bookkeeping over
/// instants the caller passes (the GUI's frame time; the tests' made-up ones).
#[derive(Clone, Copy, Debug)]
pub struct IdleLock {
    timeout: Duration,
    last_activity: Option<Instant>,
}

impl Default for IdleLock {
    /// [`DEFAULT_IDLE_LOCK`] (15 minutes), no activity seen yet.
    fn default() -> Self {
        Self::new(DEFAULT_IDLE_LOCK)
    }
}

impl IdleLock {
    /// Lock after `timeout` without input (a zero timeout never locks: idle lock off).
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            last_activity: None,
        }
    }

    /// The idle time that locks.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Input was seen at `now` (a key, a click, a sign-in).
    pub fn touch(&mut self, now: Instant) {
        self.last_activity = Some(self.last_activity.map_or(now, |t| t.max(now)));
    }

    /// Whether the session is locked at `now`: no input for the timeout or longer, or none
    /// ever (nobody signed in, nothing to keep open).
    pub fn is_locked(&self, now: Instant) -> bool {
        match self.last_activity {
            None => true,
            Some(_) if self.timeout.is_zero() => false,
            Some(t) => now.saturating_duration_since(t) >= self.timeout,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod testing;
