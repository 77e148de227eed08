//! Language for people: the Fluent catalogues (`assets/i18n/<lang>/foodqc.ftl`, embedded in
//! the binary), the language in force, and dates, times and numbers written the way the
//! reader's locale writes them (es-PE: decimal comma, dd/mm/aaaa, 24 h).
//!
//! Messages are looked up with [`tr!`](crate::tr), which checks the id (and its arguments)
//! against the English catalogue at compile time. The language in force is process-wide
//! ([`set_language`]), and a thread may follow another one ([`set_thread_language`]): the
//! window's thread follows the window's setting, so two windows in one test process do not
//! fight over it. The database keeps UTC; people read plant time ([`plant_time_zone`]).

mod format;

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU8, Ordering};

use i18n_embed::LanguageLoader;
use i18n_embed::fluent::{FluentLanguageLoader, fluent_language_loader};
use rust_embed::RustEmbed;
use serde::{Deserialize, Serialize};

pub use format::{
    format_date, format_datetime, format_decimal, format_hour, format_percent, plant_time_zone,
};

/// The catalogues, one folder per language, compiled into the binary.
#[derive(RustEmbed)]
#[folder = "assets/i18n/"]
struct Catalogues;

/// A language the workstation speaks. English is the fallback: a message missing in another
/// language shows in English.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Spanish as written in Peru (es-PE).
    Es,
}

impl Language {
    /// Every language, in the order a picker lists them.
    pub const ALL: [Language; 2] = [Language::En, Language::Es];

    /// The code used on the command line and as the catalogue folder (`en`, `es`).
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }

    /// The language's name in itself, for a picker ("English", "Español").
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Español",
        }
    }

    /// The language of a POSIX locale name (`es_PE.UTF-8`, `es`, `en_US`); None when it is
    /// not one the workstation speaks (`C`, `POSIX`, `fr_FR`).
    pub fn from_locale(locale: &str) -> Option<Language> {
        let lang = locale
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.code() == lang)
    }

    /// The language of the session: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set
    /// and not empty decides (as POSIX orders them); English when it names no language the
    /// workstation speaks.
    pub fn from_environment() -> Language {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Language::from_locale(&v))
            .unwrap_or_default()
    }

    fn index(self) -> usize {
        match self {
            Language::En => 0,
            Language::Es => 1,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is not one of [`Language::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("err-i18n-unknown-language", v0 = format!("{:?}", .0)))]
pub struct UnknownLanguage(String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::from_locale(s.trim()).ok_or_else(|| UnknownLanguage(s.to_string()))
    }
}

/// One loader per language, each with English behind it for missing messages.
static LOADERS: LazyLock<Vec<FluentLanguageLoader>> = LazyLock::new(|| {
    Language::ALL
        .iter()
        .map(|lang| {
            let loader: FluentLanguageLoader = fluent_language_loader!();
            let id = unic_langid(lang.code());
            if let Err(e) = loader.load_languages(&Catalogues, &[id]) {
                // The catalogues are compiled in and checked by the tests: this is a build
                // mistake, and English ids still show instead of nothing.
                tracing::error!("loading the {lang} catalogue: {e}");
            }
            // egui and the PDF fonts would draw Unicode isolation marks around arguments as
            // boxes; our messages are left-to-right only.
            loader.set_use_isolating(false);
            loader
        })
        .collect()
});

fn unic_langid(code: &str) -> i18n_embed::unic_langid::LanguageIdentifier {
    code.parse()
        .unwrap_or_else(|_| i18n_embed::unic_langid::LanguageIdentifier::default())
}

/// The process-wide language (an index into [`Language::ALL`]).
static PROCESS_LANGUAGE: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// This thread's own language, when it follows one apart from the process.
    static THREAD_LANGUAGE: Cell<Option<Language>> = const { Cell::new(None) };
}

/// Set the process-wide language (the CLI's `--lang`, the window's setting).
pub fn set_language(lang: Language) {
    PROCESS_LANGUAGE.store(lang.index() as u8, Ordering::Relaxed);
}

/// Make the calling thread speak `lang` whatever the process does (None: follow the process).
pub fn set_thread_language(lang: Option<Language>) {
    THREAD_LANGUAGE.with(|l| l.set(lang));
}

/// The language in force on the calling thread.
pub fn language() -> Language {
    THREAD_LANGUAGE.with(Cell::get).unwrap_or_else(|| {
        let i = PROCESS_LANGUAGE.load(Ordering::Relaxed) as usize;
        Language::ALL.get(i).copied().unwrap_or_default()
    })
}

/// The message loader of the language in force (used by [`tr!`](crate::tr)).
pub fn loader() -> &'static FluentLanguageLoader {
    loader_for(language())
}

/// The message loader of one language.
pub fn loader_for(lang: Language) -> &'static FluentLanguageLoader {
    &LOADERS[lang.index()]
}

/// The text of one catalogue file, for the tests that compare catalogues.
pub fn catalogue_source(lang: Language) -> Option<String> {
    let file = Catalogues::get(&format!("{}/foodqc.ftl", lang.code()))?;
    String::from_utf8(file.data.into_owned()).ok()
}

/// A signature's meaning (`performed`, `reviewed`, `approved`, as stored) as people read it
/// in the language in force; an unknown value shows as stored.
pub fn meaning_label(meaning: &str) -> String {
    match meaning {
        "performed" => crate::tr!("meaning-performed"),
        "reviewed" => crate::tr!("meaning-reviewed"),
        "approved" => crate::tr!("meaning-approved"),
        other => other.to_string(),
    }
}

/// A defect class key as people read it in the language in force (`crack` -> "grieta"). The
/// keys stay English in the database and in files; keys the catalogue does not know (classes a
/// plant added) show as written, underscores as spaces.
pub fn class_name(key: &str) -> String {
    // Names as a plant may have typed them: "Foreign matter", "mould/rot", "missing-piece".
    let normal = key.trim().to_lowercase().replace([' ', '-'], "_");
    match normal.as_str() {
        "good" => crate::tr!("class-good"),
        "crack" => crate::tr!("class-crack"),
        "burnt" | "burn" => crate::tr!("class-burnt"),
        "discoloration" | "discolouration" => crate::tr!("class-discoloration"),
        "mold" | "mould" | "rot" | "mould/rot" | "mold/rot" | "mould_/_rot" => {
            crate::tr!("class-mold")
        }
        "foreign_matter" | "foreign_speck" => crate::tr!("class-foreign-matter"),
        "unclassified" => crate::tr!("class-unclassified"),
        "deformed" | "misshape" | "misshapen" => crate::tr!("class-deformed"),
        "missing_piece" => crate::tr!("class-missing-piece"),
        _ => key.replace('_', " "),
    }
}

/// A message of the catalogue in the language in force, its id checked at compile time:
/// `tr!("live-items")`, `tr!("train-done", version = v.to_string())`.
#[macro_export]
macro_rules! tr {
    ($id:literal) => {{
        i18n_embed_fl::fl!($crate::i18n::loader(), $id)
    }};
    ($id:literal, $($args:expr),+ $(,)?) => {{
        i18n_embed_fl::fl!($crate::i18n::loader(), $id, $($args),+)
    }};
}

#[cfg(test)]
mod tests;
