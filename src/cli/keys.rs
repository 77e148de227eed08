//! `foodqc keys show|list|trust|revoke`: this PC's plant signing key, and the keys this
//! station trusts to command it from the plant (lot hold/release, model releases). A station
//! applies a plant message only when a trusted key (or its own) sealed it.

use clap::{Args, Subcommand};

use foodqc::domain::{AppPaths, Permission};
use foodqc::services::plant_trust;
use foodqc::store::Store;
use foodqc::store::plant_key::fingerprint;
use foodqc::tr;

use super::signin::sign_in;

/// Arguments of `foodqc keys`.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    /// Admin who signs in to trust or revoke a key (password from FOODQC_ACTOR_PASSWORD or
    /// a prompt).
    #[arg(long, global = true, value_name = "NAME")]
    user: Option<String>,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Print this PC's plant signing key (made on first use): give it to the stations' admins.
    Show(KeysShowArgs),
    /// List the keys this station trusts.
    List(KeysListArgs),
    /// Trust a deciding PC's key: its lot decisions and model releases apply here.
    Trust(KeysTrustArgs),
    /// Stop trusting a key: its messages are refused from now on.
    Revoke(KeysRevokeArgs),
}

/// Arguments of `foodqc keys show`.
#[derive(Args, Debug)]
pub struct KeysShowArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc keys list`.
#[derive(Args, Debug)]
pub struct KeysListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc keys trust`.
#[derive(Args, Debug)]
pub struct KeysTrustArgs {
    /// A name for the key, e.g. the QC manager's PC (calidad-pc-2).
    name: String,
    /// The public key as `foodqc keys show` prints it on that PC (base64).
    key: String,
}

/// Arguments of `foodqc keys revoke`.
#[derive(Args, Debug)]
pub struct KeysRevokeArgs {
    /// The name the key was trusted under.
    name: String,
}

/// Who may trust and revoke keys (signed in before any change).
const MAY: Permission = Permission::ManageSettings;

/// Run `foodqc keys ...` on the data folder's database.
pub fn run(paths: &AppPaths, a: KeysArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&paths.db_path())?;
    match a.command {
        KeysCommand::Show(s) => {
            let key = store.plant_key()?.public_key();
            let fp = fingerprint(&key);
            if s.json {
                let json = serde_json::json!({ "key": key, "fingerprint": fp });
                println!("{}", serde_json::to_string_pretty(&json)?);
            } else {
                println!("{}", tr!("cli-keys-own", fingerprint = fp.as_str()));
                println!("{key}");
            }
        }
        KeysCommand::List(l) => {
            let keys = store.trusted_plant_keys()?;
            if l.json {
                let json: Vec<serde_json::Value> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "name": k.name,
                            "key": k.key,
                            "fingerprint": fingerprint(&k.key),
                            "added_by": k.added_by,
                            "added_at": k.added_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&json)?);
            } else if keys.is_empty() {
                println!("{}", tr!("cli-keys-none"));
            } else {
                for k in &keys {
                    println!(
                        "{}",
                        tr!(
                            "cli-keys-row",
                            name = k.name.as_str(),
                            fingerprint = fingerprint(&k.key),
                            by = k.added_by.as_str()
                        )
                    );
                }
            }
        }
        KeysCommand::Trust(t) => {
            let admin = sign_in(&mut store, a.user.as_deref(), Some(MAY))?.user;
            let k = plant_trust::trust(&mut store, &admin, &t.name, &t.key)?;
            let (name, fingerprint) = (k.name.as_str(), fingerprint(&k.key));
            println!(
                "{}",
                tr!("cli-keys-trusted", name = name, fingerprint = fingerprint)
            );
        }
        KeysCommand::Revoke(r) => {
            let admin = sign_in(&mut store, a.user.as_deref(), Some(MAY))?.user;
            let k = plant_trust::revoke(&mut store, &admin, &r.name)?;
            let (name, fingerprint) = (k.name.as_str(), fingerprint(&k.key));
            println!(
                "{}",
                tr!("cli-keys-revoked", name = name, fingerprint = fingerprint)
            );
        }
    }
    Ok(())
}
