//! `foodqc model compare|criteria`: a candidate version against the live model on the
//! independent labelled samples, and the acceptance criteria it is held to. The rules are in
//! the library ([`foodqc::services::acceptance`]); this file only parses and formats.

use clap::{Args, Subcommand};

use foodqc::domain::{AcceptanceCriteria, AppPaths};
use foodqc::i18n::format_datetime;
use foodqc::services::acceptance::{self, Assessment, Comparison, Measure, Shortfall};
use foodqc::store::{ModelVersionRow, Store};
use foodqc::tr;

/// Exit code of `foodqc model compare` when the candidate is blocked (1 is an error, 2 a bad
/// command line): scripts can tell "may not go live" from "could not tell".
pub const BLOCKED_EXIT: u8 = 3;

/// `foodqc model compare` found shortfalls: the command printed them and exits with
/// [`BLOCKED_EXIT`].
#[derive(Debug)]
pub struct Blocked;

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tr!("cli-model-blocked"))
    }
}

impl std::error::Error for Blocked {}

/// Arguments of `foodqc model`.
#[derive(Args, Debug)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Subcommand, Debug)]
enum ModelCommand {
    #[command(flatten)]
    Promotion(super::promote::PromotionCommand),
    /// Compare a trained version with the live model on the labelled samples neither trained
    /// on, and say whether it meets the acceptance criteria; exits 3 when it is blocked.
    Compare(ModelCompareArgs),
    /// Show the acceptance criteria and their history, or set them (QC manager, with a reason).
    Criteria(ModelCriteriaArgs),
}

/// Arguments of `foodqc model compare`.
#[derive(Args, Debug)]
pub struct ModelCompareArgs {
    /// The candidate: its version (as `foodqc train` printed it) or its row id.
    version: String,
    /// Print the comparison and the assessment as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc model criteria`.
#[derive(Args, Debug)]
pub struct ModelCriteriaArgs {
    /// Lowest recall accepted (0 to 1).
    #[arg(long, value_name = "X")]
    min_recall: Option<f64>,
    /// Highest false-reject rate accepted (0 to 1).
    #[arg(long, value_name = "X")]
    max_false_reject_rate: Option<f64>,
    /// Fewest independent defective samples a comparison must rest on.
    #[arg(long, value_name = "N")]
    min_defect_samples: Option<usize>,
    /// Fewest independent good samples a comparison must rest on.
    #[arg(long, value_name = "N")]
    min_good_samples: Option<usize>,
    /// Why the criteria change (required to change them).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// QC manager who signs in to change them (password from FOODQC_ACTOR_PASSWORD or a
    /// prompt).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Print the criteria and their history as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `foodqc model ...`. `model` is `--model FILE`: the live model is chosen as the station
/// chooses it (this file, else the promoted version, else the bundled model).
pub fn run(paths: &AppPaths, model: Option<&std::path::Path>, a: ModelArgs) -> anyhow::Result<()> {
    match a.command {
        ModelCommand::Compare(c) => compare(paths, model, c),
        ModelCommand::Criteria(c) => criteria(paths, c),
        ModelCommand::Promotion(c) => super::promote::run(paths, model, c),
    }
}

/// The registered version named by `key`: its version string, else its row id.
fn find_version(store: &Store, key: &str) -> anyhow::Result<ModelVersionRow> {
    let versions = store.list_model_versions()?;
    let id = key.parse::<i64>().ok();
    versions
        .iter()
        .find(|v| v.version == key)
        .or_else(|| versions.iter().find(|v| Some(v.id) == id))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!(tr!("cli-model-no-version", version = key)))
}

fn compare(
    paths: &AppPaths,
    model: Option<&std::path::Path>,
    a: ModelCompareArgs,
) -> anyhow::Result<()> {
    let store = Store::open(&paths.db_path())?;
    let candidate = find_version(&store, &a.version)?;
    let live = super::load_model(paths, model)?;
    let comparison = acceptance::compare_with_live(&store, &candidate, &live)?;
    let assessment = acceptance::assess(&comparison, &acceptance::criteria(&store)?);
    if a.json {
        let out = serde_json::json!({
            "accepted": assessment.accepted(),
            "comparison": comparison,
            "assessment": assessment,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_comparison(&comparison, &assessment);
    }
    if assessment.accepted() {
        Ok(())
    } else {
        Err(Blocked.into())
    }
}

/// The comparison as a table (measure | live | candidate | criterion), then the verdict.
fn print_comparison(c: &Comparison, a: &Assessment) {
    let live_version = c.live.as_ref().map_or("-", |l| l.version.as_str());
    println!(
        "{}",
        tr!(
            "cli-model-compare-heading",
            candidate = c.candidate.version.as_str(),
            live = live_version,
            samples = c.sample_ids.len(),
            trained = c.trained_on,
            unjudged = c.unjudged
        )
    );
    let header = [
        tr!("acceptance-col-measure"),
        tr!("acceptance-col-live"),
        tr!("acceptance-col-candidate"),
        tr!("acceptance-col-criterion"),
    ];
    let rows: Vec<[String; 4]> = Measure::ALL
        .into_iter()
        .map(|m| {
            let mark = if a.shortfalls_of(m).next().is_some() {
                " ⚠"
            } else {
                ""
            };
            [
                m.title(),
                c.live
                    .as_ref()
                    .map_or("-".into(), |l| acceptance::value_text(l, m)),
                format!("{}{mark}", acceptance::value_text(&c.candidate, m)),
                acceptance::bound_text(&a.criteria, m),
            ]
        })
        .collect();
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
        println!("  {}", cells.join("  ").trim_end());
    }
    if a.accepted() {
        println!("{}", tr!("cli-model-accepted"));
    } else {
        println!("{}", tr!("cli-model-blocked"));
        for s in &a.blocked_by {
            println!("  - {}", shortfall_line(s));
        }
    }
}

/// A shortfall with the measure it is about.
fn shortfall_line(s: &Shortfall) -> String {
    format!("{}: {s}", s.measure().title())
}

fn criteria(paths: &AppPaths, a: ModelCriteriaArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&paths.db_path())?;
    let current = acceptance::criteria(&store)?;
    let change = a.min_recall.is_some()
        || a.max_false_reject_rate.is_some()
        || a.min_defect_samples.is_some()
        || a.min_good_samples.is_some();
    if change {
        let new = AcceptanceCriteria {
            min_recall: a.min_recall.unwrap_or(current.min_recall),
            max_false_reject_rate: a
                .max_false_reject_rate
                .unwrap_or(current.max_false_reject_rate),
            min_defect_samples: a.min_defect_samples.unwrap_or(current.min_defect_samples),
            min_good_samples: a.min_good_samples.unwrap_or(current.min_good_samples),
        };
        let reason = a.reason.as_deref().unwrap_or_default();
        if reason.trim().is_empty() {
            anyhow::bail!(acceptance::AcceptanceError::NoReason);
        }
        // The generic sign-in message asks for an admin; these are the QC manager's.
        if store.user_count()? == 0 || a.user.is_none() {
            anyhow::bail!(tr!("cli-model-criteria-sign-in"));
        }
        let user = super::signin::sign_in(
            &mut store,
            a.user.as_deref(),
            Some(foodqc::domain::Permission::SetAcceptanceCriteria),
        )?
        .user;
        acceptance::set_criteria(&mut store, &user, &new, reason)?;
        if !a.json {
            println!(
                "{}",
                tr!("cli-model-criteria-set", user = user.name.as_str())
            );
        }
    } else if a.reason.is_some() {
        anyhow::bail!(tr!("cli-model-criteria-nothing"));
    }
    let history = store.acceptance_criteria_history()?;
    let in_force = acceptance::criteria(&store)?;
    if a.json {
        let out = serde_json::json!({
            "criteria": in_force,
            "defaults": history.is_empty(),
            "history": history,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let width = Measure::ALL
        .iter()
        .map(|m| m.title().chars().count())
        .max()
        .unwrap_or(0);
    for m in Measure::ALL {
        println!(
            "  {:<width$}  {}",
            m.title(),
            acceptance::bound_text(&in_force, m)
        );
    }
    match history.first() {
        None => println!("{}", tr!("cli-model-criteria-defaults")),
        Some(_) => {
            println!("{}", tr!("cli-model-criteria-history"));
            for s in &history {
                println!(
                    "  {}  {}  {}: {}",
                    format_datetime(s.created_at_ms),
                    s.set_by,
                    Measure::ALL
                        .into_iter()
                        .map(|m| format!(
                            "{} {}",
                            m.title(),
                            acceptance::bound_text(&s.criteria, m)
                        ))
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.reason
                );
            }
        }
    }
    Ok(())
}
