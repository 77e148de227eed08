//! `foodqc audit verify`, `foodqc audit list` and `foodqc audit export`: check the hash
//! chains of the audit log and the inspections against the key and the anchored heads, read
//! the audit log, and export an extract of it that a QC manager signs as reviewed. The work is
//! in the library ([`foodqc::store::Store::verify_chains`],
//! [`foodqc::services::audit_review`]); this file only parses and formats.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use foodqc::domain::{AppPaths, Permission};
use foodqc::i18n::format_decimal;
use foodqc::reports::audit::describe_problem as describe;
use foodqc::services::audit_review::{self, ExportTargets};
use foodqc::store::{AuditFilter, Store, audit_key};
use foodqc::tr;

use super::signin::sign_in;

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
    /// Export the entries a filter selects (all of them, oldest first) with the verification
    /// of the chains, as a PDF and/or CSV that a QC manager signs as reviewed.
    Export(AuditExportArgs),
}

/// Arguments of `foodqc audit verify`.
#[derive(Args, Debug)]
pub struct AuditVerifyArgs {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Which entries `audit list` and `audit export` take (their help ids stay per command:
/// `cli-audit-list-actor`, `cli-audit-export-actor`, ...).
#[derive(Args, Debug)]
pub struct AuditFilterArgs {
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
}

impl AuditFilterArgs {
    /// The filter, at most `limit` entries; a bad time names its option.
    fn to_filter(&self, limit: usize) -> anyhow::Result<AuditFilter> {
        Ok(AuditFilter {
            actor: self.actor.clone(),
            action: self.action.clone(),
            from_ms: time("--from", &self.from)?,
            to_ms: time("--to", &self.to)?,
            limit,
        })
    }
}

/// Arguments of `foodqc audit list`.
#[derive(Args, Debug)]
pub struct AuditListArgs {
    #[command(flatten)]
    filter: AuditFilterArgs,
    /// At most this many entries (the newest).
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: usize,
    /// Print the entries as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc audit export`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).multiple(true).args(["pdf", "csv"])))]
pub struct AuditExportArgs {
    /// Write the signed extract as PDF here.
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
    /// Write the extract's entries as CSV here.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    filter: AuditFilterArgs,
    /// The QC manager who reviews and signs (password from FOODQC_ACTOR_PASSWORD,
    /// FOODQC_ACTOR_PASSWORD_FILE or a prompt).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Why (kept with the signature).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

/// Run `foodqc audit ...`.
pub fn run(paths: &AppPaths, a: AuditArgs) -> anyhow::Result<()> {
    match a.command {
        AuditCommand::Verify(v) => verify(paths, v),
        AuditCommand::List(l) => list(paths, l),
        AuditCommand::Export(e) => export(paths, e),
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

/// A `--from` or `--to` time as unix ms; the error names the option and the value.
fn time(option: &str, s: &Option<String>) -> anyhow::Result<Option<i64>> {
    s.as_deref()
        .map(|v| {
            foodqc::reports::filter::parse_time(v).map_err(|e| {
                anyhow::anyhow!(tr!(
                    "cli-audit-bad-time",
                    option = option,
                    error = e.to_string()
                ))
            })
        })
        .transpose()
}

fn list(paths: &AppPaths, a: AuditListArgs) -> anyhow::Result<()> {
    let filter = a.filter.to_filter(a.limit)?;
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

fn export(paths: &AppPaths, a: AuditExportArgs) -> anyhow::Result<()> {
    // The typos first, before anyone signs in.
    let filter = a.filter.to_filter(usize::MAX)?;
    foodqc::reports::audit::normalize_filter(&filter)?;
    let reason = a.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        anyhow::bail!(tr!("cli-audit-export-need-reason"));
    }
    for path in [&a.pdf, &a.csv].into_iter().flatten() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            anyhow::bail!(tr!(
                "cli-audit-export-no-dir",
                path = path.display().to_string(),
                dir = dir.display().to_string()
            ));
        }
    }
    let mut store = Store::open(&paths.db_path())?;
    let signed = sign_in(
        &mut store,
        a.user.as_deref(),
        Some(Permission::ViewAuditTrail),
    )?;
    let to = ExportTargets {
        pdf: a.pdf.clone(),
        csv: a.csv.clone(),
    };
    let done = audit_review::export_signed(
        &mut store,
        &signed.user,
        &filter,
        &to,
        &signed.signature(reason),
    )?;
    let sig = &done.signature;
    eprintln!("{}", done.chain.describe());
    if let (Some(path), Some(bytes)) = (&a.pdf, done.pdf_bytes) {
        eprintln!(
            "{}",
            tr!(
                "cli-audit-export-wrote-pdf",
                path = path.display().to_string(),
                kb = format_decimal(bytes as f64 / 1024.0, 1)
            )
        );
    }
    if let (Some(path), Some(rows)) = (&a.csv, done.csv_rows) {
        eprintln!(
            "{}",
            tr!(
                "cli-audit-export-wrote-csv",
                path = path.display().to_string(),
                rows = rows
            )
        );
    }
    println!(
        "{}",
        tr!(
            "cli-audit-export-signed",
            entries = done.entries,
            signer = format!("{} ({})", sig.display_name, sig.signer),
            meaning = sig.meaning().map_or_else(
                || sig.meaning.clone(),
                foodqc::reports::audit::meaning_label
            ),
            hash = sig.content_hash.as_str(),
            id = sig.id
        )
    );
    Ok(())
}
