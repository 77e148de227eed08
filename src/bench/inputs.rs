//! The inputs of the benchmark as JPEG bytes in memory: photos of a dataset, frames of the
//! synthetic line.

use std::path::PathBuf;

use image::RgbImage;

use super::BenchError;
use crate::capture::{SourceOptions, SourceSpec};

/// The bytes of every file of `paths`, in order.
pub(super) fn read_all(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, BenchError> {
    paths
        .iter()
        .map(|p| {
            std::fs::read(p).map_err(|source| BenchError::Read {
                path: p.clone(),
                source,
            })
        })
        .collect()
}

/// JPEG bytes (quality 90) of consecutive frames of the synthetic line, seed 7.
pub fn synthetic_jpegs(n: usize) -> Result<Vec<Vec<u8>>, BenchError> {
    let mut src = SourceSpec::Synthetic { seed: 7 }.open(&SourceOptions::default())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let frame = src.next_frame()?.ok_or(BenchError::SourceEnded)?;
        out.push(encode_jpeg(&frame.image)?);
    }
    Ok(out)
}

/// JPEG bytes of an image at quality 90 (what a camera or an MJPEG stream delivers).
pub fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, BenchError> {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
        .encode_image(img)
        .map_err(BenchError::Encode)?;
    Ok(buf)
}
