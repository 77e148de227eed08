//! Item geometry: the outline, irregular blobs (burnt spot, foreign speck, bite), cracks and
//! surface dots.

use std::f32::consts::PI;

use super::math::harmonics;
use super::noise::Rng;

/// Outline of an item: a rotated, slightly elliptical disc with low-frequency radius wobble.
#[derive(Clone, Debug)]
pub(super) struct Shape {
    /// Mean radius, px.
    pub(super) r: f32,
    pub(super) inv_a: f32,
    pub(super) inv_b: f32,
    pub(super) cos_rot: f32,
    pub(super) sin_rot: f32,
    /// `(k, amplitude, cos phase, sin phase)` of the radius harmonics.
    pub(super) harm: [(u32, f32, f32, f32); 5],
}

impl Shape {
    /// Signed distance to the outline in px (positive inside) and the normalised radius
    /// (0 at the centre, 1 on the outline) at `(dx, dy)` from the centre.
    #[inline]
    pub(super) fn eval(&self, dx: f32, dy: f32) -> (f32, f32) {
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
    pub(super) fn radius_towards(&self, angle: f32) -> f32 {
        let (dx, dy) = (angle.cos() * self.r, angle.sin() * self.r);
        self.r + self.eval(dx, dy).0
    }
}

/// A roughly circular region with a slightly irregular border (burnt spot, foreign speck, bite).
#[derive(Clone, Debug)]
pub(super) struct Blob {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) radius: f32,
    pub(super) harm: [(u32, f32, f32, f32); 2],
}

impl Blob {
    pub(super) fn random(
        rng: &mut Rng,
        x: f32,
        y: f32,
        radius: f32,
        orders: [u32; 2],
        amp: f32,
    ) -> Self {
        let mut harm = [(0, 0.0, 1.0, 0.0); 2];
        for (h, k) in harm.iter_mut().zip(orders) {
            let (pc, ps) = rng.phase();
            *h = (k, rng.range(0.3, 1.0) * amp, pc, ps);
        }
        Self { x, y, radius, harm }
    }

    /// Distance from the blob centre and the blob's (irregular) radius in that direction, px.
    #[inline]
    pub(super) fn dist_radius(&self, dx: f32, dy: f32) -> (f32, f32) {
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
    pub(super) fn sdf(&self, dx: f32, dy: f32) -> f32 {
        let (d, r) = self.dist_radius(dx, dy);
        d - r
    }

    /// Largest extent from the blob centre, px.
    pub(super) fn reach(&self) -> f32 {
        self.radius * (1.0 + self.harm.iter().map(|h| h.1).sum::<f32>())
    }
}

/// A crack: jagged polylines of `(x, y, half width)` vertices, px from the item centre.
#[derive(Clone, Debug)]
pub(super) struct Crack {
    pub(super) lines: Vec<Vec<(f32, f32, f32)>>,
}

impl Crack {
    pub(super) fn random(rng: &mut Rng, shape: &Shape, d: f32, scale: f32) -> Self {
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
pub(super) fn jagged_line(
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
pub(super) struct Dot {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) radius: f32,
    pub(super) rgb: [f32; 3],
    pub(super) strength: f32,
}
