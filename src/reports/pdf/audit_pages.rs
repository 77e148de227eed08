//! The signed audit extract as PDF: a header (station, filter, when it was taken in UTC and
//! plant time, what the verification of the hash chains found), the entries as a table over
//! as many A4 pages as they need (time, actor, action, record, details with the old and new
//! values, reason), and the electronic signature: signer, UTC time, meaning, reason and the
//! content hash it is bound to.

use pdf_writer::{Buf, Finish, Name, Pdf, Rect, Ref};

use super::layout::{BLACK, BOLD, FONT, GREY, H, MARGIN, Page, RED, W, text_width};
use super::unicode_font::ReportFonts;
use crate::i18n::{format_datetime, plant_time_zone};
use crate::reports::audit::{AuditExtract, AuditRow, describe_filter, meaning_label};
use crate::reports::fmt_ts;
use crate::store::SignatureRow;
use crate::tr;

/// Text size of the table.
const SIZE: f32 = 7.0;
/// Line height of the table.
const LINE: f32 = 8.5;
/// Where the table starts on pages after the first.
const TOP: f32 = 50.0;
/// The lowest a table row may reach.
const BOTTOM: f32 = H - 50.0;
/// Height of the signature block.
const SIGNATURE_H: f32 = 120.0;
/// Lines a cell shows at most (the CSV keeps every detail).
const MAX_CELL_LINES: usize = 30;
/// Column offsets from the margin: id, time, actor, action, record, details, reason.
const COLS: [f32; 7] = [0.0, 22.0, 102.0, 160.0, 226.0, 296.0, 432.0];
/// Green of an intact chain.
const GREEN: [f32; 3] = [0.1, 0.5, 0.2];

/// Split `s` into lines of at most `room` points at `size`: by words, and a word longer than
/// a line (a hash, JSON) by characters. Paragraphs (`\n`) start new lines.
fn wrap(s: &str, room: f32, size: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut cur = String::new();
        for word in para.split_whitespace() {
            let candidate = if cur.is_empty() {
                word.to_string()
            } else {
                format!("{cur} {word}")
            };
            if text_width(&candidate, size) <= room {
                cur = candidate;
                continue;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            for c in word.chars() {
                cur.push(c);
                if text_width(&cur, size) > room && cur.chars().count() > 1 {
                    cur.pop();
                    lines.push(std::mem::replace(&mut cur, c.to_string()));
                }
            }
        }
        lines.push(cur);
    }
    lines
}

/// The room of column `i` in points.
fn room(i: usize) -> f32 {
    // Helvetica's digits and capitals are wider than the average `text_width` assumes: a
    // tenth to spare keeps a hash from running into the next column.
    (COLS.get(i + 1).map_or(W - 2.0 * MARGIN, |n| *n) - COLS[i] - 4.0) * 0.9
}

/// A row's cells, each wrapped to its column (at most [`MAX_CELL_LINES`] lines).
fn cells(r: &AuditRow) -> Vec<Vec<String>> {
    let details = r.details();
    let texts = [
        r.id.to_string(),
        format_datetime(r.ts_ms),
        r.actor.clone(),
        r.action.clone(),
        r.record.clone(),
        details.join("\n"),
        r.reason.clone(),
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut lines = wrap(t, room(i), SIZE);
            if lines.len() > MAX_CELL_LINES {
                lines.truncate(MAX_CELL_LINES);
                lines.push("…".into());
            }
            lines
        })
        .collect()
}

fn row_height(cells: &[Vec<String>]) -> f32 {
    cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * LINE + 2.0
}

/// The table's header row at `y`; returns the y of the first row.
fn table_header(p: &mut Page, y: f32) -> f32 {
    let heads = [
        tr!("audit-col-id"),
        tr!("audit-col-time", zone = zone()),
        tr!("audit-col-actor"),
        tr!("audit-col-action"),
        tr!("audit-col-record"),
        tr!("audit-col-details"),
        tr!("audit-col-reason"),
    ];
    for (i, h) in heads.iter().enumerate() {
        let mut h = h.clone();
        while text_width(&h, SIZE) > room(i) && h.chars().count() > 3 {
            h.pop();
        }
        p.text(MARGIN + COLS[i], y, SIZE, true, &h);
    }
    p.rgb(GREY);
    p.line(&[(MARGIN, y + 3.0), (W - MARGIN, y + 3.0)], 0.5, false);
    p.rgb(BLACK);
    y + 3.0 + LINE + 1.0
}

fn draw_row(p: &mut Page, y: f32, cells: &[Vec<String>]) {
    for (i, lines) in cells.iter().enumerate() {
        for (k, line) in lines.iter().enumerate() {
            p.text(MARGIN + COLS[i], y + LINE * k as f32, SIZE, false, line);
        }
    }
    let below = y + row_height(cells) - LINE + 1.0;
    p.rgb([0.85, 0.85, 0.85]);
    p.line(&[(MARGIN, below), (W - MARGIN, below)], 0.3, false);
    p.rgb(BLACK);
}

fn zone() -> &'static str {
    plant_time_zone().iana_name().unwrap_or("UTC-5")
}

/// Title, station, filter, times, the verification of the chains; returns the y below.
fn header(p: &mut Page, x: &AuditExtract, rows: usize) -> f32 {
    p.text(MARGIN, 50.0, 16.0, true, &tr!("audit-pdf-title"));
    let mut y = 66.0;
    let full = W - 2.0 * MARGIN;
    let para = |p: &mut Page, y: &mut f32, text: String, bold: bool| {
        for line in wrap(&text, full, 8.5) {
            p.text(MARGIN, *y, 8.5, bold, &line);
            *y += 11.0;
        }
    };
    para(
        p,
        &mut y,
        tr!("audit-pdf-station", station = x.station.as_str()),
        false,
    );
    para(
        p,
        &mut y,
        tr!("audit-pdf-filter", filter = describe_filter(&x.filter)),
        false,
    );
    para(
        p,
        &mut y,
        tr!(
            "audit-pdf-generated",
            utc = fmt_ts(x.generated_at_ms),
            plant = format_datetime(x.generated_at_ms),
            zone = zone()
        ),
        false,
    );
    p.rgb(if x.chain.is_intact() { GREEN } else { RED });
    para(
        p,
        &mut y,
        tr!("audit-pdf-chain", result = x.chain.describe()),
        true,
    );
    p.rgb(BLACK);
    para(p, &mut y, tr!("audit-pdf-entries", count = rows), false);
    y + 8.0
}

/// The electronic signature from `y` down.
fn signature(p: &mut Page, y: f32, sig: &SignatureRow) {
    let y = y + 10.0;
    p.rgb(BLACK);
    p.rect_stroke(MARGIN, y, W - 2.0 * MARGIN, SIGNATURE_H - 14.0, 0.6);
    p.text(
        MARGIN + 8.0,
        y + 14.0,
        10.0,
        true,
        &tr!("audit-pdf-signature"),
    );
    let lines = [
        tr!(
            "audit-pdf-sig-signer",
            name = sig.display_name.as_str(),
            user = sig.signer.as_str(),
            role = sig.role.as_str()
        ),
        tr!(
            "audit-pdf-sig-time",
            utc = fmt_ts(sig.ts_ms),
            plant = format_datetime(sig.ts_ms),
            zone = zone()
        ),
        tr!(
            "audit-pdf-sig-meaning",
            meaning = sig
                .meaning()
                .map_or_else(|| sig.meaning.clone(), meaning_label),
            action = sig.action.as_str()
        ),
        tr!("audit-pdf-sig-reason", reason = sig.reason.as_str()),
        tr!("audit-pdf-sig-hash", hash = sig.content_hash.as_str()),
        tr!(
            "audit-pdf-sig-ids",
            id = sig.id,
            entry = sig.audit_id,
            record = sig.record_id.as_str()
        ),
    ];
    let mut yy = y + 28.0;
    for line in &lines {
        for l in wrap(line, W - 2.0 * MARGIN - 16.0, 8.0).into_iter().take(2) {
            p.text(MARGIN + 8.0, yy, 8.0, false, &l);
            yy += 10.5;
        }
    }
    p.rgb(GREY);
    for l in wrap(&tr!("audit-pdf-sig-note"), W - 2.0 * MARGIN - 16.0, 6.5) {
        p.text(MARGIN + 8.0, yy + 2.0, 6.5, false, &l);
        yy += 8.0;
    }
    p.rgb(BLACK);
}

fn footer(p: &mut Page, n: usize, total: usize, sig: &SignatureRow) {
    p.rgb(GREY);
    let short: String = sig.content_hash.chars().take(16).collect();
    p.text(
        MARGIN,
        H - 25.0,
        7.0,
        false,
        &tr!(
            "audit-pdf-footer",
            record = sig.record_id.as_str(),
            hash = short,
            page = n,
            pages = total
        ),
    );
    p.rgb(BLACK);
}

/// Which rows go on which page, and whether the signature needs a page of its own.
fn paginate(heights: &[f32], first_top: f32) -> (Vec<std::ops::Range<usize>>, bool) {
    let mut pages = Vec::new();
    let mut start = 0;
    let mut y = first_top;
    for (i, h) in heights.iter().enumerate() {
        if y + h > BOTTOM && i > start {
            pages.push(start..i);
            start = i;
            y = TOP + LINE + 4.0;
        }
        y += h;
    }
    pages.push(start..heights.len());
    let own_page = y + SIGNATURE_H > BOTTOM + 20.0;
    (pages, own_page)
}

/// Render the signed extract as PDF bytes: `sig` is the signature bound to its content.
pub fn render_audit_pdf(x: &AuditExtract, sig: &SignatureRow) -> Vec<u8> {
    let rows = x.rows();
    let cells: Vec<Vec<Vec<String>>> = rows.iter().map(cells).collect();
    let heights: Vec<f32> = cells.iter().map(|c| row_height(c)).collect();
    let mut fonts = ReportFonts::default();

    // The header's height first (it wraps), then the pages.
    let first_top = {
        let mut probe = ReportFonts::default();
        let mut p = Page::new(&mut probe);
        header(&mut p, x, rows.len()) + LINE + 4.0
    };
    let (ranges, own_page) = paginate(&heights, first_top);
    let total = ranges.len() + usize::from(own_page);
    let mut streams: Vec<Buf> = Vec::new();
    for (n, range) in ranges.iter().enumerate() {
        let mut p = Page::new(&mut fonts);
        let top = if n == 0 {
            header(&mut p, x, rows.len())
        } else {
            TOP
        };
        let mut y = table_header(&mut p, top);
        if rows.is_empty() && n == 0 {
            p.text(MARGIN, y, SIZE, false, &tr!("audit-list-empty"));
            y += LINE;
        }
        for i in range.clone() {
            draw_row(&mut p, y, &cells[i]);
            y += heights[i];
        }
        if n + 1 == ranges.len() && !own_page {
            signature(&mut p, y, sig);
        }
        footer(&mut p, n + 1, total, sig);
        streams.push(p.c.finish());
    }
    if own_page {
        let mut p = Page::new(&mut fonts);
        signature(&mut p, TOP, sig);
        footer(&mut p, total, total, sig);
        streams.push(p.c.finish());
    }
    assemble(&streams, &fonts, x, sig)
}

/// The document around the page content streams.
fn assemble(streams: &[Buf], fonts: &ReportFonts, x: &AuditExtract, sig: &SignatureRow) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let n = streams.len() as i32;
    let pages: Vec<Ref> = (0..n).map(|i| Ref::new(6 + i)).collect();
    let contents: Vec<Ref> = (0..n).map(|i| Ref::new(6 + n + i)).collect();
    let unicode_fonts = fonts.write(&mut pdf, 6 + 2 * n);
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(pages.iter().copied()).count(n);
    for (&page_id, &content_id) in pages.iter().zip(&contents) {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, W, H));
        page.parent(tree);
        page.contents(content_id);
        let mut res = page.resources();
        let mut fonts_dict = res.fonts();
        fonts_dict.pair(FONT, font).pair(BOLD, bold);
        for (name, id) in &unicode_fonts {
            fonts_dict.pair(Name(name.as_bytes()), *id);
        }
        fonts_dict.finish();
    }
    for (&content_id, stream) in contents.iter().zip(streams) {
        pdf.stream(content_id, stream);
    }
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let title = format!("{} ({})", tr!("audit-pdf-title"), x.record_id());
    pdf.document_info(info)
        .title(pdf_writer::TextStr(&title))
        .author(pdf_writer::TextStr(&sig.display_name))
        .subject(pdf_writer::TextStr(&sig.content_hash))
        .creator(pdf_writer::TextStr("foodqc"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_break_and_paragraphs_start_new_lines() {
        let hash = "ab".repeat(32);
        let lines = wrap(&format!("hash {hash}\nnext"), 60.0, 7.0);
        assert!(lines.len() >= 4, "{lines:?}");
        assert!(
            lines.iter().all(|l| text_width(l, 7.0) <= 60.0),
            "{lines:?}"
        );
        assert_eq!(lines.last().map(String::as_str), Some("next"));
        assert_eq!(lines.concat().replace(' ', ""), format!("hash{hash}next"));
        assert_eq!(wrap("", 50.0, 7.0), vec![String::new()]);
    }

    #[test]
    fn rows_spread_over_pages_and_the_signature_fits_or_gets_its_own() {
        let (pages, own) = paginate(&[10.0; 3], 100.0);
        assert_eq!((pages.len(), pages[0].clone(), own), (1, 0..3, false));
        let (pages, _) = paginate(&[10.0; 200], 100.0);
        assert!(pages.len() >= 3, "{pages:?}");
        assert_eq!(pages.first().unwrap().start, 0);
        assert_eq!(pages.last().unwrap().end, 200);
        // The ranges follow each other without gaps.
        for w in pages.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        let fill = ((BOTTOM - 100.0) / 10.0) as usize;
        let (_, own) = paginate(&vec![10.0; fill], 100.0);
        assert!(own);
    }

    #[test]
    fn a_long_extract_is_several_pages_with_the_signature_on_the_last() {
        use crate::reports::audit::ChainCheck;
        use crate::store::{AuditEntry, AuditFilter};
        let entries = (1..=150)
            .map(|id| AuditEntry {
                id,
                ts_ms: 1_700_000_000_000 + id * 1000,
                actor: "qc.anna".into(),
                action: "lot.status".into(),
                details: serde_json::json!({"code": format!("L{id}"), "from": "open",
                    "to": "hold", "comment": "grietas, año 2026"}),
                hash: Some("ab".repeat(32)),
            })
            .collect();
        let x = AuditExtract {
            station: "line-1".into(),
            filter: AuditFilter::default(),
            generated_at_ms: 1_700_000_200_000,
            chain: ChainCheck::Broken {
                problems: vec![crate::store::chain::Problem::AuditHashMismatch { id: 7 }],
            },
            entries,
        };
        let sig = SignatureRow {
            id: 3,
            ts_ms: 1_700_000_201_000,
            user_id: 2,
            signer: "qc.anna".into(),
            display_name: "Ana Núñez".into(),
            role: "qc_manager".into(),
            meaning: "reviewed".into(),
            action: "audit.review".into(),
            record_kind: "audit_extract".into(),
            record_id: x.record_id(),
            content_hash: "cd".repeat(32),
            reason: "weekly review".into(),
            audit_id: 160,
        };
        let bytes = render_audit_pdf(&x, &sig);
        if let Some(out) = std::env::var_os("FOODQC_AUDIT_PDF_OUT") {
            std::fs::write(out, &bytes).unwrap();
        }
        let text = String::from_utf8_lossy(&bytes);
        // The page tree counts the pages: 150 rows of one line take three or more.
        let count = text
            .find("/Count ")
            .map(|i| &text[i + 7..i + 9])
            .unwrap_or_default();
        assert!(count.trim().parse::<usize>().unwrap_or(0) >= 3, "{count:?}");
        assert!(text.contains("audit_log:1-150"));
    }
}
