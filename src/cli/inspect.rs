//! `foodqc inspect`: the station headless on a source, every inspection recorded.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

use foodqc::domain::{AppPaths, Permission};
use foodqc::lineio::LineOutputSpec;
use foodqc::plant::{CommandListener, KafkaSpec, PlantEvent, Publisher, PublisherStats};
use foodqc::services::model_choice;
use foodqc::station::{LotInfo, Station, StationCommand, StationConfig, StationStats};
use foodqc::tr;

use super::row;
use super::source::SourceArgs;

/// Arguments of `foodqc inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
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
    /// Run as this account, e.g. a service account made with `foodqc user add line-1 --role
    /// operator --service`; its password from FOODQC_ACTOR_PASSWORD or
    /// FOODQC_ACTOR_PASSWORD_FILE. Without it the station records as itself (its name).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Send every decision to a PLC: modbus-tcp://HOST:PORT[?unit=N] (repeatable). The
    /// register map is in the README; `foodqc line-sim` plays the PLC.
    #[arg(long, value_name = "URL", value_parser = parse_plc)]
    plc: Vec<LineOutputSpec>,
    /// Publish every item, the alarms and the station's state to an MQTT broker:
    /// mqtt://HOST:PORT[/PREFIX] (repeatable). Topics PREFIX/STATION/items, /alarms and /state
    /// (retained); the message format is in the README.
    #[arg(long, value_name = "URL", value_parser = parse_mqtt)]
    mqtt: Vec<LineOutputSpec>,
    /// Reject on doubt: items in the review band (and unscored ones) go to the PLC as rejects;
    /// the database keeps the model's verdict.
    #[arg(long)]
    reject_on_doubt: bool,
    /// Judge with this recipe (its newest version: model, thresholds, reject on doubt); see
    /// `foodqc recipe`.
    #[arg(long, value_name = "NAME")]
    recipe: Option<String>,
    /// Publish every inspection and audit entry to the plant's Kafka: HOST:PORT[,HOST:PORT].
    /// Records go to an outbox in the same transaction; a broker away lets it grow, and it
    /// drains when the broker is back.
    #[arg(long, value_name = "BROKERS", value_parser = KafkaSpec::parse)]
    kafka: Option<KafkaSpec>,
    /// With --kafka, also send the crop of each reject as JPEG to the topic foodqc.rejects,
    /// when it is at most this many KiB (1 to 900; a larger one is not sent and counted).
    #[arg(long, value_name = "KIB", requires = "kafka", value_parser = clap::value_parser!(u32).range(1..=900))]
    kafka_crops: Option<u32>,
    /// Serve /metrics (Prometheus) and /healthz on this address, e.g. 0.0.0.0:9186.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

/// What `/healthz` says: the reason the line is not healthy, or none.
type HealthState = Arc<std::sync::Mutex<Option<String>>>;

/// Serve `/metrics` and `/healthz` on `--metrics`, when given; the health it reports is set
/// by [`Monitoring::sample`].
struct Monitoring {
    _server: foodqc::monitor::MetricsServer,
    health: HealthState,
    last_sample: Instant,
    last_frames: Vec<(u64, Instant)>,
}

impl Monitoring {
    fn start(a: &InspectArgs) -> anyhow::Result<Option<Monitoring>> {
        let Some(addr) = a.metrics else {
            return Ok(None);
        };
        let health: HealthState = Arc::new(std::sync::Mutex::new(Some(tr!("monitor-starting"))));
        let check = {
            let health = health.clone();
            Arc::new(
                move || match &*health.lock().unwrap_or_else(|e| e.into_inner()) {
                    Some(reason) => Err(reason.clone()),
                    None => Ok(()),
                },
            )
        };
        Ok(Some(Monitoring {
            _server: foodqc::monitor::MetricsServer::start(addr, check)?,
            health,
            last_sample: Instant::now(),
            last_frames: Vec::new(),
        }))
    }

    /// Every half second: the stations' counters into the metrics, and the health (a camera
    /// lost, or no frame judged for 2 s while running, is unhealthy).
    fn sample(&mut self, names: &[String], stats: &[StationStats], plant: Option<&Publisher>) {
        if self.last_sample.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last_sample = Instant::now();
        self.last_frames.resize(stats.len(), (0, Instant::now()));
        let mut problem = None;
        for ((name, s), last) in names.iter().zip(stats).zip(&mut self.last_frames) {
            let station = name.clone();
            metrics::counter!("foodqc_frames_inspected_total", "station" => station.clone())
                .absolute(s.frames_inspected);
            metrics::counter!("foodqc_frames_dropped_total", "station" => station.clone())
                .absolute(s.frames_dropped);
            let passed = s.items.saturating_sub(s.rejects + s.reviews);
            for (verdict, n) in [
                ("pass", passed),
                ("review", s.reviews),
                ("reject", s.rejects),
            ] {
                metrics::counter!("foodqc_items_total", "station" => station.clone(), "verdict" => verdict)
                    .absolute(n);
            }
            metrics::gauge!("foodqc_source_lost", "station" => station.clone())
                .set(if s.source_lost { 1.0 } else { 0.0 });
            metrics::counter!("foodqc_recorder_journaled_total", "station" => station.clone())
                .absolute(s.recorder.journaled);
            if s.frames_inspected != last.0 {
                *last = (s.frames_inspected, Instant::now());
            }
            if s.source_lost {
                problem = Some(tr!("monitor-source-lost", station = station));
            } else if !s.paused && last.1.elapsed() > Duration::from_secs(2) {
                problem = Some(tr!("monitor-stalled", station = station));
            }
        }
        if let Some(p) = plant {
            let ps = p.stats();
            metrics::gauge!("foodqc_outbox_pending").set(ps.pending as f64);
            metrics::counter!("foodqc_outbox_delivered_total").absolute(ps.delivered);
            metrics::counter!("foodqc_reject_crops_skipped_total").absolute(ps.skipped);
        }
        *self.health.lock().unwrap_or_else(|e| e.into_inner()) = problem;
    }
}

/// Start publishing the database's outbox to `--kafka`, and applying the plant's lot
/// decisions, when given.
fn start_plant(
    paths: &AppPaths,
    a: &InspectArgs,
) -> anyhow::Result<Option<(Publisher, CommandListener)>> {
    let Some(spec) = &a.kafka else {
        return Ok(None);
    };
    let publisher = Publisher::start(paths.db_path(), spec, &a.station)?;
    // After the outbox is on (which switches crops off): only --kafka-crops sends them.
    foodqc::store::Store::open(&paths.db_path())?
        .set_outbox_reject_crops(a.kafka_crops.map(|kib| kib * 1024))?;
    let commands = CommandListener::start(paths, spec, &a.station)?;
    Ok(Some((publisher, commands)))
}

/// A recipe the plant gave a new model: the stations running it switch between two frames.
fn follow_plant<'a>(
    plant: Option<&(Publisher, CommandListener)>,
    stations: impl IntoIterator<Item = &'a Station> + Clone,
) {
    let Some((_, commands)) = plant else { return };
    for event in commands.events() {
        let PlantEvent::RecipeUpdated { recipe, by, .. } = event;
        for s in stations.clone() {
            if s.stats().recipe_name == recipe {
                s.send(StationCommand::SetRecipe {
                    name: recipe.clone(),
                    by: by.clone(),
                });
            }
        }
    }
}

/// Send what waits (up to 30 s) and say how far the plant got.
fn finish_plant(
    plant: Option<(Publisher, CommandListener)>,
    a: &InspectArgs,
) -> Option<PublisherStats> {
    let (p, commands) = plant?;
    // No decision arrives any more; what the last ones recorded still goes out.
    drop(commands);
    let stats = p.finish(Duration::from_secs(30));
    let brokers = a
        .kafka
        .as_ref()
        .map(|k| k.brokers.clone())
        .unwrap_or_default();
    if !a.json {
        println!(
            "{}",
            tr!(
                "cli-inspect-plant-summary",
                delivered = stats.delivered,
                brokers = brokers,
                pending = stats.pending
            )
        );
    }
    Some(stats)
}

/// The plant's counters as JSON.
fn plant_json(stats: &PublisherStats) -> serde_json::Value {
    serde_json::json!({
        "delivered": stats.delivered,
        "pending": stats.pending,
        "crops_skipped": stats.skipped,
        "last_error": stats.last_error,
    })
}

/// `--plc URL` parsed, its error naming the URL.
pub fn parse_plc(url: &str) -> Result<LineOutputSpec, String> {
    LineOutputSpec::parse_plc(url).map_err(|e| e.to_string())
}

/// `--mqtt URL` parsed, its error naming the URL.
pub fn parse_mqtt(url: &str) -> Result<LineOutputSpec, String> {
    LineOutputSpec::parse_mqtt(url).map_err(|e| e.to_string())
}

/// Run the station until the source ends (or `--frames`, or SIGTERM/SIGINT: then it stops,
/// flushes the recorder and prints the summary, exiting 0), then print the summary. Fails when
/// no frame could be inspected.
pub fn run(paths: &AppPaths, model: Option<&Path>, a: InspectArgs) -> anyhow::Result<()> {
    let model = super::load_model(paths, model)?;
    let specs = a.src.specs()?;
    if a.loop_folder && a.frames.is_none() {
        anyhow::bail!(tr!("cli-inspect-loop-needs-frames"));
    }
    // The account is checked before the line starts: a wrong password stops nothing running.
    let operator = match &a.user {
        Some(name) => {
            let mut store = foodqc::store::Store::open(&paths.db_path())?;
            let signed = super::signin::sign_in(&mut store, Some(name), Some(Permission::RunLine))?;
            Some(signed.user.name)
        }
        None => None,
    };
    if specs.len() > 1 {
        return run_cameras(paths, &model, &a, &specs, operator);
    }
    let spec = specs.into_iter().next().unwrap_or_default();
    let cfg = station_config(paths, &a, &spec, a.station.clone(), operator);
    // A signal only sets the flag; the loop below sees it within 50 ms and stops the station
    // cleanly (the recorder journals what the database cannot take at once).
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }
    let started = Instant::now();
    let plant = start_plant(paths, &a)?;
    let mut monitoring = Monitoring::start(&a)?;
    let name = [a.station.clone()];
    let station = Station::start(cfg, model.clone())?;
    if let Some(c) = model_choice::classifier_for(paths, &model.version) {
        station.send(StationCommand::SetClassifier(Some(c)));
    }
    while !station.is_finished() && !signalled.load(Ordering::SeqCst) {
        if let Some(m) = &mut monitoring {
            m.sample(&name, &[station.stats()], plant.as_ref().map(|(p, _)| p));
        }
        follow_plant(plant.as_ref(), [&station]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let interrupted = signalled.load(Ordering::SeqCst);
    let stats = if interrupted {
        station.stop()?
    } else {
        station.wait()?
    };
    let plant = finish_plant(plant, &a);
    let run = Run {
        source: spec.to_string(),
        model: &model.version,
        lot: &a.lot,
        stats: &stats,
        wall: started.elapsed().as_secs_f64(),
        database: paths.db_path().display().to_string(),
        journal: foodqc::store::journal::journal_path(&paths.db_path())
            .display()
            .to_string(),
        interrupted,
    };
    if a.json {
        let mut json = run.json();
        if let Some(p) = &plant {
            json["plant"] = plant_json(p);
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        run.print();
    }
    if stats.frames_inspected == 0 && !interrupted {
        anyhow::bail!(tr!("cli-inspect-no-frame", source = spec.to_string()));
    }
    Ok(())
}

/// The config of the station that watches `spec` under `name`.
fn station_config(
    paths: &AppPaths,
    a: &InspectArgs,
    spec: &foodqc::capture::SourceSpec,
    name: String,
    operator: Option<String>,
) -> StationConfig {
    StationConfig {
        operator,
        station_name: name,
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
        reject_on_doubt: a.reject_on_doubt,
        recipe: a.recipe.clone(),
        line_outputs: a.plc.iter().chain(&a.mqtt).cloned().collect(),
    }
}

/// Several `--source`: one station per camera (`STATION-1`, `STATION-2`, ...) sharing one
/// recorder; one summary line per camera (JSON: `cameras`, each like a one-camera run).
fn run_cameras(
    paths: &AppPaths,
    model: &Arc<foodqc::model::AnomalyModel>,
    a: &InspectArgs,
    specs: &[foodqc::capture::SourceSpec],
    operator: Option<String>,
) -> anyhow::Result<()> {
    use foodqc::station::group::StationGroup;
    // One PLC item ring per station: two stations must not write into the same one.
    if !a.plc.is_empty() {
        anyhow::bail!(tr!("cli-inspect-plc-one-camera"));
    }
    let configs: Vec<StationConfig> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let name = format!("{}-{}", a.station, i + 1);
            station_config(paths, a, spec, name, operator.clone())
        })
        .collect();
    let names: Vec<String> = configs.iter().map(|c| c.station_name.clone()).collect();
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }
    let started = Instant::now();
    let plant = start_plant(paths, a)?;
    let mut monitoring = Monitoring::start(a)?;
    let group = StationGroup::start(configs, model.clone())?;
    if let Some(c) = model_choice::classifier_for(paths, &model.version) {
        for s in group.stations() {
            s.send(StationCommand::SetClassifier(Some(c.clone())));
        }
    }
    while !group.is_finished() && !signalled.load(Ordering::SeqCst) {
        if let Some(m) = &mut monitoring {
            m.sample(&names, &group.stats(), plant.as_ref().map(|(p, _)| p));
        }
        follow_plant(plant.as_ref(), group.stations());
        std::thread::sleep(Duration::from_millis(50));
    }
    let interrupted = signalled.load(Ordering::SeqCst);
    let (all, _) = if interrupted {
        group.stop()?
    } else {
        group.wait()?
    };
    let plant = finish_plant(plant, a);
    let wall = started.elapsed().as_secs_f64();
    let journal = foodqc::store::journal::journal_path(&paths.db_path())
        .display()
        .to_string();
    let runs: Vec<Run> = all
        .iter()
        .zip(specs)
        .map(|(stats, spec)| Run {
            source: spec.to_string(),
            model: &model.version,
            lot: &a.lot,
            stats,
            wall,
            database: paths.db_path().display().to_string(),
            journal: journal.clone(),
            interrupted,
        })
        .collect();
    if a.json {
        let cameras: Vec<serde_json::Value> = runs
            .iter()
            .zip(&names)
            .map(|(r, name)| {
                let mut v = r.json();
                v["station"] = serde_json::json!(name);
                v
            })
            .collect();
        let mut json = serde_json::json!({ "cameras": cameras });
        if let Some(p) = &plant {
            json["plant"] = plant_json(p);
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        let dec = foodqc::i18n::format_decimal;
        for (r, name) in runs.iter().zip(&names) {
            let s = r.stats;
            let lat: Vec<f64> = s.recent_latency_ms.iter().copied().collect();
            println!(
                "{}",
                tr!(
                    "cli-inspect-camera-line",
                    station = name.as_str(),
                    source = r.source.as_str(),
                    frames = s.frames_inspected,
                    dropped = s.frames_dropped,
                    items = s.items,
                    rejects = s.rejects,
                    rate = foodqc::i18n::format_percent(s.reject_rate(), 1),
                    p99 = dec(foodqc::model::metrics::quantile(&lat, 0.99), 1)
                )
            );
        }
        let r = all.first().map(|s| s.recorder.clone()).unwrap_or_default();
        println!(
            "{}",
            tr!(
                "cli-inspect-cameras-recorded",
                recorded = r.recorded,
                journaled = r.journaled,
                seconds = dec(wall, 1)
            )
        );
    }
    if let Some(r) = runs
        .iter()
        .find(|r| r.stats.frames_inspected == 0 && !interrupted)
    {
        anyhow::bail!(tr!("cli-inspect-no-frame", source = r.source.as_str()));
    }
    Ok(())
}

/// What a finished run reports.
struct Run<'a> {
    source: String,
    model: &'a str,
    lot: &'a str,
    stats: &'a StationStats,
    /// Wall-clock seconds from start to end.
    wall: f64,
    database: String,
    /// The pending journal beside the database.
    journal: String,
    /// Stopped by SIGTERM/SIGINT.
    interrupted: bool,
}

impl Run<'_> {
    /// Quantile `q` of the recent inspection times (ms).
    fn inspect_ms(&self, q: f64) -> f64 {
        let times: Vec<f64> = self.stats.recent_inspect_ms.iter().copied().collect();
        foodqc::model::metrics::quantile(&times, q)
    }

    fn frames_per_second(&self) -> f64 {
        self.stats.frames_inspected as f64 / self.wall.max(1e-9)
    }

    /// The summary as one JSON object.
    fn json(&self) -> serde_json::Value {
        let stats = self.stats;
        serde_json::json!({
            "source": self.source,
            "model": self.model,
            "lot": self.lot,
            "frames": stats.frames_inspected,
            "frames_dropped": stats.frames_dropped,
            "files_skipped": stats.skipped_files,
            "items": stats.items,
            "rejects": stats.rejects,
            "unscored": stats.unscored,
            "reject_rate": stats.reject_rate(),
            "recorded": stats.recorder.recorded,
            "journaled": stats.recorder.journaled,
            "in_journal": stats.recorder.in_journal,
            "samples_missing": stats.recorder.samples_missing,
            "interrupted": self.interrupted,
            "journal": self.journal,
            "wall_seconds": self.wall,
            "frames_per_second": self.frames_per_second(),
            // null, not NaN, when nothing was inspected.
            "inspect_ms_median": Some(self.inspect_ms(0.5)).filter(|v| v.is_finite()),
            "inspect_ms_p95": Some(self.inspect_ms(0.95)).filter(|v| v.is_finite()),
            "database": self.database,
            "line": stats.line.iter().map(|(name, c)| {
                let lat = c.latency_median_p99();
                serde_json::json!({
                    "output": name,
                    "sent": c.sent,
                    "acked": c.acked,
                    "late": c.late,
                    "missed": c.missed,
                    "dropped": c.dropped,
                    "backlog": c.backlog,
                    "last_error": c.last_error,
                    "latency_ms_median": lat.map(|l| l.0),
                    "latency_ms_p99": lat.map(|l| l.1),
                })
            }).collect::<Vec<_>>(),
        })
    }

    /// The summary as text, in the language in force.
    fn print(&self) {
        let stats = self.stats;
        let dec = foodqc::i18n::format_decimal;
        println!(
            "{}",
            tr!("cli-inspect-title", source = self.source.as_str())
        );
        row(tr!("cli-label-model"), self.model.to_string());
        row(tr!("cli-label-lot"), self.lot.to_string());
        row(
            tr!("cli-label-frames"),
            tr!(
                "cli-inspect-frames-line",
                inspected = stats.frames_inspected,
                dropped = stats.frames_dropped,
                skipped = stats.skipped_files
            ),
        );
        row(
            tr!("cli-label-items"),
            tr!(
                "cli-inspect-items-line",
                items = stats.items,
                rejects = stats.rejects,
                rate = foodqc::i18n::format_percent(stats.reject_rate(), 1)
            ),
        );
        if stats.unscored > 0 {
            row(
                tr!("cli-label-unscored"),
                tr!("cli-inspect-unscored", n = stats.unscored),
            );
        }
        let r = &stats.recorder;
        row(
            tr!("cli-label-recorded"),
            tr!(
                "cli-inspect-recorded",
                recorded = r.recorded,
                journaled = r.journaled
            ),
        );
        if r.in_journal > 0 {
            row(
                tr!("cli-label-journal"),
                tr!(
                    "cli-inspect-journal",
                    n = r.in_journal,
                    path = self.journal.as_str()
                ),
            );
        }
        if r.samples_missing > 0 {
            row(
                tr!("cli-label-crops-missing"),
                tr!("cli-inspect-crops-missing", n = r.samples_missing),
            );
        }
        for (name, c) in &stats.line {
            let missed: u64 = c.missed + c.dropped;
            let (median, p99) = c.latency_median_p99().unwrap_or((f64::NAN, f64::NAN));
            row(
                tr!("cli-label-line-output"),
                tr!(
                    "cli-inspect-line-output",
                    output = name.as_str(),
                    sent = c.sent,
                    acked = c.acked,
                    late = c.late,
                    missed = missed,
                    median = dec(median, 1),
                    p99 = dec(p99, 1)
                ),
            );
        }
        if self.interrupted {
            row(tr!("cli-label-stopped"), tr!("cli-inspect-by-signal"));
        }
        let speed = if stats.frames_inspected == 0 {
            tr!("cli-inspect-nothing", seconds = dec(self.wall, 2))
        } else {
            tr!(
                "cli-inspect-speed",
                fps = dec(self.frames_per_second(), 1),
                seconds = dec(self.wall, 2),
                median = dec(self.inspect_ms(0.5), 2),
                p95 = dec(self.inspect_ms(0.95), 2)
            )
        };
        row(tr!("cli-label-speed"), speed);
        row(tr!("cli-label-database"), self.database.clone());
    }
}
