//! The catalogues and the code agree: every English message exists in Spanish (and no other),
//! every message is used, and no user-visible text in `src/ui` bypasses the catalogue.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const LANGUAGES: [&str; 2] = ["en", "es"];

/// The message ids of a catalogue (`id = ...` at the start of a line).
fn message_ids(lang: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/i18n")
        .join(lang)
        .join("foodqc.ftl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once(" ="))
        .map(|(id, _)| id)
        .filter(|id| {
            id.starts_with(|c: char| c.is_ascii_lowercase())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .map(str::to_string)
        .collect()
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_language_has_every_message() {
    let en = message_ids("en");
    assert!(en.len() > 100, "the English catalogue looks empty: {en:?}");
    for lang in LANGUAGES.into_iter().filter(|l| *l != "en") {
        let other = message_ids(lang);
        let missing: Vec<_> = en.difference(&other).collect();
        let extra: Vec<_> = other.difference(&en).collect();
        assert!(missing.is_empty(), "missing in {lang}: {missing:?}");
        assert!(extra.is_empty(), "in {lang} but not in en: {extra:?}");
    }
}

/// A `cli-` message is used when the command tree has what it names: `cli-<command>-about`,
/// `cli-<command>-<arg>`, `cli-<arg>` or the shared source options' `cli-arg-<arg>`
/// (src/cli/help.rs looks them up by those names).
fn cli_message_used(id: &str, code: &str) -> bool {
    let rest = &id["cli-".len()..];
    if rest == "about" {
        return true;
    }
    let field = |name: &str| format!("{}: ", name.replace('-', "_"));
    let command_file = |name: &str| {
        src()
            .join("cli")
            .join(format!("{}.rs", name.replace('-', "_")))
    };
    let main = std::fs::read_to_string(src().join("main.rs")).unwrap();
    if let Some(cmd) = rest.strip_suffix("-about") {
        // A command with its own file, or a variant of main.rs's command enum.
        let variant = camel(cmd);
        // A nested command (`audit-verify`) has its `<Parent><Sub>Args` in a cli file.
        let nested = format!("pub struct {variant}Args");
        return command_file(cmd).exists()
            || main.contains(&format!("    {variant}(cli::"))
            || rust_files(&src().join("cli"))
                .iter()
                .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&nested)));
    }
    // `cli-<arg>` on the top level (main.rs), or `cli-<command>-<arg>`.
    if main.contains(&format!("    {}", field(rest))) {
        return true;
    }
    if let Some(arg) = rest.strip_prefix("arg-") {
        return std::fs::read_to_string(src().join("cli").join("source.rs"))
            .is_ok_and(|t| t.contains(&format!("    pub {}", field(arg))));
    }
    // Commands may have a `-` in their name (`demo-samples`): try every split. A command's
    // arguments are in its own file, or in the file defining its `<Command>Args` (`restore`
    // lives in backup.rs).
    let args_text = |cmd: &str| -> Option<String> {
        if let Ok(t) = std::fs::read_to_string(command_file(cmd)) {
            return Some(t);
        }
        let strukt = format!("pub struct {}Args", camel(cmd));
        rust_files(&src().join("cli"))
            .into_iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .find(|t| t.contains(&strukt))
    };
    rest.match_indices('-').any(|(i, _)| {
        let (cmd, arg) = (&rest[..i], &rest[i + 1..]);
        args_text(cmd).is_some_and(|t| t.contains(&format!("    {}", field(arg))))
    }) || code.contains(&format!("\"{id}\""))
}

/// `demo-samples` as its Rust type names it: `DemoSamples`.
fn camel(cmd: &str) -> String {
    cmd.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_message_is_used() {
    let code: String = rust_files(&src())
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let unused: Vec<String> = message_ids("en")
        .into_iter()
        .filter(|id| {
            if id.starts_with("cli-") && id != "cli-error" {
                !cli_message_used(id, &code)
            } else {
                !code.contains(&format!("\"{id}\""))
            }
        })
        .collect();
    assert!(unused.is_empty(), "messages no code uses: {unused:?}");
}

/// Calls whose string argument people read.
const TEXT_CALLS: [&str; 29] = [
    ".label(",
    ".button(",
    ".small_button(",
    ".heading(",
    ".strong(",
    ".weak(",
    ".monospace(",
    ".on_hover_text(",
    ".on_disabled_hover_text(",
    ".hint_text(",
    ".text(",
    ".selectable_label(",
    ".selectable_value(",
    ".checkbox(",
    ".toggle_value(",
    ".colored_label(",
    ".set_title(",
    ".selected_text(",
    "RichText::new(",
    "Button::new(",
    "Window::new(",
    "CollapsingHeader::new(",
    "ComboBox::from_label(",
    "Status::busy(",
    "Line::new(",
    "Points::new(",
    "BarChart::new(",
    ".x_axis_label(",
    ".y_axis_label(",
];

/// Words that need no translation: the product name, units, file formats and the names of
/// metrics (true/false positives and negatives, AUROC, AP).
const ALLOWED_WORDS: [&str; 14] = [
    "foodqc", "ms", "px", "kB", "CSV", "PDF", "AUROC", "AP", "ROC", "PR", "TP", "FP", "TN", "FN",
];

/// The string literals among the arguments of the call that starts at `text[at..]` (up to the
/// matching parenthesis), skipping nested calls such as `tr!(...)` or `format!(...)`.
fn literal_arguments(text: &str, at: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut chars = text[at..].char_indices();
    while let Some((_, c)) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            '"' => {
                let mut lit = String::new();
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {
                            lit.push(c);
                            escaped = false;
                        }
                    }
                }
                // Only the call's own arguments: a literal inside tr!(...) is a message id.
                if depth == 1 {
                    out.push(lit);
                }
            }
            _ => {}
        }
    }
    out
}

/// True when a literal has words a person reads (two letters or more, not in
/// [`ALLOWED_WORDS`]), after the placeholders of a format string are removed.
fn has_words(lit: &str) -> bool {
    let mut plain = String::new();
    let mut in_braces = false;
    for c in lit.chars() {
        match c {
            '{' => in_braces = true,
            '}' => in_braces = false,
            c if !in_braces => plain.push(c),
            _ => {}
        }
    }
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .any(|w| !ALLOWED_WORDS.contains(&w))
}

#[test]
fn no_text_in_the_ui_bypasses_the_catalogue() {
    let mut found = Vec::new();
    for file in rust_files(&src().join("ui")) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for call in TEXT_CALLS {
            for (at, _) in text.match_indices(call) {
                let open = at + call.len() - 1;
                for lit in literal_arguments(&text, open) {
                    if has_words(&lit) {
                        let line = text[..at].lines().count();
                        found.push(format!("{}:{line}: {call} {lit:?}", file.display()));
                    }
                }
            }
        }
        // format!() with words outside the catalogue (a sentence built in code; ids and file
        // names have no spaces).
        for (at, _) in text.match_indices("format!(") {
            let lits = literal_arguments(&text, at + "format!".len());
            if let Some(lit) = lits.first()
                && lit.contains(' ')
                && has_words(lit)
            {
                let line = text[..at].lines().count();
                found.push(format!("{}:{line}: format! {lit:?}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "user-visible text outside the catalogue (use tr!):\n{}",
        found.join("\n")
    );
}
