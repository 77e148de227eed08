//! foodqc: the core of a food inspection workstation.
//!
//! Data flows one way: **capture -> inspect -> record -> show**. The modules are layers, and a
//! module imports only from its own layer or below (`tests/architecture.rs` checks it):
//!
//! 0. [`domain`]: types every layer shares (BBox, Verdict, ClassLabel, Thresholds, Actor, AppPaths);
//!    [`i18n`]: the message catalogues, the language in force, locale formats, plant time.
//! 1. [`imageio`]: decoding (full size or DCT-scaled), binning, crops, grid interpolation.
//! 2. [`vision`]: segmentation (belt map, refinement, outlines), features, the binning choice.
//! 3. [`model`]: the anomaly model, the defect classifier, metrics, model files.
//! 4. [`inspect`]: frame -> [`inspect::Inspection`]: items, scores, defect classes, verdicts,
//!    heat maps, and the overlay drawn from them.
//! 5. [`store`]: SQLite, the only place with SQL: migrations, recorder, report read model.
//! 6. Services: [`capture`] (frame sources), [`station`] (the line's threads), [`training`],
//!    [`eval`], [`labeling`], [`reports`], [`services`] (model choice, the desk worker behind the
//!    window, promotion, threshold workbench, line alarm), [`plant`] (the outbox publisher to
//!    the plant's Kafka), [`monitor`] (`/metrics`, `/healthz`) and [`bench`].
//! 7. Front ends, in the binary: `src/cli` (one file per subcommand) and `src/ui` (egui).
//!
//! Nothing here depends on egui.

pub mod bench;
pub mod capture;
pub mod domain;
pub mod eval;
pub mod i18n;
pub mod imageio;
pub mod inspect;
pub mod labeling;
pub mod lineio;
pub mod model;
pub mod monitor;
pub mod plant;
pub mod reports;
pub mod services;
pub mod station;
pub mod store;
pub mod training;
pub mod vision;
