//! Page geometry, text helpers and the [`Page`] drawing surface (top-down coordinates).

use pdf_writer::types::TextRenderingMode;
use pdf_writer::{Content, Name, Str};

use super::unicode_font::{ReportFonts, advance_em, is_rtl, resource_name};

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

/// The WinAnsi byte of `c` for the base-14 fonts: Latin-1 characters and a few common
/// symbols; `None` for anything else.
fn win_ansi_byte(c: char) -> Option<u8> {
    match c {
        '·' => Some(0xB7),
        '–' => Some(0x96),
        '—' => Some(0x97),
        '…' => Some(0x85),
        '×' => Some(0xD7),
        c if (c as u32) < 0x80 || ((c as u32) >= 0xA0 && (c as u32) <= 0xFF) => Some(c as u8),
        _ => None,
    }
}

/// Text width for centring and truncation: Helvetica roughly (average glyph 0.5 em), the
/// real advance of the installed font for characters outside WinAnsi.
pub(super) fn text_width(s: &str, size: f32) -> f32 {
    s.chars()
        .map(|c| match win_ansi_byte(c) {
            Some(_) => 0.5,
            // Without a font the character prints as Helvetica's `?`.
            None => advance_em(c).unwrap_or(0.5),
        })
        .sum::<f32>()
        * size
}

/// A stretch of text shown with one font.
#[derive(Debug, PartialEq)]
enum Run {
    /// WinAnsi bytes for Helvetica.
    Ansi(Vec<u8>),
    /// Big-endian two-byte glyph ids (Identity-H) of the report's `k`-th fallback font.
    Cid(usize, Vec<u8>),
}

/// Split `s` into runs by font: Helvetica where WinAnsi covers it, else the installed font
/// that has the character (`?` in Helvetica when none has it).
fn runs(s: &str, fonts: &mut ReportFonts) -> Vec<Run> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<Run> = Vec::new();
    // Characters for one installed face, shaped together when the face changes or ends.
    let mut pending: Option<(usize, String)> = None;
    let flush =
        |pending: &mut Option<(usize, String)>, out: &mut Vec<Run>, fonts: &mut ReportFonts| {
            if let Some((face, text)) = pending.take() {
                let (k, gids) = fonts.encode_run(face, &text);
                out.push(Run::Cid(
                    k,
                    gids.iter().flat_map(|g| g.to_be_bytes()).collect(),
                ));
            }
        };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(b) = win_ansi_byte(c) {
            // Spaces between right-to-left words belong to them: the words trade places too.
            if let Some((face, text)) = &mut pending
                && c == ' '
                && text.chars().last().is_some_and(is_rtl)
            {
                let j = (i..chars.len())
                    .find(|&j| chars[j] != ' ')
                    .unwrap_or(chars.len());
                if j < chars.len() && is_rtl(chars[j]) && fonts.face_of(chars[j]) == Some(*face) {
                    text.extend(&chars[i..j]);
                    i = j;
                    continue;
                }
            }
            flush(&mut pending, &mut out, fonts);
            match out.last_mut() {
                Some(Run::Ansi(v)) => v.push(b),
                _ => out.push(Run::Ansi(vec![b])),
            }
        } else if let Some(face) = fonts.face_of(c) {
            if pending.as_ref().is_some_and(|(f, _)| *f != face) {
                flush(&mut pending, &mut out, fonts);
            }
            pending
                .get_or_insert_with(|| (face, String::new()))
                .1
                .push(c);
        } else {
            flush(&mut pending, &mut out, fonts);
            match out.last_mut() {
                Some(Run::Ansi(v)) => v.push(b'?'),
                _ => out.push(Run::Ansi(vec![b'?'])),
            }
        }
        i += 1;
    }
    flush(&mut pending, &mut out, fonts);
    if out.is_empty() {
        out.push(Run::Ansi(Vec::new()));
    }
    out
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
pub(super) struct Page<'f> {
    /// The content stream.
    pub(super) c: Content,
    /// The report's fallback fonts (shared by its pages).
    fonts: &'f mut ReportFonts,
}

impl<'f> Page<'f> {
    pub(super) fn new(fonts: &'f mut ReportFonts) -> Self {
        Self {
            c: Content::new(),
            fonts,
        }
    }

    pub(super) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let runs = runs(s, self.fonts);
        let fallback = runs.iter().any(|r| matches!(r, Run::Cid(..)));
        // The installed font has one weight: bold is drawn as fill plus a thin outline. The
        // line width is graphics state, so it is saved around the text object.
        let fake_bold = bold && fallback;
        if fake_bold {
            self.c.save_state();
            self.c.set_line_width(size * 0.04);
        }
        self.c.begin_text();
        if fake_bold {
            self.c
                .set_text_rendering_mode(TextRenderingMode::FillStroke);
        }
        for (i, run) in runs.iter().enumerate() {
            let bytes = match run {
                Run::Ansi(bytes) => {
                    self.c.set_font(if bold { BOLD } else { FONT }, size);
                    bytes
                }
                Run::Cid(k, bytes) => {
                    self.c.set_font(Name(resource_name(*k).as_bytes()), size);
                    bytes
                }
            };
            // The next run starts where the viewer's glyph widths leave the previous one.
            if i == 0 {
                self.c.next_line(x, H - y);
            }
            self.c.show(Str(bytes));
        }
        self.c.end_text();
        if fake_bold {
            self.c.restore_state();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the fonts for `chars` are installed; without them the test skips with the
    /// reason, or fails when `FOODQC_REQUIRE_ALL` is set (as CI does).
    fn fonts_for(chars: &[char]) -> bool {
        let lacking: Vec<char> = chars
            .iter()
            .copied()
            .filter(|&c| super::super::unicode_font_for(c).is_none())
            .collect();
        if lacking.is_empty() {
            return true;
        }
        let reason = format!("no installed TrueType font has {lacking:?}");
        assert!(
            std::env::var_os("FOODQC_REQUIRE_ALL").is_none(),
            "FOODQC_REQUIRE_ALL is set but: {reason}"
        );
        eprintln!("skipped: {reason}");
        false
    }

    #[test]
    fn runs_keep_helvetica_for_winansi_and_join_right_to_left_words() {
        let mut fonts = ReportFonts::default();
        // All WinAnsi: one Helvetica run, accents as WinAnsi bytes.
        assert_eq!(
            runs("año ¿ñ?", &mut fonts),
            vec![Run::Ansi(b"a\xf1o \xbf\xf1?".to_vec())]
        );
        assert_eq!(runs("", &mut fonts), vec![Run::Ansi(Vec::new())]);
        if !fonts_for(&['ロ', 'ع']) {
            return;
        }
        let r = runs("año ロット-42", &mut fonts);
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!(r[0], Run::Ansi(b"a\xf1o ".to_vec()));
        assert!(matches!(&r[1], Run::Cid(_, b) if b.len() == 6), "{r:?}");
        assert_eq!(r[2], Run::Ansi(b"-42".to_vec()));
        // Two Arabic words are one run (they trade places); the digits after stay apart.
        let r = runs("عسل نحل 42", &mut fonts);
        assert!(matches!(&r[0], Run::Cid(..)), "{r:?}");
        assert_eq!(r[1], Run::Ansi(b" 42".to_vec()));
        assert_eq!(r.len(), 2, "{r:?}");
    }

    #[test]
    fn bold_fallback_text_is_filled_and_stroked_inside_saved_state() {
        if !fonts_for(&['К']) {
            return;
        }
        let mut fonts = ReportFonts::default();
        let mut p = Page::new(&mut fonts);
        p.text(10.0, 10.0, 12.0, true, "Кекс");
        p.text(10.0, 30.0, 12.0, true, "Bold");
        let bytes = p.c.finish().to_vec();
        let s = String::from_utf8_lossy(&bytes);
        let first = s.find("ET").unwrap();
        let (fallback, latin) = s.split_at(first + 2);
        assert!(
            fallback.starts_with("q\n") && fallback.contains("2 Tr"),
            "{s}"
        );
        assert!(latin.trim_start().starts_with("Q\n"), "{s}");
        // Latin bold text is Helvetica-Bold as before, no outline.
        assert!(!latin.contains("Tr") && latin.contains("/F2 12 Tf"), "{s}");
    }
}
