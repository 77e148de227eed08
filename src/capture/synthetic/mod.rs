//! The synthetic conveyor line: a seeded, deterministic, procedural frame source.
//!
//! It is the demo, the default source of the app and the test fixture of the whole inspection
//! pipeline. Round baked items (cookies) of varying size, colour and rotation move from left to
//! right across a dark belt; a fraction of them carries injected defects ([`DefectKind`]), and
//! every frame comes with its exact [`GroundTruth`].
//!
//! Speed: each item is rendered once, when it is spawned, into a small sprite (colour,
//! coverage, cast shadow, defect mask). The belt is a pre-rendered texture that repeats along
//! the belt. A frame is then a scrolled copy of the belt plus a blend of the visible sprites:
//! under 2 ms at 1280x720. The lighting falloff only depends on the row, and nothing moves
//! across the belt, so it is baked into the belt texture and the sprites.
//!
//! Determinism: the line uses its own SplitMix64 generator and integer hash noise instead of an
//! external random crate, so the pixels cannot change when a dependency changes its generator.
//! Same seed and config give byte-identical frames and truth; only [`Frame::captured_at`] is
//! wall-clock time.
//!
//! Coordinates: x runs along the belt (items move towards +x), y across it; pixel `(i, j)`
//! covers `[i, i+1) x [j, j+1)`, so its centre is at `(i + 0.5, j + 0.5)`.

mod belt;
mod config;
mod line;
mod look;
mod math;
mod noise;
mod shape;
mod spec;
mod sprite;
#[cfg(test)]
mod tests;

pub use config::{REFERENCE_HEIGHT, SyntheticConfig};
pub use line::SyntheticLine;
