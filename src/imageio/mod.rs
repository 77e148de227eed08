//! Pixels in and out: decoding files and bytes (full size or DCT-scaled), binning and its
//! mapping back to frame pixels, crops, and interpolation over grids of cells.

pub mod binning;
pub mod crop;
pub mod decode;
pub mod grid;

pub use decode::{ImageLoadError, decode_rgb, decode_rgb_binned, load_rgb, load_rgb_binned};
