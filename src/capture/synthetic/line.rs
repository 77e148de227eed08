//! The line itself: items spawned along the belt, composed with the belt into frames.

use std::collections::VecDeque;
use std::time::SystemTime;

use image::{GrayImage, RgbImage};

use super::super::{CaptureError, DefectKind, Frame, FrameSource, GroundTruth, Pacing, TruthItem};
use super::belt::{Belt, light_gains};
use super::config::{Params, SyntheticConfig};
use super::noise::{Rng, mix64};
use super::spec::ItemSpec;
use super::sprite::Sprite;
use crate::domain::BBox;

/// One item on the belt.
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) id: u64,
    /// Sprite left edge at frame 0, px (the belt moves it `speed` px per frame).
    pub(super) left0: i64,
    /// Sprite top edge, px.
    pub(super) top: i64,
    /// Item centre inside the sprite, px.
    pub(super) centre: (f32, f32),
    /// Largest outline radius, px.
    pub(super) extent: f32,
    pub(super) defects: Vec<DefectKind>,
    pub(super) sprite: Sprite,
}

impl Item {
    /// Centre x at frame 0, px.
    pub(super) fn x0(&self) -> f64 {
        self.left0 as f64 + f64::from(self.centre.0)
    }

    /// Centre y, px.
    pub(super) fn y(&self) -> f64 {
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
    pub(super) p: Params,
    belt: Belt,
    /// Lighting gain per frame row.
    light: Vec<f32>,
    /// Items on the belt, oldest (rightmost) first; centre x strictly decreases along the queue.
    pub(super) items: VecDeque<Item>,
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

    /// Change the lighting from the next frame on (see [`SyntheticConfig::exposure`]): a lamp
    /// that dims while the line runs.
    pub fn set_exposure(&mut self, exposure: f32) {
        self.cfg.exposure = exposure;
        self.cfg = self.cfg.clone().sanitized();
    }

    /// Belt speed in pixels per frame: how far every item moves right from one frame to the next.
    pub fn belt_speed(&self) -> u32 {
        self.p.speed
    }

    /// Spawns items up to the ones that can be visible in frame `n`, drops those that left.
    pub(super) fn update_items(&mut self, n: u64) {
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

    pub(super) fn spawn(&mut self) {
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
    pub(super) fn collides(&self, x: f64, y: f64, ext: f32) -> bool {
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
    pub(super) fn compose(&self, n: u64, frame: &mut [u8], mask: &mut [u8]) -> Vec<TruthItem> {
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
    fn view(&self) -> crate::capture::SourceView {
        crate::capture::SourceView::Synthetic {
            width: self.cfg.width,
            height: self.cfg.height,
            seed: self.cfg.seed,
        }
    }

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
        if self.cfg.exposure != 1.0 {
            let gain = self.cfg.exposure;
            for v in image.iter_mut() {
                *v = (f32::from(*v) * gain).round().min(255.0) as u8;
            }
        }
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
