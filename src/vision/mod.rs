//! Vision: finding items in a frame, measuring them, and drawing what was found.

pub mod binning;
pub mod components;
pub mod features;
pub mod grid;
pub mod morph;
pub mod overlay;
pub mod segment;

pub use features::{ItemFeatures, extract};
pub use segment::{ItemRegion, SegmentConfig, Segmenter};
