//! Page 1: header, summary table, p-chart and the subgroup table.

use pdf_writer::Buf;

use super::PdfMeta;
use super::charts::p_chart;
use super::layout::{H, MARGIN, Page, W, pct};
use crate::reports::fmt_ts;
use crate::reports::query::Report;

/// The first page's content stream.
pub(super) fn render(r: &Report, meta: &PdfMeta) -> Buf {
    let mut p = Page::new();
    header(&mut p, r, meta);
    let y = p.table(
        MARGIN,
        104.0,
        &[0.0, 140.0],
        &["Summary", ""],
        &summary_rows(r),
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
}

/// The summary table: totals, period, out-of-control subgroups and drift.
fn summary_rows(r: &Report) -> Vec<Vec<String>> {
    let s = &r.summary;
    let ooc: Vec<String> = r.chart.out_of_control().map(|q| q.label.clone()).collect();
    let drifting = r.drift.iter().filter(|d| d.drifting).count();
    vec![
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
    ]
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
}
