//! The workstation window: a thin egui layer over the `foodqc` library.

mod db;
mod label;
mod live;
mod reports;
mod tabs;
mod theme;
mod thresholds;
mod train;

use std::sync::Arc;
use std::time::{Duration, Instant};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::AppPaths;
use foodqc::model::AnomalyModel;
use foodqc::station::{LotInfo, Station, StationCommand, StationConfig, StationStats};
use serde::{Deserialize, Serialize};

/// Open the window and run until it is closed.
pub fn run_gui(
    paths: AppPaths,
    model: Arc<AnomalyModel>,
    source: Option<SourceSpec>,
) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("foodqc")
            .with_inner_size([1400.0, 860.0])
            .with_min_inner_size([900.0, 600.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "foodqc",
        options,
        Box::new(move |cc| Ok(Box::new(FoodQcApp::new(cc, paths, model, source)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// The tabs of the workstation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    Live,
    Label,
    Train,
    Thresholds,
    Reports,
}

impl Tab {
    const ALL: [Tab; 5] = [
        Tab::Live,
        Tab::Label,
        Tab::Train,
        Tab::Thresholds,
        Tab::Reports,
    ];

    fn title(self) -> &'static str {
        match self {
            Tab::Live => "Live",
            Tab::Label => "Label",
            Tab::Train => "Train",
            Tab::Thresholds => "Thresholds",
            Tab::Reports => "Reports",
        }
    }

    fn key(self) -> egui::Key {
        match self {
            Tab::Live => egui::Key::F1,
            Tab::Label => egui::Key::F2,
            Tab::Train => egui::Key::F3,
            Tab::Reports => egui::Key::F4,
            Tab::Thresholds => egui::Key::F5,
        }
    }
}

/// What survives a restart (window state is kept by eframe itself).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Selected tab.
    pub tab: Tab,
    /// Draw the anomaly heat map on the live view.
    pub show_heat: bool,
    /// Draw score labels on the live view.
    pub show_scores: bool,
    /// Dark theme (else light).
    pub dark: bool,
    /// Lot being produced.
    pub lot: LotInfo,
    /// Last folder replayed.
    pub folder: String,
    /// Station name.
    pub station_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: Tab::Live,
            show_heat: true,
            show_scores: true,
            dark: true,
            lot: LotInfo::default(),
            folder: String::new(),
            station_name: "station-1".into(),
        }
    }
}

/// The app: settings, the running station and what the UI shows of it.
pub struct FoodQcApp {
    pub(crate) settings: Settings,
    pub(crate) paths: AppPaths,
    pub(crate) station: Option<Station>,
    pub(crate) station_error: Option<String>,
    pub(crate) model: Arc<AnomalyModel>,
    pub(crate) source: SourceSpec,
    pub(crate) cameras: Vec<(u32, String)>,
    pub(crate) notice: Option<String>,
    pub(crate) stats: StationStats,
    pub(crate) live: live::LiveView,
    pub(crate) db: db::DbReader,
    pub(crate) reports: reports::ReportsView,
    pub(crate) frame_times: FrameTimes,
    pub(crate) show_help: bool,
    pub(crate) label: label::LabelState,
    pub(crate) train: train::TrainState,
    /// Who is at the keyboard (OS user), for labels and the audit log.
    pub(crate) actor: String,
    pub(crate) thresholds: thresholds::ThresholdsView,
}

/// UI frame times (the time our `ui` took), for the status bar and measurements.
#[derive(Default)]
pub struct FrameTimes {
    recent: std::collections::VecDeque<f64>,
}

impl FrameTimes {
    fn push(&mut self, ms: f64) {
        if self.recent.len() >= 600 {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
    }

    /// The `q` quantile of recent UI frame times, ms.
    pub fn quantile(&self, q: f64) -> f64 {
        let v: Vec<f64> = self.recent.iter().copied().collect();
        foodqc::model::metrics::quantile(&v, q)
    }
}

impl FoodQcApp {
    /// Build the app and start the station. `source` overrides the default choice (camera 0
    /// when one is found, else the synthetic line).
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        paths: AppPaths,
        model: Arc<AnomalyModel>,
        source: Option<SourceSpec>,
    ) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let cameras = foodqc::capture::list_cameras();
        let mut notice = None;
        let source = source.unwrap_or_else(|| {
            if cameras.is_empty() {
                notice = Some(
                    "No camera found: running the built-in synthetic line. Pick a camera or a folder in the source menu."
                        .to_string(),
                );
                SourceSpec::default()
            } else {
                SourceSpec::Camera { index: cameras[0].0 }
            }
        });
        let ctx = cc.egui_ctx.clone();
        let db = db::DbReader::spawn(paths.db_path(), move || ctx.request_repaint());
        let actor = crate::os_user();
        let label = label::LabelState::new(
            paths.db_path(),
            paths.samples_dir(),
            actor.clone(),
            cc.egui_ctx.clone(),
        );
        let ctx = cc.egui_ctx.clone();
        let reports =
            reports::ReportsView::new(paths.db_path(), paths.data_dir.join("exports"), move || {
                ctx.request_repaint()
            });
        let mut app = Self {
            settings,
            paths,
            station: None,
            station_error: None,
            model,
            source,
            cameras,
            notice,
            stats: StationStats::default(),
            live: live::LiveView::default(),
            db,
            reports,
            frame_times: FrameTimes::default(),
            show_help: false,
            label,
            train: train::TrainState::default(),
            actor,
            thresholds: thresholds::ThresholdsView::default(),
        };
        app.start_station();
        app
    }

    /// (Re)start the station on `self.source`.
    pub(crate) fn start_station(&mut self) {
        if let Some(old) = self.station.take()
            && let Err(e) = old.stop()
        {
            tracing::error!("stopping the station: {e:#}");
        }
        let cfg = StationConfig {
            station_name: self.settings.station_name.clone(),
            source: self.source.clone(),
            source_options: SourceOptions {
                loop_folder: true,
                ..Default::default()
            },
            lot: self.settings.lot.clone(),
            live: true,
            max_frames: None,
            paths: self.paths.clone(),
            reject_samples_per_minute: 30,
        };
        match Station::start(cfg, self.model.clone()) {
            Ok(s) => {
                let classifier = foodqc::training::job::classifier_for_version(
                    &self.paths.db_path(),
                    &self.model.version,
                );
                if classifier.is_some() {
                    s.send(StationCommand::SetClassifier(classifier));
                }
                self.station = Some(s);
                self.station_error = None;
            }
            Err(e) => {
                tracing::error!("{e:#}");
                self.station_error = Some(format!("{e:#}"));
            }
        }
    }

    /// Switch source: the running station switches in its capture thread; when there is no
    /// station yet (it failed to start), start one.
    pub(crate) fn switch_source(&mut self, spec: SourceSpec) {
        self.source = spec.clone();
        match &self.station {
            Some(st) => st.send(StationCommand::SetSource(spec)),
            None => self.start_station(),
        }
        self.live.reset();
    }

    pub(crate) fn send(&self, cmd: StationCommand) {
        if let Some(st) = &self.station {
            st.send(cmd);
        }
    }

    fn toggle_pause(&mut self) {
        let cmd = if self.stats.paused {
            StationCommand::Resume
        } else {
            StationCommand::Pause
        };
        self.send(cmd);
        // Show the new state at once; the next stats read confirms it.
        self.stats.paused = !self.stats.paused;
    }

    fn handle_keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        ctx.input(|i| {
            for tab in Tab::ALL {
                if i.key_pressed(tab.key()) {
                    self.settings.tab = tab;
                }
            }
        });
        let (space, heat, capture, help) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::H),
                i.key_pressed(egui::Key::C),
                i.key_pressed(egui::Key::Questionmark) || i.key_pressed(egui::Key::F12),
            )
        });
        if space {
            self.toggle_pause();
        }
        if heat {
            self.settings.show_heat = !self.settings.show_heat;
        }
        if capture {
            self.send(StationCommand::CaptureNext);
        }
        if help {
            self.show_help = !self.show_help;
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("foodqc");
            ui.separator();
            for tab in Tab::ALL {
                let r = ui
                    .selectable_label(self.settings.tab == tab, tab.title())
                    .on_hover_text(format!("{:?}", tab.key()));
                if r.clicked() {
                    self.settings.tab = tab;
                }
            }
            ui.separator();
            self.source_picker(ui);
            ui.separator();
            let pause_label = if self.stats.paused {
                "▶ Resume"
            } else {
                "⏸ Pause"
            };
            if ui
                .button(pause_label)
                .on_hover_text("Pause or resume the line view (Space)")
                .clicked()
            {
                self.toggle_pause();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("?")
                    .on_hover_text("Keyboard shortcuts (F12)")
                    .clicked()
                {
                    self.show_help = !self.show_help;
                }
                let theme = if self.settings.dark { "☀" } else { "🌙" };
                if ui
                    .button(theme)
                    .on_hover_text("Light / dark theme")
                    .clicked()
                {
                    self.settings.dark = !self.settings.dark;
                }
            });
        });
    }

    fn source_picker(&mut self, ui: &mut egui::Ui) {
        let current = self.source.clone();
        let mut choice: Option<SourceSpec> = None;
        egui::ComboBox::from_label("Source")
            .selected_text(source_title(&current))
            .width(220.0)
            .show_ui(ui, |ui| {
                let syn = SourceSpec::default();
                if ui
                    .selectable_label(
                        matches!(current, SourceSpec::Synthetic { .. }),
                        "Synthetic line",
                    )
                    .clicked()
                {
                    choice = Some(syn);
                }
                if self.cameras.is_empty() {
                    ui.label("No camera found");
                }
                for (index, name) in &self.cameras {
                    let spec = SourceSpec::Camera { index: *index };
                    if ui
                        .selectable_label(current == spec, format!("Camera {index}: {name}"))
                        .clicked()
                    {
                        choice = Some(spec);
                    }
                }
            });
        if let Some(spec) = choice {
            self.switch_source(spec);
        }
        let folder_edit = ui.add(
            egui::TextEdit::singleline(&mut self.settings.folder)
                .hint_text("folder to replay")
                .desired_width(180.0),
        );
        let enter = folder_edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Replay folder").clicked() || enter)
            && !self.settings.folder.trim().is_empty()
        {
            let path = self.settings.folder.trim().into();
            self.switch_source(SourceSpec::Folder { path });
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(e) = &self.station_error {
                ui.colored_label(theme::REJECT, format!("⚠ {e}"));
                return;
            }
            ui.label(&self.stats.source);
            if let Some(p) = &self.stats.source_problem {
                ui.colored_label(theme::WARN, format!("⚠ {p}"));
            } else if let Some(n) = &self.notice {
                ui.label(n);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("UI {:.1} ms p95", self.frame_times.quantile(0.95)));
                ui.separator();
                let r = &self.stats.recorder;
                match &r.last_error {
                    Some(e) => ui.colored_label(theme::REJECT, format!("⚠ recording: {e}")),
                    None => ui.label(format!("recorded {} · pending {}", r.recorded, r.pending)),
                };
            });
        });
    }

    fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_help;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (k, what) in [
                        ("F1 … F4", "Live, Label, Train, Reports"),
                        ("F5", "Thresholds"),
                        ("Space", "Pause / resume the line view"),
                        ("H", "Heat map on / off"),
                        ("C", "Capture the items of the next frame for labelling"),
                        (
                            "0 … 9",
                            "Label tab: good (0) or the defect class with that key",
                        ),
                        ("Up, Down", "Label tab: previous / next sample"),
                        ("Z", "Label tab: undo the last label"),
                        ("M", "Label tab: paint a defect mask"),
                        ("F12 or ?", "This sheet"),
                    ] {
                        ui.strong(k);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.show_help = open;
    }
}

fn source_title(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Synthetic { seed } => format!("Synthetic line (seed {seed})"),
        SourceSpec::Camera { index } => format!("Camera {index}"),
        SourceSpec::Folder { path } => format!(
            "Folder {}",
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| path.display().to_string())
        ),
    }
}

impl eframe::App for FoodQcApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if let Some(st) = &self.station {
            self.stats = st.stats();
            if let Some(latest) = st.latest() {
                self.live.update(ctx, latest);
            }
        }
        // The out-of-control alarm watches the line whichever tab is shown.
        self.reports.watch_line(&self.stats);
        self.reports.poll(ctx);
        self.handle_keys(ctx);
        train::poll(self);
        ctx.set_visuals(if self.settings.dark {
            egui::Visuals::dark()
        } else {
            egui::Visuals::light()
        });
        let db_age = if self.settings.tab == Tab::Live {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(2)
        };
        self.db.refresh_if_older(db_age);
        // The line moves: keep repainting at the camera rate while running.
        if !self.stats.paused {
            ctx.request_repaint_after(Duration::from_millis(15));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let started = Instant::now();
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        match self.settings.tab {
            Tab::Live => live::show(self, ui),
            Tab::Label => label::show(self, ui),
            Tab::Train => train::show(self, ui),
            Tab::Reports => reports::show(self, ui),
            Tab::Thresholds => thresholds::show(self, ui),
        }
        let ctx = ui.ctx().clone();
        if self.show_help {
            self.help_window(&ctx);
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.frame_times.push(ms);
        if self.train.job.is_some() {
            self.train.frame_ms.push(ms);
            // The previous frame as a whole: ui, tessellation and painting.
            if let Some(s) = frame.info().cpu_usage {
                self.train.whole_frame_ms.push(f64::from(s) * 1000.0);
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    fn harness(dir: &std::path::Path) -> Harness<'static, FoodQcApp> {
        let paths = AppPaths {
            data_dir: dir.to_path_buf(),
        };
        let model = Arc::new(AnomalyModel::bundled().unwrap());
        Harness::builder()
            .with_size(egui::vec2(1400.0, 860.0))
            .build_eframe(move |cc| {
                FoodQcApp::new(cc, paths, model, Some(SourceSpec::Synthetic { seed: 3 }))
            })
    }

    /// Step the UI (real time passes for the station threads) until `done` or a timeout.
    /// Shared by the tab modules' tests.
    pub(crate) fn step_until(
        h: &mut Harness<'_, FoodQcApp>,
        what: &str,
        done: impl Fn(&FoodQcApp) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(h.state()) {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(20));
            h.step();
        }
    }

    #[test]
    fn live_view_counts_pauses_and_switches_tabs() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path());
        step_until(&mut h, "items judged and a frame on screen", |app| {
            app.stats.items >= 3 && app.stats.frames_inspected >= 5 && app.live.current().is_some()
        });
        assert!(h.state().station_error.is_none());
        h.get_by_label("Items inspected");
        h.get_by_label("Reject rate");
        assert!(h.state().stats.fps > 0.0);

        // Pause: the frame counter stops moving.
        h.get_by_label("⏸ Pause").click();
        step_until(&mut h, "paused", |app| app.stats.paused);
        // A frame already in the inspector may still finish (slow under load): wait until
        // the counter settles, then it must stay still.
        let deadline = Instant::now() + Duration::from_secs(20);
        let frozen = loop {
            let a = h.state().stats.frames_inspected;
            std::thread::sleep(Duration::from_millis(300));
            h.step();
            let b = h.state().stats.frames_inspected;
            if a == b {
                break b;
            }
            assert!(Instant::now() < deadline, "frames kept coming after pause");
        };
        std::thread::sleep(Duration::from_millis(400));
        h.step();
        assert_eq!(h.state().stats.frames_inspected, frozen);
        h.get_by_label("▶ Resume").click();
        step_until(&mut h, "running again", |app| {
            app.stats.frames_inspected > frozen + 2
        });

        // Tabs, by click and by key.
        for (title, tab) in [
            ("Label", Tab::Label),
            ("Train", Tab::Train),
            ("Reports", Tab::Reports),
            ("Live", Tab::Live),
        ] {
            h.get_by_label(title).click();
            h.step();
            h.step();
            assert_eq!(h.state().settings.tab, tab);
        }
        h.key_press(egui::Key::F4);
        h.step();
        assert_eq!(h.state().settings.tab, Tab::Reports);
        // The Reports tab reads the lot the station records into from SQLite.
        step_until(&mut h, "lot summary from the database", |app| {
            app.db
                .snapshot()
                .lots
                .iter()
                .any(|l| l.code == "DEMO-LOT" && l.items > 0)
        });
        h.step();
        h.get_by_label("DEMO-LOT");
    }

    #[test]
    fn lot_change_reaches_the_station() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path());
        step_until(&mut h, "first frame", |app| app.live.current().is_some());
        h.state_mut().settings.lot.code = "LOT-7".into();
        h.step();
        h.get_by_label("Apply").click();
        step_until(&mut h, "lot applied", |app| app.stats.lot == "LOT-7");
        step_until(&mut h, "items recorded under the new lot", |app| {
            app.db
                .snapshot()
                .lots
                .iter()
                .any(|l| l.code == "LOT-7" && l.items > 0)
        });
    }

    #[test]
    fn space_toggles_pause_and_h_toggles_heat() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path());
        step_until(&mut h, "first frame", |app| app.live.current().is_some());
        let heat = h.state().settings.show_heat;
        h.key_press(egui::Key::H);
        h.step();
        assert_eq!(h.state().settings.show_heat, !heat);
        h.key_press(egui::Key::Space);
        h.step();
        step_until(&mut h, "paused by Space", |app| app.stats.paused);
        h.key_press(egui::Key::Space);
        h.step();
        step_until(&mut h, "resumed by Space", |app| !app.stats.paused);
    }

    fn seed_samples(dir: &std::path::Path, n: usize, labelled: bool) {
        let paths = AppPaths {
            data_dir: dir.to_path_buf(),
        };
        let mut store = foodqc::store::Store::open(&paths.db_path()).unwrap();
        let mut source = SourceSpec::Synthetic { seed: 41 }
            .open(&SourceOptions::default())
            .unwrap();
        let ids = foodqc::training::capture_truth_samples(
            source.as_mut(),
            &foodqc::vision::segment::SegmentConfig::default(),
            &mut store,
            &paths.samples_dir(),
            n,
            labelled.then_some("tester"),
        )
        .unwrap();
        assert_eq!(ids.len(), n);
    }

    fn current_label(dir: &std::path::Path, sample: i64) -> Option<String> {
        let store = foodqc::store::Store::open(&dir.join("foodqc.sqlite")).unwrap();
        store
            .labels_for_sample(sample)
            .unwrap()
            .first()
            .map(|l| l.label.clone())
    }

    #[test]
    fn label_tab_labels_by_keys_moves_and_undoes() {
        let dir = tempfile::tempdir().unwrap();
        seed_samples(dir.path(), 12, false);
        let mut h = harness(dir.path());
        // Pause the line so no new capture reorders the queue under the test.
        step_until(&mut h, "first frame", |app| app.live.current().is_some());
        h.key_press(egui::Key::Space);
        h.key_press(egui::Key::F2);
        h.step();
        step_until(&mut h, "queue loaded and scored", |app| {
            let v = app.label.visible();
            v.len() >= 12 && v.iter().all(|q| q.score.is_some())
        });
        let first = h.state().label.visible()[0].sample.id;
        h.key_press(egui::Key::Num1); // 1 = crack in the default taxonomy
        h.step();
        step_until(&mut h, "first label stored", |app| {
            app.label.data.given.len() == 1
        });
        assert_eq!(current_label(dir.path(), first).as_deref(), Some("crack"));

        // The next sample is selected; the arrow keys move.
        h.key_press(egui::Key::ArrowDown);
        h.step();
        assert_eq!(h.state().label.selected, 1);
        h.key_press(egui::Key::ArrowUp);
        h.step();
        assert_eq!(h.state().label.selected, 0);
        let second = h.state().label.visible()[0].sample.id;
        assert_ne!(second, first);
        h.key_press(egui::Key::Num0);
        h.step();
        step_until(&mut h, "second label stored", |app| {
            app.label.data.given.len() == 2
        });
        assert_eq!(current_label(dir.path(), second).as_deref(), Some("good"));

        // Z undoes the last label only; the sample is back in the queue and selected.
        h.key_press(egui::Key::Z);
        h.step();
        assert_eq!(h.state().label.data.given.len(), 1);
        let d = dir.path().to_path_buf();
        step_until(&mut h, "undo stored", move |_| {
            current_label(&d, second).is_none()
        });
        assert_eq!(current_label(dir.path(), first).as_deref(), Some("crack"));
        step_until(&mut h, "undone sample back in the queue", |app| {
            let v = app.label.visible();
            v.get(app.label.selected).map(|q| q.sample.id) == Some(second)
        });
        // Counts shown from the database; a click on a class button labels too.
        step_until(&mut h, "counts", |app| {
            app.label.data.counts == vec![("crack".to_string(), 1)]
        });
        h.get_by_label("2  burnt").click();
        h.step();
        step_until(&mut h, "clicked label stored", |app| {
            app.label.data.given.len() == 2
        });
        assert_eq!(current_label(dir.path(), second).as_deref(), Some("burnt"));
        let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        let actions: Vec<String> = store
            .audit_entries(100)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions.iter().filter(|a| *a == "label.add").count(), 3);
        assert_eq!(actions.iter().filter(|a| *a == "label.undo").count(), 1);
    }

    #[test]
    fn training_job_starts_cancels_finishes_and_promotes() {
        let dir = tempfile::tempdir().unwrap();
        seed_samples(dir.path(), 40, true);
        let mut h = harness(dir.path());
        step_until(&mut h, "first frame", |app| app.live.current().is_some());
        h.key_press(egui::Key::F3);
        h.step();
        h.get_by_label("Train new model").click();
        h.step();
        assert!(h.state().train.job.is_some());
        h.step();
        h.get_by_label("Cancel training").click();
        h.step();
        step_until(&mut h, "cancelled job ended", |app| app.train.job.is_none());
        let last = h.state().train.last.clone().unwrap();
        assert!(
            matches!(&last, Err(e) if e.contains("cancelled")),
            "{:?}",
            last.map(|o| o.version)
        );
        // Nothing was registered (the station registers only the model it runs).
        let versions = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite"))
            .unwrap()
            .list_model_versions()
            .unwrap();
        assert!(versions.iter().all(|m| !m.version.starts_with("labelled")));

        // Again, to the end: progress is reported, the live view keeps running.
        h.get_by_label("Train new model").click();
        h.step();
        let frames_before = h.state().stats.frames_inspected;
        let mut stages = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while h.state().train.job.is_some() {
            assert!(Instant::now() < deadline, "training did not finish");
            if let Some(p) = h.state().train.job.as_ref().and_then(|j| j.progress())
                && stages.last() != Some(&p.stage)
            {
                stages.push(p.stage);
            }
            std::thread::sleep(Duration::from_millis(10));
            h.step();
        }
        assert!(!stages.is_empty(), "no progress was shown");
        assert!(
            matches!(h.state().train.last, Some(Ok(_))),
            "{:?}",
            h.state().train.last.as_ref().map(|r| r.as_ref().err())
        );
        assert!(h.state().stats.frames_inspected > frames_before);
        let version = h.state().train.last.clone().unwrap().unwrap().version;

        // Promote it: the station swaps to it.
        step_until(&mut h, "version listed", |app| {
            app.db
                .snapshot()
                .models
                .iter()
                .any(|m| m.version == version)
        });
        h.step();
        h.get_by_label("Promote").click();
        h.step();
        step_until(&mut h, "station runs the promoted model", |app| {
            app.stats.model_version == version
        });
        let store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        assert_eq!(store.active_model().unwrap().unwrap().version, version);
        assert!(
            store
                .audit_entries(100)
                .unwrap()
                .iter()
                .any(|e| e.action == "model.activate")
        );
    }
}
