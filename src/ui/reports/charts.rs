//! The charts of the Reports tab: the summary line, the p-chart, the Pareto of defect classes
//! and the score drift.

use egui::Color32;
use egui_plot::{Bar, BarChart, Line, LineStyle, MarkerShape, Plot, PlotPoints, Points};
use foodqc::reports::query;
use foodqc::reports::{Report, ReportFilter};
use foodqc::services::desk::Status;
use foodqc::tr;

use super::{ReportsTab, pct};
use crate::ui::action::Action;
use crate::ui::theme;

impl ReportsTab {
    pub(super) fn charts(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        match &self.status {
            Status::Done(msg) => {
                ui.colored_label(theme::PASS, msg);
            }
            Status::Failed(msg) => {
                ui.colored_label(theme::REJECT, msg);
            }
            _ => {}
        }
        let Some(r) = self.report.clone() else {
            let waiting = if self.plant && self.plant_url.trim().is_empty() {
                tr!("reports-plant-need-url")
            } else {
                tr!("reports-running")
            };
            ui.centered_and_justified(|ui| ui.label(waiting));
            return;
        };
        // At small windows the three charts cannot all fit: each keeps a readable minimum
        // height and the panel scrolls, instead of squeezing Pareto and drift to nothing.
        let panel_h = ui.available_height();
        // The bar stays visible: at the minimum size the Pareto and drift charts are below
        // the fold, and a hidden bar would not say so.
        theme::visible_scroll_bars(ui);
        egui::ScrollArea::vertical()
            .id_salt("report_charts")
            .auto_shrink([false, false])
            .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
            .show(ui, |ui| self.charts_content(ui, &r, panel_h, actions));
    }

    fn charts_content(
        &mut self,
        ui: &mut egui::Ui,
        r: &Report,
        panel_h: f32,
        actions: &mut Vec<Action>,
    ) {
        // A long filter description is elided; its full text shows on hover.
        let heading = if self.plant {
            tr!("reports-heading-plant", filter = r.filter.describe())
        } else {
            tr!("reports-heading", filter = r.filter.describe())
        };
        ui.add(egui::Label::new(egui::RichText::new(heading).heading()).truncate());
        summary_line(ui, r);
        if r.summary.items == 0 {
            ui.label(tr!("reports-no-match"));
            return;
        }
        ui.label(
            egui::RichText::new(tr!(
                "reports-pchart-title",
                group = r.group_by.label(),
                centre = pct(r.chart.p_bar)
            ))
            .strong(),
        );
        // The p-chart and the Pareto/drift row share what is left (less the row's caption);
        // below the minimum height the panel scrolls.
        let rest = panel_h - ui.min_rect().height() - CAPTION_H;
        let chart_h = (rest * 0.55).max(MIN_CHART_H);
        let lower_h = (rest * 0.45).max(MIN_CHART_H);
        let clicked = p_chart(ui, r, chart_h);
        if let Some(i) = clicked {
            let g = &r.groups[i];
            self.drill(
                tr!(
                    "reports-group-key",
                    group = r.group_by.label(),
                    key = g.key.as_str()
                ),
                g.drill.clone(),
                actions,
            );
        }
        ui.columns(2, |cols| {
            self.pareto(&mut cols[0], r, lower_h, actions);
            drift(&mut cols[1], r, lower_h);
        });
    }

    fn pareto(&mut self, ui: &mut egui::Ui, r: &Report, height: f32, actions: &mut Vec<Action>) {
        caption(ui, tr!("reports-pareto-title"));
        let max = r.pareto.iter().map(|b| b.count).max().unwrap_or(1) as f64;
        let bars: Vec<Bar> = r
            .pareto
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Bar::new(i as f64, b.count as f64)
                    .name(foodqc::i18n::class_name(&b.class))
                    .width(0.7)
            })
            .collect();
        let names: Vec<String> = r
            .pareto
            .iter()
            .map(|b| foodqc::i18n::class_name(&b.class))
            .collect();
        let mut clicked = None;
        Plot::new("pareto")
            .height(height)
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
                p.bar_chart(BarChart::new(tr!("chart-rejects"), bars).color(SERIES));
                let cum: PlotPoints = r
                    .pareto
                    .iter()
                    .enumerate()
                    .map(|(i, b)| [i as f64, b.cumulative * max])
                    .collect();
                p.line(Line::new(tr!("chart-cumulative"), cum).color(theme::WARN));
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
            let title = tr!(
                "reports-drill-defect",
                class = foodqc::i18n::class_name(&class)
            );
            self.drill(title, f, actions);
        }
    }
}

/// The p-chart; the index of the point clicked, if any.
fn p_chart(ui: &mut egui::Ui, r: &Report, chart_h: f32) -> Option<usize> {
    let mut clicked: Option<usize> = None;
    let labels: Vec<String> = r.chart.points.iter().map(|p| p.label.clone()).collect();
    let n = r.chart.points.len();
    let resp = Plot::new("p_chart")
        .height(chart_h)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .y_axis_label(tr!("chart-reject-proportion"))
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
                Line::new(tr!("chart-ucl"), steps(&|q| q.ucl))
                    .color(theme::REJECT)
                    .style(LineStyle::dashed_loose()),
            );
            p.line(
                Line::new(tr!("chart-lcl"), steps(&|q| q.lcl))
                    .color(theme::REJECT)
                    .style(LineStyle::dashed_loose()),
            );
            p.line(
                Line::new(
                    tr!("chart-centre"),
                    PlotPoints::from(vec![[-0.5, r.chart.p_bar], [n as f64 - 0.5, r.chart.p_bar]]),
                )
                .color(Color32::GRAY),
            );
            p.line(Line::new(tr!("chart-reject-proportion"), xy(&|q| q.p)).color(SERIES));
            p.points(
                Points::new(tr!("chart-in-control"), xy(&|q| q.p))
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
                Points::new(tr!("chart-out-of-control"), ooc)
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
    resp.response.on_hover_text(tr!("reports-pchart-tip"));
    clicked
}

/// The smallest height a chart is drawn at (the panel scrolls below it).
const MIN_CHART_H: f32 = 150.0;
/// Room for the one-line captions above the Pareto and drift charts, with spacing.
const CAPTION_H: f32 = 30.0;

/// A chart caption on one line, elided in a narrow column (the full text shows on hover).
fn caption(ui: &mut egui::Ui, text: String) {
    ui.add(egui::Label::new(egui::RichText::new(text).strong()).truncate());
}

/// Data series colour (neutral blue: colour is reserved for state).
const SERIES: Color32 = Color32::from_rgb(70, 130, 220);

fn summary_line(ui: &mut egui::Ui, r: &Report) {
    let s = &r.summary;
    ui.horizontal_wrapped(|ui| {
        for (label, value) in [
            (tr!("live-items-inspected"), s.items.to_string()),
            (tr!("live-rejected"), s.rejects.to_string()),
            (tr!("live-reject-rate"), pct(s.reject_rate())),
            (tr!("reports-review"), s.reviews.to_string()),
        ] {
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(label).small());
                ui.label(egui::RichText::new(value).size(22.0).strong());
            });
            ui.add_space(14.0);
        }
        ui.vertical(|ui| {
            let n = r.chart.out_of_control().count();
            ui.label(egui::RichText::new(tr!("reports-out-of-control")).small());
            let text = egui::RichText::new(tr!(
                "reports-ooc-count",
                n = n,
                total = r.chart.points.len(),
                group = r.group_by.selector()
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
            tr!(
                "reports-drift-warning",
                hours = hours,
                share = foodqc::i18n::format_percent(
                    r.drift_reference.warn_ratio * r.drift_reference.reference_share(),
                    0
                ),
                expected = foodqc::i18n::format_percent(r.drift_reference.reference_share(), 0)
            ),
        );
    }
}

fn drift(ui: &mut egui::Ui, r: &Report, height: f32) {
    caption(ui, tr!("reports-drift-title"));
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
        .height(height)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(q * 1.1)
        .x_axis_formatter(|mark, _| {
            foodqc::i18n::format_hour((mark.value * query::HOUR_MS as f64) as i64)
        })
        .show(ui, |p| {
            p.line(
                Line::new(
                    tr!("chart-training-p95"),
                    PlotPoints::from(vec![[x0, q], [x1, q]]),
                )
                .color(Color32::GRAY)
                .style(LineStyle::dashed_loose()),
            );
            for run in runs {
                if run.len() == 1 {
                    p.points(
                        Points::new(tr!("chart-mean-score"), run)
                            .radius(2.0)
                            .color(SERIES),
                    );
                } else {
                    p.line(Line::new(tr!("chart-mean-score"), run).color(SERIES));
                }
            }
            p.points(
                Points::new(tr!("chart-drifting"), warn)
                    .radius(5.0)
                    .shape(MarkerShape::Diamond)
                    .color(theme::WARN),
            );
        });
}
