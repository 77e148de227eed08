//! The printable quality report (PDF): summary table, p-chart, Pareto, drift trend, sample
//! defect images, lot dispositions and a signature line.
//!
//! Written with `pdf-writer`: the base-14 Helvetica fonts (nothing embedded, text stays
//! searchable), charts drawn as vectors, crop images embedded as Flate-compressed RGB.
//! Two A4 pages.

use std::path::{Path, PathBuf};

use image::RgbImage;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use rusqlite::Connection;

use super::query::{Report, hour_label, items};
use super::{ReportError, fmt_ts};

const W: f32 = 595.0;
const H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const FONT: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// A sample image for the report, with its caption.
#[derive(Clone, Debug)]
pub struct SampleImage {
    /// The crop.
    pub image: RgbImage,
    /// e.g. `crack · score 2.31 · L1103-A-1`.
    pub caption: String,
}

/// Who produces the report and when, for the header.
#[derive(Clone, Debug)]
pub struct PdfMeta {
    /// Report title.
    pub title: String,
    /// Generation time (unix ms).
    pub generated_at_ms: i64,
    /// Who generated it.
    pub author: String,
}

/// Text as WinAnsi bytes for the base-14 fonts: Latin-1 characters pass, a few common
/// symbols are mapped, anything else becomes `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '·' => 0xB7,
            '–' => 0x96,
            '—' => 0x97,
            '…' => 0x85,
            '×' => 0xD7,
            c if (c as u32) < 0x80 || ((c as u32) >= 0xA0 && (c as u32) <= 0xFF) => c as u8,
            _ => b'?',
        })
        .collect()
}

/// Rough Helvetica text width (average glyph 0.5 em), for centring and truncation.
fn text_width(s: &str, size: f32) -> f32 {
    s.chars().count() as f32 * size * 0.5
}

/// Split `s` into lines that fit `room` points at `size` (by words; at most 3 lines).
fn wrap(s: &str, room: f32, size: f32) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for word in s.split_whitespace() {
        let full = lines.len() == 3;
        let Some(cur) = lines.last_mut() else { break };
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if text_width(&candidate, size) <= room || cur.is_empty() {
            *cur = candidate;
        } else if full {
            cur.push_str(" ...");
            break;
        } else {
            lines.push(word.to_string());
        }
    }
    lines
}

/// A page's drawing commands with helpers in top-down coordinates (y from the top edge).
struct Page {
    c: Content,
}

impl Page {
    fn new() -> Self {
        Self { c: Content::new() }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let bytes = win_ansi(s);
        self.c.begin_text();
        self.c.set_font(if bold { BOLD } else { FONT }, size);
        self.c.next_line(x, H - y);
        self.c.show(Str(&bytes));
        self.c.end_text();
    }

    fn rgb(&mut self, rgb: [f32; 3]) {
        self.c.set_fill_rgb(rgb[0], rgb[1], rgb[2]);
        self.c.set_stroke_rgb(rgb[0], rgb[1], rgb[2]);
    }

    fn line(&mut self, pts: &[(f32, f32)], width: f32, dash: bool) {
        if pts.len() < 2 {
            return;
        }
        self.c.set_line_width(width);
        if dash {
            self.c.set_dash_pattern([4.0, 3.0], 0.0);
        }
        self.c.move_to(pts[0].0, H - pts[0].1);
        for p in &pts[1..] {
            self.c.line_to(p.0, H - p.1);
        }
        self.c.stroke();
        if dash {
            self.c.set_dash_pattern([], 0.0);
        }
    }

    fn rect_fill(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.c.rect(x, H - y - h, w, h);
        self.c.fill_nonzero();
    }

    fn rect_stroke(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32) {
        self.c.set_line_width(width);
        self.c.rect(x, H - y - h, w, h);
        self.c.stroke();
    }

    /// A small square marker centred on (x, y).
    fn marker(&mut self, x: f32, y: f32, r: f32) {
        self.rect_fill(x - r, y - r, 2.0 * r, 2.0 * r);
    }

    /// A table: header row then rows, columns at the given x offsets. Returns the y below it.
    fn table(
        &mut self,
        x: f32,
        y: f32,
        cols: &[f32],
        header: &[&str],
        rows: &[Vec<String>],
    ) -> f32 {
        let size = 8.5;
        let mut y = y;
        for (cx, h) in cols.iter().zip(header) {
            self.text(x + cx, y, size, true, h);
        }
        y += 3.0;
        self.rgb(GREY);
        self.line(&[(x, y), (W - MARGIN, y)], 0.5, false);
        self.rgb(BLACK);
        y += 10.0;
        for row in rows {
            let mut lines = 1;
            for (i, (cx, v)) in cols.iter().zip(row).enumerate() {
                let last = i + 1 == cols.len();
                // The room before the next column (or the margin).
                let room = cols
                    .get(i + 1)
                    .map_or(W - MARGIN - x - cx, |n| n - cx - 4.0);
                if last {
                    // The last column (comments, rules) wraps instead of losing words.
                    let wrapped = wrap(v, room, size);
                    for (k, line) in wrapped.iter().enumerate() {
                        self.text(x + cx, y + 11.0 * k as f32, size, false, line);
                    }
                    lines = lines.max(wrapped.len());
                    continue;
                }
                let mut v = v.clone();
                while text_width(&v, size) > room && v.len() > 3 {
                    v.pop();
                }
                self.text(x + cx, y, size, false, &v);
            }
            y += 11.0 * lines as f32;
        }
        y
    }
}

const BLACK: [f32; 3] = [0.0, 0.0, 0.0];
const GREY: [f32; 3] = [0.55, 0.55, 0.55];
const RED: [f32; 3] = [0.82, 0.12, 0.12];
const BLUE: [f32; 3] = [0.15, 0.35, 0.7];
const AMBER: [f32; 3] = [0.85, 0.55, 0.05];

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

fn pct(v: f64) -> String {
    format!("{:.1} %", 100.0 * v)
}

fn p_chart(p: &mut Page, r: &Report, x: f32, y: f32, w: f32, h: f32) {
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
        &format!(
            "p-chart: reject proportion by {} (centre {}, 3-sigma limits per subgroup size)",
            r.group_by.title(),
            pct(r.chart.p_bar)
        ),
        &|v| pct(v),
    );
    if pts.is_empty() {
        p.text(
            x + 10.0,
            y + h / 2.0,
            9.0,
            false,
            "no inspections match the filter",
        );
        return;
    }
    let n = pts.len();
    // Limits as steps (each subgroup has its own width).
    let half = if n > 1 {
        w / (n - 1) as f32 / 2.0
    } else {
        w / 2.0
    };
    p.rgb(RED);
    for q in pts.iter().enumerate() {
        let (i, q) = q;
        let cx = f.px(i, n);
        let (a, b) = ((cx - half).max(x), (cx + half).min(x + w));
        p.line(&[(a, f.py(q.ucl)), (b, f.py(q.ucl))], 0.6, true);
        if q.lcl > 0.0 {
            p.line(&[(a, f.py(q.lcl)), (b, f.py(q.lcl))], 0.6, true);
        }
    }
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
    p.text(
        x,
        y + h + 22.0,
        7.5,
        false,
        "blue: reject proportion; grey: centre line; red dashed: control limits; big red squares: out of control (Western Electric rules 1-4)",
    );
}

fn pareto_chart(p: &mut Page, r: &Report, x: f32, y: f32, w: f32, h: f32) {
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
    f.draw(
        p,
        "Pareto of defect classes (rejected items) with cumulative share",
        &|v| format!("{v:.0}"),
    );
    if bars.is_empty() {
        p.text(
            x + 10.0,
            y + h / 2.0,
            9.0,
            false,
            "no rejects match the filter",
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
        let label = format!("{} ({})", b.class, b.count);
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
        "amber: cumulative share (top = 100 %)",
    );
}

fn drift_chart(p: &mut Page, r: &Report, x: f32, y: f32, w: f32, h: f32) {
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
    f.draw(
        p,
        "Drift: mean anomaly score of passed items per hour (grey: 95th percentile of good items at training)",
        &|v| format!("{v:.2}"),
    );
    if d.is_empty() {
        p.text(
            x + 10.0,
            y + h / 2.0,
            9.0,
            false,
            "no passed items match the filter",
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
    let labels: Vec<String> = d.iter().map(|q| hour_label(q.start_ms)).collect();
    f.x_labels(p, &labels);
}

/// Render the report as PDF bytes.
pub fn render_pdf(r: &Report, samples: &[SampleImage], meta: &PdfMeta) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let pages = [Ref::new(6), Ref::new(7)];
    let contents = [Ref::new(8), Ref::new(9)];
    let first_image = 10;

    // Page 1: header, summary, p-chart, subgroup table.
    let mut p = Page::new();
    p.text(MARGIN, 52.0, 18.0, true, &meta.title);
    p.text(
        MARGIN,
        68.0,
        8.5,
        false,
        &format!(
            "Generated {} UTC by {} with foodqc",
            fmt_ts(meta.generated_at_ms),
            meta.author
        ),
    );
    p.text(
        MARGIN,
        80.0,
        8.5,
        false,
        &format!("Filter: {}", r.filter.describe()),
    );
    let s = &r.summary;
    let ooc: Vec<String> = r.chart.out_of_control().map(|q| q.label.clone()).collect();
    let drifting = r.drift.iter().filter(|d| d.drifting).count();
    let summary_rows = vec![
        vec!["Items inspected".into(), s.items.to_string()],
        vec![
            "Rejected".into(),
            format!("{} ({})", s.rejects, pct(s.reject_rate())),
        ],
        vec!["Sent to review".into(), s.reviews.to_string()],
        vec![
            "Period".into(),
            match (s.first_ts_ms, s.last_ts_ms) {
                (Some(a), Some(b)) => format!("{} to {} UTC", fmt_ts(a), fmt_ts(b)),
                _ => "no inspections".into(),
            },
        ],
        vec![
            format!("Out of control ({}s)", r.group_by.title()),
            if ooc.is_empty() {
                "none".into()
            } else {
                format!("{}: {}", ooc.len(), ooc.join(", "))
            },
        ],
        vec![
            "Score drift".into(),
            if drifting == 0 {
                "no hour drifts from the training distribution".into()
            } else {
                format!("WARNING: {drifting} hour(s) drift from the training distribution")
            },
        ],
    ];
    let y = p.table(
        MARGIN,
        104.0,
        &[0.0, 140.0],
        &["Summary", ""],
        &summary_rows,
    );
    p_chart(
        &mut p,
        r,
        MARGIN + 36.0,
        y + 22.0,
        W - 2.0 * MARGIN - 40.0,
        190.0,
    );
    let y = y + 22.0 + 190.0 + 44.0;
    let room = ((H - 40.0 - y) / 11.0) as usize;
    let rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .zip(&r.chart.points)
        .take(room.saturating_sub(2))
        .map(|(g, q)| {
            vec![
                g.key.clone(),
                g.items.to_string(),
                g.rejects.to_string(),
                pct(g.reject_rate()),
                pct(q.ucl),
                g.lot_status
                    .map(|s| s.as_str().to_uppercase())
                    .unwrap_or_default(),
                q.violations
                    .iter()
                    .map(|v| format!("rule {}", v.number()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let title = format!("By {}", r.group_by.title());
    let mut yy = p.table(
        MARGIN,
        y,
        &[0.0, 150.0, 210.0, 260.0, 310.0, 360.0, 420.0],
        &[
            &title,
            "items",
            "rejects",
            "rate",
            "UCL",
            "status",
            "out of control",
        ],
        &rows,
    );
    if rows.len() < r.groups.len() {
        yy += 2.0;
        p.text(
            MARGIN,
            yy,
            8.0,
            false,
            &format!("... {} more in the CSV export", r.groups.len() - rows.len()),
        );
    }
    let page1 = p.c.finish();

    // Page 2: Pareto, drift, samples, dispositions, signature.
    let mut p = Page::new();
    pareto_chart(
        &mut p,
        r,
        MARGIN + 36.0,
        60.0,
        W - 2.0 * MARGIN - 40.0,
        150.0,
    );
    drift_chart(
        &mut p,
        r,
        MARGIN + 36.0,
        260.0,
        W - 2.0 * MARGIN - 40.0,
        120.0,
    );
    let mut y = 420.0;
    p.text(MARGIN, y, 10.0, true, "Sample defect images");
    y += 8.0;
    let thumb = 78.0;
    if samples.is_empty() {
        p.text(
            MARGIN,
            y + 12.0,
            8.5,
            false,
            "no saved crops of rejected items in this report",
        );
    }
    for (i, sm) in samples.iter().enumerate().take(6) {
        let x = MARGIN + i as f32 * (thumb + 10.0);
        let name = format!("Im{i}");
        p.c.save_state();
        p.c.transform([thumb, 0.0, 0.0, thumb, x, H - y - thumb]);
        p.c.x_object(Name(name.as_bytes()));
        p.c.restore_state();
        let mut cap = sm.caption.clone();
        while text_width(&cap, 6.0) > thumb + 8.0 && cap.len() > 3 {
            cap.pop();
        }
        p.text(x, y + thumb + 9.0, 6.0, false, &cap);
    }
    y += thumb + 30.0;
    // Held lots first: they are what the reader must act on.
    let mut lots: Vec<_> = r.lots.iter().collect();
    lots.sort_by_key(|l| match l.status {
        crate::store::LotStatus::Hold => 0,
        crate::store::LotStatus::Released => 1,
        crate::store::LotStatus::Open => 2,
    });
    let lot_rows: Vec<Vec<String>> = lots
        .into_iter()
        .take(((H - 130.0 - y) / 22.0).max(1.0) as usize)
        .map(|l| {
            let (who, when, comment) = l
                .last_change
                .clone()
                .map(|(a, t, c)| (a, fmt_ts(t), c))
                .unwrap_or_default();
            vec![
                l.code.clone(),
                l.product.clone(),
                l.status.as_str().to_uppercase(),
                who,
                when,
                comment,
            ]
        })
        .collect();
    let mut y = p.table(
        MARGIN,
        y,
        &[0.0, 80.0, 165.0, 225.0, 290.0, 380.0],
        &[
            "Lot",
            "product",
            "disposition",
            "by",
            "when (UTC)",
            "comment",
        ],
        &lot_rows,
    );
    if lot_rows.len() < r.lots.len() {
        p.text(
            MARGIN,
            y,
            8.0,
            false,
            &format!("... {} more lots", r.lots.len() - lot_rows.len()),
        );
        y += 11.0;
    }
    let y = y.max(H - 110.0);
    p.text(
        MARGIN,
        y + 20.0,
        9.0,
        true,
        "Disposition decided by QC. Reviewed and approved:",
    );
    p.rgb(BLACK);
    for (x, label) in [
        (MARGIN, "Name"),
        (MARGIN + 190.0, "Date"),
        (MARGIN + 340.0, "Signature"),
    ] {
        p.line(&[(x, y + 55.0), (x + 150.0, y + 55.0)], 0.6, false);
        p.text(x, y + 65.0, 8.0, false, label);
    }
    let page2 = p.c.finish();

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(pages).count(2);
    for (i, (&page_id, &content_id)) in pages.iter().zip(&contents).enumerate() {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, W, H));
        page.parent(tree);
        page.contents(content_id);
        let mut res = page.resources();
        res.fonts().pair(FONT, font).pair(BOLD, bold);
        if i == 1 {
            let mut xo = res.x_objects();
            for k in 0..samples.len().min(6) {
                let name = format!("Im{k}");
                xo.pair(Name(name.as_bytes()), Ref::new(first_image + k as i32));
            }
        }
    }
    pdf.stream(contents[0], &page1);
    pdf.stream(contents[1], &page2);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (k, sm) in samples.iter().enumerate().take(6) {
        let data = miniz_oxide::deflate::compress_to_vec_zlib(sm.image.as_raw(), 6);
        let mut img = pdf.image_xobject(Ref::new(first_image + k as i32), &data);
        img.filter(Filter::FlateDecode);
        img.width(sm.image.width() as i32);
        img.height(sm.image.height() as i32);
        img.color_space().device_rgb();
        img.bits_per_component(8);
        img.finish();
    }
    let title = win_ansi(&meta.title);
    let author = win_ansi(&meta.author);
    pdf.document_info(info)
        .title(pdf_writer::TextStr(
            std::str::from_utf8(&title).unwrap_or("foodqc report"),
        ))
        .author(pdf_writer::TextStr(
            std::str::from_utf8(&author).unwrap_or("foodqc"),
        ))
        .creator(pdf_writer::TextStr("foodqc"));
    pdf.finish()
}

/// Up to `limit` saved crops of rejected items in the report's filter, newest first.
/// Unreadable image files are skipped with a warning naming them.
pub fn load_samples(
    conn: &Connection,
    r: &Report,
    limit: usize,
) -> Result<Vec<SampleImage>, ReportError> {
    let f = super::ReportFilter {
        verdict: Some("reject".into()),
        ..r.filter.clone()
    };
    // Ask for more rows than needed: several rejects may share one crop file.
    let rows = items(conn, &f, true, limit * 20)?;
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for row in rows {
        let Some(path) = row.sample_path else {
            continue;
        };
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        match image::open(&path) {
            Ok(img) => out.push(SampleImage {
                image: img.to_rgb8(),
                caption: format!(
                    "{} | {:.2} | {}",
                    row.defect_class.as_deref().unwrap_or("reject"),
                    row.score,
                    row.lot.as_deref().unwrap_or("no lot")
                ),
            }),
            Err(e) => tracing::warn!("report: skipping sample image {}: {e}", path.display()),
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Render the report (with up to 6 sample images from the database) and write it to `path`
/// through a temporary file renamed into place.
pub fn write_pdf(
    conn: &Connection,
    r: &Report,
    meta: &PdfMeta,
    path: &Path,
) -> Result<u64, ReportError> {
    let samples = load_samples(conn, r, 6)?;
    let bytes = render_pdf(r, &samples, meta);
    let werr = |e: std::io::Error| ReportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let tmp = path.with_extension("pdf.part");
    std::fs::write(&tmp, &bytes).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)?;
    Ok(bytes.len() as u64)
}
