//! Page 2: Pareto, drift trend, sample images, lot dispositions and the signature block.

use pdf_writer::{Buf, Name};

use super::SampleImage;
use super::charts::{drift_chart, pareto_chart};
use super::layout::{BLACK, H, MARGIN, Page, W, text_width};
use crate::reports::fmt_ts;
use crate::reports::query::Report;
use crate::store::LotStatus;

/// At most this many sample images are shown.
pub(super) const MAX_SAMPLES: usize = 6;

/// The second page's content stream; sample `k` is drawn as the XObject `Im{k}`.
pub(super) fn render(r: &Report, samples: &[SampleImage]) -> Buf {
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
    let y = sample_images(&mut p, samples, 420.0);
    let y = lots_table(&mut p, r, y);
    signature(&mut p, y);
    p.c.finish()
}

/// The sample images with captions from `y` down; returns the y below them.
fn sample_images(p: &mut Page, samples: &[SampleImage], y: f32) -> f32 {
    let mut y = y;
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
    for (i, sm) in samples.iter().enumerate().take(MAX_SAMPLES) {
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
    y + thumb + 30.0
}

/// The lots with their disposition (held lots first), as many as fit; returns the y below.
fn lots_table(p: &mut Page, r: &Report, y: f32) -> f32 {
    // Held lots first: they are what the reader must act on.
    let mut lots: Vec<_> = r.lots.iter().collect();
    lots.sort_by_key(|l| match l.status {
        LotStatus::Hold => 0,
        LotStatus::Released => 1,
        LotStatus::Open => 2,
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
    y
}

/// The approval line with name, date and signature fields, at least 110 pt above the bottom.
fn signature(p: &mut Page, y: f32) {
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
}
