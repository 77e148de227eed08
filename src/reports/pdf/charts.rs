//! The report's charts: the p-chart, the Pareto of defect classes and the drift trend, drawn
//! as vectors on a [`Page`].

use super::layout::{AMBER, BLACK, BLUE, GREY, Page, RED, pct, text_width};
use crate::i18n::{class_name, format_decimal, format_hour};
use crate::reports::query::Report;
use crate::reports::spc::PPoint;
use crate::tr;

/// A chart frame: plot area (x, y, w, h) in top-down coordinates with y axis `[y0, y1]`.
struct Frame {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn py(&self, v: f64) -> f32 {
        let t = ((v - self.y0) / (self.y1 - self.y0).max(1e-12)).clamp(0.0, 1.0);
        self.y + self.h - (t as f32) * self.h
    }
    fn px(&self, i: usize, n: usize) -> f32 {
        if n <= 1 {
            self.x + self.w / 2.0
        } else {
            self.x + self.w * i as f32 / (n - 1) as f32
        }
    }
    /// Axes, y ticks (formatted by `fmt`) and a title.
    fn draw(&self, p: &mut Page, title: &str, fmt: &dyn Fn(f64) -> String) {
        p.text(self.x, self.y - 8.0, 10.0, true, title);
        p.rgb(GREY);
        p.rect_stroke(self.x, self.y, self.w, self.h, 0.5);
        for k in 0..=4 {
            let v = self.y0 + (self.y1 - self.y0) * k as f64 / 4.0;
            let y = self.py(v);
            p.line(&[(self.x - 3.0, y), (self.x, y)], 0.5, false);
            p.text(self.x - 36.0, y + 3.0, 7.0, false, &fmt(v));
        }
        p.rgb(BLACK);
    }
    /// Up to ~8 x labels.
    fn x_labels(&self, p: &mut Page, labels: &[String]) {
        let n = labels.len();
        let step = n.div_ceil(8).max(1);
        for (i, l) in labels.iter().enumerate().step_by(step) {
            let x = self.px(i, n);
            let mut l = l.clone();
            while text_width(&l, 6.5) > 62.0 && l.len() > 3 {
                l.remove(0);
            }
            p.text(
                x - text_width(&l, 6.5) / 2.0,
                self.y + self.h + 10.0,
                6.5,
                false,
                &l,
            );
        }
    }
}

/// The p-chart of the report's subgroups in the box (x, y, w, h).
pub(super) fn p_chart(p: &mut Page, r: &Report, x: f32, y: f32, w: f32, h: f32) {
    let pts = &r.chart.points;
    let top = pts
        .iter()
        .map(|q| q.p.max(q.ucl))
        .fold(r.chart.p_bar * 2.0, f64::max)
        .max(0.01)
        * 1.1;
    let f = Frame {
        x,
        y,
        w,
        h,
        y0: 0.0,
        y1: top,
    };
    f.draw(
        p,
        &tr!(
            "pdf-pchart-title",
            group = r.group_by.label(),
            centre = pct(r.chart.p_bar)
        ),
        &|v| pct(v),
    );
    if pts.is_empty() {
        p.text(
            x + 10.0,
            y + h / 2.0,
            9.0,
            false,
            &tr!("pdf-no-inspections-match"),
        );
        return;
    }
    let n = pts.len();
    control_limits(p, &f, pts);
    p.rgb(GREY);
    p.line(
        &[(x, f.py(r.chart.p_bar)), (x + w, f.py(r.chart.p_bar))],
        0.8,
        false,
    );
    p.rgb(BLUE);
    let line: Vec<(f32, f32)> = pts
        .iter()
        .enumerate()
        .map(|(i, q)| (f.px(i, n), f.py(q.p)))
        .collect();
    p.line(&line, 1.0, false);
    for (i, q) in pts.iter().enumerate() {
        if q.out_of_control() {
            p.rgb(RED);
            p.marker(f.px(i, n), f.py(q.p), 3.2);
        } else {
            p.rgb(BLUE);
            p.marker(f.px(i, n), f.py(q.p), 1.6);
        }
    }
    p.rgb(BLACK);
    let labels: Vec<String> = pts.iter().map(|q| q.label.clone()).collect();
    f.x_labels(p, &labels);
    p.text(x, y + h + 22.0, 7.5, false, &tr!("pdf-pchart-legend"));
}

/// The control limits of each subgroup as dashed steps (each subgroup has its own width).
fn control_limits(p: &mut Page, f: &Frame, pts: &[PPoint]) {
    let (x, w) = (f.x, f.w);
    let n = pts.len();
    let half = if n > 1 {
        w / (n - 1) as f32 / 2.0
    } else {
        w / 2.0
    };
    p.rgb(RED);
    for (i, q) in pts.iter().enumerate() {
        let cx = f.px(i, n);
        let (a, b) = ((cx - half).max(x), (cx + half).min(x + w));
        p.line(&[(a, f.py(q.ucl)), (b, f.py(q.ucl))], 0.6, true);
        if q.lcl > 0.0 {
            p.line(&[(a, f.py(q.lcl)), (b, f.py(q.lcl))], 0.6, true);
        }
    }
}

/// The Pareto of defect classes in the box (x, y, w, h).
pub(super) fn pareto_chart(p: &mut Page, r: &Report, x: f32, y: f32, w: f32, h: f32) {
    let bars = &r.pareto;
    let max = bars.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let f = Frame {
        x,
        y,
        w,
        h,
        y0: 0.0,
        y1: max * 1.1,
    };
    f.draw(p, &tr!("pdf-pareto-title"), &|v| format_decimal(v, 0));
    if bars.is_empty() {
        p.text(
            x + 10.0,
            y + h / 2.0,
            9.0,
            false,
            &tr!("pdf-no-rejects-match"),
        );
        return;
    }
    let n = bars.len();
    let slot = w / n as f32;
    let mut cum = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        let bx = x + slot * i as f32 + slot * 0.15;
        let top = f.py(b.count as f64);
        p.rgb(BLUE);
        p.rect_fill(bx, top, slot * 0.7, y + h - top);
        p.rgb(BLACK);
        let label = format!("{} ({})", class_name(&b.class), b.count);
        p.text(bx, y + h + 10.0, 7.0, false, &label);
        cum.push((bx + slot * 0.35, y + h - (b.cumulative as f32) * h));
    }
    p.rgb(AMBER);
    p.line(&cum, 1.2, false);
    for &(cx, cy) in &cum {
        p.marker(cx, cy, 2.0);
    }
    p.rgb(BLACK);
    p.text(
        x + w - 150.0,
        y + 10.0,
        7.0,
        false,
        &tr!("pdf-pareto-legend"),
    );
}

/// The hourly drift trend in the box (x, y, w, h).
pub(super) fn drift_chart(p: &mut Page, r: &Report, x: f32, y: f32, w: f32, h: f32) {
    let d = &r.drift;
    let top = d
        .iter()
        .map(|q| q.mean_score)
        .fold(r.drift_reference.score_quantile, f64::max)
        * 1.1;
    let f = Frame {
        x,
        y,
        w,
        h,
        y0: 0.0,
        y1: top,
    };
    f.draw(p, &tr!("pdf-drift-title"), &|v| format_decimal(v, 2));
    if d.is_empty() {
        p.text(
            x + 10.0,
            y + h / 2.0,
            9.0,
            false,
            &tr!("pdf-no-passed-match"),
        );
        return;
    }
    p.rgb(GREY);
    let q = f.py(r.drift_reference.score_quantile);
    p.line(&[(x, q), (x + w, q)], 0.8, true);
    let n = d.len();
    p.rgb(BLUE);
    let line: Vec<(f32, f32)> = d
        .iter()
        .enumerate()
        .map(|(i, q)| (f.px(i, n), f.py(q.mean_score)))
        .collect();
    p.line(&line, 1.0, false);
    p.rgb(RED);
    for (i, q) in d.iter().enumerate().filter(|(_, q)| q.drifting) {
        p.marker(f.px(i, n), f.py(q.mean_score), 2.6);
    }
    p.rgb(BLACK);
    let labels: Vec<String> = d.iter().map(|q| format_hour(q.start_ms)).collect();
    f.x_labels(p, &labels);
}
