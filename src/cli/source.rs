//! The frame-source options shared by `inspect`, `train` and `snapshot`.

use clap::Args;

use foodqc::capture::{SourceOptions, SourceSpec};

/// Which frames to read and at what size and pace.
#[derive(Args, Debug)]
pub struct SourceArgs {
    /// camera:N, folder:PATH or synthetic[:SEED].
    #[arg(long, default_value = "synthetic", value_name = "SPEC")]
    pub source: String,
    /// Frame width for cameras and the synthetic line.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Frame height for cameras and the synthetic line.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Frames per second (pacing with --live, camera request).
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
}

impl SourceArgs {
    /// The parsed `--source`.
    pub fn spec(&self) -> anyhow::Result<SourceSpec> {
        Ok(self.source.parse()?)
    }

    /// Size and pace; `loop_folder` replays a folder from the start when it ends.
    pub fn options(&self, loop_folder: bool) -> SourceOptions {
        SourceOptions {
            width: self.width,
            height: self.height,
            fps: self.fps,
            loop_folder,
        }
    }
}
