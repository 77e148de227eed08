//! foodqc: the core of a food inspection workstation.
//!
//! Data flows one way: **capture -> inspect -> record -> show**.
//! - [`capture`] turns a camera, a folder of images or the built-in synthetic line into
//!   [`capture::Frame`]s behind one [`capture::FrameSource`] trait.
//! - [`vision`] finds items in a frame, measures them and draws overlays.
//! - [`model`] scores items against what good product looks like and decides pass/reject.
//! - [`store`] keeps every inspection, lot, sample, label, model version and audit entry in SQLite.
//! - [`labeling`] imports images from disk as samples and exports the labelled set.
//! - [`station`] runs the line: capture, inspection and recording on their own threads.
//! - [`reports`] aggregates the records for QC managers.
//! - [`bench`] times every stage of the pipeline (`foodqc bench`).
//!
//! Nothing here depends on egui; the GUI in `src/ui` is a thin layer over this library.

pub mod bench;
pub mod capture;
pub mod domain;
pub mod eval;
pub mod imageio;
pub mod inspect;
pub mod labeling;
pub mod model;
pub mod reports;
pub mod services;
pub mod station;
pub mod store;
pub mod training;
pub mod vision;
