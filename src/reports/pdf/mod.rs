//! The printable quality report (PDF): summary table, p-chart, Pareto, drift trend, sample
//! defect images, lot dispositions and a signature line.
//!
//! Written with `pdf-writer`: the base-14 Helvetica fonts (nothing embedded, text stays
//! searchable), charts drawn as vectors, crop images embedded as Flate-compressed RGB.
//! Text Helvetica cannot print (a Japanese lot code, a Cyrillic product) comes from an
//! installed font, embedded as a subset. Two A4 pages.
//!
//! - `layout`: page size, text helpers and the drawing surface.
//! - `charts`: p-chart, Pareto and drift trend.
//! - `summary_page` (page 1) and `detail_page` (page 2).
//! - `unicode_font`: the installed fonts for text outside WinAnsi, and their embedding.
//! - `audit_pages`: the signed audit trail extract ([`render_audit_pdf`]), as many pages as
//!   its entries need.

mod audit_pages;
mod charts;
mod detail_page;
mod layout;
mod summary_page;
mod unicode_font;

use std::path::{Path, PathBuf};

use image::RgbImage;
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref};

use super::query::{Report, items};
use super::{ReportError, ReportFilter};
use crate::reports::source::ReportSource;
pub use audit_pages::render_audit_pdf;
use detail_page::MAX_SAMPLES;
use layout::{BOLD, FONT, H, W};
use unicode_font::ReportFonts;
pub use unicode_font::unicode_font_for;

/// A sample image for the report, with its caption.
#[derive(Clone, Debug)]
pub struct SampleImage {
    /// The crop.
    pub image: RgbImage,
    /// e.g. `crack · score 2.31 · L1103-A-1`.
    pub caption: String,
}

/// Who produces the report and when, for the header.
#[derive(Clone, Debug, Default)]
pub struct PdfMeta {
    /// Report title.
    pub title: String,
    /// Generation time (unix ms).
    pub generated_at_ms: i64,
    /// Who generated it.
    pub author: String,
    /// When the report is one shift's: its review (closing signatures) for the summary.
    pub review: Option<ShiftReviewPdf>,
}

/// The review of a shift report as the PDF prints it (21 CFR 11.50: printed name, date and
/// time, meaning of each signature).
#[derive(Clone, Debug, Default)]
pub struct ShiftReviewPdf {
    /// The shift, `2026-11-20/A`.
    pub shift: String,
    /// Its closing signatures, oldest first.
    pub signatures: Vec<crate::store::SignatureRow>,
    /// True when the records still say what the last signature covered.
    pub current: bool,
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
    let mut fonts = ReportFonts::default();
    let page1 = summary_page::render(r, meta, &mut fonts);
    let page2 = detail_page::render(r, samples, &mut fonts);
    // Fallback fonts after the images; none at all for an all-WinAnsi report.
    let first_font = first_image + samples.len().min(MAX_SAMPLES) as i32;
    let unicode_fonts = fonts.write(&mut pdf, first_font);

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(pages).count(2);
    for (i, (&page_id, &content_id)) in pages.iter().zip(&contents).enumerate() {
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
        if i == 1 {
            let mut xo = res.x_objects();
            for k in 0..samples.len().min(MAX_SAMPLES) {
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
    embed_images(&mut pdf, samples, first_image);
    document_info(&mut pdf, info, meta);
    pdf.finish()
}

/// The sample crops as Flate-compressed RGB image XObjects from `Ref::new(first)` on.
fn embed_images(pdf: &mut Pdf, samples: &[SampleImage], first: i32) {
    for (k, sm) in samples.iter().enumerate().take(MAX_SAMPLES) {
        let data = miniz_oxide::deflate::compress_to_vec_zlib(sm.image.as_raw(), 6);
        let mut img = pdf.image_xobject(Ref::new(first + k as i32), &data);
        img.filter(Filter::FlateDecode);
        img.width(sm.image.width() as i32);
        img.height(sm.image.height() as i32);
        img.color_space().device_rgb();
        img.bits_per_component(8);
        img.finish();
    }
}

/// Title, author and creator of the document. Text strings take any Unicode (pdf-writer
/// writes UTF-16 when not ASCII), so an author `山田` or `José` is kept as typed.
fn document_info(pdf: &mut Pdf, info: Ref, meta: &PdfMeta) {
    pdf.document_info(info)
        .title(pdf_writer::TextStr(&meta.title))
        .author(pdf_writer::TextStr(&meta.author))
        .creator(pdf_writer::TextStr("foodqc"));
}

/// Up to `limit` saved crops of rejected items in the report's filter, newest first.
/// Unreadable image files are skipped with a warning naming them.
pub fn load_samples(
    db: &dyn ReportSource,
    r: &Report,
    limit: usize,
) -> Result<Vec<SampleImage>, ReportError> {
    let f = ReportFilter {
        verdict: Some("reject".into()),
        ..r.filter.clone()
    };
    // Ask for more rows than needed: several rejects may share one crop file.
    let rows = items(db, &f, true, limit * 20)?;
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
                    "{} | {} | {}",
                    row.defect_class
                        .as_deref()
                        .map(crate::i18n::class_name)
                        .unwrap_or_else(|| crate::tr!("verdict-reject")),
                    crate::i18n::format_decimal(row.score, 2),
                    row.lot_code
                        .clone()
                        .unwrap_or_else(|| crate::tr!("label-no-lot"))
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
    db: &dyn ReportSource,
    r: &Report,
    meta: &PdfMeta,
    path: &Path,
) -> Result<u64, ReportError> {
    if let Some(file) = db.database_file() {
        crate::store::guard_output_path(file, path)?;
    }
    let samples = load_samples(db, r, MAX_SAMPLES)?;
    let bytes = render_pdf(r, &samples, meta);
    let werr = |e: std::io::Error| ReportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let tmp = path.with_extension("pdf.part");
    crate::domain::private_fs::write_private(&tmp, &bytes).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)?;
    Ok(bytes.len() as u64)
}
