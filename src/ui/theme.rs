//! Design tokens: the few colours and sizes the UI uses. Colour is reserved for state.

use egui::Color32;
use foodqc::inspect::overlay::palette;

const fn rgb(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// Pass (green).
pub const PASS: Color32 = rgb(palette::PASS);
/// Reject (red).
pub const REJECT: Color32 = rgb(palette::REJECT);
/// Review band (amber).
pub const REVIEW: Color32 = rgb(palette::REVIEW);
/// Not judged yet (grey).
pub const PARTIAL: Color32 = rgb(palette::PARTIAL);
/// Heat map / defect regions (magenta).
pub const HEAT: Color32 = rgb(palette::HEAT);
/// Warnings (amber).
pub const WARN: Color32 = rgb(palette::REVIEW);

/// Height of the big counter numbers.
pub const BIG_NUMBER: f32 = 34.0;

/// Scroll bars drawn all the time (thin) in `ui`: egui's default bars appear only on hover,
/// so a side panel taller than a small window looked cut off rather than scrollable.
pub fn visible_scroll_bars(ui: &mut egui::Ui) {
    ui.spacing_mut().scroll = egui::style::ScrollStyle::thin();
}
