//! Reports tab: filters on the left, p-chart, Pareto and drift in the middle, the drill-down
//! below, export and lot disposition on the right. Every query, export and status change runs
//! on the report worker thread; the tab only sends jobs and shows replies.
//!
//! Also home of the live line's out-of-control alarm ([`ReportsView::watch_line`]), which
//! feeds the station counters into [`foodqc::reports::spc::LiveMonitor`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, unbounded};
use egui::{Color32, TextureHandle};
use egui_plot::{Bar, BarChart, Line, LineStyle, MarkerShape, Plot, PlotPoints, Points};
use foodqc::domain::Verdict;
use foodqc::reports::drift::DriftReference;
use foodqc::reports::pdf::PdfMeta;
use foodqc::reports::query;
use foodqc::reports::spc::{LiveAlarm, LiveMonitor};
use foodqc::reports::{GroupBy, Report, ReportFilter, filter::parse_time};
use foodqc::station::StationStats;
use foodqc::store::{FilterOptions, InspectionView, LotStatus, Store};

use super::{FoodQcApp, theme};

/// Work for the report thread.
enum Job {
    Options,
    Build(ReportFilter, GroupBy, DriftReference),
    Drill(String, ReportFilter, bool),
    SetStatus {
        code: String,
        status: LotStatus,
        actor: String,
        comment: String,
    },
    Csv(ReportFilter, PathBuf),
    Pdf(Box<Report>, PdfMeta, PathBuf),
    Alarm(serde_json::Value),
    /// Echo a message (e.g. "export cancelled") back in order with the other replies.
    Notice(String),
}

/// What the report thread sends back.
enum Reply {
    Options(FilterOptions),
    Report(Box<Report>, f64),
    Drill(
        String,
        Vec<InspectionView>,
        Vec<(PathBuf, egui::ColorImage)>,
    ),
    Done(String),
    Progress(String),
    Error(String),
}

/// The drill-down: the items behind a clicked point or bar.
#[derive(Default)]
struct Drill {
    title: String,
    items: Vec<InspectionView>,
    loading: bool,
}

/// State of the Reports tab and of the live alarm.
pub struct ReportsView {
    jobs: Sender<Job>,
    replies: Receiver<Reply>,
    cancel: Arc<AtomicBool>,
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
    /// A query or export is running.
    pub busy: Option<String>,
    /// Last message (export done, status changed) or error.
    pub message: Option<(bool, String)>,
    options: FilterOptions,
    drill: Drill,
    thumbs: HashMap<PathBuf, TextureHandle>,
    /// Lot chosen for disposition.
    pub disposition_lot: String,
    /// Comment for the disposition.
    pub comment: String,
    /// Who decides (stored in the audit log).
    pub actor: String,
    monitor: LiveMonitor,
    /// The live line's alarm, while out of control.
    pub alarm: Option<LiveAlarm>,
    started: bool,
    exports_dir: PathBuf,
}

impl ReportsView {
    /// Start the report thread on the database at `db_path`; `repaint` wakes the UI.
    pub fn new(
        db_path: PathBuf,
        exports_dir: PathBuf,
        repaint: impl Fn() + Send + 'static,
    ) -> Self {
        let (jobs, job_rx) = unbounded::<Job>();
        let (reply_tx, replies) = unbounded::<Reply>();
        let cancel = Arc::new(AtomicBool::new(false));
        let cancel2 = cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("foodqc-ui-reports".into())
            .spawn(move || worker(db_path, job_rx, reply_tx, cancel2, repaint));
        if let Err(e) = spawned {
            tracing::error!("cannot start the report thread: {e}");
        }
        Self {
            jobs,
            replies,
            cancel,
            filter: ReportFilter::default(),
            from_text: String::new(),
            to_text: String::new(),
            group_by: GroupBy::Lot,
            rejects_only: true,
            images_only: false,
            report: None,
            report_ms: 0.0,
            busy: None,
            message: None,
            options: FilterOptions::default(),
            drill: Drill::default(),
            thumbs: HashMap::new(),
            disposition_lot: String::new(),
            comment: String::new(),
            actor: std::env::var("USER").unwrap_or_else(|_| "qc".into()),
            monitor: LiveMonitor::default(),
            alarm: None,
            started: false,
            exports_dir,
        }
    }

    fn send(&mut self, job: Job, busy: &str) {
        if self.jobs.send(job).is_err() {
            self.message = Some((true, "the report thread has stopped".into()));
        } else if !busy.is_empty() {
            self.busy = Some(busy.to_string());
        }
    }

    /// Run the report for the current filter (and refresh the menus).
    pub fn run(&mut self, model: &foodqc::model::AnomalyModel) {
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
                self.message = Some((true, e.to_string()));
                return;
            }
        }
        self.send(Job::Options, "");
        self.send(
            Job::Build(
                self.filter.clone(),
                self.group_by,
                DriftReference::for_model(model),
            ),
            "running the report queries",
        );
    }

    /// Show the items behind `filter` in the drill-down.
    pub fn drill(&mut self, title: String, mut filter: ReportFilter) {
        if self.rejects_only && filter.verdict.is_none() {
            filter.verdict = Some("reject".into());
        }
        self.drill.loading = true;
        self.drill.title = title.clone();
        if let Some(code) = &filter.lot {
            self.disposition_lot = code.clone();
        }
        self.send(Job::Drill(title, filter, self.images_only), "");
    }

    /// Take the replies of the report thread (call every frame).
    pub fn poll(&mut self, ctx: &egui::Context) {
        while let Ok(reply) = self.replies.try_recv() {
            match reply {
                Reply::Options(o) => self.options = o,
                Reply::Report(r, ms) => {
                    self.report = Some(*r);
                    self.report_ms = ms;
                    self.busy = None;
                }
                Reply::Drill(title, items, images) => {
                    for (path, img) in images {
                        let name = path.display().to_string();
                        self.thumbs.entry(path).or_insert_with(|| {
                            ctx.load_texture(name, img, egui::TextureOptions::LINEAR)
                        });
                    }
                    if title == self.drill.title {
                        self.drill.items = items;
                        self.drill.loading = false;
                    }
                }
                Reply::Done(msg) => {
                    self.busy = None;
                    self.message = Some((false, msg));
                }
                Reply::Progress(msg) => self.busy = Some(msg),
                Reply::Error(e) => {
                    self.busy = None;
                    self.drill.loading = false;
                    self.message = Some((true, e));
                }
            }
        }
    }

    /// Feed the station counters to the live monitor; raise (and log once) or clear the
    /// alarm.
    pub fn watch_line(&mut self, stats: &StationStats) {
        if !self.monitor.update(stats.items, stats.rejects) {
            return;
        }
        let alarm = self.monitor.alarm();
        if let (Some(a), None) = (&alarm, &self.alarm) {
            let msg = a.message();
            tracing::warn!(lot = %stats.lot, "{msg}");
            let details = serde_json::json!({
                "lot": stats.lot,
                "source": stats.source,
                "p": a.p,
                "p_bar": a.p_bar,
                "ucl": a.ucl,
                "rules": a.rules.iter().map(|r| r.number()).collect::<Vec<_>>(),
                "message": msg,
            });
            self.send(Job::Alarm(details), "");
        }
        self.alarm = alarm;
    }
}

/// Load a crop as a thumbnail (at most 128 px).
fn thumbnail(path: &std::path::Path) -> Option<egui::ColorImage> {
    let img = image::open(path)
        .map_err(|e| tracing::warn!("drill-down: cannot read {}: {e}", path.display()))
        .ok()?
        .thumbnail(128, 128)
        .to_rgb8();
    Some(egui::ColorImage::from_rgb(
        [img.width() as usize, img.height() as usize],
        img.as_raw(),
    ))
}

fn worker(
    db_path: PathBuf,
    jobs: Receiver<Job>,
    replies: Sender<Reply>,
    cancel: Arc<AtomicBool>,
    repaint: impl Fn(),
) {
    let mut store: Option<Store> = None;
    let mut loaded: std::collections::HashSet<PathBuf> = Default::default();
    while let Ok(job) = jobs.recv() {
        let reply = (|| -> Result<Option<Reply>, String> {
            if store.is_none() {
                store = Some(open_with_retry(&db_path).map_err(|e| e.to_string())?);
            }
            let Some(st) = store.as_mut() else {
                unreachable!("opened above")
            };
            let e = |e: foodqc::reports::ReportError| e.to_string();
            Ok(Some(match job {
                Job::Options => Reply::Options(st.filter_options().map_err(|e| e.to_string())?),
                Job::Build(f, by, reference) => {
                    let t = std::time::Instant::now();
                    let r = foodqc::reports::build_report(st, &f, by, &reference).map_err(e)?;
                    Reply::Report(Box::new(r), t.elapsed().as_secs_f64() * 1000.0)
                }
                Job::Drill(title, f, images_only) => {
                    let items = query::items(st, &f, images_only, 300).map_err(e)?;
                    let images = items
                        .iter()
                        .filter_map(|i| i.sample_path.clone())
                        .filter(|p| loaded.insert(p.clone()))
                        .take(60)
                        .filter_map(|p| thumbnail(&p).map(|img| (p, img)))
                        .collect();
                    Reply::Drill(title, items, images)
                }
                Job::SetStatus {
                    code,
                    status,
                    actor,
                    comment,
                } => {
                    let id: i64 = st
                        .lot_id(&code)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("lot {code:?} is not in the database"))?;
                    st.set_lot_status(id, status, &actor, &comment)
                        .map_err(|e| e.to_string())?;
                    Reply::Done(format!(
                        "Lot {code} set to {} by {actor}",
                        status.as_str().to_uppercase()
                    ))
                }
                Job::Csv(f, path) => {
                    cancel.store(false, Ordering::Relaxed);
                    let progress = |n: u64| {
                        let _ = replies.send(Reply::Progress(format!("CSV: {n} rows written")));
                        repaint();
                    };
                    let n = foodqc::reports::export::write_csv(st, &f, &path, &progress, &cancel)
                        .map_err(e)?;
                    Reply::Done(format!("Wrote {n} rows to {}", path.display()))
                }
                Job::Pdf(r, meta, path) => {
                    let bytes = foodqc::reports::pdf::write_pdf(st, &r, &meta, &path).map_err(e)?;
                    Reply::Done(format!("Wrote {} ({} kB)", path.display(), bytes / 1024))
                }
                Job::Alarm(details) => {
                    // The banner already shows the alarm: nothing to reply.
                    st.audit("system", "line.alarm", details)
                        .map_err(|e| e.to_string())?;
                    return Ok(None);
                }
                Job::Notice(msg) => Reply::Done(msg),
            }))
        })();
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("reports: {e}");
                store = None;
                Some(Reply::Error(e))
            }
        };
        if let Some(reply) = reply {
            let _ = replies.send(reply);
            repaint();
        }
    }
}

/// Open the database, retrying briefly: at start-up the station, the UI reader and this
/// thread open a new file at the same time, and all but one may fail while another creates
/// the schema.
fn open_with_retry(path: &std::path::Path) -> Result<Store, foodqc::store::StoreError> {
    let mut tries = 0;
    loop {
        match Store::open(path) {
            Ok(s) => return Ok(s),
            Err(e) if tries < 5 => {
                tracing::debug!("reports: opening {} failed, retrying: {e}", path.display());
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100 * tries));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A menu of `values` with "any" for `None`.
fn choice(ui: &mut egui::Ui, label: &str, value: &mut Option<String>, values: &[String]) {
    ui.label(label);
    egui::ComboBox::from_id_salt(label)
        .selected_text(value.as_deref().unwrap_or("any"))
        .width(170.0)
        .show_ui(ui, |ui| {
            if ui.selectable_label(value.is_none(), "any").clicked() {
                *value = None;
            }
            for v in values {
                if ui
                    .selectable_label(value.as_deref() == Some(v.as_str()), v)
                    .clicked()
                {
                    *value = Some(v.clone());
                }
            }
        });
    ui.end_row();
}

/// Draw the Reports tab.
pub fn show(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    let model = app.model.clone();
    let v = &mut app.reports;
    v.poll(&ctx);
    if !v.started {
        v.started = true;
        v.run(&model);
    }
    egui::Panel::left("report_filters")
        .resizable(false)
        .exact_size(270.0)
        .show(ui, |ui| filters(v, ui, &model));
    egui::Panel::right("report_actions")
        .resizable(false)
        .exact_size(300.0)
        .show(ui, |ui| actions(v, ui));
    egui::Panel::bottom("report_drill")
        .resizable(true)
        .min_size(200.0)
        .default_size(320.0)
        .show(ui, |ui| drill_down(v, ui));
    egui::CentralPanel::default().show(ui, |ui| charts(v, ui));
}

fn filters(v: &mut ReportsView, ui: &mut egui::Ui, model: &foodqc::model::AnomalyModel) {
    ui.heading("Filters");
    egui::Grid::new("report_filter_grid")
        .num_columns(2)
        .spacing([6.0, 6.0])
        .show(ui, |ui| {
            ui.label("From (UTC)");
            ui.add(
                egui::TextEdit::singleline(&mut v.from_text)
                    .hint_text("2026-11-20 06:00")
                    .desired_width(170.0),
            );
            ui.end_row();
            ui.label("To (UTC)");
            ui.add(
                egui::TextEdit::singleline(&mut v.to_text)
                    .hint_text("2026-11-21")
                    .desired_width(170.0),
            );
            ui.end_row();
            let o = v.options.clone();
            choice(ui, "Station", &mut v.filter.station, &o.stations);
            choice(ui, "Line", &mut v.filter.line, &o.lines);
            choice(ui, "Lot", &mut v.filter.lot, &o.lots);
            choice(ui, "Product", &mut v.filter.product, &o.products);
            choice(ui, "Shift", &mut v.filter.shift, &o.shifts);
            let verdicts: Vec<String> = foodqc::reports::filter::VERDICTS
                .iter()
                .map(|s| s.to_string())
                .collect();
            choice(ui, "Verdict", &mut v.filter.verdict, &verdicts);
            let mut defects = o.defects.clone();
            defects.push(foodqc::reports::pareto::UNCLASSIFIED.into());
            choice(ui, "Defect", &mut v.filter.defect_class, &defects);
            choice(ui, "Model", &mut v.filter.model_version, &o.models);
            ui.label("Chart by");
            egui::ComboBox::from_id_salt("Chart by")
                .selected_text(v.group_by.title())
                .width(170.0)
                .show_ui(ui, |ui| {
                    for g in GroupBy::ALL {
                        ui.selectable_value(&mut v.group_by, g, g.title());
                    }
                });
            ui.end_row();
        });
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        if ui
            .add_enabled(v.busy.is_none(), egui::Button::new("Apply"))
            .on_hover_text("Run the report for these filters")
            .clicked()
        {
            v.run(model);
        }
        if ui.button("Clear").clicked() {
            v.filter = ReportFilter::default();
            v.from_text.clear();
            v.to_text.clear();
            v.run(model);
        }
    });
    if let Some(b) = &v.busy {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(b);
        });
    }
    if let Some(r) = &v.report {
        ui.separator();
        ui.label(egui::RichText::new(format!("Queries took {:.0} ms:", v.report_ms)).small());
        for (q, ms) in &r.timings_ms {
            ui.label(egui::RichText::new(format!("  {q}: {ms:.0} ms")).small());
        }
    }
}

/// Data series colour (neutral blue: colour is reserved for state).
const SERIES: Color32 = Color32::from_rgb(70, 130, 220);

fn pct(v: f64) -> String {
    format!("{:.2} %", 100.0 * v)
}

fn summary_line(ui: &mut egui::Ui, r: &Report) {
    let s = &r.summary;
    ui.horizontal_wrapped(|ui| {
        for (label, value) in [
            ("Items inspected", s.items.to_string()),
            ("Rejected", s.rejects.to_string()),
            ("Reject rate", pct(s.reject_rate())),
            ("Review", s.reviews.to_string()),
        ] {
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(label).small());
                ui.label(egui::RichText::new(value).size(22.0).strong());
            });
            ui.add_space(14.0);
        }
        ui.vertical(|ui| {
            let n = r.chart.out_of_control().count();
            ui.label(egui::RichText::new("Out of control").small());
            let text = egui::RichText::new(format!(
                "{n} of {} {}s",
                r.chart.points.len(),
                r.group_by.title()
            ))
            .size(22.0)
            .strong();
            ui.label(if n > 0 {
                text.color(theme::REJECT)
            } else {
                text
            });
        });
    });
    if r.drifting() {
        let hours = r.drift.iter().filter(|d| d.drifting).count();
        ui.colored_label(
            theme::WARN,
            format!(
                "WARNING: score drift in {hours} hour(s): more than {:.0} % of passed items score above the training 95th percentile (expected {:.0} %). Check lighting, camera and product, or retrain.",
                100.0 * r.drift_reference.warn_ratio * r.drift_reference.expected_share,
                100.0 * r.drift_reference.expected_share
            ),
        );
    }
}

fn charts(v: &mut ReportsView, ui: &mut egui::Ui) {
    if let Some((is_err, msg)) = &v.message {
        let color = if *is_err { theme::REJECT } else { theme::PASS };
        ui.colored_label(color, msg);
    }
    let Some(r) = v.report.clone() else {
        ui.centered_and_justified(|ui| ui.label("Running the report…"));
        return;
    };
    ui.heading(format!("Quality report: {}", r.filter.describe()));
    summary_line(ui, &r);
    if r.summary.items == 0 {
        ui.label("No inspections match these filters.");
        return;
    }
    let avail = ui.available_height();
    let chart_h = (avail * 0.5).max(160.0);
    ui.label(
        egui::RichText::new(format!(
            "p-chart by {} (centre {}; 3-sigma limits per subgroup size; red squares: out of control). Click a point for its items.",
            r.group_by.title(),
            pct(r.chart.p_bar)
        ))
        .strong(),
    );
    let mut clicked: Option<usize> = None;
    let labels: Vec<String> = r.chart.points.iter().map(|p| p.label.clone()).collect();
    let n = r.chart.points.len();
    let resp = Plot::new("p_chart")
        .height(chart_h)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .y_axis_label("reject proportion")
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .show(ui, |p| {
            let pts = &r.chart.points;
            let xy = |f: &dyn Fn(&foodqc::reports::spc::PPoint) -> f64| -> PlotPoints<'static> {
                pts.iter()
                    .enumerate()
                    .map(|(i, q)| [i as f64, f(q)])
                    .collect()
            };
            // Limits as steps: each subgroup has its own width.
            let steps = |f: &dyn Fn(&foodqc::reports::spc::PPoint) -> f64| -> PlotPoints<'static> {
                pts.iter()
                    .enumerate()
                    .flat_map(|(i, q)| [[i as f64 - 0.5, f(q)], [i as f64 + 0.5, f(q)]])
                    .collect()
            };
            p.line(
                Line::new("UCL", steps(&|q| q.ucl))
                    .color(theme::REJECT)
                    .style(LineStyle::dashed_loose()),
            );
            p.line(
                Line::new("LCL", steps(&|q| q.lcl))
                    .color(theme::REJECT)
                    .style(LineStyle::dashed_loose()),
            );
            p.line(
                Line::new(
                    "centre",
                    PlotPoints::from(vec![[-0.5, r.chart.p_bar], [n as f64 - 0.5, r.chart.p_bar]]),
                )
                .color(Color32::GRAY),
            );
            p.line(Line::new("reject proportion", xy(&|q| q.p)).color(SERIES));
            p.points(
                Points::new("in control", xy(&|q| q.p))
                    .radius(3.0)
                    .color(SERIES),
            );
            let ooc: PlotPoints = pts
                .iter()
                .enumerate()
                .filter(|(_, q)| q.out_of_control())
                .map(|(i, q)| [i as f64, q.p])
                .collect();
            p.points(
                Points::new("out of control", ooc)
                    .radius(7.0)
                    .shape(MarkerShape::Square)
                    .color(theme::REJECT),
            );
            if p.response().clicked()
                && let Some(c) = p.pointer_coordinate()
            {
                let i = c.x.round();
                if i >= 0.0 && (i as usize) < n {
                    clicked = Some(i as usize);
                }
            }
        });
    resp.response
        .on_hover_text("Click a point to see the items behind it");
    if let Some(i) = clicked {
        let g = &r.groups[i];
        v.drill(format!("{} {}", r.group_by.title(), g.key), g.drill.clone());
    }
    ui.columns(2, |cols| {
        pareto(v, &mut cols[0], &r);
        drift(&mut cols[1], &r);
    });
}

fn pareto(v: &mut ReportsView, ui: &mut egui::Ui, r: &Report) {
    ui.label(
        egui::RichText::new("Pareto of defect classes (rejects); line: cumulative %. Click a bar.")
            .strong(),
    );
    let max = r.pareto.iter().map(|b| b.count).max().unwrap_or(1) as f64;
    let bars: Vec<Bar> = r
        .pareto
        .iter()
        .enumerate()
        .map(|(i, b)| Bar::new(i as f64, b.count as f64).name(&b.class).width(0.7))
        .collect();
    let names: Vec<String> = r.pareto.iter().map(|b| b.class.clone()).collect();
    let mut clicked = None;
    Plot::new("pareto")
        .height(ui.available_height().max(120.0))
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        })
        .show(ui, |p| {
            p.bar_chart(BarChart::new("rejects", bars).color(SERIES));
            let cum: PlotPoints = r
                .pareto
                .iter()
                .enumerate()
                .map(|(i, b)| [i as f64, b.cumulative * max])
                .collect();
            p.line(Line::new("cumulative", cum).color(theme::WARN));
            if p.response().clicked()
                && let Some(c) = p.pointer_coordinate()
            {
                let i = c.x.round();
                if i >= 0.0 && (i as usize) < r.pareto.len() {
                    clicked = Some(i as usize);
                }
            }
        });
    if let Some(i) = clicked {
        let class = r.pareto[i].class.clone();
        let f = ReportFilter {
            defect_class: Some(class.clone()),
            verdict: Some("reject".into()),
            ..r.filter.clone()
        };
        v.drill(format!("defect {class}"), f);
    }
}

fn drift(ui: &mut egui::Ui, r: &Report) {
    ui.label(
        egui::RichText::new(
            "Drift: mean score of passed items per hour; dashed: training 95th percentile",
        )
        .strong(),
    );
    // One line per run of consecutive hours: no line across the hours without production.
    let mut runs: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut last_hour = i64::MIN;
    for d in &r.drift {
        let h = d.start_ms / query::HOUR_MS;
        if h > last_hour.saturating_add(1) || runs.is_empty() {
            runs.push(Vec::new());
        }
        if let Some(run) = runs.last_mut() {
            run.push([h as f64, d.mean_score]);
        }
        last_hour = h;
    }
    let warn: PlotPoints = r
        .drift
        .iter()
        .filter(|d| d.drifting)
        .map(|d| [(d.start_ms / query::HOUR_MS) as f64, d.mean_score])
        .collect();
    let (x0, x1) = (
        r.drift
            .first()
            .map_or(0.0, |d| (d.start_ms / query::HOUR_MS) as f64),
        r.drift
            .last()
            .map_or(1.0, |d| (d.start_ms / query::HOUR_MS) as f64),
    );
    let q = r.drift_reference.score_quantile;
    Plot::new("drift")
        .height(ui.available_height().max(120.0))
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(q * 1.1)
        .x_axis_formatter(|mark, _| query::hour_label((mark.value * query::HOUR_MS as f64) as i64))
        .show(ui, |p| {
            p.line(
                Line::new("training p95", PlotPoints::from(vec![[x0, q], [x1, q]]))
                    .color(Color32::GRAY)
                    .style(LineStyle::dashed_loose()),
            );
            for run in runs {
                if run.len() == 1 {
                    p.points(Points::new("mean score", run).radius(2.0).color(SERIES));
                } else {
                    p.line(Line::new("mean score", run).color(SERIES));
                }
            }
            p.points(
                Points::new("drifting", warn)
                    .radius(5.0)
                    .shape(MarkerShape::Diamond)
                    .color(theme::WARN),
            );
        });
}

fn drill_down(v: &mut ReportsView, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Drill-down");
        if v.drill.title.is_empty() {
            ui.label("click a p-chart point, a Pareto bar or a subgroup below");
        } else {
            ui.label(format!(
                "{}: {} items (latest first, at most 300)",
                v.drill.title,
                v.drill.items.len()
            ));
        }
        if v.drill.loading {
            ui.spinner();
        }
        ui.checkbox(&mut v.rejects_only, "rejects only")
            .on_hover_text("Applies to the next click");
        ui.checkbox(&mut v.images_only, "with images only")
            .on_hover_text("Only items whose crop was saved; applies to the next click");
    });
    let Some(r) = v.report.clone() else { return };
    ui.columns(2, |cols| {
        // Left: the subgroups as a table (click = drill).
        egui::ScrollArea::vertical()
            .id_salt("groups")
            .show(&mut cols[0], |ui| {
                egui::Grid::new("report_groups")
                    .striped(true)
                    .num_columns(6)
                    .show(ui, |ui| {
                        for h in [
                            r.group_by.title(),
                            "items",
                            "rejects",
                            "rate",
                            "status",
                            "rules",
                        ] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for (g, q) in r.groups.iter().zip(&r.chart.points) {
                            if ui
                                .selectable_label(v.drill.title.ends_with(&g.key), &g.key)
                                .clicked()
                            {
                                v.drill(
                                    format!("{} {}", r.group_by.title(), g.key),
                                    g.drill.clone(),
                                );
                            }
                            ui.label(g.items.to_string());
                            ui.label(g.rejects.to_string());
                            ui.label(pct(g.reject_rate()));
                            match g.lot_status {
                                Some(LotStatus::Hold) => {
                                    ui.colored_label(theme::WARN, "HOLD");
                                }
                                Some(s) => {
                                    ui.label(s.as_str());
                                }
                                None => {
                                    ui.label("");
                                }
                            }
                            let rules: Vec<String> = q
                                .violations
                                .iter()
                                .map(|x| format!("rule {}", x.number()))
                                .collect();
                            if rules.is_empty() {
                                ui.label("");
                            } else {
                                ui.colored_label(
                                    theme::REJECT,
                                    format!("OUT: {}", rules.join(", ")),
                                );
                            }
                            ui.end_row();
                        }
                    });
            });
        // Right: the items, with crop thumbnails.
        egui::ScrollArea::both()
            .id_salt("drill_items")
            .show(&mut cols[1], |ui| {
                egui::Grid::new("drill_grid")
                    .striped(true)
                    .num_columns(5)
                    .show(ui, |ui| {
                        for h in ["image", "time (UTC)", "lot", "verdict / class", "score"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for it in &v.drill.items {
                            let color = match it.verdict.as_str() {
                                "reject" => theme::REJECT,
                                "review" => theme::WARN,
                                _ => theme::PASS,
                            };
                            match it.sample_path.as_ref().and_then(|p| v.thumbs.get(p)) {
                                Some(t) => {
                                    let r =
                                        ui.add(egui::Image::new(egui::load::SizedTexture::new(
                                            t.id(),
                                            egui::vec2(56.0, 56.0),
                                        )));
                                    // Overlay: verdict outline (thick for rejects) like the live view.
                                    let w = if it.verdict == Verdict::Reject {
                                        3.0
                                    } else {
                                        1.5
                                    };
                                    ui.painter().rect_stroke(
                                        r.rect,
                                        2.0,
                                        egui::Stroke::new(w, color),
                                        egui::StrokeKind::Outside,
                                    );
                                }
                                None => {
                                    ui.label("-");
                                }
                            }
                            ui.label(foodqc::reports::fmt_ts(it.ts_ms));
                            ui.label(it.lot_code.as_deref().unwrap_or("-"));
                            let text = match &it.defect_class {
                                Some(c) => format!("{} / {c}", it.verdict.as_str().to_uppercase()),
                                None => it.verdict.as_str().to_uppercase(),
                            };
                            ui.colored_label(color, text);
                            ui.label(format!("{:.2}", it.score));
                            ui.end_row();
                        }
                    });
            });
    });
}

fn actions(v: &mut ReportsView, ui: &mut egui::Ui) {
    ui.heading("Lot disposition");
    let lots: Vec<(String, LotStatus)> = v
        .report
        .as_ref()
        .map(|r| r.lots.iter().map(|l| (l.code.clone(), l.status)).collect())
        .unwrap_or_default();
    egui::ComboBox::from_id_salt("disposition_lot")
        .selected_text(if v.disposition_lot.is_empty() {
            "choose a lot"
        } else {
            &v.disposition_lot
        })
        .width(200.0)
        .show_ui(ui, |ui| {
            for (code, status) in &lots {
                let label = if *status == LotStatus::Hold {
                    format!("{code} (HOLD)")
                } else {
                    code.clone()
                };
                ui.selectable_value(&mut v.disposition_lot, code.clone(), label);
            }
        });
    if let Some(l) = v
        .report
        .as_ref()
        .and_then(|r| r.lots.iter().find(|l| l.code == v.disposition_lot))
    {
        let status = l.status.as_str().to_uppercase();
        if l.status == LotStatus::Hold {
            ui.colored_label(theme::WARN, format!("Status: {status} (must not ship)"));
        } else {
            ui.label(format!("Status: {status}"));
        }
        if let Some((who, when, comment)) = &l.last_change {
            ui.label(
                egui::RichText::new(format!(
                    "last change by {who}, {} UTC: {comment}",
                    foodqc::reports::fmt_ts(*when)
                ))
                .small(),
            );
        }
    }
    ui.horizontal(|ui| {
        ui.label("By");
        ui.add(egui::TextEdit::singleline(&mut v.actor).desired_width(200.0));
    });
    ui.add(
        egui::TextEdit::multiline(&mut v.comment)
            .hint_text("comment (required): why hold or release")
            .desired_rows(2)
            .desired_width(f32::INFINITY),
    );
    let ready =
        !v.disposition_lot.is_empty() && !v.comment.trim().is_empty() && !v.actor.trim().is_empty();
    ui.horizontal(|ui| {
        for (label, status) in [
            ("Hold lot", LotStatus::Hold),
            ("Release lot", LotStatus::Released),
        ] {
            if ui
                .add_enabled(ready, egui::Button::new(label))
                .on_disabled_hover_text("Choose a lot and write a comment first")
                .clicked()
            {
                let job = Job::SetStatus {
                    code: v.disposition_lot.clone(),
                    status,
                    actor: v.actor.trim().to_string(),
                    comment: v.comment.trim().to_string(),
                };
                v.send(job, "changing the lot status");
                v.comment.clear();
                // Refresh the report so the new status shows everywhere in it.
                if let Some(r) = &v.report {
                    let job = Job::Build(r.filter.clone(), r.group_by, r.drift_reference.clone());
                    v.send(job, "changing the lot status");
                }
            }
        }
    });
    ui.separator();
    ui.heading("Export");
    ui.label(egui::RichText::new("The filtered inspections as CSV; the report as PDF.").small());
    let report = v.report.clone();
    let can = report.is_some() && v.busy.is_none();
    ui.horizontal(|ui| {
        if ui.add_enabled(can, egui::Button::new("CSV…")).clicked() {
            save_dialog(v, "csv", false);
        }
        if ui.add_enabled(can, egui::Button::new("PDF…")).clicked() {
            save_dialog(v, "pdf", false);
        }
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(can, egui::Button::new("Quick CSV"))
            .on_hover_text(format!("Save into {}", v.exports_dir.display()))
            .clicked()
        {
            save_dialog(v, "csv", true);
        }
        if ui
            .add_enabled(can, egui::Button::new("Quick PDF"))
            .on_hover_text(format!("Save into {}", v.exports_dir.display()))
            .clicked()
        {
            save_dialog(v, "pdf", true);
        }
    });
    if v.busy.as_deref().is_some_and(|b| b.starts_with("CSV"))
        && ui.button("Cancel export").clicked()
    {
        v.cancel.store(true, Ordering::Relaxed);
    }
}

/// Ask where to save (rfd, on its own thread so the UI never waits on the dialog), or with
/// `quick` save into the exports folder; then queue the export.
fn save_dialog(v: &mut ReportsView, ext: &'static str, quick: bool) {
    let Some(report) = v.report.clone() else {
        return;
    };
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    let name = format!("foodqc-report-{stamp}.{ext}");
    let meta = PdfMeta {
        title: "foodqc quality report".into(),
        generated_at_ms: foodqc::store::now_ms(),
        author: v.actor.clone(),
    };
    let make_job = move |path: PathBuf| match ext {
        "csv" => Job::Csv(report.filter.clone(), path),
        _ => Job::Pdf(Box::new(report.clone()), meta.clone(), path),
    };
    if quick {
        if let Err(e) = std::fs::create_dir_all(&v.exports_dir) {
            v.message = Some((
                true,
                format!("cannot create {}: {e}", v.exports_dir.display()),
            ));
            return;
        }
        let path = v.exports_dir.join(name);
        v.send(
            make_job(path),
            &format!("{} export running", ext.to_uppercase()),
        );
        return;
    }
    let jobs = v.jobs.clone();
    let dir = v.exports_dir.clone();
    v.busy = Some(format!("{} export: choose a file", ext.to_uppercase()));
    let spawned = std::thread::Builder::new()
        .name("foodqc-save-dialog".into())
        .spawn(move || {
            let picked = rfd::FileDialog::new()
                .set_directory(&dir)
                .set_file_name(&name)
                .add_filter(ext.to_uppercase(), &[ext])
                .save_file();
            match picked {
                Some(path) => {
                    let _ = jobs.send(make_job(path));
                }
                None => {
                    // Cancelled, or no file dialog available (no desktop portal): say so.
                    let _ = jobs.send(Job::Notice(
                        "Export cancelled (no file chosen; without a file dialog use Quick export)"
                            .into(),
                    ));
                }
            }
        });
    if let Err(e) = spawned {
        v.busy = None;
        v.message = Some((true, format!("cannot open the file dialog: {e}")));
    }
}

/// The banner of the live view while the line is out of control.
pub fn alarm_banner(app: &FoodQcApp, ui: &mut egui::Ui) {
    let held = app
        .db
        .snapshot()
        .lots
        .iter()
        .any(|l| l.code == app.stats.lot && l.status == LotStatus::Hold);
    if app.reports.alarm.is_none() && !held {
        return;
    }
    egui::Panel::top("line_alarm").show(ui, |ui| {
        if let Some(a) = &app.reports.alarm {
            egui::Frame::new()
                .fill(theme::REJECT)
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.label(
                        egui::RichText::new(format!("ALARM  {}", a.message()))
                            .color(Color32::WHITE)
                            .size(18.0)
                            .strong(),
                    );
                });
        }
        if held {
            ui.colored_label(
                theme::WARN,
                egui::RichText::new(format!(
                    "LOT {} IS ON HOLD: its product must not ship until QC releases it",
                    app.stats.lot
                ))
                .strong(),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use foodqc::capture::SourceSpec;
    use foodqc::domain::AppPaths;
    use foodqc::model::AnomalyModel;
    use foodqc::reports::demo::{GenerateOptions, generate};

    use super::*;
    use crate::ui::Tab;
    use crate::ui::tests::step_until;

    #[test]
    fn out_of_control_line_raises_and_logs_one_alarm() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("foodqc.sqlite");
        let mut v = ReportsView::new(db.clone(), dir.path().join("exports"), || {});
        let mut stats = StationStats {
            lot: "L9".into(),
            ..Default::default()
        };
        v.watch_line(&stats);
        // Twenty subgroups of 50 items at 2 % rejects: in control.
        for _ in 0..20 {
            stats.items += 50;
            stats.rejects += 1;
            v.watch_line(&stats);
            assert!(v.alarm.is_none());
        }
        // Then 20 of 50 rejected: beyond 3 sigma. The alarm stays up for the next frames
        // (same counters) and is logged once.
        stats.items += 50;
        stats.rejects += 20;
        for _ in 0..3 {
            v.watch_line(&stats);
        }
        let alarm = v.alarm.clone().expect("alarm");
        assert!(alarm.message().contains("40.0 %"), "{}", alarm.message());
        let deadline = Instant::now() + Duration::from_secs(20);
        let entries = loop {
            // Opening may fail while the worker creates the schema of the new file (two first
            // opens race in the migration; the worker retries, so does this loop).
            let Ok(store) = Store::open(&db) else {
                assert!(Instant::now() < deadline, "cannot open {}", db.display());
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let e: Vec<_> = store
                .audit_entries(10)
                .unwrap()
                .into_iter()
                .filter(|e| e.action == "line.alarm")
                .collect();
            if !e.is_empty() || Instant::now() > deadline {
                break e;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].actor, "system");
        assert_eq!(entries[0].details["lot"], "L9");
        assert_eq!(entries[0].details["rules"][0], 1);
        // Back to normal: the alarm clears.
        for _ in 0..2 {
            stats.items += 50;
            stats.rejects += 1;
            v.watch_line(&stats);
        }
        assert!(v.alarm.is_none());
    }

    #[test]
    fn filter_drill_down_hold_and_export() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths {
            data_dir: dir.path().to_path_buf(),
        };
        let gen_stats = {
            let mut store = Store::open(&paths.db_path()).unwrap();
            let opts = GenerateOptions {
                rows: 12_000,
                items_per_lot: 2_000,
                ..Default::default()
            };
            generate(&mut store, Some(&paths.samples_dir()), &opts, &|_| {}).unwrap()
        };
        let model = Arc::new(AnomalyModel::bundled().unwrap());
        let p2 = paths.clone();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1400.0, 900.0))
            .build_eframe(move |cc| {
                FoodQcApp::new(cc, p2, model, Some(SourceSpec::Synthetic { seed: 3 }))
            });
        h.state_mut().settings.tab = Tab::Reports;
        step_until(&mut h, "the first report", |app| {
            app.reports
                .report
                .as_ref()
                .is_some_and(|r| r.summary.items >= 12_000)
        });
        h.get_by_label("Items inspected");
        h.get_by_label("Lot disposition");
        // Every generated lot is a point of the p-chart; the bad lot is out of control.
        let r = h.state().reports.report.clone().unwrap();
        let bad = r
            .chart
            .points
            .iter()
            .find(|p| p.label == gen_stats.bad_lot)
            .unwrap();
        assert!(bad.out_of_control());
        assert_eq!(r.pareto[0].class, "crack");

        // Filter by lot: pick it, press Apply.
        let lot = gen_stats.bad_lot.clone();
        h.state_mut().reports.filter.lot = Some(lot.clone());
        h.step();
        h.get_by_label("Apply").click();
        step_until(&mut h, "the lot report", |app| {
            app.reports
                .report
                .as_ref()
                .is_some_and(|r| r.filter.lot.as_deref() == Some(lot.as_str()))
        });
        let r = h.state().reports.report.clone().unwrap();
        assert_eq!(r.summary.items, 2_000);
        assert_eq!(r.groups.len(), 1);

        // Drill down: click the lot's row; its rejected items arrive.
        h.step();
        h.get_by_label(&lot).click();
        step_until(&mut h, "drill-down items", |app| {
            !app.reports.drill.loading && !app.reports.drill.items.is_empty()
        });
        let items = h.state().reports.drill.items.clone();
        assert_eq!(items.len() as u64, r.summary.rejects.min(300));
        assert!(
            items.iter().all(
                |i| i.lot_code.as_deref() == Some(lot.as_str()) && i.verdict == Verdict::Reject
            )
        );
        assert_eq!(h.state().reports.disposition_lot, lot);

        // Hold the lot with a comment: the report shows HOLD, the audit log has who and why.
        h.state_mut().reports.comment = "6 % rejects, crack".into();
        h.state_mut().reports.actor = "qc.anna".into();
        h.step();
        h.get_by_label("Hold lot").click();
        step_until(&mut h, "lot on hold", |app| {
            app.reports.report.as_ref().is_some_and(|r| {
                r.lots
                    .iter()
                    .any(|l| l.code == lot && l.status == LotStatus::Hold)
            })
        });
        h.step();
        h.get_by_label("HOLD");
        let store = Store::open(&paths.db_path()).unwrap();
        let audit = store.audit_entries(10).unwrap();
        let e = audit.iter().find(|e| e.action == "lot.status").unwrap();
        assert_eq!(e.actor, "qc.anna");
        assert_eq!(e.details["code"], lot.as_str());
        assert_eq!(e.details["to"], "hold");
        assert_eq!(e.details["comment"], "6 % rejects, crack");

        // Quick PDF export runs in the background and writes the file.
        h.get_by_label("Quick PDF").click();
        step_until(&mut h, "PDF written", |app| {
            app.reports
                .message
                .as_ref()
                .is_some_and(|(err, m)| !err && m.starts_with("Wrote"))
        });
        let pdfs: Vec<_> = std::fs::read_dir(paths.data_dir.join("exports"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "pdf"))
            .collect();
        assert_eq!(pdfs.len(), 1);
        assert!(pdfs[0].metadata().unwrap().len() > 1000);
    }
}
