//! Page 1: header, summary table, p-chart and the subgroup table.

use pdf_writer::Buf;

use super::PdfMeta;
use super::charts::p_chart;
use super::layout::{H, MARGIN, Page, W, pct};
use super::unicode_font::ReportFonts;
use crate::i18n::{format_datetime, plant_time_zone};
use crate::reports::query::Report;
use crate::tr;

/// The first page's content stream.
pub(super) fn render(r: &Report, meta: &PdfMeta, fonts: &mut ReportFonts) -> Buf {
    let mut p = Page::new(fonts);
    header(&mut p, r, meta);
    let y = p.table(
        MARGIN,
        104.0,
        &[0.0, 140.0],
        &[&tr!("pdf-summary"), ""],
        &[summary_rows(r), review_rows(meta)].concat(),
    );
    p_chart(
        &mut p,
        r,
        MARGIN + 36.0,
        y + 22.0,
        W - 2.0 * MARGIN - 40.0,
        190.0,
    );
    groups_table(&mut p, r, y + 22.0 + 190.0 + 44.0);
    p.c.finish()
}

/// Title, who generated the report and when, and the filter.
fn header(p: &mut Page, r: &Report, meta: &PdfMeta) {
    p.text(MARGIN, 52.0, 18.0, true, &meta.title);
    p.text(
        MARGIN,
        68.0,
        8.5,
        false,
        &tr!(
            "pdf-generated",
            when = format_datetime(meta.generated_at_ms),
            zone = plant_time_zone().iana_name().unwrap_or("UTC-5"),
            author = if meta.author == crate::domain::actor::UNKNOWN_ACTOR {
                tr!("pdf-author-unknown")
            } else {
                meta.author.clone()
            }
        ),
    );
    p.text(
        MARGIN,
        80.0,
        8.5,
        false,
        &tr!("pdf-filter", filter = r.filter.describe()),
    );
}

/// The summary table: totals, period, out-of-control subgroups and drift.
fn summary_rows(r: &Report) -> Vec<Vec<String>> {
    let s = &r.summary;
    let ooc: Vec<String> = r.chart.out_of_control().map(|q| q.label.clone()).collect();
    let drifting = r.drift.iter().filter(|d| d.drifting).count();
    vec![
        vec![tr!("live-items-inspected"), s.items.to_string()],
        vec![
            tr!("live-rejected"),
            format!("{} ({})", s.rejects, pct(s.reject_rate())),
        ],
        vec![tr!("pdf-sent-to-review"), s.reviews.to_string()],
        vec![
            tr!("pdf-period"),
            match (s.first_ts_ms, s.last_ts_ms) {
                (Some(a), Some(b)) => tr!(
                    "filter-between",
                    from = format_datetime(a),
                    to = format_datetime(b)
                ),
                _ => tr!("pdf-no-inspections"),
            },
        ],
        vec![
            tr!("pdf-out-of-control", group = r.group_by.selector()),
            if ooc.is_empty() {
                tr!("cli-report-none")
            } else {
                format!("{}: {}", ooc.len(), ooc.join(", "))
            },
        ],
        vec![
            tr!("pdf-score-drift"),
            if drifting == 0 {
                tr!("pdf-no-drift")
            } else {
                tr!("pdf-drift-warning", hours = drifting)
            },
        ],
    ]
}

/// The shift's review: each closing signature with its printed name, UTC time, meaning and
/// reason, or that nobody reviewed it yet; none for a report that is not one shift's.
fn review_rows(meta: &PdfMeta) -> Vec<Vec<String>> {
    let Some(review) = &meta.review else {
        return Vec::new();
    };
    let label = tr!("pdf-review", shift = review.shift.as_str());
    if review.signatures.is_empty() {
        return vec![vec![label, tr!("pdf-review-none")]];
    }
    let last = review.signatures.len() - 1;
    review
        .signatures
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut text = tr!(
                "pdf-review-signed",
                name = s.display_name.as_str(),
                user = s.signer.as_str(),
                when = crate::reports::fmt_ts(s.ts_ms),
                meaning = crate::i18n::meaning_label(s.meaning.as_str()),
                reason = s.reason.as_str(),
                hash = s.content_hash.get(..16).unwrap_or(&s.content_hash)
            );
            if i == last && !review.current {
                text = format!("{text} {}", tr!("pdf-review-changed"));
            }
            vec![label.clone(), text]
        })
        .collect()
}

/// The subgroup table from `y` down, as many rows as fit the page.
fn groups_table(p: &mut Page, r: &Report, y: f32) {
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
                    .map(|s| crate::reports::lot_status_label(s).to_uppercase())
                    .unwrap_or_default(),
                q.violations
                    .iter()
                    .map(|v| tr!("reports-rule", number = v.number()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let title = tr!("pdf-by-group", group = r.group_by.label());
    let headers = [
        tr!("reports-col-items"),
        tr!("chart-rejects"),
        tr!("reports-col-rate"),
        tr!("chart-ucl"),
        tr!("reports-col-status"),
        tr!("chart-out-of-control"),
    ];
    let mut yy = p.table(
        MARGIN,
        y,
        &[0.0, 150.0, 210.0, 260.0, 310.0, 360.0, 420.0],
        &[
            &title,
            &headers[0],
            &headers[1],
            &headers[2],
            &headers[3],
            &headers[4],
            &headers[5],
        ],
        &rows,
    );
    if rows.len() < r.groups.len() {
        let more = r.groups.len() - rows.len();
        yy += 2.0;
        p.text(
            MARGIN,
            yy,
            8.0,
            false,
            &tr!("pdf-more-groups", count = more),
        );
    }
}
