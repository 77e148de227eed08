//! The workstation window: a thin egui layer over the `foodqc` library. It renders and sends
//! commands: each tab is a state struct whose `ui` returns [`Action`]s; the app forwards them
//! to the desk worker ([`foodqc::services::desk`]) or the station, and routes the worker's
//! events back to the tabs. Nothing here starts a thread or touches the database.

mod action;
mod app;
mod audit;
mod label;
mod line_panel;
mod live;
mod plant_keys;
mod recipe_editor;
mod reports;
pub(crate) mod session;
mod status_bar;
mod theme;
mod thresholds;
mod top_bar;
mod train;
mod unlock;

#[cfg(test)]
mod tests;

use foodqc::capture::SourceSpec;
use foodqc::domain::AppPaths;
use foodqc::i18n::Language;
use foodqc::tr;
use serde::{Deserialize, Serialize};

pub use app::FoodQcApp;

/// What the window's station runs on: the frame source (`None`: camera 0 when one is found,
/// else the synthetic line) and the PLCs and brokers each decision goes to.
#[derive(Clone, Debug, Default)]
pub struct LineChoice {
    /// The first `--source`.
    pub source: Option<SourceSpec>,
    /// Further `--source`: more cameras, each its own station, shown in a grid.
    pub more_sources: Vec<SourceSpec>,
    /// `--plc` and `--mqtt`, each repeatable.
    pub outputs: Vec<foodqc::lineio::LineOutputSpec>,
}

/// Open the window and run until it is closed. `load_model` gives the model to judge with; it
/// runs once the database can be read: before the window opens, or after the passphrase of
/// an encrypted database has been typed in it.
pub fn run_gui(
    paths: AppPaths,
    load_model: unlock::ModelLoader,
    line: LineChoice,
    language: Option<Language>,
) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("foodqc")
            .with_inner_size([1400.0, 860.0])
            .with_min_inner_size([900.0, 600.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    // An encrypted database without a working key: the window opens on the passphrase prompt.
    let start = match unlock::lock_reason(&paths.db_path()) {
        None => Ok(load_model(&paths)?),
        Some(reason) => Err((reason, load_model)),
    };
    eframe::run_native(
        "foodqc",
        options,
        Box::new(move |cc| -> Result<Box<dyn eframe::App>, _> {
            Ok(match start {
                Ok(model) => Box::new(unlock::open_workstation(
                    &cc.egui_ctx,
                    cc.storage,
                    paths,
                    model,
                    line,
                    language,
                )),
                Err((reason, load_model)) => Box::new(unlock::Workstation::locked(
                    cc, paths, load_model, line, language, reason,
                )),
            })
        }),
    )
    .map_err(|e| anyhow::anyhow!(tr!("window-open-failed", error = e.to_string())))
}

/// The tabs of the workstation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    Live,
    Label,
    Train,
    Thresholds,
    Reports,
    Audit,
}

impl Tab {
    const ALL: [Tab; 6] = [
        Tab::Live,
        Tab::Label,
        Tab::Train,
        Tab::Thresholds,
        Tab::Reports,
        Tab::Audit,
    ];

    fn title(self) -> String {
        match self {
            Tab::Live => tr!("tab-live"),
            Tab::Label => tr!("tab-label"),
            Tab::Train => tr!("tab-train"),
            Tab::Thresholds => tr!("tab-thresholds"),
            Tab::Reports => tr!("tab-reports"),
            Tab::Audit => tr!("tab-audit"),
        }
    }

    fn key(self) -> egui::Key {
        match self {
            Tab::Live => egui::Key::F1,
            Tab::Label => egui::Key::F2,
            Tab::Train => egui::Key::F3,
            Tab::Reports => egui::Key::F4,
            Tab::Thresholds => egui::Key::F5,
            Tab::Audit => egui::Key::F6,
        }
    }
}

/// What survives a restart (window state is kept by eframe itself).
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Selected tab.
    pub tab: Tab,
    /// Dark theme (else light).
    pub dark: bool,
    /// Last folder replayed.
    pub folder: String,
    /// Station name.
    pub station_name: String,
    /// The Live tab: overlay switches and the lot being produced.
    pub live: live::LiveTab,
    /// The language of the window (first run: the session's locale).
    pub language: Language,
    /// The plant database the Reports tab reads, without its password (none: the
    /// station's).
    pub report_plant: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: Tab::Live,
            dark: true,
            folder: String::new(),
            station_name: "station-1".into(),
            live: live::LiveTab::default(),
            language: Language::from_environment(),
            report_plant: None,
        }
    }
}
