//! The station's events over MQTT (rumqttc): one message per judged item on
//! `<prefix>/<station>/items`, alarms on `<prefix>/<station>/alarms`, and the station's state,
//! retained, on `<prefix>/<station>/state`, with a last will that marks the station offline
//! when it drops off without saying goodbye. Everything is QoS 1: while the broker is away the
//! messages wait in the client's queue and go out, in order, once it is back.
//!
//! The connection runs on its own thread around rumqttc's event loop. On a lost connection the
//! event loop moves what was unacknowledged into its pending list, and a new session (the
//! broker may have restarted without persistence) would clear that list: the thread keeps the
//! list aside and hands it back after the reconnect, so nothing waiting is dropped whatever the
//! broker remembers. A message may then arrive twice (QoS 1 is at least once); the item's
//! `station`, `frame` and `item` identify it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rumqttc::{AsyncClient, ClientError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;

use super::register_map::{FaultCode, StationState};
use super::{ItemDecision, LineAlarm, LineOutput, OutputCounters, lock, unix_ms};

/// Version of the JSON messages (the `v` field); bumped on an incompatible change.
pub const MESSAGE_VERSION: u32 = 1;

/// Where the broker is and under which prefix the station publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port (1883 when omitted).
    pub port: u16,
    /// First level of every topic (`foodqc` when omitted).
    pub prefix: String,
    /// Messages the client keeps while the broker is away; beyond this they are missed.
    pub backlog: usize,
    /// How long to wait before connecting again after the broker went away.
    pub reconnect: Duration,
}

/// An `mqtt://HOST:PORT[/PREFIX]` address that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MqttUrlError {
    /// Not `mqtt://...`.
    #[error("{0:?} is not an MQTT address: use mqtt://HOST:PORT[/PREFIX]")]
    Scheme(String),
    /// The port is not 1..=65535.
    #[error("{}", crate::tr!("err-lineio-mqtt-port", v0 = format!("{:?}", .0), v1 = format!("{:?}", .1)))]
    Port(String, String),
    /// A prefix with MQTT wildcards or empty levels.
    #[error("{}", crate::tr!("err-lineio-mqtt-prefix", v0 = format!("{:?}", .0), v1 = format!("{:?}", .1)))]
    Prefix(String, String),
}

impl MqttConfig {
    /// Parse `mqtt://HOST[:PORT][/PREFIX]`.
    pub fn from_url(url: &str) -> Result<MqttConfig, MqttUrlError> {
        let rest = url
            .strip_prefix("mqtt://")
            .ok_or_else(|| MqttUrlError::Scheme(url.to_string()))?;
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let prefix = if prefix.is_empty() { "foodqc" } else { prefix };
        if prefix.contains(['+', '#']) || prefix.split('/').any(str::is_empty) {
            return Err(MqttUrlError::Prefix(prefix.to_string(), url.to_string()));
        }
        // `[::1]:1883`, `host:1883` or `host`.
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (!h.contains(':') || h.ends_with(']')) => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| MqttUrlError::Port(p.to_string(), url.to_string()))?;
                (h, port)
            }
            _ => (authority, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(MqttUrlError::Scheme(url.to_string()));
        }
        Ok(MqttConfig {
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
            backlog: 65_536,
            reconnect: Duration::from_secs(1),
        })
    }
}

/// The topics of one station.
#[derive(Clone, Debug, PartialEq)]
pub struct Topics {
    /// One message per judged item.
    pub items: String,
    /// Alarms: run rules, drift, faults.
    pub alarms: String,
    /// The station's state (retained).
    pub state: String,
}

impl Topics {
    /// `<prefix>/<station>/{items,alarms,state}`; MQTT wildcards and slashes in the station
    /// name become `_` so it stays one topic level.
    pub fn new(prefix: &str, station: &str) -> Topics {
        let station: String = station
            .chars()
            .map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c })
            .collect();
        let at = |leaf: &str| format!("{prefix}/{station}/{leaf}");
        Topics {
            items: at("items"),
            alarms: at("alarms"),
            state: at("state"),
        }
    }
}

/// The JSON of one judged item on the items topic.
#[derive(Serialize)]
struct ItemMessage<'a> {
    v: u32,
    station: &'a str,
    seq: u32,
    frame: u64,
    item: u32,
    track: Option<u64>,
    captured_at: String,
    captured_ms: u64,
    x_permille: u16,
    verdict: &'static str,
    class_id: u16,
    class: Option<&'a str>,
    /// `null` for a non-finite score (which the station never passes).
    score: Option<f64>,
    lot: &'a str,
    model_version: &'a str,
}

/// The retained state message (and the last will's `offline`).
#[derive(Serialize)]
struct StateMessage<'a> {
    v: u32,
    station: &'a str,
    state: &'a str,
    fault: Option<&'static str>,
    at: String,
}

fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| ts.round(jiff::Unit::Millisecond).unwrap_or(ts).to_string())
        .unwrap_or_default()
}

/// What the connection thread learns and the output reports.
#[derive(Default)]
struct Shared {
    connected: bool,
    last_error: Option<String>,
    /// Item messages acknowledged.
    acked: u64,
    /// All messages acknowledged (items, states, alarms).
    acked_messages: u64,
    /// Capture time and publish time of item messages in publish order, not yet given a
    /// packet id (`None` for state and alarm messages).
    queued: std::collections::VecDeque<Option<(SystemTime, Instant)>>,
    /// Messages sent and waiting for their PUBACK, by packet id.
    in_flight: HashMap<u16, Option<(SystemTime, Instant)>>,
    latencies: Vec<(f64, f64)>,
}

/// Drive the event loop until the station disconnects (or stops while the broker is away).
fn connection_loop(
    mut eventloop: rumqttc::EventLoop,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    reconnect: Duration,
    name: &str,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            lock(shared).last_error = Some(e.to_string());
            return;
        }
    };
    // What was unacknowledged when the connection broke, resent first after the reconnect.
    let mut kept: std::collections::VecDeque<rumqttc::Request> = Default::default();
    loop {
        match runtime.block_on(eventloop.poll()) {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                // A new session cleared the pending list: put back what was waiting.
                kept.extend(std::mem::take(&mut eventloop.pending));
                eventloop.pending = std::mem::take(&mut kept);
                let mut s = lock(shared);
                s.connected = true;
                s.last_error = None;
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let mut s = lock(shared);
                // A resend after a reconnect keeps its packet id: not a new message.
                if !s.in_flight.contains_key(&pkid) {
                    let stamp = s.queued.pop_front().flatten();
                    s.in_flight.insert(pkid, stamp);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let mut s = lock(shared);
                if let Some(stamp) = s.in_flight.remove(&ack.pkid) {
                    s.acked_messages += 1;
                    if let Some((captured, sent)) = stamp {
                        s.acked += 1;
                        let latency = SystemTime::now()
                            .duration_since(captured)
                            .unwrap_or_default();
                        s.latencies.push((
                            latency.as_secs_f64() * 1e3,
                            sent.elapsed().as_secs_f64() * 1e3,
                        ));
                    }
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                lock(shared).connected = false;
                break;
            }
            Ok(_) => {}
            Err(e) => {
                kept.extend(std::mem::take(&mut eventloop.pending));
                {
                    let mut s = lock(shared);
                    if s.connected {
                        tracing::warn!("{name}: {e}");
                    }
                    s.connected = false;
                    s.last_error = Some(e.to_string());
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(reconnect);
            }
        }
    }
}

/// The station as an MQTT publisher.
pub struct MqttOutput {
    config: MqttConfig,
    station: String,
    topics: Topics,
    client: Option<AsyncClient>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    /// Messages handed to the client (items, states, alarms).
    published: u64,
    counters: OutputCounters,
}

impl MqttOutput {
    /// An output for `station`, not connected yet (it connects on the first tick).
    pub fn new(config: MqttConfig, station: &str) -> MqttOutput {
        let topics = Topics::new(&config.prefix, station);
        MqttOutput {
            config,
            station: station.to_string(),
            topics,
            client: None,
            thread: None,
            stop: Arc::new(AtomicBool::new(false)),
            shared: Arc::default(),
            published: 0,
            counters: OutputCounters::default(),
        }
    }

    /// The topics this output publishes on.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    fn state_json(&self, state: &str, fault: Option<&'static str>) -> Vec<u8> {
        serde_json::to_vec(&StateMessage {
            v: MESSAGE_VERSION,
            station: &self.station,
            state,
            fault,
            at: rfc3339(SystemTime::now()),
        })
        .unwrap_or_default()
    }

    /// Start the client and its connection thread (once).
    fn ensure_started(&mut self) {
        if self.client.is_some() {
            return;
        }
        // One client id per station and run: a second run of the same station takes over.
        let id = format!("foodqc-{}-{}", self.station, std::process::id());
        let mut opts = MqttOptions::new(id, self.config.host.clone(), self.config.port);
        opts.set_keep_alive(Duration::from_secs(5))
            .set_inflight(1000)
            .set_last_will(LastWill::new(
                self.topics.state.clone(),
                self.state_json("offline", None),
                QoS::AtLeastOnce,
                true,
            ));
        let (client, eventloop) = AsyncClient::new(opts, self.config.backlog);
        let shared = self.shared.clone();
        let stop = self.stop.clone();
        let reconnect = self.config.reconnect;
        let name = self.name();
        let thread = std::thread::Builder::new()
            .name(format!("mqtt {name}"))
            .spawn(move || connection_loop(eventloop, &shared, &stop, reconnect, &name));
        match thread {
            Ok(t) => self.thread = Some(t),
            Err(e) => self.counters.last_error = Some(e.to_string()),
        }
        self.client = Some(client);
    }

    /// Publish one message at QoS 1; `stamp` ties an item to its PUBACK for the latency.
    fn publish(
        &mut self,
        topic: String,
        retain: bool,
        payload: Vec<u8>,
        stamp: Option<(SystemTime, Instant)>,
    ) -> bool {
        self.ensure_started();
        let Some(client) = &self.client else {
            return false;
        };
        // Queued before the client sees it, so the connection thread always finds it.
        lock(&self.shared).queued.push_back(stamp);
        match client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
            Ok(()) => {
                self.published += 1;
                true
            }
            Err(e) => {
                lock(&self.shared).queued.pop_back();
                self.counters.last_error = Some(match e {
                    ClientError::TryRequest(_) => "the MQTT backlog is full".to_string(),
                    other => other.to_string(),
                });
                false
            }
        }
    }

    /// Item messages published and not yet acknowledged (the backlog the broker owes us).
    fn unacked(&self) -> u64 {
        self.counters.sent.saturating_sub(lock(&self.shared).acked)
    }
}

impl LineOutput for MqttOutput {
    fn name(&self) -> String {
        format!(
            "mqtt://{}:{}/{}",
            self.config.host, self.config.port, self.config.prefix
        )
    }

    fn item(&mut self, d: ItemDecision) {
        let msg = ItemMessage {
            v: MESSAGE_VERSION,
            station: &self.station,
            seq: d.seq,
            frame: d.frame_seq,
            item: d.item_index,
            track: d.track_id,
            captured_at: rfc3339(d.captured_at),
            captured_ms: unix_ms(d.captured_at),
            x_permille: d.x_permille,
            verdict: d.verdict.as_str(),
            class_id: d.class_id,
            class: d.defect_class.as_deref(),
            score: d.score.is_finite().then_some(d.score),
            lot: &d.lot,
            model_version: &d.model_version,
        };
        let payload = serde_json::to_vec(&msg).unwrap_or_default();
        let topic = self.topics.items.clone();
        if self.publish(topic, false, payload, Some((d.captured_at, Instant::now()))) {
            self.counters.sent += 1;
        } else {
            self.counters.missed += 1;
        }
    }

    fn state(&mut self, state: StationState, fault: FaultCode) {
        let fault = (fault != FaultCode::None).then(|| fault.as_str());
        let payload = self.state_json(state.as_str(), fault);
        let topic = self.topics.state.clone();
        self.publish(topic, true, payload, None);
    }

    fn alarm(&mut self, alarm: &LineAlarm) {
        let mut body = serde_json::json!({
            "v": MESSAGE_VERSION,
            "station": self.station,
            "kind": alarm.kind.as_str(),
            "raised": alarm.raised,
            "message": alarm.message,
            "at": rfc3339(alarm.at),
        });
        if let (Some(obj), serde_json::Value::Object(details)) =
            (body.as_object_mut(), alarm.details.clone())
        {
            for (k, v) in details {
                obj.entry(k).or_insert(v);
            }
        }
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        let topic = self.topics.alarms.clone();
        self.publish(topic, false, payload, None);
    }

    fn tick(&mut self) {
        self.ensure_started();
        let mut s = lock(&self.shared);
        self.counters.connected = s.connected;
        self.counters.acked = s.acked;
        if let Some(e) = s.last_error.clone() {
            self.counters.last_error = Some(e);
        } else if s.connected {
            self.counters.last_error = None;
        }
        for (latency, round_trip) in std::mem::take(&mut s.latencies) {
            self.counters.push_ack(latency, round_trip);
        }
        drop(s);
        self.counters.backlog = self.unacked();
    }

    fn counters(&self) -> OutputCounters {
        self.counters.clone()
    }

    fn flush(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        // Wait for the broker to acknowledge what was published, then leave cleanly (a clean
        // disconnect does not fire the last will: the retained state says `stopped`).
        let all_acked = |o: &Self| o.published <= lock(&o.shared).acked_messages;
        while self.client.is_some() && !all_acked(self) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            self.tick();
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(client) = &self.client {
            let _ = client.try_disconnect();
        }
        while self.thread.as_ref().is_some_and(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(t) = self.thread.take()
            && t.is_finished()
        {
            let _ = t.join();
        }
        self.tick();
        self.counters.connected = false;
        self.counters.missed += self.unacked();
        self.counters.backlog = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_are_named() {
        let c = MqttConfig::from_url("mqtt://broker.plant:1884/plant-a/line2").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.prefix.as_str()),
            ("broker.plant", 1884, "plant-a/line2")
        );
        let c = MqttConfig::from_url("mqtt://10.0.0.7").unwrap();
        assert_eq!((c.port, c.prefix.as_str()), (1883, "foodqc"));
        let c = MqttConfig::from_url("mqtt://[::1]:1999/").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 1999));
        assert!(matches!(
            MqttConfig::from_url("tcp://x:1883"),
            Err(MqttUrlError::Scheme(_))
        ));
        assert!(matches!(
            MqttConfig::from_url("mqtt://x:port"),
            Err(MqttUrlError::Port(p, _)) if p == "port"
        ));
        assert!(matches!(
            MqttConfig::from_url("mqtt://x:1883/a/#"),
            Err(MqttUrlError::Prefix(..))
        ));
    }

    #[test]
    fn topics_keep_the_station_one_level() {
        let t = Topics::new("foodqc", "line 2/top#");
        assert_eq!(t.items, "foodqc/line 2_top_/items");
        assert_eq!(t.state, "foodqc/line 2_top_/state");
    }
}
