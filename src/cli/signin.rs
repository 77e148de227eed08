//! Who runs a command that changes records: `--user NAME`, signed in with the password from
//! `FOODQC_ACTOR_PASSWORD`, the file named by `FOODQC_ACTOR_PASSWORD_FILE` (a service
//! account's), or a terminal prompt; never from an argument. A one-shot command is its own
//! session: the password given once also signs what the command signs.

use std::io::IsTerminal;
use std::path::Path;

use foodqc::domain::Permission;
use foodqc::domain::role::role_list;
use foodqc::services::auth::{self, AuthError, AuthUser};
use foodqc::services::signing::SignatureInput;
use foodqc::store::Store;
use foodqc::tr;

/// Environment variable with the signing-in user's password.
pub const ACTOR_PASSWORD_ENV: &str = "FOODQC_ACTOR_PASSWORD";

/// Environment variable naming a file whose first line is the signing-in user's password.
pub const ACTOR_PASSWORD_FILE_ENV: &str = "FOODQC_ACTOR_PASSWORD_FILE";

/// A signed-in user of one command, and the password that signs for them.
pub struct SignedIn {
    /// The user.
    pub user: AuthUser,
    password: String,
}

impl SignedIn {
    /// The signature input for `reason`: the password given at sign-in, which the signing
    /// service checks again.
    pub fn signature(&self, reason: &str) -> SignatureInput {
        SignatureInput {
            password: self.password.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Sign in `--user NAME`; when `permission` is given, refuse (before any work) a role that
/// may not.
pub fn sign_in(
    store: &mut Store,
    name: Option<&str>,
    permission: Option<Permission>,
) -> anyhow::Result<SignedIn> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        anyhow::bail!(match permission {
            Some(p) => tr!("cli-user-needed", roles = role_list(&p.roles())),
            None => AuthError::SignInNeeded.to_string(),
        });
    };
    let password = password_of(name)?;
    let user = auth::authenticate(store, name, &password)?;
    if let Some(p) = permission {
        user.require(p)?;
    }
    Ok(SignedIn { user, password })
}

/// The password of `user`: environment, password file, else a prompt on the terminal.
fn password_of(user: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(ACTOR_PASSWORD_ENV) {
        return Ok(p);
    }
    if let Ok(file) = std::env::var(ACTOR_PASSWORD_FILE_ENV) {
        return Ok(auth::password_from_file(Path::new(&file))?);
    }
    if std::io::stdin().is_terminal() {
        let prompt = format!("{} ", tr!("cli-user-actor-prompt", user = user));
        return Ok(rpassword::prompt_password(prompt)?);
    }
    anyhow::bail!(tr!("cli-user-no-actor-password", user = user))
}
