//! Test fixtures: a station with users, and signature input.

use std::path::Path;

use super::{AuthUser, NewAccount, authenticate, create_user};
use crate::domain::Role;
use crate::services::signing::SignatureInput;
use crate::store::Store;

/// Every fixture user's password.
pub(crate) const PW: &str = "Quality-2026";

/// A station database in `dir` with an admin (`admin`) and `users`, each with [`PW`].
pub(crate) fn station_with(dir: &Path, users: &[(&str, Role)]) -> Store {
    station_at(&dir.join("db.sqlite"), users)
}

/// The database `db` with an admin (`admin`) and `users`, each with [`PW`].
pub(crate) fn station_at(db: &Path, users: &[(&str, Role)]) -> Store {
    let mut store = Store::open(db).unwrap();
    let acc = |name, role| NewAccount {
        name,
        display_name: None,
        role,
        service: false,
    };
    create_user(&mut store, None, &acc("admin", Role::Admin), PW).unwrap();
    let admin = authenticate(&mut store, "admin", PW).unwrap();
    for (name, role) in users {
        create_user(&mut store, Some(&admin), &acc(name, *role), PW).unwrap();
    }
    store
}

/// `name` signed in with [`PW`].
pub(crate) fn signed_in(store: &mut Store, name: &str) -> AuthUser {
    authenticate(store, name, PW).unwrap()
}

/// A signature with [`PW`] and `reason`.
pub(crate) fn signed(reason: &str) -> SignatureInput {
    SignatureInput {
        password: PW.into(),
        reason: reason.into(),
    }
}
