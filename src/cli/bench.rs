//! `foodqc bench`: time every stage of the pipeline.

use std::path::PathBuf;

use clap::Args;

use foodqc::bench::line::{LineBenchOptions, line_bench};
use foodqc::domain::AppPaths;
use foodqc::lineio::LineOutputSpec;
use foodqc::tr;

/// Arguments of `foodqc bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
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
    /// Tier the dataset's photos are judged with: classical or deep (the synthetic frames
    /// always use the bundled classical model).
    #[arg(long, default_value = "classical", value_name = "classical|deep")]
    tier: foodqc::model::Tier,
    /// Instead: run the live synthetic line (30 FPS) this many seconds with `line-sim` as the
    /// PLC and measure capture -> acknowledged per output (median, p99).
    #[arg(long, value_name = "SECONDS")]
    line: Option<u32>,
    /// With --line: publish to this MQTT broker too (mqtt://HOST:PORT[/PREFIX]).
    #[arg(long, value_name = "URL", value_parser = super::inspect::parse_mqtt, requires = "line")]
    mqtt: Option<LineOutputSpec>,
    /// Instead: run this many synthetic 1280x720 cameras at 30 FPS at once, each its own
    /// station recording every item, and measure drops and capture -> verdict per camera.
    #[arg(long, value_name = "N")]
    cameras: Option<usize>,
    /// With --cameras: how long the lines run, seconds.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    seconds: u32,
    /// Instead: send this many inspection messages to --kafka, collect them into the empty
    /// plant database --postgres and measure the collector's rows per second.
    #[arg(long, value_name = "N", requires_all = ["kafka", "postgres"])]
    plant: Option<u64>,
    /// With --plant: the brokers, HOST:PORT[,HOST:PORT].
    #[arg(long, value_name = "BROKERS", value_parser = foodqc::plant::KafkaSpec::parse, requires = "plant")]
    kafka: Option<foodqc::plant::KafkaSpec>,
    /// With --plant: a scratch plant database, postgres://USER@HOST:PORT/DB (it must hold no
    /// inspections).
    #[arg(long, value_name = "URL", requires = "plant")]
    postgres: Option<String>,
}

/// Run the benchmark and print its report.
pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(seconds) = a.line {
        return run_line(seconds, a.mqtt, a.json);
    }
    if let Some(cameras) = a.cameras {
        return run_cameras(cameras, a.seconds, a.json);
    }
    if let (Some(n), Some(kafka), Some(postgres)) = (a.plant, &a.kafka, &a.postgres) {
        return run_plant(n, kafka, postgres, a.json);
    }
    let opts = foodqc::bench::BenchOptions {
        dataset: a.dataset,
        threads: a.threads,
        runs: a.runs,
        train_runs: a.train_runs,
        labelled: a.labelled,
        tier: a.tier,
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

/// `bench --plant`: the collector's throughput into PostgreSQL.
fn run_plant(
    messages: u64,
    kafka: &foodqc::plant::KafkaSpec,
    postgres: &str,
    json: bool,
) -> anyhow::Result<()> {
    let r = foodqc::bench::plant::plant_bench(messages, kafka, postgres, &|m| eprintln!("{m}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let dec = foodqc::i18n::format_decimal;
        println!(
            "{}",
            tr!(
                "cli-bench-plant-summary",
                messages = r.messages,
                produce = dec(r.produce_seconds, 1),
                read = r.read,
                stored = r.stored,
                collect = dec(r.collect_seconds, 1),
                rate = dec(r.rows_per_second, 0),
                stations = dec(r.stations_at_30_items_per_second, 0)
            )
        );
    }
    Ok(())
}

/// `bench --line`: the live line into a scratch folder, the simulator as the PLC.
fn run_line(seconds: u32, mqtt: Option<LineOutputSpec>, json: bool) -> anyhow::Result<()> {
    if !(1..=3600).contains(&seconds) {
        anyhow::bail!(tr!("cli-bench-bad-line-seconds", seconds = seconds));
    }
    let scratch = tempfile::tempdir()?;
    let opts = LineBenchOptions {
        duration: std::time::Duration::from_secs(u64::from(seconds)),
        fps: 30.0,
        extra_outputs: mqtt.into_iter().collect(),
        paths: AppPaths {
            data_dir: scratch.path().to_path_buf(),
        },
    };
    let model = std::sync::Arc::new(foodqc::model::AnomalyModel::bundled()?);
    let r = line_bench(&opts, model)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let dec = foodqc::i18n::format_decimal;
        let pair = |p: Option<(f64, f64)>| {
            p.map_or("-".to_string(), |(m, p99)| {
                format!("{} / {} ms", dec(m, 1), dec(p99, 1))
            })
        };
        let (read, fired, late, missed) = r.ejector;
        println!(
            "{}",
            tr!(
                "cli-bench-line-summary",
                seconds = dec(r.seconds, 1),
                frames = r.frames,
                dropped = r.frames_dropped,
                items = r.items,
                rejects = r.rejects
            )
        );
        println!(
            "{}",
            tr!(
                "cli-bench-line-ejector",
                read = read,
                fired = fired,
                late = late,
                missed = missed
            )
        );
        for o in &r.outputs {
            let missed = o.missed + o.dropped;
            println!(
                "{}",
                tr!(
                    "cli-bench-line-output",
                    output = o.output.as_str(),
                    sent = o.sent,
                    acked = o.acked,
                    late = o.late,
                    missed = missed,
                    capture = pair(o.capture_to_ack_ms),
                    round_trip = pair(o.round_trip_ms)
                )
            );
        }
    }
    if !r.ejector_exact() {
        anyhow::bail!(tr!("cli-bench-line-not-exact"));
    }
    Ok(())
}

/// `bench --cameras N`: N live synthetic stations into a scratch folder.
fn run_cameras(cameras: usize, seconds: u32, json: bool) -> anyhow::Result<()> {
    use foodqc::bench::cameras::{CamerasOptions, cameras_bench};
    if !(1..=64).contains(&cameras) {
        anyhow::bail!(tr!("cli-bench-bad-cameras", cameras = (cameras as u64)));
    }
    if !(1..=3600).contains(&seconds) {
        anyhow::bail!(tr!("cli-bench-bad-line-seconds", seconds = seconds));
    }
    let scratch = tempfile::tempdir()?;
    let opts = CamerasOptions {
        cameras,
        duration: std::time::Duration::from_secs(u64::from(seconds)),
        fps: 30.0,
        paths: AppPaths {
            data_dir: scratch.path().to_path_buf(),
        },
    };
    let model = std::sync::Arc::new(foodqc::model::AnomalyModel::bundled()?);
    let r = cameras_bench(&opts, model)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let dec = foodqc::i18n::format_decimal;
    println!(
        "{}",
        tr!(
            "cli-bench-cameras-summary",
            cameras = (cameras as u64),
            seconds = dec(r.seconds, 1),
            dropped = r.dropped(),
            p99 = dec(r.worst_p99_ms(), 1),
            cpu = dec(r.cpu_percent, 0),
            items = r.items,
            rows = r.rows
        )
    );
    for c in &r.cameras {
        println!(
            "{}",
            tr!(
                "cli-bench-cameras-camera",
                station = c.station.as_str(),
                frames = c.frames,
                dropped = c.dropped,
                items = c.items,
                median = dec(c.latency_ms.0, 1),
                p99 = dec(c.latency_ms.1, 1)
            )
        );
    }
    Ok(())
}
