//! `foodqc snapshot`: a few frames saved with their overlays as PNG files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use foodqc::domain::{AppPaths, Verdict};
use foodqc::inspect::Inspection;
use foodqc::services::tracked_inspection::TrackedInspector;

use super::source::SourceArgs;

/// Arguments of `foodqc snapshot`.
#[derive(Args, Debug)]
pub struct SnapshotArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Frames to save.
    #[arg(long, default_value_t = 1)]
    frames: u64,
    /// Skip this many frames first.
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// Folder to write `frame-<seq>.png` into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Draw the heat map too.
    #[arg(long)]
    heat: bool,
}

/// Inspect frames of the source (skipped frames are inspected too, so items are tracked as on
/// the line) and save `--frames` of them with their overlays, one line per file.
pub fn run(paths: &AppPaths, model: Option<&Path>, a: SnapshotArgs) -> anyhow::Result<()> {
    let model = super::load_model(paths, model)?;
    let spec = a.src.spec()?;
    let mut source = spec.open(&a.src.options(false))?;
    let mut judge = TrackedInspector::new(model.clone());
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut saved = 0;
    while saved < a.frames {
        let Some(frame) = source.next_frame()? else {
            break;
        };
        let seq = frame.seq;
        let insp = judge.inspect(frame, source.is_continuous());
        if seq < a.skip {
            continue;
        }
        let img = foodqc::inspect::overlay::draw(&insp, a.heat, model.thresholds.pixel as f32);
        let path = a.out.join(format!("frame-{seq:05}.png"));
        foodqc::imageio::save_png_private(&img, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", describe(&path, &insp));
        saved += 1;
    }
    Ok(())
}

/// One line per saved frame: file, items, the judged scores (`R` marks a reject) and times.
fn describe(path: &Path, insp: &Inspection) -> String {
    let judged: Vec<String> = insp
        .judged()
        .map(|i| {
            let mark = if i.verdict == Some(Verdict::Reject) {
                "R"
            } else {
                ""
            };
            format!("{:.2}{mark}", i.score.unwrap_or(0.0))
        })
        .collect();
    let dec = foodqc::i18n::format_decimal;
    foodqc::tr!(
        "cli-snapshot-line",
        path = path.display().to_string(),
        items = insp.items.len(),
        scores = judged.join(" "),
        total = dec(insp.timings.total_ms, 1),
        segment = dec(insp.timings.segment_ms, 1)
    )
}
