//! What one item looks like: its outline, colours, surface dots and defects, drawn from the
//! item's own random stream.

use super::super::DefectKind;
use super::config::Params;
use super::look::{ECC_MAX, EDGE, FOREIGN_RGB, HARM_MAX, SUGAR_RGB};
use super::noise::Rng;
use super::shape::{Blob, Crack, Dot, Shape};

/// Everything needed to render one item, drawn from the item's own random stream.
#[derive(Clone, Debug)]
pub(super) struct ItemSpec {
    pub(super) shape: Shape,
    /// Largest outline radius including the antialiased edge, px.
    pub(super) extent: f32,
    pub(super) centre_rgb: [f32; 3],
    pub(super) rim_rgb: [f32; 3],
    pub(super) tex_seed: u32,
    pub(super) dots: Vec<Dot>,
    /// Missing piece: the bitten-away disc, px from the item centre.
    pub(super) bite: Option<Blob>,
    pub(super) burnt: Option<Blob>,
    /// Foreign speck: shape, colour, and whether it is metallic (gets a glint).
    pub(super) foreign: Option<(Blob, [f32; 3], bool)>,
    pub(super) crack: Option<Crack>,
    pub(super) defects: Vec<DefectKind>,
}

impl ItemSpec {
    /// Draws an item for frame parameters `p`; the order of the draws from `rng` is part of
    /// the line's determinism (same seed, same pixels).
    pub(super) fn generate(rng: &mut Rng, p: &Params) -> Self {
        let s = p.scale;
        let d = rng.range(p.d_min, p.d_max);
        let (shape, extent) = random_outline(rng, d);
        let (centre_rgb, rim_rgb) = random_colours(rng);
        let tex_seed = rng.next_u64() as u32;
        let dots = random_dots(rng, shape.r, s, centre_rgb);
        let defects = random_defects(rng, p);
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
        spec.place_defects(rng, &defects, d, s);
        spec
    }

    /// Draws the geometry of each defect in `defects` (item diameter `d`, frame scale `s`).
    fn place_defects(&mut self, rng: &mut Rng, defects: &[DefectKind], d: f32, s: f32) {
        // The bite first: the other defects are placed away from it.
        if defects.contains(&DefectKind::MissingPiece) {
            let a = rng.angle();
            let edge = self.shape.radius_towards(a);
            let depth = rng.range(0.12, 0.2) * d;
            let br = rng.range(0.22, 0.32) * d;
            let cd = edge + br - depth;
            self.bite = Some(Blob::random(
                rng,
                a.cos() * cd,
                a.sin() * cd,
                br,
                [5, 9],
                0.05,
            ));
        }
        for &kind in defects {
            match kind {
                DefectKind::Burnt => {
                    let radius = rng.range(0.15, 0.3) * d / 2.0;
                    let (x, y) = self.free_spot(rng, 0.55, radius);
                    self.burnt = Some(Blob::random(rng, x, y, radius, [2, 3], 0.14));
                }
                DefectKind::ForeignMatter => {
                    let radius = (rng.range(6.0, 10.0) * s).max(2.5) / 2.0;
                    let (x, y) = self.free_spot(rng, 0.6, radius);
                    let kind = rng.index(FOREIGN_RGB.len());
                    let blob = Blob::random(rng, x, y, radius, [2, 3], 0.2);
                    self.foreign = Some((blob, FOREIGN_RGB[kind], kind == 2));
                }
                DefectKind::Crack => self.crack = Some(Crack::random(rng, &self.shape, d, s)),
                DefectKind::MissingPiece => {}
            }
        }
    }

    /// A random point within `within` radii of the centre, clear of the bite if there is one.
    pub(super) fn free_spot(&self, rng: &mut Rng, within: f32, radius: f32) -> (f32, f32) {
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

/// The outline of an item of nominal diameter `d`, and its extent (largest outline radius
/// including the antialiased edge), px.
fn random_outline(rng: &mut Rng, d: f32) -> (Shape, f32) {
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
    (shape, extent)
}

/// Centre and rim colour: brightness +-10 %, a little hue shift, a random degree of baking.
fn random_colours(rng: &mut Rng) -> ([f32; 3], [f32; 3]) {
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
    (centre_rgb, rim_rgb)
}

/// Sugar crystals and grains on an item of radius `r` (frame scale `s`).
fn random_dots(rng: &mut Rng, r: f32, s: f32, centre_rgb: [f32; 3]) -> Vec<Dot> {
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
    dots
}

/// The item's defects: none, one, or (at the second-defect rate) two different ones.
fn random_defects(rng: &mut Rng, p: &Params) -> Vec<DefectKind> {
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
    defects
}
