//! Cracks and scratches: a jagged random walk across part of the item, tapered at its ends,
//! darker (or lighter) than the item under it by a few of the item's own luma spreads, with
//! soft sides.

use std::f32::consts::PI;

use super::item::{Item, luma};
use super::layer::{Layer, clamp_rgb, compose, smoothstep};
use super::rng::{Rng, value_noise};
use super::{DefectKind, SyntheticDefect};

/// Length of the main line as a fraction of the item diameter.
const LENGTH: (f32, f32) = (0.2, 0.7);
/// Widest width as a fraction of the item diameter (at least one pixel).
const WIDTH: (f32, f32) = (0.01, 0.04);
/// Step of the walk as a fraction of the diameter (at least 1.5 px).
const STEP: f32 = 0.015;
/// Contrast at the crack's core, in item luma spreads.
const CONTRAST: (f32, f32) = (1.2, 3.0);
/// Chance of a crack being darker than the item (else lighter: a scratch through a skin).
const DARK: f32 = 0.75;
/// Chance of a side branch.
const BRANCH: f32 = 0.35;

/// A point of a line with the line's full width there.
#[derive(Clone, Copy)]
struct Node {
    x: f32,
    y: f32,
    width: f32,
}

/// A random walk of `len` pixels, full `width` at its start and tapering to its end, from `(x, y)` heading `heading`, turning by up to `jag`
/// radians (s.d.) per step and away from the outline: it stops where it cannot go on inside.
#[allow(clippy::too_many_arguments)]
fn walk(
    item: &Item,
    rng: &mut Rng,
    (x, y): (f32, f32),
    mut heading: f32,
    len: f32,
    step: f32,
    width: f32,
    jag: f32,
) -> Vec<Node> {
    let n = (len / step).ceil().max(2.0) as usize;
    let taper = |i: usize| {
        let t = i as f32 / n as f32;
        width * (0.3 + 0.7 * (1.0 - t * t).sqrt())
    };
    let mut nodes = vec![Node {
        x,
        y,
        width: taper(0),
    }];
    let (mut x, mut y) = (x, y);
    let mut drift = rng.normal() * 0.1;
    // The width wanders (a crack opens and closes) and the drawn line is rougher than the
    // path walked.
    let mut wobble = 1.0f32;
    for i in 1..=n {
        wobble = (0.7 * wobble + 0.3 * rng.range(0.4, 1.5)).clamp(0.5, 1.3);
        drift = 0.8 * drift + 0.2 * rng.normal() * jag;
        heading += drift + rng.normal() * jag;
        // Turn away from the outline if the next step would leave the item.
        let mut next = None;
        for t in 0..12 {
            let turn = (t / 2 + t % 2) as f32 * if t % 2 == 0 { 1.0 } else { -1.0 } * PI / 8.0;
            let h = heading + turn;
            let (nx, ny) = (x + step * h.cos(), y + step * h.sin());
            let (ix, iy) = (nx.floor() as i64, ny.floor() as i64);
            if item.is_item(ix, iy) && item.depth(ix as u32, iy as u32) >= 0.5 * width {
                heading = h;
                next = Some((nx, ny));
                break;
            }
        }
        let Some((nx, ny)) = next else { break };
        (x, y) = (nx, ny);
        let off = rng.range(-0.25, 0.25) * width;
        nodes.push(Node {
            x: x - off * heading.sin(),
            y: y + off * heading.cos(),
            width: taper(i) * wobble,
        });
    }
    nodes
}

/// Raise `layer` to the opacity of the polyline `nodes`: full along its middle, falling to
/// zero `soft` pixels beyond its half width, with ragged sides (noise `rough.0` of cell
/// `rough.1` pixels).
fn draw(layer: &mut Layer, nodes: &[Node], soft: f32, rough: (u64, f32)) {
    for s in nodes.windows(2) {
        let (a, b) = (s[0], s[1]);
        let reach = a.width.max(b.width) * 0.5 + soft + 1.0;
        let (x0, x1) = (a.x.min(b.x) - reach, a.x.max(b.x) + reach);
        let (y0, y1) = (a.y.min(b.y) - reach, a.y.max(b.y) + reach);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        for py in y0.max(0.0) as u32..y1.max(0.0) as u32 {
            for px in x0.max(0.0) as u32..x1.max(0.0) as u32 {
                let (qx, qy) = (px as f32 + 0.5 - a.x, py as f32 + 0.5 - a.y);
                let t = ((qx * dx + qy * dy) / len2).clamp(0.0, 1.0);
                let half = 0.5 * (a.width + t * (b.width - a.width));
                // Ragged sides: the distance wobbles by up to a third of the half width.
                let (fx, fy) = (px as f32, py as f32);
                let dist = (qx - t * dx).hypot(qy - t * dy)
                    + 0.35 * half * value_noise(rough.0, fx, fy, rough.1);
                // Darkest along the middle, shading off to the sides.
                let core = 0.35 * half;
                let v = 1.0 - smoothstep((dist - core) / (half - core + soft));
                if v > 0.0 {
                    layer.raise(px, py, v);
                }
            }
        }
    }
}

/// A crack (or scratch) on `item`.
pub(super) fn crack(item: &Item, rng: &mut Rng) -> SyntheticDefect {
    let d = item.diameter;
    let length = rng.range(LENGTH.0, LENGTH.1) * d;
    let width = (rng.range(WIDTH.0, WIDTH.1) * d).max(1.0);
    let step = (STEP * d).max(1.5);
    let soft = (0.3 * width).max(0.6);
    let jag = rng.range(0.12, 0.4);
    // Start well inside and walk out from there both ways, so the crack's middle is inside.
    let start = item.sample_inside(rng, 0.2 * d);
    let heading = rng.range(0.0, 2.0 * PI);
    let first = walk(item, rng, start, heading, 0.5 * length, step, width, jag);
    let second = walk(
        item,
        rng,
        start,
        heading + PI,
        0.5 * length,
        step,
        width,
        jag,
    );
    // One line: the second half reversed, then the first: widest in the middle, tapered at
    // both ends.
    let mut nodes: Vec<Node> = second.into_iter().rev().collect();
    nodes.pop();
    nodes.extend(first);
    let mut branch = Vec::new();
    if rng.chance(BRANCH) && nodes.len() > 4 {
        let at = nodes[nodes.len() / 4 + rng.below(nodes.len() / 2)];
        let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let h = heading + side * rng.range(0.4, 1.1);
        let len = rng.range(0.15, 0.35) * length;
        branch = walk(item, rng, (at.x, at.y), h, len, step, 0.6 * at.width, jag);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for n in nodes.iter().chain(&branch) {
        (x0, y0, x1, y1) = (x0.min(n.x), y0.min(n.y), x1.max(n.x), y1.max(n.y));
    }
    let pad = width + soft + 2.0;
    let mut layer = Layer::new(item, x0 - pad, y0 - pad, x1 + pad, y1 + pad);
    let rough = (rng.next_u64(), (0.8 * width).max(1.5));
    draw(&mut layer, &nodes, soft, rough);
    draw(&mut layer, &branch, soft, rough);
    let contrast = rng.range(CONTRAST.0, CONTRAST.1) * item.spread;
    if rng.chance(DARK) {
        // Into shadow: each pixel darkened by the contrast (never below a fifth of its
        // brightness), coloured half by itself and half by the item's own dark parts.
        let shade = item.shadow;
        let shade_luma = luma(shade).max(1.0);
        compose(item, &layer, DefectKind::Crack, |_, _, p| {
            let l = luma(p).max(1.0);
            let dark = (l - contrast).max(0.2 * l);
            clamp_rgb(std::array::from_fn(|c| {
                0.5 * dark * (p[c] / l + shade[c] / shade_luma)
            }))
        })
    } else {
        let k = (contrast / (255.0 - item.luma).max(1.0)).min(0.75);
        compose(item, &layer, DefectKind::Crack, |_, _, p| {
            p.map(|v| v + (255.0 - v) * k)
        })
    }
}
