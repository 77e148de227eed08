//! The frame-source options shared by `inspect`, `train` and `snapshot`.

use clap::Args;

use foodqc::capture::{SourceOptions, SourceSpec};

/// Which frames to read and at what size and pace.
#[derive(Args, Debug)]
pub struct SourceArgs {
    /// camera:N, folder:PATH or synthetic[:SEED].
    #[arg(long, default_value = "synthetic", value_name = "SPEC")]
    pub source: Vec<String>,
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
    /// The parsed `--source` of a command that reads one source.
    pub fn spec(&self) -> anyhow::Result<SourceSpec> {
        match self.source.as_slice() {
            [one] => Ok(one.parse()?),
            _ => anyhow::bail!(foodqc::tr!(
                "cli-source-only-one",
                n = (self.source.len() as u64)
            )),
        }
    }

    /// Every `--source` given (several cameras at once), parsed.
    pub fn specs(&self) -> anyhow::Result<Vec<SourceSpec>> {
        self.source
            .iter()
            .map(|s| Ok(s.parse::<SourceSpec>()?))
            .collect()
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
