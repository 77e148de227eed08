//! The app: settings, the running station, the desk worker, and the tabs. Each frame it
//! reads the station, takes the worker's events to the tabs, draws the shell and the current
//! tab, and forwards the tab's actions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foodqc::capture::{SourceOptions, SourceSpec};
use foodqc::domain::AppPaths;
use foodqc::i18n::Language;
use foodqc::model::AnomalyModel;
use foodqc::services::desk::{Command, DbSnapshot, Desk, DeskConfig, Event, Status, Topic};
use foodqc::services::line_alarm::LineWatch;
use foodqc::station::{Station, StationCommand, StationConfig, StationStats};
use foodqc::tr;

use super::action::{Action, TabCtx};
use super::{Settings, Tab, audit, label, reports, thresholds, train};

/// The app: settings, the running station and what the UI shows of it.
pub struct FoodQcApp {
    pub(crate) settings: Settings,
    pub(crate) paths: AppPaths,
    pub(crate) station: Option<Station>,
    pub(crate) station_error: Option<String>,
    pub(crate) model: Arc<AnomalyModel>,
    pub(crate) source: SourceSpec,
    pub(crate) cameras: Vec<(u32, String)>,
    /// No camera was found and the synthetic line runs (said in the status bar).
    pub(crate) no_camera: bool,
    pub(crate) stats: StationStats,
    pub(crate) desk: Desk,
    /// What the worker said about itself (shown when it failed).
    pub(crate) desk_status: Status,
    /// The latest database snapshot, and whether a refresh is on its way.
    pub(crate) snapshot: DbSnapshot,
    snapshot_pending: bool,
    pub(crate) line_watch: LineWatch,
    pub(crate) frame_times: FrameTimes,
    pub(crate) show_help: bool,
    pub(crate) label: label::LabelTab,
    pub(crate) train: train::TrainTab,
    pub(crate) reports: reports::ReportsTab,
    pub(crate) thresholds: thresholds::ThresholdsTab,
    pub(crate) audit: audit::AuditTab,
    /// Who is signed in, the sign-in and signature windows, the idle lock.
    pub(crate) session: super::session::SessionUi,
    /// The language the desk worker was last told to speak.
    desk_language: Option<Language>,
    /// The PLCs each decision goes to (`--plc`).
    line_outputs: Vec<foodqc::lineio::LineOutputSpec>,
    reject_on_doubt: bool,
    /// Further cameras (`--source` repeated): each its own station, shown in the Live grid.
    extras: Vec<ExtraCamera>,
    /// The records' way to the plant's Kafka (the line outputs setting), when set.
    pub(crate) plant: Option<foodqc::plant::Publisher>,
    /// Applies the plant's lot decisions while the station publishes.
    pub(crate) plant_commands: Option<foodqc::plant::CommandListener>,
    /// Why it could not start, if it could not.
    pub(crate) plant_error: Option<String>,
}

/// A further camera of the window: its source and station (or why it is not running).
struct ExtraCamera {
    source: SourceSpec,
    name: String,
    station: Option<Station>,
    error: Option<String>,
    /// Its own lot (from the main one's at start; changed on its tile).
    lot: foodqc::station::LotInfo,
    /// Its own recipe, kept over a restart.
    recipe: Option<String>,
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
    /// Build the app, start the desk worker and the station. `source` overrides the default
    /// choice (camera 0 when one is found, else the synthetic line).
    // The window itself starts through `unlock` (which may ask for a passphrase first).
    #[cfg(test)]
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        paths: AppPaths,
        model: Arc<AnomalyModel>,
        source: Option<SourceSpec>,
    ) -> Self {
        Self::start(&cc.egui_ctx, cc.storage, paths, model, source)
    }

    /// Like [`FoodQcApp::new`] from the window's context and storage, for a window that
    /// shows something else first (the passphrase prompt of an encrypted database).
    pub fn start(
        egui_ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        paths: AppPaths,
        model: Arc<AnomalyModel>,
        source: Option<SourceSpec>,
    ) -> Self {
        let settings: Settings = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let cameras = foodqc::capture::list_cameras();
        let mut no_camera = false;
        let source = source.unwrap_or_else(|| {
            if cameras.is_empty() {
                no_camera = true;
                SourceSpec::default()
            } else {
                SourceSpec::Camera {
                    index: cameras[0].0,
                }
            }
        });
        let ctx = egui_ctx.clone();
        let desk = Desk::spawn(
            DeskConfig {
                paths: paths.clone(),
            },
            Arc::new(move || ctx.request_repaint()),
        );
        let mut app = Self {
            settings,
            station: None,
            station_error: None,
            source,
            cameras,
            no_camera,
            stats: StationStats::default(),
            desk,
            desk_status: Status::Idle,
            snapshot: DbSnapshot::default(),
            snapshot_pending: false,
            line_watch: LineWatch::default(),
            frame_times: FrameTimes::default(),
            show_help: false,
            label: label::LabelTab::default(),
            train: train::TrainTab::default(),
            reports: reports::ReportsTab::default(),
            thresholds: thresholds::ThresholdsTab::default(),
            audit: audit::AuditTab::default(),
            model,
            paths,
            session: super::session::SessionUi::default(),
            desk_language: None,
            line_outputs: Vec::new(),
            reject_on_doubt: false,
            extras: Vec::new(),
            plant: None,
            plant_commands: None,
            plant_error: None,
        };
        app.reports
            .restore_database(app.settings.report_plant.clone());
        app.start_station();
        app
    }

    /// Send every decision to these PLCs and brokers from now on (the station restarts with
    /// them).
    pub fn set_line_outputs(
        &mut self,
        outputs: Vec<foodqc::lineio::LineOutputSpec>,
        reject_on_doubt: bool,
    ) {
        if outputs != self.line_outputs || reject_on_doubt != self.reject_on_doubt {
            self.line_outputs = outputs;
            self.reject_on_doubt = reject_on_doubt;
            self.start_station();
        }
    }

    /// Publish the records to the plant's Kafka at `kafka` (none: stop publishing; what was
    /// recorded meanwhile waits in the outbox).
    pub fn set_plant(&mut self, kafka: Option<foodqc::plant::KafkaSpec>) {
        // The old publisher and command thread stop when dropped.
        self.plant = None;
        self.plant_commands = None;
        self.plant_error = None;
        let Some(spec) = kafka else { return };
        let origin = self.settings.station_name.clone();
        let db = self.paths.db_path();
        let started = foodqc::plant::Publisher::start(db.clone(), &spec, &origin).and_then(|p| {
            Ok((
                p,
                foodqc::plant::CommandListener::start(&self.paths, &spec, &origin)?,
            ))
        });
        match started {
            Ok((p, commands)) => {
                self.plant = Some(p);
                self.plant_commands = Some(commands);
            }
            Err(e) => {
                tracing::error!("{e}");
                self.plant_error = Some(e.to_string());
            }
        }
    }

    /// A recipe the plant gave a new model: the cameras running it switch between two frames.
    fn follow_plant(&mut self) {
        let Some(commands) = &self.plant_commands else {
            return;
        };
        for event in commands.events() {
            let foodqc::plant::PlantEvent::RecipeUpdated { recipe, by, .. } = event;
            let cameras = self
                .station
                .iter()
                .chain(self.extras.iter().filter_map(|c| c.station.as_ref()));
            for st in cameras {
                if st.stats().recipe_name == recipe {
                    st.send(StationCommand::SetRecipe {
                        name: recipe.clone(),
                        by: by.clone(),
                    });
                }
            }
        }
    }

    /// The plant brokers of the saved line setting (an address that no longer parses is
    /// logged and left out).
    pub fn saved_plant(&self) -> Option<foodqc::plant::KafkaSpec> {
        let applied = &self.settings.live.line.applied;
        let text = applied.kafka.trim().to_string();
        if text.is_empty() {
            return None;
        }
        foodqc::plant::KafkaSpec::parse_with_ca(&text, &applied.kafka_ca)
            .inspect_err(|e| tracing::error!("saved Kafka address: {e}"))
            .ok()
    }

    /// The outputs of the saved line setting (an address that no longer parses is logged and
    /// left out).
    pub fn saved_line_outputs(&self) -> (Vec<foodqc::lineio::LineOutputSpec>, bool) {
        use foodqc::lineio::LineOutputSpec;
        let s = &self.settings.live.line.applied;
        let mut outputs = Vec::new();
        let plc = Some(s.plc.trim()).filter(|u| !u.is_empty());
        if let Some(url) = plc {
            match LineOutputSpec::parse_plc(url) {
                Ok(o) => outputs.push(o),
                Err(e) => tracing::error!("saved PLC address: {e}"),
            }
        }
        let mqtt = Some(s.mqtt.trim()).filter(|u| !u.is_empty());
        if let Some(url) = mqtt {
            match LineOutputSpec::parse_mqtt(url) {
                Ok(o) => outputs.push(o),
                Err(e) => tracing::error!("saved MQTT address: {e}"),
            }
        }
        (outputs, s.reject_on_doubt)
    }

    /// Watch these further cameras too, each its own station (`NAME-2`, `NAME-3`, ...; the
    /// main one becomes `NAME-1`).
    pub fn set_more_cameras(&mut self, sources: Vec<SourceSpec>) {
        let base = self.settings.station_name.clone();
        self.extras = sources
            .into_iter()
            .enumerate()
            .map(|(i, source)| ExtraCamera {
                source,
                name: format!("{base}-{}", i + 2),
                station: None,
                error: None,
                lot: self.settings.live.lot.clone(),
                recipe: None,
            })
            .collect();
        self.start_station();
    }

    /// The main station's name: the setting, `-1` added when there are further cameras.
    fn main_station_name(&self) -> String {
        if self.extras.is_empty() {
            self.settings.station_name.clone()
        } else {
            format!("{}-1", self.settings.station_name)
        }
    }

    /// (Re)start the further cameras' stations (each its own lot and recipe, the same model;
    /// no line outputs: a PLC ring serves one station).
    fn start_extras(&mut self) {
        for cam in &mut self.extras {
            if let Some(old) = cam.station.take() {
                cam.recipe = running_recipe(&old).or(cam.recipe.take());
                if let Err(e) = old.stop() {
                    tracing::error!("stopping {}: {e:#}", cam.name);
                }
            }
            let cfg = StationConfig {
                station_name: cam.name.clone(),
                source: cam.source.clone(),
                reject_on_doubt: false,
                line_outputs: Vec::new(),
                lot: cam.lot.clone(),
                recipe: cam.recipe.clone(),
                ..window_config(&self.settings, &self.paths)
            };
            match Station::start(cfg, self.model.clone()) {
                Ok(s) => {
                    cam.station = Some(s);
                    cam.error = None;
                }
                Err(e) => {
                    tracing::error!("{}: {e:#}", cam.name);
                    cam.error = Some(format!("{e:#}"));
                }
            }
        }
    }

    /// (Re)start the station on `self.source`, and the further cameras'.
    pub(crate) fn start_station(&mut self) {
        // A restart (new line outputs, say) keeps judging with the recipe in force.
        let mut recipe = None;
        if let Some(old) = self.station.take() {
            recipe = running_recipe(&old);
            if let Err(e) = old.stop() {
                tracing::error!("stopping the station: {e:#}");
            }
        }
        self.start_extras();
        let cfg = StationConfig {
            station_name: self.main_station_name(),
            source: self.source.clone(),
            reject_on_doubt: self.reject_on_doubt,
            line_outputs: self.line_outputs.clone(),
            recipe,
            ..window_config(&self.settings, &self.paths)
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
        self.settings.live.reset();
    }

    /// Send a command where it belongs: what changes how the line judges (model, thresholds,
    /// pause) to every camera; what belongs to one camera (lot, recipe, capture) to the one
    /// selected on the Live tab; the source and the PLC's test fire to the main one.
    pub(crate) fn send(&mut self, cmd: StationCommand) {
        use StationCommand as C;
        let camera = match &cmd {
            C::Pause
            | C::Resume
            | C::SetModel(_)
            | C::SetClassifier(_)
            | C::SetInspectionModel(_)
            | C::SetThresholds(_) => {
                for cam in &self.extras {
                    if let Some(st) = &cam.station {
                        st.send(cmd.clone());
                    }
                }
                0
            }
            C::SetLot(_) | C::SetRecipe { .. } | C::CaptureNext => {
                self.settings.live.selected_camera()
            }
            C::SetSource(_) | C::TestFire { .. } => 0,
        };
        let Some(cam) = camera.checked_sub(1) else {
            if let Some(st) = &self.station {
                st.send(cmd);
            }
            return;
        };
        let Some(extra) = self.extras.get_mut(cam) else {
            return;
        };
        match &cmd {
            C::SetLot(lot) => extra.lot = lot.clone(),
            C::SetRecipe { name, .. } => extra.recipe = Some(name.clone()),
            _ => {}
        }
        if let Some(st) = &extra.station {
            st.send(cmd);
        }
    }

    /// Forward the actions of a tab.
    fn act(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Desk(c) => {
                    if !self.desk.send(*c) {
                        self.desk_status = Status::Failed(tr!("desk-stopped"));
                    }
                }
                Action::Station(c) => self.send(c),
                Action::Sign(request) => self.session.ask_signature(request),
            }
        }
    }

    pub(crate) fn toggle_pause(&mut self) {
        let cmd = if self.stats.paused {
            StationCommand::Resume
        } else {
            StationCommand::Pause
        };
        self.send(cmd);
        // Show the new state at once; the next stats read confirms it.
        self.stats.paused = !self.stats.paused;
    }

    /// Ask for a fresh snapshot when the last one is older than `max_age` (one at a time).
    fn refresh_snapshot_if_older(&mut self, max_age: Duration) {
        let stale = self.snapshot.taken_at.is_none_or(|t| t.elapsed() > max_age);
        if stale && !self.snapshot_pending {
            self.snapshot_pending = self.desk.send(Command::RefreshSnapshot);
        }
    }

    /// Take the worker's events to the tabs (and the model and station, for promotions and
    /// threshold settings).
    fn take_events(&mut self, ctx: &egui::Context) {
        for ev in self.desk.poll() {
            match ev {
                Event::Snapshot(s) => {
                    self.snapshot = s;
                    self.snapshot_pending = false;
                }
                Event::Status(Topic::Desk | Topic::Snapshot, s) => self.desk_status = s,
                Event::Status(Topic::Label | Topic::Files, _)
                | Event::LabelQueue(_)
                | Event::Labelled { .. }
                | Event::Unlabelled { .. }
                | Event::DefectClasses(_)
                | Event::SampleImage { .. } => self.label.on_event(ev, ctx),
                Event::Status(Topic::Reports, _)
                | Event::ReportOptions(_)
                | Event::Report(..)
                | Event::ShiftReview(_)
                | Event::Drill { .. } => self.reports.on_event(ev, ctx),
                Event::ThresholdsLoaded { ref history, .. } => {
                    // The setting in force (the station applies it at start) is the start.
                    if let Some(cur) = history.first()
                        && cur.thresholds != self.model.thresholds
                    {
                        self.model = Arc::new(self.model.with_thresholds(cur.thresholds.clone()));
                        self.thresholds.take_thresholds(&cur.thresholds);
                    }
                    self.thresholds.on_event(ev);
                }
                Event::ThresholdsApplied { ref thresholds, .. } => {
                    self.model = Arc::new(self.model.with_thresholds(thresholds.clone()));
                    self.send(StationCommand::SetThresholds(thresholds.clone()));
                    self.thresholds.on_event(ev);
                }
                Event::Status(Topic::Thresholds, _) | Event::Previews(_) => {
                    self.thresholds.on_event(ev)
                }
                Event::Promoted(p) => {
                    self.model = p.model.clone();
                    self.send(StationCommand::SetModel(p.model));
                    self.send(StationCommand::SetClassifier(p.classifier));
                }
                Event::Session(user) => self.session.set_user(user, Instant::now()),
                Event::UserLanguage(lang) => {
                    self.settings.language = lang;
                    // The worker already speaks it (and keeps it as the user's).
                    self.desk_language = Some(lang);
                }
                Event::Status(Topic::Session, s) => {
                    self.session.message = s.message().map(str::to_string);
                }
                Event::Status(Topic::Train | Topic::Promotion, _)
                | Event::TrainProgress(_)
                | Event::TrainFinished(_)
                | Event::Comparison { .. } => self.train.on_event(ev),
                Event::Status(Topic::Audit, _)
                | Event::AuditEntries { .. }
                | Event::AuditVerified(_)
                | Event::AuditExportPath(_) => self.audit.on_event(ev),
                Event::LineOutputs {
                    outputs,
                    reject_on_doubt,
                    kafka,
                    kafka_ca,
                } => {
                    let setting = super::line_panel::LineSetting {
                        plc: first_of(&outputs, true),
                        mqtt: first_of(&outputs, false),
                        reject_on_doubt,
                        kafka: kafka
                            .as_ref()
                            .map(|k| k.brokers.clone())
                            .unwrap_or_default(),
                        kafka_ca,
                    };
                    self.settings.live.line.applied(setting);
                    self.set_line_outputs(outputs, reject_on_doubt);
                    self.set_plant(kafka);
                }
                Event::Status(Topic::Line, s) => {
                    self.settings.live.line.status = s.message().map(str::to_string);
                }
                Event::PlantKeys { own, trusted } => {
                    self.settings.live.line.keys.loaded(own, trusted);
                }
                Event::Status(Topic::PlantKeys, s) => {
                    self.settings.live.line.keys.status = s.message().map(str::to_string);
                }
                Event::Status(Topic::Recipes, s) => {
                    self.settings.live.recipes.status = s.message().map(str::to_string);
                }
                Event::RecipeSaved(r) => self.settings.live.recipes.saved(r),
                Event::RecipeRead(r) => self.settings.live.recipes.read(r),
            }
        }
    }

    /// Draw the selected tab and forward what it asks for.
    fn tab_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = TabCtx {
            stats: &self.stats,
            model: &self.model,
            snapshot: &self.snapshot,
            session: &self.session,
            station_error: self.station_error.as_deref(),
            exports_dir: &self.paths.data_dir.join("exports"),
            alarm: self.line_watch.alarm(),
            plant_origin: self
                .plant
                .as_ref()
                .map(|_| self.settings.station_name.as_str()),
        };
        let actions = match self.settings.tab {
            Tab::Live => self.settings.live.ui(ui, &ctx),
            Tab::Label => self.label.ui(ui, &ctx),
            Tab::Train => self.train.ui(ui, &ctx),
            Tab::Reports => self.reports.ui(ui, &ctx),
            Tab::Thresholds => self.thresholds.ui(ui, &ctx),
            Tab::Audit => self.audit.ui(ui, &ctx),
        };
        self.act(actions);
    }
}

impl eframe::App for FoodQcApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        foodqc::i18n::set_thread_language(Some(self.settings.language));
        // The worker's messages follow the window's language (also after a switch).
        if self.desk_language != Some(self.settings.language)
            && self.desk.send(Command::SetLanguage(self.settings.language))
        {
            self.desk_language = Some(self.settings.language);
        }
        if let Some(st) = &self.station {
            self.stats = st.stats();
            if let Some(latest) = st.latest() {
                self.settings.live.update(ctx, latest);
            }
        }
        if !self.extras.is_empty() {
            let cams = self
                .extras
                .iter()
                .map(|c| {
                    let (stats, latest) = c
                        .station
                        .as_ref()
                        .map(|s| (s.stats(), s.latest()))
                        .unwrap_or_default();
                    super::live::CameraState {
                        name: c.name.clone(),
                        stats,
                        latest,
                        error: c.error.clone(),
                    }
                })
                .collect();
            let main = self.main_station_name();
            self.settings.live.update_extras(ctx, main, cams);
        }
        // The out-of-control alarm watches the line whichever tab is shown.
        if let Some(details) = self.line_watch.watch(&self.stats) {
            self.desk.send(Command::LogAlarm(details));
        }
        self.take_events(ctx);
        self.follow_plant();
        self.watch_idle(ctx, Instant::now());
        self.handle_keys(ctx);
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
        self.refresh_snapshot_if_older(db_age);
        // The line moves: keep repainting while running, as often as a new picture comes.
        if !self.stats.paused {
            ctx.request_repaint_after(self.settings.live.repaint_interval());
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let started = Instant::now();
        // This window's thread speaks the window's language (another window in the same
        // process, as in the tests, may speak another).
        foodqc::i18n::set_thread_language(Some(self.settings.language));
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        self.tab_ui(ui);
        let ctx = ui.ctx().clone();
        if self.show_help {
            self.help_window(&ctx);
        }
        self.session_windows(&ctx);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.frame_times.push(ms);
        // The previous frame as a whole: ui, tessellation and painting.
        let whole = frame.info().cpu_usage.map(|s| f64::from(s) * 1000.0);
        self.train.record_frame(ms, whole);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.settings.report_plant = self.reports.saved_database();
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// The address of the first PLC (or broker) among `outputs`, empty when there is none.
fn first_of(outputs: &[foodqc::lineio::LineOutputSpec], plc: bool) -> String {
    outputs
        .iter()
        .find(|o| o.is_plc() == plc)
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// What every station of the window shares: a live line, folders replayed in a loop, the lot
/// of the Live tab, crops rate-limited; name, source and outputs are the caller's.
/// The recipe `station` judges with, by name (none when it runs without one).
fn running_recipe(station: &Station) -> Option<String> {
    Some(station.stats().recipe_name).filter(|n| !n.is_empty())
}

fn window_config(settings: &Settings, paths: &AppPaths) -> StationConfig {
    StationConfig {
        station_name: settings.station_name.clone(),
        source: SourceSpec::default(),
        source_options: SourceOptions {
            loop_folder: true,
            ..Default::default()
        },
        lot: settings.live.lot.clone(),
        live: true,
        max_frames: None,
        paths: paths.clone(),
        reject_samples_per_minute: 30,
        reject_on_doubt: false,
        recipe: None,
        operator: None,
        line_outputs: Vec::new(),
    }
}
