//! Who is signed in at the window. The worker keeps the session (the window only shows it)
//! and every state-changing command asks it for a user whose role may: a window that forgot
//! to disable a button still cannot change anything.

use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker};
use crate::domain::{Permission, Role};
use crate::services::auth::{self, AuthUser, NewAccount};
use crate::tr;

impl Worker {
    /// The signed-in user, when their role may `p`; else why not.
    pub(super) fn user_for(&self, p: Permission) -> Result<AuthUser, DeskError> {
        let user = self
            .session
            .clone()
            .ok_or_else(|| DeskError::Other(tr!("desk-sign-in-first", roles = role_names(p))))?;
        user.require(p)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        Ok(user)
    }

    /// Sign `name` in (replacing whoever was signed in).
    pub(super) fn sign_in(&mut self, name: &str, password: &str) -> Result<(), DeskError> {
        let store = self.store()?;
        match auth::authenticate(store, name.trim(), password) {
            Ok(user) => self.start_session(user),
            Err(e) => {
                self.session = None;
                self.sink.emit(Event::Session(None));
                Err(DeskError::Other(e.to_string()))
            }
        }
    }

    /// End the session (`idle`: the idle lock ended it); audited as `auth.logout`.
    pub(super) fn sign_out(&mut self, idle: bool) -> Result<(), DeskError> {
        if let Some(user) = self.session.take() {
            let details = serde_json::json!({ "user": user.name, "idle": idle });
            self.store()?.audit(&user.name, "auth.logout", details)?;
            let msg = if idle {
                tr!("desk-idle-locked", user = user.name.as_str())
            } else {
                tr!("desk-signed-out", user = user.name.as_str())
            };
            self.sink.status(Topic::Session, Status::Done(msg));
        }
        self.sink.emit(Event::Session(None));
        Ok(())
    }

    /// Create the station's first user, an admin, and sign them in. Only while no user
    /// exists; the auth service refuses it otherwise.
    pub(super) fn create_first_admin(
        &mut self,
        name: &str,
        display_name: &str,
        password: &str,
    ) -> Result<(), DeskError> {
        let store = self.store()?;
        let account = NewAccount {
            name: name.trim(),
            display_name: Some(display_name).filter(|d| !d.trim().is_empty()),
            role: Role::Admin,
            service: false,
        };
        auth::create_user(store, None, &account, password)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        let user = auth::authenticate(store, name.trim(), password)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        self.start_session(user)?;
        self.publish_snapshot();
        Ok(())
    }

    fn start_session(&mut self, user: AuthUser) -> Result<(), DeskError> {
        // The window and this worker speak the user's language from now on, when they chose
        // one before.
        let language = self.store()?.user_language(user.id)?;
        match language.as_deref().map(str::parse::<crate::i18n::Language>) {
            Some(Ok(lang)) => {
                crate::i18n::set_thread_language(Some(lang));
                self.sink.emit(Event::UserLanguage(lang));
            }
            Some(Err(e)) => tracing::warn!("user {}: stored language: {e}", user.name),
            None => {}
        }
        let msg = tr!(
            "desk-signed-in",
            user = user.display_name.as_str(),
            role = user.role.as_str()
        );
        self.session = Some(user.clone());
        self.sink.emit(Event::Session(Some(user)));
        self.sink.status(Topic::Session, Status::Done(msg));
        Ok(())
    }

    /// The worker speaks `lang` from now on; a signed-in user keeps it as their language.
    pub(super) fn set_language(&mut self, lang: crate::i18n::Language) {
        crate::i18n::set_thread_language(Some(lang));
        let Some(user) = self.session.clone() else {
            return;
        };
        // A preference: failing to keep it must not stop anything.
        let kept = self
            .store()
            .and_then(|s| s.set_user_language(user.id, lang.code()));
        if let Err(e) = kept {
            tracing::warn!("cannot keep {}'s language: {e}", user.name);
        }
    }
}

/// The roles that may do `p`, as a list for messages.
fn role_names(p: Permission) -> String {
    crate::domain::role::role_list(&p.roles())
}
