//! Raw camera frames to RGB8: MJPEG through the `image` crate, YUYV and NV12 with BT.601
//! integer maths, RGB, BGR and grey by copying.

use image::{ImageFormat, RgbImage};
use nokhwa::utils::FrameFormat;

/// Why a raw frame could not be decoded (the frame is skipped with a warning).
#[derive(Debug, thiserror::Error)]
pub(super) enum DecodeError {
    /// The MJPEG frame is not a valid JPEG.
    #[error("{}", crate::tr!("err-capture-camera-decode-jpeg", bytes = .bytes.to_string(), source = .source.to_string()))]
    Jpeg {
        /// Size of the frame.
        bytes: usize,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// The driver's buffer is shorter than the format needs.
    #[error("{format} frame of {width}x{height} needs {needed} bytes, got {got}")]
    TooShort {
        /// The pixel format.
        format: &'static str,
        /// Nominal frame size, pixels.
        width: u32,
        height: u32,
        /// Bytes needed and bytes received.
        needed: usize,
        got: usize,
    },
    /// YUYV pairs pixels: the width must be even.
    #[error("{}", crate::tr!("err-capture-camera-decode-odd-width", width = .width.to_string()))]
    OddWidth {
        /// The frame width.
        width: u32,
    },
    /// The converted pixels do not fill the frame (a bug here, not in the camera).
    #[error("{}", crate::tr!("err-capture-camera-decode-buffer-size", width = .width.to_string(), height = .height.to_string()))]
    BufferSize {
        /// Frame size, pixels.
        width: u32,
        height: u32,
    },
}

/// Decode one raw frame of `format`, nominally `width` x `height`, to RGB8.
///
/// MJPEG frames carry their own size; the raw formats need at least the nominal number of bytes
/// (drivers may hand over a larger, padded buffer; the excess is ignored).
pub(super) fn decode_frame(
    format: FrameFormat,
    data: &[u8],
    width: u32,
    height: u32,
) -> Result<RgbImage, DecodeError> {
    match format {
        FrameFormat::MJPEG => image::load_from_memory_with_format(data, ImageFormat::Jpeg)
            .map(|img| img.into_rgb8())
            .map_err(|source| DecodeError::Jpeg {
                bytes: data.len(),
                source,
            }),
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
    name: &'static str,
) -> Result<&'a [u8], DecodeError> {
    let needed = width as usize * height as usize * bytes_per_pixel;
    data.get(..needed).ok_or(DecodeError::TooShort {
        format: name,
        width,
        height,
        needed,
        got: data.len(),
    })
}

/// The pixels as an image of `width x height`.
fn into_image(rgb: Vec<u8>, width: u32, height: u32) -> Result<RgbImage, DecodeError> {
    RgbImage::from_raw(width, height, rgb).ok_or(DecodeError::BufferSize { width, height })
}

/// One pixel from BT.601 limited-range Y'CbCr (the usual webcam encoding) to RGB, with the
/// standard 8-bit fixed-point coefficients (1.164, 1.596, 0.392, 0.813, 2.017 times 256).
pub(super) fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
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
pub(super) fn yuyv_to_rgb(data: &[u8], width: u32, height: u32) -> Result<RgbImage, DecodeError> {
    if !width.is_multiple_of(2) {
        return Err(DecodeError::OddWidth { width });
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
pub(super) fn nv12_to_rgb(data: &[u8], width: u32, height: u32) -> Result<RgbImage, DecodeError> {
    let (w, h) = (width as usize, height as usize);
    let chroma_stride = w.div_ceil(2) * 2;
    let needed = w * h + chroma_stride * h.div_ceil(2);
    let data = data.get(..needed).ok_or(DecodeError::TooShort {
        format: "NV12",
        width,
        height,
        needed,
        got: data.len(),
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
