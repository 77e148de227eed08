//! Settings of the synthetic line, and the same settings in pixel units of one frame size.

use serde::{Deserialize, Serialize};

use super::look::{ECC_MAX, EDGE, HARM_MAX};

/// Frame height in pixels at which the pixel sizes of [`SyntheticConfig`] are given; at other
/// heights they scale linearly (an item of 140 px at 720 px is 93 px at 480 px).
pub const REFERENCE_HEIGHT: u32 = 720;

/// Settings of the synthetic line.
///
/// Sizes marked "at 720 px" are in pixels for a frame [`REFERENCE_HEIGHT`] high and scale with
/// `height`. Out-of-range values (zero size, negative or NaN numbers) are replaced or clamped
/// by [`SyntheticLine::new`]; [`SyntheticLine::config`] returns the values actually used.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    /// Frame width in pixels (at least 1).
    pub width: u32,
    /// Frame height in pixels (at least 1).
    pub height: u32,
    /// Nominal frame rate in frames per second: the pacing of the source, and the rate the
    /// automatic belt speed is computed for.
    pub fps: f64,
    /// Seed of the random generator; the same seed and config give byte-identical frames.
    pub seed: u64,
    /// Probability (0..=1) that an item carries at least one defect.
    pub defect_rate: f64,
    /// Probability (0..=1) that a defective item carries a second, different defect.
    pub second_defect_rate: f64,
    /// Smallest nominal item diameter, px at 720 px.
    pub min_diameter: f32,
    /// Largest nominal item diameter, px at 720 px (reduced if items would not fit between the
    /// top and bottom gaps).
    pub max_diameter: f32,
    /// Belt speed in whole pixels per frame, 1..=`width` (whole pixels keep the belt texture and
    /// the items exactly in step). `None`: the speed at which the belt travels one frame width
    /// in `crossing_time` seconds at `fps` (14 px/frame at 1280 px, 30 fps, 3 s).
    pub belt_speed: Option<u32>,
    /// Seconds a point of the belt needs to cross the frame width when `belt_speed` is `None`.
    pub crossing_time: f64,
    /// Mean distance along the belt between the centres of consecutive items, px at 720 px.
    /// Each distance is drawn from 0.3..1.7 times this; the default gives about 6 items per
    /// 1280x720 frame.
    pub item_pitch: f32,
    /// Minimum free space between the outlines of two items and between an item and the top or
    /// bottom frame edge, px at 720 px (at least 3 px after scaling).
    pub min_gap: f32,
    /// Lighting falloff: relative brightness loss at the top and bottom frame edges, as under a
    /// light bar along the belt (0 = flat, 0.1 = 10 % darker at the edges, at most 0.9).
    pub vignette: f32,
    /// Overall brightness of the lighting (1.0 nominal; an ageing lamp or a dirty diffuser
    /// gives less, 0.05..=4.0): every pixel of the frame is scaled by it.
    pub exposure: f32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30.0,
            seed: 7,
            defect_rate: 0.25,
            second_defect_rate: 0.2,
            min_diameter: 110.0,
            max_diameter: 170.0,
            belt_speed: None,
            crossing_time: 3.0,
            item_pitch: 230.0,
            min_gap: 14.0,
            vignette: 0.1,
            exposure: 1.0,
        }
    }
}

impl SyntheticConfig {
    /// The config with every value made usable: sizes at least 1, rates in 0..=1, positive
    /// finite numbers where needed (defaults replace NaN and non-positive values).
    pub(super) fn sanitized(mut self) -> Self {
        let d = Self::default();
        let positive = |v: f64, def: f64| if v.is_finite() && v > 0.0 { v } else { def };
        let positive32 = |v: f32, def: f32| if v.is_finite() && v > 0.0 { v } else { def };
        let unit = |v: f64| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        self.width = self.width.max(1);
        self.height = self.height.max(1);
        self.fps = positive(self.fps, d.fps);
        self.defect_rate = unit(self.defect_rate);
        self.second_defect_rate = unit(self.second_defect_rate);
        self.min_diameter = positive32(self.min_diameter, d.min_diameter);
        self.max_diameter = positive32(self.max_diameter, d.max_diameter);
        if self.min_diameter > self.max_diameter {
            std::mem::swap(&mut self.min_diameter, &mut self.max_diameter);
        }
        self.belt_speed = self.belt_speed.map(|v| v.clamp(1, self.width));
        self.crossing_time = positive(self.crossing_time, d.crossing_time);
        self.item_pitch = positive32(self.item_pitch, d.item_pitch);
        self.min_gap = if self.min_gap.is_finite() && self.min_gap >= 0.0 {
            self.min_gap
        } else {
            d.min_gap
        };
        self.vignette = if self.vignette.is_finite() {
            self.vignette.clamp(0.0, 0.9)
        } else {
            0.0
        };
        self.exposure = if self.exposure.is_finite() {
            self.exposure.clamp(0.05, 4.0)
        } else {
            1.0
        };
        self
    }
}

/// The config turned into pixel units for this frame size.
#[derive(Clone, Debug)]
pub(super) struct Params {
    pub(super) w: usize,
    pub(super) h: usize,
    /// Frame height / 720.
    pub(super) scale: f32,
    /// Belt speed, px per frame.
    pub(super) speed: u32,
    pub(super) d_min: f32,
    pub(super) d_max: f32,
    pub(super) pitch: f32,
    pub(super) gap: f32,
    /// Upper bound of any item's extent (largest outline radius), px.
    pub(super) max_extent: f32,
    pub(super) shadow_offset: f32,
    pub(super) shadow_blur: f32,
    pub(super) defect_rate: f64,
    pub(super) second_rate: f64,
}

impl Params {
    pub(super) fn new(cfg: &SyntheticConfig) -> Self {
        let (w, h) = (cfg.width as usize, cfg.height as usize);
        let scale = cfg.height as f32 / REFERENCE_HEIGHT as f32;
        let speed = cfg.belt_speed.unwrap_or_else(|| {
            let v = (f64::from(cfg.width) / (cfg.crossing_time * cfg.fps)).round();
            // Saturating float->int cast.
            (v as u32).clamp(1, cfg.width)
        });
        let gap = (cfg.min_gap * scale).max(3.0);
        // Items must fit between the top and bottom gaps, whatever the user asked for.
        let growth = (1.0 + ECC_MAX) * (1.0 + HARM_MAX.iter().sum::<f32>());
        let fit = ((h as f32 - 2.0 * gap - 2.0 * EDGE) / growth).max(2.0);
        let d_max = (cfg.max_diameter * scale).clamp(2.0, fit);
        let d_min = (cfg.min_diameter * scale).clamp(2.0, d_max);
        Self {
            w,
            h,
            scale,
            speed,
            d_min,
            d_max,
            pitch: (cfg.item_pitch * scale).max(1.0),
            gap,
            max_extent: d_max / 2.0 * growth + EDGE,
            shadow_offset: (3.0 * scale).max(1.0),
            shadow_blur: (3.0 * scale).max(1.0),
            defect_rate: cfg.defect_rate,
            second_rate: cfg.second_defect_rate,
        }
    }
}
