//! `foodqc user add|list|disable|passwd`: the station's users from a terminal or a script.
//!
//! Passwords never come from a command-line argument (it would show in `ps` and the shell
//! history): the new password comes from `--password-file`, `FOODQC_PASSWORD` or a prompt
//! (asked twice), the signing-in admin's from `FOODQC_ACTOR_PASSWORD` or a prompt.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use foodqc::domain::role::role_list;
use foodqc::domain::{AppPaths, Role};
use foodqc::services::auth::{self, AuthError, AuthUser, NewAccount};
use foodqc::store::{Store, now_ms};
use foodqc::tr;

/// Environment variable with the new password, for scripts and tests.
pub const PASSWORD_ENV: &str = "FOODQC_PASSWORD";

/// Environment variable with the signing-in admin's password.
pub const ACTOR_PASSWORD_ENV: &str = "FOODQC_ACTOR_PASSWORD";

/// Arguments of `foodqc user`.
#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
    /// Admin who signs in to make the change (password from FOODQC_ACTOR_PASSWORD or a
    /// prompt); not needed for the first user.
    #[arg(long, global = true, value_name = "NAME")]
    user: Option<String>,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user. The first user of a station must be an admin and needs no sign-in.
    Add(UserAddArgs),
    /// List the users (never their password hashes).
    List(UserListArgs),
    /// Disable a user: they can no longer sign in; their records keep their name.
    Disable(UserDisableArgs),
    /// Set a new password for a user (clears a lockout).
    Passwd(UserPasswdArgs),
}

/// Arguments of `foodqc user add`.
#[derive(Args, Debug)]
pub struct UserAddArgs {
    /// Login name: lowercase letters, digits, '.', '_', '-' (e.g. qc.anna).
    name: String,
    /// Role: operator, technician, data_scientist, qc_manager or admin.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// Name as people read it [default: the login name].
    #[arg(long, value_name = "NAME")]
    display_name: Option<String>,
    /// A service account for a headless station (its password from a file or
    /// FOODQC_PASSWORD).
    #[arg(long)]
    service: bool,
    /// Read the new password from the first line of this file (else FOODQC_PASSWORD, else a
    /// prompt).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// Arguments of `foodqc user list`.
#[derive(Args, Debug)]
pub struct UserListArgs {
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc user disable`.
#[derive(Args, Debug)]
pub struct UserDisableArgs {
    /// The user to disable.
    name: String,
}

/// Arguments of `foodqc user passwd`.
#[derive(Args, Debug)]
pub struct UserPasswdArgs {
    /// The user whose password is set.
    name: String,
    /// Read the new password from the first line of this file (else FOODQC_PASSWORD, else a
    /// prompt).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// A role name, with the catalogue's message listing the valid ones.
fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|_| {
        tr!(
            "cli-user-role-unknown",
            value = s,
            roles = role_list(&Role::ALL)
        )
    })
}

/// Run `foodqc user ...` on the data folder's database.
pub fn run(paths: &AppPaths, a: UserArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&paths.db_path())?;
    match a.command {
        UserCommand::List(l) => list(&store, l.json),
        UserCommand::Add(add) => {
            // The first user needs no sign-in: there is nobody to sign in as.
            let actor = if store.user_count()? == 0 {
                None
            } else {
                Some(sign_in(&mut store, a.user.as_deref())?)
            };
            let password = new_password(&add.name, add.password_file.as_deref())?;
            let account = NewAccount {
                name: &add.name,
                display_name: add.display_name.as_deref(),
                role: add.role,
                service: add.service,
            };
            let row = auth::create_user(&mut store, actor.as_ref(), &account, &password)?;
            println!(
                "{}",
                tr!(
                    "cli-user-added",
                    user = row.name.as_str(),
                    role = row.role.as_str()
                )
            );
            Ok(())
        }
        UserCommand::Disable(d) => {
            let actor = sign_in(&mut store, a.user.as_deref())?;
            auth::disable_user(&mut store, &actor, &d.name)?;
            println!("{}", tr!("cli-user-disabled", user = d.name.as_str()));
            Ok(())
        }
        UserCommand::Passwd(p) => {
            let actor = sign_in(&mut store, a.user.as_deref())?;
            if store.user_by_name(&p.name)?.is_none() {
                return Err(AuthError::NoSuchUser(p.name).into());
            }
            let password = new_password(&p.name, p.password_file.as_deref())?;
            auth::change_password(&mut store, &actor, &p.name, &password)?;
            println!(
                "{}",
                tr!("cli-user-password-changed", user = p.name.as_str())
            );
            Ok(())
        }
    }
}

/// Sign in `--user NAME` with the password from `FOODQC_ACTOR_PASSWORD` or a prompt.
pub fn sign_in(store: &mut Store, name: Option<&str>) -> anyhow::Result<AuthUser> {
    let name = name.ok_or(AuthError::SignInNeeded)?;
    let password = match std::env::var(ACTOR_PASSWORD_ENV) {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("{} ", tr!("cli-user-actor-prompt", user = name)))?
        }
        Err(_) => anyhow::bail!(tr!("cli-user-no-actor-password", user = name)),
    };
    Ok(auth::authenticate(store, name, &password)?)
}

/// The new password of `user`: from `file`, else `FOODQC_PASSWORD`, else asked twice on the
/// terminal.
fn new_password(user: &str, file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(file) = file {
        return Ok(auth::password_from_file(file)?);
    }
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(tr!("cli-user-no-password", user = user));
    }
    let first =
        rpassword::prompt_password(format!("{} ", tr!("cli-user-password-prompt", user = user)))?;
    // The policy first, so a refused password is not typed twice for nothing.
    auth::check_password_policy(user, &first)?;
    let again = rpassword::prompt_password(format!("{} ", tr!("cli-user-password-again")))?;
    if first != again {
        anyhow::bail!(tr!("cli-user-password-mismatch", user = user));
    }
    Ok(first)
}

/// Print the users as a table or JSON (never a hash: `UserRow` does not serialize it).
fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let users = store.users()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&users)?);
        return Ok(());
    }
    if users.is_empty() {
        println!("{}", tr!("cli-user-none"));
        return Ok(());
    }
    let now = now_ms();
    let rows: Vec<[String; 4]> = users
        .iter()
        .map(|u| {
            let status = if u.disabled {
                tr!("cli-user-status-disabled")
            } else if u.locked_until_ms.is_some_and(|t| t > now) {
                tr!("cli-user-status-locked")
            } else if u.service {
                tr!("cli-user-status-service")
            } else {
                tr!("cli-user-status-active")
            };
            [
                u.name.clone(),
                u.display_name.clone(),
                u.role.as_str().to_string(),
                status,
            ]
        })
        .collect();
    let header = [
        tr!("cli-user-col-name"),
        tr!("cli-user-col-display-name"),
        tr!("cli-user-col-role"),
        tr!("cli-user-col-status"),
    ];
    // Column widths in characters (display names may have accents).
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    Ok(())
}
