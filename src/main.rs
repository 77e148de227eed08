//! foodqc command line: no subcommand opens the workstation; subcommands run headless.

mod ui;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::config::AppPaths;
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
    /// Train on a dataset's good images and evaluate on its test images: image and pixel
    /// AUROC, precision/recall/F1, confusion matrix, threshold, timings. Reads MVTec-style
    /// trees: train/good, test*/<class>/, ground_truth/<class>/<name>_mask.png.
    Eval(EvalArgs),
    /// Inspect a few frames and save them with their overlays as PNG files (for checking
    /// what the station sees, documentation and reports).
    Snapshot(SnapshotArgs),
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
    /// Frames to take good items from.
    #[arg(long, default_value_t = 400)]
    frames: u64,
    /// Look at every Nth frame only (on a conveyor an item stays in view for many frames).
    #[arg(long, default_value_t = 1)]
    stride: u64,
    /// Where to write the model.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also check the model against ground truth on this many frames of synthetic:SEED+1000
    /// (only for a synthetic source).
    #[arg(long, default_value_t = 600)]
    eval_frames: u64,
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

fn load_model(path: Option<&PathBuf>) -> anyhow::Result<Arc<AnomalyModel>> {
    Ok(Arc::new(match path {
        Some(p) => AnomalyModel::load(p)?,
        None => AnomalyModel::bundled()?,
    }))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = AppPaths::resolve(cli.data_dir.as_deref())?;
    match cli.command {
        None => {
            let model = load_model(cli.model.as_ref())?;
            let source = cli.source.as_deref().map(str::parse).transpose()?;
            ui::run_gui(paths, model, source)
        }
        Some(Command::Inspect(a)) => inspect(paths, cli.model.as_ref(), a),
        Some(Command::Train(a)) => train(a),
        Some(Command::Snapshot(a)) => snapshot(cli.model.as_ref(), a),
        Some(Command::Eval(a)) => eval(&paths, a),
    }
}

fn inspect(paths: AppPaths, model: Option<&PathBuf>, a: InspectArgs) -> anyhow::Result<()> {
    let model = load_model(model)?;
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

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let spec = a.src.spec()?;
    let mut source = spec.open(&a.src.options(false))?;
    let bar = indicatif::ProgressBar::new(a.frames);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} frames, eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("measuring good items");
    let segment = SegmentConfig::default();
    let good = foodqc::training::collect_good_items(
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
        &TrainOptions::default(),
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
    model.save(&a.out)?;
    let card = a.out.with_extension("card.md");
    std::fs::write(&card, model.card_markdown())
        .with_context(|| format!("cannot write model card {}", card.display()))?;
    println!(
        "model {} written to {} (card: {})",
        model.version,
        a.out.display(),
        card.display()
    );
    Ok(())
}

fn snapshot(model: Option<&PathBuf>, a: SnapshotArgs) -> anyhow::Result<()> {
    let model = load_model(model)?;
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
        let img = foodqc::vision::overlay::draw(&insp, a.heat, model.thresholds.pixel as f32);
        let path = a.out.join(format!("frame-{:05}.png", frame.seq));
        img.save(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let judged: Vec<String> = insp
            .judged()
            .map(|i| {
                format!(
                    "{:.2}{}",
                    i.score.unwrap_or(0.0),
                    if i.verdict == Some(foodqc::model::Verdict::Reject) {
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
    Ok(())
}
