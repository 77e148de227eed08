//! `foodqc model propose|approve|rollback|list`: the two-person promotion from a terminal.
//! A data scientist proposes a version (signed, "performed"), a QC manager approves it
//! (signed, "approved") and it goes live; a QC manager may roll back to the version live
//! before. A running station picks the new active version up at its next start.

use clap::{Args, Subcommand};

use std::time::Duration;

use foodqc::domain::{AppPaths, Permission};
use foodqc::plant::{KafkaSpec, Publisher};
use foodqc::services::{plant_model, promotion};
use foodqc::store::{ModelVersionRow, Store};
use foodqc::tr;

use super::signin::sign_in;

/// The promotion subcommands of `foodqc model`.
#[derive(Subcommand, Debug)]
pub enum PromotionCommand {
    /// Propose a trained version for the line (a data scientist signs: "performed").
    Propose(ModelProposeArgs),
    /// Approve a proposed version: it goes live (a QC manager other than the proposer signs:
    /// "approved"). A version that fails its acceptance criteria needs --override.
    Approve(ModelApproveArgs),
    /// Return the line to the version live before the current one (a QC manager signs).
    Rollback(ModelRollbackArgs),
    /// Send a version approved here to the plant's stations of a recipe through the plant's
    /// Kafka (a QC manager signs); each station that has the recipe saves its next version
    /// with this model and, when running it, switches between two frames.
    Publish(ModelPublishArgs),
    /// List the model versions: live, proposed (by whom) and their signatures.
    List(ModelListArgs),
}

/// A version and the signer's reason (`propose`; `approve` adds an override).
#[derive(Args, Debug)]
pub struct ModelProposeArgs {
    /// The model version (as `foodqc model list` shows it).
    version: String,
    /// Why (kept with the signature).
    #[arg(long)]
    reason: String,
    /// Who signs (password from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a
    /// prompt).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

/// Arguments of `foodqc model approve`.
#[derive(Args, Debug)]
pub struct ModelApproveArgs {
    #[command(flatten)]
    signed: ModelProposeArgs,
    /// Approve although the version fails its acceptance criteria, for this reason (a second
    /// signature; `foodqc model compare` shows the shortfalls).
    #[arg(long = "override", value_name = "REASON")]
    override_reason: Option<String>,
}

/// Arguments of `foodqc model rollback`.
#[derive(Args, Debug)]
pub struct ModelRollbackArgs {
    /// Why (kept with the signature).
    #[arg(long)]
    reason: String,
    /// The QC manager who signs.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

/// Arguments of `foodqc model publish`.
#[derive(Args, Debug)]
pub struct ModelPublishArgs {
    /// The model version (as `foodqc model list` shows it).
    version: String,
    /// The recipe whose stations take it.
    #[arg(long, value_name = "NAME")]
    recipe: String,
    /// Why (kept with the signature and sent with the model).
    #[arg(long)]
    reason: String,
    /// The QC manager who signs.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The plant's brokers, HOST:PORT[,HOST:PORT].
    #[arg(long, value_name = "BROKERS", value_parser = KafkaSpec::parse)]
    kafka: KafkaSpec,
}

/// Arguments of `foodqc model list`.
#[derive(Args, Debug)]
pub struct ModelListArgs {
    /// Print the versions and their signatures as JSON.
    #[arg(long)]
    json: bool,
}

/// Run a promotion subcommand on the data folder's database; `model` is the `--model` the
/// line would run instead of the active version (the approval compares with it).
pub fn run(
    paths: &AppPaths,
    model: Option<&std::path::Path>,
    cmd: PromotionCommand,
) -> anyhow::Result<()> {
    let mut store = Store::open(&paths.db_path())?;
    match cmd {
        PromotionCommand::Propose(a) => {
            let signed = sign_in(
                &mut store,
                a.user.as_deref(),
                Some(Permission::ProposeModel),
            )?;
            let row = version(&store, &a.version)?;
            let sig =
                promotion::propose(&mut store, &signed.user, &row, &signed.signature(&a.reason))?;
            println!(
                "{}",
                tr!(
                    "cli-model-proposed",
                    version = row.version.as_str(),
                    user = sig.display_name.as_str()
                )
            );
        }
        PromotionCommand::Approve(ModelApproveArgs {
            signed: a,
            override_reason,
        }) => {
            let signed = sign_in(
                &mut store,
                a.user.as_deref(),
                Some(Permission::ApproveModel),
            )?;
            let row = version(&store, &a.version)?;
            let live = super::load_model(paths, model)?;
            let (_, sigs) = promotion::approve(
                &mut store,
                &signed.user,
                &row,
                &live,
                &signed.signature(&a.reason),
                override_reason.as_deref(),
            )?;
            let sig = &sigs[0];
            println!(
                "{}",
                tr!(
                    "cli-model-approved",
                    version = row.version.as_str(),
                    user = sig.display_name.as_str()
                )
            );
        }
        PromotionCommand::Rollback(a) => {
            let signed = sign_in(
                &mut store,
                a.user.as_deref(),
                Some(Permission::ApproveModel),
            )?;
            let previous = store.previous_active_model()?;
            let models = store.list_model_versions()?;
            let target = promotion::rollback_target(&models, previous)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!(tr!("cli-model-no-previous")))?;
            promotion::rollback(
                &mut store,
                &signed.user,
                &target,
                previous,
                &signed.signature(&a.reason),
            )?;
            println!(
                "{}",
                tr!("cli-model-rolled-back", version = target.version.as_str())
            );
        }
        PromotionCommand::Publish(a) => {
            drop(store);
            publish(paths, &a)?;
        }
        PromotionCommand::List(a) => list(&store, a.json)?,
    }
    Ok(())
}

/// `foodqc model publish`: sign here, then send the release (waiting up to 60 s; what is not
/// sent by then goes at the next publishing start from this data folder).
fn publish(paths: &AppPaths, a: &ModelPublishArgs) -> anyhow::Result<()> {
    let origin = super::report::this_pc();
    let mut store = Store::open(&paths.db_path())?;
    // On first, so the release's own audit entry reaches the plant too.
    store.enable_outbox(&origin)?;
    let signed = sign_in(
        &mut store,
        a.user.as_deref(),
        Some(Permission::ApproveModel),
    )?;
    let row = version(&store, &a.version)?;
    let (sig, release, parts) = plant_model::publish(
        &mut store,
        &signed.user,
        &row,
        &a.recipe,
        &signed.signature(&a.reason),
        &origin,
    )?;
    drop(store);
    let stats =
        Publisher::start(paths.db_path(), &a.kafka, &origin)?.finish(Duration::from_secs(60));
    println!(
        "{}",
        tr!(
            "cli-model-published",
            version = row.version.as_str(),
            recipe = release.recipe.as_str(),
            actor = format!("{} ({})", sig.display_name, sig.signer),
            command = release.id.as_str(),
            parts = parts,
            pending = stats.pending
        )
    );
    if stats.pending > 0 {
        anyhow::bail!(tr!(
            "cli-model-publish-pending",
            pending = stats.pending,
            brokers = a.kafka.brokers.as_str()
        ));
    }
    Ok(())
}

/// The registered version called `name`.
fn version(store: &Store, name: &str) -> anyhow::Result<ModelVersionRow> {
    store
        .list_model_versions()?
        .into_iter()
        .find(|m| m.version == name)
        .ok_or_else(|| {
            anyhow::anyhow!(tr!(
                "cli-model-unknown",
                version = name,
                db = store.path().display().to_string()
            ))
        })
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let models = store.list_model_versions()?;
    let mut rows = Vec::new();
    for m in &models {
        let sigs = store.signatures_for("model_version", &m.id.to_string(), None)?;
        let proposal = promotion::open_proposal(store, m)?;
        rows.push((m, sigs, proposal));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(m, sigs, p)| {
                serde_json::json!({
                    "id": m.id,
                    "version": m.version,
                    "active": m.active,
                    "created_at_ms": m.created_at_ms,
                    "proposed_by": p.as_ref().map(|p| &p.signer),
                    "signatures": sigs,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("{}", tr!("cli-model-none"));
    }
    for (m, sigs, proposal) in rows {
        let state = if m.active {
            tr!("cli-model-state-live")
        } else if let Some(p) = &proposal {
            tr!("cli-model-state-proposed", user = p.signer.as_str())
        } else {
            String::new()
        };
        println!(
            "{}  {}  {}",
            m.version,
            foodqc::i18n::format_datetime(m.created_at_ms),
            state
        );
        for s in sigs {
            println!(
                "    {}  {} ({}, {})  {}: {}",
                foodqc::i18n::format_datetime(s.ts_ms),
                s.display_name,
                s.signer,
                s.role,
                s.meaning,
                s.reason
            );
        }
    }
    Ok(())
}
