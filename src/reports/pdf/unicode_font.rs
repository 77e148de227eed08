//! Text the base-14 fonts cannot print (Japanese lot codes, Cyrillic product names, Greek or
//! Arabic user names) through an installed TrueType font.
//!
//! Helvetica with WinAnsiEncoding keeps printing what it covers (Spanish accents, ñ, ¿, ¡);
//! other characters are shown with a face found on this machine at run time ([`fontdb`]),
//! embedded as a Type0 font with a CIDFontType2 descendant, Identity-H encoding, a subset of
//! only the glyphs used ([`subsetter`]), a /W widths array and a ToUnicode CMap (so text
//! extraction gives the characters as typed). A character no installed font has stays `?`,
//! and one warning per report names it and the font package to install.
//!
//! The system's fonts are only scanned the first time a report needs one: an all-Latin
//! report reads no font file and embeds nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, GlyphId, MetadataProvider, Tag};
use subsetter::GlyphRemapper;

/// The CIDs of an Identity-H font are its (subset's) glyph ids; nothing else is promised.
const SYSTEM_INFO: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

/// A glyph of an installed font for one character.
#[derive(Clone, Copy, Debug)]
struct Glyph {
    /// Index of the face in [`Catalog::candidates`].
    face: usize,
    /// Glyph id in the full font.
    gid: u16,
    /// Advance width in thousandths of an em.
    advance: f32,
}

/// An installed face that may print fallback text (from fontdb's scan, before it is read).
#[derive(Debug)]
struct Candidate {
    path: PathBuf,
    index: u32,
    family: String,
    post_script_name: String,
}

/// The installed fonts, scanned once per process, and what was learnt about them.
struct Catalog {
    /// Preferred first: regular upright sans-serif faces of normal width.
    candidates: Vec<Candidate>,
    state: Mutex<CatalogState>,
}

#[derive(Default)]
struct CatalogState {
    /// Each character asked for: its glyph, or `None` when no installed font has it.
    by_char: HashMap<char, Option<Glyph>>,
    /// The files of faces that gave a glyph, kept for the next characters and for embedding.
    loaded: BTreeMap<usize, Arc<Vec<u8>>>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        let mut faces: Vec<&fontdb::FaceInfo> = db.faces().collect();
        // Print a name as plainly as Helvetica does: regular, upright, normal width, sans
        // before serif, proportional before monospaced; then by name, for the same choice on
        // every run.
        faces.sort_by_key(|f| {
            let family = f.families.first().map(|(n, _)| n.as_str()).unwrap_or("");
            let sans = family.contains("Sans") && !family.contains("Serif");
            (
                f.style != fontdb::Style::Normal,
                f.weight.0.abs_diff(400),
                f.stretch != fontdb::Stretch::Normal,
                f.monospaced,
                !sans,
                family.to_string(),
                f.index,
            )
        });
        let candidates: Vec<Candidate> = faces
            .into_iter()
            .filter_map(|f| match &f.source {
                fontdb::Source::File(path) => Some(Candidate {
                    path: path.clone(),
                    index: f.index,
                    family: f
                        .families
                        .first()
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default(),
                    post_script_name: f.post_script_name.clone(),
                }),
                _ => None,
            })
            .collect();
        tracing::debug!("report PDF: {} installed font faces", candidates.len());
        Catalog {
            candidates,
            state: Mutex::new(CatalogState::default()),
        }
    })
}

/// The glyph of `c` in `data`'s face `index`, when that face has TrueType outlines (a
/// CIDFontType2 embeds those; CFF-based OpenType faces are passed over) and maps `c`.
fn glyph_in(data: &[u8], index: u32, c: char) -> Option<(u16, f32)> {
    let font = FontRef::from_index(data, index).ok()?;
    font.table_data(Tag::new(b"glyf"))?;
    let gid = font.charmap().map(c)?;
    let gid16 = u16::try_from(gid.to_u32()).ok().filter(|&g| g != 0)?;
    // At 1000 ppem the advance is in the PDF's glyph space units.
    let advance = font
        .glyph_metrics(Size::new(1000.0), LocationRef::default())
        .advance_width(gid)
        .unwrap_or(0.0);
    Some((gid16, advance))
}

/// The installed glyph that prints `c`, looked up once per character and process. Faces
/// already in use are tried first (fewer fonts in the PDF), then the others by preference.
fn glyph_for(c: char) -> Option<Glyph> {
    let cat = catalog();
    // A poisoned lock only means another report panicked mid-lookup; the cache stays valid.
    let mut st = cat.state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(g) = st.by_char.get(&c) {
        return *g;
    }
    let found = st
        .loaded
        .iter()
        .find_map(|(&i, data)| {
            glyph_in(data, cat.candidates[i].index, c).map(|(gid, advance)| Glyph {
                face: i,
                gid,
                advance,
            })
        })
        .or_else(|| {
            cat.candidates.iter().enumerate().find_map(|(i, cand)| {
                if st.loaded.contains_key(&i) {
                    return None;
                }
                let data = std::fs::read(&cand.path).ok()?;
                let (gid, advance) = glyph_in(&data, cand.index, c)?;
                st.loaded.insert(i, Arc::new(data));
                Some(Glyph {
                    face: i,
                    gid,
                    advance,
                })
            })
        });
    st.by_char.insert(c, found);
    found
}

/// The family name of the installed font the PDF report prints `c` with, or `None` when no
/// installed font has it (it then prints as `?`). Characters the report's Helvetica covers
/// (WinAnsi) are printed with Helvetica whatever this says.
pub fn unicode_font_for(c: char) -> Option<String> {
    glyph_for(c).map(|g| catalog().candidates[g.face].family.clone())
}

/// The advance of `c` in the installed font that prints it, in ems; `None` without one.
pub(super) fn advance_em(c: char) -> Option<f32> {
    glyph_for(c).map(|g| g.advance / 1000.0)
}

/// Whether `c` belongs to a right-to-left script (Hebrew, Arabic, Syriac, Thaana, N'Ko and
/// their presentation forms).
pub(super) fn is_rtl(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// One embedded font of a report: the glyphs used so far and the text they print.
struct UsedFont {
    face: usize,
    /// Full-font glyph ids to subset glyph ids, in order of first use.
    remapper: GlyphRemapper,
    /// Subset glyph id to the text it prints (a ligature prints several characters), for
    /// the ToUnicode CMap.
    text: BTreeMap<u16, String>,
}

/// The fallback fonts of one report, filled while its pages are laid out and written into
/// the PDF after them.
#[derive(Default)]
pub(super) struct ReportFonts {
    used: Vec<UsedFont>,
    /// Characters no installed font has (printed as `?`).
    missing: BTreeSet<char>,
}

/// Resource name of the `k`-th fallback font (beside Helvetica's F1 and F2).
pub(super) fn resource_name(k: usize) -> String {
    format!("U{k}")
}

impl ReportFonts {
    /// The installed face (its catalogue index) that prints `c`, or `None` when no installed
    /// font has `c` (remembered for the warning; the caller prints `?`).
    pub(super) fn face_of(&mut self, c: char) -> Option<usize> {
        let face = glyph_for(c).map(|g| g.face);
        if face.is_none() {
            self.missing.insert(c);
        }
        face
    }

    /// The font (its position in this report) and the subset glyph ids, in visual order,
    /// that print `text` with `face`. Shaped with harfrust: Arabic letters take their
    /// joining forms and right-to-left text is laid out right to left.
    pub(super) fn encode_run(&mut self, face: usize, text: &str) -> (usize, Vec<u16>) {
        let k = match self.used.iter().position(|u| u.face == face) {
            Some(k) => k,
            None => {
                self.used.push(UsedFont {
                    face,
                    remapper: GlyphRemapper::new(),
                    text: BTreeMap::new(),
                });
                self.used.len() - 1
            }
        };
        let shaped = shape(face, text).unwrap_or_else(|| {
            // Not shapeable (cannot happen for a face that gave glyphs): one glyph per
            // character, in logical order.
            text.char_indices()
                .map(|(i, c)| (glyph_for(c).map_or(0, |g| g.gid), i..i + c.len_utf8()))
                .collect()
        });
        let u = &mut self.used[k];
        let gids = shaped
            .into_iter()
            .map(|(gid, range)| {
                let new = u.remapper.remap(gid);
                let t = &text[range];
                if !t.is_empty() {
                    u.text.entry(new).or_insert_with(|| t.to_string());
                }
                new
            })
            .collect();
        (k, gids)
    }

    /// Write the fonts used from `Ref::new(first)` on (five objects each); returns each one's
    /// resource name and font object, in order. Warns once about characters printed as `?`.
    pub(super) fn write(&self, pdf: &mut Pdf, first: i32) -> Vec<(String, Ref)> {
        if !self.missing.is_empty() {
            warn_missing(&self.missing);
        }
        let cat = catalog();
        let loaded = cat
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .loaded
            .clone();
        let mut out = Vec::new();
        for (k, u) in self.used.iter().enumerate() {
            let refs = first + 5 * k as i32;
            let id = Ref::new(refs);
            let Some(data) = loaded.get(&u.face) else {
                continue;
            };
            let cand = &cat.candidates[u.face];
            write_font(
                pdf,
                [refs, refs + 1, refs + 2, refs + 3, refs + 4],
                cand,
                data,
                u,
            );
            out.push((resource_name(k), id));
        }
        out
    }
}

/// `text` shaped with `face`: each glyph (full-font id, visual order) with the byte range of
/// `text` it prints (empty for the second and later glyphs of one cluster).
fn shape(face: usize, text: &str) -> Option<Vec<(u16, std::ops::Range<usize>)>> {
    let cat = catalog();
    let data = cat
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .loaded
        .get(&face)?
        .clone();
    let font = FontRef::from_index(&data, cat.candidates[face].index).ok()?;
    let shaper_data = harfrust::ShaperData::new(&font);
    let shaper = shaper_data.shaper(&font).build();
    let mut buffer = harfrust::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    let out = shaper.shape(buffer, harfrust::ShapeOptions::new());
    let infos = out.glyph_infos();
    // Clusters are byte offsets of `text`; a cluster ends where the next larger one starts.
    let mut starts: Vec<usize> = infos.iter().map(|i| i.cluster as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut seen = BTreeSet::new();
    infos
        .iter()
        .map(|info| {
            let start = info.cluster as usize;
            let end = starts
                .iter()
                .copied()
                .find(|&s| s > start)
                .unwrap_or(text.len());
            let range = if seen.insert(start) {
                start..end
            } else {
                start..start
            };
            u16::try_from(info.glyph_id).ok().map(|g| (g, range))
        })
        .collect()
}

/// One warning naming the characters printed as `?` and the font package to install.
fn warn_missing(missing: &BTreeSet<char>) {
    let chars: String = missing.iter().collect();
    let codes: Vec<String> = missing
        .iter()
        .map(|&c| format!("U+{:04X}", c as u32))
        .collect();
    // Han, kana and hangul: Debian's Droid fallback font has them; Noto covers most others.
    let cjk = missing.iter().any(|&c| {
        matches!(c as u32, 0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
    });
    let package = if cjk {
        "fonts-droid-fallback"
    } else {
        "fonts-noto-core"
    };
    tracing::warn!(
        "report PDF: no installed TrueType font has {chars:?} ({}); printed as '?'. \
         Install a font that covers them, e.g. `apt-get install {package}`",
        codes.join(" ")
    );
}

/// The five objects of one embedded font: Type0 font, CIDFontType2, descriptor, font file
/// and ToUnicode CMap.
fn write_font(pdf: &mut Pdf, refs: [i32; 5], cand: &Candidate, data: &[u8], u: &UsedFont) {
    let [type0, cid, descriptor, file, cmap] = refs.map(Ref::new);
    let Ok(font) = FontRef::from_index(data, cand.index) else {
        return;
    };
    let base = base_font_name(cand, u);

    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);

    let glyph_metrics = font.glyph_metrics(Size::new(1000.0), LocationRef::default());
    let widths: Vec<f32> = u
        .remapper
        .remapped_gids()
        .map(|g| {
            glyph_metrics
                .advance_width(GlyphId::new(u32::from(g)))
                .unwrap_or(0.0)
        })
        .collect();
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(Name(base.as_bytes()))
        .system_info(SYSTEM_INFO)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    c.widths().consecutive(0, widths);
    c.finish();

    let mut cmap_builder = UnicodeCmap::new(Name(b"Custom"), SYSTEM_INFO);
    for (&g, text) in &u.text {
        cmap_builder.pair_with_multiple(g, text.chars());
    }
    let cmap_data = miniz_oxide::deflate::compress_to_vec_zlib(&cmap_builder.finish(), 6);
    pdf.cmap(cmap, &cmap_data).filter(Filter::FlateDecode);

    // A font the subsetter cannot read is still named and mapped (a viewer substitutes it
    // and the text extracts), just not embedded.
    let subset = match subsetter::subset(data, cand.index, &u.remapper) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(
                "report PDF: cannot subset {} ({}): {e:?}; font not embedded",
                cand.family,
                cand.path.display()
            );
            None
        }
    };
    if let Some(subset) = &subset {
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(subset, 6);
        let mut s = pdf.stream(file, &packed);
        s.filter(Filter::FlateDecode);
        s.pair(Name(b"Length1"), subset.len() as i32);
        s.finish();
    }

    let m = font.metrics(Size::new(1000.0), LocationRef::default());
    let mut flags = FontFlags::SYMBOLIC;
    flags.set(FontFlags::FIXED_PITCH, m.is_monospace);
    flags.set(FontFlags::ITALIC, m.italic_angle != 0.0);
    let bbox = m
        .bounds
        .map_or(Rect::new(0.0, m.descent, 1000.0, m.ascent), |b| {
            Rect::new(b.x_min, b.y_min, b.x_max, b.y_max)
        });
    let mut d = pdf.font_descriptor(descriptor);
    d.name(Name(base.as_bytes()))
        .flags(flags)
        .bbox(bbox)
        .italic_angle(m.italic_angle)
        .ascent(m.ascent)
        .descent(m.descent)
        .cap_height(m.cap_height.unwrap_or(m.ascent))
        .stem_v(80.0);
    if subset.is_some() {
        d.font_file2(file);
    }
    d.finish();
}

/// `ABCDEF+PostScriptName`: the subset tag (from the glyphs used) marks an embedded subset.
fn base_font_name(cand: &Candidate, u: &UsedFont) -> String {
    let mut h = blake3::Hasher::new();
    h.update(cand.post_script_name.as_bytes());
    for g in u.remapper.remapped_gids() {
        h.update(&g.to_le_bytes());
    }
    let tag: String = h.finalize().as_bytes()[..6]
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    let mut name: String = cand
        .post_script_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(100)
        .collect();
    if name.is_empty() {
        name = "Unicode".into();
    }
    format!("{tag}+{name}")
}
