//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// A shared dataset folder (`../shared/datasets/<rel>` next to the repo), if present.
pub fn dataset(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(rel);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: dataset {} is not present", p.display());
        None
    }
}
