//! Any folder tree to import: the bytes say which relative paths exist (one per line, at
//! most 12) and what each file holds (the rest of its line, as bytes: maybe an image, maybe
//! not). The import never panics, and every file is either a sample or listed as failed.
#![no_main]

use std::sync::atomic::AtomicBool;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir_all(&root).unwrap();
    for line in data.split(|b| *b == b'\n').take(12) {
        let (name, content) = match line.iter().position(|b| *b == b'=') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        // Only plain relative components: the tree must stay inside the temp folder.
        let rel: String = String::from_utf8_lossy(name)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
            .collect();
        let parts: Vec<&str> = rel
            .split('/')
            .filter(|p| !p.is_empty() && *p != "." && *p != "..")
            .collect();
        if parts.is_empty() || parts.len() > 5 {
            continue;
        }
        let path = parts.iter().fold(root.clone(), |p, c| p.join(c));
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_ok()
            && !path.is_dir()
        {
            let _ = std::fs::write(&path, content);
        }
    }
    let mut store = foodqc::store::Store::open(&dir.path().join("db.sqlite")).unwrap();
    let _ = foodqc::labeling::import::import_paths(
        &mut store,
        &dir.path().join("samples"),
        &[root],
        "fuzz",
        &AtomicBool::new(false),
        &mut |_| {},
    );
});
