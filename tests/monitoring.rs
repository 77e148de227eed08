//! A headless station serves `/metrics` in the Prometheus text format and `/healthz` while it
//! runs: frame and item counters that move, the inspection latency histogram, and a health
//! check that says ok while frames are judged.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::plant::{free_port, http_get as get, metric_sample as sample};

#[test]
fn a_running_station_serves_metrics_and_health() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut station = common::foodqc()
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "inspect",
            "--source",
            "synthetic",
            "--live",
            "--frames",
            "240",
        ])
        .args([
            "--station",
            "linea-9",
            "--metrics",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let frames = "foodqc_frames_inspected_total{station=\"linea-9\"}";
    let until = Instant::now() + Duration::from_secs(20);
    let mut first = None;
    let mut last = None;
    while Instant::now() < until {
        if let Some((200, body)) = get(port, "/metrics")
            && let Some(n) = sample(&body, frames)
        {
            if first.is_none() && n > 0.0 {
                first = Some(n);
            } else if first.is_some_and(|f| n > f + 10.0) {
                last = Some((n, body));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (n, body) = last.expect("the frame counter moves on /metrics");
    assert!(n > first.unwrap());
    assert!(
        body.contains("# TYPE foodqc_frames_inspected_total counter"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE foodqc_inspection_seconds histogram"),
        "latency as a histogram: {body}"
    );
    let count = sample(
        &body,
        "foodqc_inspection_seconds_count{station=\"linea-9\"}",
    )
    .expect("a histogram count");
    assert!(count > 10.0, "{count}");
    assert_eq!(
        sample(&body, "foodqc_source_lost{station=\"linea-9\"}"),
        Some(0.0)
    );
    let (status, health) = get(port, "/healthz").expect("healthz answers");
    assert_eq!((status, health.trim()), (200, "ok"));
    assert_eq!(get(port, "/nothing").map(|r| r.0), Some(404));
    assert!(station.wait().unwrap().success());
}
