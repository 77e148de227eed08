//! Decoding image files and bytes to 8-bit RGB, at full size or reduced by a binning factor
//! (JPEGs scaled in the DCT domain through libjpeg-turbo).

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage, metadata::Orientation};

/// A file that could not be read or decoded as an image; names the file and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("err-imageio-decode-image-load-error", path = .path.display().to_string(), source = .source.to_string()))]
pub struct ImageLoadError {
    /// The file that failed.
    pub path: PathBuf,
    /// What went wrong (I/O, unknown format, corrupt data, too large).
    #[source]
    pub source: image::ImageError,
}

/// Decode one image file to 8-bit RGB.
///
/// The format is guessed from the content first and from the extension second, so a PNG saved
/// as `.jpg` still loads. Any colour type (grey, RGBA, 16-bit, palette) is converted to RGB8;
/// alpha is dropped. The EXIF orientation of JPEGs (phone photos) is applied, so the pixels come
/// out the way the photo is meant to be viewed.
///
/// # Errors
/// [`ImageLoadError`] naming the file when it cannot be opened or read, its format is unknown,
/// its data is corrupt or truncated, or it would need more than the image crate's default memory
/// limit (512 MiB) to decode.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageLoadError> {
    let err = |source: image::ImageError| ImageLoadError {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.into()))?;
    check_complete(&bytes).map_err(err)?;
    let mut decoder = ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| err(e.into()))?
        .into_decoder()
        .map_err(err)?;
    // `into_decoder` (unlike `decode`) does not check the size against the memory limit; do it
    // here so a corrupt header claiming a gigantic image fails cleanly instead of aborting.
    Limits::default()
        .reserve(decoder.total_bytes())
        .map_err(err)?;
    // A broken EXIF block should not cost us the pixels: fall back to "as stored".
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(err)?;
    image.apply_orientation(orientation);
    // `into_rgb8` moves the buffer without copying when the image is already RGB8.
    Ok(image.into_rgb8())
}

/// Decode an image held in memory (JPEG or PNG bytes, e.g. from a camera or a network
/// stream) to 8-bit RGB, with the same conversions as [`load_rgb`] (EXIF orientation applied,
/// any colour type to RGB8).
///
/// # Errors
/// The decoder's error when the format is unknown, the data corrupt, or the image would need
/// more than the image crate's default memory limit.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, image::ImageError> {
    check_complete(bytes)?;
    let mut decoder = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()?
        .into_decoder()?;
    Limits::default().reserve(decoder.total_bytes())?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// [`load_rgb`] reduced by `binning` (1, 2 or 4; see [`super::binning`]). JPEGs are
/// decoded straight to the reduced size by scaling in the DCT domain (libjpeg-turbo's
/// scaled IDCT), which skips most of the decoder's pixel work; other formats are decoded and
/// then binned.
///
/// # Errors
/// As [`load_rgb`].
pub fn load_rgb_binned(path: &Path, binning: u32) -> Result<RgbImage, ImageLoadError> {
    if binning <= 1 {
        return load_rgb(path);
    }
    let bytes = std::fs::read(path).map_err(|e| ImageLoadError {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    decode_rgb_binned(&bytes, binning).map_err(|source| ImageLoadError {
        path: path.to_path_buf(),
        source,
    })
}

/// [`decode_rgb`] reduced by `binning` (1, 2 or 4), JPEGs scaled while decoding (see
/// [`load_rgb_binned`]).
///
/// # Errors
/// As [`decode_rgb`]: a JPEG that libjpeg-turbo refuses is decoded again by the image crate,
/// so the error (or a picture, where that decoder is more lenient) is the same as unbinned.
pub fn decode_rgb_binned(bytes: &[u8], binning: u32) -> Result<RgbImage, image::ImageError> {
    if binning <= 1 {
        return decode_rgb(bytes);
    }
    check_complete(bytes)?;
    if bytes.starts_with(&[0xFF, 0xD8])
        && let Some((img, orientation)) = jpeg_scaled(bytes, binning)
    {
        let mut image = DynamicImage::ImageRgb8(img);
        image.apply_orientation(orientation);
        return Ok(image.into_rgb8());
    }
    Ok(super::binning::bin(&decode_rgb(bytes)?, binning))
}

/// How far from the end of a JPEG its end-of-image marker may lie (some cameras pad files).
const JPEG_EOI_SEARCH: usize = 1024;

/// Refuses a JPEG without its end-of-image marker near the end: a file cut short (a camera
/// still writing it, a copy that broke off) would otherwise decode with its missing part grey,
/// and its items would be judged and recorded. Inside a JPEG's compressed data every 0xFF byte
/// is followed by 0x00, so the marker (0xFF 0xD9) cannot appear there by chance. PNGs need no
/// check: their decoder fails on missing data.
fn check_complete(bytes: &[u8]) -> Result<(), image::ImageError> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(());
    }
    let tail = &bytes[bytes.len().saturating_sub(JPEG_EOI_SEARCH)..];
    if tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Ok(());
    }
    Err(image::ImageError::Decoding(
        image::error::DecodingError::new(
            image::error::ImageFormatHint::Exact(image::ImageFormat::Jpeg),
            format!(
                "truncated JPEG: no end-of-image marker in its last {} of {} bytes (cut short, or still being written)",
                tail.len(),
                bytes.len()
            ),
        ),
    ))
}

/// A JPEG decoded at 1/`binning` scale with its EXIF orientation, or None when libjpeg-turbo
/// cannot (corrupt data, a size over the memory limit, an unsupported colour space).
fn jpeg_scaled(bytes: &[u8], binning: u32) -> Option<(RgbImage, Orientation)> {
    let scale_num = u8::try_from(8 / binning.clamp(1, 8)).ok()?;
    // libjpeg reports fatal errors by unwinding out of its error handler.
    std::panic::catch_unwind(|| {
        let mut d = mozjpeg::Decompress::builder()
            .with_markers(&[mozjpeg::Marker::APP(1)])
            .from_mem(bytes)
            .ok()?;
        // The EXIF block (APP1 after its "Exif\0\0" tag); a broken one means "as stored".
        let orientation = d
            .markers()
            .find_map(|m| m.data.strip_prefix(b"Exif\0\0"))
            .and_then(Orientation::from_exif_chunk)
            .unwrap_or(Orientation::NoTransforms);
        let (w, h) = d.size();
        let (bw, bh) = super::binning::binned_size(w as u32, h as u32, binning);
        if u64::from(bw) * u64::from(bh) * 3 > Limits::default().max_alloc.unwrap_or(u64::MAX) {
            return None;
        }
        d.scale(scale_num);
        let mut started = d.rgb().ok()?;
        if (started.width() as u32, started.height() as u32) != (bw, bh) {
            return None;
        }
        let pixels = started.read_scanlines::<u8>().ok()?;
        started.finish().ok()?;
        Some((RgbImage::from_raw(bw, bh, pixels)?, orientation))
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageFormat, Luma, Rgb};

    /// Write `files` (name, bytes) into a fresh temp dir.
    fn folder_with(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn binned_decoding_scales_jpegs_in_the_dct_and_bins_other_formats() {
        use crate::imageio::binning;
        // A smooth gradient with a disc: what a JPEG keeps well.
        let img = RgbImage::from_fn(101, 77, |x, y| {
            let d = (x as i32 - 50).pow(2) + (y as i32 - 38).pow(2);
            if d < 400 {
                Rgb([200, 150, 60])
            } else {
                Rgb([(x * 2) as u8, (y * 3) as u8, 90])
            }
        });
        let jpeg = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Jpeg);
        for n in [2, 4] {
            let scaled = decode_rgb_binned(&jpeg, n).unwrap();
            let reference = binning::bin(&decode_rgb(&jpeg).unwrap(), n);
            assert_eq!(scaled.dimensions(), binning::binned_size(101, 77, n));
            assert_eq!(scaled.dimensions(), reference.dimensions());
            let diffs: Vec<i32> = scaled
                .as_raw()
                .iter()
                .zip(reference.as_raw())
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .collect();
            let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
            assert!(mean < 2.0, "binning {n}: mean difference {mean}");
        }
        // PNG: decoded, then binned exactly.
        let png = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Png);
        assert_eq!(decode_rgb_binned(&png, 2).unwrap(), binning::bin(&img, 2));
        assert_eq!(decode_rgb_binned(&png, 1).unwrap(), img);
        // Broken data is still an error (from the image crate, which names the problem).
        let mut broken = jpeg[..200].to_vec();
        broken.extend_from_slice(&[0u8; 50]);
        assert!(decode_rgb_binned(&broken, 2).is_err());
        assert!(decode_rgb_binned(b"\xFF\xD8 not a jpeg", 2).is_err());
        // A file: its name in the error.
        let dir = folder_with(&[("bad.jpg", broken)]);
        let err = load_rgb_binned(&dir.path().join("bad.jpg"), 2).unwrap_err();
        assert!(err.to_string().contains("bad.jpg"), "{err}");
    }

    /// A photo cut in half (a camera still writing it) is refused, naming the file and why,
    /// at full size and binned; a PNG cut in half too.
    #[test]
    fn truncated_images_are_refused_not_filled_grey() {
        let mut img = RgbImage::new(320, 240);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8]);
        }
        let dynamic = DynamicImage::ImageRgb8(img);
        let jpeg = encode(&dynamic, ImageFormat::Jpeg);
        let png = encode(&dynamic, ImageFormat::Png);
        let dir = folder_with(&[
            ("cut.jpg", jpeg[..jpeg.len() / 2].to_vec()),
            ("cut.png", png[..png.len() / 2].to_vec()),
            ("whole.jpg", jpeg.clone()),
        ]);
        for name in ["cut.jpg", "cut.png"] {
            let path = dir.path().join(name);
            for binning in [1, 2] {
                let e = load_rgb_binned(&path, binning).unwrap_err().to_string();
                assert!(e.contains(name), "{e}");
                if name.ends_with("jpg") {
                    assert!(e.contains("truncated JPEG"), "{e}");
                }
            }
        }
        assert!(load_rgb(&dir.path().join("whole.jpg")).is_ok());
        // Padding after the end marker is fine.
        let mut padded = jpeg.clone();
        padded.extend([0u8; 200]);
        assert!(decode_rgb(&padded).is_ok());
    }

    #[test]
    fn load_rgb_handles_colour_types_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let grey = dir.path().join("grey.png");
        GrayImage::from_pixel(2, 2, Luma([77])).save(&grey).unwrap();
        let img = load_rgb(&grey).unwrap();
        assert_eq!(img.get_pixel(1, 1).0, [77, 77, 77]);

        // Content wins over the extension: a PNG saved as .jpg still loads.
        let disguised = dir.path().join("really-a-png.jpg");
        std::fs::copy(&grey, &disguised).unwrap();
        assert_eq!(load_rgb(&disguised).unwrap().dimensions(), (2, 2));

        let missing = dir.path().join("gone.png");
        let err = load_rgb(&missing).unwrap_err().to_string();
        assert!(err.contains("gone.png"), "{err}");
    }

    #[test]
    fn load_rgb_applies_exif_orientation() {
        use image::ImageEncoder;
        use image::codecs::jpeg::JpegEncoder;
        // Minimal little-endian TIFF/EXIF block: one IFD entry, Orientation (0x0112) = 6,
        // i.e. "rotate 90 degrees clockwise to view", as phones write for portrait shots.
        let exif = vec![
            b'I', b'I', 42, 0, 8, 0, 0, 0, // header, IFD at offset 8
            1, 0, // one entry
            0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, // tag, SHORT, count 1, value 6
            0, 0, 0, 0, // no next IFD
        ];
        let pixels = RgbImage::from_pixel(16, 8, Rgb([50, 100, 150]));
        let mut bytes = Vec::new();
        let mut encoder = JpegEncoder::new(&mut bytes);
        encoder.set_exif_metadata(exif).unwrap();
        encoder
            .write_image(pixels.as_raw(), 16, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        // libjpeg-turbo's scaled decode reads the same EXIF turn.
        assert_eq!(
            jpeg_scaled(&bytes, 2).map(|(img, o)| (img.dimensions(), o)),
            Some(((8, 4), Orientation::Rotate90))
        );
        let dir = folder_with(&[("portrait.jpg", bytes)]);
        let img = load_rgb(&dir.path().join("portrait.jpg")).unwrap();
        assert_eq!(img.dimensions(), (8, 16));
        let img = load_rgb_binned(&dir.path().join("portrait.jpg"), 2).unwrap();
        assert_eq!(img.dimensions(), (4, 8));
    }
}
