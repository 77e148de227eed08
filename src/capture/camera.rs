//! Camera: STUB, replaced by the real implementation.
use super::{CaptureError, Frame, FrameSource, Pacing};
pub fn list_cameras() -> Vec<(u32, String)> { Vec::new() }
pub struct CameraSource;
impl CameraSource { pub fn open(index: u32, _w: u32, _h: u32, _fps: f64) -> Result<Self, CaptureError> { Err(CaptureError::NoCamera { index }) } }
impl FrameSource for CameraSource {
    fn describe(&self) -> String { "stub".into() }
    fn pacing(&self) -> Pacing { Pacing::SelfPaced }
    fn is_continuous(&self) -> bool { true }
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> { Ok(None) }
}
