//! The shape of the code, checked: layers import only downward, the modules of one layer form
//! no cycle, SQL lives only in `store`, and the UI starts no threads of its own.
//!
//! Layers, bottom to top (a module may import its own layer or any layer below):
//!
//! | rank | layer | modules |
//! |---|---|---|
//! | 0 | domain types, language | `domain`, `i18n` |
//! | 1 | pixels in and out | `imageio` |
//! | 2 | vision | `vision` |
//! | 3 | models | `model` |
//! | 4 | judging a frame | `inspect` |
//! | 5 | records | `store` |
//! | 6 | services | `capture`, `lineio`, `station`, `training`, `eval`, `labeling`, `reports`, `services`, `plant`, `monitor`, `bench` |
//! | 7 | front ends (binary) | `cli`, `ui` |
//!
//! Test code (`#[cfg(test)]` items and `tests.rs` modules) may use any layer as a fixture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rank of each top-level module (see the table above).
fn layer_of(module: &str) -> Option<u8> {
    Some(match module {
        "domain" | "i18n" => 0,
        "imageio" => 1,
        "vision" => 2,
        "model" => 3,
        "inspect" => 4,
        "store" => 5,
        "capture" | "lineio" | "station" | "training" | "eval" | "labeling" | "reports"
        | "plant" | "monitor" | "services" | "bench" => 6,
        "cli" | "ui" => 7,
        _ => return None,
    })
}

/// Every `.rs` file below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
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

/// The top-level module a file belongs to (`src/store/audit.rs` -> `store`,
/// `src/bench.rs` -> `bench`); None for the crate roots.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The text without line comments (doc comments included) and without test-only code: items
/// behind `#[cfg(test)]` are cut out up to their closing brace or semicolon.
fn production_code(text: &str) -> String {
    let without_comments: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = without_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = match (item.find('{'), item.find(';')) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => {
                let mut depth = 0usize;
                let mut end = item.len();
                for (i, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The top-level crate modules a piece of code names through `crate::` or `foodqc::` paths
/// (including `use crate::{a, b::c}` groups).
fn imported_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for prefix in ["crate::", "foodqc::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let close = group.find('}').unwrap_or(group.len());
                for part in group[..close].split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// Every import that goes up a layer, as `file: module (layer a) imports target (layer b)`,
/// and every file of a module the table does not place.
fn upward_imports(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for file in rust_files(src) {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let Some(rank) = layer_of(&module) else {
            problems.push(format!(
                "{}: module `{module}` has no layer; add it to layer_of",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for target in imported_modules(&production_code(&text)) {
            if let Some(to) = layer_of(&target)
                && to > rank
            {
                problems.push(format!(
                    "{}: `{module}` (layer {rank}) imports `{target}` (layer {to}), a layer above it",
                    file.display()
                ));
            }
        }
    }
    problems
}

/// Cycles between top-level modules of the same layer, each as `a -> b -> a`.
fn module_cycles(src: &Path) -> Vec<String> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for target in imported_modules(&production_code(&text)) {
            if target != module && layer_of(&target).is_some() {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    let mut cycles = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                cycles.push(format!("{a} -> {b} -> {a}"));
            }
        }
    }
    cycles
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn layers_import_only_downward() {
    let problems = upward_imports(&src_dir());
    assert!(
        problems.is_empty(),
        "upward imports:\n{}",
        problems.join("\n")
    );
}

#[test]
fn top_level_modules_form_no_cycle() {
    let cycles = module_cycles(&src_dir());
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn sql_lives_only_in_the_store() {
    let src = src_dir();
    let mut found = Vec::new();
    for file in rust_files(&src) {
        if file.starts_with(src.join("store")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let sql = [
                "SELECT ",
                "INSERT INTO",
                "UPDATE ",
                "DELETE FROM",
                "rusqlite",
            ]
            .iter()
            .any(|k| line.contains(k));
            if sql {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside src/store:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_ui_starts_no_threads() {
    let src = src_dir();
    let mut found = Vec::new();
    for file in rust_files(&src.join("ui")) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            if line.contains("thread::spawn") || line.contains("thread::Builder") {
                found.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "threads started in the UI (send a command to the worker instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_names_an_upward_import_and_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("vision")).unwrap();
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(
        src.join("vision/segment.rs"),
        "use crate::imageio::grid;\n// use crate::ui::Live;\nuse crate::{capture::Frame, domain::BBox};\n\
         #[cfg(test)]\nmod tests {\n    use crate::station::Station;\n}\n",
    )
    .unwrap();
    std::fs::write(src.join("store/mod.rs"), "use crate::reports::Report;\n").unwrap();
    std::fs::write(src.join("reports.rs"), "use crate::store::Store;\n").unwrap();
    let problems = upward_imports(src);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("`store` (layer 5) imports `reports` (layer 6)"));
    assert!(problems[1].contains("`vision` (layer 2) imports `capture` (layer 6)"));
    assert!(problems[1].contains("vision/segment.rs"));
    std::fs::write(src.join("store/mod.rs"), "").unwrap();
    std::fs::write(src.join("eval.rs"), "use crate::reports::x;\n").unwrap();
    std::fs::write(src.join("reports.rs"), "use crate::eval::y;\n").unwrap();
    assert_eq!(module_cycles(src), vec!["eval -> reports -> eval"]);
}
