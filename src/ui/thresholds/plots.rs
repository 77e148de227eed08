//! The plots of the Thresholds tab: the score histogram per class (click or drag to move the
//! reject threshold) and the ROC and precision-recall curves with the operating point.

use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Corner, Legend, Line, Plot, Points, Polygon, VLine};
use foodqc::domain::GOOD;
use foodqc::services::workbench::Workbench;
use foodqc::tr;

use super::{ThresholdsTab, num};
use crate::ui::theme;

impl ThresholdsTab {
    pub(super) fn plots(&mut self, ui: &mut egui::Ui) {
        let Some(data) = self.data.clone() else {
            ui.centered_and_justified(|ui| ui.label(tr!("thr-load-first")));
            return;
        };
        let review = self.review_on.then_some(self.review.min(self.reject));
        let h = ui.available_height();
        let w = ui.available_width();
        ui.label(RichText::new(tr!("thr-hist-title")).small());
        if let Some(x) = score_histogram(ui, &data, review, self.reject, h) {
            self.reject = x;
            if self.review_on {
                self.review = self.review.min(self.reject);
            }
        }
        curves(ui, &data, self.reject, h, w);
    }
}

/// The score histogram per class with the production line and the thresholds; the
/// threshold clicked or dragged to, if any.
fn score_histogram(
    ui: &mut egui::Ui,
    data: &Workbench,
    review: Option<f64>,
    reject: f64,
    h: f32,
) -> Option<f64> {
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
    let resp = Plot::new("score_hist")
        .height(h * 0.48)
        .legend(Legend::default().position(Corner::RightTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(0.0)
        .x_axis_label(tr!("reports-col-score"))
        .y_axis_label(tr!("reports-col-items"))
        .show(ui, |p| {
            if let Some(r) = review {
                p.polygon(
                    Polygon::new(
                        tr!("chart-review-band"),
                        vec![
                            [r, 0.0],
                            [reject, 0.0],
                            [reject, ymax * 1.05],
                            [r, ymax * 1.05],
                        ],
                    )
                    .fill_color(theme::REVIEW.gamma_multiply(0.25))
                    .stroke(egui::Stroke::NONE),
                );
            }
            histogram_series(p, data, prod_scale);
            if let Some(r) = review {
                p.vline(
                    VLine::new(tr!("chart-review-threshold"), r)
                        .color(theme::REVIEW)
                        .width(2.0),
                );
            }
            p.vline(
                VLine::new(tr!("chart-reject-threshold"), reject)
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
    resp.inner
}

/// The production line (scaled to the labelled bars) and one bar series per class.
fn histogram_series(p: &mut egui_plot::PlotUi<'_>, data: &Workbench, prod_scale: f64) {
    let hist = &data.hist;
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
            Line::new(tr!("chart-production"), pts)
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
}

/// ROC and precision-recall curves with the operating point at `reject`.
fn curves(ui: &mut egui::Ui, data: &Workbench, reject: f64, h: f32, w: f32) {
    let op = data.set.at(reject);
    let c = op.confusion;
    let (n_good, n_def) = (
        data.set.good().max(1) as f64,
        data.set.defective().max(1) as f64,
    );
    ui.columns(2, |cols| {
        cols[0].label(
            RichText::new(tr!(
                "thr-roc-title",
                auroc = data.auroc.map(num).unwrap_or_else(|| tr!("n-a"))
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
            .x_axis_label(tr!("chart-false-reject-rate"))
            .y_axis_label(tr!("thr-col-recall"))
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
                        tr!("chart-operating-point"),
                        vec![[c.false_pos as f64 / n_good, c.true_pos as f64 / n_def]],
                    )
                    .radius(6.0)
                    .color(theme::REJECT),
                );
            });
        cols[1].label(
            RichText::new(tr!(
                "thr-pr-title",
                ap = data.ap.map(num).unwrap_or_else(|| tr!("n-a"))
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
            .x_axis_label(tr!("thr-col-recall"))
            .y_axis_label(tr!("chart-precision"))
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
                        Points::new(
                            tr!("chart-operating-point"),
                            vec![[op.recall, op.precision]],
                        )
                        .radius(6.0)
                        .color(theme::REJECT),
                    );
                }
            });
    });
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

/// Neutral curve colour (state colours are kept for the operating point).
fn cols_text() -> Color32 {
    Color32::from_rgb(120, 170, 220)
}
