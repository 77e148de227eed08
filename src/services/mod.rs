//! Services the front ends call: the desk worker behind the workstation window and the
//! business rules it runs (promotion, the score workbench, single-image scoring, threshold
//! settings, the line alarm). Nothing here depends on egui.

pub mod desk;
pub mod line_alarm;
pub mod promotion;
pub mod sample_score;
pub mod threshold_settings;
pub mod workbench;
