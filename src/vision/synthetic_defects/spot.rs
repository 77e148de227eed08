//! Spots and foreign matter: a small cluster of round, slightly oval spots with soft edges,
//! dark (mould, burnt crumbs, dirt) or of a colour off the item's.

use super::item::Item;
use super::layer::{Layer, compose, smoothstep, turn_colour};
use super::rng::Rng;
use super::{DefectKind, SyntheticDefect};

/// Spot diameter as a fraction of the item diameter (at least 2.5 px).
const SIZE: (f32, f32) = (0.01, 0.04);
/// Largest number of spots in a cluster.
const MAX_SPOTS: usize = 5;
/// Cluster radius as a fraction of the item diameter.
const CLUSTER: f32 = 0.08;
/// Chance of dark spots (else grey or off-colour).
const DARK: f32 = 0.6;

/// One spot: centre, semi-axes and the direction of the long one.
struct Spot {
    x: f32,
    y: f32,
    a: f32,
    b: f32,
    dir: (f32, f32),
}

/// A cluster of spots on `item`.
pub(super) fn spots(item: &Item, rng: &mut Rng) -> SyntheticDefect {
    let d = item.diameter;
    let count = 1 + rng.below(MAX_SPOTS);
    let spread = CLUSTER * d * if count == 1 { 0.0 } else { 1.0 };
    let (cx, cy) = item.sample_inside(rng, spread + SIZE.1 * d);
    let mut spots = Vec::with_capacity(count);
    for _ in 0..count {
        let size = (rng.range(SIZE.0, SIZE.1) * d).max(2.5);
        let (ox, oy) = rng.direction();
        let dist = spread * rng.unit().sqrt();
        let (x, y) = (cx + ox * dist, cy + oy * dist);
        let round = rng.range(0.7, 1.0);
        spots.push(Spot {
            x,
            y,
            a: 0.5 * size,
            b: 0.5 * size * round,
            dir: rng.direction(),
        });
    }
    let reach = spread + SIZE.1 * d + 4.0;
    let mut layer = Layer::new(item, cx - reach, cy - reach, cx + reach, cy + reach);
    let peak = rng.range(0.8, 1.0);
    for s in &spots {
        let soft = (0.35 * s.b).max(0.7);
        let e = s.a + soft;
        for y in (s.y - e).max(0.0) as u32..(s.y + e + 1.0).max(0.0) as u32 {
            for x in (s.x - e).max(0.0) as u32..(s.x + e + 1.0).max(0.0) as u32 {
                let (dx, dy) = (x as f32 + 0.5 - s.x, y as f32 + 0.5 - s.y);
                let (u, v) = (dx * s.dir.0 + dy * s.dir.1, -dx * s.dir.1 + dy * s.dir.0);
                // Approximate distance outside the ellipse, in pixels.
                let rho = ((u / s.a).powi(2) + (v / s.b).powi(2)).sqrt();
                let out = (rho - 1.0) * s.b;
                let a = peak * (1.0 - smoothstep((out + soft * 0.5) / soft));
                if a > 0.0 {
                    layer.raise(x, y, a);
                }
            }
        }
    }
    let colour = if rng.chance(DARK) {
        // Darker than the item's own dark parts: burnt specks, dirt, dark mould.
        item.shadow.map(|c| c * rng.range(0.3, 0.8))
    } else if rng.chance(0.6) {
        // Greyish, lighter or darker by 2-4 spreads: grit, white or grey mould.
        let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let gain = 1.0 + sign * rng.range(2.0, 4.0) * item.spread / item.luma.max(1.0);
        turn_colour(item.mean, 0.0, rng.range(0.0, 0.3), gain.max(0.2))
    } else {
        // The item's colour with its hue turned well away, a little darker: foreign matter.
        let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let gain = 1.0 - rng.range(1.0, 2.5) * item.spread / item.luma.max(1.0);
        turn_colour(
            item.mean,
            sign * rng.range(0.8, 2.0),
            rng.range(0.5, 1.0),
            gain.max(0.3),
        )
    };
    compose(item, &layer, DefectKind::Spot, |_, _, _| colour)
}
