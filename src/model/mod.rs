//! Scoring items against good product, naming their defects, and model files.

pub mod anomaly;
pub mod backbone;
pub mod classifier;
pub mod deep;
pub mod gaussian;
pub mod grading;
pub mod heat;
pub mod inspection_model;
pub mod metrics;
pub mod operating;
pub mod patchcore;
pub mod selection;
mod svm;
pub mod tier;
pub mod tiered;

pub use anomaly::{AnomalyModel, ItemScore, ModelError, TrainError, TrainOptions};
pub use classifier::GradeClassifier;
pub use inspection_model::InspectionModel;
pub use tier::{Tier, TierChoice};

/// Write `bytes` to `path` through a temporary file and a rename, so a crash or a full disk
/// never leaves a half-written model behind; creates the parent folder. The file is readable
/// by its owner only (a model carries memory banks of the plant's product).
pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::domain::private_fs::create_private_dir(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut f = crate::domain::private_fs::create_private(&tmp)?;
        f.write_all(bytes)?;
        // On disk before the rename makes it visible: a power cut leaves old or new, not junk.
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
