//! Building the labelled set: importing images from disk as samples (with labels when the
//! folder says them) and exporting the labelled samples as an MVTec-style folder.
//!
//! Both are plain blocking functions with a progress callback and a cancel flag, meant to run
//! on a background thread (the Label tab) or from the command line.

pub mod export;
pub mod import;

pub use export::{ExportError, ExportFailure, ExportReport, export_labelled, label_folder};
pub use import::{
    FolderLayout, ImportError, ImportFailure, ImportReport, Progress, detect_layout, import_paths,
};
