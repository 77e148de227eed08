//! Electronic signatures as people make them: the signer re-enters their password (checked
//! like a sign-in, so wrong guesses count towards the lockout), gives a reason, and the
//! signature is bound to a hash of the record's content. Which permission an action needs
//! and which meaning it carries is [`SignedAction`]'s to say.

use std::fmt;

use crate::domain::signature::MAX_REASON_CHARS;
use crate::domain::{Permission, SignedAction};
use crate::services::auth::{self, AuthError, AuthUser, PermissionDenied};
use crate::store::{NewSignature, Store, StoreError};
use crate::tr;

/// What the signer types when signing: the password again and the reason.
#[derive(Clone, Default)]
pub struct SignatureInput {
    /// The signer's password, re-entered.
    pub password: String,
    /// Why (required; kept with the signature).
    pub reason: String,
}

impl fmt::Debug for SignatureInput {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureInput")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// Why a signature was not made.
#[derive(Debug)]
pub enum SignError {
    /// The signer's role may not take this action (or sign QC records at all).
    Denied(PermissionDenied),
    /// The password was wrong, or the account is locked or disabled (boxed: the error
    /// travels inside every signed service's error).
    Auth(Box<AuthError>),
    /// No reason given.
    NoReason(SignedAction),
    /// The reason is longer than [`MAX_REASON_CHARS`].
    ReasonTooLong(SignedAction),
    /// The database failed.
    Store(StoreError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Denied(e) => e.fmt(f),
            SignError::Auth(e) => e.fmt(f),
            SignError::NoReason(a) => f.write_str(&tr!("sign-no-reason", action = a.as_str())),
            SignError::ReasonTooLong(a) => f.write_str(&tr!(
                "sign-reason-long",
                action = a.as_str(),
                max = MAX_REASON_CHARS
            )),
            SignError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SignError {}

impl From<StoreError> for SignError {
    fn from(e: StoreError) -> Self {
        SignError::Store(e)
    }
}

impl From<PermissionDenied> for SignError {
    fn from(e: PermissionDenied) -> Self {
        SignError::Denied(e)
    }
}

impl From<AuthError> for SignError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Denied(d) => SignError::Denied(d),
            other => SignError::Auth(Box::new(other)),
        }
    }
}

/// Check that `user` may take `action`, that a reason is given, and re-authenticate them
/// with the re-entered password; then the signature to write for `record_id` whose content
/// hashes to `content_hash`. Nothing is written here: the caller stores the signature with
/// the change it approves, in one transaction.
pub fn prepare(
    store: &mut Store,
    user: &AuthUser,
    action: SignedAction,
    record_id: &str,
    content_hash: String,
    input: &SignatureInput,
) -> Result<NewSignature, SignError> {
    user.require(action.permission())?;
    user.require(Permission::SignQcRecord)?;
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(SignError::NoReason(action));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(SignError::ReasonTooLong(action));
    }
    // The signer proves again who they are; a session left open is not a signature.
    let again = auth::authenticate(store, &user.name, &input.password)?;
    if again.id != user.id {
        return Err(AuthError::BadCredentials(user.name.clone()).into());
    }
    Ok(NewSignature {
        user_id: again.id,
        signer: again.name,
        display_name: again.display_name,
        // The role as it is now, not as it was at sign-in.
        role: again.role,
        action,
        record_id: record_id.to_string(),
        content_hash,
        reason: reason.to_string(),
    })
}

/// blake3 (hex) of a record's canonical JSON: what a signature on it is bound to.
pub fn content_hash(value: &serde_json::Value) -> String {
    // serde_json writes object keys sorted (no `preserve_order`), so equal content hashes
    // equally.
    blake3::hash(value.to_string().as_bytes())
        .to_hex()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    use crate::services::auth::testing::{PW, signed_in, station_with};

    fn input(password: &str, reason: &str) -> SignatureInput {
        SignatureInput {
            password: password.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_signature_needs_the_role_a_reason_and_the_password_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = station_with(
            dir.path(),
            &[("qc.anna", Role::QcManager), ("tec.luis", Role::Technician)],
        );
        let qc = signed_in(&mut store, "qc.anna");
        let tech = signed_in(&mut store, "tec.luis");
        let admin = signed_in(&mut store, "admin");
        let hash = content_hash(&serde_json::json!({"code": "L42"}));
        let hold = SignedAction::HoldLot;
        let ok = prepare(
            &mut store,
            &qc,
            hold,
            "L42",
            hash.clone(),
            &input(PW, "mould"),
        );
        let sig = ok.unwrap();
        assert_eq!(
            (sig.signer.as_str(), sig.role),
            ("qc.anna", Role::QcManager)
        );
        for who in [&tech, &admin] {
            let e = prepare(&mut store, who, hold, "L42", hash.clone(), &input(PW, "x"));
            assert!(matches!(e, Err(SignError::Denied(_))), "{}", who.name);
        }
        let e = prepare(&mut store, &qc, hold, "L42", hash.clone(), &input(PW, "  "));
        assert!(matches!(e, Err(SignError::NoReason(_))));
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        let e = prepare(
            &mut store,
            &qc,
            hold,
            "L42",
            hash.clone(),
            &input(PW, &long),
        );
        assert!(matches!(e, Err(SignError::ReasonTooLong(_))));
        // Wrong passwords count towards the lockout like wrong sign-ins.
        for _ in 0..auth::MAX_FAILED_ATTEMPTS {
            let e = prepare(
                &mut store,
                &qc,
                hold,
                "L42",
                hash.clone(),
                &input("nope", "x"),
            );
            assert!(matches!(e, Err(SignError::Auth(_))));
        }
        let e = prepare(&mut store, &qc, hold, "L42", hash, &input(PW, "x"));
        assert!(
            matches!(&e, Err(SignError::Auth(a)) if matches!(**a, AuthError::Locked { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn equal_content_hashes_equally_whatever_the_key_order() {
        let a = serde_json::json!({"a": 1, "b": [1, 2]});
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap();
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&serde_json::json!({"a": 2})));
        assert_eq!(content_hash(&a).len(), 64);
    }
}
