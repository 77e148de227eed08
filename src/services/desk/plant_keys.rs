//! The plant keys on the Line panel: this PC's public key (to give to the stations' admins)
//! and the keys this station trusts to command it; trusting and revoking are an admin's,
//! through [`crate::services::plant_trust`], audited.

use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker};
use crate::domain::Permission;
use crate::services::plant_trust;
use crate::store::plant_key::fingerprint;

impl Worker {
    /// Send this PC's key (made on first use) and the trusted keys.
    pub(super) fn plant_keys(&mut self) -> Result<(), DeskError> {
        let store = self.store()?;
        let own = store.plant_key()?.public_key();
        let trusted = store.trusted_plant_keys()?;
        self.sink.emit(Event::PlantKeys { own, trusted });
        Ok(())
    }

    pub(super) fn trust_plant_key(&mut self, name: &str, key: &str) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ManageSettings)?;
        let k = plant_trust::trust(self.store()?, &user, name, key)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        self.plant_keys()?;
        let said = crate::tr!(
            "desk-plant-key-trusted",
            name = k.name.as_str(),
            fingerprint = fingerprint(&k.key)
        );
        self.sink.status(Topic::PlantKeys, Status::Done(said));
        Ok(())
    }

    pub(super) fn revoke_plant_key(&mut self, name: &str) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ManageSettings)?;
        let k = plant_trust::revoke(self.store()?, &user, name)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        self.plant_keys()?;
        let said = crate::tr!(
            "desk-plant-key-revoked",
            name = k.name.as_str(),
            fingerprint = fingerprint(&k.key)
        );
        self.sink.status(Topic::PlantKeys, Status::Done(said));
        Ok(())
    }
}
