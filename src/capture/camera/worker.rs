//! The camera thread: it opens the device, owns it for its whole life, grabs and decodes
//! frames and hands them over a one-slot channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use image::RgbImage;
use nokhwa::utils::CameraFormat;

use super::decode::decode_frame;
use super::{CameraSource, FRAME_TIMEOUT, MAX_QUEUED_WARNINGS, OPEN_TIMEOUT};
use crate::capture::CaptureError;

/// A device failure as the driver (or a test script) words it: unplugged, I/O, refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct DeviceError(pub(super) String);

/// What the camera thread reports once the device is open and streaming.
pub(super) struct Opened {
    pub(super) name: String,
    pub(super) format: CameraFormat,
}

/// From the camera thread to the source.
pub(super) enum Msg {
    Frame {
        image: RgbImage,
        captured_at: SystemTime,
    },
    /// The device failed (unplugged, I/O error); the thread has ended.
    Lost(String),
}

/// Something that yields raw frames: the real camera, or a scripted fake in tests.
pub(super) trait RawFrames {
    /// Wait for the next raw frame and pass its bytes to `use_frame`.
    ///
    /// Errors are device failures (unplugged, I/O), after which no more frames come.
    fn with_next<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<R, DeviceError>;
}

/// Start the camera thread: it runs `open` (which creates the device on that thread), reports
/// back, then pumps frames until stopped or the device fails.
pub(super) fn spawn_worker<C, F>(index: u32, open: F) -> Result<CameraSource, CaptureError>
where
    C: RawFrames,
    F: FnOnce() -> Result<(C, Opened), DeviceError> + Send + 'static,
{
    let (ready_tx, ready_rx) = bounded::<Result<Opened, DeviceError>>(1);
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

    let opened = wait_until_open(index, &ready_rx, &stop)?;
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
pub(super) fn pump<C: RawFrames>(
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
                let _ = frames.send(Msg::Lost(reason.to_string()));
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

/// Waits (up to [`OPEN_TIMEOUT`]) for the camera thread to report the device open; on a
/// timeout asks the thread to stop.
fn wait_until_open(
    index: u32,
    ready: &Receiver<Result<Opened, DeviceError>>,
    stop: &AtomicBool,
) -> Result<Opened, CaptureError> {
    match ready.recv_timeout(OPEN_TIMEOUT) {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(reason)) => Err(CaptureError::CameraOpen {
            index,
            reason: reason.to_string(),
        }),
        Err(RecvTimeoutError::Timeout) => {
            stop.store(true, Ordering::Relaxed);
            Err(CaptureError::CameraOpen {
                index,
                reason: format!(
                    "the camera did not open within {} s",
                    OPEN_TIMEOUT.as_secs()
                ),
            })
        }
        Err(RecvTimeoutError::Disconnected) => Err(CaptureError::CameraOpen {
            index,
            reason: "the camera thread ended while opening (the driver panicked)".into(),
        }),
    }
}
