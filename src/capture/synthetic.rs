//! The synthetic conveyor line: a seeded, deterministic, procedural frame source.
//!
//! It is the demo, the default source of the app and the test fixture of the whole inspection
//! pipeline. Round baked items (cookies) of varying size, colour and rotation move from left to
//! right across a dark belt; a fraction of them carries injected defects ([`DefectKind`]), and
//! every frame comes with its exact [`GroundTruth`].
//!
//! Speed: each item is rendered once, when it is spawned, into a small sprite (colour,
//! coverage, cast shadow, defect mask). The belt is a pre-rendered texture that repeats along
//! the belt. A frame is then a scrolled copy of the belt plus a blend of the visible sprites:
//! under 2 ms at 1280x720. The lighting falloff only depends on the row, and nothing moves
//! across the belt, so it is baked into the belt texture and the sprites.
//!
//! Determinism: the line uses its own SplitMix64 generator and integer hash noise instead of an
//! external random crate, so the pixels cannot change when a dependency changes its generator.
//! Same seed and config give byte-identical frames and truth; only [`Frame::captured_at`] is
//! wall-clock time.
//!
//! Coordinates: x runs along the belt (items move towards +x), y across it; pixel `(i, j)`
//! covers `[i, i+1) x [j, j+1)`, so its centre is at `(i + 0.5, j + 0.5)`.

use std::collections::VecDeque;
use std::f32::consts::{PI, TAU};
use std::time::SystemTime;

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::{CaptureError, DefectKind, Frame, FrameSource, GroundTruth, Pacing, TruthItem};
use crate::domain::BBox;

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
        }
    }
}

impl SyntheticConfig {
    /// The config with every value made usable: sizes at least 1, rates in 0..=1, positive
    /// finite numbers where needed (defaults replace NaN and non-positive values).
    fn sanitized(mut self) -> Self {
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
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Look constants (colours in sRGB 0..255, fractions of the item radius unless noted).

/// Belt base colour: dark blue-grey, far from every item colour.
const BELT_RGB: [f32; 3] = [45.0, 48.0, 52.0];
/// Width of the antialiased item edge, px (coverage goes 0 -> 1 over this distance).
const EDGE: f32 = 1.4;
/// Largest ellipticity: semi-axes are r(1 +- e).
const ECC_MAX: f32 = 0.06;
/// Largest amplitudes of the outline radius harmonics k = 2..=6 (low-frequency wobble).
const HARM_MAX: [f32; 5] = [0.022, 0.016, 0.012, 0.008, 0.006];
/// Darkening of the belt in the full cast shadow (0..1).
const SHADOW_DEPTH: f32 = 0.22;
const SUGAR_RGB: [f32; 3] = [242.0, 228.0, 192.0];
const BURNT_RGB: [f32; 3] = [34.0, 22.0, 14.0];
/// Colour of the scorched ring around a burnt spot.
const BURNT_HALO_RGB: [f32; 3] = [112.0, 62.0, 26.0];
const CRACK_RGB: [f32; 3] = [48.0, 30.0, 18.0];
/// Foreign matter colours: blue plastic, green plastic, metallic grey-white.
const FOREIGN_RGB: [[f32; 3]; 3] = [
    [30.0, 95.0, 232.0],
    [48.0, 190.0, 62.0],
    [178.0, 186.0, 200.0],
];

// ---------------------------------------------------------------------------------------------
// Random numbers and noise.

/// SplitMix64: tiny, fast, good enough for procedural content, and stable forever.
#[derive(Clone, Debug)]
struct Rng {
    state: u64,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1), double precision (for probabilities).
    fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in 0..n (n > 0).
    fn index(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit_f64() < p
    }

    fn angle(&mut self) -> f32 {
        self.range(0.0, TAU)
    }

    /// A random phase as (cos, sin).
    fn phase(&mut self) -> (f32, f32) {
        let a = self.angle();
        (a.cos(), a.sin())
    }
}

/// Derives an independent seed from a seed and a stream number.
fn mix64(seed: u64, stream: u64) -> u64 {
    Rng::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// Integer hash of a lattice point, uniform in [0, 1).
#[inline]
fn hash01(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x27D4_EB2D)
        ^ (y as u32).wrapping_mul(0x1656_67B1)
        ^ seed.wrapping_mul(0x9E37_79B9);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Smooth value noise in [-1, 1] at `(x, y)` in lattice cells.
fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (floor_i32(x), floor_i32(y));
    let (tx, ty) = (x - ix as f32, y - iy as f32);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (x0, x1) = (ix, ix.wrapping_add(1));
    let y1 = iy.wrapping_add(1);
    let top = lerp(hash01(x0, iy, seed), hash01(x1, iy, seed), sx);
    let bottom = lerp(hash01(x0, y1, seed), hash01(x1, y1, seed), sx);
    lerp(top, bottom, sy) * 2.0 - 1.0
}

/// Value noise like [`value_noise`] evaluated a whole texture row at a time: the lattice is
/// interpolated in y once per cell column, so each pixel costs one smooth 1-D interpolation.
struct RowNoise {
    /// Lattice cells across the texture (the lattice wraps after them).
    cells: usize,
    cell_w: f32,
    cell_h: f32,
    seed: u32,
    /// Scratch: the row's lattice values, `cells + 1` of them.
    column: Vec<f32>,
}

impl RowNoise {
    fn new(cells: usize, period: usize, cell_h: f32, seed: u32) -> Self {
        Self {
            cells,
            cell_w: period as f32 / cells as f32,
            cell_h,
            seed,
            column: vec![0.0; cells + 1],
        }
    }

    /// Writes the noise (in -1..=1) of texture row `y` into `out` (one value per column).
    fn fill_row(&mut self, y: f32, out: &mut [f32]) {
        let fy = y / self.cell_h;
        let iy = floor_i32(fy);
        let ty = fy - iy as f32;
        let sy = ty * ty * (3.0 - 2.0 * ty);
        for (i, v) in self.column.iter_mut().enumerate() {
            let ix = (i % self.cells) as i32;
            *v = lerp(
                hash01(ix, iy, self.seed),
                hash01(ix, iy.wrapping_add(1), self.seed),
                sy,
            ) * 2.0
                - 1.0;
        }
        for (x, o) in out.iter_mut().enumerate() {
            let fx = x as f32 / self.cell_w;
            let i = (fx as usize).min(self.cells - 1);
            let t = fx - i as f32;
            let sx = t * t * (3.0 - 2.0 * t);
            *o = lerp(self.column[i], self.column[i + 1], sx);
        }
    }
}

/// `floor` as an integer without a libm call (baseline x86-64 has no rounding instruction).
#[inline]
fn floor_i32(v: f32) -> i32 {
    let i = v as i32;
    if (i as f32) > v { i - 1 } else { i }
}

/// Rounds a colour value to 0..=255.
#[inline]
fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

#[inline]
fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

#[inline]
fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

#[inline]
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `sum amp * cos(k*theta + phase)` over `terms` `(k, amp, cos phase, sin phase)` for the angle
/// whose (cos, sin) is `(c1, s1)`; powers of e^(i theta) avoid atan2 and cos per pixel.
#[inline]
fn harmonics(c1: f32, s1: f32, terms: &[(u32, f32, f32, f32)]) -> f32 {
    let (mut ck, mut sk, mut k) = (c1, s1, 1);
    let mut sum = 0.0;
    for &(order, amp, pc, ps) in terms {
        while k < order {
            (ck, sk) = (ck * c1 - sk * s1, sk * c1 + ck * s1);
            k += 1;
        }
        sum += amp * (ck * pc - sk * ps);
    }
    sum
}

/// Distance from `(px, py)` to the segment a-b, and the position 0..=1 of the nearest point.
#[inline]
fn segment_distance(px: f32, py: f32, a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let l2 = vx * vx + vy * vy;
    let t = if l2 > 0.0 {
        (((px - a.0) * vx + (py - a.1) * vy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * vx - px, a.1 + t * vy - py);
    ((qx * qx + qy * qy).sqrt(), t)
}

// ---------------------------------------------------------------------------------------------
// Effective parameters.

/// The config turned into pixel units for this frame size.
#[derive(Clone, Debug)]
struct Params {
    w: usize,
    h: usize,
    /// Frame height / 720.
    scale: f32,
    /// Belt speed, px per frame.
    speed: u32,
    d_min: f32,
    d_max: f32,
    pitch: f32,
    gap: f32,
    /// Upper bound of any item's extent (largest outline radius), px.
    max_extent: f32,
    shadow_offset: f32,
    shadow_blur: f32,
    defect_rate: f64,
    second_rate: f64,
}

impl Params {
    fn new(cfg: &SyntheticConfig) -> Self {
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

// ---------------------------------------------------------------------------------------------
// Item geometry.

/// Outline of an item: a rotated, slightly elliptical disc with low-frequency radius wobble.
#[derive(Clone, Debug)]
struct Shape {
    /// Mean radius, px.
    r: f32,
    inv_a: f32,
    inv_b: f32,
    cos_rot: f32,
    sin_rot: f32,
    /// `(k, amplitude, cos phase, sin phase)` of the radius harmonics.
    harm: [(u32, f32, f32, f32); 5],
}

impl Shape {
    /// Signed distance to the outline in px (positive inside) and the normalised radius
    /// (0 at the centre, 1 on the outline) at `(dx, dy)` from the centre.
    #[inline]
    fn eval(&self, dx: f32, dy: f32) -> (f32, f32) {
        let u = dx * self.cos_rot + dy * self.sin_rot;
        let v = dy * self.cos_rot - dx * self.sin_rot;
        let (eu, ev) = (u * self.inv_a, v * self.inv_b);
        let rho = (eu * eu + ev * ev).sqrt();
        if rho < 1e-6 {
            return (self.r, 0.0);
        }
        let radius = 1.0 + harmonics(eu / rho, ev / rho, &self.harm);
        ((radius - rho) * self.r, rho / radius)
    }

    /// Distance from the centre to the outline in direction `angle`, px (approximate).
    fn radius_towards(&self, angle: f32) -> f32 {
        let (dx, dy) = (angle.cos() * self.r, angle.sin() * self.r);
        self.r + self.eval(dx, dy).0
    }
}

/// A roughly circular region with a slightly irregular border (burnt spot, foreign speck, bite).
#[derive(Clone, Debug)]
struct Blob {
    x: f32,
    y: f32,
    radius: f32,
    harm: [(u32, f32, f32, f32); 2],
}

impl Blob {
    fn random(rng: &mut Rng, x: f32, y: f32, radius: f32, orders: [u32; 2], amp: f32) -> Self {
        let mut harm = [(0, 0.0, 1.0, 0.0); 2];
        for (h, k) in harm.iter_mut().zip(orders) {
            let (pc, ps) = rng.phase();
            *h = (k, rng.range(0.3, 1.0) * amp, pc, ps);
        }
        Self { x, y, radius, harm }
    }

    /// Distance from the blob centre and the blob's (irregular) radius in that direction, px.
    #[inline]
    fn dist_radius(&self, dx: f32, dy: f32) -> (f32, f32) {
        let (ex, ey) = (dx - self.x, dy - self.y);
        let d = (ex * ex + ey * ey).sqrt();
        if d < 1e-6 {
            return (0.0, self.radius);
        }
        (
            d,
            self.radius * (1.0 + harmonics(ex / d, ey / d, &self.harm)),
        )
    }

    /// Signed distance to the blob border, px, positive outside.
    #[inline]
    fn sdf(&self, dx: f32, dy: f32) -> f32 {
        let (d, r) = self.dist_radius(dx, dy);
        d - r
    }

    /// Largest extent from the blob centre, px.
    fn reach(&self) -> f32 {
        self.radius * (1.0 + self.harm.iter().map(|h| h.1).sum::<f32>())
    }
}

/// A crack: jagged polylines of `(x, y, half width)` vertices, px from the item centre.
#[derive(Clone, Debug)]
struct Crack {
    lines: Vec<Vec<(f32, f32, f32)>>,
}

impl Crack {
    fn random(rng: &mut Rng, shape: &Shape, d: f32, scale: f32) -> Self {
        let r = shape.r;
        let th0 = rng.angle();
        let start = (th0.cos() * r * 1.05, th0.sin() * r * 1.05);
        let th1 = th0 + PI + rng.range(-0.7, 0.7);
        // Most cracks run in from the rim and end inside; some cross the whole item.
        let through = rng.chance(0.3);
        let end_r = if through { 1.05 } else { rng.range(0.3, 0.7) };
        let end = (th1.cos() * r * end_r, th1.sin() * r * end_r);
        let hw0 = (rng.range(1.0, 2.0) * scale).max(0.6);
        // Sideways wander (random walk step) and zigzag amplitude, px.
        let wiggle = (0.03 * d, scale.max(0.5));
        let main = jagged_line(rng, (start, end), 14, hw0, !through, wiggle);
        let mut lines = vec![];
        if rng.chance(0.35) {
            // A short side branch from the middle third of the main fissure.
            let i = 5 + rng.index(5);
            let (bx, by, bw) = main[i];
            let dir = (end.1 - start.1).atan2(end.0 - start.0)
                + if rng.chance(0.5) { 1.0 } else { -1.0 } * rng.range(0.5, 1.1);
            let len = rng.range(0.15, 0.28) * d;
            let tip = (bx + dir.cos() * len, by + dir.sin() * len);
            lines.push(jagged_line(
                rng,
                ((bx, by), tip),
                5,
                bw * 0.75,
                true,
                wiggle,
            ));
        }
        lines.push(main);
        Self { lines }
    }
}

/// A jagged polyline from `a` to `b` in `n` segments with half width about `hw0`: a
/// mean-reverting random walk across the direction (step `wiggle.0` px) plus a zigzag
/// (`wiggle.1` px). `taper` narrows it towards `b`.
fn jagged_line(
    rng: &mut Rng,
    (a, b): ((f32, f32), (f32, f32)),
    n: usize,
    hw0: f32,
    taper: bool,
    wiggle: (f32, f32),
) -> Vec<(f32, f32, f32)> {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let len = (vx * vx + vy * vy).sqrt().max(1e-3);
    let (nx, ny) = (-vy / len, vx / len);
    let mut walk = 0.0;
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            if i > 0 && i < n {
                walk = walk * 0.8 + rng.range(-1.0, 1.0) * wiggle.0;
            } else {
                walk = 0.0;
            }
            let zig = if i % 2 == 0 { 1.0 } else { -1.0 } * rng.range(0.4, 1.4) * wiggle.1;
            let off = walk + zig;
            let mut hw = hw0 * rng.range(0.75, 1.25);
            if taper {
                hw *= (1.0 - t).sqrt().max(0.4);
            }
            (a.0 + vx * t + nx * off, a.1 + vy * t + ny * off, hw)
        })
        .collect()
}

/// A small pale (sugar) or brown (grain) dot on the surface.
#[derive(Clone, Debug)]
struct Dot {
    x: f32,
    y: f32,
    radius: f32,
    rgb: [f32; 3],
    strength: f32,
}

/// Everything needed to render one item, drawn from the item's own random stream.
#[derive(Clone, Debug)]
struct ItemSpec {
    shape: Shape,
    /// Largest outline radius including the antialiased edge, px.
    extent: f32,
    centre_rgb: [f32; 3],
    rim_rgb: [f32; 3],
    tex_seed: u32,
    dots: Vec<Dot>,
    /// Missing piece: the bitten-away disc, px from the item centre.
    bite: Option<Blob>,
    burnt: Option<Blob>,
    /// Foreign speck: shape, colour, and whether it is metallic (gets a glint).
    foreign: Option<(Blob, [f32; 3], bool)>,
    crack: Option<Crack>,
    defects: Vec<DefectKind>,
}

impl ItemSpec {
    fn generate(rng: &mut Rng, p: &Params) -> Self {
        let s = p.scale;
        let d = rng.range(p.d_min, p.d_max);
        let r = d / 2.0;
        let ecc = rng.range(0.0, ECC_MAX);
        let rot = rng.angle();
        let mut harm = [(0, 0.0, 1.0, 0.0); 5];
        for (i, h) in harm.iter_mut().enumerate() {
            let (pc, ps) = rng.phase();
            *h = (i as u32 + 2, rng.range(0.0, HARM_MAX[i]), pc, ps);
        }
        let shape = Shape {
            r,
            inv_a: 1.0 / (r * (1.0 + ecc)),
            inv_b: 1.0 / (r * (1.0 - ecc)),
            cos_rot: rot.cos(),
            sin_rot: rot.sin(),
            harm,
        };
        let extent = r * (1.0 + ecc) * (1.0 + harm.iter().map(|h| h.1).sum::<f32>()) + EDGE;

        // Colour: brightness +-10 %, a little hue shift, a random degree of baking.
        let bright = rng.range(0.9, 1.1);
        let hue = rng.range(-1.0, 1.0);
        let bake = rng.unit();
        let k = bright * (1.0 - 0.08 * bake);
        let centre_rgb = [
            212.0 * (1.0 + 0.04 * hue) * k,
            158.0 * (1.0 - 0.01 * hue) * k,
            86.0 * (1.0 - 0.10 * hue) * k,
        ];
        let rim_rgb = [
            centre_rgb[0] * (0.84 - 0.06 * bake),
            centre_rgb[1] * (0.74 - 0.07 * bake),
            centre_rgb[2] * (0.62 - 0.08 * bake),
        ];
        let tex_seed = rng.next_u64() as u32;

        let mut dots = vec![];
        let n_sugar = 5 + rng.index(10);
        let n_grain = 3 + rng.index(6);
        for i in 0..n_sugar + n_grain {
            let a = rng.angle();
            let rr = rng.unit().sqrt() * 0.85 * r;
            let sugar = i < n_sugar;
            let (lo, hi) = if sugar { (0.9, 1.9) } else { (0.8, 1.5) };
            dots.push(Dot {
                x: a.cos() * rr,
                y: a.sin() * rr,
                radius: (rng.range(lo, hi) * s).max(0.6),
                rgb: if sugar {
                    SUGAR_RGB
                } else {
                    centre_rgb.map(|c| c * 0.72)
                },
                strength: if sugar { 0.85 } else { 0.6 },
            });
        }

        let mut defects = vec![];
        if rng.chance(p.defect_rate) {
            let first = DefectKind::ALL[rng.index(DefectKind::ALL.len())];
            defects.push(first);
            if rng.chance(p.second_rate) {
                let mut second = first;
                while second == first {
                    second = DefectKind::ALL[rng.index(DefectKind::ALL.len())];
                }
                defects.push(second);
            }
        }

        let mut spec = Self {
            shape,
            extent,
            centre_rgb,
            rim_rgb,
            tex_seed,
            dots,
            bite: None,
            burnt: None,
            foreign: None,
            crack: None,
            defects: defects.clone(),
        };
        // The bite first: the other defects are placed away from it.
        if defects.contains(&DefectKind::MissingPiece) {
            let a = rng.angle();
            let edge = spec.shape.radius_towards(a);
            let depth = rng.range(0.12, 0.2) * d;
            let br = rng.range(0.22, 0.32) * d;
            let cd = edge + br - depth;
            spec.bite = Some(Blob::random(
                rng,
                a.cos() * cd,
                a.sin() * cd,
                br,
                [5, 9],
                0.05,
            ));
        }
        for kind in defects {
            match kind {
                DefectKind::Burnt => {
                    let radius = rng.range(0.15, 0.3) * d / 2.0;
                    let (x, y) = spec.free_spot(rng, 0.55, radius);
                    spec.burnt = Some(Blob::random(rng, x, y, radius, [2, 3], 0.14));
                }
                DefectKind::ForeignMatter => {
                    let radius = (rng.range(6.0, 10.0) * s).max(2.5) / 2.0;
                    let (x, y) = spec.free_spot(rng, 0.6, radius);
                    let kind = rng.index(FOREIGN_RGB.len());
                    let blob = Blob::random(rng, x, y, radius, [2, 3], 0.2);
                    spec.foreign = Some((blob, FOREIGN_RGB[kind], kind == 2));
                }
                DefectKind::Crack => spec.crack = Some(Crack::random(rng, &spec.shape, d, s)),
                DefectKind::MissingPiece => {}
            }
        }
        spec
    }

    /// A random point within `within` radii of the centre, clear of the bite if there is one.
    fn free_spot(&self, rng: &mut Rng, within: f32, radius: f32) -> (f32, f32) {
        let mut spot = (0.0, 0.0);
        for _ in 0..24 {
            let a = rng.angle();
            let rr = rng.unit().sqrt() * within * self.shape.r;
            spot = (a.cos() * rr, a.sin() * rr);
            let clear = self.bite.as_ref().is_none_or(|b| {
                let (dx, dy) = (spot.0 - b.x, spot.1 - b.y);
                (dx * dx + dy * dy).sqrt() > b.reach() + radius * 1.3 + 2.0
            });
            if clear {
                break;
            }
        }
        spot
    }
}

// ---------------------------------------------------------------------------------------------
// Sprites.

/// One pre-rendered sprite pixel.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Px {
    rgb: [u8; 3],
    /// Item coverage, 0..=255.
    alpha: u8,
    /// Belt darkening by the cast shadow, 0..=255.
    shadow: u8,
    /// Part of a defect (ground truth).
    defect: bool,
}

/// Column ranges `[start, end)` of one sprite row; empty when `start >= end`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct RowSpans {
    /// Pixels that change the frame or the mask.
    draw: (usize, usize),
    /// Item footprint: coverage >= 50 % or defect.
    foot: (usize, usize),
}

/// An item rendered once into a square `size x size` buffer.
#[derive(Clone, Debug)]
struct Sprite {
    size: usize,
    px: Vec<Px>,
    rows: Vec<RowSpans>,
}

impl Sprite {
    /// Largest distance from the item centre that the item or its shadow can touch, px.
    fn reach(extent: f32, p: &Params) -> f32 {
        extent + p.shadow_offset * std::f32::consts::SQRT_2 + p.shadow_blur + 1.0
    }

    /// Sprite side `2 * half + 2` for an item of the given extent: the returned `half`.
    fn half(extent: f32, p: &Params) -> usize {
        Self::reach(extent, p).ceil() as usize + 1
    }

    /// Renders `spec` with the item centre at `(half + frac.0, half + frac.1)` in the sprite;
    /// `light` is the lighting gain of each sprite row (`2 * half + 2` of them).
    fn render(spec: &ItemSpec, frac: (f32, f32), p: &Params, light: &[f32]) -> (Self, (f32, f32)) {
        let s = p.scale;
        let (off, blur) = (p.shadow_offset, p.shadow_blur);
        let reach = Self::reach(spec.extent, p);
        let half = Self::half(spec.extent, p);
        let size = 2 * half + 2;
        let (cx, cy) = (half as f32 + frac.0, half as f32 + frac.1);
        let n = size * size;
        let mut rgb = vec![[0.0f32; 3]; n];
        let mut alpha = vec![0.0f32; n];
        let mut shadow = vec![0.0f32; n];
        let mut defect = vec![false; n];
        let shape = &spec.shape;
        let r = shape.r;
        let bite_sdf =
            |dx: f32, dy: f32| spec.bite.as_ref().map_or(f32::INFINITY, |b| b.sdf(dx, dy));
        let bump_cell = (r * 0.22).max(2.0);
        let crumb = spec.centre_rgb.map(|c| (c * 1.1).min(250.0));
        let crumb_w = (2.5 * s).max(0.8);
        let reach2 = reach * reach;

        // Base: coverage, cast shadow, baked colour with rim, bumps and speckle.
        for j in 0..size {
            let dy = j as f32 + 0.5 - cy;
            for i in 0..size {
                let dx = i as f32 + 0.5 - cx;
                if dx * dx + dy * dy > reach2 {
                    continue;
                }
                let idx = j * size + i;
                let (sd_o, rho) = shape.eval(dx, dy);
                let sd_b = bite_sdf(dx, dy);
                let sd = sd_o.min(sd_b);
                let a = (sd / EDGE + 0.5).clamp(0.0, 1.0);
                alpha[idx] = a;
                // The bitten-away part of the original outline is a defect.
                defect[idx] = sd_o >= 0.0 && sd < 0.0;
                if a < 1.0 {
                    let (sx, sy) = (dx - off, dy - off);
                    let ss = shape.eval(sx, sy).0.min(bite_sdf(sx, sy));
                    shadow[idx] = SHADOW_DEPTH * ((ss + blur) / (2.0 * blur)).clamp(0.0, 1.0);
                }
                if a <= 0.0 {
                    continue;
                }
                let t = smoothstep(0.5, 1.0, rho);
                let mut c = lerp3(spec.centre_rgb, spec.rim_rgb, t);
                if sd_b < sd_o {
                    // Broken edge: the paler inside of the biscuit shows.
                    let k = 0.45 * (1.0 - (sd_b / crumb_w).clamp(0.0, 1.0));
                    c = lerp3(c, crumb, k);
                }
                let light = 1.0 - 0.06 * (dx + dy) / (r * std::f32::consts::SQRT_2);
                let bump =
                    value_noise(i as f32 / bump_cell, j as f32 / bump_cell, spec.tex_seed) * 0.05;
                let speck = (hash01(i as i32, j as i32, spec.tex_seed ^ 0x5EED) - 0.5) * 0.1;
                let f = light * (1.0 + bump + speck);
                rgb[idx] = c.map(|v| v * f);
            }
        }

        // Visits the sprite pixels within `rad` of the item-relative point `(x, y)`.
        let each_near = |x: f32, y: f32, rad: f32, f: &mut dyn FnMut(usize, f32, f32)| {
            let (px, py) = (x + cx, y + cy);
            let lo = |v: f32| (v - rad - 1.0).floor().max(0.0) as usize;
            let hi = |v: f32| ((v + rad + 1.0).ceil().max(0.0) as usize).min(size);
            for j in lo(py)..hi(py) {
                for i in lo(px)..hi(px) {
                    f(j * size + i, i as f32 + 0.5 - cx, j as f32 + 0.5 - cy);
                }
            }
        };

        // Sugar crystals and grains.
        for dot in &spec.dots {
            each_near(dot.x, dot.y, dot.radius, &mut |idx, dx, dy| {
                let (ex, ey) = (dx - dot.x, dy - dot.y);
                let w = (dot.radius + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0);
                if w > 0.0 && alpha[idx] > 0.0 {
                    rgb[idx] = lerp3(rgb[idx], dot.rgb, w * dot.strength);
                }
            });
        }

        // Burnt spot: soft-edged, charred, darkest in the middle.
        if let Some(b) = &spec.burnt {
            each_near(b.x, b.y, b.reach() * 1.35, &mut |idx, dx, dy| {
                if alpha[idx] <= 0.0 {
                    return;
                }
                let (dist, rad) = b.dist_radius(dx, dy);
                // Soft edge: 50 % at 0.95 radii, a scorched brown ring, a charred core.
                let w = 1.0 - smoothstep(0.45, 1.45, dist / rad);
                if w <= 0.0 {
                    return;
                }
                let char_noise =
                    1.0 + (hash01(dx as i32, dy as i32, spec.tex_seed ^ 0xB0) - 0.5) * 0.4;
                let target = lerp3(BURNT_HALO_RGB, BURNT_RGB.map(|v| v * char_noise), w);
                rgb[idx] = lerp3(rgb[idx], target, w * (2.0 - w) * 0.97);
                if w >= 0.5 && alpha[idx] >= 0.5 {
                    defect[idx] = true;
                }
            });
        }

        // Crack: dark fissure with a slight shadow on its lower-right side.
        if let Some(crack) = &spec.crack {
            let mut core = vec![0.0f32; n];
            let mut shade = vec![0.0f32; n];
            let so = (1.2 * s).max(0.7);
            let sw = (1.3 * s).max(0.7);
            for line in &crack.lines {
                for seg in line.windows(2) {
                    let (a, b) = ((seg[0].0, seg[0].1), (seg[1].0, seg[1].1));
                    let (aw, bw) = (seg[0].2, seg[1].2);
                    let pad = aw.max(bw) + so + sw + 1.0;
                    let (mx, my) = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
                    let half_len = ((b.0 - a.0).hypot(b.1 - a.1)) / 2.0;
                    each_near(mx, my, half_len + pad, &mut |idx, dx, dy| {
                        let (dist, t) = segment_distance(dx, dy, a, b);
                        let hw = lerp(aw, bw, t);
                        let c = (hw + 0.5 - dist).clamp(0.0, 1.0);
                        let (dist2, _) = segment_distance(dx - so, dy - so, a, b);
                        let sh = (hw + sw + 0.5 - dist2).clamp(0.0, 1.0);
                        core[idx] = core[idx].max(c);
                        shade[idx] = shade[idx].max(sh);
                    });
                }
            }
            for idx in 0..n {
                if alpha[idx] <= 0.0 || (core[idx] <= 0.0 && shade[idx] <= 0.0) {
                    continue;
                }
                let dark = 1.0 - 0.35 * shade[idx] * (1.0 - core[idx]);
                rgb[idx] = lerp3(rgb[idx].map(|v| v * dark), CRACK_RGB, 0.92 * core[idx]);
                if core[idx] >= 0.5 && alpha[idx] >= 0.5 {
                    defect[idx] = true;
                }
            }
        }

        // Foreign speck: saturated, hard-edged, on top of everything.
        if let Some((b, colour, metallic)) = &spec.foreign {
            each_near(b.x, b.y, b.reach(), &mut |idx, dx, dy| {
                if alpha[idx] <= 0.0 {
                    return;
                }
                let sdf = b.sdf(dx, dy);
                let w = (0.5 - sdf).clamp(0.0, 1.0);
                if w <= 0.0 {
                    return;
                }
                // A darker rim sets the speck off from the surface.
                let rim = (1.0 + sdf / 1.2).clamp(0.0, 1.0);
                let mut c = colour.map(|v| v * (1.0 - 0.35 * rim));
                if *metallic {
                    // A specular glint towards the light (upper left), dark on the far side.
                    let g = 1.0 - 0.45 * ((dx - b.x) + (dy - b.y)) / (b.radius * 1.5);
                    c = c.map(|v| v * g);
                }
                rgb[idx] = lerp3(rgb[idx], c, w);
                if w >= 0.5 && alpha[idx] >= 0.5 {
                    defect[idx] = true;
                }
            });
        }

        // Quantise and index the rows.
        let px: Vec<Px> = (0..n)
            .map(|idx| Px {
                rgb: rgb[idx].map(|v| to_u8(v * light.get(idx / size).copied().unwrap_or(1.0))),
                alpha: to_u8(alpha[idx] * 255.0),
                shadow: to_u8(shadow[idx] * 255.0),
                defect: defect[idx],
            })
            .collect();
        let span = |row: &[Px], keep: &dyn Fn(&Px) -> bool| {
            let start = row.iter().position(keep).unwrap_or(row.len());
            let end = row.iter().rposition(keep).map_or(0, |e| e + 1);
            (start, end)
        };
        let rows = px
            .chunks_exact(size)
            .map(|row| RowSpans {
                draw: span(row, &|p| p.alpha > 0 || p.shadow > 0 || p.defect),
                foot: span(row, &|p| p.alpha >= 128 || p.defect),
            })
            .collect();
        (Self { size, px, rows }, (cx, cy))
    }
}

// ---------------------------------------------------------------------------------------------
// Belt.

/// Pre-rendered belt texture, `period` columns wide and frame-high, repeating along x.
#[derive(Clone, Debug)]
struct Belt {
    period: usize,
    rgb: Vec<u8>,
}

impl Belt {
    fn new(p: &Params, seed: u64, light: &[f32]) -> Self {
        let s = p.scale;
        // Faint splice seams at a fixed spacing; the texture period is a whole number of them.
        let seam = ((400.0 * s).round() as usize).max(16);
        let period = seam * p.w.div_ceil(seam).max(1);
        let bseed = mix64(seed, 0xBE17) as u32;
        let cells = |size: f32| ((period as f32 / size).round() as usize).max(1);
        // Large soft mottling, and faint streaks along the belt.
        let mut mottle = RowNoise::new(cells(90.0 * s), period, (90.0 * s).max(1.0), bseed);
        let mut streak =
            RowNoise::new(cells(260.0 * s), period, (4.0 * s).max(1.0), bseed ^ 0x5A5A);
        let (mut mottle_row, mut streak_row) = (vec![0.0; period], vec![0.0; period]);
        // Seams: a dark groove and a faint light lip beside it.
        let seam_w = ((2.0 * s).round() as usize).max(1);
        let seams: Vec<f32> = (0..period)
            .map(|x| match x % seam {
                xs if xs < seam_w => -7.0,
                xs if xs == seam_w => 3.0,
                _ => 0.0,
            })
            .collect();
        let mut rgb = vec![0u8; period * p.h * 3];
        for ((y, row), gain) in rgb.chunks_exact_mut(period * 3).enumerate().zip(light) {
            mottle.fill_row(y as f32, &mut mottle_row);
            streak.fill_row(y as f32, &mut streak_row);
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                let hash = hash01(x as i32, y as i32, bseed);
                let grain = (hash - 0.5) * 8.0;
                // Low-order bits of the same hash: a little independent colour noise.
                let h12 = hash * 4096.0;
                let chroma = (h12 - (h12 as i32) as f32 - 0.5) * 2.0;
                // Fabric weave: a faint 2x2 checker.
                let weave = if (x / 2 + y / 2) % 2 == 0 { 0.8 } else { -0.8 };
                let v = mottle_row[x] * 3.0 + streak_row[x] * 2.0 + grain + weave + seams[x];
                let c = [
                    BELT_RGB[0] + v + chroma,
                    BELT_RGB[1] + v,
                    BELT_RGB[2] + v - chroma,
                ];
                for (o, v) in px.iter_mut().zip(c) {
                    *o = to_u8(v * gain);
                }
            }
        }
        Self { period, rgb }
    }

    /// Copies the belt into `frame` (width `w`), scrolled right by `offset` px.
    fn draw(&self, frame: &mut [u8], w: usize, offset: usize) {
        let p = self.period;
        let first = (p - offset % p) % p;
        for (dst, src) in frame
            .chunks_exact_mut(w * 3)
            .zip(self.rgb.chunks_exact(p * 3))
        {
            let (mut x, mut col) = (0, first);
            while x < w {
                let run = (w - x).min(p - col);
                dst[x * 3..(x + run) * 3].copy_from_slice(&src[col * 3..(col + run) * 3]);
                x += run;
                col = 0;
            }
        }
    }
}

/// Lighting gain of each frame row: 1 in the middle, `1 - strength` at the edges.
fn light_gains(rows: usize, strength: f32) -> Vec<f32> {
    (0..rows)
        .map(|i| {
            let t = (i as f32 + 0.5) / rows as f32 * 2.0 - 1.0;
            1.0 - strength * t * t
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The line.

/// One item on the belt.
#[derive(Clone, Debug)]
struct Item {
    id: u64,
    /// Sprite left edge at frame 0, px (the belt moves it `speed` px per frame).
    left0: i64,
    /// Sprite top edge, px.
    top: i64,
    /// Item centre inside the sprite, px.
    centre: (f32, f32),
    /// Largest outline radius, px.
    extent: f32,
    defects: Vec<DefectKind>,
    sprite: Sprite,
}

impl Item {
    /// Centre x at frame 0, px.
    fn x0(&self) -> f64 {
        self.left0 as f64 + f64::from(self.centre.0)
    }

    /// Centre y, px.
    fn y(&self) -> f64 {
        self.top as f64 + f64::from(self.centre.1)
    }
}

/// The synthetic conveyor line: a [`FrameSource`] that never ends.
///
/// Items enter on the left, cross the frame at the belt speed ([`SyntheticLine::belt_speed`])
/// and leave on the right; they never touch each other or the top and bottom frame edges.
/// Every frame has ground truth: a defect mask (crack, burnt spot and foreign speck pixels, and
/// for a missing piece the bitten-away area inside the original outline) and one
/// [`TruthItem`] per item with at least one footprint pixel in the frame. A truth item's `bbox`
/// encloses its footprint (pixels at least half covered by the item, plus its defect pixels, so
/// for a missing piece also the bitten-away area), clipped to the frame; `center` is the centre
/// of the original outline; `defects` lists the item's defects even when they lie outside the
/// visible part.
pub struct SyntheticLine {
    cfg: SyntheticConfig,
    p: Params,
    belt: Belt,
    /// Lighting gain per frame row.
    light: Vec<f32>,
    /// Items on the belt, oldest (rightmost) first; centre x strictly decreases along the queue.
    items: VecDeque<Item>,
    /// Random stream for placement (item looks have a stream per item id).
    placer: Rng,
    /// Centre x at frame 0 of the last spawned item.
    cursor: f64,
    next_id: u64,
    seq: u64,
}

impl SyntheticLine {
    /// Builds the line (belt texture included, a few tens of ms at 1280x720). Never fails:
    /// unusable config values are replaced, see [`SyntheticConfig`].
    pub fn new(cfg: SyntheticConfig) -> Self {
        let cfg = cfg.sanitized();
        let p = Params::new(&cfg);
        let light = light_gains(p.h, cfg.vignette);
        let belt = Belt::new(&p, cfg.seed, &light);
        let placer = Rng::new(mix64(cfg.seed, 0x91AC_E000));
        // Start with the belt already full: the first item enters at the right edge.
        let cursor = p.w as f64 + f64::from(p.max_extent + p.pitch * 0.3);
        Self {
            cfg,
            p,
            belt,
            light,
            items: VecDeque::new(),
            placer,
            cursor,
            next_id: 1,
            seq: 0,
        }
    }

    /// The config in use, after replacing unusable values.
    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    /// Belt speed in pixels per frame: how far every item moves right from one frame to the next.
    pub fn belt_speed(&self) -> u32 {
        self.p.speed
    }

    /// Spawns items up to the ones that can be visible in frame `n`, drops those that left.
    fn update_items(&mut self, n: u64) {
        let shift = n as f64 * f64::from(self.p.speed);
        let need = -f64::from(2.0 * self.p.max_extent + self.p.gap);
        while self.cursor + shift > need {
            self.spawn();
        }
        let w = self.p.w as f64;
        while let Some(front) = self.items.front() {
            if front.left0 as f64 + shift >= w {
                self.items.pop_front();
            } else {
                break;
            }
        }
    }

    fn spawn(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        let mut rng = Rng::new(mix64(self.cfg.seed, id));
        let spec = ItemSpec::generate(&mut rng, &self.p);
        let ext = spec.extent;
        let (h, gap) = (self.p.h as f32, self.p.gap);
        let (ylo, yhi) = (gap + ext, h - gap - ext);
        let step = f64::from((ext * 0.25).max(1.0));
        let mut x = self.cursor - f64::from(self.p.pitch * self.placer.range(0.3, 1.7));
        // Dart throwing: a few tries across the belt, then move further up the belt.
        let y = 'place: loop {
            for _ in 0..12 {
                let y = if ylo < yhi {
                    self.placer.range(ylo, yhi)
                } else {
                    h / 2.0
                };
                if !self.collides(x, f64::from(y), ext) {
                    break 'place y;
                }
            }
            x -= step;
        };
        self.cursor = x;
        let (fx, fy) = (x.floor(), f64::from(y).floor());
        let frac = ((x - fx) as f32, y - fy as f32);
        let half = Sprite::half(ext, &self.p);
        let top = fy as i64 - half as i64;
        let last_row = self.p.h as i64 - 1;
        let light: Vec<f32> = (0..2 * half as i64 + 2)
            .map(|sy| self.light[(top + sy).clamp(0, last_row) as usize])
            .collect();
        let (sprite, centre) = Sprite::render(&spec, frac, &self.p, &light);
        self.items.push_back(Item {
            id,
            left0: fx as i64 - half as i64,
            top,
            centre,
            extent: ext,
            defects: spec.defects,
            sprite,
        });
    }

    /// True when an item at centre `(x, y)` (frame-0 coordinates) with extent `ext` would come
    /// closer than the minimum gap to an item already on the belt.
    fn collides(&self, x: f64, y: f64, ext: f32) -> bool {
        let reach = f64::from(ext + self.p.max_extent + self.p.gap);
        for item in self.items.iter().rev() {
            let dx = item.x0() - x;
            if dx > reach {
                // Older items are further right still.
                break;
            }
            let dy = item.y() - y;
            let min = f64::from(ext + item.extent + self.p.gap);
            if dx * dx + dy * dy < min * min {
                return true;
            }
        }
        false
    }

    /// Renders frame `n` into `frame` and `mask`, returning the truth items.
    fn compose(&self, n: u64, frame: &mut [u8], mask: &mut [u8]) -> Vec<TruthItem> {
        let (w, h) = (self.p.w, self.p.h);
        let speed = u64::from(self.p.speed);
        let period = self.belt.period as u64;
        let offset = ((n % period) * (speed % period)) % period;
        self.belt.draw(frame, w, offset as usize);

        let shift = (n as i64).wrapping_mul(speed as i64);
        let mut truth = Vec::new();
        for item in &self.items {
            let sp = &item.sprite;
            let left = item.left0 + shift;
            if left >= w as i64 || left + sp.size as i64 <= 0 {
                continue;
            }
            let mut bb = (usize::MAX, usize::MAX, 0usize, 0usize); // x0, y0, x1, y1 (exclusive)
            for (sy, spans) in sp.rows.iter().enumerate() {
                let fy = item.top + sy as i64;
                if fy < 0 || fy >= h as i64 {
                    continue;
                }
                let fy = fy as usize;
                let clip = |(a, b): (usize, usize)| {
                    let x0 = (left + a as i64).max(0);
                    let x1 = (left + b as i64).min(w as i64);
                    (x0 < x1).then_some((x0 as usize, x1 as usize))
                };
                if let Some((x0, x1)) = clip(spans.foot) {
                    bb = (bb.0.min(x0), bb.1.min(fy), bb.2.max(x1), bb.3.max(fy + 1));
                }
                let Some((x0, x1)) = clip(spans.draw) else {
                    continue;
                };
                let src = &sp.px[sy * sp.size..(sy + 1) * sp.size];
                let sx0 = (x0 as i64 - left) as usize;
                let row = fy * w;
                for (k, s) in src[sx0..sx0 + (x1 - x0)].iter().enumerate() {
                    let fx = row + x0 + k;
                    if s.defect {
                        mask[fx] = 255;
                    }
                    let d = &mut frame[fx * 3..fx * 3 + 3];
                    if s.alpha == 255 {
                        d.copy_from_slice(&s.rgb);
                    } else if s.alpha > 0 || s.shadow > 0 {
                        let a = u32::from(s.alpha);
                        let keep = (255 - u32::from(s.shadow)) * (255 - a);
                        for (o, c) in d.iter_mut().zip(s.rgb) {
                            let v = u32::from(c) * a * 255 + u32::from(*o) * keep;
                            *o = ((v + 32_512) / 65_025) as u8;
                        }
                    }
                }
            }
            if bb.0 < bb.2 {
                truth.push(TruthItem {
                    item_id: item.id,
                    bbox: BBox {
                        x: bb.0 as u32,
                        y: bb.1 as u32,
                        w: (bb.2 - bb.0) as u32,
                        h: (bb.3 - bb.1) as u32,
                    },
                    center: (
                        (left as f64 + f64::from(item.centre.0)) as f32,
                        item.y() as f32,
                    ),
                    defects: item.defects.clone(),
                });
            }
        }

        truth
    }
}

impl std::fmt::Debug for SyntheticLine {
    // Short on purpose: the belt texture and the sprites are megabytes of pixels.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyntheticLine")
            .field("cfg", &self.cfg)
            .field("belt_speed", &self.p.speed)
            .field("next_seq", &self.seq)
            .field("items_on_belt", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl FrameSource for SyntheticLine {
    fn describe(&self) -> String {
        format!(
            "synthetic line {}x{} (seed {})",
            self.cfg.width, self.cfg.height, self.cfg.seed
        )
    }

    fn pacing(&self) -> Pacing {
        Pacing::Fps(self.cfg.fps)
    }

    fn is_continuous(&self) -> bool {
        true
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let n = self.seq;
        self.update_items(n);
        let mut image = RgbImage::new(self.cfg.width, self.cfg.height);
        let mut mask = GrayImage::new(self.cfg.width, self.cfg.height);
        let items = self.compose(n, &mut image, &mut mask);
        self.seq += 1;
        Ok(Some(Frame {
            seq: n,
            captured_at: SystemTime::now(),
            image,
            origin: None,
            truth: Some(GroundTruth {
                defect_mask: mask,
                items,
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn line(cfg: SyntheticConfig) -> SyntheticLine {
        SyntheticLine::new(cfg)
    }

    fn sized(width: u32, height: u32, seed: u64) -> SyntheticConfig {
        SyntheticConfig {
            width,
            height,
            seed,
            ..Default::default()
        }
    }

    fn next(src: &mut SyntheticLine) -> (Frame, GroundTruth) {
        let frame = src
            .next_frame()
            .unwrap()
            .expect("the synthetic line never ends");
        let truth = frame.truth.clone().expect("synthetic frames carry truth");
        (frame, truth)
    }

    fn fully_inside(b: &BBox, w: u32, h: u32) -> bool {
        b.x > 0 && b.y > 0 && b.x + b.w < w && b.y + b.h < h
    }

    fn in_box(b: &BBox, x: u32, y: u32) -> bool {
        x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h
    }

    #[test]
    fn same_seed_is_byte_identical_and_other_seed_differs() {
        let mut a = line(SyntheticConfig::default());
        let mut b = line(SyntheticConfig::default());
        let mut c = line(sized(1280, 720, 8));
        for _ in 0..12 {
            let (fa, ta) = next(&mut a);
            let (fb, tb) = next(&mut b);
            let (fc, _) = next(&mut c);
            assert_eq!(fa.seq, fb.seq);
            assert!(
                fa.image.as_raw() == fb.image.as_raw(),
                "frame {} differs",
                fa.seq
            );
            assert!(ta.defect_mask.as_raw() == tb.defect_mask.as_raw());
            assert_eq!(ta.items, tb.items);
            assert!(
                fa.image.as_raw() != fc.image.as_raw(),
                "seeds 7 and 8 gave one frame"
            );
        }
    }

    #[test]
    fn frame_metadata_and_source_traits() {
        let mut src = line(SyntheticConfig::default());
        assert_eq!(src.describe(), "synthetic line 1280x720 (seed 7)");
        assert_eq!(src.pacing(), Pacing::Fps(30.0));
        assert!(src.is_continuous());
        assert!(src.take_warnings().is_empty());
        // 1280 px in 3 s at 30 fps.
        assert_eq!(src.belt_speed(), 14);
        for seq in 0..3 {
            let frame = src.next_frame().unwrap().unwrap();
            assert_eq!(frame.seq, seq);
            assert!(frame.origin.is_none());
            assert!(frame.truth.is_some());
        }
    }

    #[test]
    fn frame_size_is_honoured_even_for_odd_sizes() {
        for (w, h) in [(640, 480), (333, 97), (64, 48), (48, 64), (1, 1)] {
            let mut src = line(sized(w, h, 3));
            for _ in 0..20 {
                let (frame, truth) = next(&mut src);
                assert_eq!(frame.image.dimensions(), (w, h));
                assert_eq!(truth.defect_mask.dimensions(), (w, h));
                for item in &truth.items {
                    let b = item.bbox;
                    assert!(
                        b.w > 0 && b.h > 0 && b.x + b.w <= w && b.y + b.h <= h,
                        "{b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn unusable_config_values_are_replaced() {
        let cfg = SyntheticConfig {
            width: 0,
            height: 0,
            fps: f64::NAN,
            defect_rate: 7.0,
            second_defect_rate: -1.0,
            min_diameter: -5.0,
            max_diameter: f32::INFINITY,
            belt_speed: Some(0),
            crossing_time: 0.0,
            item_pitch: 0.0,
            min_gap: f32::NAN,
            vignette: 3.0,
            ..Default::default()
        };
        let mut src = line(cfg);
        let c = src.config().clone();
        assert_eq!((c.width, c.height), (1, 1));
        assert_eq!(c.fps, 30.0);
        assert_eq!(c.defect_rate, 1.0);
        assert_eq!(c.second_defect_rate, 0.0);
        assert!(c.min_diameter > 0.0 && c.min_diameter <= c.max_diameter);
        assert_eq!(src.belt_speed(), 1);
        for _ in 0..5 {
            let (frame, _) = next(&mut src);
            assert_eq!(frame.image.dimensions(), (1, 1));
        }
    }

    #[test]
    fn config_deserialises_with_defaults() {
        let cfg: SyntheticConfig =
            serde_json::from_str(r#"{"seed": 3, "defect_rate": 0.5}"#).unwrap();
        assert_eq!(cfg.seed, 3);
        assert_eq!(cfg.defect_rate, 0.5);
        assert_eq!(cfg.width, 1280);
        assert_eq!(cfg.belt_speed, None);
        let back: SyntheticConfig =
            serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back.item_pitch, cfg.item_pitch);
    }

    #[test]
    fn several_items_per_frame() {
        // 640x360 has the geometry of 1280x720 at a quarter of the cost: a long run there. A 4:3
        // frame is narrower for the same item size, so it holds fewer.
        let runs = [
            (640, 360, 400, 5.0..=7.5),
            (1280, 720, 40, 4.0..=9.0),
            (640, 480, 60, 3.0..=7.0),
        ];
        for (w, h, frames, want) in runs {
            let mut src = line(sized(w, h, 11));
            let mut total = 0;
            for _ in 0..frames {
                let (_, truth) = next(&mut src);
                assert!(truth.items.len() >= 2, "only {} items", truth.items.len());
                total += truth.items.len();
            }
            let mean = total as f64 / f64::from(frames);
            assert!(want.contains(&mean), "{w}x{h}: {mean} items per frame");
        }
    }

    #[test]
    fn items_keep_their_id_and_move_with_the_belt() {
        let mut src = line(SyntheticConfig::default());
        let speed = src.belt_speed() as f32;
        let (_, mut prev) = next(&mut src);
        let mut checked = 0;
        for _ in 0..40 {
            let (_, truth) = next(&mut src);
            let before: HashMap<u64, &TruthItem> =
                prev.items.iter().map(|i| (i.item_id, i)).collect();
            for item in &truth.items {
                if let Some(old) = before.get(&item.item_id) {
                    assert!((item.center.0 - old.center.0 - speed).abs() < 1e-3);
                    assert_eq!(item.center.1, old.center.1);
                    assert_eq!(item.defects, old.defects);
                    if fully_inside(&item.bbox, 1280, 720) && fully_inside(&old.bbox, 1280, 720) {
                        assert_eq!(item.bbox.x - old.bbox.x, speed as u32);
                        assert_eq!(
                            (item.bbox.y, item.bbox.w, item.bbox.h),
                            (old.bbox.y, old.bbox.w, old.bbox.h)
                        );
                    }
                    checked += 1;
                }
            }
            prev = truth;
        }
        assert!(checked > 200, "{checked}");
    }

    #[test]
    fn items_never_touch_and_stay_on_the_belt() {
        let fast = SyntheticConfig {
            belt_speed: Some(25),
            ..sized(640, 360, 4)
        };
        for (cfg, frames) in [(SyntheticConfig::default(), 40), (fast, 150)] {
            let height = cfg.height as f32;
            let mut src = line(cfg);
            let mut sprites_checked = HashSet::new();
            for _ in 0..frames {
                next(&mut src);
                let (items, gap) = (&src.items, src.p.gap);
                for (k, a) in items.iter().enumerate() {
                    if sprites_checked.insert(a.id) {
                        // The extent really bounds the item's pixels.
                        let sp = &a.sprite;
                        for (idx, px) in sp.px.iter().enumerate() {
                            if px.alpha > 0 {
                                let dx = (idx % sp.size) as f32 + 0.5 - a.centre.0;
                                let dy = (idx / sp.size) as f32 + 0.5 - a.centre.1;
                                assert!((dx * dx + dy * dy).sqrt() <= a.extent + 0.01);
                            }
                        }
                    }
                    let y = a.y() as f32;
                    assert!(y - a.extent >= gap - 0.01 && y + a.extent <= height - gap + 0.01);
                    for b in items.iter().skip(k + 1) {
                        let d = (a.x0() - b.x0()).hypot(a.y() - b.y()) as f32;
                        assert!(d >= a.extent + b.extent + gap - 0.01, "{} {}", a.id, b.id);
                    }
                }
            }
            assert!(sprites_checked.len() > 10, "{}", sprites_checked.len());
        }
    }

    #[test]
    fn defective_fraction_matches_the_rate() {
        // Small frames and a fast belt: many distinct items in few cheap frames.
        let cfg = SyntheticConfig {
            belt_speed: Some(60),
            ..sized(320, 180, 5)
        };
        let rate = cfg.defect_rate;
        let mut src = line(cfg);
        let mut seen: HashMap<u64, Vec<DefectKind>> = HashMap::new();
        while seen.len() < 500 {
            let (_, truth) = next(&mut src);
            for item in truth.items {
                seen.insert(item.item_id, item.defects);
            }
        }
        let defective = seen.values().filter(|d| !d.is_empty()).count();
        let frac = defective as f64 / seen.len() as f64;
        // 3 standard deviations of a binomial with n = 500, p = 0.25 is 0.058.
        assert!((frac - rate).abs() < 0.06, "defective fraction {frac}");
        let mut kinds: HashMap<DefectKind, usize> = HashMap::new();
        for d in seen.values().flatten() {
            *kinds.entry(*d).or_default() += 1;
        }
        for kind in DefectKind::ALL {
            assert!(
                kinds.get(&kind).copied().unwrap_or(0) >= 15,
                "{kind:?}: {kinds:?}"
            );
        }
        assert!(
            seen.values().any(|d| d.len() == 2),
            "no item with two defects"
        );
        assert!(
            seen.values()
                .all(|d| d.len() <= 2 && (d.len() < 2 || d[0] != d[1]))
        );
    }

    #[test]
    fn extreme_defect_rates() {
        for (rate, want_all) in [(0.0, false), (1.0, true)] {
            let cfg = SyntheticConfig {
                defect_rate: rate,
                ..sized(320, 180, 2)
            };
            let mut src = line(cfg);
            for _ in 0..40 {
                let (_, truth) = next(&mut src);
                for item in &truth.items {
                    assert_eq!(item.is_defective(), want_all);
                }
                if !want_all {
                    assert!(truth.defect_mask.as_raw().iter().all(|&v| v == 0));
                }
            }
        }
    }

    #[test]
    fn defect_mask_matches_the_items() {
        let cfg = SyntheticConfig {
            defect_rate: 0.5,
            belt_speed: Some(16),
            ..sized(640, 360, 9)
        };
        let mut src = line(cfg);
        let (w, h) = (640, 360);
        let mut defective_checked = 0;
        let mut kinds_seen: HashSet<DefectKind> = HashSet::new();
        for _ in 0..60 {
            let (_, truth) = next(&mut src);
            let mask = &truth.defect_mask;
            for (x, y, v) in mask.enumerate_pixels() {
                assert!(v.0[0] == 0 || v.0[0] == 255);
                if v.0[0] == 255 {
                    assert!(
                        truth
                            .items
                            .iter()
                            .any(|i| i.is_defective() && in_box(&i.bbox, x, y)),
                        "defect pixel ({x}, {y}) outside every defective item"
                    );
                }
            }
            for item in &truth.items {
                let b = item.bbox;
                let count = (b.y..b.y + b.h)
                    .flat_map(|y| (b.x..b.x + b.w).map(move |x| (x, y)))
                    .filter(|&(x, y)| mask.get_pixel(x, y).0[0] == 255)
                    .count();
                if item.is_defective() && fully_inside(&b, w, h) {
                    // Every defect is marked; the smallest, a foreign speck, is 3-5 px across
                    // at this frame height.
                    assert!(
                        count >= 5,
                        "item {} {:?}: {count} defect pixels",
                        item.item_id,
                        item.defects
                    );
                    defective_checked += 1;
                    kinds_seen.extend(item.defects.iter().copied());
                }
                if !item.is_defective() {
                    // Mask pixels in a good item's box can only belong to a neighbour.
                    let others: Vec<&TruthItem> =
                        truth.items.iter().filter(|o| o.is_defective()).collect();
                    for y in b.y..b.y + b.h {
                        for x in b.x..b.x + b.w {
                            if mask.get_pixel(x, y).0[0] == 255 {
                                assert!(others.iter().any(|o| in_box(&o.bbox, x, y)));
                            }
                        }
                    }
                }
            }
        }
        assert!(defective_checked >= 20, "{defective_checked}");
        assert_eq!(kinds_seen.len(), 4, "{kinds_seen:?}");
    }

    #[test]
    fn items_stand_out_from_the_belt() {
        let mut src = line(SyntheticConfig::default());
        let (mut belt_sum, mut belt_n) = ([0f64; 3], 0f64);
        let (mut item_dist, mut item_n) = (0f64, 0f64);
        for _ in 0..10 {
            let (frame, truth) = next(&mut src);
            let inside = |x: u32, y: u32| truth.items.iter().any(|i| in_box(&i.bbox, x, y));
            for (x, y, p) in frame.image.enumerate_pixels() {
                if x % 4 == 0 && y % 4 == 0 && !inside(x, y) {
                    for (sum, v) in belt_sum.iter_mut().zip(p.0) {
                        *sum += f64::from(v);
                    }
                    belt_n += 1.0;
                }
            }
            let belt = belt_sum.map(|s| s / belt_n.max(1.0));
            for item in truth
                .items
                .iter()
                .filter(|i| fully_inside(&i.bbox, 1280, 720))
            {
                let b = item.bbox;
                // Central 40 % of the box.
                for y in b.y + b.h * 3 / 10..b.y + b.h * 7 / 10 {
                    for x in b.x + b.w * 3 / 10..b.x + b.w * 7 / 10 {
                        let p = frame.image.get_pixel(x, y).0;
                        let d2: f64 = (0..3).map(|c| (f64::from(p[c]) - belt[c]).powi(2)).sum();
                        item_dist += d2.sqrt();
                        item_n += 1.0;
                    }
                }
            }
        }
        let belt = belt_sum.map(|s| s / belt_n);
        for (c, want) in belt.iter().zip(BELT_RGB) {
            assert!((c - f64::from(want)).abs() < 8.0, "belt colour {belt:?}");
        }
        let mean = item_dist / item_n;
        assert!(mean > 100.0, "items only {mean} from the belt colour");
    }

    /// Time per frame at 1280x720: `cargo test --lib capture::synthetic -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, run by hand"]
    fn time_per_frame() {
        let t0 = std::time::Instant::now();
        let mut src = line(SyntheticConfig::default());
        let setup = t0.elapsed();
        next(&mut src);
        let frames = 300;
        let t1 = std::time::Instant::now();
        for _ in 0..frames {
            next(&mut src);
        }
        let per = t1.elapsed() / frames;
        println!("new() {setup:?}; {per:?} per 1280x720 frame (mean of {frames})");
        let p = Params::new(&SyntheticConfig::default());
        let mut rng = Rng::new(1);
        let t2 = std::time::Instant::now();
        for _ in 0..50 {
            let spec = ItemSpec::generate(&mut rng, &p);
            std::hint::black_box(Sprite::render(&spec, (0.3, 0.6), &p, &[]));
        }
        println!("{:?} per item sprite (mean of 50)", t2.elapsed() / 50);
    }

    #[test]
    #[ignore = "writes PNGs to the temp dir for a visual check"]
    fn dump_frames() {
        let mut src = line(SyntheticConfig {
            defect_rate: 0.6,
            ..Default::default()
        });
        for _ in 0..45 {
            next(&mut src);
        }
        let (frame, truth) = next(&mut src);
        let dir = std::env::temp_dir();
        frame.image.save(dir.join("foodqc_synth.png")).unwrap();
        truth
            .defect_mask
            .save(dir.join("foodqc_synth_mask.png"))
            .unwrap();
        for item in &truth.items {
            println!("{item:?}");
        }
    }
}
