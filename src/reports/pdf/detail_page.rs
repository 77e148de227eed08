//! Page 2: Pareto, drift trend, sample images, lot dispositions and the signature block.

use pdf_writer::{Buf, Name};

use super::SampleImage;
use super::charts::{drift_chart, pareto_chart};
use super::layout::{BLACK, H, MARGIN, Page, W, text_width};
use super::unicode_font::ReportFonts;
use crate::i18n::format_datetime;
use crate::reports::query::Report;
use crate::store::LotStatus;
use crate::tr;

/// At most this many sample images are shown.
pub(super) const MAX_SAMPLES: usize = 6;

/// The second page's content stream; sample `k` is drawn as the XObject `Im{k}`.
pub(super) fn render(r: &Report, samples: &[SampleImage], fonts: &mut ReportFonts) -> Buf {
    let mut p = Page::new(fonts);
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
    p.text(MARGIN, y, 10.0, true, &tr!("pdf-sample-images"));
    y += 8.0;
    let thumb = 78.0;
    if samples.is_empty() {
        p.text(MARGIN, y + 12.0, 8.5, false, &tr!("pdf-no-crops"));
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
                .map(|(a, t, c)| (a, format_datetime(t), c))
                .unwrap_or_default();
            vec![
                l.code.clone(),
                l.product.clone(),
                crate::reports::lot_status_label(l.status).to_uppercase(),
                who,
                when,
                comment,
            ]
        })
        .collect();
    let headers = [
        tr!("live-lot"),
        tr!("pdf-col-product"),
        tr!("pdf-col-disposition"),
        tr!("pdf-col-by"),
        tr!("pdf-col-when"),
        tr!("pdf-col-comment"),
    ];
    let mut y = p.table(
        MARGIN,
        y,
        &[0.0, 80.0, 165.0, 225.0, 290.0, 380.0],
        &[
            &headers[0],
            &headers[1],
            &headers[2],
            &headers[3],
            &headers[4],
            &headers[5],
        ],
        &lot_rows,
    );
    if lot_rows.len() < r.lots.len() {
        let more = r.lots.len() - lot_rows.len();
        p.text(MARGIN, y, 8.0, false, &tr!("pdf-more-lots", count = more));
        y += 11.0;
    }
    y
}

/// The approval line with name, date and signature fields, at least 110 pt above the bottom.
fn signature(p: &mut Page, y: f32) {
    let y = y.max(H - 110.0);
    p.text(MARGIN, y + 20.0, 9.0, true, &tr!("pdf-approval"));
    p.rgb(BLACK);
    for (x, label) in [
        (MARGIN, tr!("pdf-name")),
        (MARGIN + 190.0, tr!("pdf-date")),
        (MARGIN + 340.0, tr!("pdf-signature")),
    ] {
        p.line(&[(x, y + 55.0), (x + 150.0, y + 55.0)], 0.6, false);
        p.text(x, y + 65.0, 8.0, false, &label);
    }
}
