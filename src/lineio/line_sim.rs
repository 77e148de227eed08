//! A PLC for people without one: a Modbus TCP server with the memory of
//! [`super::register_map`], and the PLC program that reads each item slot the station writes,
//! acks it, and fires a simulated ejector for rejects. The belt model: an item captured at
//! time t reaches the ejector at t + distance / speed; a decision read later than that, less
//! the valve's reaction time, is late (the item went by unejected).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};

use super::register_map::{self as map, FaultCode, ItemSlot, StationState};
use crate::domain::Verdict;

/// Registers and coils in each table of the simulated PLC.
pub const TABLE: usize = 1000;

/// The belt and ejector the simulator models.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Belt speed, mm/s.
    pub belt_mm_per_s: f64,
    /// Distance from the camera's field of view to the ejector, mm.
    pub ejector_mm: f64,
    /// Time the valve needs between the command and the blast, ms.
    pub valve_ms: f64,
    /// Fire on review verdicts too (reject on doubt).
    pub fire_review: bool,
    /// How often the PLC program scans its memory.
    pub scan: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            belt_mm_per_s: 250.0,
            ejector_mm: 500.0,
            valve_ms: 15.0,
            fire_review: false,
            scan: Duration::from_millis(1),
        }
    }
}

/// The PLC's memory.
struct Memory {
    holding: Vec<u16>,
    input: Vec<u16>,
    coils: Vec<bool>,
}

/// What the simulated line saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimCounts {
    /// Items read from the ring.
    pub items: u64,
    /// Ejector shots (rejects read in time).
    pub fired: u64,
    /// Rejects read too late to eject.
    pub late: u64,
    /// Items that never appeared (gaps in the sequence).
    pub missed: u64,
    /// Sequence numbers fired, for checking against ground truth.
    pub fired_seqs: BTreeSet<u32>,
    /// The last heartbeat value and when it last moved.
    pub heartbeat: u16,
    /// Time since the heartbeat last moved (`None` before it ever moved).
    pub heartbeat_age: Option<Duration>,
    /// The station's state and fault as written.
    pub state: Option<StationState>,
    /// The fault code as written.
    pub fault: Option<FaultCode>,
    /// Capture -> read by the PLC, ms (largest seen).
    pub max_read_ms: f64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The Modbus service over the PLC's memory (function codes 1, 3, 4, 5, 6, 15, 16).
struct PlcService {
    memory: Arc<Mutex<Memory>>,
}

fn range(addr: u16, n: usize) -> Result<std::ops::Range<usize>, ExceptionCode> {
    let a = usize::from(addr);
    if n == 0 || a + n > TABLE {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    Ok(a..a + n)
}

impl PlcService {
    fn handle(&self, req: Request<'_>) -> Result<Response, ExceptionCode> {
        let mut m = lock(&self.memory);
        Ok(match req {
            Request::ReadCoils(a, n) => Response::ReadCoils(m.coils[range(a, n.into())?].to_vec()),
            Request::ReadHoldingRegisters(a, n) => {
                Response::ReadHoldingRegisters(m.holding[range(a, n.into())?].to_vec())
            }
            Request::ReadInputRegisters(a, n) => {
                Response::ReadInputRegisters(m.input[range(a, n.into())?].to_vec())
            }
            Request::WriteSingleCoil(a, v) => {
                m.coils[range(a, 1)?.start] = v;
                Response::WriteSingleCoil(a, v)
            }
            Request::WriteMultipleCoils(a, v) => {
                let r = range(a, v.len())?;
                m.coils[r].copy_from_slice(&v);
                Response::WriteMultipleCoils(a, v.len() as u16)
            }
            Request::WriteSingleRegister(a, v) => {
                m.holding[range(a, 1)?.start] = v;
                Response::WriteSingleRegister(a, v)
            }
            Request::WriteMultipleRegisters(a, v) => {
                let r = range(a, v.len())?;
                m.holding[r].copy_from_slice(&v);
                Response::WriteMultipleRegisters(a, v.len() as u16)
            }
            _ => return Err(ExceptionCode::IllegalFunction),
        })
    }
}

impl tokio_modbus::server::Service for PlcService {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        std::future::ready(self.handle(req.request))
    }
}

/// A running simulator: the server thread and the PLC program's scan thread.
pub struct LineSim {
    addr: SocketAddr,
    memory: Arc<Mutex<Memory>>,
    counts: Arc<Mutex<SimCounts>>,
    stop: Arc<AtomicBool>,
    server: Option<(JoinHandle<()>, tokio::sync::oneshot::Sender<()>)>,
    scanner: Option<JoinHandle<()>>,
}

impl LineSim {
    /// Listen on `bind` (port 0 picks a free one) and start scanning.
    pub fn start(bind: SocketAddr, cfg: SimConfig) -> std::io::Result<LineSim> {
        let memory = Arc::new(Mutex::new(Memory {
            holding: vec![0; TABLE],
            input: vec![0; TABLE],
            coils: vec![false; TABLE],
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(bind))?;
        let addr = listener.local_addr()?;
        let (abort_tx, abort_rx) = tokio::sync::oneshot::channel::<()>();
        let served = memory.clone();
        let server = std::thread::Builder::new()
            .name("line-sim server".into())
            .spawn(move || {
                let server = tokio_modbus::server::tcp::Server::new(listener);
                let on_connected = |stream, _addr| {
                    let service = PlcService {
                        memory: served.clone(),
                    };
                    async move { Ok(Some((service, stream))) }
                };
                let on_error = |e| tracing::warn!("line-sim connection: {e}");
                let abort = async move {
                    let _ = abort_rx.await;
                };
                if let Err(e) = runtime.block_on(server.serve_until(&on_connected, on_error, abort))
                {
                    tracing::error!("line-sim server stopped: {e}");
                }
            })?;
        let counts = Arc::new(Mutex::new(SimCounts::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let scanner = {
            let (memory, counts, stop) = (memory.clone(), counts.clone(), stop.clone());
            std::thread::Builder::new()
                .name("line-sim plc".into())
                .spawn(move || scan_loop(&cfg, &memory, &counts, &stop))?
        };
        Ok(LineSim {
            addr,
            memory,
            counts,
            stop,
            server: Some((server, abort_tx)),
            scanner: Some(scanner),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the line has seen so far.
    pub fn counts(&self) -> SimCounts {
        lock(&self.counts).clone()
    }

    /// Set one of the PLC's input registers (trigger, recipe, lot, reset).
    pub fn set_input(&self, addr: u16, value: u16) {
        if let Some(r) = lock(&self.memory).input.get_mut(usize::from(addr)) {
            *r = value;
        }
    }

    /// Stop serving and scanning; the final counts.
    pub fn stop(mut self) -> SimCounts {
        self.shutdown();
        self.counts()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.scanner.take() {
            let _ = t.join();
        }
        if let Some((t, abort)) = self.server.take() {
            let _ = abort.send(());
            let _ = t.join();
        }
    }
}

impl Drop for LineSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The PLC program: read new item slots in sequence order, decide the ejector, ack.
fn scan_loop(
    cfg: &SimConfig,
    memory: &Mutex<Memory>,
    counts: &Mutex<SimCounts>,
    stop: &AtomicBool,
) {
    let travel_ms = cfg.ejector_mm / cfg.belt_mm_per_s * 1000.0;
    let mut last_seq: u32 = 0;
    let mut beat_moved: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        let (status, slots) = {
            let m = lock(memory);
            let status: Vec<u16> = m.holding[..usize::from(map::STATUS_LEN)].to_vec();
            let end = usize::from(map::HR_SLOTS + map::SLOTS * map::SLOT_LEN);
            (status, m.holding[usize::from(map::HR_SLOTS)..end].to_vec())
        };
        let mut found: Vec<ItemSlot> = slots
            .chunks(usize::from(map::SLOT_LEN))
            .filter_map(ItemSlot::from_registers)
            .filter(|s| s.seq > last_seq)
            .collect();
        found.sort_by_key(|s| s.seq);
        let now_ms = super::unix_ms(SystemTime::now()) as u32;
        let mut c = lock(counts);
        let beat = status[usize::from(map::HR_HEARTBEAT)];
        if beat != c.heartbeat {
            c.heartbeat = beat;
            beat_moved = Some(Instant::now());
        }
        c.heartbeat_age = beat_moved.map(|t| t.elapsed());
        c.state = StationState::from_register(status[2]);
        c.fault = FaultCode::from_register(status[3]);
        for s in &found {
            c.missed += u64::from(s.seq - last_seq - 1);
            last_seq = s.seq;
            c.items += 1;
            // Wrapping difference of the 32-bit millisecond stamps.
            let read_ms = f64::from(now_ms.wrapping_sub(s.stamp) as i32);
            c.max_read_ms = c.max_read_ms.max(read_ms);
            let fire = match map::verdict_of(s.verdict) {
                Some(Verdict::Reject) | None => true,
                Some(Verdict::Review) => cfg.fire_review,
                Some(Verdict::Pass) => false,
            };
            if fire {
                if read_ms + cfg.valve_ms <= travel_ms {
                    c.fired += 1;
                    c.fired_seqs.insert(s.seq);
                } else {
                    c.late += 1;
                }
            }
        }
        drop(c);
        if !found.is_empty() {
            lock(memory).input[usize::from(map::IR_ACK)] = last_seq as u16;
        }
        std::thread::sleep(cfg.scan);
    }
}
