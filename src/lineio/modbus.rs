//! The station as a Modbus TCP client: it writes each decision into the PLC's item ring, beats
//! the heartbeat, and reads the PLC's ack (see [`super::register_map`]). A lost connection
//! is retried every second; decisions wait in a bounded queue meanwhile, and the oldest are
//! counted missed when it overflows.

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};

use tokio_modbus::client::sync::{self, Context, Reader, Writer};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::slave::Slave;

use super::register_map::{self as map, FaultCode, ItemSlot, StationState};
use super::{ItemDecision, LineOutput, OutputCounters, PlcInputs};

/// Where and how to reach the PLC.
#[derive(Clone, Debug, PartialEq)]
pub struct ModbusConfig {
    /// `host:port` as given.
    pub target: String,
    /// Modbus unit id (1 unless a gateway needs another).
    pub unit: u8,
    /// How often the heartbeat counter moves.
    pub heartbeat: Duration,
    /// An item not acked within this time counts as late.
    pub ack_timeout: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Decisions kept while the PLC is away; beyond this the oldest are missed.
    pub backlog: usize,
}

/// A `modbus-tcp://HOST:PORT[?unit=N]` address that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModbusUrlError {
    /// Not `modbus-tcp://...`.
    #[error("{0:?} is not a Modbus TCP address: use modbus-tcp://HOST:PORT[?unit=N]")]
    Scheme(String),
    /// The unit is not 0..=255.
    #[error("{}", crate::tr!("err-lineio-modbus-unit", v0 = format!("{:?}", .0), v1 = format!("{:?}", .1)))]
    Unit(String, String),
    /// Something other than `unit=` after `?`.
    #[error("{}", crate::tr!("err-lineio-modbus-option", v0 = format!("{:?}", .0), v1 = format!("{:?}", .1)))]
    Option(String, String),
}

impl ModbusConfig {
    /// Parse `modbus-tcp://HOST:PORT[?unit=N]` (port 502 when omitted).
    pub fn from_url(url: &str) -> Result<ModbusConfig, ModbusUrlError> {
        let rest = url
            .strip_prefix("modbus-tcp://")
            .ok_or_else(|| ModbusUrlError::Scheme(url.to_string()))?;
        let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
        let host = host.trim_end_matches('/');
        if host.is_empty() {
            return Err(ModbusUrlError::Scheme(url.to_string()));
        }
        let mut unit = 1u8;
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("unit", v)) => {
                    unit = v
                        .parse()
                        .map_err(|_| ModbusUrlError::Unit(v.to_string(), url.to_string()))?
                }
                _ => return Err(ModbusUrlError::Option(kv.to_string(), url.to_string())),
            }
        }
        let target = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_string()
        } else {
            format!("{host}:502")
        };
        Ok(ModbusConfig {
            target,
            unit,
            heartbeat: Duration::from_millis(100),
            ack_timeout: Duration::from_millis(200),
            request_timeout: Duration::from_millis(300),
            backlog: 256,
        })
    }
}

/// An item written and not yet acked.
struct InFlight {
    captured_at: SystemTime,
    written: Instant,
    late: bool,
}

/// The Modbus TCP output.
pub struct ModbusOutput {
    cfg: ModbusConfig,
    ctx: Option<Context>,
    next_connect: Instant,
    pending: VecDeque<ItemDecision>,
    in_flight: BTreeMap<u32, InFlight>,
    heartbeat: u16,
    last_beat: Instant,
    state: StationState,
    fault: FaultCode,
    last_written: u32,
    counters: OutputCounters,
}

impl ModbusOutput {
    /// An output that connects on its first tick.
    pub fn new(cfg: ModbusConfig) -> ModbusOutput {
        let now = Instant::now();
        ModbusOutput {
            cfg,
            ctx: None,
            next_connect: now,
            pending: VecDeque::new(),
            in_flight: BTreeMap::new(),
            heartbeat: 0,
            last_beat: now - Duration::from_secs(1),
            state: StationState::Running,
            fault: FaultCode::None,
            last_written: 0,
            counters: OutputCounters::default(),
        }
    }

    fn connect(&mut self) -> Result<(), String> {
        let addr: SocketAddr = self
            .cfg
            .target
            .to_socket_addrs()
            .map_err(|e| format!("{}: {e}", self.cfg.target))?
            .next()
            .ok_or_else(|| format!("{}: no address", self.cfg.target))?;
        let mut ctx = sync::tcp::connect_slave_with_timeout(
            addr,
            Slave(self.cfg.unit),
            Some(self.cfg.request_timeout),
        )
        .map_err(|e| format!("{addr}: {e}"))?;
        ctx.set_slave(Slave(self.cfg.unit));
        ctx.set_timeout(self.cfg.request_timeout);
        self.ctx = Some(ctx);
        // The PLC hears the heartbeat at once after a reconnect.
        self.last_beat = Instant::now() - self.cfg.heartbeat;
        Ok(())
    }

    /// Run `f` on the connection; on any error drop it (retried a second later).
    fn with_ctx<T>(&mut self, f: impl FnOnce(&mut Context) -> Result<T, String>) -> Option<T> {
        let ctx = self.ctx.as_mut()?;
        match f(ctx) {
            Ok(v) => {
                self.counters.connected = true;
                Some(v)
            }
            Err(e) => {
                tracing::warn!("{}: {e}", self.name());
                self.counters.last_error = Some(e);
                self.counters.connected = false;
                self.ctx = None;
                self.next_connect = Instant::now() + Duration::from_secs(1);
                None
            }
        }
    }

    fn beat(&mut self) {
        let healthy = self.fault == FaultCode::None && self.state != StationState::Fault;
        if healthy {
            self.heartbeat = self.heartbeat.wrapping_add(1);
        }
        let state = if healthy {
            self.state
        } else {
            StationState::Fault
        };
        let status = [
            map::MAP_VERSION,
            self.heartbeat,
            state as u16,
            self.fault as u16,
            map::SLOTS,
            self.last_written as u16,
        ];
        let coils = [self.heartbeat % 2 == 1, !healthy];
        self.with_ctx(|c| {
            c.write_multiple_registers(map::HR_STATUS, &status)
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("PLC refused the status block: {e}"))?;
            c.write_multiple_coils(map::COIL_HEARTBEAT, &coils)
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("PLC refused the coils: {e}"))
        });
        self.last_beat = Instant::now();
    }

    fn poll_ack(&mut self) {
        let Some(regs) = self.with_ctx(|c| {
            c.read_input_registers(map::IR_ACK, map::IR_LEN)
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("PLC refused the input registers: {e}"))
        }) else {
            return;
        };
        let ack = regs.first().copied().unwrap_or(0);
        if let [_, trigger, recipe, lot, reset, ..] = regs[..] {
            let inputs = PlcInputs {
                trigger,
                recipe,
                lot,
                reset,
            };
            // A change of the reset counter clears a latched fault (the PLC's reset button).
            if let Some(before) = self.counters.plc_inputs
                && before.reset != reset
                && self.fault == FaultCode::QueueOverflow
            {
                tracing::info!("{}: the PLC reset the latched fault", self.name());
                self.fault = FaultCode::None;
            }
            self.counters.plc_inputs = Some(inputs);
        }
        let now = SystemTime::now();
        let acked: Vec<u32> = self
            .in_flight
            .keys()
            .copied()
            .filter(|&s| map::acked(ack, s) && s <= self.last_written)
            .collect();
        for s in acked {
            if let Some(f) = self.in_flight.remove(&s) {
                self.counters.acked += 1;
                let latency = now.duration_since(f.captured_at).unwrap_or_default();
                self.counters.push_ack(
                    latency.as_secs_f64() * 1000.0,
                    f.written.elapsed().as_secs_f64() * 1000.0,
                );
            }
        }
        for f in self.in_flight.values_mut() {
            if !f.late && f.written.elapsed() > self.cfg.ack_timeout {
                f.late = true;
                self.counters.late += 1;
            }
        }
    }

    /// Write queued items whose slot the PLC has released.
    fn write_pending(&mut self) {
        while let Some(d) = self.pending.front() {
            let seq = d.seq;
            // The slot still holds seq - N until the PLC acks it.
            let reuse = seq.wrapping_sub(u32::from(map::SLOTS));
            if self.in_flight.contains_key(&reuse) {
                return;
            }
            let slot = ItemSlot {
                seq,
                track_id: d.track_id.map(|t| (t % 65_536) as u16).unwrap_or(0),
                stamp: d.stamp_ms(),
                x_permille: d.x_permille,
                verdict: map::verdict_code(d.verdict),
                class_id: d.class_id,
                score_milli: map::score_register(d.score),
            }
            .to_registers();
            let ready = [seq as u16];
            let written = self.with_ctx(|c| {
                c.write_multiple_registers(map::slot_address(seq), &slot)
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("PLC refused item slot: {e}"))?;
                c.write_multiple_registers(map::HR_STATUS + 5, &ready)
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("PLC refused result ready: {e}"))
            });
            if written.is_none() {
                return;
            }
            let d = self.pending.pop_front().expect("front was Some");
            self.last_written = seq;
            self.counters.sent += 1;
            self.in_flight.insert(
                seq,
                InFlight {
                    captured_at: d.captured_at,
                    written: Instant::now(),
                    late: false,
                },
            );
        }
    }
}

impl LineOutput for ModbusOutput {
    fn name(&self) -> String {
        format!("modbus-tcp://{}", self.cfg.target)
    }

    fn drives_ejector(&self) -> bool {
        true
    }

    fn test_fire(&mut self, d: ItemDecision) {
        self.counters.test_fires += 1;
        self.item(d);
    }

    fn item(&mut self, d: ItemDecision) {
        self.pending.push_back(d);
        while self.pending.len() > self.cfg.backlog {
            self.pending.pop_front();
            self.counters.missed += 1;
            self.fault = FaultCode::QueueOverflow;
        }
        if self.ctx.is_some() {
            self.poll_ack();
            self.write_pending();
        }
    }

    fn state(&mut self, state: StationState, fault: FaultCode) {
        self.state = state;
        // A queue overflow stays latched until the PLC resets it (or the station restarts).
        if self.fault != FaultCode::QueueOverflow || fault != FaultCode::None {
            self.fault = fault;
        }
        if self.ctx.is_some() {
            self.beat();
        }
    }

    fn tick(&mut self) {
        if self.ctx.is_none() {
            if Instant::now() < self.next_connect {
                return;
            }
            if let Err(e) = self.connect() {
                self.counters.connected = false;
                self.counters.last_error = Some(e);
                self.next_connect = Instant::now() + Duration::from_secs(1);
                return;
            }
            self.counters.connected = true;
        }
        if self.last_beat.elapsed() >= self.cfg.heartbeat {
            self.beat();
        }
        self.poll_ack();
        self.write_pending();
    }

    fn counters(&self) -> OutputCounters {
        self.counters.clone()
    }

    fn flush(&mut self, within: Duration) {
        let until = Instant::now() + within;
        while (!self.pending.is_empty() || !self.in_flight.is_empty()) && Instant::now() < until {
            self.tick();
            std::thread::sleep(Duration::from_millis(2));
        }
        self.state = StationState::Stopped;
        if self.ctx.is_some() {
            self.beat();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_port_and_unit_and_bad_ones_say_what_is_wrong() {
        let c = ModbusConfig::from_url("modbus-tcp://10.0.0.5:1502?unit=3").unwrap();
        assert_eq!((c.target.as_str(), c.unit), ("10.0.0.5:1502", 3));
        let c = ModbusConfig::from_url("modbus-tcp://plc-1").unwrap();
        assert_eq!((c.target.as_str(), c.unit), ("plc-1:502", 1));
        assert!(matches!(
            ModbusConfig::from_url("tcp://plc"),
            Err(ModbusUrlError::Scheme(_))
        ));
        let e = ModbusConfig::from_url("modbus-tcp://plc?unit=300").unwrap_err();
        assert!(e.to_string().contains("300"), "{e}");
        let e = ModbusConfig::from_url("modbus-tcp://plc?speed=3").unwrap_err();
        assert!(e.to_string().contains("speed=3"), "{e}");
    }
}
