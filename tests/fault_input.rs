//! Fault suite, bad input: each case runs the real binary on a fresh data folder and checks
//! the exit status, the message (naming the file, field or value) and the rows recorded.

mod common;

use std::path::Path;

use common::foodqc;

/// Rows in the inspections table of a data folder's database.
fn rows(data: &Path) -> i64 {
    let db = rusqlite::Connection::open(data.join("foodqc.sqlite")).unwrap();
    db.query_row("SELECT COUNT(*) FROM inspections", [], |r| r.get(0))
        .unwrap()
}

/// A model file with finite but absurd values (an item feature scale of 1e-300, which made
/// every distance NaN and passed cracked cookies) is refused before any frame is judged,
/// naming the file and the field.
#[test]
fn a_model_with_absurd_values_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("absurd.json");
    let mut v: serde_json::Value =
        serde_json::from_str(foodqc::model::anomaly::BUNDLED_MODEL_JSON).unwrap();
    v["item"]["scale"][2] = serde_json::json!(1e-300);
    std::fs::write(&model, v.to_string()).unwrap();
    let out = foodqc()
        .args(["inspect", "--frames", "3", "--model"])
        .arg(&model)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("absurd.json") && err.contains("scale[2] = 1e-300"),
        "{err}"
    );
}

/// Frame sizes and rates no camera has are refused at once with the option and its range,
/// instead of allocating gigabytes or waiting forever.
#[test]
fn absurd_frame_sizes_and_rates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (args, named) in [
        (["--width", "100000"], "--width = 100000"),
        (["--height", "0"], "--height = 0"),
        (["--fps", "1e-300"], "--fps = 0.000"),
        (["--fps", "NaN"], "--fps = NaN"),
    ] {
        let started = std::time::Instant::now();
        let out = foodqc()
            .args(["inspect", "--frames", "3"])
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named) && err.contains("out of range"), "{err}");
        assert!(started.elapsed().as_secs() < 10, "{args:?} took too long");
    }
}

/// A JPEG cut in half (a camera still writing it) is skipped, named once, and counted; the
/// whole photo beside it is judged and recorded; nothing of the cut one is recorded.
#[test]
fn a_truncated_photo_is_skipped_counted_and_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut img = image::RgbImage::from_pixel(640, 480, image::Rgb([60, 60, 60]));
    imageproc::drawing::draw_filled_circle_mut(
        &mut img,
        (320, 240),
        100,
        image::Rgb([210, 160, 90]),
    );
    img.save(photos.join("whole.jpg")).unwrap();
    let bytes = std::fs::read(photos.join("whole.jpg")).unwrap();
    std::fs::write(photos.join("cut.jpg"), &bytes[..bytes.len() / 2]).unwrap();
    let data = dir.path().join("data");
    let out = foodqc()
        .args(["inspect", "--json", "--source"])
        .arg(format!("folder:{}", photos.display()))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("truncated JPEG").count(), 1, "{err}");
    assert!(err.contains("cut.jpg"), "{err}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["files_skipped"], 1, "{summary}");
    assert_eq!(summary["frames"], 1, "{summary}");
    assert_eq!(rows(&data), summary["items"].as_i64().unwrap());
}
