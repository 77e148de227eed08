//! Sprites: each item rendered once, when it is spawned, with its coverage, cast shadow and
//! defect mask.

use super::config::Params;
use super::look::{BURNT_HALO_RGB, BURNT_RGB, CRACK_RGB, EDGE, SHADOW_DEPTH};
use super::math::{lerp, lerp3, segment_distance, smoothstep, to_u8};
use super::noise::{hash01, value_noise};
use super::spec::ItemSpec;

/// One pre-rendered sprite pixel.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Px {
    pub(super) rgb: [u8; 3],
    /// Item coverage, 0..=255.
    pub(super) alpha: u8,
    /// Belt darkening by the cast shadow, 0..=255.
    pub(super) shadow: u8,
    /// Part of a defect (ground truth).
    pub(super) defect: bool,
}

/// Column ranges `[start, end)` of one sprite row; empty when `start >= end`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct RowSpans {
    /// Pixels that change the frame or the mask.
    pub(super) draw: (usize, usize),
    /// Item footprint: coverage >= 50 % or defect.
    pub(super) foot: (usize, usize),
}

/// An item rendered once into a square `size x size` buffer.
#[derive(Clone, Debug)]
pub(super) struct Sprite {
    pub(super) size: usize,
    pub(super) px: Vec<Px>,
    pub(super) rows: Vec<RowSpans>,
}

impl Sprite {
    /// Largest distance from the item centre that the item or its shadow can touch, px.
    pub(super) fn reach(extent: f32, p: &Params) -> f32 {
        extent + p.shadow_offset * std::f32::consts::SQRT_2 + p.shadow_blur + 1.0
    }

    /// Sprite side `2 * half + 2` for an item of the given extent: the returned `half`.
    pub(super) fn half(extent: f32, p: &Params) -> usize {
        Self::reach(extent, p).ceil() as usize + 1
    }

    /// Renders `spec` with the item centre at `(half + frac.0, half + frac.1)` in the sprite;
    /// `light` is the lighting gain of each sprite row (`2 * half + 2` of them).
    pub(super) fn render(
        spec: &ItemSpec,
        frac: (f32, f32),
        p: &Params,
        light: &[f32],
    ) -> (Self, (f32, f32)) {
        let s = p.scale;
        let half = Self::half(spec.extent, p);
        let size = 2 * half + 2;
        let grid = Grid {
            size,
            cx: half as f32 + frac.0,
            cy: half as f32 + frac.1,
        };
        let mut layers = Layers::base(spec, p, grid, Self::reach(spec.extent, p));
        layers.dots(spec, grid);
        layers.burnt(spec, grid);
        layers.crack(spec, grid, s);
        layers.foreign(spec, grid);
        (layers.quantise(size, light), (grid.cx, grid.cy))
    }
}

/// Size of the sprite buffer and the item centre in it, px.
#[derive(Clone, Copy, Debug)]
struct Grid {
    size: usize,
    cx: f32,
    cy: f32,
}

impl Grid {
    /// Visits the sprite pixels within `rad` of the item-relative point `(x, y)`.
    fn each_near(&self, x: f32, y: f32, rad: f32, f: &mut dyn FnMut(usize, f32, f32)) {
        let (size, cx, cy) = (self.size, self.cx, self.cy);
        let (px, py) = (x + cx, y + cy);
        let lo = |v: f32| (v - rad - 1.0).floor().max(0.0) as usize;
        let hi = |v: f32| ((v + rad + 1.0).ceil().max(0.0) as usize).min(size);
        for j in lo(py)..hi(py) {
            for i in lo(px)..hi(px) {
                f(j * size + i, i as f32 + 0.5 - cx, j as f32 + 0.5 - cy);
            }
        }
    }
}

/// The sprite being painted, in floating point, one value per pixel and layer.
struct Layers {
    rgb: Vec<[f32; 3]>,
    alpha: Vec<f32>,
    shadow: Vec<f32>,
    defect: Vec<bool>,
}

impl Layers {
    /// Base layers: coverage, cast shadow, baked colour with rim, bumps and speckle, for the
    /// pixels within `reach` of the centre.
    fn base(spec: &ItemSpec, p: &Params, grid: Grid, reach: f32) -> Self {
        let s = p.scale;
        let (off, blur) = (p.shadow_offset, p.shadow_blur);
        let Grid { size, cx, cy } = grid;
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
        Self {
            rgb,
            alpha,
            shadow,
            defect,
        }
    }

    /// Sugar crystals and grains.
    fn dots(&mut self, spec: &ItemSpec, grid: Grid) {
        let (rgb, alpha) = (&mut self.rgb, &self.alpha);
        for dot in &spec.dots {
            grid.each_near(dot.x, dot.y, dot.radius, &mut |idx, dx, dy| {
                let (ex, ey) = (dx - dot.x, dy - dot.y);
                let w = (dot.radius + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0);
                if w > 0.0 && alpha[idx] > 0.0 {
                    rgb[idx] = lerp3(rgb[idx], dot.rgb, w * dot.strength);
                }
            });
        }
    }

    /// Burnt spot: soft-edged, charred, darkest in the middle.
    fn burnt(&mut self, spec: &ItemSpec, grid: Grid) {
        let Some(b) = &spec.burnt else {
            return;
        };
        let (rgb, alpha, defect) = (&mut self.rgb, &self.alpha, &mut self.defect);
        grid.each_near(b.x, b.y, b.reach() * 1.35, &mut |idx, dx, dy| {
            if alpha[idx] <= 0.0 {
                return;
            }
            let (dist, rad) = b.dist_radius(dx, dy);
            // Soft edge: 50 % at 0.95 radii, a scorched brown ring, a charred core.
            let w = 1.0 - smoothstep(0.45, 1.45, dist / rad);
            if w <= 0.0 {
                return;
            }
            let char_noise = 1.0 + (hash01(dx as i32, dy as i32, spec.tex_seed ^ 0xB0) - 0.5) * 0.4;
            let target = lerp3(BURNT_HALO_RGB, BURNT_RGB.map(|v| v * char_noise), w);
            rgb[idx] = lerp3(rgb[idx], target, w * (2.0 - w) * 0.97);
            if w >= 0.5 && alpha[idx] >= 0.5 {
                defect[idx] = true;
            }
        });
    }

    /// Crack: dark fissure with a slight shadow on its lower-right side (`s`: frame scale).
    fn crack(&mut self, spec: &ItemSpec, grid: Grid, s: f32) {
        let Some(crack) = &spec.crack else {
            return;
        };
        let n = grid.size * grid.size;
        let (rgb, alpha, defect) = (&mut self.rgb, &self.alpha, &mut self.defect);
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
                grid.each_near(mx, my, half_len + pad, &mut |idx, dx, dy| {
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

    /// Foreign speck: saturated, hard-edged, on top of everything.
    fn foreign(&mut self, spec: &ItemSpec, grid: Grid) {
        let Some((b, colour, metallic)) = &spec.foreign else {
            return;
        };
        let (rgb, alpha, defect) = (&mut self.rgb, &self.alpha, &mut self.defect);
        grid.each_near(b.x, b.y, b.reach(), &mut |idx, dx, dy| {
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

    /// Quantises the layers (row `y` lit by `light[y]`) and indexes the rows.
    fn quantise(self, size: usize, light: &[f32]) -> Sprite {
        let n = size * size;
        let Self {
            rgb,
            alpha,
            shadow,
            defect,
        } = self;
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
        Sprite { size, px, rows }
    }
}
