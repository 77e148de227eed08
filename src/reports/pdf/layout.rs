//! Page geometry, text helpers and the [`Page`] drawing surface (top-down coordinates).

use pdf_writer::{Content, Name, Str};

/// A4 width, points.
pub(super) const W: f32 = 595.0;
/// A4 height, points.
pub(super) const H: f32 = 842.0;
/// Left/right margin, points.
pub(super) const MARGIN: f32 = 40.0;
/// Resource name of Helvetica.
pub(super) const FONT: Name<'static> = Name(b"F1");
/// Resource name of Helvetica-Bold.
pub(super) const BOLD: Name<'static> = Name(b"F2");

// Design tokens of the report's colours (RGB, 0..1).
/// Text and frames.
pub(super) const BLACK: [f32; 3] = [0.0, 0.0, 0.0];
/// Axes, centre lines, reference lines.
pub(super) const GREY: [f32; 3] = [0.55, 0.55, 0.55];
/// Control limits and out-of-control or drifting points.
pub(super) const RED: [f32; 3] = [0.82, 0.12, 0.12];
/// Data series and bars.
pub(super) const BLUE: [f32; 3] = [0.15, 0.35, 0.7];
/// The Pareto's cumulative line.
pub(super) const AMBER: [f32; 3] = [0.85, 0.55, 0.05];

/// Text as WinAnsi bytes for the base-14 fonts: Latin-1 characters pass, a few common
/// symbols are mapped, anything else becomes `?`.
pub(super) fn win_ansi(s: &str) -> Vec<u8> {
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
pub(super) fn text_width(s: &str, size: f32) -> f32 {
    s.chars().count() as f32 * size * 0.5
}

/// Split `s` into lines that fit `room` points at `size` (by words; at most 3 lines).
pub(super) fn wrap(s: &str, room: f32, size: f32) -> Vec<String> {
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
pub(super) struct Page {
    /// The content stream.
    pub(super) c: Content,
}

impl Page {
    pub(super) fn new() -> Self {
        Self { c: Content::new() }
    }

    pub(super) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let bytes = win_ansi(s);
        self.c.begin_text();
        self.c.set_font(if bold { BOLD } else { FONT }, size);
        self.c.next_line(x, H - y);
        self.c.show(Str(&bytes));
        self.c.end_text();
    }

    pub(super) fn rgb(&mut self, rgb: [f32; 3]) {
        self.c.set_fill_rgb(rgb[0], rgb[1], rgb[2]);
        self.c.set_stroke_rgb(rgb[0], rgb[1], rgb[2]);
    }

    pub(super) fn line(&mut self, pts: &[(f32, f32)], width: f32, dash: bool) {
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

    pub(super) fn rect_fill(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.c.rect(x, H - y - h, w, h);
        self.c.fill_nonzero();
    }

    pub(super) fn rect_stroke(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32) {
        self.c.set_line_width(width);
        self.c.rect(x, H - y - h, w, h);
        self.c.stroke();
    }

    /// A small square marker centred on (x, y).
    pub(super) fn marker(&mut self, x: f32, y: f32, r: f32) {
        self.rect_fill(x - r, y - r, 2.0 * r, 2.0 * r);
    }

    /// A table: header row then rows, columns at the given x offsets. Returns the y below it.
    pub(super) fn table(
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

/// A share as a percentage in the language in force, `12.3 %`.
pub(super) fn pct(v: f64) -> String {
    crate::i18n::format_percent(v, 1)
}
