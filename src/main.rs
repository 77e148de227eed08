//! foodqc command line: no subcommand opens the workstation; subcommands run headless.

mod ui;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::AppPaths;
use foodqc::model::{AnomalyModel, TrainOptions};
use foodqc::station::{LotInfo, Station, StationConfig};
use foodqc::vision::SegmentConfig;

/// foodqc: inspection workstation for food processing lines.
///
/// Without a subcommand the workstation window opens (camera 0 if one is attached, else the
/// built-in synthetic line). Subcommands run the same station code without a window.
#[derive(Parser, Debug)]
#[command(name = "foodqc", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Where the database, samples, models and logs live [default: the user data dir,
    /// ~/.local/share/foodqc on Linux].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Model file to judge with [default: the bundled model].
    #[arg(long, global = true, value_name = "FILE")]
    model: Option<PathBuf>,

    /// Frame source for the window: camera:N, folder:PATH or synthetic[:SEED]
    /// [default: camera:0 when a camera is found, else synthetic].
    #[arg(long, value_name = "SPEC")]
    source: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the station headless on a source and record every inspection in the database.
    Inspect(InspectArgs),
    /// Train an anomaly model on the good items of a source (e.g. a folder of good product
    /// photos, or the synthetic line) and save it with its model card.
    Train(TrainArgs),
    /// Capture item crops from the synthetic line into the data folder's samples, labelled
    /// from its ground truth (or not, with --unlabelled): a way to try labelling and
    /// retraining without a camera.
    DemoSamples(DemoSamplesArgs),
    /// Train on a dataset's good images and evaluate on its test images: image and pixel
    /// AUROC, precision/recall/F1, confusion matrix, threshold, timings. Reads MVTec-style
    /// trees: train/good, test*/<class>/, ground_truth/<class>/<name>_mask.png.
    Eval(EvalArgs),
    /// Inspect a few frames and save them with their overlays as PNG files (for checking
    /// what the station sees, documentation and reports).
    Snapshot(SnapshotArgs),
    /// Import images from disk as samples for labelling: files, folders (searched
    /// recursively), MVTec-style trees (labels from train*/test*/<class>/ folders, masks from
    /// ground_truth/<class>/<name>_mask.png) and folders written by `foodqc export` (labels from
    /// their labels.csv). Unreadable files are listed and skipped; images already imported are
    /// not imported twice.
    Import(ImportArgs),
    /// Export the labelled samples as an MVTec-style folder: <label>/<sample id>.png,
    /// ground_truth/<label>/<sample id>_mask.png and labels.csv.
    Export(ExportArgs),
    /// Quality report from the database: totals, p-chart by lot or hour (with the Western
    /// Electric rules), Pareto of defect classes, score drift; optionally written as PDF
    /// and/or CSV. `--generate N` first fills the database with N demo inspections.
    Report(Box<ReportArgs>),
    /// Time every stage of the pipeline (decode, segment, features, score, heat map,
    /// overlay, record) on JPEG bytes in memory: photos of a dataset and 1280x720 frames of
    /// the synthetic line. Prints median and p95 per stage and end to end, frames per second,
    /// training time and peak memory.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// MVTec-style dataset: its test photos are timed and its train/good trained on.
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// Threads to run on (1 = the one-core figure).
    #[arg(long, default_value_t = 1, value_name = "N")]
    threads: usize,
    /// Timed runs per workload (inputs are cycled, after one untimed warm-up pass).
    #[arg(long, default_value_t = 200, value_name = "N")]
    runs: usize,
    /// Times the training on the dataset is repeated (the median is reported).
    #[arg(long, default_value_t = 3, value_name = "N")]
    train_runs: usize,
    /// Also time training from this many labelled samples of the synthetic line (captured
    /// into a scratch database first; 0 = skip).
    #[arg(long, default_value_t = 0, value_name = "N")]
    labelled: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// Image files and folders to import.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Who imports (recorded with the labels and in the audit log) [default: the OS user].
    #[arg(long, value_name = "NAME")]
    actor: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Folder to write (created if missing; must be empty unless --overwrite).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write into a non-empty folder: replace files of the same name and remove the files of
    /// a previous export there that this one does not write again.
    #[arg(long)]
    overwrite: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// Dataset folder (MVTec-style tree).
    #[arg(long, value_name = "DIR")]
    dataset: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Where to save the trained model; its evaluation is written next to it as
    /// `<name>_metrics.json` and `<name>_metrics.txt` [default: DATA_DIR/models/<dataset>.json].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write side-by-side pictures (photo | pixel scores | truth mask) of the test images
    /// that have masks into this folder.
    #[arg(long, value_name = "DIR")]
    previews: Option<PathBuf>,
    /// Also print the operating points on the test scores: the model's threshold, max F1,
    /// the escape-rate target and the false-reject target (confusion, precision, recall, F1).
    #[arg(long)]
    threshold_report: bool,
    /// Escape-rate target for --threshold-report (share of defective items passed).
    #[arg(long, default_value_t = 0.005, value_name = "RATE")]
    target_escape: f64,
    /// False-reject target for --threshold-report (share of good items rejected).
    #[arg(long, default_value_t = 0.01, value_name = "RATE")]
    target_false_reject: f64,
    /// Fail (non-zero exit status) when a measure is below its floor, e.g.
    /// `--require image-auroc=0.995`. Measures: image-auroc, pixel-auroc, pixel-auroc-item,
    /// grade-macro-f1, good-vs-rotten-accuracy. Repeat for several.
    #[arg(long, value_name = "NAME=MIN")]
    require: Vec<foodqc::eval::gate::Requirement>,
}

#[derive(Args, Debug)]
struct SnapshotArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Frames to save.
    #[arg(long, default_value_t = 1)]
    frames: u64,
    /// Skip this many frames first.
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// Folder to write `frame-<seq>.png` into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Draw the heat map too.
    #[arg(long)]
    heat: bool,
}

#[derive(Args, Debug)]
struct SourceArgs {
    /// camera:N, folder:PATH or synthetic[:SEED].
    #[arg(long, default_value = "synthetic", value_name = "SPEC")]
    source: String,
    /// Frame width for cameras and the synthetic line.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    /// Frame height for cameras and the synthetic line.
    #[arg(long, default_value_t = 720)]
    height: u32,
    /// Frames per second (pacing with --live, camera request).
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
}

impl SourceArgs {
    fn spec(&self) -> anyhow::Result<SourceSpec> {
        Ok(self.source.parse()?)
    }

    fn options(&self, loop_folder: bool) -> SourceOptions {
        SourceOptions {
            width: self.width,
            height: self.height,
            fps: self.fps,
            loop_folder,
        }
    }
}

#[derive(Args, Debug)]
struct InspectArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Stop after N frames (a folder stops at its end anyway).
    #[arg(long, value_name = "N")]
    frames: Option<u64>,
    /// Lot code to record under.
    #[arg(long, default_value = "DEMO-LOT")]
    lot: String,
    /// Product of the lot.
    #[arg(long, default_value = "cookies")]
    product: String,
    /// Production line.
    #[arg(long, default_value = "line 1")]
    line: String,
    /// Shift.
    #[arg(long, default_value = "A")]
    shift: String,
    /// Station name (one per line PC / camera).
    #[arg(long, default_value = "station-1")]
    station: String,
    /// Pace to the source FPS and drop frames when behind, as on a live line (default:
    /// inspect every frame as fast as possible).
    #[arg(long)]
    live: bool,
    /// Replay a folder again from the start when it ends (needs --frames to stop).
    #[arg(long = "loop")]
    loop_folder: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Frames to take good items from (with --out).
    #[arg(long, default_value_t = 400)]
    frames: u64,
    /// Look at every Nth frame only (on a conveyor an item stays in view for many frames).
    #[arg(long, default_value_t = 1)]
    stride: u64,
    /// Train on the good items of --source and write the model to FILE. Without --out, train
    /// on the labelled samples of the data folder and register a new model version there.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also check the model against ground truth on this many frames of synthetic:SEED+1000
    /// (with --out and a synthetic source).
    #[arg(long, default_value_t = 600)]
    eval_frames: u64,
    /// Make the new version the live model (labelled-sample training only).
    #[arg(long)]
    promote: bool,
    /// Who is training (for the audit log); defaults to the OS user.
    #[arg(long)]
    actor: Option<String>,
}

#[derive(Args, Debug)]
struct DemoSamplesArgs {
    /// Samples to capture.
    #[arg(long, default_value_t = 40)]
    count: usize,
    /// Seed of the synthetic line.
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// Leave the samples unlabelled (for the labelling queue).
    #[arg(long)]
    unlabelled: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wgpu=warn,eframe=warn,egui_glow=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The model to run: `--model FILE` if given, else the data folder's active (promoted)
/// version, else the bundled default. A promoted file that cannot be loaded is reported and
/// the bundled model is used, so the line keeps running.
fn load_model(paths: &AppPaths, path: Option<&PathBuf>) -> anyhow::Result<Arc<AnomalyModel>> {
    if let Some(p) = path {
        return Ok(Arc::new(AnomalyModel::load(p)?));
    }
    if paths.db_path().is_file() {
        let active = foodqc::store::Store::open(&paths.db_path()).and_then(|s| s.active_model());
        match active {
            Ok(Some(row)) => match foodqc::training::job::load_version(&row.path, &row.version) {
                Ok(m) => return Ok(Arc::new(m)),
                Err(e) => tracing::error!(
                    "the promoted model {} cannot be used ({e}); running the bundled model",
                    row.version
                ),
            },
            Ok(None) => {}
            Err(e) => tracing::error!("cannot read the active model: {e}"),
        }
    }
    Ok(Arc::new(AnomalyModel::bundled()?))
}

pub use foodqc::labeling::import::os_user;

fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = AppPaths::resolve(cli.data_dir.as_deref())?;
    match cli.command {
        None => {
            let model = load_model(&paths, cli.model.as_ref())?;
            let source = cli.source.as_deref().map(str::parse).transpose()?;
            ui::run_gui(paths, model, source)
        }
        Some(Command::Inspect(a)) => inspect(paths, cli.model.as_ref(), a),
        Some(Command::Train(a)) => match a.out.clone() {
            Some(out) => train(a, out),
            None => train_from_labels(&paths, cli.model.as_ref(), a),
        },
        Some(Command::Snapshot(a)) => snapshot(&paths, cli.model.as_ref(), a),
        Some(Command::Eval(a)) => eval(&paths, a),
        Some(Command::DemoSamples(a)) => demo_samples(&paths, a),
        Some(Command::Import(a)) => import(&paths, a),
        Some(Command::Export(a)) => export(&paths, a),
        Some(Command::Report(a)) => report(&paths, cli.model.as_ref(), *a),
        Some(Command::Bench(a)) => bench(a),
    }
}

fn bench(a: BenchArgs) -> anyhow::Result<()> {
    let opts = foodqc::bench::BenchOptions {
        dataset: a.dataset,
        threads: a.threads,
        runs: a.runs,
        train_runs: a.train_runs,
        labelled: a.labelled,
        ..Default::default()
    };
    let report = foodqc::bench::run(&opts, &|msg| tracing::info!("{msg}"))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// A progress bar over files for import and export (drawn on stderr, hidden when not a TTY).
fn file_bar(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} [{{bar:40}}] {{pos}}/{{len}} files, eta {{eta}} {{wide_msg}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn update_bar(bar: &indicatif::ProgressBar, p: foodqc::labeling::Progress<'_>) {
    bar.set_length(p.total as u64);
    bar.set_position(p.done as u64);
    if let Some(name) = p.current.and_then(|c| c.file_name()) {
        bar.set_message(name.to_string_lossy().into_owned());
    }
}

fn import(paths: &AppPaths, a: ImportArgs) -> anyhow::Result<()> {
    let actor = a.actor.unwrap_or_else(foodqc::labeling::import::os_user);
    let mut store = foodqc::store::Store::open(&paths.db_path())?;
    let bar = file_bar("importing");
    let never = std::sync::atomic::AtomicBool::new(false);
    let report = foodqc::labeling::import_paths(
        &mut store,
        &paths.samples_dir(),
        &a.paths,
        &actor,
        &never,
        &mut |p| update_bar(&bar, p),
    )?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
        println!("database {}", paths.db_path().display());
    }
    if report.all_failed() {
        anyhow::bail!(
            "every file failed to import ({} files)",
            report.failed.len()
        );
    }
    if report.found == 0 && report.failed.is_empty() {
        anyhow::bail!("no PNG or JPEG image found in the given paths");
    }
    Ok(())
}

fn export(paths: &AppPaths, a: ExportArgs) -> anyhow::Result<()> {
    let store = foodqc::store::Store::open(&paths.db_path())?;
    if store.labelled_samples()?.is_empty() {
        anyhow::bail!(
            "database {} has no labelled samples; nothing to export",
            paths.db_path().display()
        );
    }
    let bar = file_bar("exporting");
    let never = std::sync::atomic::AtomicBool::new(false);
    let report =
        foodqc::labeling::export_labelled(&store, &a.out, a.overwrite, &never, &mut |p| {
            update_bar(&bar, p)
        })?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if report.exported == 0 {
        anyhow::bail!("no labelled sample could be exported");
    }
    Ok(())
}

fn inspect(paths: AppPaths, model: Option<&PathBuf>, a: InspectArgs) -> anyhow::Result<()> {
    let model = load_model(&paths, model)?;
    let spec = a.src.spec()?;
    if a.loop_folder && a.frames.is_none() {
        anyhow::bail!("--loop replays forever: give --frames N to stop");
    }
    let cfg = StationConfig {
        station_name: a.station.clone(),
        source: spec.clone(),
        source_options: a.src.options(a.loop_folder),
        lot: LotInfo {
            code: a.lot.clone(),
            product: a.product.clone(),
            line: a.line.clone(),
            shift: a.shift.clone(),
        },
        live: a.live,
        max_frames: a.frames,
        paths: paths.clone(),
        reject_samples_per_minute: 60,
    };
    let started = Instant::now();
    let station = Station::start(cfg, model.clone())?;
    if let Some(c) = foodqc::training::job::classifier_for_version(&paths.db_path(), &model.version)
    {
        station.send(foodqc::station::StationCommand::SetClassifier(Some(c)));
    }
    let stats = station.wait()?;
    let wall = started.elapsed().as_secs_f64();
    let times: Vec<f64> = stats.recent_inspect_ms.iter().copied().collect();
    let pct = |q: f64| foodqc::model::metrics::quantile(&times, q);
    let summary = serde_json::json!({
        "source": spec.to_string(),
        "model": model.version,
        "lot": a.lot,
        "frames": stats.frames_inspected,
        "frames_dropped": stats.frames_dropped,
        "files_skipped": stats.skipped_files,
        "items": stats.items,
        "rejects": stats.rejects,
        "reject_rate": stats.reject_rate(),
        "recorded": stats.recorder.recorded,
        "wall_seconds": wall,
        "frames_per_second": stats.frames_inspected as f64 / wall.max(1e-9),
        "inspect_ms_median": pct(0.5),
        "inspect_ms_p95": pct(0.95),
        "database": paths.db_path().display().to_string(),
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("foodqc inspect: {}", spec);
        println!("  model            {}", model.version);
        println!("  lot              {}", a.lot);
        println!(
            "  frames           {} inspected, {} dropped, {} files skipped",
            stats.frames_inspected, stats.frames_dropped, stats.skipped_files
        );
        println!(
            "  items            {} judged, {} rejected ({:.1} %)",
            stats.items,
            stats.rejects,
            100.0 * stats.reject_rate()
        );
        println!("  recorded         {} rows", stats.recorder.recorded);
        println!(
            "  speed            {:.1} frames/s over {:.2} s; inspection {:.2} ms median, {:.2} ms p95",
            stats.frames_inspected as f64 / wall.max(1e-9),
            wall,
            pct(0.5),
            pct(0.95)
        );
        println!("  database         {}", paths.db_path().display());
    }
    if stats.frames_inspected == 0 {
        anyhow::bail!("no frame could be inspected from {spec}");
    }
    Ok(())
}

fn demo_samples(paths: &AppPaths, a: DemoSamplesArgs) -> anyhow::Result<()> {
    let mut store = foodqc::store::Store::open(&paths.db_path())?;
    let mut source = SourceSpec::Synthetic { seed: a.seed }.open(&SourceOptions::default())?;
    let actor = os_user();
    let ids = foodqc::training::capture_truth_samples(
        source.as_mut(),
        &SegmentConfig::default(),
        &mut store,
        &paths.samples_dir(),
        a.count,
        (!a.unlabelled).then_some(actor.as_str()),
    )?;
    println!(
        "{} samples captured into {} ({})",
        ids.len(),
        paths.samples_dir().display(),
        if a.unlabelled {
            "unlabelled"
        } else {
            "labelled from the synthetic ground truth"
        }
    );
    Ok(())
}

/// Train on the labelled samples of the data folder, register the version, maybe promote it.
fn train_from_labels(
    paths: &AppPaths,
    model: Option<&PathBuf>,
    a: TrainArgs,
) -> anyhow::Result<()> {
    use foodqc::training::job::{TrainJob, TrainJobConfig};
    let actor = a.actor.clone().unwrap_or_else(os_user);
    let cfg = TrainJobConfig {
        db_path: paths.db_path(),
        models_dir: paths.models_dir(),
        base: load_model(paths, model)?,
        options: TrainOptions::default(),
        actor: actor.clone(),
        threads: None,
    };
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len}, eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let job = TrainJob::spawn(cfg, || {})?;
    let mut job = job;
    let outcome = loop {
        if let Some(p) = job.progress() {
            bar.set_message(p.stage.title());
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        }
        if let Some(r) = job.try_finish() {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    bar.finish_and_clear();
    let outcome = outcome?;
    println!(
        "model {} trained in {:.1} s from {}",
        outcome.version,
        outcome.seconds,
        paths.db_path().display()
    );
    for (k, v) in &outcome.metrics {
        println!("  {k:24} {v:.4}");
    }
    for (p, why) in &outcome.skipped {
        println!("  skipped {}: {why}", p.display());
    }
    println!(
        "  file                     {}",
        outcome.model_path.display()
    );
    if a.promote {
        let mut store = foodqc::store::Store::open(&paths.db_path())?;
        store.set_active_model(outcome.version_id, &actor)?;
        println!("promoted {} to live", outcome.version);
    } else {
        println!("not promoted (use --promote, or the Train tab)");
    }
    Ok(())
}

fn train(a: TrainArgs, out: PathBuf) -> anyhow::Result<()> {
    let spec = a.src.spec()?;
    let mut source = spec.open(&a.src.options(false))?;
    let bar = indicatif::ProgressBar::new(a.frames);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} frames, eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("measuring good items");
    let segment = SegmentConfig::default();
    let (good, binning) = foodqc::training::collect_good_items(
        source.as_mut(),
        a.frames,
        a.stride,
        &segment,
        &|done, _| bar.set_position(done),
        &|| false,
    )?;
    bar.finish_and_clear();
    println!("{} good items from {}", good.len(), source.describe());
    let mut model = AnomalyModel::train(
        &good,
        segment,
        &TrainOptions {
            binning: Some(binning),
            ..TrainOptions::default()
        },
        &source.describe(),
        &|| false,
    )?;
    if let SourceSpec::Synthetic { seed } = spec
        && a.eval_frames > 0
    {
        let eval_spec = SourceSpec::Synthetic { seed: seed + 1000 };
        let mut eval_source = eval_spec.open(&a.src.options(false))?;
        let r = foodqc::training::evaluate_on_truth(
            Arc::new(model.clone()),
            eval_source.as_mut(),
            a.eval_frames,
            a.stride,
        )?;
        let m = &mut model.card.metrics;
        m.insert("eval_items".into(), r.items as f64);
        m.insert("eval_defective".into(), r.defective as f64);
        m.insert("eval_recall".into(), r.confusion.recall());
        m.insert(
            "eval_false_reject_rate".into(),
            r.confusion.false_reject_rate(),
        );
        m.insert("eval_precision".into(), r.confusion.precision());
        if let Some(auc) = r.auroc {
            m.insert("eval_auroc".into(), auc);
        }
        model.card.notes.push(format!(
            "eval_* metrics: every {}th of {} frames of {} (ground truth of the synthetic line, items never seen in training)",
            a.stride, a.eval_frames, eval_spec
        ));
        println!(
            "ground truth check on {eval_spec}: {} items, {} defective; recall {:.3}, false rejects {:.3}, AUROC {:.4}",
            r.items,
            r.defective,
            r.confusion.recall(),
            r.confusion.false_reject_rate(),
            r.auroc.unwrap_or(f64::NAN)
        );
    }
    model.save(&out)?;
    let card = out.with_extension("card.md");
    std::fs::write(&card, model.card_markdown())
        .with_context(|| format!("cannot write model card {}", card.display()))?;
    println!(
        "model {} written to {} (card: {})",
        model.version,
        out.display(),
        card.display()
    );
    Ok(())
}

fn snapshot(paths: &AppPaths, model: Option<&PathBuf>, a: SnapshotArgs) -> anyhow::Result<()> {
    let model = load_model(paths, model)?;
    let spec = a.src.spec()?;
    let mut source = spec.open(&a.src.options(false))?;
    let mut inspector = foodqc::inspect::Inspector::new(model.clone());
    let mut tracker = foodqc::station::tracker::Tracker::new();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut saved = 0;
    while saved < a.frames {
        let Some(frame) = source.next_frame()? else {
            break;
        };
        let continuous = source.is_continuous();
        let mut insp = inspector.inspect(
            frame.seq,
            frame.captured_at,
            Arc::new(frame.image),
            frame.origin,
            !continuous,
        );
        if continuous {
            tracker.update(&mut insp.items);
        }
        if frame.seq < a.skip {
            continue;
        }
        let img = foodqc::inspect::overlay::draw(&insp, a.heat, model.thresholds.pixel as f32);
        let path = a.out.join(format!("frame-{:05}.png", frame.seq));
        img.save(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let judged: Vec<String> = insp
            .judged()
            .map(|i| {
                format!(
                    "{:.2}{}",
                    i.score.unwrap_or(0.0),
                    if i.verdict == Some(foodqc::domain::Verdict::Reject) {
                        "R"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        println!(
            "{} {} items [{}] {:.1} ms (segment {:.1} ms)",
            path.display(),
            insp.items.len(),
            judged.join(" "),
            insp.timings.total_ms,
            insp.timings.segment_ms
        );
        saved += 1;
    }
    Ok(())
}

fn eval(paths: &AppPaths, a: EvalArgs) -> anyhow::Result<()> {
    for (name, v) in [
        ("--target-escape", a.target_escape),
        ("--target-false-reject", a.target_false_reject),
    ] {
        if !(0.0..=1.0).contains(&v) {
            anyhow::bail!("{name} must be a share between 0 and 1, got {v}");
        }
    }
    let ds = foodqc::eval::Dataset::open(&a.dataset)?;
    let bar = indicatif::ProgressBar::new(ds.train_good.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} images")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (report, model) = foodqc::eval::evaluate(
        &ds,
        &SegmentConfig::default(),
        &TrainOptions::default(),
        a.previews.as_deref(),
        &|done, total, stage| {
            bar.set_length(total as u64);
            bar.set_message(stage.to_string());
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    let out = match a.out {
        Some(p) => p,
        None => {
            let name = a
                .dataset
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "dataset".into());
            paths.models_dir().join(format!("{name}.json"))
        }
    };
    model.save(&out)?;
    let stem = out.with_extension("");
    let json = serde_json::to_string_pretty(&report)?;
    let text = report.to_text();
    let metrics_json = PathBuf::from(format!("{}_metrics.json", stem.display()));
    let metrics_txt = PathBuf::from(format!("{}_metrics.txt", stem.display()));
    std::fs::write(&metrics_json, &json)
        .with_context(|| format!("cannot write {}", metrics_json.display()))?;
    std::fs::write(&metrics_txt, &text)
        .with_context(|| format!("cannot write {}", metrics_txt.display()))?;
    let scores_path = foodqc::model::operating::ScoreFile::path_for_model(&out);
    report.score_file().save(&scores_path)?;
    let operating = a.threshold_report.then(|| {
        foodqc::model::operating::threshold_report(
            &report.scores,
            model.thresholds.reject,
            a.target_escape,
            a.target_false_reject,
        )
    });
    if a.json {
        println!("{json}");
        if let Some(op) = &operating {
            eprint!("{op}");
        }
    } else {
        print!("{text}");
        if let Some(op) = &operating {
            print!("\n{op}");
        }
        println!(
            "\nmodel saved to {} (metrics: {}, test scores: {})",
            out.display(),
            metrics_txt.display(),
            scores_path.display()
        );
    }
    let misses = foodqc::eval::gate::check(&report, &a.require);
    if !misses.is_empty() {
        let list: Vec<String> = misses.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "{} of {} quality gates missed on {}: {}",
            misses.len(),
            a.require.len(),
            a.dataset.display(),
            list.join("; ")
        );
    }
    if !a.require.is_empty() {
        eprintln!("all {} quality gates met", a.require.len());
    }
    Ok(())
}

#[derive(Args, Debug)]
struct ReportArgs {
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

fn report(paths: &AppPaths, model: Option<&PathBuf>, a: ReportArgs) -> anyhow::Result<()> {
    use foodqc::reports::{self, ReportFilter, drift::DriftReference, filter::parse_time};
    let mut store = foodqc::store::Store::open(&paths.db_path())?;
    if let Some(rows) = a.generate {
        let opts = reports::demo::GenerateOptions {
            rows,
            ..Default::default()
        };
        let bar = indicatif::ProgressBar::new(rows);
        let stats = reports::demo::generate(&mut store, Some(&paths.samples_dir()), &opts, &|n| {
            bar.set_position(n)
        })?;
        bar.finish_and_clear();
        eprintln!(
            "generated {} inspections in {} lots in {:.1} s (bad lot {}, drifting lot {})",
            stats.rows, stats.lots, stats.seconds, stats.bad_lot, stats.drift_lot
        );
    }
    let disposition = match (&a.hold, &a.release) {
        (Some(code), _) => Some((code, foodqc::store::LotStatus::Hold)),
        (None, Some(code)) => Some((code, foodqc::store::LotStatus::Released)),
        (None, None) => None,
    };
    if let Some((code, status)) = disposition {
        let id: i64 = store.lot_id(code)?.ok_or_else(|| {
            anyhow::anyhow!("lot {code:?} is not in {}", paths.db_path().display())
        })?;
        let actor = a
            .actor
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "qc".into());
        let comment = a.comment.clone().unwrap_or_default();
        if comment.trim().is_empty() {
            anyhow::bail!("--comment must say why lot {code} is held or released");
        }
        store.set_lot_status(id, status, &actor, comment.trim())?;
        eprintln!(
            "lot {code} is now {} (by {actor})",
            status.as_str().to_uppercase()
        );
    }
    let time = |s: &Option<String>| s.as_deref().map(parse_time).transpose();
    let filter = ReportFilter {
        from_ms: time(&a.from)?,
        to_ms: time(&a.to)?,
        station: a.station,
        line: a.line,
        lot: a.lot,
        product: a.product,
        shift: a.shift,
        verdict: a.verdict,
        defect_class: a.defect,
        model_version: a.model_version,
    };
    let by = reports::GroupBy::parse(&a.by)
        .ok_or_else(|| anyhow::anyhow!("--by {:?}: use lot, hour, shift or station", a.by))?;
    let reference = DriftReference::for_model(&*load_model(paths, model)?);
    let r = reports::build_report(&store, &filter, by, &reference)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
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
        let held: Vec<&str> = r
            .lots
            .iter()
            .filter(|l| l.status == foodqc::store::LotStatus::Hold)
            .map(|l| l.code.as_str())
            .collect();
        println!(
            "  lots on hold     {}",
            if held.is_empty() {
                "none".to_string()
            } else {
                held.join(", ")
            }
        );
        let times: Vec<String> = r
            .timings_ms
            .iter()
            .map(|(q, ms)| format!("{q} {ms:.0} ms"))
            .collect();
        println!("  query times      {}", times.join(", "));
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
            author: std::env::var("USER").unwrap_or_else(|_| "foodqc".into()),
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
