//! `foodqc line-sim`: play the PLC for a station when there is none. A Modbus TCP server with
//! the station's register map; it reads each decision, acks it and fires a simulated ejector,
//! then prints what an ejector would have done: fired, late and missed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

use foodqc::lineio::line_sim::{LineSim, SimConfig, SimCounts};
use foodqc::tr;

use super::row;

/// Arguments of `foodqc line-sim`.
#[derive(Args, Debug)]
pub struct LineSimArgs {
    /// Address to listen on (port 502 needs root; the station's --plc names the same).
    #[arg(long, default_value = "127.0.0.1:5020")]
    listen: SocketAddr,
    /// Belt speed in mm/s.
    #[arg(long, default_value_t = 250.0)]
    belt_mm_s: f64,
    /// Distance from the camera's view to the ejector, mm.
    #[arg(long, default_value_t = 500.0)]
    ejector_mm: f64,
    /// Time the valve needs between the command and the blast, ms.
    #[arg(long, default_value_t = 15.0)]
    valve_ms: f64,
    /// Fire on review verdicts too (reject on doubt).
    #[arg(long)]
    fire_review: bool,
    /// Stop after this many seconds (default: on Ctrl-C / SIGTERM).
    #[arg(long)]
    seconds: Option<f64>,
    /// Print the final counts as JSON.
    #[arg(long)]
    json: bool,
}

/// Serve until the time is up or a signal comes, printing a line a second; then the counts.
pub fn run(a: LineSimArgs) -> anyhow::Result<()> {
    for (name, v) in [("--belt-mm-s", a.belt_mm_s), ("--ejector-mm", a.ejector_mm)] {
        if !(v.is_finite() && v > 0.0) {
            anyhow::bail!(tr!("cli-line-sim-bad-number", option = name, value = v));
        }
    }
    if !(a.valve_ms.is_finite() && a.valve_ms >= 0.0) {
        anyhow::bail!(tr!(
            "cli-line-sim-bad-number",
            option = "--valve-ms",
            value = a.valve_ms
        ));
    }
    let cfg = SimConfig {
        belt_mm_per_s: a.belt_mm_s,
        ejector_mm: a.ejector_mm,
        valve_ms: a.valve_ms,
        fire_review: a.fire_review,
        ..SimConfig::default()
    };
    let sim = LineSim::start(a.listen, cfg).map_err(|e| {
        anyhow::anyhow!(tr!(
            "cli-line-sim-cannot-listen",
            addr = a.listen.to_string(),
            error = e.to_string()
        ))
    })?;
    eprintln!(
        "{}",
        tr!("cli-line-sim-listening", addr = sim.addr().to_string())
    );
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }
    let started = Instant::now();
    let until = a.seconds.map(Duration::from_secs_f64);
    let mut last_print = Instant::now();
    while !signalled.load(Ordering::SeqCst) && until.is_none_or(|u| started.elapsed() < u) {
        std::thread::sleep(Duration::from_millis(50));
        if !a.json && last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            eprintln!("{}", status_line(&sim.counts()));
        }
    }
    let c = sim.stop();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "items": c.items,
                "fired": c.fired,
                "late": c.late,
                "missed": c.missed,
                "max_read_ms": c.max_read_ms,
                "heartbeat": c.heartbeat,
            }))?
        );
    } else {
        println!("{}", tr!("cli-line-sim-title"));
        row(tr!("cli-label-items"), c.items.to_string());
        row(tr!("cli-line-sim-label-fired"), c.fired.to_string());
        row(tr!("cli-line-sim-label-late"), c.late.to_string());
        row(tr!("cli-line-sim-label-missed"), c.missed.to_string());
    }
    Ok(())
}

fn status_line(c: &SimCounts) -> String {
    let state = c
        .state
        .map(|s| format!("{s:?}").to_lowercase())
        .unwrap_or_else(|| "-".into());
    tr!(
        "cli-line-sim-status",
        items = c.items,
        fired = c.fired,
        late = c.late,
        missed = c.missed,
        state = state,
        heartbeat = c.heartbeat
    )
}
