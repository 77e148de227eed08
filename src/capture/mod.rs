//! Frame sources: where images come from.
//!
//! Every source sits behind [`FrameSource`], so the station, the CLI and the tests do not care
//! whether a frame came from a USB camera, a folder replay or the synthetic line.

#[cfg(feature = "camera")]
pub mod camera;
pub mod folder;
pub mod synthetic;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::SystemTime;

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::domain::BBox;

/// One image from a source, with what is known about it.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Sequence number given by the source, starting at 0.
    pub seq: u64,
    /// Wall-clock time the frame was captured (or generated).
    pub captured_at: SystemTime,
    /// The pixels, 8-bit RGB.
    pub image: RgbImage,
    /// Where the frame came from, e.g. the file path of a folder replay.
    pub origin: Option<String>,
    /// Ground truth when the source knows it (synthetic line, or a dataset with masks).
    pub truth: Option<GroundTruth>,
}

/// What is really in a frame: known for the synthetic line, used by tests and evaluation.
#[derive(Clone, Debug)]
pub struct GroundTruth {
    /// Same size as the frame; 255 where a pixel belongs to a defect, 0 elsewhere.
    pub defect_mask: GrayImage,
    /// Every item in the frame (also the ones cut by the frame border).
    pub items: Vec<TruthItem>,
}

/// Ground truth for one item.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthItem {
    /// Stable id of the physical item (same across frames while it moves along the belt).
    pub item_id: u64,
    /// Bounding box in frame pixels, clipped to the frame.
    pub bbox: BBox,
    /// Centre of the item in frame pixels (may lie outside the frame).
    pub center: (f32, f32),
    /// Defects injected into this item; empty means a good item.
    pub defects: Vec<DefectKind>,
}

impl TruthItem {
    /// True when at least one defect was injected.
    pub fn is_defective(&self) -> bool {
        !self.defects.is_empty()
    }
}

/// Kinds of defect the synthetic line can inject (and the default label taxonomy starts from).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// A dark fissure across the item.
    Crack,
    /// An over-baked dark spot.
    Burnt,
    /// A bite-shaped piece missing from the outline.
    MissingPiece,
    /// A small speck of foreign material (plastic, metal, stone).
    ForeignMatter,
}

impl DefectKind {
    /// Every kind, in a stable order.
    pub const ALL: [DefectKind; 4] = [
        DefectKind::Crack,
        DefectKind::Burnt,
        DefectKind::MissingPiece,
        DefectKind::ForeignMatter,
    ];

    /// Lower-case name used in files and the database.
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::Crack => "crack",
            DefectKind::Burnt => "burnt",
            DefectKind::MissingPiece => "missing_piece",
            DefectKind::ForeignMatter => "foreign_matter",
        }
    }
}

/// How the station should pace a source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// The source blocks until the next frame is there (a camera).
    SelfPaced,
    /// The source can produce frames at once; pace them at this rate in live mode.
    Fps(f64),
}

/// What a source is, for people: the window words it in the language in force (and again
/// when the language changes), while [`FrameSource::describe`] stays the English text kept in
/// logs, model cards and alarm payloads.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceView {
    /// The synthetic line at this frame size and seed.
    Synthetic { width: u32, height: u32, seed: u64 },
    /// A folder replay of `images` files, once or in a loop.
    Folder {
        dir: PathBuf,
        images: usize,
        looping: bool,
    },
    /// Anything else (a camera): its own description, which names the device.
    Other(String),
}

impl Default for SourceView {
    fn default() -> Self {
        SourceView::Other(String::new())
    }
}

/// Something that yields frames: a camera, a folder replay, the synthetic line.
pub trait FrameSource: Send {
    /// Human-readable description for logs and model cards, e.g. `synthetic line (seed 7)`.
    fn describe(&self) -> String;

    /// What the source is, for the window to word in its language (see [`SourceView`]).
    fn view(&self) -> SourceView {
        SourceView::Other(self.describe())
    }

    /// How the station should pace this source.
    fn pacing(&self) -> Pacing;

    /// True when consecutive frames show the same items moving (a conveyor), so items are
    /// tracked and recorded once; false when every frame is an independent shot (a folder of
    /// photos), so every item of every frame is recorded.
    fn is_continuous(&self) -> bool;

    /// The next frame; `Ok(None)` when the source has ended (a folder without looping).
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError>;

    /// Warnings gathered since the last call (e.g. a skipped corrupt file), drained.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Errors from frame sources. Each names the device, file or value involved.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{}", crate::tr!("capture-no-camera", index = u64::from(*.index)))]
    NoCamera { index: u32 },
    #[error("{}", crate::tr!("capture-camera-open", index = u64::from(*.index), reason = .reason.as_str()))]
    CameraOpen { index: u32, reason: String },
    #[error("{}", crate::tr!("capture-camera-lost", index = u64::from(*.index), reason = .reason.as_str()))]
    CameraLost { index: u32, reason: String },
    #[error("{}", crate::tr!("capture-camera-not-built"))]
    CameraNotBuilt,
    #[error("{}", crate::tr!("capture-folder-missing", path = .path.display().to_string()))]
    FolderMissing { path: PathBuf },
    #[error("{}", crate::tr!("capture-folder-empty", path = .path.display().to_string()))]
    FolderEmpty { path: PathBuf },
    #[error("{}", crate::tr!("capture-io", path = .path.display().to_string(), error = .source.to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", crate::tr!("capture-nothing-decodable", path = .path.display().to_string(), count = (*.count as u64), last = .last.as_str()))]
    NothingDecodable {
        path: PathBuf,
        count: usize,
        last: String,
    },
    /// A frame size or rate outside what a line camera can deliver.
    #[error("{}", crate::tr!("capture-out-of-range", option = .option.to_string(), value = .value.as_str(), allowed = .allowed.as_str()))]
    OutOfRange {
        /// The option (`--width`, `--height`, `--fps`).
        option: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    #[error("{}", crate::tr!("capture-bad-spec", spec = .spec.as_str(), reason = .reason.as_str()))]
    BadSpec { spec: String, reason: String },
}

/// Which source to open, parsed from `camera:N`, `folder:PATH` or `synthetic[:SEED]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSpec {
    /// USB/UVC camera number `index`.
    Camera { index: u32 },
    /// Replay the images of a folder.
    Folder { path: PathBuf },
    /// The built-in procedural conveyor.
    Synthetic { seed: u64 },
}

impl Default for SourceSpec {
    fn default() -> Self {
        SourceSpec::Synthetic { seed: 7 }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Camera { index } => write!(f, "camera:{index}"),
            SourceSpec::Folder { path } => write!(f, "folder:{}", path.display()),
            SourceSpec::Synthetic { seed } => write!(f, "synthetic:{seed}"),
        }
    }
}

impl FromStr for SourceSpec {
    type Err = CaptureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| CaptureError::BadSpec {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        match kind {
            "camera" => {
                let index = match arg {
                    None | Some("") => 0,
                    Some(a) => a
                        .parse()
                        .map_err(|_| bad("camera index must be a number, e.g. camera:0"))?,
                };
                Ok(SourceSpec::Camera { index })
            }
            "folder" => match arg {
                Some(a) if !a.is_empty() => Ok(SourceSpec::Folder { path: a.into() }),
                _ => Err(bad("folder needs a path, e.g. folder:/data/shift1")),
            },
            "synthetic" => {
                let seed = match arg {
                    None | Some("") => 7,
                    Some(a) => a
                        .parse()
                        .map_err(|_| bad("synthetic seed must be a number, e.g. synthetic:7"))?,
                };
                Ok(SourceSpec::Synthetic { seed })
            }
            _ => Err(bad("expected camera:N, folder:PATH or synthetic[:SEED]")),
        }
    }
}

/// Options shared by all sources when opening them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceOptions {
    /// Requested frame size (camera resolution; synthetic line size).
    pub width: u32,
    pub height: u32,
    /// Frames per second for paced sources (synthetic, folder) and requested camera rate.
    pub fps: f64,
    /// Folder replay: start again at the first image after the last.
    pub loop_folder: bool,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30.0,
            loop_folder: false,
        }
    }
}

/// Frame sides a source may be asked for, in pixels: 16 up to 8K (a 8192 x 8192 RGB frame is
/// 192 MiB; more is a typing mistake, not a camera).
pub const FRAME_SIDE_RANGE: std::ops::RangeInclusive<u32> = 16..=8192;
/// Frame rates a source may be asked for, per second.
pub const FPS_RANGE: std::ops::RangeInclusive<f64> = 0.01..=1000.0;

impl SourceOptions {
    /// Refuses sizes and rates no line camera has (`--width 100000` would allocate
    /// gigabytes, `--fps 1e-300` would wait forever), naming the option and the range.
    pub fn validate(&self) -> Result<(), CaptureError> {
        for (option, v) in [("--width", self.width), ("--height", self.height)] {
            if !FRAME_SIDE_RANGE.contains(&v) {
                return Err(CaptureError::OutOfRange {
                    option,
                    value: v.to_string(),
                    allowed: format!(
                        "{} to {} pixels",
                        FRAME_SIDE_RANGE.start(),
                        FRAME_SIDE_RANGE.end()
                    ),
                });
            }
        }
        if !FPS_RANGE.contains(&self.fps) {
            return Err(CaptureError::OutOfRange {
                option: "--fps",
                value: self.fps.to_string(),
                allowed: format!(
                    "{} to {} frames per second",
                    FPS_RANGE.start(),
                    FPS_RANGE.end()
                ),
            });
        }
        Ok(())
    }
}

impl SourceSpec {
    /// Open the source. Errors are clear and name the device or path, or the size or rate
    /// out of range ([`SourceOptions::validate`]).
    pub fn open(&self, opts: &SourceOptions) -> Result<Box<dyn FrameSource>, CaptureError> {
        opts.validate()?;
        match self {
            SourceSpec::Synthetic { seed } => Ok(Box::new(synthetic::SyntheticLine::new(
                synthetic::SyntheticConfig {
                    width: opts.width,
                    height: opts.height,
                    fps: opts.fps,
                    seed: *seed,
                    ..Default::default()
                },
            ))),
            SourceSpec::Folder { path } => Ok(Box::new(folder::FolderSource::open(
                path,
                opts.fps,
                opts.loop_folder,
            )?)),
            #[cfg(feature = "camera")]
            SourceSpec::Camera { index } => Ok(Box::new(camera::CameraSource::open(
                *index,
                opts.width,
                opts.height,
                opts.fps,
            )?)),
            #[cfg(not(feature = "camera"))]
            SourceSpec::Camera { .. } => Err(CaptureError::CameraNotBuilt),
        }
    }
}

/// Cameras the system offers, as `(index, name)`; empty when there are none or camera support
/// is not built in.
pub fn list_cameras() -> Vec<(u32, String)> {
    #[cfg(feature = "camera")]
    {
        camera::list_cameras()
    }
    #[cfg(not(feature = "camera"))]
    {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_specs() {
        assert_eq!(
            "camera:2".parse::<SourceSpec>().unwrap(),
            SourceSpec::Camera { index: 2 }
        );
        assert_eq!(
            "synthetic".parse::<SourceSpec>().unwrap(),
            SourceSpec::Synthetic { seed: 7 }
        );
        assert_eq!(
            "folder:/a/b".parse::<SourceSpec>().unwrap(),
            SourceSpec::Folder {
                path: "/a/b".into()
            }
        );
        let err = "webcam".parse::<SourceSpec>().unwrap_err().to_string();
        assert!(err.contains("webcam"), "{err}");
        assert!("camera:x".parse::<SourceSpec>().is_err());
        assert!("folder:".parse::<SourceSpec>().is_err());
    }

    #[test]
    fn spec_round_trips_through_display() {
        for s in ["camera:1", "folder:/x/y", "synthetic:3"] {
            let spec: SourceSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
    }

    #[test]
    fn bbox_iou() {
        let a = BBox {
            x: 0,
            y: 0,
            w: 10,
            h: 10,
        };
        let b = BBox {
            x: 5,
            y: 0,
            w: 10,
            h: 10,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(
            a.iou(&BBox {
                x: 20,
                y: 20,
                w: 2,
                h: 2
            }),
            0.0
        );
    }
}
