//! Tests of the camera source: format choice, frame decoding and the camera thread, with a
//! scripted fake camera (no device exists on CI machines).

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use nokhwa::utils::{CameraFormat, FrameFormat};

use super::decode::{decode_frame, nv12_to_rgb, ycbcr_to_rgb, yuyv_to_rgb};
use super::device::choose_format;
use super::worker::{DeviceError, Opened, RawFrames, spawn_worker};
use super::*;

fn assert_send<T: Send>() {}

#[test]
fn camera_source_is_send() {
    assert_send::<CameraSource>();
}

/// True when the machine has any `/dev/video*` node (a developer's laptop with a webcam).
fn has_video_devices() -> bool {
    std::fs::read_dir("/dev").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("video"))
    })
}

#[test]
fn list_cameras_without_cameras_is_empty() {
    let cameras = list_cameras();
    if has_video_devices() {
        println!("note: this machine has video devices: {cameras:?}");
    } else {
        assert!(cameras.is_empty(), "{cameras:?}");
    }
}

#[test]
fn opening_a_missing_camera_names_the_index() {
    // The real path through nokhwa; index 0 is only checked when no camera 0 exists.
    let mut indexes = vec![4242];
    if !list_cameras().iter().any(|(i, _)| *i == 0) {
        indexes.push(0);
    }
    for index in indexes {
        let err = match CameraSource::open(index, 1280, 720, 30.0) {
            Ok(src) => panic!("camera {index} should not exist: {}", src.describe()),
            Err(e) => e,
        };
        assert!(
            matches!(
                err,
                CaptureError::NoCamera { index: i } | CaptureError::CameraOpen { index: i, .. }
                    if i == index
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains(&index.to_string()), "{err}");
    }
}

#[test]
fn ycbcr_hand_computed_values() {
    // Black, white and mid grey of limited-range video.
    assert_eq!(ycbcr_to_rgb(16, 128, 128), [0, 0, 0]);
    assert_eq!(ycbcr_to_rgb(235, 128, 128), [255, 255, 255]);
    // 298 * 110 = 32780; (32780 + 128) >> 8 = 128.
    assert_eq!(ycbcr_to_rgb(126, 128, 128), [128, 128, 128]);
    // BT.601 red (Y 81, Cb 90, Cr 240): c = 19370, d = -38, e = 112.
    // R = (19370 + 45808 + 128) >> 8 = 255; G = (19370 + 3800 - 23296 + 128) >> 8 = 0;
    // B = (19370 - 19608 + 128) >> 8 = -1 -> 0.
    assert_eq!(ycbcr_to_rgb(81, 90, 240), [255, 0, 0]);
    // BT.601 blue (Y 41, Cb 240, Cr 110): c = 7450, d = 112, e = -18.
    // R = (7450 - 7362 + 128) >> 8 = 0; G = (7450 - 11200 + 3744 + 128) >> 8 = 0;
    // B = (7450 + 57792 + 128) >> 8 = 255.
    assert_eq!(ycbcr_to_rgb(41, 240, 110), [0, 0, 255]);
    // Below black clamps to 0, above white to 255.
    assert_eq!(ycbcr_to_rgb(0, 128, 128), [0, 0, 0]);
    assert_eq!(ycbcr_to_rgb(255, 128, 128), [255, 255, 255]);
}

#[test]
fn yuyv_to_rgb_hand_computed() {
    // 4x1: pixel pair 1 = black + white (neutral chroma), pair 2 = two red pixels.
    let data = [16, 128, 235, 128, 81, 90, 81, 240];
    let img = yuyv_to_rgb(&data, 4, 1).unwrap();
    assert_eq!(img.dimensions(), (4, 1));
    let px: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert_eq!(px, [[0, 0, 0], [255, 255, 255], [255, 0, 0], [255, 0, 0]]);

    // 2x2: rows are independent pixel pairs.
    let data = [126, 128, 126, 128, 41, 240, 41, 110];
    let img = yuyv_to_rgb(&data, 2, 2).unwrap();
    assert_eq!(img.get_pixel(1, 0).0, [128, 128, 128]);
    assert_eq!(img.get_pixel(0, 1).0, [0, 0, 255]);

    // A padded driver buffer is fine; a short one or an odd width is an error.
    let mut padded = data.to_vec();
    padded.extend([0; 8]);
    assert_eq!(yuyv_to_rgb(&padded, 2, 2).unwrap(), img);
    let err = yuyv_to_rgb(&data[..6], 2, 2).unwrap_err().to_string();
    assert!(err.contains("needs 8 bytes, got 6"), "{err}");
    assert!(yuyv_to_rgb(&data, 3, 1).is_err());
}

#[test]
fn nv12_to_rgb_hand_computed() {
    // 4x2: Y plane, then one U V pair per 2x2 block: left neutral, right red chroma.
    #[rustfmt::skip]
    let data = [
        16, 235, 81, 81,   // Y row 0
        126, 81, 81, 81,   // Y row 1
        128, 128, 90, 240, // U V for block (0,0) and block (1,0)
    ];
    let img = nv12_to_rgb(&data, 4, 2).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
    assert_eq!(img.get_pixel(1, 0).0, [255, 255, 255]);
    assert_eq!(img.get_pixel(0, 1).0, [128, 128, 128]);
    // Y 81 with neutral chroma: (298 * 65 + 128) >> 8 = 76.
    assert_eq!(img.get_pixel(1, 1).0, [76, 76, 76]);
    for (x, y) in [(2, 0), (3, 0), (2, 1), (3, 1)] {
        assert_eq!(img.get_pixel(x, y).0, [255, 0, 0], "({x},{y})");
    }
    let err = nv12_to_rgb(&data[..11], 4, 2).unwrap_err().to_string();
    assert!(err.contains("needs 12 bytes"), "{err}");

    // Odd size 3x3: chroma plane is 2 pairs wide, 2 rows high.
    let mut odd = vec![126u8; 9];
    odd.extend([128, 128, 41, 240, 128, 128, 128, 128]);
    let img = nv12_to_rgb(&odd, 3, 3).unwrap();
    // Y 126 with Cb 41, Cr 240 is out of gamut; just check the block lookup is right.
    assert_eq!(img.get_pixel(2, 0).0, ycbcr_to_rgb(126, 41, 240));
    assert_eq!(img.get_pixel(2, 2).0, [128, 128, 128]);
}

#[test]
fn raw_formats_decode() {
    let bgr = [1, 2, 3, 4, 5, 6];
    let img = decode_frame(FrameFormat::RAWBGR, &bgr, 2, 1).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, [3, 2, 1]);
    assert_eq!(img.get_pixel(1, 0).0, [6, 5, 4]);
    let img = decode_frame(FrameFormat::RAWRGB, &bgr, 2, 1).unwrap();
    assert_eq!(img.get_pixel(1, 0).0, [4, 5, 6]);
    let img = decode_frame(FrameFormat::GRAY, &[9, 200], 1, 2).unwrap();
    assert_eq!(img.get_pixel(0, 1).0, [200, 200, 200]);
    assert!(decode_frame(FrameFormat::RAWRGB, &bgr, 2, 2).is_err());
}

fn jpeg_bytes(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb(colour)));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[test]
fn mjpeg_decodes_and_corrupt_frames_error() {
    let jpeg = jpeg_bytes(32, 16, [200, 100, 50]);
    let img = decode_frame(FrameFormat::MJPEG, &jpeg, 32, 16).unwrap();
    assert_eq!(img.dimensions(), (32, 16));
    let p = img.get_pixel(5, 5).0;
    assert!(
        p.iter()
            .zip([200, 100, 50])
            .all(|(&a, b)| a.abs_diff(b) < 8),
        "{p:?}"
    );
    // Trailing bytes after the end marker (a padded driver buffer) are fine.
    let mut padded = jpeg.clone();
    padded.extend([0; 100]);
    assert!(decode_frame(FrameFormat::MJPEG, &padded, 32, 16).is_ok());

    let err = decode_frame(FrameFormat::MJPEG, &[0x12; 300], 32, 16)
        .unwrap_err()
        .to_string();
    assert!(err.contains("JPEG"), "{err}");
    assert!(decode_frame(FrameFormat::MJPEG, &[], 32, 16).is_err());
}

fn fmt(w: u32, h: u32, format: FrameFormat, fps: u32) -> CameraFormat {
    CameraFormat::new_from(w, h, format, fps)
}

#[test]
fn chooses_the_closest_format() {
    use FrameFormat::{MJPEG, NV12, YUYV};
    // A typical webcam: YUYV is slow at high resolution, MJPEG is fast.
    let offered = [
        fmt(640, 480, YUYV, 30),
        fmt(1280, 720, YUYV, 10),
        fmt(640, 480, MJPEG, 30),
        fmt(1280, 720, MJPEG, 30),
        fmt(1920, 1080, MJPEG, 30),
    ];
    assert_eq!(
        choose_format(&offered, 1280, 720, 30.0),
        Some(fmt(1280, 720, MJPEG, 30))
    );
    // Same size and rate in both: MJPEG preferred.
    assert_eq!(
        choose_format(&offered, 640, 480, 30.0),
        Some(fmt(640, 480, MJPEG, 30))
    );
    // Frame rate breaks a tie in resolution before the format preference does.
    assert_eq!(
        choose_format(&offered, 1280, 720, 10.0),
        Some(fmt(1280, 720, YUYV, 10))
    );
    // Size not offered: the nearest one.
    assert_eq!(
        choose_format(&offered, 1700, 950, 30.0),
        Some(fmt(1920, 1080, MJPEG, 30))
    );
    // Only a format we cannot decode... is skipped; NV12 is taken.
    let odd = [fmt(800, 600, NV12, 15)];
    assert_eq!(choose_format(&odd, 1280, 720, 30.0), Some(odd[0]));
    assert_eq!(choose_format(&[], 1280, 720, 30.0), None);
}

/// A scripted camera: each tick from the test releases the next scripted result.
struct FakeCamera {
    ticks: Receiver<()>,
    script: std::vec::IntoIter<Result<Vec<u8>, String>>,
}

impl RawFrames for FakeCamera {
    fn with_next<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<R, DeviceError> {
        self.ticks
            .recv()
            .map_err(|_| DeviceError("test finished".into()))?;
        match self.script.next() {
            Some(Ok(data)) => Ok(use_frame(&data)),
            Some(Err(e)) => Err(DeviceError(e)),
            None => Err(DeviceError("script ended".into())),
        }
    }
}

fn fake_source(script: Vec<Result<Vec<u8>, String>>) -> (CameraSource, Sender<()>) {
    let (tick_tx, tick_rx) = bounded(16);
    let src = spawn_worker(3, move || {
        let camera = FakeCamera {
            ticks: tick_rx,
            script: script.into_iter(),
        };
        let opened = Opened {
            name: "Fake Cam".into(),
            format: fmt(32, 16, FrameFormat::MJPEG, 30),
        };
        Ok((camera, opened))
    })
    .unwrap();
    (src, tick_tx)
}

#[test]
fn worker_skips_corrupt_frames_and_reports_loss() {
    let good = jpeg_bytes(32, 16, [10, 200, 10]);
    let (mut src, ticks) = fake_source(vec![
        Ok(good.clone()),
        Ok(vec![0xff, 0xd8, 0xff, 0x00, 1, 2, 3]),
        Ok(good),
        Err("VIDIOC_DQBUF: No such device".into()),
    ]);
    assert_eq!(src.describe(), "camera 3: Fake Cam 32x16 MJPEG @30");
    assert_eq!(src.pacing(), Pacing::SelfPaced);
    assert!(src.is_continuous());

    ticks.send(()).unwrap();
    let first = src.next_frame().unwrap().unwrap();
    assert_eq!((first.seq, first.image.dimensions()), (0, (32, 16)));
    assert_eq!(first.origin.as_deref(), Some("camera 3"));

    // The corrupt frame is skipped with a warning; the next good one arrives.
    ticks.send(()).unwrap();
    ticks.send(()).unwrap();
    let second = src.next_frame().unwrap().unwrap();
    assert_eq!(second.seq, 1);
    let warnings = src.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("camera 3") && warnings[0].contains("MJPEG"));

    // The device fails: CameraLost naming the index and the reason, and it stays lost.
    ticks.send(()).unwrap();
    for _ in 0..2 {
        let err = src.next_frame().unwrap_err();
        assert!(
            matches!(&err, CaptureError::CameraLost { index: 3, reason } if reason.contains("No such device")),
            "{err:?}"
        );
    }
}

#[test]
fn worker_times_out_instead_of_hanging() {
    let (mut src, ticks) = fake_source(vec![]);
    src.frame_timeout = Duration::from_millis(100);
    let err = src.next_frame().unwrap_err();
    assert!(
        matches!(err, CaptureError::CameraLost { index: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no decodable frame"), "{err}");
    drop(ticks);
    drop(src);
}

#[test]
fn open_failure_in_the_thread_is_camera_open() {
    let result = spawn_worker::<FakeCamera, _>(7, || Err(DeviceError("device busy".into())));
    match result {
        Err(CaptureError::CameraOpen { index: 7, reason }) => {
            assert_eq!(reason, "device busy");
        }
        Err(other) => panic!("expected CameraOpen, got {other:?}"),
        Ok(_) => panic!("expected CameraOpen, got a source"),
    }
}
