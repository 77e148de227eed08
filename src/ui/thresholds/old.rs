//! Thresholds tab: choose where pass ends and reject begins on cached scores.
//!
//! Everything here works on scores computed earlier (the evaluation's `<model>_scores.json`
//! and the inspections table): loading runs on a background thread once, after that moving a
//! threshold only asks the sorted [`ScoreSet`] for counts (two binary searches) and redraws.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{Receiver, bounded};
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Corner, Legend, Line, Plot, Points, Polygon, VLine};
use foodqc::domain::Thresholds;
use foodqc::model::operating::{GOOD, Histogram, LabelledScore, ScoreFile, ScoreSet};
use foodqc::store::{Store, ThresholdSetting};

use super::{FoodQcApp, theme};

/// How many recent inspections the production view reads.
pub const PRODUCTION_ITEMS: usize = 10_000;
/// Histogram bins.
const BINS: usize = 60;
/// Curves are drawn with at most this many points (they are exact, just thinned).
const CURVE_POINTS: usize = 600;

/// Scores loaded for the tab, with everything derived from them that does not depend on the
/// threshold (computed once, off the UI thread).
pub struct Workbench {
    /// Where the labelled scores came from, for the header.
    pub source: String,
    /// Labelled items (evaluation set + labelled production items).
    pub items: Vec<LabelledScore>,
    /// Good vs all defect classes.
    pub set: ScoreSet,
    /// Defect classes with their own good-vs-class set.
    pub classes: Vec<(String, ScoreSet)>,
    /// Recent production scores, ascending (labelled or not).
    pub production: Vec<f64>,
    /// Histogram of the labelled items per class.
    pub hist: Histogram,
    /// Histogram of production scores (same bins).
    pub production_hist: Vec<u32>,
    /// ROC curve (false-reject rate, recall), thinned.
    pub roc: Vec<[f64; 2]>,
    /// PR curve (recall, precision), thinned.
    pub pr: Vec<[f64; 2]>,
    /// Area under the ROC curve.
    pub auroc: Option<f64>,
    /// Average precision.
    pub ap: Option<f64>,
    /// Slider range.
    pub range: (f64, f64),
    /// Dataset folder of the score file (for ground-truth masks), when known.
    pub dataset: Option<PathBuf>,
}

impl Workbench {
    /// Derive everything from the scores (sorts once; O(n log n)).
    pub fn build(source: String, items: Vec<LabelledScore>, mut production: Vec<f64>) -> Self {
        production.retain(|s| s.is_finite());
        production.sort_by(f64::total_cmp);
        let set = ScoreSet::from_labelled(&items);
        let mut names: Vec<String> = items
            .iter()
            .filter(|i| i.class != GOOD)
            .map(|i| i.class.clone())
            .collect();
        names.sort();
        names.dedup();
        let classes = names
            .into_iter()
            .map(|c| {
                let s = ScoreSet::for_class(&items, &c);
                (c, s)
            })
            .collect();
        // Range: the bulk of the labelled scores (production only when nothing is labelled),
        // not a far outlier: those land in the last bin.
        let mut all: Vec<f64> = items.iter().map(|i| i.score).collect();
        if all.is_empty() {
            all.extend_from_slice(&production);
        }
        let hi = foodqc::model::metrics::quantile(&all, 0.98);
        let hi = if hi.is_finite() && hi > 0.0 {
            hi * 1.25
        } else {
            3.0
        };
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let hist = ScoreSet::histogram(&items, lo, hi, BINS);
        let mut production_hist = vec![0u32; BINS];
        for s in &production {
            let b = (((s - lo) / hist.width).floor().max(0.0) as usize).min(BINS - 1);
            production_hist[b] += 1;
        }
        let thin = |v: Vec<[f64; 2]>| -> Vec<[f64; 2]> {
            if v.len() <= CURVE_POINTS {
                return v;
            }
            let step = v.len().div_ceil(CURVE_POINTS);
            let last = v[v.len() - 1];
            let mut out: Vec<[f64; 2]> = v.into_iter().step_by(step).collect();
            out.push(last);
            out
        };
        let roc = thin(set.roc().iter().map(|p| [p.fpr, p.tpr]).collect());
        let pr = thin(set.pr().iter().map(|p| [p.recall, p.precision]).collect());
        Self {
            source,
            auroc: set.auroc(),
            ap: set.average_precision(),
            items,
            set,
            classes,
            production,
            hist,
            production_hist,
            roc,
            pr,
            range: (lo, hi),
            dataset: None,
        }
    }

    /// Share of production items scoring above `t`.
    pub fn production_above(&self, t: f64) -> f64 {
        if self.production.is_empty() {
            return f64::NAN;
        }
        let k = self.production.partition_point(|s| *s <= t);
        (self.production.len() - k) as f64 / self.production.len() as f64
    }
}

enum Job {
    /// Scores and the setting history of the live model version.
    Loaded(Result<(Box<Workbench>, Vec<ThresholdSetting>), String>),
    /// An Apply (or Revert) was saved: the thresholds now in force and the new history.
    Applied(Result<(Thresholds, Vec<ThresholdSetting>), String>),
    /// Sample images scored for the pixel-threshold preview.
    Preview(Result<Vec<PreviewImage>, String>),
}

/// A test image scored once for the pixel-threshold preview: re-thresholding its heat maps
/// is cheap, so the preview follows the pixel threshold at frame rate.
pub struct PreviewImage {
    /// File name and class.
    pub name: String,
    photo: Option<egui::ColorImage>,
    mask: Option<egui::ColorImage>,
    /// Photo pixels per preview pixel.
    scale: f32,
    heats: Vec<foodqc::inspect::HeatMap>,
    textures: Option<(egui::TextureHandle, Option<egui::TextureHandle>)>,
}

/// Longest side of preview pictures, pixels.
const PREVIEW_SIDE: u32 = 250;

fn to_color_image(img: &image::RgbImage) -> egui::ColorImage {
    egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw())
}

/// Score up to `n` defective images with a ground-truth mask and one good image.
fn load_previews(
    items: Vec<LabelledScore>,
    dataset: Option<PathBuf>,
    model: Arc<foodqc::model::AnomalyModel>,
    n: usize,
) -> Result<Vec<PreviewImage>, String> {
    let mask_of = |it: &LabelledScore| -> Option<PathBuf> {
        let root = dataset.as_ref()?;
        let stem = std::path::Path::new(&it.origin)
            .file_stem()?
            .to_string_lossy()
            .to_string();
        let m = root
            .join("ground_truth")
            .join(&it.class)
            .join(format!("{stem}_mask.png"));
        m.is_file().then_some(m)
    };
    let mut picked: Vec<(LabelledScore, Option<PathBuf>)> = items
        .iter()
        .filter(|i| i.class != GOOD && std::path::Path::new(&i.origin).is_file())
        .filter_map(|i| mask_of(i).map(|m| (i.clone(), Some(m))))
        .take(n)
        .collect();
    if let Some(g) = items
        .iter()
        .find(|i| i.class == GOOD && std::path::Path::new(&i.origin).is_file())
    {
        picked.push((g.clone(), None));
    }
    if picked.is_empty() {
        return Err(
            "No test images found on disk for the preview (the score file names them).".into(),
        );
    }
    let mut inspector = foodqc::inspect::Inspector::new(model);
    let mut out = Vec::new();
    for (it, mask) in picked {
        let path = std::path::Path::new(&it.origin);
        let img = foodqc::imageio::load_rgb(path).map_err(|e| e.to_string())?;
        let (w, h) = img.dimensions();
        let scale = (w.max(h) as f32 / PREVIEW_SIDE as f32).max(1.0);
        let (pw, ph) = ((w as f32 / scale) as u32, (h as f32 / scale) as u32);
        let small = image::imageops::resize(&img, pw, ph, image::imageops::FilterType::Triangle);
        let insp = inspector.inspect(0, std::time::SystemTime::now(), Arc::new(img), None, true);
        let mask = match mask {
            Some(m) => {
                let gray = image::open(&m)
                    .map_err(|e| format!("cannot read mask {}: {e}", m.display()))?
                    .into_rgb8();
                let gray =
                    image::imageops::resize(&gray, pw, ph, image::imageops::FilterType::Nearest);
                Some(to_color_image(&gray))
            }
            None => None,
        };
        out.push(PreviewImage {
            name: format!(
                "{} ({}, score {:.2})",
                path.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                it.class,
                it.score
            ),
            photo: Some(to_color_image(&small)),
            mask,
            scale,
            heats: insp.items.into_iter().filter_map(|i| i.heat).collect(),
            textures: None,
        });
    }
    Ok(out)
}

/// State of the Thresholds tab.
pub struct ThresholdsView {
    /// Score file of the evaluation set (empty = production only).
    pub score_file: String,
    /// Loaded scores.
    pub data: Option<Arc<Workbench>>,
    /// Reject threshold being tried.
    pub reject: f64,
    /// Lower edge of the review band being tried.
    pub review: f64,
    /// Whether the review band is on.
    pub review_on: bool,
    /// Heat-map cell threshold being tried.
    pub pixel: f64,
    /// Per-defect-class reject thresholds being tried.
    pub per_class: BTreeMap<String, f64>,
    /// Escape-rate target for the snap button.
    pub target_escape: f64,
    /// False-reject target for the snap button.
    pub target_frr: f64,
    /// Who applies.
    pub who: String,
    /// Why (goes to the audit log).
    pub why: String,
    /// Settings applied to the live model version, newest first.
    pub history: Vec<ThresholdSetting>,
    /// Last outcome, shown under the buttons (ok, message).
    pub status: Option<(bool, String)>,
    /// Show the pixel-threshold preview instead of the curves.
    pub show_pixels: bool,
    /// Scored sample images for the pixel preview (loaded on first view).
    pub previews: Option<Vec<PreviewImage>>,
    busy: Option<&'static str>,
    jobs: Option<Receiver<Job>>,
    started: bool,
}

impl Default for ThresholdsView {
    fn default() -> Self {
        let who = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "operator".into());
        Self {
            score_file: String::new(),
            data: None,
            reject: 1.0,
            review: 0.8,
            review_on: false,
            pixel: 1.5,
            per_class: BTreeMap::new(),
            target_escape: 0.005,
            target_frr: 0.01,
            who,
            why: String::new(),
            history: Vec::new(),
            status: None,
            show_pixels: false,
            previews: None,
            busy: None,
            jobs: None,
            started: false,
        }
    }
}

impl ThresholdsView {
    /// Take the live model's thresholds as the starting point.
    pub fn take_thresholds(&mut self, t: &Thresholds) {
        self.reject = t.reject;
        self.pixel = t.pixel;
        self.review_on = t.review_band().is_some();
        self.review = t.review.unwrap_or(t.reject * 0.8).min(t.reject);
        self.per_class = t.per_class.clone();
    }

    /// The thresholds as set in the tab.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            reject: self.reject,
            pixel: self.pixel,
            review: self.review_on.then_some(self.review.min(self.reject)),
            per_class: self.per_class.clone(),
        }
    }

    /// The operating point at the reject threshold, when scores are loaded.
    #[cfg(test)]
    pub fn point(&self) -> Option<foodqc::model::operating::OperatingPoint> {
        self.data.as_ref().map(|d| d.set.at(self.reject))
    }

    /// Band counts at the current thresholds.
    #[cfg(test)]
    pub fn bands(&self) -> Option<foodqc::model::operating::BandCounts> {
        let review = if self.review_on {
            self.review
        } else {
            self.reject
        };
        self.data.as_ref().map(|d| d.set.bands(review, self.reject))
    }

    /// Use already computed scores instead of loading them (tests, measurements).
    #[cfg(test)]
    pub fn set_data(&mut self, w: Workbench) {
        self.data = Some(Arc::new(w));
        self.started = true;
    }

    /// True while a background job runs.
    pub fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    fn spawn(
        &mut self,
        what: &'static str,
        ctx: &egui::Context,
        job: impl FnOnce() -> Job + Send + 'static,
    ) {
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("foodqc-thresholds".into())
            .spawn(move || {
                let _ = tx.send(job());
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.busy = Some(what);
                self.jobs = Some(rx);
            }
            Err(e) => self.status = Some((false, format!("cannot start {what}: {e}"))),
        }
    }
}

/// Find the score file of the live model: `<name>_scores.json` in the models folder whose
/// model version matches, else the newest score file there.
fn default_score_file(models_dir: &std::path::Path, version: &str) -> Option<PathBuf> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(models_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_scores.json"))
        })
        .map(|p| {
            let t = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    files.sort();
    for (_, p) in files.iter().rev() {
        if ScoreFile::load(p).is_ok_and(|f| f.model_version == version) {
            return Some(p.clone());
        }
    }
    files.pop().map(|f| f.1)
}

fn load(score_file: Option<PathBuf>, db: PathBuf) -> Result<Workbench, String> {
    let mut items = Vec::new();
    let mut source = Vec::new();
    let mut dataset = None;
    if let Some(p) = &score_file {
        let f = ScoreFile::load(p).map_err(|e| format!("{e:#}"))?;
        source.push(format!(
            "{} ({} items, model {})",
            p.display(),
            f.items.len(),
            f.model_version
        ));
        items = f.items;
        dataset = Some(PathBuf::from(f.dataset));
    }
    let store = Store::open(&db).map_err(|e| e.to_string())?;
    let recent = store
        .recent_scores(PRODUCTION_ITEMS)
        .map_err(|e| e.to_string())?;
    let mut labelled = 0;
    for r in &recent {
        if let Some(l) = &r.label {
            labelled += 1;
            items.push(LabelledScore {
                score: r.score,
                class: l.clone(),
                origin: "production".into(),
            });
        }
    }
    source.push(format!(
        "last {} production items ({labelled} labelled)",
        recent.len()
    ));
    let mut w = Workbench::build(
        source.join(" + "),
        items,
        recent.iter().map(|r| r.score).collect(),
    );
    w.dataset = dataset;
    Ok(w)
}

fn history(db: PathBuf, version: String) -> Result<(Option<i64>, Vec<ThresholdSetting>), String> {
    let store = Store::open(&db).map_err(|e| e.to_string())?;
    let Some(id) = store
        .model_version_id(&version)
        .map_err(|e| e.to_string())?
    else {
        return Ok((None, Vec::new()));
    };
    let h = store.threshold_history(id).map_err(|e| e.to_string())?;
    Ok((Some(id), h))
}

fn apply(
    db: PathBuf,
    version: String,
    new: Thresholds,
    old: Thresholds,
    who: String,
    why: String,
) -> Result<(Thresholds, Vec<ThresholdSetting>), String> {
    let mut store = Store::open(&db).map_err(|e| e.to_string())?;
    let id = store
        .model_version_id(&version)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "model version {version} is not registered in {}: start the line first",
                db.display()
            )
        })?;
    store
        .apply_thresholds(id, &new, &old, &who, &why)
        .map_err(|e| e.to_string())?;
    let h = store.threshold_history(id).map_err(|e| e.to_string())?;
    Ok((new, h))
}

/// Start loading (first show): the live model's thresholds, its setting history, the scores.
fn start(app: &mut FoodQcApp, ctx: &egui::Context) {
    let v = &mut app.thresholds;
    v.started = true;
    v.take_thresholds(&app.model.thresholds);
    if v.score_file.is_empty()
        && let Some(p) = default_score_file(&app.paths.models_dir(), &app.model.version)
    {
        v.score_file = p.display().to_string();
    }
    reload(app, ctx);
}

fn reload(app: &mut FoodQcApp, ctx: &egui::Context) {
    let db = app.paths.db_path();
    let file = app.thresholds.score_file.trim();
    let file = (!file.is_empty()).then(|| PathBuf::from(file));
    let version = app.model.version.clone();
    app.thresholds.spawn("loading scores", ctx, move || {
        Job::Loaded(
            history(db.clone(), version).and_then(|(_, h)| Ok((Box::new(load(file, db)?), h))),
        )
    });
}

/// Save the tab's thresholds (or an older setting, for a revert) in the background; on
/// success the live station switches to them.
fn start_apply(app: &mut FoodQcApp, ctx: &egui::Context, new: Thresholds, why: String) {
    if let Err(e) = new.validate() {
        app.thresholds.status = Some((false, e));
        return;
    }
    let who = app.thresholds.who.trim().to_string();
    if who.is_empty() {
        app.thresholds.status = Some((false, "Enter your name (who applies) first.".into()));
        return;
    }
    let db = app.paths.db_path();
    let version = app.model.version.clone();
    let old = app.model.thresholds.clone();
    app.thresholds.spawn("applying", ctx, move || {
        Job::Applied(apply(db, version, new, old, who, why))
    });
}

fn poll(app: &mut FoodQcApp) {
    let Some(rx) = &app.thresholds.jobs else {
        return;
    };
    let Ok(job) = rx.try_recv() else {
        return;
    };
    let v = &mut app.thresholds;
    v.jobs = None;
    v.busy = None;
    match job {
        Job::Loaded(Ok((w, h))) => {
            // The setting in force (the station applies it at start) is the starting point.
            if let Some(cur) = h.first()
                && cur.thresholds != app.model.thresholds
            {
                app.model = Arc::new(app.model.with_thresholds(cur.thresholds.clone()));
                v.take_thresholds(&cur.thresholds);
            }
            v.status = Some((true, format!("Loaded {}.", w.source)));
            v.data = Some(Arc::new(*w));
            v.history = h;
        }
        Job::Loaded(Err(e)) => v.status = Some((false, e)),
        Job::Applied(Ok((t, h))) => {
            app.model = Arc::new(app.model.with_thresholds(t.clone()));
            if let Some(st) = &app.station {
                st.send(foodqc::station::StationCommand::SetThresholds(t));
            }
            v.status = Some((
                true,
                format!(
                    "Applied as setting #{}: the line judges with it from the next frame.",
                    h.first().map(|s| s.id).unwrap_or(0)
                ),
            ));
            v.history = h;
            v.why.clear();
        }
        Job::Applied(Err(e)) => v.status = Some((false, format!("Not applied: {e}"))),
        Job::Preview(Ok(p)) => v.previews = Some(p),
        Job::Preview(Err(e)) => {
            v.previews = Some(Vec::new());
            v.status = Some((false, e));
        }
    }
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{:.1} %", 100.0 * v)
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{v:.3}")
    }
}

/// Draw the Thresholds tab.
pub fn show(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    if !app.thresholds.started {
        start(app, &ctx);
    }
    poll(app);
    egui::Panel::left("threshold_controls")
        .resizable(false)
        .exact_size(400.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| controls(app, ui, &ctx));
        });
    egui::CentralPanel::default().show(ui, |ui| {
        ui.horizontal(|ui| {
            let v = &mut app.thresholds;
            ui.selectable_value(&mut v.show_pixels, false, "Scores and curves");
            ui.selectable_value(&mut v.show_pixels, true, "Pixel threshold preview");
        });
        if app.thresholds.show_pixels {
            pixel_preview(app, ui, &ctx);
        } else {
            plots(app, ui);
        }
    });
}

fn pixel_preview(app: &mut FoodQcApp, ui: &mut egui::Ui, ctx: &egui::Context) {
    if app.thresholds.previews.is_none() && !app.thresholds.is_busy() {
        let Some(data) = app.thresholds.data.clone() else {
            ui.label("Load a score file first: the preview uses its test images.");
            return;
        };
        let (items, dataset, model) = (data.items.clone(), data.dataset.clone(), app.model.clone());
        app.thresholds
            .spawn("scoring preview images", ctx, move || {
                Job::Preview(load_previews(items, dataset, model, 3))
            });
    }
    let v = &mut app.thresholds;
    ui.horizontal(|ui| {
        ui.spacing_mut().slider_width = 300.0;
        ui.add(
            egui::Slider::new(&mut v.pixel, 0.2..=6.0)
                .max_decimals(2)
                .text("Pixel threshold"),
        );
        ui.label(
            RichText::new(
                "cells above it are defect regions (boxes, solid magenta); fainter cells are above half of it. Truth mask on the right.",
            )
            .small(),
        );
    });
    let pixel = v.pixel as f32;
    let Some(previews) = v.previews.as_mut() else {
        ui.spinner();
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("pixel_previews")
            .spacing([24.0, 12.0])
            .show(ui, |ui| {
                for (i, p) in previews.iter_mut().enumerate() {
                    if p.textures.is_none()
                        && let Some(photo) = p.photo.take()
                    {
                        let t = ctx.load_texture(
                            format!("pv-{}", p.name),
                            photo,
                            egui::TextureOptions::LINEAR,
                        );
                        let m = p.mask.take().map(|m| {
                            ctx.load_texture(
                                format!("pvm-{}", p.name),
                                m,
                                egui::TextureOptions::NEAREST,
                            )
                        });
                        p.textures = Some((t, m));
                    }
                    let Some((photo, mask)) = &p.textures else {
                        continue;
                    };
                    ui.vertical(|ui| {
                        ui.label(RichText::new(&p.name).small());
                        ui.horizontal(|ui| {
                            let size = photo.size_vec2();
                            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
                            let painter = ui.painter_at(rect);
                            painter.image(
                                photo.id(),
                                rect,
                                egui::Rect::from_min_max(egui::Pos2::ZERO, egui::pos2(1.0, 1.0)),
                                Color32::WHITE,
                            );
                            let k = 1.0 / p.scale;
                            let at =
                                |x: u32, y: u32| rect.min + egui::vec2(x as f32 * k, y as f32 * k);
                            for h in &p.heats {
                                for (x, y, val) in h.cells_above(pixel * 0.5) {
                                    let cell = egui::Rect::from_min_size(
                                        at(x, y),
                                        egui::Vec2::splat(h.cell as f32 * k),
                                    );
                                    let a = if val > pixel { 0.6 } else { 0.2 };
                                    painter.rect_filled(cell, 0.0, theme::HEAT.gamma_multiply(a));
                                }
                                for r in h.regions(pixel) {
                                    painter.rect_stroke(
                                        egui::Rect::from_min_max(
                                            at(r.x, r.y),
                                            at(r.x + r.w, r.y + r.h),
                                        ),
                                        0.0,
                                        egui::Stroke::new(1.5, theme::HEAT),
                                        egui::StrokeKind::Outside,
                                    );
                                }
                            }
                            match mask {
                                Some(m) => {
                                    ui.image((m.id(), m.size_vec2()));
                                }
                                None => {
                                    ui.label("good: no defect pixels");
                                }
                            }
                        });
                    });
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
    });
}

fn controls(app: &mut FoodQcApp, ui: &mut egui::Ui, ctx: &egui::Context) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label("Scores");
        ui.add(
            egui::TextEdit::singleline(&mut app.thresholds.score_file)
                .hint_text("<model>_scores.json from foodqc eval")
                .desired_width(230.0),
        );
        if ui
            .add_enabled(!app.thresholds.is_busy(), egui::Button::new("Load"))
            .on_hover_text("Read the score file and the last 10,000 production scores")
            .clicked()
        {
            reload(app, ctx);
        }
    });
    let v = &mut app.thresholds;
    if let Some(what) = v.busy {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("{what}…"));
        });
    }
    let Some(data) = v.data.clone() else {
        if v.busy.is_none() {
            ui.label("No scores loaded. Run `foodqc eval --dataset DIR` to score a labelled set, or label production samples.");
        }
        status(v, ui);
        return;
    };
    ui.label(RichText::new(&data.source).small());
    ui.label(format!(
        "{} labelled items: {} good, {} defective · AUROC {} · AP {}",
        data.set.len(),
        data.set.good(),
        data.set.defective(),
        data.auroc.map(num).unwrap_or_else(|| "n/a".into()),
        data.ap.map(num).unwrap_or_else(|| "n/a".into())
    ));
    ui.separator();

    let (lo, hi) = data.range;
    ui.strong("Reject above");
    ui.horizontal(|ui| {
        ui.spacing_mut().slider_width = 210.0;
        ui.add(
            egui::Slider::new(&mut v.reject, lo..=hi)
                .clamping(egui::SliderClamping::Never)
                .max_decimals(3)
                .text("Reject threshold"),
        );
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut v.review_on, "Review band from")
            .on_hover_text("Items between the two thresholds go to a person (labelling queue)");
        ui.add_enabled(
            v.review_on,
            egui::DragValue::new(&mut v.review)
                .speed((hi - lo) / 500.0)
                .max_decimals(3)
                .range(lo.min(v.reject)..=v.reject),
        );
        ui.label("to the reject threshold");
    });
    if v.review_on {
        ui.horizontal(|ui| {
            ui.spacing_mut().slider_width = 210.0;
            let top = v.reject.max(lo);
            ui.add(
                egui::Slider::new(&mut v.review, lo..=top)
                    .max_decimals(3)
                    .text("Review threshold"),
            );
        });
        v.review = v.review.min(v.reject);
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Snap to");
        if ui
            .button("max F1")
            .on_hover_text("The threshold with the best F1 on the labelled set")
            .clicked()
            && let Some(t) = data.set.snap_max_f1()
        {
            v.reject = t;
        }
    });
    ui.horizontal(|ui| {
        if ui
            .button("escape <=")
            .on_hover_text(
                "The highest threshold that lets at most this share of defective items pass",
            )
            .clicked()
        {
            match data.set.snap_escape_rate(v.target_escape) {
                Some(t) => v.reject = t,
                None => v.status = Some((false, "No defective items in the set.".into())),
            }
        }
        ui.add(
            egui::DragValue::new(&mut v.target_escape)
                .speed(0.001)
                .range(0.0..=1.0)
                .custom_formatter(|x, _| format!("{:.2} %", 100.0 * x))
                .custom_parser(|s| {
                    s.trim_end_matches(['%', ' '])
                        .parse::<f64>()
                        .ok()
                        .map(|x| x / 100.0)
                }),
        );
        if ui
            .button("false reject <=")
            .on_hover_text("The lowest threshold that rejects at most this share of good items")
            .clicked()
        {
            match data.set.snap_false_reject_rate(v.target_frr) {
                Some(t) => v.reject = t,
                None => v.status = Some((false, "No good items in the set.".into())),
            }
        }
        ui.add(
            egui::DragValue::new(&mut v.target_frr)
                .speed(0.001)
                .range(0.0..=1.0)
                .custom_formatter(|x, _| format!("{:.2} %", 100.0 * x))
                .custom_parser(|s| {
                    s.trim_end_matches(['%', ' '])
                        .parse::<f64>()
                        .ok()
                        .map(|x| x / 100.0)
                }),
        );
    });
    if v.review_on {
        v.review = v.review.min(v.reject);
    }
    ui.separator();

    let op = data.set.at(v.reject);
    let c = op.confusion;
    ui.strong(format!("At {:.3}", v.reject));
    egui::Grid::new("confusion")
        .num_columns(3)
        .striped(true)
        .min_col_width(90.0)
        .show(ui, |ui| {
            ui.label("");
            ui.label("rejected");
            ui.label("passed");
            ui.end_row();
            ui.label("defective");
            ui.label(RichText::new(c.true_pos.to_string()).size(20.0).strong());
            ui.label(
                RichText::new(c.false_neg.to_string())
                    .size(20.0)
                    .strong()
                    .color(if c.false_neg > 0 {
                        theme::REJECT
                    } else {
                        ui.visuals().text_color()
                    }),
            )
            .on_hover_text("escapes: defective items that pass");
            ui.end_row();
            ui.label("good");
            ui.label(
                RichText::new(c.false_pos.to_string())
                    .size(20.0)
                    .strong()
                    .color(if c.false_pos > 0 {
                        theme::WARN
                    } else {
                        ui.visuals().text_color()
                    }),
            )
            .on_hover_text("false rejects: good items thrown away");
            ui.label(RichText::new(c.true_neg.to_string()).size(20.0).strong());
            ui.end_row();
        });
    ui.label(
        RichText::new(format!(
            "TP {} FP {} TN {} FN {}",
            c.true_pos, c.false_pos, c.true_neg, c.false_neg
        ))
        .small(),
    );
    egui::Grid::new("rates").num_columns(4).show(ui, |ui| {
        ui.label("Precision");
        ui.strong(num(op.precision));
        ui.label("Recall");
        ui.strong(num(op.recall));
        ui.end_row();
        ui.label("F1");
        ui.strong(num(op.f1));
        ui.label("False rejects");
        ui.strong(pct(op.false_reject_rate));
        ui.end_row();
        ui.label("Escapes");
        ui.strong(pct(op.escape_rate));
        ui.end_row();
    });
    let review = if v.review_on { v.review } else { v.reject };
    let b = data.set.bands(review, v.reject);
    ui.label(format!(
        "Bands (good / defective): pass {} / {} · review {} / {} · reject {} / {}",
        b.pass_good,
        b.pass_defective,
        b.review_good,
        b.review_defective,
        b.reject_good,
        b.reject_defective
    ));
    if !data.production.is_empty() {
        let rej = data.production_above(v.reject);
        let rev = data.production_above(review) - rej;
        ui.label(format!(
            "On the last {} production items: {} rejected, {} to review",
            data.production.len(),
            pct(rej),
            pct(rev)
        ));
    }
    if !data.classes.is_empty() {
        per_class(v, ui, &data);
    }
    ui.separator();
    ui.horizontal(|ui| {
        ui.label("Heat-map cells above");
        ui.add(
            egui::DragValue::new(&mut v.pixel)
                .speed(0.01)
                .range(0.1..=20.0)
                .max_decimals(2),
        )
        .on_hover_text("What counts as a defect region in the live overlay");
    });
    ui.separator();
    apply_controls(app, ui, ctx);
}

fn per_class(v: &mut ThresholdsView, ui: &mut egui::Ui, data: &Workbench) {
    egui::CollapsingHeader::new("Per defect class")
        .default_open(data.classes.len() > 1)
        .show(ui, |ui| {
            ui.label(
                RichText::new(
                    "Own reject thresholds are used when a defect classifier names the class; otherwise the reject threshold above applies.",
                )
                .small(),
            );
            egui::Grid::new("per_class").num_columns(5).striped(true).show(ui, |ui| {
                ui.label("class");
                ui.label("AUROC");
                ui.label("recall");
                ui.label("own threshold");
                ui.label("");
                ui.end_row();
                for (class, set) in &data.classes {
                    let own = v.per_class.get(class).copied();
                    let t = own.unwrap_or(v.reject);
                    ui.label(class);
                    ui.label(set.auroc().map(num).unwrap_or_else(|| "n/a".into()));
                    ui.label(num(set.at(t).recall));
                    let mut on = own.is_some();
                    if ui.checkbox(&mut on, "").changed() {
                        if on {
                            v.per_class.insert(class.clone(), v.reject);
                        } else {
                            v.per_class.remove(class);
                        }
                    }
                    if let Some(val) = v.per_class.get_mut(class) {
                        ui.horizontal(|ui| {
                            ui.add(egui::DragValue::new(val).speed(0.005).max_decimals(3));
                            if ui.small_button("max F1").clicked()
                                && let Some(best) = set.snap_max_f1()
                            {
                                *val = best;
                            }
                        });
                    } else {
                        ui.label("");
                    }
                    ui.end_row();
                }
            });
        });
}

fn apply_controls(app: &mut FoodQcApp, ui: &mut egui::Ui, ctx: &egui::Context) {
    let live = app.model.thresholds.clone();
    let v = &mut app.thresholds;
    let new = v.thresholds();
    let changed = new != live;
    ui.horizontal(|ui| {
        ui.label("Live:");
        ui.label(
            RichText::new(format!(
                "reject {:.3}{}, pixel {:.2}",
                live.reject,
                live.review_band()
                    .map(|r| format!(", review from {r:.3}"))
                    .unwrap_or_default(),
                live.pixel
            ))
            .strong(),
        );
    });
    egui::Grid::new("apply_who").num_columns(2).show(ui, |ui| {
        ui.label("Who");
        ui.add(egui::TextEdit::singleline(&mut v.who).desired_width(250.0));
        ui.end_row();
        ui.label("Why");
        ui.add(
            egui::TextEdit::singleline(&mut v.why)
                .hint_text("e.g. max F1 on cookies eval")
                .desired_width(250.0),
        );
        ui.end_row();
    });
    let mut apply_clicked = false;
    let mut reset = false;
    ui.horizontal(|ui| {
        apply_clicked = ui
            .add_enabled(
                changed && !v.is_busy(),
                egui::Button::new("Apply to the line"),
            )
            .on_hover_text(
                "Save as a setting of the live model version (audit log) and judge with it at once",
            )
            .clicked();
        reset = ui
            .add_enabled(changed, egui::Button::new("Back to live"))
            .on_hover_text("Discard the changes in this tab")
            .clicked();
    });
    if reset {
        v.take_thresholds(&live);
    }
    status(v, ui);
    let mut revert: Option<(Thresholds, String)> = None;
    if !v.history.is_empty() {
        ui.separator();
        ui.strong("History of this model version");
        egui::Grid::new("threshold_history")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for (i, s) in v.history.iter().enumerate() {
                    ui.label(format!("#{}", s.id));
                    ui.label(format!(
                        "{:.3}{}",
                        s.thresholds.reject,
                        s.thresholds
                            .review_band()
                            .map(|r| format!(" / {r:.3}"))
                            .unwrap_or_default()
                    ))
                    .on_hover_text(format!("pixel {:.2}", s.thresholds.pixel));
                    ui.label(format!("{}: {}", s.set_by, s.reason))
                        .on_hover_text(super::tabs::fmt_ts(s.created_at_ms));
                    if i == 0 {
                        ui.label("in force");
                    } else if ui
                        .add_enabled(!v.is_busy(), egui::Button::new("Revert").small())
                        .clicked()
                    {
                        revert = Some((s.thresholds.clone(), format!("revert to #{}", s.id)));
                    }
                    ui.end_row();
                }
            });
    }
    if apply_clicked {
        let why = if v.why.trim().is_empty() {
            "no reason given".to_string()
        } else {
            v.why.trim().to_string()
        };
        start_apply(app, ctx, new, why);
    } else if let Some((t, why)) = revert {
        app.thresholds.take_thresholds(&t);
        start_apply(app, ctx, t, why);
    }
}

fn status(v: &ThresholdsView, ui: &mut egui::Ui) {
    if let Some((ok, msg)) = &v.status {
        if *ok {
            ui.label(RichText::new(msg).small());
        } else {
            ui.colored_label(theme::REJECT, msg);
        }
    }
}

/// Colours of the histogram series: good in the pass colour, defect classes in warm hues.
fn class_colour(i: usize, class: &str) -> Color32 {
    if class == GOOD {
        return theme::PASS;
    }
    const DEFECT: [Color32; 4] = [
        theme::REJECT,
        Color32::from_rgb(190, 90, 200),
        Color32::from_rgb(90, 140, 230),
        Color32::from_rgb(200, 120, 60),
    ];
    DEFECT[i % DEFECT.len()]
}

fn plots(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    let v = &mut app.thresholds;
    let Some(data) = v.data.clone() else {
        ui.centered_and_justified(|ui| ui.label("Load scores to see their histograms and curves."));
        return;
    };
    let review = v.review_on.then_some(v.review.min(v.reject));
    let h = ui.available_height();
    let w = ui.available_width();
    ui.label(
        RichText::new(
            "Score histogram per true class · click or drag to move the reject threshold",
        )
        .small(),
    );
    let mut ymax = 1.0f64;
    for (_, counts) in &data.hist.classes {
        ymax = ymax.max(counts.iter().copied().max().unwrap_or(0) as f64);
    }
    let prod_scale = if data.production.is_empty() {
        0.0
    } else {
        ymax / data
            .production_hist
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64
    };
    let hist = &data.hist;
    let resp = Plot::new("score_hist")
        .height(h * 0.48)
        .legend(Legend::default().position(Corner::RightTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(0.0)
        .x_axis_label("score")
        .y_axis_label("items")
        .show(ui, |p| {
            if let Some(r) = review {
                p.polygon(
                    Polygon::new(
                        "review band",
                        vec![
                            [r, 0.0],
                            [v.reject, 0.0],
                            [v.reject, ymax * 1.05],
                            [r, ymax * 1.05],
                        ],
                    )
                    .fill_color(theme::REVIEW.gamma_multiply(0.25))
                    .stroke(egui::Stroke::NONE),
                );
            }
            if prod_scale > 0.0 {
                let pts: Vec<[f64; 2]> = data
                    .production_hist
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        [
                            hist.lo + (i as f64 + 0.5) * hist.width,
                            *n as f64 * prod_scale,
                        ]
                    })
                    .collect();
                p.line(
                    Line::new("production (scaled)", pts)
                        .color(Color32::GRAY)
                        .width(1.5),
                );
            }
            for (i, (class, counts)) in hist.classes.iter().enumerate() {
                let colour = class_colour(i.saturating_sub(1), class);
                let bars = counts
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(b, n)| {
                        Bar::new(hist.lo + (b as f64 + 0.5) * hist.width, *n as f64)
                            .width(hist.width * 0.9)
                            .fill(colour.gamma_multiply(0.55))
                            .stroke(egui::Stroke::new(1.0, colour))
                    })
                    .collect();
                p.bar_chart(BarChart::new(class.clone(), bars).color(colour));
            }
            if let Some(r) = review {
                p.vline(
                    VLine::new("review threshold", r)
                        .color(theme::REVIEW)
                        .width(2.0),
                );
            }
            p.vline(
                VLine::new("reject threshold", v.reject)
                    .color(theme::REJECT)
                    .width(2.5),
            );
            let r = p.response();
            if (r.clicked() || r.dragged())
                && let Some(pt) = p.pointer_coordinate()
            {
                Some(pt.x)
            } else {
                None
            }
        });
    if let Some(x) = resp.inner {
        v.reject = x;
        if v.review_on {
            v.review = v.review.min(v.reject);
        }
    }
    let op = data.set.at(v.reject);
    let c = op.confusion;
    let (n_good, n_def) = (
        data.set.good().max(1) as f64,
        data.set.defective().max(1) as f64,
    );
    ui.columns(2, |cols| {
        cols[0].label(
            RichText::new(format!(
                "ROC · AUROC {}",
                data.auroc.map(num).unwrap_or_else(|| "n/a".into())
            ))
            .small(),
        );
        Plot::new("roc")
            .height(h * 0.42)
            .width(w * 0.49)
            .data_aspect(1.0)
            .include_x(0.0)
            .include_x(1.0)
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("false-reject rate")
            .y_axis_label("recall")
            .allow_scroll(false)
            .show(&mut cols[0], |p| {
                p.line(
                    Line::new("ROC", data.roc.clone())
                        .color(cols_text())
                        .allow_band(false)
                        .width(2.0),
                );
                p.points(
                    Points::new(
                        "operating point",
                        vec![[c.false_pos as f64 / n_good, c.true_pos as f64 / n_def]],
                    )
                    .radius(6.0)
                    .color(theme::REJECT),
                );
            });
        cols[1].label(
            RichText::new(format!(
                "Precision-recall · AP {}",
                data.ap.map(num).unwrap_or_else(|| "n/a".into())
            ))
            .small(),
        );
        Plot::new("pr")
            .height(h * 0.42)
            .width(w * 0.49)
            .include_x(0.0)
            .include_x(1.0)
            .include_y(0.0)
            .include_y(1.05)
            .x_axis_label("recall")
            .y_axis_label("precision")
            .allow_scroll(false)
            .show(&mut cols[1], |p| {
                p.line(
                    Line::new("PR", data.pr.clone())
                        .color(cols_text())
                        .allow_band(false)
                        .width(2.0),
                );
                if !op.precision.is_nan() {
                    p.points(
                        Points::new("operating point", vec![[op.recall, op.precision]])
                            .radius(6.0)
                            .color(theme::REJECT),
                    );
                }
            });
    });
}

/// Neutral curve colour (state colours are kept for the operating point).
fn cols_text() -> Color32 {
    Color32::from_rgb(120, 170, 220)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::Tab;
    use crate::ui::tests::step_until;
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use foodqc::capture::SourceSpec;
    use foodqc::domain::AppPaths;
    use foodqc::model::AnomalyModel;
    use std::time::Instant;

    fn harness(dir: &std::path::Path) -> Harness<'static, FoodQcApp> {
        let paths = AppPaths {
            data_dir: dir.to_path_buf(),
        };
        let model = Arc::new(AnomalyModel::bundled().unwrap());
        let mut h = Harness::builder()
            .with_size(egui::vec2(1400.0, 860.0))
            .build_eframe(move |cc| {
                FoodQcApp::new(cc, paths, model, Some(SourceSpec::Synthetic { seed: 5 }))
            });
        h.state_mut().settings.tab = Tab::Thresholds;
        h
    }

    fn item(score: f64, class: &str) -> LabelledScore {
        LabelledScore {
            score,
            class: class.into(),
            origin: String::new(),
        }
    }

    /// The hand-checked set of `model::operating`'s tests: good 0.1 0.2 0.3 0.6, defective
    /// 0.5 0.7 0.8 0.9.
    fn fixed() -> Workbench {
        let items = vec![
            item(0.1, "good"),
            item(0.2, "good"),
            item(0.3, "good"),
            item(0.6, "good"),
            item(0.5, "crack"),
            item(0.7, "crack"),
            item(0.8, "burnt"),
            item(0.9, "burnt"),
        ];
        Workbench::build("fixed".into(), items, vec![0.2, 0.4, 0.95])
    }

    #[test]
    fn slider_moves_the_confusion_matrix_and_snaps_find_the_expected_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path());
        h.state_mut().thresholds.set_data(fixed());
        h.step();
        h.step();

        h.get_by_role_and_label(Role::Slider, "Reject threshold")
            .set_value_accesskit(0.55);
        h.step();
        h.step();
        assert!((h.state().thresholds.reject - 0.55).abs() < 1e-9);
        h.get_by_label("TP 3 FP 1 TN 3 FN 1");
        h.get_by_label("At 0.550");
        let op = h.state().thresholds.point().unwrap();
        assert_eq!((op.precision, op.recall, op.f1), (0.75, 0.75, 0.75));
        assert_eq!((op.false_reject_rate, op.escape_rate), (0.25, 0.25));
        assert_eq!(
            h.get_all_by_label("25.0 %").count(),
            2,
            "false rejects and escapes"
        );

        h.get_by_role_and_label(Role::Slider, "Reject threshold")
            .set_value_accesskit(0.25);
        h.step();
        h.step();
        h.get_by_label("TP 4 FP 2 TN 2 FN 0");

        // Snaps on the fixed set (hand-computed in model::operating's tests).
        h.get_by_label("max F1").click();
        h.step();
        h.step();
        assert!((h.state().thresholds.reject - 0.4).abs() < 1e-12);
        h.get_by_label("TP 4 FP 1 TN 3 FN 0");

        h.state_mut().thresholds.target_escape = 0.25;
        h.get_by_label("escape <=").click();
        h.step();
        h.step();
        assert!((h.state().thresholds.reject - 0.65).abs() < 1e-12);
        h.get_by_label("TP 3 FP 0 TN 4 FN 1");

        h.state_mut().thresholds.target_frr = 0.25;
        h.get_by_label("false reject <=").click();
        h.step();
        h.step();
        assert!((h.state().thresholds.reject - 0.4).abs() < 1e-12);

        // Review band: 0.35..0.65 holds one good (0.6) and one defective (0.5) item.
        h.state_mut().thresholds.review_on = true;
        h.step();
        h.get_by_role_and_label(Role::Slider, "Review threshold")
            .set_value_accesskit(0.35);
        h.get_by_role_and_label(Role::Slider, "Reject threshold")
            .set_value_accesskit(0.65);
        h.step();
        h.step();
        let b = h.state().thresholds.bands().unwrap();
        assert_eq!((b.review_good, b.review_defective), (1, 1));
        h.get_by_label("Bands (good / defective): pass 3 / 0 · review 1 / 1 · reject 0 / 3");
        // Production: 0.95 of [0.2, 0.4, 0.95] is rejected, 0.4 goes to review.
        h.get_by_label("On the last 3 production items: 33.3 % rejected, 33.3 % to review");
    }

    #[test]
    fn apply_reaches_the_line_and_the_database_and_revert_restores() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path());
        step_until(&mut h, "the line running", |app| app.stats.items >= 2);
        h.state_mut().thresholds.set_data(fixed());
        let original = h.state().model.thresholds.clone();
        h.state_mut().thresholds.take_thresholds(&original);
        // Everything into the review band: every judged item must now come out as review.
        {
            let v = &mut h.state_mut().thresholds;
            v.review_on = true;
            v.review = 0.0;
            v.reject = 1e6;
            v.why = "review everything (test)".into();
        }
        h.step();
        h.get_by_label("Apply to the line").click();
        step_until(&mut h, "applied", |app| {
            app.thresholds.history.len() == 1 && !app.thresholds.is_busy()
        });
        assert_eq!(h.state().model.thresholds.reject, 1e6);
        let reviews_before = h.state().stats.reviews;
        step_until(&mut h, "review verdicts on the line", |app| {
            app.stats.reviews > reviews_before + 2
        });
        let db = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        let id = db
            .model_version_id(&h.state().model.version)
            .unwrap()
            .unwrap();
        let cur = db.current_thresholds(id).unwrap().unwrap();
        assert_eq!(cur.thresholds.review, Some(0.0));
        assert_eq!(cur.reason, "review everything (test)");
        let audit = db.audit_entries(50).unwrap();
        let entry = audit
            .iter()
            .find(|e| e.action == "model.thresholds")
            .unwrap();
        assert_eq!(entry.details["old"]["reject"], original.reject);
        assert_eq!(entry.details["new"]["reject"], 1e6);
        // Review items are saved as samples for the Label tab.
        step_until(&mut h, "review samples in the labelling queue", |app| {
            foodqc::store::Store::open(&app.paths.db_path())
                .and_then(|s| s.unlabelled_samples(1))
                .is_ok_and(|v| !v.is_empty())
        });

        // A second setting, then revert to the first one.
        h.state_mut().thresholds.review_on = false;
        h.state_mut().thresholds.reject = 2.5;
        h.step();
        h.get_by_label("Apply to the line").click();
        step_until(&mut h, "second apply", |app| {
            app.thresholds.history.len() == 2 && !app.thresholds.is_busy()
        });
        assert_eq!(h.state().model.thresholds.review, None);
        // The history sits below the fold of the scrolling panel: click it the accessible way.
        h.get_by_label("Revert").click_accesskit();
        step_until(&mut h, "reverted", |app| {
            app.thresholds.history.len() == 3 && !app.thresholds.is_busy()
        });
        assert_eq!(h.state().model.thresholds.reject, 1e6);
        assert_eq!(h.state().thresholds.history[0].reason, "revert to #1");
    }

    /// Measurement, not a timed test: per-frame UI work of the tab while the slider moves
    /// over 10,000 scored items. Prints the numbers; run with `--nocapture` to see them.
    #[test]
    fn slider_drag_over_10k_items_measured() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path());
        // Deterministic pseudo-random scores: 9,000 good around 0.6, 1,000 defective around 1.6.
        let mut x: u64 = 42;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let items: Vec<LabelledScore> = (0..10_000)
            .map(|i| {
                let (base, class) = if i % 10 == 0 {
                    (1.6, if i % 20 == 0 { "crack" } else { "burnt" })
                } else {
                    (0.6, "good")
                };
                item(base + (next() + next() + next() - 1.5) * 0.5, class)
            })
            .collect();
        let t0 = Instant::now();
        let w = Workbench::build(
            "measure".into(),
            items,
            (0..10_000).map(|_| next() * 2.0).collect(),
        );
        let build_ms = t0.elapsed().as_secs_f64() * 1000.0;
        h.state_mut().thresholds.set_data(w);
        h.state_mut().thresholds.review_on = true;
        // Measure the tab's own work, not the station's threads competing for the CPU.
        h.state().send(foodqc::station::StationCommand::Pause);
        h.step();
        h.step();
        let mut step_ms = Vec::new();
        for i in 0..200 {
            let t = 0.3 + 1.5 * (i as f64 / 200.0);
            h.get_by_role_and_label(Role::Slider, "Reject threshold")
                .set_value_accesskit(t);
            let s = Instant::now();
            h.step();
            step_ms.push(s.elapsed().as_secs_f64() * 1000.0);
        }
        // The slider keeps 3 decimals.
        assert!((h.state().thresholds.reject - (0.3 + 1.5 * 199.0 / 200.0)).abs() < 1e-3);
        let q = |v: &[f64], p: f64| foodqc::model::metrics::quantile(v, p);
        let ui_p50 = h.state().frame_times.quantile(0.5);
        let ui_p95 = h.state().frame_times.quantile(0.95);
        println!(
            "thresholds tab, 10,000 items: build {build_ms:.1} ms once; per frame while dragging: app ui {ui_p50:.2} ms p50 / {ui_p95:.2} ms p95; whole egui step {:.2} ms p50 / {:.2} ms p95",
            q(&step_ms, 0.5),
            q(&step_ms, 0.95)
        );
    }
}
