//! Services the front ends call, so neither the command line nor the workstation window
//! re-implements a rule: whether a candidate model meets its acceptance criteria, who is
//! signed in and what their role may do, electronic signatures and the two-person promotion,
//! reviewing the audit trail and signing an extract of it, which model judges, judging
//! frames with tracking, the desk worker behind the window and the business rules it runs
//! (promotion, the score workbench, single-image scoring, threshold settings, the line
//! alarm). Nothing here depends on egui.

pub mod acceptance;
pub mod audit_review;
pub mod auth;
pub mod desk;
pub mod line_alarm;
pub mod lot_decision;
pub mod model_choice;
pub mod plant_model;
pub mod plant_trust;
pub mod promotion;
pub mod sample_score;
pub mod shift_review;
pub mod signing;
pub mod threshold_settings;
pub mod tracked_inspection;
pub mod workbench;
