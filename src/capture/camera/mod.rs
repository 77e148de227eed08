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

mod decode;
mod device;
#[cfg(test)]
mod tests;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use nokhwa::utils::{ApiBackend, CameraFormat};

use super::{CaptureError, Frame, FrameSource, Pacing};
use device::open_camera;
use worker::{DeviceError, Msg, spawn_worker};

/// How long `open` waits for the camera thread to open the device and start streaming.
pub(super) const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `next_frame` waits for a frame before declaring the camera lost. Generous: in dim
/// light auto-exposure can drop a webcam to a few frames per second.
pub(super) const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How long dropping a source waits for its thread to release the device.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// Warnings kept for `take_warnings`; later ones are only logged.
pub(super) const MAX_QUEUED_WARNINGS: usize = 64;

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
fn query_cameras() -> Result<Vec<(u32, String)>, DeviceError> {
    let infos = std::panic::catch_unwind(|| nokhwa::query(ApiBackend::Auto))
        .map_err(|_| DeviceError("the camera backend panicked while listing devices".into()))?
        .map_err(|e| DeviceError(e.to_string()))?;
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
