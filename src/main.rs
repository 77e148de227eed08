//! foodqc command line: no subcommand opens the workstation; subcommands run headless.

mod cli;
mod ui;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use foodqc::domain::AppPaths;
use foodqc::i18n::Language;
use foodqc::tr;

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
    /// [default: camera:0 when a camera is found, else synthetic]; repeat it to watch several
    /// cameras in a grid.
    #[arg(long, value_name = "SPEC")]
    source: Vec<String>,

    /// Send the window's decisions to a PLC: modbus-tcp://HOST:PORT[?unit=N] (repeatable).
    #[arg(long, value_name = "URL", value_parser = cli::inspect::parse_plc)]
    plc: Vec<foodqc::lineio::LineOutputSpec>,

    /// Publish the window's items, alarms and state to an MQTT broker:
    /// mqtt://HOST:PORT[/PREFIX] (repeatable).
    #[arg(long, value_name = "URL", value_parser = cli::inspect::parse_mqtt)]
    mqtt: Vec<foodqc::lineio::LineOutputSpec>,

    /// Language of the window, messages, help and reports: en or es [default: from the
    /// locale, LC_ALL / LC_MESSAGES / LANG; in the window, the language last chosen there].
    #[arg(long, global = true, value_name = "LANG")]
    lang: Option<Language>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the station headless on a source and record every inspection in the database.
    Inspect(cli::inspect::InspectArgs),
    /// Train an anomaly model on the good items of a source (e.g. a folder of good product
    /// photos, or the synthetic line) and save it with its model card.
    Train(cli::train::TrainArgs),
    /// Capture item crops from the synthetic line into the data folder's samples, labelled
    /// from its ground truth (or not, with --unlabelled): a way to try labelling and
    /// retraining without a camera.
    DemoSamples(cli::demo_samples::DemoSamplesArgs),
    /// Train on a dataset's good images and evaluate on its test images: image and pixel
    /// AUROC, precision/recall/F1, confusion matrix, threshold, timings. Reads MVTec-style
    /// trees: train/good, test*/<class>/, ground_truth/<class>/<name>_mask.png.
    Eval(cli::eval::EvalArgs),
    /// Inspect a few frames and save them with their overlays as PNG files (for checking
    /// what the station sees, documentation and reports).
    Snapshot(cli::snapshot::SnapshotArgs),
    /// Import images from disk as samples for labelling: files, folders (searched
    /// recursively), MVTec-style trees (labels from train*/test*/<class>/ folders, masks from
    /// ground_truth/<class>/<name>_mask.png) and folders written by `foodqc export` (labels from
    /// their labels.csv). Unreadable files are listed and skipped; images already imported are
    /// not imported twice.
    Import(cli::import::ImportArgs),
    /// Export the labelled samples as an MVTec-style folder: <label>/<sample id>.png,
    /// ground_truth/<label>/<sample id>_mask.png and labels.csv.
    Export(cli::export::ExportArgs),
    /// Quality report from the database: totals, p-chart by lot or hour (with the Western
    /// Electric rules), Pareto of defect classes, score drift; optionally written as PDF
    /// and/or CSV. `--generate N` first fills the database with N demo inspections.
    Report(Box<cli::report::ReportArgs>),
    /// Time every stage of the pipeline (decode, segment, features, score, heat map,
    /// overlay, record) on JPEG bytes in memory: photos of a dataset and 1280x720 frames of
    /// the synthetic line. Prints median and p95 per stage and end to end, frames per second,
    /// training time and peak memory.
    Bench(cli::bench::BenchArgs),
    /// Run the live station on the synthetic line at its frame rate for N minutes, recording
    /// every inspection, sampling memory, rows and the recorder queue: prints the memory
    /// slope and the rows lost (fails when a judged item is not in the database).
    Soak(cli::soak::SoakArgs),
    /// Simulated hours of production through the real inspector and the report's alarm rules
    /// (p-chart run rules, score drift): how often they fire on a stable line, and how soon a
    /// dimming lamp is caught.
    Alarms(cli::alarms::AlarmsArgs),
    /// Write a consistent copy of the database (SQLite's online backup API; the station may
    /// keep recording). A daily copy is also kept in <data dir>/backups (the last 7).
    Backup(cli::backup::BackupArgs),
    /// Replace the database by a backup (checked first: a damaged or non-foodqc file is
    /// refused); the database replaced is kept beside it.
    Restore(cli::backup::RestoreArgs),
    /// Manage the station's users: add, list, disable, set a password. Passwords come from a
    /// prompt, FOODQC_PASSWORD or --password-file, never from the command line.
    User(cli::user::UserArgs),
    /// The tamper-evident audit trail: `verify` walks the hash chains of the audit log and the
    /// inspections (exits non-zero naming the first broken entry or batch), `list` shows the
    /// audit log, `export` writes an extract a QC manager signs as reviewed (PDF, CSV).
    Audit(cli::audit::AuditArgs),
    /// Model versions on the line: a data scientist proposes, a QC manager approves (two
    /// signatures), roll back, list; `compare` a candidate with the live model on the
    /// labelled samples neither trained on (exits 3 when the acceptance criteria block it),
    /// `criteria` shows or sets the acceptance criteria (QC manager).
    Model(cli::model::ModelArgs),
    /// Encrypt the database with the key from FOODQC_DB_KEY or FOODQC_DB_KEY_FILE (on a
    /// terminal, a passphrase typed twice); its plain daily backups are encrypted too. The
    /// station and the workstation must be stopped.
    Encrypt(cli::encrypt::EncryptArgs),
    /// Recipes, the product setups a line switches between at a changeover: `save` (from the
    /// running setup), `list`, `export` and `import` as a JSON file. Saving and importing are
    /// a QC manager's; `inspect --recipe NAME` runs one, the PLC's recipe register selects one.
    Recipe(cli::recipe::RecipeArgs),
    /// Play the PLC for a station when there is none: a Modbus TCP server with the station's
    /// register map that acks each decision and fires a simulated ejector; prints fired, late
    /// and missed rejects.
    LineSim(cli::line_sim::LineSimArgs),
    /// Collect every station's records from the plant's Kafka into PostgreSQL (run several:
    /// the topics' partitions are shared among them).
    Plant(cli::plant::PlantArgs),
    /// Plant signing keys: `show` this PC's (it seals the lot decisions and model releases
    /// made here), `trust`, `list` and `revoke` the keys whose messages this station applies.
    Keys(cli::keys::KeysArgs),
}

fn main() -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // The language is needed before clap parses: its help texts are translated too.
    foodqc::i18n::set_language(language_of(&args).unwrap_or_else(Language::from_environment));
    let matches = cli::help::localize(Cli::command())
        .try_get_matches_from(&args)
        .unwrap_or_else(|e| cli::help::exit(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| cli::help::exit(e));
    init_logging();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Already printed with its shortfalls: not an error, a decision scripts can read.
        Err(e) if e.is::<cli::model::Blocked>() => {
            std::process::ExitCode::from(cli::model::BLOCKED_EXIT)
        }
        Err(e) => {
            eprintln!("{}", tr!("cli-error", error = format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The language `--lang X` or `--lang=X` names on the command line, if any and valid (an
/// invalid one is left for clap to report).
fn language_of(args: &[OsString]) -> Option<Language> {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let value = args.iter().enumerate().find_map(|(i, a)| {
        if *a == "--lang" {
            args.get(i + 1).copied()
        } else {
            a.strip_prefix("--lang=")
        }
    })?;
    value.parse().ok()
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

/// Resolve the data folder, then run the window or the subcommand.
fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = AppPaths::resolve(cli.data_dir.as_deref())?;
    let model = cli.model.as_deref();
    match cli.command {
        None => {
            let mut sources = cli
                .source
                .iter()
                .map(|s| s.parse::<foodqc::capture::SourceSpec>())
                .collect::<Result<Vec<_>, _>>()?
                .into_iter();
            let source = sources.next();
            let more_sources: Vec<_> = sources.collect();
            // Loaded once the database can be read (an encrypted one asks for its key first).
            let explicit = model.map(std::path::Path::to_path_buf);
            let load_model =
                Box::new(move |paths: &AppPaths| cli::load_model(paths, explicit.as_deref()));
            let line = ui::LineChoice {
                source,
                more_sources,
                outputs: cli.plc.into_iter().chain(cli.mqtt).collect(),
            };
            ui::run_gui(paths, load_model, line, cli.lang)
        }
        Some(Command::Inspect(a)) => cli::inspect::run(&paths, model, a),
        Some(Command::LineSim(a)) => cli::line_sim::run(a),
        Some(Command::Plant(a)) => cli::plant::run(a),
        Some(Command::Keys(a)) => cli::keys::run(&paths, a),
        Some(Command::Train(a)) => cli::train::run(&paths, model, a),
        Some(Command::Snapshot(a)) => cli::snapshot::run(&paths, model, a),
        Some(Command::Eval(a)) => cli::eval::run(&paths, a),
        Some(Command::DemoSamples(a)) => cli::demo_samples::run(&paths, a),
        Some(Command::Import(a)) => cli::import::run(&paths, a),
        Some(Command::Export(a)) => cli::export::run(&paths, a),
        Some(Command::Report(a)) => cli::report::run(&paths, model, *a),
        Some(Command::Bench(a)) => cli::bench::run(a),
        Some(Command::Soak(a)) => cli::soak::run(&paths, model, a),
        Some(Command::Alarms(a)) => cli::alarms::run(&paths, model, a),
        Some(Command::Backup(a)) => cli::backup::backup(&paths, a),
        Some(Command::Restore(a)) => cli::backup::restore(&paths, a),
        Some(Command::User(a)) => cli::user::run(&paths, a),
        Some(Command::Audit(a)) => cli::audit::run(&paths, a),
        Some(Command::Model(a)) => cli::model::run(&paths, model, a),
        Some(Command::Encrypt(a)) => cli::encrypt::run(&paths, a),
        Some(Command::Recipe(a)) => cli::recipe::run(&paths, model, a),
    }
}
