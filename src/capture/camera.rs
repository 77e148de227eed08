//! USB/UVC cameras through nokhwa (V4L2 on Linux, Media Foundation on Windows, AVFoundation on
//! macOS).
//!
//! nokhwa is built without its own decoders, so raw frames are converted here: MJPEG through the
//! `image` crate's JPEG decoder, YUYV (YUV 4:2:2) and NV12 (YUV 4:2:0) with BT.601 integer maths,
//! and RGB, BGR and grey by copying.
//!
//! # Threading
//! nokhwa's `Camera` is not `Send` (it holds a `Box<dyn CaptureBackendTrait>`; only its
//! `camera-sync-impl` feature claims `Send`, with an `unsafe impl`). A [`CameraSource`] therefore
//! owns a dedicated thread that opens the camera, owns it for its whole life, grabs and decodes
//! frames, and hands finished RGB frames over a one-slot crossbeam channel. The source itself
//! only holds channel ends, so it is `Send`. The thread also keeps a stalled or panicking driver
//! from blocking or taking down the caller: `next_frame` waits at most a few seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use image::{ImageFormat, RgbImage};
use nokhwa::Camera;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};

use super::{CaptureError, Frame, FrameSource, Pacing};

/// Pixel formats this module can decode, in order of preference when several fit equally well:
/// MJPEG needs the least USB bandwidth (high resolution at full rate), YUYV is the universal
/// uncompressed fallback.
const FORMAT_PREFERENCE: [FrameFormat; 6] = [
    FrameFormat::MJPEG,
    FrameFormat::YUYV,
    FrameFormat::NV12,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
    FrameFormat::GRAY,
];

/// How long `open` waits for the camera thread to open the device and start streaming.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `next_frame` waits for a frame before declaring the camera lost. Generous: in dim
/// light auto-exposure can drop a webcam to a few frames per second.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How long dropping a source waits for its thread to release the device.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// Warnings kept for `take_warnings`; later ones are only logged.
const MAX_QUEUED_WARNINGS: usize = 64;

/// Cameras the system offers, as `(index, human name)`, sorted by index.
///
/// Never fails: when the system cannot be queried the reason is logged with `tracing::warn!` and
/// the list is empty. On Linux every `/dev/videoN` node is listed, including the metadata nodes
/// that many UVC cameras add next to their capture node (opening those fails).
pub fn list_cameras() -> Vec<(u32, String)> {
    match query_cameras() {
        Ok(cameras) => cameras,
        Err(reason) => {
            tracing::warn!("cannot list cameras: {reason}");
            Vec::new()
        }
    }
}

/// Ask nokhwa for the cameras. nokhwa's V4L enumeration `unwrap`s on odd device names, so a
/// panic is caught and turned into an error instead of taking the caller down.
fn query_cameras() -> Result<Vec<(u32, String)>, String> {
    let infos = std::panic::catch_unwind(|| nokhwa::query(ApiBackend::Auto))
        .map_err(|_| "the camera backend panicked while listing devices".to_string())?
        .map_err(|e| e.to_string())?;
    let mut cameras: Vec<(u32, String)> = infos
        .iter()
        .filter_map(|info| match info.index().as_index() {
            Ok(index) => Some((index, info.human_name())),
            Err(_) => {
                tracing::debug!("ignoring camera without a numeric index: {info:?}");
                None
            }
        })
        .collect();
    cameras.sort_by_key(|(index, _)| *index);
    Ok(cameras)
}

/// A USB/UVC camera as a frame source.
///
/// Frames come from a thread that owns the device (see the module docs); `next_frame` blocks
/// until the next one is there ([`Pacing::SelfPaced`]). When the consumer is slower than the
/// camera, frames are dropped on the camera thread before they are decoded, so the consumer
/// always gets a recent frame and no CPU goes into frames nobody looks at.
pub struct CameraSource {
    index: u32,
    name: String,
    format: CameraFormat,
    frames: Receiver<Msg>,
    warnings: Receiver<String>,
    stop: Arc<AtomicBool>,
    /// Never carries a message; disconnects when the camera thread has ended (and released the
    /// device).
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
    frame_timeout: Duration,
    delivered: u64,
    /// Set once the camera thread reported the device gone; later calls repeat the error.
    lost: Option<String>,
}

/// What the camera thread reports once the device is open and streaming.
struct Opened {
    name: String,
    format: CameraFormat,
}

/// From the camera thread to the source.
enum Msg {
    Frame {
        image: RgbImage,
        captured_at: SystemTime,
    },
    /// The device failed (unplugged, I/O error); the thread has ended.
    Lost(String),
}

/// Something that yields raw frames: the real camera, or a scripted fake in tests.
trait RawFrames {
    /// Wait for the next raw frame and pass its bytes to `use_frame`.
    ///
    /// Errors are device failures (unplugged, I/O), after which no more frames come.
    fn with_next<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<R, String>;
}

impl RawFrames for Camera {
    fn with_next<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<R, String> {
        // `frame_raw` borrows the driver's buffer: no copy before decoding.
        let data = self.frame_raw().map_err(|e| e.to_string())?;
        Ok(use_frame(&data))
    }
}

impl CameraSource {
    /// Open camera `index`, asking for the format closest to `width` x `height` at `fps`
    /// (closest resolution first, then frame rate, then MJPEG before YUYV before the others),
    /// and start streaming.
    ///
    /// # Errors
    /// - [`CaptureError::NoCamera`] when the system lists no camera with this index;
    /// - [`CaptureError::CameraOpen`] when the device cannot be opened, offers no format this
    ///   module can decode, refuses the format, cannot start streaming, or does not finish
    ///   opening within 15 s.
    pub fn open(index: u32, width: u32, height: u32, fps: f64) -> Result<Self, CaptureError> {
        match query_cameras() {
            Ok(cameras) if !cameras.iter().any(|(i, _)| *i == index) => {
                return Err(CaptureError::NoCamera { index });
            }
            Ok(_) => {}
            // Listing is only a pre-check; let opening report the real problem.
            Err(reason) => tracing::warn!("cannot list cameras before opening {index}: {reason}"),
        }
        let source = spawn_worker(index, move || open_camera(index, width, height, fps))?;
        tracing::info!(
            "opened camera {index} ({}) at {}x{} {} @{} (asked for {width}x{height} @{fps})",
            source.name,
            source.format.width(),
            source.format.height(),
            source.format.format(),
            source.format.frame_rate(),
        );
        Ok(source)
    }

    /// The camera's index as given to [`CameraSource::open`].
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The camera's human-readable name as reported by the driver.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size of the frames the camera delivers, `(width, height)`.
    pub fn resolution(&self) -> (u32, u32) {
        (self.format.width(), self.format.height())
    }

    /// The frame rate the camera was set to.
    pub fn frame_rate(&self) -> u32 {
        self.format.frame_rate()
    }
}

/// Open the real camera on the calling (camera) thread.
fn open_camera(index: u32, width: u32, height: u32, fps: f64) -> Result<(Camera, Opened), String> {
    // nokhwa's own `Closest` request only looks up frame rates at the exact requested size, so
    // it fails whenever that size is not offered. Open with any decodable format, then pick the
    // closest one ourselves and set it exactly.
    let any = RequestedFormat::with_formats(RequestedFormatType::None, &FORMAT_PREFERENCE);
    let mut camera = Camera::new(CameraIndex::Index(index), any).map_err(|e| e.to_string())?;
    match camera.compatible_camera_formats() {
        Ok(formats) => {
            if let Some(best) = choose_format(&formats, width, height, fps)
                && best != camera.camera_format()
            {
                let exact = RequestedFormat::with_formats(
                    RequestedFormatType::Exact(best),
                    &FORMAT_PREFERENCE,
                );
                camera
                    .set_camera_requset(exact)
                    .map_err(|e| format!("the camera refused format {best}: {e}"))?;
            }
        }
        Err(e) => tracing::warn!(
            "camera {index}: cannot list its formats ({e}); keeping {}",
            camera.camera_format()
        ),
    }
    camera
        .open_stream()
        .map_err(|e| format!("cannot start streaming: {e}"))?;
    let opened = Opened {
        name: camera.info().human_name(),
        format: camera.camera_format(),
    };
    Ok((camera, opened))
}

/// Start the camera thread: it runs `open` (which creates the device on that thread), reports
/// back, then pumps frames until stopped or the device fails.
fn spawn_worker<C, F>(index: u32, open: F) -> Result<CameraSource, CaptureError>
where
    C: RawFrames,
    F: FnOnce() -> Result<(C, Opened), String> + Send + 'static,
{
    let (ready_tx, ready_rx) = bounded::<Result<Opened, String>>(1);
    let (frame_tx, frame_rx) = bounded::<Msg>(1);
    let (warn_tx, warn_rx) = bounded::<String>(MAX_QUEUED_WARNINGS);
    let (done_tx, done_rx) = bounded::<()>(0);
    let stop = Arc::new(AtomicBool::new(false));
    let worker_stop = Arc::clone(&stop);

    let thread = thread::Builder::new()
        .name(format!("camera-{index}"))
        .spawn(move || {
            // Locals drop in reverse order: the camera goes before `_done`, so `done`
            // disconnecting means the device has been released.
            let _done = done_tx;
            let (mut camera, opened) = match open() {
                Ok(pair) => pair,
                Err(reason) => {
                    let _ = ready_tx.send(Err(reason));
                    return;
                }
            };
            let format = opened.format;
            // Fails only when `open` gave up waiting; then nobody wants the camera.
            if ready_tx.send(Ok(opened)).is_err() {
                return;
            }
            pump(
                index,
                &mut camera,
                format,
                &frame_tx,
                &warn_tx,
                &worker_stop,
            );
        })
        .map_err(|e| CaptureError::CameraOpen {
            index,
            reason: format!("cannot start the camera thread: {e}"),
        })?;

    let opened = match ready_rx.recv_timeout(OPEN_TIMEOUT) {
        Ok(Ok(opened)) => opened,
        Ok(Err(reason)) => return Err(CaptureError::CameraOpen { index, reason }),
        Err(RecvTimeoutError::Timeout) => {
            stop.store(true, Ordering::Relaxed);
            return Err(CaptureError::CameraOpen {
                index,
                reason: format!(
                    "the camera did not open within {} s",
                    OPEN_TIMEOUT.as_secs()
                ),
            });
        }
        Err(RecvTimeoutError::Disconnected) => {
            return Err(CaptureError::CameraOpen {
                index,
                reason: "the camera thread ended while opening (the driver panicked)".into(),
            });
        }
    };
    Ok(CameraSource {
        index,
        name: opened.name,
        format: opened.format,
        frames: frame_rx,
        warnings: warn_rx,
        stop,
        done: done_rx,
        thread: Some(thread),
        frame_timeout: FRAME_TIMEOUT,
        delivered: 0,
        lost: None,
    })
}

/// The camera thread's loop: grab, decode, hand over; until stopped or the device fails.
fn pump<C: RawFrames>(
    index: u32,
    camera: &mut C,
    format: CameraFormat,
    frames: &Sender<Msg>,
    warnings: &Sender<String>,
    stop: &AtomicBool,
) {
    let mut bad_in_a_row: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let grabbed = camera.with_next(|data| {
            let captured_at = SystemTime::now();
            // The consumer has not taken the previous frame yet: drop this one undecoded.
            if frames.is_full() {
                return None;
            }
            let decoded = decode_frame(format.format(), data, format.width(), format.height());
            Some((decoded, captured_at))
        });
        match grabbed {
            Err(reason) => {
                tracing::warn!("camera {index} stopped delivering frames: {reason}");
                // Blocks only while the consumer still holds an undelivered frame; dropping the
                // source drains the channel, so this cannot hang.
                let _ = frames.send(Msg::Lost(reason));
                return;
            }
            Ok(None) => {}
            Ok(Some((Ok(image), captured_at))) => {
                bad_in_a_row = 0;
                let msg = Msg::Frame { image, captured_at };
                if let Err(TrySendError::Disconnected(_)) = frames.try_send(msg) {
                    return;
                }
            }
            Ok(Some((Err(reason), _))) => {
                bad_in_a_row += 1;
                let message = format!(
                    "camera {index}: skipped a corrupt {} frame: {reason}",
                    format.format()
                );
                // A camera sending garbage at 30 fps must not flood the log.
                if bad_in_a_row <= 3 || bad_in_a_row.is_multiple_of(100) {
                    tracing::warn!("{message} ({bad_in_a_row} in a row)");
                }
                let _ = warnings.try_send(message);
            }
        }
    }
}

impl FrameSource for CameraSource {
    fn describe(&self) -> String {
        format!(
            "camera {}: {} {}x{} {} @{}",
            self.index,
            self.name,
            self.format.width(),
            self.format.height(),
            self.format.format(),
            self.format.frame_rate()
        )
    }

    fn pacing(&self) -> Pacing {
        Pacing::SelfPaced
    }

    fn is_continuous(&self) -> bool {
        true
    }

    /// The next decoded frame, waiting up to 5 s for it.
    ///
    /// Errors with [`CaptureError::CameraLost`] when the device failed (unplugged) or delivered
    /// no decodable frame in time; the caller should drop this source and open it again.
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let lost = |reason: String| CaptureError::CameraLost {
            index: self.index,
            reason,
        };
        if let Some(reason) = &self.lost {
            return Err(lost(reason.clone()));
        }
        match self.frames.recv_timeout(self.frame_timeout) {
            Ok(Msg::Frame { image, captured_at }) => {
                let frame = Frame {
                    seq: self.delivered,
                    captured_at,
                    image,
                    origin: Some(format!("camera {}", self.index)),
                    truth: None,
                };
                self.delivered += 1;
                Ok(Some(frame))
            }
            Ok(Msg::Lost(reason)) => {
                self.lost = Some(reason.clone());
                Err(lost(reason))
            }
            Err(RecvTimeoutError::Timeout) => Err(lost(format!(
                "no decodable frame within {:.1} s",
                self.frame_timeout.as_secs_f64()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                let reason = "the camera thread ended unexpectedly (the driver panicked)";
                self.lost = Some(reason.to_string());
                Err(lost(reason.to_string()))
            }
        }
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.warnings.try_iter().collect()
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Free the slot so a thread blocked handing over its last message can finish.
        while self.frames.try_recv().is_ok() {}
        // Wait (bounded) for the device to be released, so that re-opening right away works.
        // A driver stuck inside a read cannot be interrupted: leave that thread behind.
        match self.done.recv_timeout(STOP_TIMEOUT) {
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.take() {
                    // The thread has finished its work; a panic there was already reported.
                    let _ = thread.join();
                }
            }
            _ => tracing::warn!(
                "camera {}: capture thread did not stop within {} s; leaving it behind",
                self.index,
                STOP_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Pick the format closest to `width` x `height` at `fps` among those this module decodes:
/// smallest resolution distance first, then smallest frame-rate difference, then the order of
/// [`FORMAT_PREFERENCE`]. `None` when no offered format is decodable.
fn choose_format(
    available: &[CameraFormat],
    width: u32,
    height: u32,
    fps: f64,
) -> Option<CameraFormat> {
    available
        .iter()
        .filter_map(|f| {
            let rank = FORMAT_PREFERENCE.iter().position(|p| *p == f.format())?;
            let dw = u128::from(f.width().abs_diff(width));
            let dh = u128::from(f.height().abs_diff(height));
            // Millihertz, so that 29.97 and 30 still differ.
            let dfps = ((f64::from(f.frame_rate()) - fps).abs() * 1000.0) as u64;
            Some(((dw * dw + dh * dh, dfps, rank), *f))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, f)| f)
}

/// Decode one raw frame of `format`, nominally `width` x `height`, to RGB8.
///
/// MJPEG frames carry their own size; the raw formats need at least the nominal number of bytes
/// (drivers may hand over a larger, padded buffer; the excess is ignored).
fn decode_frame(
    format: FrameFormat,
    data: &[u8],
    width: u32,
    height: u32,
) -> Result<RgbImage, String> {
    match format {
        FrameFormat::MJPEG => image::load_from_memory_with_format(data, ImageFormat::Jpeg)
            .map(|img| img.into_rgb8())
            .map_err(|e| format!("JPEG decoding failed ({} bytes): {e}", data.len())),
        FrameFormat::YUYV => yuyv_to_rgb(data, width, height),
        FrameFormat::NV12 => nv12_to_rgb(data, width, height),
        FrameFormat::RAWRGB => {
            let data = take_bytes(data, width, height, 3, "RGB")?;
            into_image(data.to_vec(), width, height)
        }
        FrameFormat::RAWBGR => {
            let data = take_bytes(data, width, height, 3, "BGR")?;
            let rgb = data
                .chunks_exact(3)
                .flat_map(|bgr| [bgr[2], bgr[1], bgr[0]])
                .collect();
            into_image(rgb, width, height)
        }
        FrameFormat::GRAY => {
            let data = take_bytes(data, width, height, 1, "GRAY")?;
            let rgb = data.iter().flat_map(|&g| [g, g, g]).collect();
            into_image(rgb, width, height)
        }
    }
}

/// The first `width * height * bytes_per_pixel` bytes of `data`, or an error naming the format.
fn take_bytes<'a>(
    data: &'a [u8],
    width: u32,
    height: u32,
    bytes_per_pixel: usize,
    name: &str,
) -> Result<&'a [u8], String> {
    let needed = width as usize * height as usize * bytes_per_pixel;
    data.get(..needed).ok_or_else(|| {
        format!(
            "{name} frame of {width}x{height} needs {needed} bytes, got {}",
            data.len()
        )
    })
}

fn into_image(rgb: Vec<u8>, width: u32, height: u32) -> Result<RgbImage, String> {
    RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| format!("internal error: wrong buffer size for {width}x{height}"))
}

/// One pixel from BT.601 limited-range Y'CbCr (the usual webcam encoding) to RGB, with the
/// standard 8-bit fixed-point coefficients (1.164, 1.596, 0.392, 0.813, 2.017 times 256).
fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(cb) - 128;
    let e = i32::from(cr) - 128;
    let to_u8 = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        to_u8(c + 409 * e),
        to_u8(c - 100 * d - 208 * e),
        to_u8(c + 516 * d),
    ]
}

/// YUYV (YUY2, packed 4:2:2: `Y0 U Y1 V` for each pair of pixels) to RGB8.
fn yuyv_to_rgb(data: &[u8], width: u32, height: u32) -> Result<RgbImage, String> {
    if !width.is_multiple_of(2) {
        return Err(format!("YUYV frame width {width} is odd"));
    }
    let data = take_bytes(data, width, height, 2, "YUYV")?;
    let mut rgb = vec![0u8; data.len() / 2 * 3];
    for (yuyv, out) in data.chunks_exact(4).zip(rgb.chunks_exact_mut(6)) {
        let (cb, cr) = (yuyv[1], yuyv[3]);
        out[..3].copy_from_slice(&ycbcr_to_rgb(yuyv[0], cb, cr));
        out[3..].copy_from_slice(&ycbcr_to_rgb(yuyv[2], cb, cr));
    }
    into_image(rgb, width, height)
}

/// NV12 (4:2:0: a full-size Y plane, then one interleaved `U V` plane at half width and half
/// height, shared by each 2x2 block) to RGB8. Odd sizes round the chroma plane up.
fn nv12_to_rgb(data: &[u8], width: u32, height: u32) -> Result<RgbImage, String> {
    let (w, h) = (width as usize, height as usize);
    let chroma_stride = w.div_ceil(2) * 2;
    let needed = w * h + chroma_stride * h.div_ceil(2);
    let data = data.get(..needed).ok_or_else(|| {
        format!(
            "NV12 frame of {width}x{height} needs {needed} bytes, got {}",
            data.len()
        )
    })?;
    let (luma, chroma) = data.split_at(w * h);
    let mut rgb = Vec::with_capacity(w * h * 3);
    if w > 0 {
        for (row, luma_row) in luma.chunks_exact(w).enumerate() {
            let chroma_row = &chroma[row / 2 * chroma_stride..][..chroma_stride];
            for (col, &y) in luma_row.iter().enumerate() {
                let uv = &chroma_row[col / 2 * 2..];
                rgb.extend_from_slice(&ycbcr_to_rgb(y, uv[0], uv[1]));
            }
        }
    }
    into_image(rgb, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, Rgb};

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
        let err = yuyv_to_rgb(&data[..6], 2, 2).unwrap_err();
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
        let err = nv12_to_rgb(&data[..11], 4, 2).unwrap_err();
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

        let err = decode_frame(FrameFormat::MJPEG, &[0x12; 300], 32, 16).unwrap_err();
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
        fn with_next<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<R, String> {
            self.ticks.recv().map_err(|_| "test finished".to_string())?;
            match self.script.next() {
                Some(Ok(data)) => Ok(use_frame(&data)),
                Some(Err(e)) => Err(e),
                None => Err("script ended".into()),
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
        let result = spawn_worker::<FakeCamera, _>(7, || Err("device busy".into()));
        match result {
            Err(CaptureError::CameraOpen { index: 7, reason }) => {
                assert_eq!(reason, "device busy");
            }
            Err(other) => panic!("expected CameraOpen, got {other:?}"),
            Ok(_) => panic!("expected CameraOpen, got a source"),
        }
    }
}
