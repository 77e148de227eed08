//! Folder replay: the images of one folder, in natural order, as a frame source.
//!
//! This is how a plant replays a recorded shift and how tests and dataset evaluation feed real
//! photos. Every image is an independent shot (`is_continuous() == false`). A file that cannot
//! be read or decoded is skipped with a warning; it never stops the replay.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{CaptureError, Frame, FrameSource, Pacing};
use crate::imageio::{ImageLoadError, load_rgb};

/// File extensions (lower case) that a folder replay picks up.
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Compare two strings in natural order: runs of ASCII digits compare as numbers, so `img2.png`
/// sorts before `img10.png`; other characters compare case-insensitively.
///
/// Strings that are equal under these rules (`a01` / `a1`, `A` / `a`) fall back to plain
/// byte order, so the order is total and deterministic.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        let (Some(cx), Some(cy)) = (x.chars().next(), y.chars().next()) else {
            // One (or both) ran out: the shorter one first, then the byte-order tie-break.
            return x.len().cmp(&y.len()).then_with(|| a.cmp(b));
        };
        let ord = if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let (nx, rx) = split_digits(x);
            let (ny, ry) = split_digits(y);
            x = rx;
            y = ry;
            // Compare as numbers of any length (no overflow): ignore leading zeros, then the
            // longer number is larger, then digit by digit.
            let nx = nx.trim_start_matches('0');
            let ny = ny.trim_start_matches('0');
            nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
        } else {
            x = &x[cx.len_utf8()..];
            y = &y[cy.len_utf8()..];
            cx.to_lowercase().cmp(cy.to_lowercase())
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// Split `s` into its leading run of ASCII digits and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// True when the file name ends in `.jpg`, `.jpeg` or `.png` (any case).
fn has_image_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| e.eq_ignore_ascii_case(known))
    })
}

/// The `.jpg`/`.jpeg`/`.png` files directly in `dir` (not recursive; extension case-insensitive;
/// other files ignored), sorted in natural order of their file names (see [`natural_cmp`]).
///
/// # Errors
/// - [`CaptureError::FolderMissing`] when `dir` is not an existing directory;
/// - [`CaptureError::Io`] when it cannot be listed;
/// - [`CaptureError::FolderEmpty`] when it holds no image file.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    if !dir.is_dir() {
        return Err(CaptureError::FolderMissing {
            path: dir.to_path_buf(),
        });
    }
    let io_err = |source| CaptureError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        // `is_file` follows symlinks, so a link to an image counts and a folder named `x.png`
        // does not.
        if has_image_extension(&path) && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(CaptureError::FolderEmpty {
            path: dir.to_path_buf(),
        });
    }
    files.sort_by(|a, b| {
        let name = |p: &PathBuf| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        };
        natural_cmp(&name(a), &name(b))
    });
    Ok(files)
}

/// Replays the images of a folder as frames, in natural order, optionally looping.
///
/// Undecodable files are skipped with a warning (see [`FrameSource::take_warnings`] and
/// [`FolderSource::skipped_count`]); only a complete pass over the folder that decodes nothing
/// is an error.
#[derive(Debug)]
pub struct FolderSource {
    dir: PathBuf,
    files: Vec<PathBuf>,
    fps: f64,
    looping: bool,
    /// Index in `files` of the next file to try.
    next: usize,
    /// Frames delivered so far (the next frame's `seq`).
    delivered: u64,
    /// Skip events so far (a bad file counts again on every pass of a looping replay).
    skipped: usize,
    /// Failed attempts since the last decoded frame; reaching `files.len()` means a full pass
    /// decoded nothing.
    failures_in_a_row: usize,
    last_error: String,
    /// Which files have been warned about already, so a looping replay does not repeat the same
    /// warning every pass.
    warned: Vec<bool>,
    warnings: Vec<String>,
}

impl FolderSource {
    /// Open a folder replay of the images in `path` (see [`list_images`]), paced at `fps` frames
    /// per second in live mode, starting over after the last image when `looping` is set.
    ///
    /// Files are listed once here; files added later are not picked up, files deleted later are
    /// skipped with a warning.
    ///
    /// # Errors
    /// [`CaptureError::FolderMissing`], [`CaptureError::FolderEmpty`] or [`CaptureError::Io`],
    /// each naming the folder.
    pub fn open(path: &Path, fps: f64, looping: bool) -> Result<Self, CaptureError> {
        let files = list_images(path)?;
        tracing::info!(
            folder = %path.display(),
            images = files.len(),
            looping,
            "folder replay opened"
        );
        Ok(Self {
            dir: path.to_path_buf(),
            warned: vec![false; files.len()],
            files,
            fps,
            looping,
            next: 0,
            delivered: 0,
            skipped: 0,
            failures_in_a_row: 0,
            last_error: String::new(),
            warnings: Vec::new(),
        })
    }

    /// Number of image files found when the folder was opened.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no image file was found (never the case for a successfully opened source).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The image files, in replay order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// How many times a file was skipped because it could not be read or decoded (a bad file
    /// counts once per pass in a looping replay).
    pub fn skipped_count(&self) -> usize {
        self.skipped
    }

    /// Record that file `index` failed with `error`.
    fn skip(&mut self, index: usize, error: ImageLoadError) {
        self.skipped += 1;
        self.failures_in_a_row += 1;
        let reason = error.to_string();
        if !self.warned[index] {
            self.warned[index] = true;
            // Logged once, by whoever takes the warnings (the station, training).
            self.warnings
                .push(crate::tr!("folder-skipped", reason = reason.as_str()));
        }
        self.last_error = reason;
    }
}

impl FrameSource for FolderSource {
    fn view(&self) -> super::SourceView {
        super::SourceView::Folder {
            dir: self.dir.clone(),
            images: self.files.len(),
            looping: self.looping,
        }
    }

    fn describe(&self) -> String {
        format!(
            "folder {} ({} images, {})",
            self.dir.display(),
            self.files.len(),
            if self.looping { "loop" } else { "once" }
        )
    }

    fn pacing(&self) -> Pacing {
        Pacing::Fps(self.fps)
    }

    fn is_continuous(&self) -> bool {
        false
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        loop {
            // Checked before the end-of-folder test so a one-shot replay of an all-corrupt
            // folder reports the problem instead of ending quietly.
            if self.failures_in_a_row >= self.files.len() {
                return Err(CaptureError::NothingDecodable {
                    path: self.dir.clone(),
                    count: self.files.len(),
                    last: self.last_error.clone(),
                });
            }
            if self.next >= self.files.len() {
                if !self.looping {
                    return Ok(None);
                }
                self.next = 0;
            }
            let index = self.next;
            self.next += 1;
            let path = &self.files[index];
            match load_rgb(path) {
                Ok(image) => {
                    self.failures_in_a_row = 0;
                    let frame = Frame {
                        seq: self.delivered,
                        captured_at: SystemTime::now(),
                        image,
                        origin: Some(path.to_string_lossy().into_owned()),
                        truth: None,
                    };
                    self.delivered += 1;
                    return Ok(Some(frame));
                }
                Err(e) => self.skip(index, e),
            }
        }
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};

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

    fn rgb(w: u32, h: u32, c: [u8; 3]) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb(c)))
    }

    /// Drain a source, returning the file names of the frames and their sizes.
    fn replay(src: &mut FolderSource) -> Vec<(String, (u32, u32))> {
        let mut out = Vec::new();
        while let Some(frame) = src.next_frame().unwrap() {
            let origin = frame.origin.unwrap();
            let name = Path::new(&origin)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((name, frame.image.dimensions()));
            assert!(out.len() < 1000, "replay without loop did not end");
        }
        out
    }

    /// Pseudo-random bytes (deterministic), not a valid image.
    fn junk(n: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_u32;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    }

    #[test]
    fn natural_order() {
        let mut names = vec![
            "img10.png",
            "img2.png",
            "img1.png",
            "IMG3.png",
            "img02.png",
            "img1b.png",
            "a.png",
            "img.png",
            "img100000000000000000000000.png",
            "img99.png",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "a.png",
                "img.png",
                "img1.png",
                "img1b.png",
                "img02.png",
                "img2.png",
                "IMG3.png",
                "img10.png",
                "img99.png",
                "img100000000000000000000000.png",
            ]
        );
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
        assert_eq!(natural_cmp("", "a"), Ordering::Less);
        assert_eq!(natural_cmp("frame-9", "frame-10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "A"), Ordering::Greater);
        assert_eq!(natural_cmp("é2", "é10"), Ordering::Less);
    }

    #[test]
    fn list_images_filters_and_sorts() {
        let png = encode(&rgb(4, 4, [1, 2, 3]), ImageFormat::Png);
        let dir = folder_with(&[
            ("img10.PNG", png.clone()),
            ("img2.png", png.clone()),
            ("img1.JpEg", png.clone()),
            ("notes.txt", b"hello".to_vec()),
            ("img3.bmp", png.clone()),
        ]);
        std::fs::create_dir(dir.path().join("sub.png")).unwrap();
        std::fs::write(dir.path().join("sub.png").join("img0.png"), &png).unwrap();
        let files = list_images(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["img1.JpEg", "img2.png", "img10.PNG"]);
    }

    #[test]
    fn missing_folder_error_names_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-shift");
        let err = FolderSource::open(&missing, 10.0, false).unwrap_err();
        assert!(matches!(err, CaptureError::FolderMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-shift"), "{err}");

        // A plain file is not a folder either.
        let file = dir.path().join("file.png");
        std::fs::write(&file, b"x").unwrap();
        let err = FolderSource::open(&file, 10.0, false).unwrap_err();
        assert!(matches!(err, CaptureError::FolderMissing { .. }), "{err:?}");
    }

    #[test]
    fn empty_folder_error() {
        let dir = folder_with(&[("readme.txt", b"no images here".to_vec())]);
        let err = FolderSource::open(dir.path(), 10.0, false).unwrap_err();
        assert!(matches!(err, CaptureError::FolderEmpty { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }

    /// The mixed folder of the brief: four good images of various kinds, two bad ones.
    fn mixed_folder() -> tempfile::TempDir {
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(8, 6, Rgba([200, 10, 20, 128])));
        let grey16: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_pixel(5, 7, Luma([65535u16]));
        folder_with(&[
            (
                "01-good.jpg",
                encode(&rgb(16, 12, [30, 160, 90]), ImageFormat::Jpeg),
            ),
            ("02-rgba.png", encode(&rgba, ImageFormat::Png)),
            ("03-corrupt.jpg", junk(5000)),
            (
                "10-grey16.png",
                encode(&DynamicImage::ImageLuma16(grey16), ImageFormat::Png),
            ),
            ("11-empty.png", Vec::new()),
            (
                "20-odd.png",
                encode(&rgb(37, 23, [7, 8, 9]), ImageFormat::Png),
            ),
        ])
    }

    #[test]
    fn replay_skips_undecodable_files_with_warnings() {
        let dir = mixed_folder();
        let mut src = FolderSource::open(dir.path(), 5.0, false).unwrap();
        assert_eq!(src.len(), 6);
        assert!(!src.is_empty());
        assert_eq!(src.pacing(), Pacing::Fps(5.0));
        assert!(!src.is_continuous());
        assert!(
            src.describe().contains("6 images, once"),
            "{}",
            src.describe()
        );

        let first = src.next_frame().unwrap().unwrap();
        assert_eq!(first.seq, 0);
        assert!(first.truth.is_none());
        let p = first.image.get_pixel(3, 3).0;
        assert!(
            p.iter().zip([30, 160, 90]).all(|(&a, b)| a.abs_diff(b) < 8),
            "{p:?}"
        );

        let second = src.next_frame().unwrap().unwrap();
        assert_eq!(second.seq, 1);
        assert_eq!(second.image.get_pixel(0, 0).0, [200, 10, 20]);

        let third = src.next_frame().unwrap().unwrap();
        assert_eq!(third.seq, 2, "seq counts delivered frames, not files");
        assert!(third.origin.as_deref().unwrap().ends_with("10-grey16.png"));
        assert_eq!(third.image.dimensions(), (5, 7));
        assert_eq!(third.image.get_pixel(4, 6).0, [255, 255, 255]);

        let rest = replay(&mut src);
        assert_eq!(rest, [("20-odd.png".to_string(), (37, 23))]);
        assert!(src.next_frame().unwrap().is_none(), "stays ended");

        assert_eq!(src.skipped_count(), 2);
        let warnings = src.take_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("03-corrupt.jpg"), "{warnings:?}");
        assert!(warnings[1].contains("11-empty.png"), "{warnings:?}");
        assert!(src.take_warnings().is_empty(), "warnings are drained");
    }

    #[test]
    fn looping_starts_over_and_one_shot_ends() {
        let dir = mixed_folder();
        let mut once = FolderSource::open(dir.path(), 5.0, false).unwrap();
        let names: Vec<_> = replay(&mut once).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["01-good.jpg", "02-rgba.png", "10-grey16.png", "20-odd.png"]
        );

        let mut looped = FolderSource::open(dir.path(), 5.0, true).unwrap();
        assert!(
            looped.describe().ends_with("(6 images, loop)"),
            "{}",
            looped.describe()
        );
        let mut seen = Vec::new();
        for _ in 0..10 {
            let frame = looped
                .next_frame()
                .unwrap()
                .expect("a looping replay never ends");
            assert_eq!(frame.seq, seen.len() as u64);
            seen.push(frame.origin.unwrap());
        }
        assert!(seen[4].ends_with("01-good.jpg"), "{seen:?}");
        assert!(seen[9].ends_with("02-rgba.png"), "{seen:?}");
        // Two bad files, skipped on each of the two complete passes; warned about once each.
        assert_eq!(looped.skipped_count(), 4);
        assert_eq!(looped.take_warnings().len(), 2);
    }

    #[test]
    fn all_corrupt_folder_is_nothing_decodable() {
        let dir = folder_with(&[
            ("a.jpg", junk(100)),
            ("b.png", Vec::new()),
            ("c.jpeg", b"this is text, not a jpeg".to_vec()),
        ]);
        for looping in [false, true] {
            let mut src = FolderSource::open(dir.path(), 5.0, looping).unwrap();
            let err = src.next_frame().unwrap_err();
            match &err {
                CaptureError::NothingDecodable { path, count, last } => {
                    assert_eq!(path, dir.path());
                    assert_eq!(*count, 3);
                    assert!(last.contains("c.jpeg"), "{last}");
                }
                other => panic!("expected NothingDecodable, got {other:?}"),
            }
            assert!(err.to_string().contains(&dir.path().display().to_string()));
            assert_eq!(src.skipped_count(), 3);
        }
    }

    #[test]
    fn files_deleted_after_open_are_skipped() {
        let png = encode(&rgb(3, 3, [9, 9, 9]), ImageFormat::Png);
        let dir = folder_with(&[
            ("1.png", png.clone()),
            ("2.png", png.clone()),
            ("3.png", png),
        ]);
        let mut src = FolderSource::open(dir.path(), 5.0, true).unwrap();
        std::fs::remove_file(dir.path().join("2.png")).unwrap();
        let a = src.next_frame().unwrap().unwrap();
        let b = src.next_frame().unwrap().unwrap();
        assert!(a.origin.unwrap().ends_with("1.png"));
        assert!(b.origin.unwrap().ends_with("3.png"));
        let warnings = src.take_warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("2.png"), "{warnings:?}");

        // Everything gone: the next full pass decodes nothing, which is an error, not a hang.
        for name in ["1.png", "3.png"] {
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
        let err = src.next_frame().unwrap_err();
        assert!(
            matches!(err, CaptureError::NothingDecodable { count: 3, .. }),
            "{err:?}"
        );
    }

    /// Replays the real cookie photos when the shared dataset is present.
    #[test]
    fn replays_shared_cookie_dataset() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/cookies/test/crack");
        if !dir.is_dir() {
            println!("skipped: dataset {} is absent", dir.display());
            return;
        }
        let mut src = FolderSource::open(&dir, 30.0, false).unwrap();
        let mut count = 0;
        while let Some(frame) = src.next_frame().unwrap() {
            assert_eq!(frame.image.dimensions(), (576, 768), "{:?}", frame.origin);
            count += 1;
        }
        assert_eq!(count, 32);
        assert_eq!(src.skipped_count(), 0);
    }
}
