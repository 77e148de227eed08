//! `foodqc report`: the quality report from the database, printed and optionally written as
//! PDF and CSV; lots held or released on the way.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use foodqc::domain::{Actor, AppPaths};
use foodqc::reports::{self, GroupBy, ReportFilter, drift::DriftReference, filter::parse_time};
use foodqc::store::{LotStatus, Store};

/// Arguments of `foodqc report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// From this time on (UTC): 2026-11-20, "2026-11-20 08:00" or RFC 3339.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Up to this time (UTC, exclusive).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Lot code.
    #[arg(long)]
    lot: Option<String>,
    /// Station name.
    #[arg(long)]
    station: Option<String>,
    /// Production line.
    #[arg(long)]
    line: Option<String>,
    /// Product.
    #[arg(long)]
    product: Option<String>,
    /// Shift.
    #[arg(long)]
    shift: Option<String>,
    /// Verdict: pass, reject or review.
    #[arg(long)]
    verdict: Option<String>,
    /// Defect class (`unclassified` for rejects without one).
    #[arg(long)]
    defect: Option<String>,
    /// Model version.
    #[arg(long = "model-version", value_name = "VERSION")]
    model_version: Option<String>,
    /// Subgroups of the p-chart: lot, hour, shift or station.
    #[arg(long, default_value = "lot")]
    by: String,
    /// Write the PDF report here.
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
    /// Write the filtered inspections here as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Put this lot on hold before reporting (needs --comment; recorded in the audit log).
    #[arg(
        long,
        value_name = "LOT",
        requires = "comment",
        conflicts_with = "release"
    )]
    hold: Option<String>,
    /// Release this lot before reporting (needs --comment; recorded in the audit log).
    #[arg(long, value_name = "LOT", requires = "comment")]
    release: Option<String>,
    /// Why the lot is held or released.
    #[arg(long)]
    comment: Option<String>,
    /// Who holds or releases the lot [default: $USER].
    #[arg(long, value_name = "NAME")]
    actor: Option<String>,
    /// First add N generated demo inspections (three stations, shifts, lots, a bad lot and a
    /// drifting lot) to the database, e.g. to measure query times at scale.
    #[arg(long, value_name = "N", hide = true)]
    generate: Option<u64>,
}

impl ReportArgs {
    /// The filter the options describe (times parsed; a bad time is an error naming it).
    fn filter(&self) -> anyhow::Result<ReportFilter> {
        let time = |s: &Option<String>| s.as_deref().map(parse_time).transpose();
        Ok(ReportFilter {
            from_ms: time(&self.from)?,
            to_ms: time(&self.to)?,
            station: self.station.clone(),
            line: self.line.clone(),
            lot: self.lot.clone(),
            product: self.product.clone(),
            shift: self.shift.clone(),
            verdict: self.verdict.clone(),
            defect_class: self.defect.clone(),
            model_version: self.model_version.clone(),
        })
    }

    /// The lot to hold or release, if any.
    fn disposition(&self) -> Option<(&str, LotStatus)> {
        match (&self.hold, &self.release) {
            (Some(code), _) => Some((code, LotStatus::Hold)),
            (None, Some(code)) => Some((code, LotStatus::Released)),
            (None, None) => None,
        }
    }
}

/// Generate demo rows (`--generate`), hold or release a lot, then build, print and write the
/// report. `actor` (resolved once from `--actor`) is recorded with a lot decision and signs
/// the PDF.
pub fn run(paths: &AppPaths, model: Option<&Path>, a: ReportArgs) -> anyhow::Result<()> {
    let actor = Actor::resolve(a.actor.as_deref());
    // A report only reads: a read-only database still gets one (holding or releasing a lot,
    // or --generate, then fail with the read-only error).
    let mut store = if a.generate.is_some() || a.disposition().is_some() {
        Store::open(&paths.db_path())?
    } else {
        Store::open_for_reading(&paths.db_path())?
    };
    if let Some(rows) = a.generate {
        generate(&mut store, paths, rows)?;
    }
    if let Some((code, status)) = a.disposition() {
        let comment = a.comment.as_deref().unwrap_or_default();
        set_lot_status(&mut store, paths, code, status, &actor, comment)?;
    }
    let filter = a.filter()?;
    let by = GroupBy::parse(&a.by)
        .ok_or_else(|| anyhow::anyhow!("--by {:?}: use lot, hour, shift or station", a.by))?;
    let reference = DriftReference::for_model(&*super::load_model(paths, model)?);
    let r = reports::build_report(&store, &filter, by, &reference)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_text(&r, &filter, by);
    }
    if let Some(path) = &a.csv {
        let t = Instant::now();
        let n = reports::export::write_csv(&store, &filter, path, &|_| {}, &Default::default())?;
        eprintln!(
            "wrote {n} rows to {} in {:.2} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    if let Some(path) = &a.pdf {
        let t = Instant::now();
        let meta = reports::pdf::PdfMeta {
            title: "foodqc quality report".into(),
            generated_at_ms: foodqc::store::now_ms(),
            author: actor.as_str().to_string(),
        };
        let bytes = reports::pdf::write_pdf(&store, &r, &meta, path)?;
        eprintln!(
            "wrote {} ({bytes} bytes) in {:.2} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Add `rows` generated demo inspections to the database.
fn generate(store: &mut Store, paths: &AppPaths, rows: u64) -> anyhow::Result<()> {
    let opts = reports::demo::GenerateOptions {
        rows,
        ..Default::default()
    };
    let bar = indicatif::ProgressBar::new(rows);
    let stats = reports::demo::generate(store, Some(&paths.samples_dir()), &opts, &|n| {
        bar.set_position(n)
    })?;
    bar.finish_and_clear();
    eprintln!(
        "generated {} inspections in {} lots in {:.1} s (bad lot {}, drifting lot {})",
        stats.rows, stats.lots, stats.seconds, stats.bad_lot, stats.drift_lot
    );
    Ok(())
}

/// Hold or release lot `code` (which must exist), with a non-blank `comment`.
fn set_lot_status(
    store: &mut Store,
    paths: &AppPaths,
    code: &str,
    status: LotStatus,
    actor: &Actor,
    comment: &str,
) -> anyhow::Result<()> {
    let id = store
        .lot_id(code)?
        .ok_or_else(|| anyhow::anyhow!("lot {code:?} is not in {}", paths.db_path().display()))?;
    if comment.trim().is_empty() {
        anyhow::bail!("--comment must say why lot {code} is held or released");
    }
    store.set_lot_status(id, status, actor.as_str(), comment.trim())?;
    eprintln!(
        "lot {code} is now {} (by {actor})",
        status.as_str().to_uppercase()
    );
    Ok(())
}

/// The report as text: totals, p-chart, out-of-control points, Pareto, drift, held lots and
/// query times.
fn print_text(r: &reports::Report, filter: &ReportFilter, by: GroupBy) {
    let s = &r.summary;
    println!("foodqc report: {}", filter.describe());
    println!(
        "  items            {} inspected, {} rejected ({:.2} %), {} review",
        s.items,
        s.rejects,
        100.0 * s.reject_rate(),
        s.reviews
    );
    println!(
        "  p-chart          {} {}s, centre {:.2} %",
        r.chart.points.len(),
        by.title(),
        100.0 * r.chart.p_bar
    );
    for p in r.chart.out_of_control() {
        let rules: Vec<String> = p
            .violations
            .iter()
            .map(|v| v.number().to_string())
            .collect();
        println!(
            "  OUT OF CONTROL   {} {:.2} % (UCL {:.2} %), rules {}",
            p.label,
            100.0 * p.p,
            100.0 * p.ucl,
            rules.join(",")
        );
    }
    let pareto: Vec<String> = r
        .pareto
        .iter()
        .map(|b| format!("{} {} ({:.0} %)", b.class, b.count, 100.0 * b.share))
        .collect();
    println!("  pareto           {}", pareto.join(", "));
    let drifting = r.drift.iter().filter(|d| d.drifting).count();
    println!(
        "  drift            {drifting} of {} hours drift from the training distribution",
        r.drift.len()
    );
    println!("  lots on hold     {}", held_lots(r));
    let times: Vec<String> = r
        .timings_ms
        .iter()
        .map(|(q, ms)| format!("{q} {ms:.0} ms"))
        .collect();
    println!("  query times      {}", times.join(", "));
}

/// The codes of the lots on hold, or `none`.
fn held_lots(r: &reports::Report) -> String {
    let held: Vec<&str> = r
        .lots
        .iter()
        .filter(|l| l.status == LotStatus::Hold)
        .map(|l| l.code.as_str())
        .collect();
    if held.is_empty() {
        "none".to_string()
    } else {
        held.join(", ")
    }
}
