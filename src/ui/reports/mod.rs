//! Reports tab: filters on the left, p-chart, Pareto and drift in the middle, the drill-down
//! below, export and lot disposition on the right. Every query, export and status change is
//! a command to the desk worker; the tab shows its answers.

mod actions;
mod charts;
mod drill;
mod filters;

use std::collections::HashMap;
use std::path::PathBuf;

use egui::TextureHandle;
use foodqc::reports::drift::DriftReference;
use foodqc::reports::filter::parse_time;
use foodqc::reports::{GroupBy, Report, ReportFilter};
use foodqc::services::desk::{Command, Event, FilterOptions, Status};
use foodqc::store::InspectionView;
use foodqc::tr;

use super::action::{Action, TabCtx};

/// The drill-down: the items behind a clicked point or bar.
#[derive(Default)]
pub struct Drill {
    /// What was clicked.
    pub title: String,
    /// Its items, latest first.
    pub items: Vec<InspectionView>,
    /// Asked, not answered yet.
    pub loading: bool,
}

/// State of the Reports tab.
pub struct ReportsTab {
    /// Filter being edited.
    pub filter: ReportFilter,
    /// From / to as typed.
    from_text: String,
    to_text: String,
    /// Subgroups of the p-chart.
    pub group_by: GroupBy,
    /// Drill-down shows rejected items only.
    pub rejects_only: bool,
    /// Drill-down shows items with a saved crop only.
    pub images_only: bool,
    /// The last report.
    pub report: Option<Report>,
    report_ms: f64,
    /// Queries and exports: running, or the last message.
    pub status: Status,
    options: FilterOptions,
    /// The drill-down.
    pub drill: Drill,
    thumbs: HashMap<PathBuf, TextureHandle>,
    /// Lot chosen for disposition.
    pub disposition_lot: String,
    /// Comment for the disposition (and the reason of a shift's closing signature).
    pub comment: String,
    /// The review of the shift the report shows, when it shows one.
    pub shift_review: Option<foodqc::services::shift_review::ShiftReviewState>,
    /// The reports read the plant database (every station) instead of this station's.
    pub plant: bool,
    /// The plant database's `postgres://` URL as typed.
    pub plant_url: String,
    started: bool,
}

impl Default for ReportsTab {
    fn default() -> Self {
        Self {
            filter: ReportFilter::default(),
            from_text: String::new(),
            to_text: String::new(),
            group_by: GroupBy::Lot,
            rejects_only: true,
            images_only: false,
            report: None,
            report_ms: 0.0,
            shift_review: None,
            status: Status::Idle,
            options: FilterOptions::default(),
            drill: Drill::default(),
            thumbs: HashMap::new(),
            disposition_lot: String::new(),
            comment: String::new(),
            plant: false,
            plant_url: String::new(),
            started: false,
        }
    }
}

impl ReportsTab {
    /// Ask for `cmd`, telling the user `busy` (when not empty) meanwhile.
    fn ask(&mut self, actions: &mut Vec<Action>, cmd: Command, busy: &str) {
        actions.push(cmd.into());
        if !busy.is_empty() {
            self.status = Status::busy(busy);
        }
    }

    /// Run the report for the current filter (and refresh the menus).
    fn run(&mut self, model: &foodqc::model::AnomalyModel, actions: &mut Vec<Action>) {
        let time = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| parse_time(s)).transpose()
        };
        match (time(&self.from_text), time(&self.to_text)) {
            (Ok(from), Ok(to)) => {
                self.filter.from_ms = from;
                self.filter.to_ms = to;
            }
            (Err(e), _) | (_, Err(e)) => {
                self.status = Status::Failed(e.to_string());
                return;
            }
        }
        self.ask(actions, Command::ReportOptions, "");
        let cmd = Command::BuildReport {
            filter: self.filter.clone(),
            group_by: self.group_by,
            reference: DriftReference::for_model(model),
        };
        self.ask(actions, cmd, &tr!("reports-querying"));
    }

    /// The plant database chosen, saved without its password (none: this station's).
    pub fn saved_database(&self) -> Option<String> {
        self.plant
            .then(|| foodqc::store::plant_db::without_password(self.plant_url.trim()))
    }

    /// Read the plant database at `url` (none: this station's) from the next report on.
    pub fn restore_database(&mut self, url: Option<String>) {
        self.plant = url.is_some();
        self.plant_url = url.unwrap_or_default();
    }

    /// Tell the worker which database the reports read, forget what the other one showed
    /// and run the report there.
    fn switch_database(&mut self, model: &foodqc::model::AnomalyModel, actions: &mut Vec<Action>) {
        let plant = self.plant.then(|| self.plant_url.trim().to_string());
        actions.push(Command::ReportDatabase { plant }.into());
        self.report = None;
        self.shift_review = None;
        self.options = FilterOptions::default();
        self.drill = Drill::default();
        self.disposition_lot.clear();
        // Names of the other database may not exist in this one.
        let (from, to) = (self.filter.from_ms, self.filter.to_ms);
        self.filter = ReportFilter {
            from_ms: from,
            to_ms: to,
            ..ReportFilter::default()
        };
        self.run(model, actions);
    }

    /// Show the items behind `filter` in the drill-down.
    fn drill(&mut self, title: String, mut filter: ReportFilter, actions: &mut Vec<Action>) {
        if self.rejects_only && filter.verdict.is_none() {
            filter.verdict = Some("reject".into());
        }
        self.drill.loading = true;
        self.drill.title = title.clone();
        if let Some(code) = &filter.lot {
            self.disposition_lot = code.clone();
        }
        let cmd = Command::Drill {
            title,
            filter,
            images_only: self.images_only,
        };
        self.ask(actions, cmd, "");
    }

    /// Take an event of the worker (reports).
    pub fn on_event(&mut self, ev: Event, ctx: &egui::Context) {
        match ev {
            Event::ReportOptions(o) => self.options = o,
            Event::ShiftReview(r) => self.shift_review = r,
            Event::Report(r, ms) => {
                self.report = Some(*r);
                self.report_ms = ms;
                // Keep a message (a lot status change, an export) on screen.
                if self.status.is_busy() {
                    self.status = Status::Idle;
                }
            }
            Event::Drill {
                title,
                items,
                thumbs,
            } => {
                for (path, img) in thumbs {
                    let name = path.display().to_string();
                    let c = egui::ColorImage::from_rgb(
                        [img.width() as usize, img.height() as usize],
                        img.as_raw(),
                    );
                    self.thumbs
                        .entry(path)
                        .or_insert_with(|| ctx.load_texture(name, c, egui::TextureOptions::LINEAR));
                }
                if title == self.drill.title {
                    self.drill.items = items;
                    self.drill.loading = false;
                }
            }
            Event::Status(_, s) => {
                if matches!(s, Status::Failed(_)) {
                    self.drill.loading = false;
                }
                self.status = s;
            }
            _ => {}
        }
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.started {
            self.started = true;
            if self.plant {
                self.switch_database(ctx.model, &mut actions);
            } else {
                self.run(ctx.model, &mut actions);
            }
        }
        // Panels in proportion at small windows, so the charts in the middle keep some room.
        let (width, height) = (ui.available_width(), ui.available_height());
        egui::Panel::left("report_filters")
            .resizable(false)
            .exact_size((width * 0.27).clamp(240.0, 270.0))
            .show(ui, |ui| self.filters(ui, ctx, &mut actions));
        egui::Panel::right("report_actions")
            .resizable(false)
            .exact_size((width * 0.26).clamp(230.0, 300.0))
            .show(ui, |ui| self.actions(ui, ctx, &mut actions));
        egui::Panel::bottom("report_drill")
            .resizable(true)
            .min_size(150.0)
            .default_size((height * 0.33).clamp(170.0, 320.0))
            .show(ui, |ui| self.drill_down(ui, &mut actions));
        egui::CentralPanel::default().show(ui, |ui| self.charts(ui, &mut actions));
        actions
    }
}

/// A share as `1.23 %` in the language in force.
fn pct(v: f64) -> String {
    foodqc::i18n::format_percent(v, 2)
}

#[cfg(test)]
mod tests;
