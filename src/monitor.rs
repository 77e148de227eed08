//! Monitoring for headless stations and the plant collector: `/metrics` in the Prometheus
//! text format (the `metrics` facade, rendered by metrics-exporter-prometheus) and `/healthz`
//! (200 `ok`, or 503 with the reason), served by a small HTTP thread (tiny_http). Metric
//! names are in the README; an example alert rules file is `assets/monitoring/alerts.yml`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Says whether the process is healthy: `Err(reason)` when not.
pub type HealthCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The running endpoint; stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Why monitoring cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("monitor-cannot-start", addr = .addr.to_string(), error = .reason.as_str()))]
pub struct MonitorError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What went wrong.
    pub reason: String,
}

/// Inspection latency buckets, seconds (a 30 FPS line must judge well under 33 ms).
const LATENCY_BUCKETS: [f64; 10] = [0.002, 0.005, 0.01, 0.015, 0.02, 0.033, 0.05, 0.1, 0.25, 1.0];

impl MetricsServer {
    /// Install the process's metrics recorder and serve `/metrics` and `/healthz` on `addr`
    /// (port 0: any free port, see [`MetricsServer::addr`]).
    pub fn start(addr: SocketAddr, health: HealthCheck) -> Result<MetricsServer, MonitorError> {
        let fail = |reason: String| MonitorError { addr, reason };
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .map_err(|e| fail(e.to_string()))?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).map_err(|e| fail(e.to_string()))?;
        describe();
        let server = tiny_http::Server::http(addr).map_err(|e| fail(e.to_string()))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| fail("not an IP address".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("foodqc-metrics".into())
                .spawn(move || serve(&server, &handle, &health, &stop))
                .map_err(|e| fail(e.to_string()))?
        };
        Ok(MetricsServer {
            addr: bound,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    server: &tiny_http::Server,
    handle: &PrometheusHandle,
    health: &HealthCheck,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        let request = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("metrics endpoint: {e}");
                continue;
            }
        };
        let (status, body, kind) = match request.url() {
            "/metrics" => (200, handle.render(), "text/plain; version=0.0.4"),
            "/healthz" => match health() {
                Ok(()) => (200, "ok\n".to_string(), "text/plain"),
                Err(reason) => (503, format!("{reason}\n"), "text/plain"),
            },
            _ => (404, "not found\n".to_string(), "text/plain"),
        };
        let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
        let response = tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(header);
        if let Err(e) = request.respond(response) {
            tracing::warn!("metrics endpoint: {e}");
        }
    }
}

/// Help texts of the metrics foodqc records.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "foodqc_frames_inspected_total",
        "Frames judged, per station."
    );
    describe_counter!(
        "foodqc_frames_dropped_total",
        "Frames dropped because judging fell behind."
    );
    describe_counter!(
        "foodqc_items_total",
        "Items judged, per station and verdict."
    );
    describe_histogram!(
        "foodqc_inspection_seconds",
        metrics::Unit::Seconds,
        "Time to judge one frame."
    );
    describe_gauge!(
        "foodqc_source_lost",
        "1 while the station's camera is gone."
    );
    describe_gauge!(
        "foodqc_outbox_pending",
        "Records waiting for the plant's Kafka."
    );
    describe_counter!(
        "foodqc_outbox_delivered_total",
        "Records the plant's Kafka acknowledged."
    );
    describe_counter!(
        "foodqc_reject_crops_skipped_total",
        "Reject crops not sent to the plant (gone, or over the size limit)."
    );
    describe_counter!(
        "foodqc_plant_messages_refused_total",
        "Plant decisions this station refused: no seal, altered, or a key it does not trust."
    );
    describe_counter!(
        "foodqc_recorder_journaled_total",
        "Rows the database could not take at once (sent to the journal)."
    );
    describe_counter!(
        "foodqc_collector_messages_total",
        "Messages the plant collector read."
    );
    describe_counter!(
        "foodqc_collector_rows_stored_total",
        "Rows the plant collector stored."
    );
    describe_counter!(
        "foodqc_collector_skipped_total",
        "Messages that were not foodqc records."
    );
    describe_counter!("foodqc_collector_db_errors_total", "Plant database errors.");
    describe_gauge!(
        "foodqc_collector_lag_messages",
        "Messages in this collector's partitions not read yet (scale out when it grows)."
    );
}
