//! `foodqc audit verify` and `foodqc audit list`: check the hash chains of the audit log and
//! the inspections against the key and the anchored heads, and read the audit log. The work
//! is in the library ([`foodqc::store::Store::verify_chains`]); this file only formats.

use clap::{Args, Subcommand};

use foodqc::domain::AppPaths;
use foodqc::store::chain::{Chain, Problem};
use foodqc::store::{AuditFilter, Store, audit_key};
use foodqc::tr;

/// Arguments of `foodqc audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Walk the hash chains of the audit log and of the inspections, and compare their heads
    /// with the copies kept outside the database; exits non-zero naming the first broken
    /// entry or batch.
    Verify(AuditVerifyArgs),
    /// List audit entries, newest first.
    List(AuditListArgs),
}

/// Arguments of `foodqc audit verify`.
#[derive(Args, Debug)]
pub struct AuditVerifyArgs {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc audit list`.
#[derive(Args, Debug)]
pub struct AuditListArgs {
    /// Only entries by this actor.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action, or the actions below it (`lot` lists `lot.status`).
    #[arg(long)]
    action: Option<String>,
    /// From this time on, in plant time: 2026-11-20, "2026-11-20 08:00" or RFC 3339.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Up to this time, in plant time (exclusive).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// At most this many entries (the newest).
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: usize,
    /// Print the entries as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `foodqc audit ...`.
pub fn run(paths: &AppPaths, a: AuditArgs) -> anyhow::Result<()> {
    match a.command {
        AuditCommand::Verify(v) => verify(paths, v),
        AuditCommand::List(l) => list(paths, l),
    }
}

fn verify(paths: &AppPaths, a: AuditVerifyArgs) -> anyhow::Result<()> {
    let db = paths.db_path();
    let key_path = audit_key::key_path(&db);
    let Some(key) = audit_key::load_key(&key_path)? else {
        anyhow::bail!(tr!(
            "audit-verify-no-key",
            path = key_path.display().to_string()
        ));
    };
    let store = Store::open_for_reading(&db)?;
    let report = store.verify_chains(&key)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.ok() {
        println!(
            "{}",
            tr!(
                "audit-verify-ok",
                entries = report.audit_entries,
                batches = report.batches,
                rows = report.inspections
            )
        );
        if report.anchors.is_empty() {
            println!("{}", tr!("audit-verify-no-anchor"));
        } else {
            for anchor in &report.anchors {
                println!("{}", tr!("audit-verify-anchor", file = anchor.clone()));
            }
        }
    } else {
        for p in &report.problems {
            println!("{}", describe(p));
        }
    }
    match report.problems.first() {
        None => Ok(()),
        Some(first) => Err(anyhow::anyhow!(tr!(
            "audit-verify-broken",
            count = report.problems.len(),
            first = describe(first)
        ))),
    }
}

/// One problem in words.
fn describe(p: &Problem) -> String {
    // By value: the catalogue's arguments take owned numbers and strings.
    match p.clone() {
        Problem::AuditHashMismatch { id } => tr!("audit-problem-hash", id = id),
        Problem::AuditLinkBroken { id } => tr!("audit-problem-link", id = id),
        Problem::AuditMissing { from, to } => {
            tr!("audit-problem-missing", from = from, to = to)
        }
        Problem::AuditUnhashed { id } => tr!("audit-problem-unhashed", id = id),
        Problem::AuditLegacyChanged { marker } => tr!("audit-problem-older", id = marker),
        Problem::BatchHashMismatch {
            id,
            first_id,
            last_id,
            rows_now,
            rows_sealed,
        } => tr!(
            "audit-problem-batch-hash",
            id = id,
            first = first_id,
            last = last_id,
            now = rows_now,
            sealed = rows_sealed
        ),
        Problem::BatchLinkBroken { id } => tr!("audit-problem-batch-link", id = id),
        Problem::UnsealedRows { first_id, count } => {
            tr!("audit-problem-unsealed", first = first_id, count = count)
        }
        Problem::TailDeleted {
            chain,
            last,
            anchored,
            anchor,
        } => {
            let last = last.unwrap_or(0);
            match chain {
                Chain::Audit => tr!(
                    "audit-problem-tail-audit",
                    last = last,
                    anchored = anchored,
                    anchor = anchor
                ),
                Chain::Batches => tr!(
                    "audit-problem-tail-batches",
                    last = last,
                    anchored = anchored,
                    anchor = anchor
                ),
            }
        }
        Problem::AnchorMismatch { chain, id, anchor } => match chain {
            Chain::Audit => tr!("audit-problem-anchor-audit", id = id, anchor = anchor),
            Chain::Batches => {
                tr!("audit-problem-anchor-batches", id = id, anchor = anchor)
            }
        },
    }
}

fn list(paths: &AppPaths, a: AuditListArgs) -> anyhow::Result<()> {
    let time = |s: &Option<String>| {
        s.as_deref()
            .map(foodqc::reports::filter::parse_time)
            .transpose()
    };
    let filter = AuditFilter {
        actor: a.actor,
        action: a.action,
        from_ms: time(&a.from)?,
        to_ms: time(&a.to)?,
        limit: a.limit,
    };
    let store = Store::open_for_reading(&paths.db_path())?;
    let entries = store.audit_list(&filter)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("{}", tr!("audit-list-empty"));
    }
    for e in &entries {
        println!(
            "{:>6}  {}  {}  {}  {}",
            e.id,
            foodqc::i18n::format_datetime(e.ts_ms),
            e.actor,
            e.action,
            e.details
        );
    }
    Ok(())
}
