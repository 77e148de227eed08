//! Live tab: the line feed with verdict overlays, the big counters, the lot being produced,
//! and the alarm banner while the line is out of control.

use std::sync::Arc;

use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, TextureHandle, Vec2};
use foodqc::domain::Permission;
use foodqc::domain::Verdict;
use foodqc::inspect::{InspectedItem, Inspection};
use foodqc::station::{LotInfo, StationCommand};
use foodqc::store::LotStatus;
use foodqc::tr;
use serde::{Deserialize, Serialize};

use super::action::{Action, TabCtx};
use super::session::guarded;
use super::theme;

/// The Live tab: what persists (overlay switches, lot) and the latest inspection on screen.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct LiveTab {
    /// Draw the anomaly heat map on the live view.
    pub show_heat: bool,
    /// Draw score labels on the live view.
    pub show_scores: bool,
    /// Lot being produced.
    pub lot: LotInfo,
    /// The Line panel: outputs' state and the line outputs setting.
    pub line: super::line_panel::LinePanel,
    /// The recipe editor window.
    #[serde(skip)]
    pub recipes: super::recipe_editor::RecipeEditor,
    #[serde(skip)]
    texture: Option<TextureHandle>,
    #[serde(skip)]
    current: Option<Arc<Inspection>>,
    /// Reject rate history (one point per second-ish) for the sparkline.
    #[serde(skip)]
    history: std::collections::VecDeque<f32>,
    #[serde(skip)]
    last_history: Option<std::time::Instant>,
    /// The window's further cameras (`--source` repeated), each its own station.
    #[serde(skip)]
    extras: Vec<CameraTile>,
    /// The camera shown alone after a click on its tile (0: the main one).
    #[serde(skip)]
    enlarged: Option<usize>,
    /// The camera last clicked: the side panel is about it (0: the main one).
    #[serde(skip)]
    selected: usize,
    /// The main camera's station name, for its tile.
    #[serde(skip)]
    main_name: String,
    /// Width of a grid tile on screen, pixels (0: one camera shown alone).
    #[serde(skip)]
    tile_width_px: f32,
    /// When the main camera's picture was last uploaded.
    #[serde(skip)]
    uploaded_at: Option<std::time::Instant>,
}

/// A further camera's state as the app reads it each frame.
pub struct CameraState {
    /// Station name.
    pub name: String,
    /// Its counters.
    pub stats: foodqc::station::StationStats,
    /// Its latest inspection.
    pub latest: Option<Arc<Inspection>>,
    /// Why it is not running, if it is not.
    pub error: Option<String>,
}

/// One further camera on the Live grid: its counters and latest frame.
pub struct CameraTile {
    /// Station name.
    pub name: String,
    /// Its counters.
    pub stats: foodqc::station::StationStats,
    /// Why it is not running, if it is not.
    pub error: Option<String>,
    /// The lot code being typed for this camera.
    lot_code: String,
    current: Option<Arc<Inspection>>,
    texture: Option<TextureHandle>,
    uploaded_at: Option<std::time::Instant>,
}

/// `img` as an egui image, every `step`-th pixel of every `step`-th row: a tile a quarter of
/// the screen wide needs a quarter of the pixels, and converting and uploading full frames
/// for every camera costs the cameras CPU.
fn color_image(img: &image::RgbImage, step: u32) -> egui::ColorImage {
    if step <= 1 {
        return egui::ColorImage::from_rgb(
            [img.width() as usize, img.height() as usize],
            img.as_raw(),
        );
    }
    let (w, h) = (img.width() / step, img.height() / step);
    let mut pixels = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = img.get_pixel(x * step, y * step).0;
            pixels.push(Color32::from_rgb(r, g, b));
        }
    }
    egui::ColorImage::new([w as usize, h as usize], pixels)
}

/// Put `color` into the texture in `slot`, made under `name` the first time.
fn upload(
    ctx: &egui::Context,
    slot: &mut Option<TextureHandle>,
    name: &str,
    color: egui::ColorImage,
) {
    match slot {
        Some(t) => t.set(color, egui::TextureOptions::LINEAR),
        None => *slot = Some(ctx.load_texture(name, color, egui::TextureOptions::LINEAR)),
    }
}

/// A tile's picture is refreshed at most this often: a grid of small tiles reads as live at
/// 15 FPS, and every upload of a full frame costs the cameras CPU.
const TILE_REFRESH: std::time::Duration = std::time::Duration::from_millis(66);

/// The subsampling of a frame `frame_width` wide shown in a tile `tile_width_px` wide; 0 when
/// not in a grid (`tile_width_px` 0).
fn step_for(tile_width_px: f32, frame_width: u32) -> u32 {
    if tile_width_px <= 0.0 {
        return 0;
    }
    (frame_width as f32 / tile_width_px).floor().clamp(1.0, 4.0) as u32
}

impl Default for LiveTab {
    fn default() -> Self {
        Self {
            show_heat: true,
            show_scores: true,
            lot: LotInfo::default(),
            line: Default::default(),
            recipes: Default::default(),
            texture: None,
            current: None,
            history: Default::default(),
            last_history: None,
            extras: Vec::new(),
            enlarged: None,
            selected: 0,
            main_name: String::new(),
            tile_width_px: 0.0,
            uploaded_at: None,
        }
    }
}

impl LiveTab {
    /// Take a new inspection; uploads the frame only when it changed (in a grid, as a tile is:
    /// at most every [`TILE_REFRESH`], at the tile's size).
    pub fn update(&mut self, ctx: &egui::Context, insp: Arc<Inspection>) {
        if self.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &insp)) {
            return;
        }
        let step = step_for(self.tile_width_px, insp.frame.width());
        if step > 0 && self.uploaded_at.is_some_and(|t| t.elapsed() < TILE_REFRESH) {
            return;
        }
        self.uploaded_at = Some(std::time::Instant::now());
        let color = color_image(&insp.frame, step);
        upload(ctx, &mut self.texture, "live", color);
        self.current = Some(insp);
    }

    /// The main camera's station name and the further cameras' state this frame: name,
    /// counters, latest inspection, error (in order). Frames are uploaded only when changed.
    pub fn update_extras(
        &mut self,
        ctx: &egui::Context,
        main_name: String,
        cams: Vec<CameraState>,
    ) {
        self.main_name = main_name;
        self.extras.truncate(cams.len());
        for (
            i,
            CameraState {
                name,
                stats,
                latest,
                error,
            },
        ) in cams.into_iter().enumerate()
        {
            if self.extras.len() <= i {
                self.extras.push(CameraTile {
                    name: name.clone(),
                    lot_code: stats.lot.clone(),
                    stats: Default::default(),
                    error: None,
                    current: None,
                    texture: None,
                    uploaded_at: None,
                });
            }
            let tile = &mut self.extras[i];
            tile.name = name;
            tile.stats = stats;
            tile.error = error;
            let due = tile.uploaded_at.is_none_or(|t| t.elapsed() >= TILE_REFRESH);
            if let Some(insp) = latest
                && due
                && !tile.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &insp))
            {
                tile.uploaded_at = Some(std::time::Instant::now());
                let step = step_for(self.tile_width_px, insp.frame.width());
                let color = color_image(&insp.frame, step);
                upload(ctx, &mut tile.texture, &format!("camera-{i}"), color);
                tile.current = Some(insp);
            }
        }
        if self.enlarged.is_some_and(|e| e > self.extras.len()) {
            self.enlarged = None;
        }
        if self.selected > self.extras.len() {
            self.selected = 0;
        }
    }

    /// How often the window needs repainting while the line runs: at the camera rate (30
    /// FPS) for one camera, at the tiles' refresh for a grid. More often shows no new picture
    /// and takes CPU from the cameras (with software rendering, most of the window's cost).
    pub fn repaint_interval(&self) -> std::time::Duration {
        if self.tile_width_px > 0.0 {
            TILE_REFRESH
        } else {
            std::time::Duration::from_millis(33)
        }
    }

    /// The further cameras' tiles, in order.
    #[cfg(test)]
    pub fn camera_tiles(&self) -> &[CameraTile] {
        &self.extras
    }

    /// Whether tile `i` has a frame on screen.
    #[cfg(test)]
    pub fn tile_has_frame(&self, i: usize) -> bool {
        self.extras.get(i).is_some_and(|t| t.current.is_some())
    }

    /// Choose camera `i` as a click on its tile does (without enlarging it).
    #[cfg(test)]
    pub fn select_camera(&mut self, i: usize) {
        self.selected = i;
    }

    /// Type `code` into the selected camera's lot field.
    #[cfg(test)]
    pub fn type_lot(&mut self, code: &str) {
        match self.selected.checked_sub(1) {
            Some(i) => self.extras[i].lot_code = code.into(),
            None => self.lot.code = code.into(),
        }
    }

    /// The camera the side panel is about and its lot, recipe and capture go to: the one
    /// last clicked, else the main one (0).
    pub fn selected_camera(&self) -> usize {
        self.selected
    }

    /// Forget the current frame (after a source switch).
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// The inspection on screen.
    pub fn current(&self) -> Option<&Arc<Inspection>> {
        self.current.as_ref()
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) -> Vec<Action> {
        let mut actions = Vec::new();
        alarm_banner(ui, ctx);
        egui::Panel::right("counters")
            .resizable(false)
            .exact_size(250.0)
            .show(ui, |ui| {
                // At the minimum window height the legend (and in Spanish the capture button)
                // would be cut off: scroll instead.
                // The bar stays visible so a panel taller than the window reads as "more
                // below", not as cut off.
                theme::visible_scroll_bars(ui);
                egui::ScrollArea::vertical()
                    .id_salt("counters_scroll")
                    .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
                    .show(ui, |ui| self.counters(ui, ctx, &mut actions));
            });
        egui::CentralPanel::default().show(ui, |ui| self.feed(ui, ctx));
        self.recipes.ui(ui.ctx(), ctx, &mut actions);
        actions
    }
}

fn big_number(ui: &mut egui::Ui, label: String, value: String, color: Option<Color32>) {
    ui.label(egui::RichText::new(label).small());
    let mut text = egui::RichText::new(value).size(theme::BIG_NUMBER).strong();
    if let Some(c) = color {
        text = text.color(c);
    }
    ui.label(text);
    ui.add_space(4.0);
}

impl LiveTab {
    fn counters(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.add_space(6.0);
        // With several cameras the panel is about the selected one (enlarged by a click).
        let selected = self.selected_camera();
        let tile_stats = selected
            .checked_sub(1)
            .and_then(|i| self.extras.get(i))
            .map(|t| t.stats.clone());
        let ctx = &match &tile_stats {
            Some(stats) => TabCtx { stats, ..*ctx },
            None => TabCtx { ..*ctx },
        };
        if !self.extras.is_empty() {
            let name = match selected {
                0 => self.main_name.clone(),
                i => self.extras[i - 1].name.clone(),
            };
            ui.label(egui::RichText::new(tr!("live-camera-selected", camera = name)).strong())
                .on_hover_text(tr!("live-camera-selected-tip"));
        }
        self.lot_editor(ui, ctx, actions);
        self.recipe_picker(ui, ctx, actions);
        let s = ctx.stats;
        egui::Grid::new("line_ids").num_columns(2).show(ui, |ui| {
            ui.label(tr!("live-model"));
            // Elided when long; egui shows the full version on hover.
            ui.add(egui::Label::new(egui::RichText::new(&s.model_version).small()).truncate());
            ui.end_row();
        });
        ui.separator();
        // Two numbers a row: one a row pushed the capture button below the minimum window's
        // edge (it scrolled, but looked cut off).
        ui.columns(2, |cols| {
            big_number(
                &mut cols[0],
                tr!("live-items-inspected"),
                s.items.to_string(),
                None,
            );
            big_number(
                &mut cols[1],
                tr!("live-rejected"),
                s.rejects.to_string(),
                (s.rejects > 0).then_some(theme::REJECT),
            );
        });
        ui.columns(2, |cols| {
            big_number(
                &mut cols[0],
                tr!("live-to-review"),
                s.reviews.to_string(),
                (s.reviews > 0).then_some(theme::REVIEW),
            );
            big_number(
                &mut cols[1],
                tr!("live-reject-rate"),
                foodqc::i18n::format_percent(s.reject_rate(), 1),
                None,
            );
        });
        self.sparkline(ui, s.reject_rate() as f32);
        ui.label(egui::RichText::new(tr!("live-reject-rate-trend")).small());
        ui.add_space(8.0);
        ui.separator();
        line_stats(ui, s);
        // The line outputs are the main camera's (one PLC ring serves one station).
        if selected == 0 {
            self.line.ui(ui, ctx, actions);
        }
        ui.separator();
        ui.checkbox(&mut self.show_heat, tr!("live-heat-map"));
        ui.checkbox(&mut self.show_scores, tr!("live-scores"));
        let capture = egui::Button::new(tr!("live-capture"));
        if guarded(ui, ctx.session, Permission::CaptureSamples, true, capture)
            .on_hover_text(tr!("live-capture-tip"))
            .clicked()
        {
            actions.push(StationCommand::CaptureNext.into());
        }
        ui.separator();
        legend_block(ui);
    }

    /// Sparkline of the reject rate, one point per second.
    fn sparkline(&mut self, ui: &mut egui::Ui, rate: f32) {
        if self
            .last_history
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1))
        {
            self.history.push_back(rate);
            if self.history.len() > 120 {
                self.history.pop_front();
            }
            self.last_history = Some(std::time::Instant::now());
        }
        let (rect, _) =
            ui.allocate_exact_size(Vec2::new(ui.available_width(), 36.0), egui::Sense::hover());
        ui.painter().rect_stroke(
            rect,
            2.0,
            ui.visuals().widgets.noninteractive.bg_stroke,
            StrokeKind::Inside,
        );
        if self.history.len() >= 2 {
            let max = self.history.iter().copied().fold(0.05f32, f32::max);
            let n = self.history.len();
            let pts: Vec<Pos2> = self
                .history
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    Pos2::new(
                        rect.left() + rect.width() * i as f32 / (n - 1) as f32,
                        rect.bottom() - rect.height() * (v / max),
                    )
                })
                .collect();
            ui.painter().add(egui::Shape::line(
                pts,
                Stroke::new(1.5, ui.visuals().text_color()),
            ));
        }
    }

    /// The recipe judged with: shown, and switched between two frames by choosing another
    /// (people who run the line; the switch is audited under their name); the editor opens
    /// from here.
    fn recipe_picker(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        // Wrapped: in Spanish the row is wider than the panel.
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(tr!("live-recipe")).id;
            let current = if ctx.stats.recipe.is_empty() {
                tr!("live-recipe-none")
            } else {
                ctx.stats.recipe.clone()
            };
            let may = ctx.session.may(Permission::RunLine) && !ctx.snapshot.recipes.is_empty();
            let mut chosen = None;
            ui.add_enabled_ui(may, |ui| {
                egui::ComboBox::from_id_salt("recipe_pick")
                    .selected_text(current)
                    .width(110.0)
                    .show_ui(ui, |ui| {
                        for r in &ctx.snapshot.recipes {
                            if ui.selectable_label(false, r.name.as_str()).clicked() {
                                chosen = Some(r.name.clone());
                            }
                        }
                    })
                    .response
                    .labelled_by(label);
            })
            .response
            .on_disabled_hover_text(if ctx.snapshot.recipes.is_empty() {
                tr!("live-recipe-none-saved")
            } else {
                ctx.session.why_not(Permission::RunLine)
            });
            if ui
                .button(tr!("live-recipe-edit"))
                .on_hover_text(tr!("live-recipe-edit-tip"))
                .clicked()
            {
                self.recipes.open();
            }
            if let (Some(name), Some(user)) = (chosen, &ctx.session.user) {
                actions.push(
                    StationCommand::SetRecipe {
                        name,
                        by: user.name.clone(),
                    }
                    .into(),
                );
            }
        });
    }

    /// The selected camera's lot: shown, and changed with Enter or the Apply button (a
    /// further camera's lot takes product, line and shift from the main one's).
    fn lot_editor(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let selected = self.selected_camera();
        let code = match selected.checked_sub(1) {
            Some(i) => &mut self.extras[i].lot_code,
            None => &mut self.lot.code,
        };
        let mut apply_code = None;
        ui.horizontal(|ui| {
            ui.label(tr!("live-lot"));
            let edit = ui.add(
                egui::TextEdit::singleline(code)
                    .desired_width(110.0)
                    .hint_text(tr!("live-lot-hint")),
            );
            let may = ctx.session.may(Permission::RunLine);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let changed = code.trim() != ctx.stats.lot;
            let apply = egui::Button::new(tr!("live-lot-apply"));
            if (guarded(ui, ctx.session, Permission::RunLine, changed, apply)
                .on_hover_text(tr!("live-lot-apply-tip"))
                .clicked()
                || (enter && changed && may))
                && !code.trim().is_empty()
            {
                *code = code.trim().to_string();
                apply_code = Some(code.clone());
            }
        });
        if let Some(code) = apply_code {
            let lot = LotInfo {
                code,
                ..self.lot.clone()
            };
            if selected == 0 {
                self.lot = lot.clone();
            }
            actions.push(StationCommand::SetLot(lot).into());
        }
    }

    /// The camera view: the main camera alone, or with further cameras a grid (1, 2x1, 2x2,
    /// 3x3...) of tiles with their counters; a click enlarges a tile, another click goes back.
    fn feed(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) {
        if self.extras.is_empty() {
            self.tile_width_px = 0.0;
            let avail = ui.available_rect_before_wrap();
            ui.allocate_rect(avail, egui::Sense::hover());
            self.draw_main(ui, avail, ctx);
            return;
        }
        let avail = ui.available_rect_before_wrap();
        let n = 1 + self.extras.len();
        let shown: Vec<usize> = match self.enlarged {
            Some(i) => vec![i],
            None => (0..n).collect(),
        };
        let cols = (shown.len() as f32).sqrt().ceil().max(1.0) as usize;
        let rows = shown.len().div_ceil(cols);
        let (w, h) = (avail.width() / cols as f32, avail.height() / rows as f32);
        self.tile_width_px = w * ui.ctx().pixels_per_point();
        for (k, &cam) in shown.iter().enumerate() {
            let (c, r) = (k % cols, k / cols);
            let tile = Rect::from_min_size(
                avail.min + Vec2::new(c as f32 * w, r as f32 * h),
                Vec2::new(w, h),
            )
            .shrink(3.0);
            let resp = ui.allocate_rect(tile, egui::Sense::click());
            let (name, stats, error) = if cam == 0 {
                (self.main_name.clone(), ctx.stats, ctx.station_error)
            } else {
                let t = &self.extras[cam - 1];
                (t.name.clone(), &t.stats, t.error.as_deref())
            };
            // The state colour: red when the camera has a problem, amber paused, green running.
            let state = if error.is_some() || stats.source_lost {
                theme::REJECT
            } else if stats.paused {
                theme::WARN
            } else {
                theme::PASS
            };
            let head = 22.0;
            let frame_rect = Rect::from_min_max(tile.min + Vec2::new(0.0, head), tile.max);
            if cam == 0 {
                self.draw_main(ui, frame_rect, ctx);
            } else {
                self.draw_extra(ui, frame_rect, cam - 1);
            }
            let painter = ui.painter_at(tile);
            painter.rect_stroke(tile, 2.0, Stroke::new(2.0, state), StrokeKind::Inside);
            if cam == self.selected && shown.len() > 1 {
                // The camera the side panel is about: a second, outer frame.
                ui.painter().rect_stroke(
                    tile.expand(2.0),
                    3.0,
                    Stroke::new(2.0, ui.visuals().selection.stroke.color),
                    StrokeKind::Outside,
                );
            }
            let label = tr!(
                "live-camera-tile",
                camera = name.as_str(),
                items = stats.items,
                rejects = stats.rejects,
                dropped = stats.frames_dropped
            );
            painter.text(
                tile.min + Vec2::new(6.0, 3.0),
                Align2::LEFT_TOP,
                label,
                FontId::proportional(14.0),
                ui.visuals().text_color(),
            );
            if let Some(e) = error {
                painter.text(
                    frame_rect.center(),
                    Align2::CENTER_CENTER,
                    e,
                    FontId::proportional(14.0),
                    theme::REJECT,
                );
            }
            if resp.on_hover_text(tr!("live-camera-tile-tip")).clicked() {
                self.selected = cam;
                self.enlarged = match self.enlarged {
                    Some(_) => None,
                    None => Some(cam),
                };
            }
        }
    }

    /// The main camera's frame and overlays, fitted into `avail`.
    fn draw_main(&self, ui: &mut egui::Ui, avail: Rect, ctx: &TabCtx) {
        let (Some(tex), Some(insp)) = (&self.texture, self.current().cloned()) else {
            let text = match ctx.station_error {
                Some(e) => tr!("live-not-running", error = e),
                None => tr!("live-waiting"),
            };
            ui.painter_at(avail).text(
                avail.center(),
                Align2::CENTER_CENTER,
                text,
                FontId::proportional(16.0),
                if ctx.station_error.is_some() {
                    theme::REJECT
                } else {
                    ui.visuals().text_color()
                },
            );
            return;
        };
        let rect = self.draw_frame(ui, avail, tex, &insp, ctx.model.thresholds.pixel as f32);
        if ctx.stats.paused {
            ui.painter_at(avail).text(
                rect.left_top() + Vec2::new(12.0, 12.0),
                Align2::LEFT_TOP,
                tr!("live-paused"),
                FontId::proportional(28.0),
                theme::WARN,
            );
        }
    }

    /// A further camera's frame and overlays, fitted into `avail`.
    fn draw_extra(&self, ui: &mut egui::Ui, avail: Rect, i: usize) {
        let t = &self.extras[i];
        if let (Some(tex), Some(insp)) = (&t.texture, &t.current) {
            // Its own model's pixel threshold is not known here: draw the outlines only.
            self.draw_frame(ui, avail, tex, insp, f32::INFINITY);
        }
    }

    /// Draw `insp` with its overlays centred in `avail`; the rectangle the frame took.
    fn draw_frame(
        &self,
        ui: &mut egui::Ui,
        avail: Rect,
        tex: &TextureHandle,
        insp: &Inspection,
        pixel_threshold: f32,
    ) -> Rect {
        let (fw, fh) = (insp.frame.width() as f32, insp.frame.height() as f32);
        let scale = (avail.width() / fw).min(avail.height() / fh);
        let size = Vec2::new(fw * scale, fh * scale);
        let rect = Rect::from_center_size(avail.center(), size);
        let painter = ui.painter_at(avail);
        painter.image(
            tex.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        let to_screen = |x: f32, y: f32| Pos2::new(rect.left() + x * scale, rect.top() + y * scale);
        for item in &insp.items {
            if self.show_heat && pixel_threshold.is_finite() {
                draw_heat(&painter, item, &to_screen, scale, pixel_threshold);
            }
            draw_item(&painter, item, &to_screen, self.show_scores);
        }
        rect
    }
}

fn line_stats(ui: &mut egui::Ui, s: &foodqc::station::StationStats) {
    egui::Grid::new("line_stats").num_columns(2).show(ui, |ui| {
        ui.label(tr!("live-fps"));
        ui.strong(foodqc::i18n::format_decimal(s.fps, 1));
        ui.end_row();
        ui.label(tr!("live-inspection-time"));
        ui.strong(format!(
            "{} ms",
            foodqc::i18n::format_decimal(s.last_inspect_ms, 1)
        ));
        ui.end_row();
        ui.label(tr!("live-dropped"));
        ui.strong(s.frames_dropped.to_string());
        ui.end_row();
        ui.label(tr!("live-frames"));
        ui.strong(s.frames_inspected.to_string());
        ui.end_row();
        if s.skipped_files > 0 {
            ui.label(tr!("live-skipped-files"));
            ui.colored_label(theme::WARN, s.skipped_files.to_string());
            ui.end_row();
        }
    });
}

fn legend_block(ui: &mut egui::Ui) {
    ui.label(egui::RichText::new(tr!("live-legend")).small());
    legend(ui, theme::PASS, &tr!("live-legend-pass"));
    legend(ui, theme::REJECT, &tr!("live-legend-reject"));
    legend(ui, theme::REVIEW, &tr!("live-legend-review"));
    legend(ui, theme::PARTIAL, &tr!("live-legend-partial"));
    legend(ui, theme::HEAT, &tr!("live-legend-heat"));
}

fn legend(ui: &mut egui::Ui, color: Color32, text: &str) {
    ui.horizontal(|ui| {
        let (r, _) = ui.allocate_exact_size(Vec2::splat(12.0), egui::Sense::hover());
        ui.painter().rect_filled(r, 2.0, color);
        ui.label(egui::RichText::new(text).small());
    });
}

/// The banner above the live view while the line is out of control or its lot is on hold.
fn alarm_banner(ui: &mut egui::Ui, ctx: &TabCtx) {
    let held = ctx
        .snapshot
        .lots
        .iter()
        .any(|l| l.code == ctx.stats.lot && l.status == LotStatus::Hold);
    if ctx.alarm.is_none() && !held {
        return;
    }
    egui::Panel::top("line_alarm").show(ui, |ui| {
        if let Some(a) = ctx.alarm {
            egui::Frame::new()
                .fill(theme::REJECT)
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.label(
                        egui::RichText::new(tr!("live-alarm", message = a.message()))
                            .color(Color32::WHITE)
                            .size(18.0)
                            .strong(),
                    );
                });
        }
        if held {
            ui.colored_label(
                theme::WARN,
                egui::RichText::new(tr!("live-lot-on-hold", lot = ctx.stats.lot.as_str())).strong(),
            );
        }
    });
}

fn draw_heat(
    painter: &egui::Painter,
    item: &InspectedItem,
    to_screen: &impl Fn(f32, f32) -> Pos2,
    scale: f32,
    threshold: f32,
) {
    let Some(h) = &item.heat else { return };
    // Below 0.8x the threshold the map only shows texture noise (sugar grains, chips).
    for (x, y, v) in h.cells_above(threshold * 0.8) {
        let alpha = ((v / (threshold * 2.0)).min(1.0) * 160.0) as u8;
        let cell = Rect::from_min_size(
            to_screen(x as f32, y as f32),
            Vec2::splat(h.cell as f32 * scale),
        );
        painter.rect_filled(
            cell,
            0.0,
            Color32::from_rgba_unmultiplied(255, 60, 200, alpha),
        );
    }
    for reg in &item.regions {
        let r = Rect::from_min_max(
            to_screen(reg.x as f32, reg.y as f32),
            to_screen((reg.x + reg.w) as f32, (reg.y + reg.h) as f32),
        );
        painter.rect_stroke(r, 0.0, Stroke::new(1.5, theme::HEAT), StrokeKind::Outside);
    }
}

fn draw_item(
    painter: &egui::Painter,
    item: &InspectedItem,
    to_screen: &impl Fn(f32, f32) -> Pos2,
    show_score: bool,
) {
    let pts: Vec<Pos2> = item.contour.iter().map(|p| to_screen(p[0], p[1])).collect();
    if pts.len() >= 3 {
        let mut closed = pts.clone();
        closed.push(pts[0]);
        match item.verdict {
            Some(Verdict::Reject) => {
                painter.extend(egui::Shape::dashed_line(
                    &closed,
                    Stroke::new(3.5, theme::REJECT),
                    10.0,
                    5.0,
                ));
            }
            Some(Verdict::Review) => {
                // Short dashes: neither the solid pass nor the long reject dashes.
                painter.extend(egui::Shape::dashed_line(
                    &closed,
                    Stroke::new(3.0, theme::REVIEW),
                    5.0,
                    4.0,
                ));
            }
            Some(Verdict::Pass) => {
                painter.add(egui::Shape::closed_line(pts, Stroke::new(2.0, theme::PASS)));
            }
            None => {
                painter.add(egui::Shape::closed_line(
                    pts,
                    Stroke::new(1.0, theme::PARTIAL),
                ));
            }
        }
    }
    if !show_score {
        return;
    }
    let (Some(score), Some(verdict)) = (item.score, item.verdict) else {
        return;
    };
    let class = item
        .defect_class
        .as_deref()
        .map(|c| format!(" {}", foodqc::i18n::class_name(c)))
        .unwrap_or_default();
    let score_text = foodqc::i18n::format_decimal(score, 2);
    let text = match verdict {
        Verdict::Reject => tr!("live-tag-reject", class = class, score = score_text),
        Verdict::Review => tr!("live-tag-review", class = class, score = score_text),
        Verdict::Pass => format!("✔ {score_text}"),
    };
    let color = match verdict {
        Verdict::Reject => theme::REJECT,
        Verdict::Review => theme::REVIEW,
        Verdict::Pass => theme::PASS,
    };
    let anchor = to_screen(item.bbox.x as f32, item.bbox.y as f32) - Vec2::new(0.0, 4.0);
    let galley = painter.layout_no_wrap(text, FontId::proportional(14.0), Color32::WHITE);
    let bg =
        Rect::from_min_size(anchor - Vec2::new(0.0, galley.size().y), galley.size()).expand(2.0);
    painter.rect_filled(bg, 3.0, color.gamma_multiply(0.85));
    painter.galley(bg.min + Vec2::splat(2.0), galley, Color32::WHITE);
}
