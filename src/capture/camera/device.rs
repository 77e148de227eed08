//! The real device through nokhwa: opening it at the closest decodable format, and grabbing
//! its raw frames.

use nokhwa::Camera;
use nokhwa::utils::{CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};

use super::worker::{DeviceError, Opened, RawFrames};

/// Pixel formats this module can decode, in order of preference when several fit equally well:
/// MJPEG needs the least USB bandwidth (high resolution at full rate), YUYV is the universal
/// uncompressed fallback.
pub(super) const FORMAT_PREFERENCE: [FrameFormat; 6] = [
    FrameFormat::MJPEG,
    FrameFormat::YUYV,
    FrameFormat::NV12,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
    FrameFormat::GRAY,
];

impl RawFrames for Camera {
    fn with_next<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<R, DeviceError> {
        // `frame_raw` borrows the driver's buffer: no copy before decoding.
        let data = self.frame_raw().map_err(|e| DeviceError(e.to_string()))?;
        Ok(use_frame(&data))
    }
}

/// Open the real camera on the calling (camera) thread.
pub(super) fn open_camera(
    index: u32,
    width: u32,
    height: u32,
    fps: f64,
) -> Result<(Camera, Opened), DeviceError> {
    // nokhwa's own `Closest` request only looks up frame rates at the exact requested size, so
    // it fails whenever that size is not offered. Open with any decodable format, then pick the
    // closest one ourselves and set it exactly.
    let any = RequestedFormat::with_formats(RequestedFormatType::None, &FORMAT_PREFERENCE);
    let mut camera =
        Camera::new(CameraIndex::Index(index), any).map_err(|e| DeviceError(e.to_string()))?;
    match camera.compatible_camera_formats() {
        Ok(formats) => {
            if let Some(best) = choose_format(&formats, width, height, fps)
                && best != camera.camera_format()
            {
                let exact = RequestedFormat::with_formats(
                    RequestedFormatType::Exact(best),
                    &FORMAT_PREFERENCE,
                );
                camera.set_camera_requset(exact).map_err(|e| {
                    DeviceError(crate::tr!(
                        "camera-refused-format",
                        format = best.to_string(),
                        error = e.to_string()
                    ))
                })?;
            }
        }
        Err(e) => tracing::warn!(
            "camera {index}: cannot list its formats ({e}); keeping {}",
            camera.camera_format()
        ),
    }
    camera
        .open_stream()
        .map_err(|e| DeviceError(crate::tr!("camera-cannot-stream", error = e.to_string())))?;
    let opened = Opened {
        name: camera.info().human_name(),
        format: camera.camera_format(),
    };
    Ok((camera, opened))
}

/// Pick the format closest to `width` x `height` at `fps` among those this module decodes:
/// smallest resolution distance first, then smallest frame-rate difference, then the order of
/// [`FORMAT_PREFERENCE`]. `None` when no offered format is decodable.
pub(super) fn choose_format(
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
