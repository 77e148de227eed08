//! Pixels in and out: decoding files and bytes (full size or DCT-scaled), binning and its
//! mapping back to frame pixels, crops, and interpolation over grids of cells.

pub mod binning;
pub mod crop;
pub mod decode;
pub mod grid;

pub use decode::{ImageLoadError, decode_rgb, decode_rgb_binned, load_rgb, load_rgb_binned};

/// `image` as JPEG bytes at `quality` (1-100): what travels where bytes count (crops to the
/// plant).
pub fn jpeg_bytes(image: &image::RgbImage, quality: u8) -> image::ImageResult<Vec<u8>> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(image)?;
    Ok(bytes)
}

/// Write `image` as a PNG file at `path` (created or replaced) readable by its owner only:
/// masks, snapshots and previews show the plant's product.
pub fn save_png_private<P, C>(
    image: &image::ImageBuffer<P, C>,
    path: &std::path::Path,
) -> image::ImageResult<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    use std::io::Write;
    let file =
        crate::domain::private_fs::create_private(path).map_err(image::ImageError::IoError)?;
    let mut out = std::io::BufWriter::new(file);
    image.write_to(&mut out, image::ImageFormat::Png)?;
    out.flush().map_err(image::ImageError::IoError)
}
