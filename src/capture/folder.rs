//! Folder replay: STUB, replaced by the real implementation.
use super::{CaptureError, Frame, FrameSource, Pacing};
use std::path::Path;
pub struct FolderSource;
impl FolderSource { pub fn open(path: &Path, _fps: f64, _looping: bool) -> Result<Self, CaptureError> { Err(CaptureError::FolderMissing { path: path.into() }) } }
impl FrameSource for FolderSource {
    fn describe(&self) -> String { "stub".into() }
    fn pacing(&self) -> Pacing { Pacing::Fps(30.0) }
    fn is_continuous(&self) -> bool { false }
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> { Ok(None) }
}
