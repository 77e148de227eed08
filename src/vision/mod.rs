//! Vision: finding items in a frame, measuring them, and choosing the resolution a model
//! inspects at.

pub mod components;
pub mod features;
pub mod morph;
pub mod resolution;
pub mod segment;
pub mod synthetic_defects;

pub use features::{ItemFeatures, extract};
pub use segment::{ItemRegion, SegmentConfig, Segmenter};
