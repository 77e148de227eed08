//! `foodqc report`: the quality report from the database, printed and optionally written as
//! PDF and CSV; lots held or released on the way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use foodqc::domain::{Actor, AppPaths, Permission};
use foodqc::i18n::{format_decimal, format_percent};
use foodqc::plant::{KafkaSpec, Publisher};
use foodqc::reports::{
    self, GroupBy, ReportFilter, ReportSource, drift::DriftReference, filter::parse_time,
};
use foodqc::services::lot_decision;
use foodqc::services::shift_review::{self, ShiftKey, ShiftReviewState};
use foodqc::store::plant_db::PlantDb;
use foodqc::store::{LotStatus, Store};
use foodqc::tr;

use super::signin::sign_in;

/// Arguments of `foodqc report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// From this time on, in plant time (America/Lima, or $FOODQC_TZ): 2026-11-20,
    /// "2026-11-20 08:00" or RFC 3339 with an offset.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Up to this time, in plant time (exclusive).
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
    /// Only items judged under this recipe.
    #[arg(long, value_name = "NAME")]
    recipe: Option<String>,
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
    /// Close the report of --shift on this plant day (e.g. 2026-11-20; of --line only, when
    /// given): the QC manager (--user) signs it "reviewed" with --comment as the reason. The
    /// report then covers that shift.
    #[arg(
        long,
        value_name = "DATE",
        requires_all = ["shift", "comment"],
        conflicts_with_all = ["from", "to", "hold", "release"]
    )]
    close_shift: Option<String>,
    /// Why the lot is held or released, or the shift report closed.
    #[arg(long)]
    comment: Option<String>,
    /// Who holds or releases the lot: a QC manager, who signs the decision (password from
    /// FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt). Also the PDF's author
    /// [default: the OS user].
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Report over the plant database (every station, as the collector stored it) instead
    /// of this station's: postgres://USER[:PASSWORD]@HOST:PORT/DB. With --hold or --release
    /// the decision goes to every station that has the lot (needs --kafka).
    #[arg(
        long,
        value_name = "URL",
        conflicts_with_all = ["close_shift", "generate"]
    )]
    plant: Option<String>,
    /// With --plant and --hold or --release: the plant's brokers, HOST:PORT[,HOST:PORT].
    #[arg(long, value_name = "BROKERS", value_parser = KafkaSpec::parse, requires = "plant")]
    kafka: Option<KafkaSpec>,
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
            recipe: self.recipe.clone(),
        })
    }

    /// The shift to close, if any.
    fn shift_to_close(&self) -> anyhow::Result<Option<ShiftKey>> {
        let Some(date) = &self.close_shift else {
            return Ok(None);
        };
        let shift = self.shift.as_deref().unwrap_or_default();
        Ok(Some(ShiftKey::parse(date, shift, self.line.as_deref())?))
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
/// report. A lot decision is signed by `--user`, who is also the PDF's author.
pub fn run(paths: &AppPaths, model: Option<&Path>, a: ReportArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.plant {
        let plant = PlantDb::open_for_reading(url)?;
        let mut author = Actor::os_user().to_string();
        if let Some((code, status)) = a.disposition() {
            author = plant_lot_decision(paths, &a, &plant, code, status)?;
        }
        return report(paths, model, &a, &plant, a.filter()?, author, None);
    }
    // A report only reads: a read-only database still gets one (holding or releasing a lot,
    // or --generate, then fail with the read-only error).
    let close = a.shift_to_close()?;
    let mut store = if a.generate.is_some() || a.disposition().is_some() || close.is_some() {
        Store::open(&paths.db_path())?
    } else {
        Store::open_for_reading(&paths.db_path())?
    };
    if let Some(rows) = a.generate {
        generate(&mut store, paths, rows)?;
    }
    let mut author = Actor::os_user().to_string();
    if let Some((code, status)) = a.disposition() {
        let comment = a.comment.as_deref().unwrap_or_default();
        author = set_lot_status(&mut store, paths, code, status, a.user.as_deref(), comment)?;
    }
    let mut filter = a.filter()?;
    if let Some(key) = &close {
        let comment = a.comment.as_deref().unwrap_or_default();
        author = close_shift(&mut store, key, a.user.as_deref(), comment)?;
        filter = key.filter();
    }
    let review = ShiftReviewState::for_filter(&store, &filter)?;
    report(paths, model, &a, &store, filter, author, review)
}

/// Build the report of `filter` from `db`, print it and write the PDF and CSV asked for.
fn report(
    paths: &AppPaths,
    model: Option<&Path>,
    a: &ReportArgs,
    db: &dyn ReportSource,
    filter: ReportFilter,
    author: String,
    review: Option<ShiftReviewState>,
) -> anyhow::Result<()> {
    let by = GroupBy::parse(&a.by)
        .ok_or_else(|| anyhow::anyhow!(tr!("cli-report-bad-by", by = format!("{:?}", a.by))))?;
    let reference = DriftReference::for_model(&*super::load_model(paths, model)?);
    let r = reports::build_report(db, &filter, by, &reference)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_text(&r, &filter, by);
        if let Some(review) = &review {
            println!(
                "  {:<16} {}",
                tr!("cli-report-label-review"),
                review.describe()
            );
        }
    }
    if let Some(path) = &a.csv {
        let t = Instant::now();
        let n = reports::export::write_csv(db, &filter, path, &|_| {}, &Default::default())?;
        eprintln!(
            "{}",
            tr!(
                "cli-report-wrote-csv",
                rows = n,
                path = path.display().to_string(),
                seconds = format_decimal(t.elapsed().as_secs_f64(), 2)
            )
        );
    }
    if let Some(path) = &a.pdf {
        let t = Instant::now();
        let meta = reports::pdf::PdfMeta {
            title: tr!("report-title"),
            generated_at_ms: foodqc::store::now_ms(),
            author,
            review: review.as_ref().map(ShiftReviewState::to_pdf),
        };
        let bytes = reports::pdf::write_pdf(db, &r, &meta, path)?;
        eprintln!(
            "{}",
            tr!(
                "cli-report-wrote-pdf",
                path = path.display().to_string(),
                bytes = bytes,
                seconds = format_decimal(t.elapsed().as_secs_f64(), 2)
            )
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
        "{}",
        tr!(
            "cli-report-generated",
            rows = stats.rows,
            lots = stats.lots,
            seconds = format_decimal(stats.seconds, 1),
            bad = stats.bad_lot.to_string(),
            drifting = stats.drift_lot.to_string()
        )
    );
    Ok(())
}

/// Hold or release lot `code` (which must exist), with a non-blank `comment` as the reason
/// of `user`'s signature (a QC manager). Returns the signer's name (the PDF's author).
fn set_lot_status(
    store: &mut Store,
    paths: &AppPaths,
    code: &str,
    status: LotStatus,
    user: Option<&str>,
    comment: &str,
) -> anyhow::Result<String> {
    // The typos first: a lot that does not exist is named before anyone signs in.
    if store.lot_id(code)?.is_none() {
        anyhow::bail!(tr!(
            "cli-report-no-lot",
            code = format!("{code:?}"),
            db = paths.db_path().display().to_string()
        ));
    }
    if comment.trim().is_empty() {
        anyhow::bail!(tr!("cli-report-need-comment", code = code));
    }
    let signed = sign_in(store, user, Some(Permission::HoldReleaseLot))?;
    let sig = lot_decision::decide(
        store,
        &signed.user,
        code,
        status,
        &signed.signature(comment.trim()),
    )?;
    eprintln!(
        "{}",
        tr!(
            "cli-report-lot-now",
            code = code,
            status = reports::lot_status_label(status).to_uppercase(),
            actor = format!("{} ({})", sig.display_name, sig.signer)
        )
    );
    Ok(sig.display_name)
}

/// Hold or release lot `code` of the plant database at every station that has it: `--user`
/// (a QC manager) signs here, and the command goes out through `--kafka` (waiting up to 30 s;
/// what is not sent by then goes at the next publishing start). Returns the signer's name.
fn plant_lot_decision(
    paths: &AppPaths,
    a: &ReportArgs,
    plant: &PlantDb,
    code: &str,
    status: LotStatus,
) -> anyhow::Result<String> {
    let Some(spec) = &a.kafka else {
        anyhow::bail!(tr!("cli-report-plant-needs-kafka"));
    };
    if !plant.filter_value_exists("lot", code)? {
        anyhow::bail!(tr!(
            "cli-report-no-lot",
            code = format!("{code:?}"),
            db = plant.name()
        ));
    }
    let comment = a.comment.as_deref().unwrap_or_default().trim();
    if comment.is_empty() {
        anyhow::bail!(tr!("cli-report-need-comment", code = code));
    }
    let origin = this_pc();
    let mut store = Store::open(&paths.db_path())?;
    // On first, so the decision's own audit entry reaches the plant too.
    store.enable_outbox(&origin)?;
    let signed = sign_in(
        &mut store,
        a.user.as_deref(),
        Some(Permission::HoldReleaseLot),
    )?;
    let (sig, command) = lot_decision::decide_for_plant(
        &mut store,
        &signed.user,
        code,
        status,
        &signed.signature(comment),
        &origin,
    )?;
    drop(store);
    let stats = Publisher::start(paths.db_path(), spec, &origin)?.finish(Duration::from_secs(30));
    eprintln!(
        "{}",
        tr!(
            "cli-report-plant-lot-sent",
            code = code,
            status = reports::lot_status_label(status).to_uppercase(),
            actor = format!("{} ({})", sig.display_name, sig.signer),
            command = command.id,
            pending = stats.pending
        )
    );
    Ok(sig.display_name)
}

/// This PC's name (the origin of what it sends to the plant).
pub(super) fn this_pc() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "plant-qc".to_string())
}

/// Close the report of shift `key` under `user`'s signature (a QC manager), `comment` the
/// reason. Returns the signer's name (the PDF's author).
fn close_shift(
    store: &mut Store,
    key: &ShiftKey,
    user: Option<&str>,
    comment: &str,
) -> anyhow::Result<String> {
    if comment.trim().is_empty() {
        anyhow::bail!(tr!("cli-report-close-needs-shift"));
    }
    let signed = sign_in(store, user, Some(Permission::CloseShiftReport))?;
    let sig = shift_review::close(store, &signed.user, key, &signed.signature(comment.trim()))?;
    eprintln!(
        "{}",
        tr!(
            "cli-report-closed",
            shift = key.record_id(),
            meaning = foodqc::i18n::meaning_label(&sig.meaning),
            who = format!("{} ({})", sig.display_name, sig.signer),
            when = foodqc::i18n::format_datetime(sig.ts_ms)
        )
    );
    Ok(sig.display_name)
}

/// The report as text: totals, p-chart, out-of-control points, Pareto, drift, held lots and
/// query times.
fn print_text(r: &reports::Report, filter: &ReportFilter, by: GroupBy) {
    // A label column of 16 characters, then the value (labels are translated, so padded here).
    let row = |label: String, value: String| println!("  {label:<16} {value}");
    let s = &r.summary;
    println!("{}", tr!("cli-report-title", filter = filter.describe()));
    row(
        tr!("cli-report-label-items"),
        tr!(
            "cli-report-items",
            items = s.items,
            rejects = s.rejects,
            rate = format_percent(s.reject_rate(), 2),
            reviews = s.reviews
        ),
    );
    row(
        tr!("cli-report-label-pchart"),
        tr!(
            "cli-report-pchart",
            points = r.chart.points.len(),
            group = by.selector(),
            centre = format_percent(r.chart.p_bar, 2)
        ),
    );
    for p in r.chart.out_of_control() {
        let rules: Vec<String> = p
            .violations
            .iter()
            .map(|v| v.number().to_string())
            .collect();
        row(
            tr!("cli-report-label-ooc"),
            tr!(
                "cli-report-ooc",
                label = p.label.as_str(),
                rate = format_percent(p.p, 2),
                ucl = format_percent(p.ucl, 2),
                rules = rules.join(",")
            ),
        );
    }
    let pareto: Vec<String> = r
        .pareto
        .iter()
        .map(|b| {
            format!(
                "{} {} ({})",
                foodqc::i18n::class_name(&b.class),
                b.count,
                format_percent(b.share, 0)
            )
        })
        .collect();
    row(tr!("cli-report-label-pareto"), pareto.join(", "));
    let drifting = r.drift.iter().filter(|d| d.drifting).count();
    row(
        tr!("cli-report-label-drift"),
        tr!(
            "cli-report-drift",
            drifting = drifting,
            hours = r.drift.len()
        ),
    );
    row(tr!("cli-report-label-held"), held_lots(r));
    let times: Vec<String> = r
        .timings_ms
        .iter()
        .map(|(q, ms)| {
            let q = reports::query::query_label(q);
            format!("{q} {} ms", format_decimal(*ms, 0))
        })
        .collect();
    row(tr!("cli-report-label-times"), times.join(", "));
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
        tr!("cli-report-none")
    } else {
        held.join(", ")
    }
}
