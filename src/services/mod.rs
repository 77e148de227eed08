//! Library services that the command line and the workstation window share: rules that both
//! front ends apply the same way, so neither re-implements them.

pub mod model_choice;
pub mod tracked_inspection;
