//! Label tab: the queue of unlabelled samples (most uncertain first), keyboard-first
//! labelling with undo, an optional defect mask painted over the item, the defect taxonomy,
//! and the label counts. Every database access runs on the worker thread in this module.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, unbounded};
use foodqc::model::AnomalyModel;
use foodqc::store::{DefectClass, QueueEntry, QueueFilter, SampleScore, Store};
use image::{GrayImage, Luma, RgbImage};

use super::{FoodQcApp, theme};

/// What the Label tab asks of its worker.
enum LabelCommand {
    /// Reload queue, taxonomy and counts (scoring a few unscored samples first).
    Refresh(QueueFilter, Arc<AnomalyModel>),
    /// Give a sample a label (with an optional mask image to save next to it).
    Label {
        sample_id: i64,
        label: String,
        mask: Option<(PathBuf, GrayImage)>,
    },
    /// Undo a label given in this session.
    Undo(i64),
    /// Add or change a defect class.
    SaveClass(DefectClass),
    /// Remove a defect class.
    DeleteClass(i64),
}

/// What the worker publishes.
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
    /// Bumped on every publish, so the UI can tell new data from old.
    pub generation: u64,
    /// Last error, shown until the next success.
    pub error: Option<String>,
}

/// The Label tab's background thread.
pub struct LabelWorker {
    tx: Sender<LabelCommand>,
    data: Arc<Mutex<LabelData>>,
}

/// Samples scored per refresh: bounds the time a refresh takes.
const SCORE_PER_REFRESH: usize = 24;

impl LabelWorker {
    /// Start the worker on the database at `db_path`.
    pub fn spawn(db_path: PathBuf, actor: String, on_update: impl Fn() + Send + 'static) -> Self {
        let (tx, rx): (Sender<LabelCommand>, Receiver<LabelCommand>) = unbounded();
        let data = Arc::new(Mutex::new(LabelData::default()));
        let shared = data.clone();
        let spawned = std::thread::Builder::new()
            .name("foodqc-ui-label".into())
            .spawn(move || {
                let mut store: Option<Store> = None;
                while let Ok(cmd) = rx.recv() {
                    let result = (|| -> Result<(), String> {
                        if store.is_none() {
                            store = Some(Store::open(&db_path).map_err(|e| e.to_string())?);
                        }
                        let Some(s) = store.as_mut() else {
                            unreachable!("opened above")
                        };
                        run_command(s, &actor, cmd, &shared)
                    })();
                    let mut d = shared.lock().unwrap_or_else(|e| e.into_inner());
                    d.error = result.err();
                    if d.error.is_some() {
                        store = None;
                    }
                    d.generation += 1;
                    drop(d);
                    on_update();
                }
            });
        if let Err(e) = spawned {
            data.lock().unwrap_or_else(|e| e.into_inner()).error =
                Some(format!("cannot start the labelling thread: {e}"));
        }
        Self { tx, data }
    }

    fn send(&self, cmd: LabelCommand) {
        let _ = self.tx.send(cmd);
    }

    /// The latest published data.
    pub fn data(&self) -> LabelData {
        self.data.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn run_command(
    s: &mut Store,
    actor: &str,
    cmd: LabelCommand,
    shared: &Mutex<LabelData>,
) -> Result<(), String> {
    let e = |e: foodqc::store::StoreError| e.to_string();
    match cmd {
        LabelCommand::Refresh(filter, model) => {
            // Score a few samples the current model has not seen, so the queue order
            // reflects the model in use (imports and captures under an older model).
            let todo = s
                .unscored_samples(&model.version, SCORE_PER_REFRESH)
                .map_err(e)?;
            let mut scored = 0;
            for sample in todo {
                let score = score_sample(&model, sample.id, &sample.path);
                s.record_sample_score(&score).map_err(e)?;
                scored += 1;
            }
            let queue = s.label_queue(&model.version, &filter, 500).map_err(e)?;
            let classes = s.defect_classes().map_err(e)?;
            let counts = s.label_counts().map_err(e)?;
            let sources = s.sample_sources().map_err(e)?;
            let mut d = shared.lock().unwrap_or_else(|e| e.into_inner());
            d.queue = queue;
            d.classes = classes;
            d.counts = counts;
            d.sources = sources;
            d.scored += scored;
        }
        LabelCommand::Label {
            sample_id,
            label,
            mask,
        } => {
            let mask_path = match mask {
                Some((path, img)) => {
                    img.save(&path)
                        .map_err(|err| format!("cannot save mask {}: {err}", path.display()))?;
                    Some(path)
                }
                None => None,
            };
            let id = s
                .add_label(sample_id, &label, mask_path.as_deref(), actor)
                .map_err(e)?;
            let counts = s.label_counts().map_err(e)?;
            let mut d = shared.lock().unwrap_or_else(|e| e.into_inner());
            d.given.push((id, sample_id));
            d.counts = counts;
        }
        LabelCommand::Undo(label_id) => {
            s.undo_label(label_id, actor).map_err(e)?;
            let counts = s.label_counts().map_err(e)?;
            let mut d = shared.lock().unwrap_or_else(|e| e.into_inner());
            d.given.retain(|(l, _)| *l != label_id);
            d.counts = counts;
        }
        LabelCommand::SaveClass(c) => {
            s.save_defect_class(&c, actor).map_err(e)?;
            let classes = s.defect_classes().map_err(e)?;
            shared.lock().unwrap_or_else(|e| e.into_inner()).classes = classes;
        }
        LabelCommand::DeleteClass(id) => {
            s.delete_defect_class(id, actor).map_err(e)?;
            let classes = s.defect_classes().map_err(e)?;
            shared.lock().unwrap_or_else(|e| e.into_inner()).classes = classes;
        }
    }
    Ok(())
}

/// Score a sample image with `model`: its worst item (`none` when no item is found or the
/// file cannot be read, so it still gets a place in the queue).
fn score_sample(model: &AnomalyModel, sample_id: i64, path: &std::path::Path) -> SampleScore {
    let mut out = SampleScore {
        sample_id,
        model_version: model.version.clone(),
        score: 0.0,
        threshold: model.thresholds.reject.max(1e-9),
        predicted: "none".into(),
        items: 0,
    };
    let Ok(img) = foodqc::imageio::load_rgb(path) else {
        return out;
    };
    let mut seg = foodqc::vision::segment::Segmenter::new(model.segment.clone());
    for f in foodqc::eval::main_item_features(&mut seg, &img) {
        out.score = out.score.max(model.score(&f).score);
        out.items += 1;
    }
    if out.items > 0 {
        out.predicted = model.verdict(out.score).as_str().to_string();
    }
    out
}

/// The Label tab's UI state.
pub struct LabelState {
    worker: LabelWorker,
    /// Data as last seen.
    pub data: LabelData,
    filter: QueueFilter,
    lot_text: String,
    /// Index of the selected sample in the queue.
    pub selected: usize,
    /// Samples labelled here but maybe still in the (stale) queue: hidden.
    done: std::collections::HashSet<i64>,
    image: Option<(i64, egui::TextureHandle, RgbImage)>,
    mask: Option<(i64, GrayImage, bool)>,
    mask_texture: Option<egui::TextureHandle>,
    mask_mode: bool,
    brush: f32,
    new_class: String,
    last_refresh: Option<std::time::Instant>,
    generation: u64,
    /// Import or export in progress (or finished, until dismissed).
    pub files: Option<FileJob>,
    db_path: PathBuf,
    samples_dir: PathBuf,
    actor: String,
}

impl LabelState {
    /// Start the worker.
    pub fn new(db_path: PathBuf, samples_dir: PathBuf, actor: String, ctx: egui::Context) -> Self {
        Self {
            worker: LabelWorker::spawn(db_path.clone(), actor.clone(), move || {
                ctx.request_repaint()
            }),
            files: None,
            db_path,
            samples_dir,
            actor,
            data: LabelData::default(),
            filter: QueueFilter::default(),
            lot_text: String::new(),
            selected: 0,
            done: Default::default(),
            image: None,
            mask: None,
            mask_texture: None,
            mask_mode: false,
            brush: 10.0,
            new_class: String::new(),
            last_refresh: None,
            generation: 0,
        }
    }

    fn refresh(&mut self, model: &Arc<AnomalyModel>) {
        self.worker
            .send(LabelCommand::Refresh(self.filter.clone(), model.clone()));
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

    fn assign(&mut self, label: String) {
        let visible = self.visible();
        let Some(entry) = visible.get(self.selected.min(visible.len().saturating_sub(1))) else {
            return;
        };
        let sample_id = entry.sample.id;
        let mask = match &self.mask {
            Some((id, m, true)) if *id == sample_id && label != "good" => {
                let path = entry.sample.path.with_extension("mask.png");
                Some((path, m.clone()))
            }
            _ => None,
        };
        self.worker.send(LabelCommand::Label {
            sample_id,
            label,
            mask,
        });
        self.done.insert(sample_id);
        self.mask = None;
        self.mask_mode = false;
    }

    fn undo(&mut self) {
        if let Some((label_id, sample_id)) = self.data.given.last().copied() {
            self.worker.send(LabelCommand::Undo(label_id));
            self.data.given.pop();
            self.done.remove(&sample_id);
            // Back to the sample just un-labelled.
            if let Some(i) = self.visible().iter().position(|q| q.sample.id == sample_id) {
                self.selected = i;
            }
        }
    }
}

/// Draw the Label tab.
pub fn show(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    let model = app.model.clone();
    let st = &mut app.label;
    let d = st.worker.data();
    if d.generation != st.generation {
        st.generation = d.generation;
        // Once the worker's queue no longer holds a sample labelled here, forget it.
        let in_queue: std::collections::HashSet<i64> =
            d.queue.iter().map(|q| q.sample.id).collect();
        st.done.retain(|id| in_queue.contains(id));
        st.data = d;
    }
    if st
        .last_refresh
        .is_none_or(|t| t.elapsed() > Duration::from_secs(3))
    {
        st.refresh(&model);
    }
    keys(st, ui);

    egui::Panel::right("label_side")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| side_panel(st, ui));
    egui::Panel::left("label_queue")
        .resizable(true)
        .default_size(380.0)
        .show(ui, |ui| queue_panel(st, &model, ui));
    egui::CentralPanel::default().show(ui, |ui| sample_view(st, ui));
}

fn keys(st: &mut LabelState, ui: &mut egui::Ui) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    let digits = [
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
            digits.iter().position(|k| i.key_pressed(*k)),
            i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::ArrowLeft),
            i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::ArrowRight),
            i.key_pressed(egui::Key::Z),
            i.key_pressed(egui::Key::M),
        )
    });
    if let Some(k) = pressed {
        let label = if k == 0 {
            Some("good".to_string())
        } else {
            st.data
                .classes
                .iter()
                .find(|c| c.hotkey == Some(k as u8))
                .map(|c| c.name.clone())
        };
        if let Some(l) = label {
            st.assign(l);
        }
    }
    let n = st.visible().len();
    if up {
        st.selected = st.selected.saturating_sub(1);
    }
    if down && st.selected + 1 < n {
        st.selected += 1;
    }
    if undo {
        st.undo();
    }
    if mask {
        st.mask_mode = !st.mask_mode;
    }
}

fn queue_panel(st: &mut LabelState, model: &Arc<AnomalyModel>, ui: &mut egui::Ui) {
    ui.heading("Queue");
    ui.label(format!(
        "Most uncertain first under model {} (score closest to its threshold {:.2}).",
        model.version, model.thresholds.reject
    ));
    let mut changed = false;
    egui::Grid::new("queue_filters")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Source");
            let src = st.filter.source.clone().unwrap_or_else(|| "any".into());
            egui::ComboBox::from_id_salt("f_source")
                .selected_text(src)
                .width(200.0)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut st.filter.source, None, "any")
                        .changed();
                    for s in st.data.sources.clone() {
                        changed |= ui
                            .selectable_value(&mut st.filter.source, Some(s.clone()), s)
                            .changed();
                    }
                });
            ui.end_row();
            ui.label("Lot");
            let r = ui.add(
                egui::TextEdit::singleline(&mut st.lot_text)
                    .hint_text("any")
                    .desired_width(200.0),
            );
            if r.changed() {
                let t = st.lot_text.trim();
                st.filter.lot = (!t.is_empty()).then(|| t.to_string());
                changed = true;
            }
            ui.end_row();
            ui.label("Captured");
            let day = 86_400_000i64;
            let since = |days: i64| Some(foodqc::store::now_ms() - days * day);
            let current = match st.filter.since_ms {
                None => "any time",
                Some(t) if foodqc::store::now_ms() - t <= day + 60_000 => "last 24 h",
                Some(_) => "last 7 days",
            };
            egui::ComboBox::from_id_salt("f_since")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(current == "any time", "any time")
                        .clicked()
                    {
                        st.filter.since_ms = None;
                        changed = true;
                    }
                    if ui
                        .selectable_label(current == "last 24 h", "last 24 h")
                        .clicked()
                    {
                        st.filter.since_ms = since(1);
                        changed = true;
                    }
                    if ui
                        .selectable_label(current == "last 7 days", "last 7 days")
                        .clicked()
                    {
                        st.filter.since_ms = since(7);
                        changed = true;
                    }
                });
            ui.end_row();
            ui.label("Predicted");
            let p = st.filter.predicted.clone().unwrap_or_else(|| "any".into());
            egui::ComboBox::from_id_salt("f_pred")
                .selected_text(p)
                .show_ui(ui, |ui| {
                    for (v, t) in [
                        (None, "any"),
                        (Some("reject".to_string()), "reject"),
                        (Some("review".to_string()), "review"),
                        (Some("pass".to_string()), "pass"),
                        (Some("none".to_string()), "no item found"),
                    ] {
                        changed |= ui
                            .selectable_value(&mut st.filter.predicted, v, t)
                            .changed();
                    }
                });
            ui.end_row();
        });
    if changed {
        st.selected = 0;
        st.refresh(model);
    }
    ui.separator();
    let visible: Vec<QueueEntry> = st.visible().into_iter().cloned().collect();
    if visible.is_empty() {
        ui.label("Nothing to label. Press C on the Live tab to capture the items of a frame; rejects and near misses are captured automatically (at most 30 a minute).");
        return;
    }
    st.selected = st.selected.min(visible.len() - 1);
    ui.label(format!("{} samples waiting", visible.len()));
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (i, q) in visible.iter().enumerate() {
            let text = format!(
                "#{:<5} {:>8} {:>7}  {}",
                q.sample.id,
                match (q.score, q.threshold) {
                    (Some(s), Some(t)) => format!("{:.2}/{t:.2}", s),
                    _ => "unscored".into(),
                },
                q.predicted.as_deref().unwrap_or(""),
                q.sample.source
            );
            let r = ui.selectable_label(i == st.selected, egui::RichText::new(text).monospace());
            if r.clicked() {
                st.selected = i;
            }
            if i == st.selected {
                r.scroll_to_me(None);
            }
        }
    });
}

fn sample_view(st: &mut LabelState, ui: &mut egui::Ui) {
    if let Some(e) = &st.data.error {
        ui.colored_label(theme::REJECT, format!("⚠ {e}"));
    }
    let visible = st.visible();
    let Some(entry) = visible.get(st.selected).map(|q| (*q).clone()) else {
        ui.heading("No sample selected");
        return;
    };
    // Load the selected image (small crops: a few ms) once.
    if st
        .image
        .as_ref()
        .is_none_or(|(id, ..)| *id != entry.sample.id)
    {
        st.image = None;
        match foodqc::imageio::load_rgb(&entry.sample.path) {
            Ok(img) => {
                let c = egui::ColorImage::from_rgb(
                    [img.width() as usize, img.height() as usize],
                    img.as_raw(),
                );
                let tex = ui
                    .ctx()
                    .load_texture("label_sample", c, egui::TextureOptions::LINEAR);
                st.image = Some((entry.sample.id, tex, img));
            }
            Err(e) => {
                ui.colored_label(theme::REJECT, format!("⚠ {e}"));
            }
        }
    }
    ui.horizontal(|ui| {
        ui.heading(format!("Sample #{}", entry.sample.id));
        ui.label(format!(
            "{} · {}×{} · {}",
            entry.sample.source,
            entry.sample.width,
            entry.sample.height,
            entry.lot.as_deref().unwrap_or("no lot")
        ));
        if let (Some(s), Some(t)) = (entry.score, entry.threshold) {
            let c = if s > t { theme::REJECT } else { theme::PASS };
            ui.colored_label(c, format!("score {s:.2} (threshold {t:.2})"));
        }
    });
    // Class buttons: 0 good, then the taxonomy.
    let mut chosen = None;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add(
                egui::Button::new(egui::RichText::new("0  good").strong())
                    .fill(theme::PASS.gamma_multiply(0.5)),
            )
            .clicked()
        {
            chosen = Some("good".to_string());
        }
        for c in &st.data.classes {
            let [r, g, b] = c.rgb();
            let key = c
                .hotkey
                .map(|k| k.to_string())
                .unwrap_or_else(|| "·".into());
            let btn = egui::Button::new(egui::RichText::new(format!("{key}  {}", c.name)).strong())
                .fill(egui::Color32::from_rgb(r, g, b).gamma_multiply(0.6));
            if ui.add(btn).clicked() {
                chosen = Some(c.name.clone());
            }
        }
    });
    ui.horizontal(|ui| {
        ui.toggle_value(&mut st.mask_mode, "Mask (M)")
            .on_hover_text("Paint the defect region: drag to paint, right-drag to erase");
        ui.add(egui::Slider::new(&mut st.brush, 2.0..=40.0).text("brush px"));
        if ui.button("Clear mask").clicked() {
            st.mask = None;
        }
        ui.separator();
        let can_undo = !st.data.given.is_empty();
        if ui
            .add_enabled(can_undo, egui::Button::new("Undo (Z)"))
            .clicked()
        {
            st.undo();
        }
        ui.weak("0–9 label · Up/Down move · Z undo · M mask");
    });
    if let Some(l) = chosen {
        st.assign(l);
        return;
    }
    let Some((id, tex, img)) = &st.image else {
        return;
    };
    let (w, h) = (img.width() as f32, img.height() as f32);
    let avail = ui.available_size();
    let scale = (avail.x / w).min(avail.y / h).clamp(0.1, 8.0);
    let size = egui::vec2(w * scale, h * scale);
    let (rect, resp) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
    ui.painter().image(
        tex.id(),
        rect,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        egui::Color32::WHITE,
    );
    // Mask painting.
    if st.mask_mode {
        let painting = resp.dragged_by(egui::PointerButton::Primary)
            || resp.clicked_by(egui::PointerButton::Primary);
        let erasing = resp.dragged_by(egui::PointerButton::Secondary);
        if (painting || erasing)
            && let Some(p) = resp.interact_pointer_pos()
        {
            let mask = match &mut st.mask {
                Some((mid, m, _)) if *mid == *id => m,
                _ => {
                    st.mask = Some((*id, GrayImage::new(img.width(), img.height()), false));
                    &mut st.mask.as_mut().expect("just set").1
                }
            };
            let cx = (p.x - rect.min.x) / scale;
            let cy = (p.y - rect.min.y) / scale;
            let r = st.brush;
            let v = if painting { 255 } else { 0 };
            paint_disc(mask, cx, cy, r, v);
            if let Some(m) = &mut st.mask {
                m.2 = m.1.pixels().any(|p| p.0[0] > 0);
            }
            st.mask_texture = None;
        }
    }
    if let Some((mid, m, any)) = &st.mask
        && *mid == *id
        && *any
    {
        if st.mask_texture.is_none() {
            let rgba: Vec<egui::Color32> = m
                .pixels()
                .map(|p| {
                    if p.0[0] > 0 {
                        egui::Color32::from_rgba_unmultiplied(255, 60, 40, 110)
                    } else {
                        egui::Color32::TRANSPARENT
                    }
                })
                .collect();
            let c = egui::ColorImage::new([m.width() as usize, m.height() as usize], rgba);
            st.mask_texture = Some(ui.ctx().load_texture(
                "label_mask",
                c,
                egui::TextureOptions::NEAREST,
            ));
        }
        if let Some(t) = &st.mask_texture {
            ui.painter().image(
                t.id(),
                rect,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
    }
    if st.mask_mode
        && let Some(p) = resp.hover_pos()
    {
        ui.painter().circle_stroke(
            p,
            st.brush * scale,
            egui::Stroke::new(1.0, egui::Color32::WHITE),
        );
    }
}

fn paint_disc(mask: &mut GrayImage, cx: f32, cy: f32, r: f32, v: u8) {
    let (w, h) = mask.dimensions();
    let x0 = (cx - r).floor().max(0.0) as u32;
    let y0 = (cy - r).floor().max(0.0) as u32;
    let x1 = ((cx + r).ceil() as u32).min(w.saturating_sub(1));
    let y1 = ((cy + r).ceil() as u32).min(h.saturating_sub(1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            if dx * dx + dy * dy <= r * r {
                mask.put_pixel(x, y, Luma([v]));
            }
        }
    }
}

fn files_panel(st: &mut LabelState, ui: &mut egui::Ui) {
    ui.heading("Import and export");
    let ctx = ui.ctx().clone();
    // Files dropped on the window are imported.
    let dropped: Vec<PathBuf> = ctx.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect()
    });
    let busy = st
        .files
        .as_ref()
        .is_some_and(|j| j.view().finished.is_none());
    let mut start = None;
    if !dropped.is_empty() && !busy {
        start = Some((dropped, false));
    }
    ui.add_enabled_ui(!busy, |ui| {
        ui.horizontal_wrapped(|ui| {
            if ui.button("Import files…").clicked() {
                start = Some((Vec::new(), false));
            }
            if ui
                .button("Import folder…")
                .on_hover_text("A folder of images; an MVTec-style tree (train/good, test/<class>) or an export keeps its labels")
                .clicked()
            {
                start = Some((Vec::new(), true));
            }
            if ui.button("Export labelled set…").clicked() {
                st.files = Some(start_export(st.db_path.clone(), ctx.clone()));
            }
        });
    });
    if let Some((paths, folder)) = start {
        st.files = Some(start_import(
            st.db_path.clone(),
            st.samples_dir.clone(),
            st.actor.clone(),
            paths,
            folder,
            ctx.clone(),
        ));
    }
    ui.weak("Or drop images or folders on the window.");
    let mut dismiss = false;
    if let Some(job) = &st.files {
        let v = job.view();
        match &v.finished {
            None => {
                ui.horizontal(|ui| {
                    let frac = if v.total > 0 {
                        v.done as f32 / v.total as f32
                    } else {
                        0.0
                    };
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .text(format!("{} {}/{}", job.what, v.done, v.total))
                            .desired_width(180.0),
                    );
                    if ui.button("Cancel").clicked() {
                        job.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                });
                if let Some(c) = &v.current {
                    ui.weak(
                        c.file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default(),
                    );
                }
            }
            Some(Ok(text)) => {
                egui::ScrollArea::vertical()
                    .id_salt("files_report")
                    .max_height(140.0)
                    .show(ui, |ui| {
                        ui.label(text);
                    });
                dismiss = ui.small_button("OK").clicked();
            }
            Some(Err(e)) => {
                ui.colored_label(theme::WARN, format!("{} not done: {e}", job.what));
                dismiss = ui.small_button("OK").clicked();
            }
        }
    }
    if dismiss {
        st.files = None;
    }
}

fn side_panel(st: &mut LabelState, ui: &mut egui::Ui) {
    files_panel(st, ui);
    ui.separator();
    ui.heading("Label counts");
    if st.data.counts.is_empty() {
        ui.label("No labels yet.");
    }
    egui::Grid::new("label_counts")
        .striped(true)
        .show(ui, |ui| {
            for (label, n) in &st.data.counts {
                ui.label(label);
                ui.strong(n.to_string());
                ui.end_row();
            }
        });
    ui.separator();
    egui::CollapsingHeader::new("Defect classes")
        .default_open(true)
        .show(ui, |ui| {
            let mut save = None;
            let mut delete = None;
            egui::Grid::new("taxonomy").num_columns(4).show(ui, |ui| {
                for c in &st.data.classes {
                    let mut col = {
                        let [r, g, b] = c.rgb();
                        egui::Color32::from_rgb(r, g, b)
                    };
                    if ui.color_edit_button_srgba(&mut col).changed() {
                        let mut c2 = c.clone();
                        c2.colour = format!("#{:02x}{:02x}{:02x}", col.r(), col.g(), col.b());
                        save = Some(c2);
                    }
                    ui.label(&c.name);
                    let mut key = c.hotkey.unwrap_or(0);
                    let r = egui::ComboBox::from_id_salt(("key", c.id))
                        .selected_text(if key == 0 {
                            "-".into()
                        } else {
                            key.to_string()
                        })
                        .width(40.0)
                        .show_ui(ui, |ui| {
                            let mut ch = false;
                            ch |= ui.selectable_value(&mut key, 0, "-").changed();
                            for k in 1..=9u8 {
                                ch |= ui.selectable_value(&mut key, k, k.to_string()).changed();
                            }
                            ch
                        });
                    if r.inner == Some(true) {
                        let mut c2 = c.clone();
                        c2.hotkey = (key != 0).then_some(key);
                        save = Some(c2);
                    }
                    if ui
                        .small_button("x")
                        .on_hover_text("Remove this class")
                        .clicked()
                    {
                        delete = Some(c.id);
                    }
                    ui.end_row();
                }
            });
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut st.new_class)
                        .hint_text("new class")
                        .desired_width(140.0),
                );
                if ui.button("Add").clicked() && !st.new_class.trim().is_empty() {
                    let used: Vec<u8> = st.data.classes.iter().filter_map(|c| c.hotkey).collect();
                    save = Some(DefectClass {
                        id: 0,
                        name: st.new_class.trim().to_string(),
                        colour: "#8c8c8c".into(),
                        hotkey: (1..=9).find(|k| !used.contains(k)),
                        position: st.data.classes.len() as i64 + 1,
                    });
                    st.new_class.clear();
                }
            });
            if let Some(c) = save {
                st.worker.send(LabelCommand::SaveClass(c));
            }
            if let Some(id) = delete {
                st.worker.send(LabelCommand::DeleteClass(id));
            }
        });
}

/// A file job of the Label tab (import or export) on its own thread: it asks for the files
/// with a native dialog (unless given), then works with progress and cancel.
pub struct FileJob {
    /// What it does, for the progress line.
    pub what: &'static str,
    view: Arc<Mutex<FileJobView>>,
    cancel: Arc<std::sync::atomic::AtomicBool>,
}

/// Progress and result of a [`FileJob`].
#[derive(Clone, Default)]
pub struct FileJobView {
    /// Files done and in all.
    pub done: usize,
    pub total: usize,
    /// The file being worked on.
    pub current: Option<PathBuf>,
    /// The report once finished (Ok) or why it failed (Err).
    pub finished: Option<Result<String, String>>,
}

impl From<foodqc::labeling::Progress<'_>> for FileJobView {
    fn from(p: foodqc::labeling::Progress<'_>) -> Self {
        Self {
            done: p.done,
            total: p.total,
            current: p.current.map(|c| c.to_path_buf()),
            finished: None,
        }
    }
}

impl FileJob {
    fn spawn(
        what: &'static str,
        ctx: egui::Context,
        work: impl FnOnce(
            &std::sync::atomic::AtomicBool,
            &mut dyn FnMut(FileJobView),
        ) -> Result<String, String>
        + Send
        + 'static,
    ) -> Self {
        let view = Arc::new(Mutex::new(FileJobView::default()));
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (v, c) = (view.clone(), cancel.clone());
        let spawned = std::thread::Builder::new()
            .name("foodqc-files".into())
            .spawn(move || {
                let mut report = |p: FileJobView| {
                    let mut g = v.lock().unwrap_or_else(|e| e.into_inner());
                    g.done = p.done;
                    g.total = p.total;
                    g.current = p.current;
                    drop(g);
                    ctx.request_repaint();
                };
                let r = work(&c, &mut report);
                v.lock().unwrap_or_else(|e| e.into_inner()).finished = Some(r);
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            view.lock().unwrap_or_else(|e| e.into_inner()).finished =
                Some(Err(format!("cannot start: {e}")));
        }
        Self { what, view, cancel }
    }

    /// The latest progress.
    pub fn view(&self) -> FileJobView {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Import `paths` (or, when empty, files or a folder picked in a dialog) as samples.
pub fn start_import(
    db: PathBuf,
    samples_dir: PathBuf,
    actor: String,
    paths: Vec<PathBuf>,
    pick_folder: bool,
    ctx: egui::Context,
) -> FileJob {
    FileJob::spawn("import", ctx, move |cancel, report| {
        let paths = if !paths.is_empty() {
            paths
        } else if pick_folder {
            match rfd::FileDialog::new()
                .set_title("Import a folder of images (an MVTec-style tree keeps its labels)")
                .pick_folder()
            {
                Some(p) => vec![p],
                None => return Err("no folder chosen".into()),
            }
        } else {
            match rfd::FileDialog::new()
                .set_title("Import images")
                .add_filter("images", &["png", "jpg", "jpeg"])
                .pick_files()
            {
                Some(p) => p,
                None => return Err("no file chosen".into()),
            }
        };
        let mut store = Store::open(&db).map_err(|e| e.to_string())?;
        let r = foodqc::labeling::import_paths(
            &mut store,
            &samples_dir,
            &paths,
            &actor,
            cancel,
            &mut |p| report(p.into()),
        )
        .map_err(|e| e.to_string())?;
        Ok(r.to_string())
    })
}

/// Export the labelled set to a folder picked in a dialog.
pub fn start_export(db: PathBuf, ctx: egui::Context) -> FileJob {
    FileJob::spawn("export", ctx, move |cancel, report| {
        let Some(out) = rfd::FileDialog::new()
            .set_title("Export the labelled set (an empty folder)")
            .pick_folder()
        else {
            return Err("no folder chosen".into());
        };
        let store = Store::open(&db).map_err(|e| e.to_string())?;
        let r = foodqc::labeling::export_labelled(&store, &out, false, cancel, &mut |p| {
            report(p.into())
        })
        .map_err(|e| e.to_string())?;
        Ok(r.to_string())
    })
}
