//! Line I/O: the station's decisions go out to the line (a PLC over Modbus TCP) and the line's
//! state comes back. Each output runs on its own thread behind a bounded queue, so a slow or
//! absent PLC never holds up inspection: a full queue counts the decision as dropped.
//!
//! - [`register_map`]: the Modbus register map a PLC programmer wires against.
//! - [`modbus`]: the station as a Modbus TCP client writing into the PLC's registers.
//! - [`mqtt`]: items, alarms and the station's state to an MQTT broker.
//! - [`line_sim`]: the PLC side for people without one (`foodqc line-sim`).

pub mod line_sim;
pub mod modbus;
pub mod mqtt;
pub mod register_map;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};

use crate::domain::Verdict;
pub use register_map::{FaultCode, StationState};

/// An output as configured (`--plc modbus-tcp://HOST:PORT[?unit=N]`,
/// `--mqtt mqtt://HOST:PORT[/PREFIX]`).
#[derive(Clone, Debug, PartialEq)]
pub enum LineOutputSpec {
    /// A PLC over Modbus TCP.
    Modbus(modbus::ModbusConfig),
    /// An MQTT broker.
    Mqtt(mqtt::MqttConfig),
}

impl LineOutputSpec {
    /// Parse a PLC address (`modbus-tcp://...`).
    pub fn parse_plc(url: &str) -> Result<LineOutputSpec, modbus::ModbusUrlError> {
        modbus::ModbusConfig::from_url(url).map(LineOutputSpec::Modbus)
    }

    /// Parse a broker address (`mqtt://...`).
    pub fn parse_mqtt(url: &str) -> Result<LineOutputSpec, mqtt::MqttUrlError> {
        mqtt::MqttConfig::from_url(url).map(LineOutputSpec::Mqtt)
    }

    /// The output of station `station`, not yet connected (it connects on its own thread).
    pub fn open(&self, station: &str) -> Box<dyn LineOutput> {
        match self {
            LineOutputSpec::Modbus(c) => Box::new(modbus::ModbusOutput::new(c.clone())),
            LineOutputSpec::Mqtt(c) => Box::new(mqtt::MqttOutput::new(c.clone(), station)),
        }
    }

    /// Whether this is a PLC (the Line panel's test fire and handshake counters apply).
    pub fn is_plc(&self) -> bool {
        matches!(self, LineOutputSpec::Modbus(_))
    }
}

impl std::fmt::Display for LineOutputSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineOutputSpec::Modbus(c) => write!(f, "modbus-tcp://{}?unit={}", c.target, c.unit),
            LineOutputSpec::Mqtt(c) => write!(f, "mqtt://{}:{}/{}", c.host, c.port, c.prefix),
        }
    }
}

/// What kind of alarm goes out to the line's plant systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmKind {
    /// The reject rate broke a run rule (p-chart).
    RunRule,
    /// Passed items score higher than the model's reference: drift.
    Drift,
    /// The station cannot judge (stall, lost source, missing model).
    Fault,
}

impl AlarmKind {
    /// Its name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::RunRule => "run_rule",
            AlarmKind::Drift => "drift",
            AlarmKind::Fault => "fault",
        }
    }
}

/// An alarm raised (or cleared) by the station.
#[derive(Clone, Debug, PartialEq)]
pub struct LineAlarm {
    /// What raised it.
    pub kind: AlarmKind,
    /// Raised (true) or cleared (false).
    pub raised: bool,
    /// One line for people (English: logs and plant systems).
    pub message: String,
    /// Machine-readable details (an object; its fields join the message's).
    pub details: serde_json::Value,
    /// When.
    pub at: SystemTime,
}

/// One judged item, as the line hears about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemDecision {
    /// Sequence of decisions sent by this station run, from 1.
    pub seq: u32,
    /// When the frame was captured.
    pub captured_at: SystemTime,
    /// Tracker id of the item.
    pub track_id: Option<u64>,
    /// Centre of the item across the belt, per mille of the frame width.
    pub x_permille: u16,
    /// The verdict.
    pub verdict: Verdict,
    /// Defect class id: 0 none, else 1 + the class's index.
    pub class_id: u16,
    /// The score (non-finite reads as reject on the line, see the register map).
    pub score: f64,
    /// The frame's sequence number in this station run (as recorded).
    pub frame_seq: u64,
    /// The item's index in its frame (as recorded).
    pub item_index: u32,
    /// The defect class's name, when classified.
    pub defect_class: Option<String>,
    /// Lot code the item was judged under.
    pub lot: Arc<str>,
    /// Model version that judged it.
    pub model_version: Arc<str>,
}

impl ItemDecision {
    /// Low 32 bits of the capture time in unix milliseconds: the stamp the PLC matches to
    /// its own clock (or encoder) to time the ejector.
    pub fn stamp_ms(&self) -> u32 {
        unix_ms(self.captured_at) as u32
    }
}

/// Milliseconds since the Unix epoch (0 for a time before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What an output has done, for the Line panel, `inspect`'s summary and `bench`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputCounters {
    /// Decisions written to the line.
    pub sent: u64,
    /// Decisions the line acknowledged.
    pub acked: u64,
    /// Decisions acknowledged later than the ack timeout.
    pub late: u64,
    /// Decisions never delivered (queue overflow while the line was away).
    pub missed: u64,
    /// Decisions dropped because the output's queue was full.
    pub dropped: u64,
    /// Decisions handed to the line and not yet acknowledged (waiting for a broker or PLC).
    pub backlog: u64,
    /// Test fires sent to the ejector.
    pub test_fires: u64,
    /// What the PLC last wrote into its input registers (PLC outputs only).
    pub plc_inputs: Option<PlcInputs>,
    /// Whether the output drives an ejector (a PLC), as [`LineOutput::drives_ejector`]; set by
    /// [`LineOutputs::counters`].
    pub drives_ejector: bool,
    /// Whether the output is connected now.
    pub connected: bool,
    /// The last connection or protocol error.
    pub last_error: Option<String>,
    /// Capture -> acknowledged by the line, milliseconds, most recent last (bounded).
    pub recent_latency_ms: VecDeque<f64>,
    /// Written -> acknowledged (the protocol's round trip), milliseconds (bounded).
    pub recent_round_trip_ms: VecDeque<f64>,
}

/// The PLC's input registers as last read (see [`register_map`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlcInputs {
    /// Trigger counter (triggered cameras).
    pub trigger: u16,
    /// Recipe / product index the PLC selects.
    pub recipe: u16,
    /// The PLC's lot number (0: none).
    pub lot: u16,
    /// Reset counter: a change clears a latched fault.
    pub reset: u16,
}

/// Latencies kept for the median and p99.
pub const LATENCY_WINDOW: usize = 4096;

impl OutputCounters {
    /// Record an acked item: capture -> ack and written -> ack, ms.
    pub fn push_ack(&mut self, latency_ms: f64, round_trip_ms: f64) {
        for (q, v) in [
            (&mut self.recent_latency_ms, latency_ms),
            (&mut self.recent_round_trip_ms, round_trip_ms),
        ] {
            if q.len() == LATENCY_WINDOW {
                q.pop_front();
            }
            q.push_back(v);
        }
    }

    /// Median and 99th percentile of capture -> ack, `None` before the first ack.
    pub fn latency_median_p99(&self) -> Option<(f64, f64)> {
        median_p99(&self.recent_latency_ms)
    }

    /// Median and 99th percentile of written -> ack, `None` before the first ack.
    pub fn round_trip_median_p99(&self) -> Option<(f64, f64)> {
        median_p99(&self.recent_round_trip_ms)
    }
}

fn median_p99(q: &VecDeque<f64>) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = q.iter().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Some((at(0.5), at(0.99)))
}

/// A destination for the station's decisions. Called only from the output's own thread.
pub trait LineOutput: Send {
    /// A short name for logs and the Line panel (`modbus-tcp://10.0.0.5:502`).
    fn name(&self) -> String;
    /// Queue (and send when possible) one decision.
    fn item(&mut self, d: ItemDecision);
    /// The station's state changed.
    fn state(&mut self, state: StationState, fault: FaultCode);
    /// An alarm was raised or cleared (outputs without an alarm channel ignore it).
    fn alarm(&mut self, _alarm: &LineAlarm) {}
    /// Whether this output drives an ejector (a test fire goes to it, not to a broker).
    fn drives_ejector(&self) -> bool {
        false
    }
    /// Fire the ejector once with `d` (a reject with no item behind it); outputs that drive
    /// no ejector ignore it.
    fn test_fire(&mut self, _d: ItemDecision) {}
    /// Periodic work: heartbeat, reconnect, poll acks. Called at least every
    /// [`TICK`] whether or not decisions arrive.
    fn tick(&mut self);
    /// The counters so far.
    fn counters(&self) -> OutputCounters;
    /// Last chance to deliver what is queued before the station stops (bounded wait).
    fn flush(&mut self, within: Duration);
}

/// How often an output's thread ticks when no decision arrives.
pub const TICK: Duration = Duration::from_millis(5);

/// Decisions an output may have queued before new ones are dropped.
pub const QUEUE: usize = 1024;

enum Msg {
    Item(ItemDecision),
    State(StationState, FaultCode),
    Alarm(LineAlarm),
    TestFire(ItemDecision),
}

/// What the output threads watch to tell the line the station's state without being told:
/// a station whose inspection hangs cannot say so itself.
struct Health {
    /// Unix ms of the last frame judged.
    last_judged_ms: AtomicU64,
    /// Paused by an operator (no frames is then no fault).
    paused: AtomicBool,
    /// The frame source is gone.
    source_lost: AtomicBool,
    /// No frame judged for this long is a fault (ms).
    stall_ms: u64,
}

impl Health {
    fn state(&self) -> (StationState, FaultCode) {
        if self.source_lost.load(Ordering::SeqCst) {
            return (StationState::Fault, FaultCode::SourceLost);
        }
        if self.paused.load(Ordering::SeqCst) {
            return (StationState::Paused, FaultCode::None);
        }
        let since =
            unix_ms(SystemTime::now()).saturating_sub(self.last_judged_ms.load(Ordering::SeqCst));
        if since > self.stall_ms {
            (StationState::Fault, FaultCode::Stalled)
        } else {
            (StationState::Running, FaultCode::None)
        }
    }
}

/// No frame judged for this long puts the outputs in fault ([`FaultCode::Stalled`]).
pub const DEFAULT_STALL: Duration = Duration::from_secs(2);

struct Running {
    name: String,
    tx: Sender<Msg>,
    counters: Arc<Mutex<OutputCounters>>,
    /// Decisions that found the queue full (counted by the sender, not the output).
    dropped: u64,
    drives_ejector: bool,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The station's outputs, each on its own thread. Sending never blocks.
pub struct LineOutputs {
    outputs: Vec<Running>,
    stop: Arc<StopSignal>,
    health: Arc<Health>,
    next_seq: u32,
}

impl LineOutputs {
    /// Start a thread per output; no frame judged for `stall` is a fault.
    pub fn start(
        outputs: Vec<Box<dyn LineOutput>>,
        stall: Duration,
    ) -> std::io::Result<LineOutputs> {
        let stop = Arc::new(StopSignal::default());
        let health = Arc::new(Health {
            last_judged_ms: AtomicU64::new(unix_ms(SystemTime::now())),
            paused: AtomicBool::new(false),
            source_lost: AtomicBool::new(false),
            stall_ms: u64::try_from(stall.as_millis()).unwrap_or(u64::MAX),
        });
        let mut running = Vec::new();
        for mut out in outputs {
            let name = out.name();
            let drives_ejector = out.drives_ejector();
            let (tx, rx) = bounded::<Msg>(QUEUE);
            let counters = Arc::new(Mutex::new(out.counters()));
            let shared = counters.clone();
            let stop_flag = stop.clone();
            let watched = health.clone();
            let thread = std::thread::Builder::new()
                .name(format!("line-out {name}"))
                .spawn(move || run_output(out.as_mut(), &rx, &shared, &stop_flag, &watched))?;
            running.push(Running {
                name,
                tx,
                counters,
                dropped: 0,
                drives_ejector,
                thread: Some(thread),
            });
        }
        Ok(LineOutputs {
            outputs: running,
            stop,
            health,
            next_seq: 1,
        })
    }

    /// No outputs: decisions go nowhere.
    pub fn none() -> LineOutputs {
        LineOutputs::start(Vec::new(), DEFAULT_STALL).expect("no thread to start")
    }

    /// A frame was judged (the outputs' watchdog).
    pub fn frame_judged(&self) {
        let now = unix_ms(SystemTime::now());
        self.health.last_judged_ms.store(now, Ordering::SeqCst);
    }

    /// The operator paused or resumed the line.
    pub fn set_paused(&self, paused: bool) {
        if self.health.paused.swap(paused, Ordering::SeqCst) && !paused {
            // Resuming is not a stall: the clock starts again now.
            self.frame_judged();
        }
    }

    /// The frame source is gone (or back).
    pub fn set_source_lost(&self, lost: bool) {
        self.health.source_lost.store(lost, Ordering::SeqCst);
    }

    /// Whether any output is configured.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Send a decision to every output (its `seq` is assigned here); never blocks.
    pub fn send(&mut self, mut d: ItemDecision) {
        d.seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        for o in &mut self.outputs {
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                o.tx.try_send(Msg::Item(d.clone()))
            {
                o.dropped += 1;
            }
        }
    }

    /// Fire the ejector once: a reject with no item behind it, to every output that drives
    /// an ejector (not recorded, not published). Returns whether one was there to hear it.
    pub fn test_fire(&mut self) -> bool {
        let d = ItemDecision {
            seq: self.next_seq,
            captured_at: SystemTime::now(),
            track_id: None,
            x_permille: 500,
            verdict: Verdict::Reject,
            class_id: 0,
            score: f64::INFINITY,
            frame_seq: 0,
            item_index: 0,
            defect_class: None,
            lot: Arc::from(""),
            model_version: Arc::from(""),
        };
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let mut heard = false;
        for o in &self.outputs {
            heard |= o.drives_ejector;
            let _ =
                o.tx.send_timeout(Msg::TestFire(d.clone()), Duration::from_millis(50));
        }
        heard
    }

    /// Raise (or clear) an alarm on every output that has an alarm channel.
    pub fn alarm(&self, alarm: LineAlarm) {
        for o in &self.outputs {
            // Alarms are rare and matter: wait briefly rather than lose one to a full queue.
            let _ =
                o.tx.send_timeout(Msg::Alarm(alarm.clone()), Duration::from_millis(50));
        }
    }

    /// Tell every output the station's state (beside what the watchdog sees).
    fn set_state(&self, state: StationState, fault: FaultCode) {
        for o in &self.outputs {
            // A state change must not be lost behind a full queue of items: wait briefly.
            let _ =
                o.tx.send_timeout(Msg::State(state, fault), Duration::from_millis(50));
        }
    }

    /// Each output's name and counters.
    pub fn counters(&self) -> Vec<(String, OutputCounters)> {
        self.outputs
            .iter()
            .map(|o| {
                let mut c = lock(&o.counters).clone();
                c.dropped += o.dropped;
                c.drives_ejector = o.drives_ejector;
                (o.name.clone(), c)
            })
            .collect()
    }

    /// Stop: each output flushes what it has queued (up to `within`), then its thread ends.
    pub fn stop(mut self, within: Duration) -> Vec<(String, OutputCounters)> {
        self.set_state(StationState::Stopped, FaultCode::None);
        self.shutdown(within);
        self.counters()
    }

    fn shutdown(&mut self, within: Duration) {
        let ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        self.stop.flush_ms.store(ms, Ordering::SeqCst);
        self.stop.stop.store(true, Ordering::SeqCst);
        for o in &mut self.outputs {
            if let Some(t) = o.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for LineOutputs {
    fn drop(&mut self) {
        self.shutdown(Duration::from_millis(500));
    }
}

/// Asks the output threads to stop, and how long they may take to flush.
#[derive(Default)]
struct StopSignal {
    stop: AtomicBool,
    flush_ms: AtomicU64,
}

fn deliver(out: &mut dyn LineOutput, m: Msg) {
    match m {
        Msg::Item(d) => out.item(d),
        Msg::State(s, f) => out.state(s, f),
        Msg::Alarm(a) => out.alarm(&a),
        Msg::TestFire(d) => out.test_fire(d),
    }
}

/// The alarm of a fault that came (`now`) or went (`was`).
fn fault_alarm(was: FaultCode, now: FaultCode) -> LineAlarm {
    let (raised, code) = if now == FaultCode::None {
        (false, was)
    } else {
        (true, now)
    };
    LineAlarm {
        kind: AlarmKind::Fault,
        raised,
        message: if raised {
            format!("station fault: {}", code.as_str())
        } else {
            format!("station fault cleared: {}", code.as_str())
        },
        details: serde_json::json!({ "fault": code.as_str(), "fault_code": code as u16 }),
        at: SystemTime::now(),
    }
}

fn run_output(
    out: &mut dyn LineOutput,
    rx: &Receiver<Msg>,
    counters: &Mutex<OutputCounters>,
    stop: &StopSignal,
    health: &Health,
) {
    let mut told = (StationState::Running, FaultCode::None);
    out.state(told.0, told.1);
    loop {
        match rx.recv_timeout(TICK) {
            Ok(m) => deliver(out, m),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Drain what else is waiting before the tick, so a burst goes out together.
        while let Ok(m) = rx.try_recv() {
            deliver(out, m);
        }
        let now = health.state();
        if now != told && !stop.stop.load(Ordering::SeqCst) {
            if now.1 != FaultCode::None {
                tracing::warn!("{}: station fault {:?}", out.name(), now.1);
            }
            if now.1 != told.1 {
                out.alarm(&fault_alarm(told.1, now.1));
            }
            told = now;
            out.state(now.0, now.1);
        }
        out.tick();
        *lock(counters) = out.counters();
        if stop.stop.load(Ordering::SeqCst) && rx.is_empty() {
            break;
        }
    }
    out.flush(Duration::from_millis(stop.flush_ms.load(Ordering::SeqCst)));
    *lock(counters) = out.counters();
}
