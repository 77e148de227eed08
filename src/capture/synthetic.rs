//! Synthetic line: STUB, replaced by the real implementation.
use super::{CaptureError, Frame, FrameSource, Pacing};
#[derive(Clone, Debug)]
pub struct SyntheticConfig { pub width: u32, pub height: u32, pub fps: f64, pub seed: u64 }
impl Default for SyntheticConfig { fn default() -> Self { Self { width: 1280, height: 720, fps: 30.0, seed: 7 } } }
pub struct SyntheticLine { _cfg: SyntheticConfig }
impl SyntheticLine { pub fn new(cfg: SyntheticConfig) -> Self { Self { _cfg: cfg } } }
impl FrameSource for SyntheticLine {
    fn describe(&self) -> String { "stub".into() }
    fn pacing(&self) -> Pacing { Pacing::Fps(30.0) }
    fn is_continuous(&self) -> bool { true }
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> { Ok(None) }
}
