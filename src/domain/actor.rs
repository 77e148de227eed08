//! Who did something: the name written into labels, threshold settings, lot decisions and
//! the audit log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The person (or process) an action is recorded under. Resolved once per process, from an
/// explicit name or the operating-system user, and then passed along: an audit record never
/// guesses its actor at the place it is written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(String);

/// The actor recorded when neither a name nor an OS user is known.
pub const UNKNOWN_ACTOR: &str = "unknown";

impl Actor {
    /// The given name when it is not blank, else the OS user ([`Actor::os_user`]).
    pub fn resolve(explicit: Option<&str>) -> Self {
        match explicit.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => Self(name.to_string()),
            None => Self::os_user(),
        }
    }

    /// The operating-system user running foodqc (`USER`, else `USERNAME`), or
    /// [`UNKNOWN_ACTOR`] when neither is set.
    pub fn os_user() -> Self {
        let user = ["USER", "USERNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .map(|u| u.trim().to_string())
            .find(|u| !u.is_empty());
        Self(user.unwrap_or_else(|| UNKNOWN_ACTOR.to_string()))
    }

    /// A named actor for work the program does by itself (e.g. `system`, a station name).
    pub fn named(name: &str) -> Self {
        Self(name.trim().to_string())
    }

    /// The name as recorded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Actor {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_name_wins_and_blank_falls_back_to_the_os_user() {
        assert_eq!(Actor::resolve(Some(" qc.anna ")).as_str(), "qc.anna");
        assert_eq!(Actor::resolve(Some("  ")), Actor::os_user());
        assert!(!Actor::os_user().as_str().is_empty());
    }
}
