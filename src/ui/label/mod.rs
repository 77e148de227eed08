//! Label tab: the queue of unlabelled samples (most uncertain first), keyboard-first
//! labelling with undo, an optional defect mask painted over the item, the defect taxonomy,
//! the label counts, and import / export of sample files. Every database and file access is a
//! command to the desk worker.

mod files;
mod queue;
mod sample_view;
mod taxonomy;

use std::sync::Arc;
use std::time::Duration;

use foodqc::domain::{GOOD, Permission};
use foodqc::services::desk::{Command, Event, Status, Topic};
use foodqc::store::{DefectClass, QueueEntry, QueueFilter};
use image::{GrayImage, RgbImage};

use super::action::{Action, TabCtx};
use super::theme;

/// What the tab knows from the worker.
#[derive(Clone, Default)]
pub struct LabelData {
    /// The queue, most uncertain first.
    pub queue: Vec<QueueEntry>,
    /// The defect taxonomy.
    pub classes: Vec<DefectClass>,
    /// Samples per current label.
    pub counts: Vec<(String, i64)>,
    /// Sources for the filter menu.
    pub sources: Vec<String>,
    /// Labels given in this session, newest last: (label id, sample id).
    pub given: Vec<(i64, i64)>,
    /// Samples scored by the current model in the background so far.
    pub scored: usize,
    /// The last failure, shown until the next answer.
    pub status: Status,
}

/// The sample on screen: its pixels and texture.
struct SampleImage {
    id: i64,
    texture: egui::TextureHandle,
    image: Arc<RgbImage>,
}

/// The Label tab's UI state.
pub struct LabelTab {
    /// Data as last seen.
    pub data: LabelData,
    filter: QueueFilter,
    lot_text: String,
    /// Index of the selected sample in the queue.
    pub selected: usize,
    /// Samples labelled here but maybe still in the (stale) queue: hidden.
    done: std::collections::HashSet<i64>,
    image: Option<SampleImage>,
    /// The sample whose image was asked for.
    image_asked: Option<i64>,
    image_error: Option<String>,
    mask: Option<(i64, GrayImage, bool)>,
    mask_texture: Option<egui::TextureHandle>,
    mask_mode: bool,
    brush: f32,
    new_class: String,
    last_refresh: Option<std::time::Instant>,
    /// Import or export: running (with progress) or finished (until dismissed).
    pub files: Status,
}

impl Default for LabelTab {
    fn default() -> Self {
        Self {
            data: LabelData::default(),
            filter: QueueFilter::default(),
            lot_text: String::new(),
            selected: 0,
            done: Default::default(),
            image: None,
            image_asked: None,
            image_error: None,
            mask: None,
            mask_texture: None,
            mask_mode: false,
            brush: 10.0,
            new_class: String::new(),
            last_refresh: None,
            files: Status::Idle,
        }
    }
}

impl LabelTab {
    /// Take an event of the worker (labelling and files).
    pub fn on_event(&mut self, ev: Event, ctx: &egui::Context) {
        match ev {
            Event::LabelQueue(q) => {
                // Once the worker's queue no longer holds a sample labelled here, forget it.
                let in_queue: std::collections::HashSet<i64> =
                    q.queue.iter().map(|q| q.sample.id).collect();
                self.done.retain(|id| in_queue.contains(id));
                let d = &mut self.data;
                d.queue = q.queue;
                d.classes = q.classes;
                d.counts = q.counts;
                d.sources = q.sources;
                d.scored += q.scored;
                d.status = Status::Idle;
            }
            Event::Labelled {
                label_id,
                sample_id,
                counts,
            } => {
                self.data.given.push((label_id, sample_id));
                self.data.counts = counts;
                self.data.status = Status::Idle;
            }
            Event::Unlabelled { label_id, counts } => {
                self.data.given.retain(|(l, _)| *l != label_id);
                self.data.counts = counts;
                self.data.status = Status::Idle;
            }
            Event::DefectClasses(c) => self.data.classes = c,
            Event::SampleImage { sample_id, image } => self.take_image(ctx, sample_id, image),
            Event::Status(Topic::Files, s) => self.files = s,
            Event::Status(_, s) => self.data.status = s,
            _ => {}
        }
    }

    fn take_image(
        &mut self,
        ctx: &egui::Context,
        sample_id: i64,
        image: Result<Arc<RgbImage>, String>,
    ) {
        if self.image_asked != Some(sample_id) {
            return;
        }
        match image {
            Ok(img) => {
                let c = egui::ColorImage::from_rgb(
                    [img.width() as usize, img.height() as usize],
                    img.as_raw(),
                );
                let texture = ctx.load_texture("label_sample", c, egui::TextureOptions::LINEAR);
                self.image = Some(SampleImage {
                    id: sample_id,
                    texture,
                    image: img,
                });
                self.image_error = None;
            }
            Err(e) => self.image_error = Some(e),
        }
    }

    fn refresh(&mut self, ctx: &TabCtx, actions: &mut Vec<Action>) {
        actions.push(
            Command::RefreshLabelQueue {
                filter: self.filter.clone(),
                model: ctx.model.clone(),
            }
            .into(),
        );
        self.last_refresh = Some(std::time::Instant::now());
    }

    /// The queue without the samples labelled since it was read.
    pub fn visible(&self) -> Vec<&QueueEntry> {
        self.data
            .queue
            .iter()
            .filter(|q| !self.done.contains(&q.sample.id))
            .collect()
    }

    fn assign(&mut self, label: String, actions: &mut Vec<Action>) {
        let visible = self.visible();
        let Some(entry) = visible.get(self.selected.min(visible.len().saturating_sub(1))) else {
            return;
        };
        let sample_id = entry.sample.id;
        let mask = match &self.mask {
            Some((id, m, true)) if *id == sample_id && label != GOOD => {
                let path = entry.sample.path.with_extension("mask.png");
                Some((path, m.clone()))
            }
            _ => None,
        };
        actions.push(
            Command::Label {
                sample_id,
                label,
                mask,
            }
            .into(),
        );
        self.done.insert(sample_id);
        self.mask = None;
        self.mask_mode = false;
    }

    fn undo(&mut self, actions: &mut Vec<Action>) {
        if let Some((label_id, sample_id)) = self.data.given.last().copied() {
            actions.push(Command::UndoLabel(label_id).into());
            self.data.given.pop();
            self.done.remove(&sample_id);
            // Back to the sample just un-labelled.
            if let Some(i) = self.visible().iter().position(|q| q.sample.id == sample_id) {
                self.selected = i;
            }
        }
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) -> Vec<Action> {
        let mut actions = Vec::new();
        if self
            .last_refresh
            .is_none_or(|t| t.elapsed() > Duration::from_secs(3))
        {
            self.refresh(ctx, &mut actions);
        }
        // Labels and taxonomy edits are a technician's or data scientist's; others see the
        // queue read-only (the desk worker refuses them too).
        let may = ctx.session.may(Permission::Label);
        if may {
            self.keys(ui, &mut actions);
        }
        // Side panels in proportion at small windows: the sample in the middle keeps room for
        // its class buttons (Spanish names run longer).
        let width = ui.available_width();
        egui::Panel::right("label_side")
            .resizable(true)
            .default_size((width * 0.27).clamp(240.0, 300.0))
            .show(ui, |ui| {
                ui.add_enabled_ui(may, |ui| self.side_panel(ui, &mut actions))
                    .response
                    .on_disabled_hover_text(ctx.session.why_not(Permission::Label));
            });
        egui::Panel::left("label_queue")
            .resizable(true)
            .default_size((width * 0.32).clamp(260.0, 380.0))
            .show(ui, |ui| self.queue_panel(ui, ctx, &mut actions));
        egui::CentralPanel::default().show(ui, |ui| {
            if !may {
                ui.colored_label(theme::WARN, ctx.session.why_not(Permission::Label));
            }
            ui.add_enabled_ui(may, |ui| self.sample_view(ui, &mut actions));
        });
        actions
    }

    fn keys(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        if ui.ctx().egui_wants_keyboard_input() {
            return;
        }
        const DIGITS: [egui::Key; 10] = [
            egui::Key::Num0,
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
            egui::Key::Num6,
            egui::Key::Num7,
            egui::Key::Num8,
            egui::Key::Num9,
        ];
        let (pressed, up, down, undo, mask) = ui.input(|i| {
            (
                DIGITS.iter().position(|k| i.key_pressed(*k)),
                i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::Z),
                i.key_pressed(egui::Key::M),
            )
        });
        if let Some(k) = pressed {
            let label = if k == 0 {
                Some(GOOD.to_string())
            } else {
                self.data
                    .classes
                    .iter()
                    .find(|c| c.hotkey == Some(k as u8))
                    .map(|c| c.name.clone())
            };
            if let Some(l) = label {
                self.assign(l, actions);
            }
        }
        let n = self.visible().len();
        if up {
            self.selected = self.selected.saturating_sub(1);
        }
        if down && self.selected + 1 < n {
            self.selected += 1;
        }
        if undo {
            self.undo(actions);
        }
        if mask {
            self.mask_mode = !self.mask_mode;
        }
    }
}

/// A sample's stored source as the reader says it: the station stores `frame N` for a frame
/// without a file name (a data value, kept in English in the database and exports).
pub(crate) fn source_text(source: &str) -> String {
    match source.strip_prefix("frame ") {
        Some(n) if n.chars().all(|c| c.is_ascii_digit()) => {
            foodqc::tr!("label-source-frame", frame = n)
        }
        _ => source.to_string(),
    }
}
