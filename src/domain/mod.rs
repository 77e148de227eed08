//! Domain types every layer shares: pixel geometry, verdicts, class names, thresholds,
//! acceptance criteria, the acting person, roles and permissions, what an electronic signature
//! means, and where files live. The bottom layer: it imports
//! nothing of the crate.

pub mod acceptance;
pub mod actor;
pub mod class_label;
pub mod geometry;
pub mod kafka;
pub mod paths;
pub mod private_fs;
pub mod recipe;
pub mod role;
pub mod signature;
pub mod thresholds;
pub mod verdict;

pub use acceptance::AcceptanceCriteria;
pub use actor::Actor;
pub use class_label::{ClassLabel, GOOD};
pub use geometry::BBox;
pub use kafka::KafkaSpec;
pub use paths::AppPaths;
pub use recipe::Recipe;
pub use role::{Permission, Role};
pub use signature::{Meaning, SignedAction};
pub use thresholds::Thresholds;
pub use verdict::Verdict;
