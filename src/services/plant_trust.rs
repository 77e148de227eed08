//! Which plant keys a station trusts to command it (see `store::plant_key`): an admin's
//! setting, audited. A key is given as its base64 public key, as `foodqc keys show` prints it
//! on the deciding PC.

use crate::domain::Permission;
use crate::services::auth::{AuthUser, PermissionDenied};
use crate::store::plant_key::{TrustedKey, parse_public_key};
use crate::store::{Store, StoreError};

/// Why a key could not be trusted or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The user's role may not change station settings.
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
    /// The text is not a public key (base64 of 32 bytes).
    #[error("{}", crate::tr!("plant-trust-bad-key", key = .0.as_str()))]
    BadKey(String),
    /// No trusted key has this name.
    #[error("{}", crate::tr!("plant-trust-no-such", name = .0.as_str()))]
    NoSuchKey(String),
    /// The database refused (a name or key trusted already is named).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Trust public key `key` as `name` at this station. Needs [`Permission::ManageSettings`];
/// audited as `plant.key.trust`.
pub fn trust(
    store: &mut Store,
    user: &AuthUser,
    name: &str,
    key: &str,
) -> Result<TrustedKey, TrustError> {
    user.require(Permission::ManageSettings)?;
    let key = parse_public_key(key).ok_or_else(|| TrustError::BadKey(key.trim().to_string()))?;
    Ok(store.trust_plant_key(name, &key, &user.name)?)
}

/// Stop trusting key `name`. Needs [`Permission::ManageSettings`]; audited as
/// `plant.key.revoke`.
pub fn revoke(store: &mut Store, user: &AuthUser, name: &str) -> Result<TrustedKey, TrustError> {
    user.require(Permission::ManageSettings)?;
    store
        .revoke_plant_key(name, &user.name)?
        .ok_or_else(|| TrustError::NoSuchKey(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::services::auth::testing::{signed_in, station_with};

    #[test]
    fn an_admin_trusts_and_revokes_a_key_audited_and_others_may_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = station_with(dir.path(), &[("qc.anna", Role::QcManager)]);
        let admin = signed_in(&mut store, "admin");
        let qc = signed_in(&mut store, "qc.anna");
        let qc_pc = tempfile::tempdir().unwrap();
        let key = crate::store::plant_key::PlantKey::load_or_create(&qc_pc.path().join("k"))
            .unwrap()
            .public_key();
        assert!(matches!(
            trust(&mut store, &qc, "calidad-pc", &key),
            Err(TrustError::Denied(_))
        ));
        let e = trust(&mut store, &admin, "calidad-pc", "AAAA").unwrap_err();
        assert!(e.to_string().contains("AAAA"), "{e}");
        let t = trust(&mut store, &admin, " calidad-pc ", &format!(" {key}\n")).unwrap();
        assert_eq!(
            (t.name.as_str(), t.key.as_str()),
            ("calidad-pc", key.as_str())
        );
        // The same key or name twice is named.
        let e = trust(&mut store, &admin, "otra", &key).unwrap_err();
        assert!(e.to_string().contains("calidad-pc"), "{e}");
        assert_eq!(store.trusted_plant_keys().unwrap(), vec![t.clone()]);
        assert!(matches!(
            revoke(&mut store, &admin, "nadie"),
            Err(TrustError::NoSuchKey(_))
        ));
        assert!(matches!(
            revoke(&mut store, &qc, "calidad-pc"),
            Err(TrustError::Denied(_))
        ));
        assert_eq!(revoke(&mut store, &admin, "calidad-pc").unwrap(), t);
        assert!(store.trusted_plant_keys().unwrap().is_empty());
        let actions: Vec<(String, String)> = store
            .audit_entries(100)
            .unwrap()
            .into_iter()
            .filter(|e| e.action.starts_with("plant.key"))
            .map(|e| (e.actor, e.action))
            .collect();
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(actions.contains(&("admin".into(), "plant.key.trust".into())));
        assert!(actions.contains(&("admin".into(), "plant.key.revoke".into())));
    }
}
