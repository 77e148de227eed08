//! Importing images from disk and exporting the labelled set, on real files and a real SQLite
//! database in temporary folders.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use image::{GrayImage, Luma, Rgb, RgbImage};

use foodqc::domain::GOOD;
use foodqc::labeling::{ExportError, FolderLayout, Progress, detect_layout, export_labelled};
use foodqc::labeling::{ImportReport, import_paths};
use foodqc::store::Store;

/// A small image whose pixels depend on `seed`, so different seeds give different samples.
fn picture(seed: u8) -> RgbImage {
    RgbImage::from_fn(40, 30, |x, y| {
        Rgb([seed, (x * 6) as u8, (y * 8) as u8 ^ seed])
    })
}

fn mask(seed: u8) -> GrayImage {
    GrayImage::from_fn(40, 30, |x, _| {
        Luma([if x == seed as u32 { 255 } else { 0 }])
    })
}

fn write_png(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    picture(seed).save(path).unwrap();
}

fn write_mask(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    mask(seed).save(path).unwrap();
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: Store,
    samples: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = Store::open(&root.join("data/foodqc.sqlite")).unwrap();
    Setup {
        samples: root.join("data/samples"),
        root,
        store,
        _dir: dir,
    }
}

fn import(s: &mut Setup, paths: &[PathBuf]) -> ImportReport {
    let never = AtomicBool::new(false);
    import_paths(&mut s.store, &s.samples, paths, "anna", &never, &mut |_| {}).unwrap()
}

fn count(store: &Store, sql: &str) -> i64 {
    rusqlite::Connection::open(store.path())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Files in a folder, recursively, as sorted relative paths.
fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Current label of each sample, by hash.
fn labels_by_hash(store: &Store) -> BTreeMap<String, String> {
    store
        .labelled_samples()
        .unwrap()
        .into_iter()
        .map(|(s, l)| (s.hash, l.label))
        .collect()
}

#[test]
fn plain_folder_import_counts_duplicates_and_names_bad_files() {
    let mut s = setup();
    let folder = s.root.join("photos");
    write_png(&folder.join("a.png"), 1);
    write_png(&folder.join("b.png"), 2);
    write_png(&folder.join("sub/c.png"), 3);
    write_png(&folder.join("sub/copy-of-a.png"), 1); // same pixels as a.png
    std::fs::write(folder.join("broken.png"), b"this is not a PNG").unwrap();
    std::fs::write(folder.join("notes.txt"), b"ignored: not an image").unwrap();

    let mut calls = Vec::new();
    let never = AtomicBool::new(false);
    let report = import_paths(
        &mut s.store,
        &s.samples,
        std::slice::from_ref(&folder),
        "anna",
        &never,
        &mut |p: Progress<'_>| calls.push((p.done, p.total, p.current.map(Path::to_path_buf))),
    )
    .unwrap();
    assert_eq!(report.found, 5, "{report}");
    assert_eq!(
        (report.imported, report.duplicates, report.labelled),
        (3, 1, 0),
        "{report}"
    );
    assert_eq!(report.failed.len(), 1, "{report}");
    assert_eq!(report.failed[0].path, folder.join("broken.png"));
    assert!(!report.cancelled);
    let text = report.to_string();
    assert!(text.contains("broken.png"), "{text}");
    // Progress: one call per file, then the final one.
    assert_eq!(calls.len(), 6);
    assert_eq!(calls[0].0, 0);
    assert!(calls.iter().all(|c| c.1 == 5));
    assert_eq!(calls[5], (5, 5, None));

    assert_eq!(count(&s.store, "SELECT count(*) FROM samples"), 3);
    assert_eq!(count(&s.store, "SELECT count(*) FROM labels"), 0);
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM samples WHERE source = 'import:photos'"
        ),
        3
    );
    assert_eq!(files_in(&s.samples).len(), 3);
    let audit = s.store.audit_entries(10).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "samples.import");
    assert_eq!(audit[0].actor, "anna");
    assert_eq!(audit[0].details["imported"], 3);

    // Importing again finds only duplicates; a missing path is a listed failure.
    let nowhere = s.root.join("nowhere");
    let again = import(&mut s, &[folder.clone(), nowhere]);
    assert_eq!((again.imported, again.duplicates), (0, 4), "{again}");
    assert_eq!(again.failed.len(), 2);
    let failed: Vec<&Path> = again.failed.iter().map(|f| f.path.as_path()).collect();
    assert!(
        failed.contains(&s.root.join("nowhere").as_path()),
        "{again}"
    );
    assert!(
        again.to_string().contains("no such file or folder"),
        "{again}"
    );
    assert_eq!(count(&s.store, "SELECT count(*) FROM samples"), 3);

    // A single file given by name imports with its own name as source.
    write_png(&s.root.join("single.png"), 9);
    let single = s.root.join("single.png");
    let one = import(&mut s, &[single]);
    assert_eq!(one.imported, 1);
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM samples WHERE source = 'import:single.png'"
        ),
        1
    );
}

/// An MVTec-style tree: train/good, test/good, test/<class> with masks in ground_truth.
fn mvtec_tree(root: &Path) {
    write_png(&root.join("train/good/000.png"), 10);
    write_png(&root.join("train/good/001.png"), 11);
    write_png(&root.join("test/good/000.png"), 12);
    write_png(&root.join("test/Crack/000.png"), 13);
    write_mask(&root.join("ground_truth/Crack/000_mask.png"), 5);
    write_png(&root.join("test/crack_nomask/007.png"), 14);
    write_png(&root.join("extra/loose.png"), 15);
}

#[test]
fn mvtec_tree_import_labels_from_folders_and_copies_masks() {
    let mut s = setup();
    let tree = s.root.join("cookies");
    mvtec_tree(&tree);
    assert_eq!(detect_layout(&tree).unwrap(), FolderLayout::MvTec);

    let report = import(&mut s, std::slice::from_ref(&tree));
    // ground_truth/ holds masks, not samples.
    assert_eq!(report.found, 6, "{report}");
    assert_eq!((report.imported, report.labelled), (6, 5), "{report}");
    assert!(report.failed.is_empty(), "{report}");

    let rows = s.store.labelled_samples().unwrap();
    let mut got: Vec<(String, bool)> = rows
        .iter()
        .map(|(_, l)| (l.label.clone(), l.mask_path.is_some()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("crack".to_string(), true),
            ("crack_nomask".to_string(), false),
            (GOOD.to_string(), false),
            (GOOD.to_string(), false),
            (GOOD.to_string(), false),
        ]
    );
    let (sample, label) = rows.iter().find(|(_, l)| l.label == "crack").unwrap();
    let mask_path = label.mask_path.as_ref().unwrap();
    assert_eq!(
        mask_path,
        &s.samples.join(format!("{}_mask.png", sample.hash))
    );
    assert_eq!(
        std::fs::read(mask_path).unwrap(),
        std::fs::read(tree.join("ground_truth/Crack/000_mask.png")).unwrap()
    );
    assert_eq!(label.labeled_by, "anna");
    assert_eq!(s.store.unlabelled_samples(10).unwrap().len(), 1);
    // Each label has its audit entry, and the batch one.
    let audit = s.store.audit_entries(20).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "label.add").count(), 5);
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "samples.import")
            .count(),
        1
    );
}

#[test]
fn mask_of_the_wrong_size_fails_the_image() {
    let mut s = setup();
    let tree = s.root.join("ds");
    write_png(&tree.join("train/good/0.png"), 1);
    write_png(&tree.join("test/hole/0.png"), 2);
    std::fs::create_dir_all(tree.join("ground_truth/hole")).unwrap();
    GrayImage::new(8, 8)
        .save(tree.join("ground_truth/hole/0_mask.png"))
        .unwrap();
    let report = import(&mut s, std::slice::from_ref(&tree));
    assert_eq!(report.imported, 1, "{report}");
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].path, tree.join("test/hole/0.png"));
    assert!(report.failed[0].reason.contains("8x8"), "{report}");
    assert!(report.failed[0].reason.contains("0_mask.png"), "{report}");
}

#[test]
fn cancel_midway_leaves_no_rows_and_no_new_files() {
    let mut s = setup();
    let folder = s.root.join("tree");
    mvtec_tree(&folder);
    // One of the images is already a sample, imported before: its file must survive.
    let first = import(&mut s, &[folder.join("train/good/000.png")]);
    assert_eq!(first.imported, 1);
    let files_before = files_in(&s.samples);
    let rows_before = count(&s.store, "SELECT count(*) FROM samples");
    let audit_before = count(&s.store, "SELECT count(*) FROM audit_log");

    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let report = import_paths(
        &mut s.store,
        &s.samples,
        std::slice::from_ref(&folder),
        "anna",
        &cancel,
        &mut |p: Progress<'_>| {
            seen = p.done;
            if p.done == 4 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    )
    .unwrap();
    assert!(report.cancelled, "{report}");
    assert_eq!(seen, 4, "cancel is checked between files");
    assert_eq!((report.imported, report.labelled), (0, 0));
    assert!(report.to_string().contains("cancelled"), "{report}");
    assert_eq!(count(&s.store, "SELECT count(*) FROM samples"), rows_before);
    assert_eq!(count(&s.store, "SELECT count(*) FROM labels"), 0);
    assert_eq!(
        count(&s.store, "SELECT count(*) FROM audit_log"),
        audit_before
    );
    assert_eq!(files_in(&s.samples), files_before);
}

#[test]
fn export_then_reimport_round_trips_labels_and_masks() {
    let mut s = setup();
    let tree = s.root.join("tree");
    mvtec_tree(&tree);
    import(&mut s, std::slice::from_ref(&tree));
    // Relabel one sample: the export must use the latest label only, with odd characters kept
    // in labels.csv while the folder name is made safe.
    let (id, hash) = {
        let rows = s.store.labelled_samples().unwrap();
        let (sample, _) = rows
            .iter()
            .find(|(_, l)| l.label == "crack_nomask")
            .unwrap();
        (sample.id, sample.hash.clone())
    };
    s.store
        .add_label(id, "foreign/object, \"metal\"", None, "bob")
        .unwrap();
    let before = labels_by_hash(&s.store);

    let out = s.root.join("export");
    let never = AtomicBool::new(false);
    let mut calls = 0;
    let report = export_labelled(&s.store, &out, false, &never, &mut |_| calls += 1).unwrap();
    assert_eq!((report.exported, report.masks), (5, 1), "{report}");
    assert!(report.failed.is_empty());
    assert_eq!(calls, 6);
    assert_eq!(report.per_label[GOOD], 3);
    let files = files_in(&out);
    assert!(files.contains(&"labels.csv".to_string()), "{files:?}");
    assert!(
        files.contains(&format!("foreign_object_ _metal_/{id}.png")),
        "{files:?}"
    );
    assert_eq!(files.len(), 5 + 1 + 1, "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("ground_truth/crack/")));
    let csv = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "file,label,sample_id,hash,source,labeled_by,labeled_at"
    );
    assert!(
        csv.contains(&format!(
            "foreign_object_ _metal_/{id}.png,\"foreign/object, \"\"metal\"\"\",{id},{hash},import:tree,bob,"
        )),
        "{csv}"
    );
    // The exported PNG is the stored sample, byte for byte.
    assert_eq!(
        blake3::hash(
            &std::fs::read(out.join(format!("foreign_object_ _metal_/{id}.png"))).unwrap()
        )
        .to_hex()
        .to_string(),
        hash
    );

    // Re-import into a fresh installation: same samples (hashes), same labels, masks.
    let mut fresh = setup();
    assert!(matches!(
        detect_layout(&out).unwrap(),
        FolderLayout::Export { .. }
    ));
    let again = import(&mut fresh, std::slice::from_ref(&out));
    assert_eq!((again.imported, again.labelled), (5, 5), "{again}");
    assert!(again.failed.is_empty(), "{again}");
    assert_eq!(labels_by_hash(&fresh.store), before);
    let masks: Vec<_> = fresh
        .store
        .labelled_samples()
        .unwrap()
        .into_iter()
        .filter_map(|(_, l)| l.mask_path)
        .collect();
    assert_eq!(masks.len(), 1);
    assert_eq!(
        std::fs::read(&masks[0]).unwrap(),
        std::fs::read(tree.join("ground_truth/Crack/000_mask.png")).unwrap()
    );
}

#[test]
fn export_refuses_a_non_empty_folder_and_overwrite_replaces_the_old_export() {
    let mut s = setup();
    let tree = s.root.join("tree");
    mvtec_tree(&tree);
    import(&mut s, std::slice::from_ref(&tree));
    let never = AtomicBool::new(false);
    let out = s.root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"mine").unwrap();
    let err = export_labelled(&s.store, &out, false, &never, &mut |_| {}).unwrap_err();
    assert!(matches!(err, ExportError::NotEmpty { .. }), "{err}");
    assert!(
        err.to_string().contains(&out.display().to_string()),
        "{err}"
    );
    assert_eq!(files_in(&out), ["keep.txt"]);

    export_labelled(&s.store, &out, true, &never, &mut |_| {}).unwrap();
    let (id, _) = s
        .store
        .labelled_samples()
        .unwrap()
        .into_iter()
        .find(|(_, l)| l.label == "crack")
        .unwrap();
    let old_file = format!("crack/{}.png", id.id);
    assert!(files_in(&out).contains(&old_file));
    // Relabelled as good: a second export moves it and removes the old copy and its mask.
    s.store.add_label(id.id, GOOD, None, "bob").unwrap();
    let report = export_labelled(&s.store, &out, true, &never, &mut |_| {}).unwrap();
    assert_eq!(report.masks, 0);
    let files = files_in(&out);
    assert!(!files.contains(&old_file), "{files:?}");
    assert!(
        !files.iter().any(|f| f.starts_with("ground_truth/")),
        "{files:?}"
    );
    assert!(files.contains(&format!("good/{}.png", id.id)), "{files:?}");
    assert!(files.contains(&"keep.txt".to_string()), "{files:?}");
}

#[test]
fn cancelled_export_leaves_the_folder_as_it_was() {
    let mut s = setup();
    let tree = s.root.join("tree");
    mvtec_tree(&tree);
    import(&mut s, std::slice::from_ref(&tree));
    let cancel = AtomicBool::new(false);
    let out = s.root.join("new-export");
    let report = export_labelled(&s.store, &out, false, &cancel, &mut |p| {
        if p.done == 2 {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert!(report.cancelled);
    assert!(
        !out.exists(),
        "a folder the export created is removed again"
    );

    let existing = s.root.join("existing");
    std::fs::create_dir_all(&existing).unwrap();
    std::fs::write(existing.join("keep.txt"), b"mine").unwrap();
    cancel.store(false, Ordering::Relaxed);
    let report = export_labelled(&s.store, &existing, true, &cancel, &mut |p| {
        if p.done == 3 {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert!(report.cancelled);
    assert_eq!(files_in(&existing), ["keep.txt"]);
}

/// The real cookie dataset (read-only): every photo of the tree is imported with its folder's
/// label, every crack photo with a mask in ground_truth gets it.
#[test]
fn import_the_cookie_dataset_tree() {
    let Some(tree) = common::dataset("cookies") else {
        return;
    };
    let photos: usize = ["train/good", "test/good", "test/crack", "test_nomask/crack"]
        .iter()
        .map(|d| std::fs::read_dir(tree.join(d)).unwrap().count())
        .sum();
    let masks = std::fs::read_dir(tree.join("ground_truth/crack"))
        .unwrap()
        .count();
    let mut s = setup();
    let start = std::time::Instant::now();
    let report = import(&mut s, std::slice::from_ref(&tree));
    eprintln!(
        "imported the cookie tree ({photos} photos) in {:.2} s: {report}",
        start.elapsed().as_secs_f64()
    );
    assert!(report.failed.is_empty(), "{report}");
    assert_eq!(report.found, photos);
    assert_eq!(report.imported + report.duplicates, photos, "{report}");
    assert_eq!(report.labelled, report.imported);
    let counts = s.store.label_counts().unwrap();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total as usize, report.imported);
    let labels: Vec<&str> = counts.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels.len(), 2, "{counts:?}");
    assert!(labels.contains(&GOOD) && labels.contains(&"crack"));
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM labels WHERE mask_path IS NOT NULL"
        ) as usize,
        masks
    );
    // Sample PNGs + copied masks, nothing else.
    assert_eq!(files_in(&s.samples).len(), report.imported + masks);
}

/// A folder of several MVTec-style trees (the layout of an MVTec AD download: one tree per
/// product) and loose images: each tree keeps its labels, the loose images import unlabelled.
#[test]
fn trees_inside_a_plain_folder_keep_their_labels() {
    let mut s = setup();
    let top = s.root.join("mvtec_ad");
    mvtec_tree(&top.join("cookie"));
    write_png(&top.join("bean/train/good/0.png"), 40);
    write_png(&top.join("bean/test/mould/0.png"), 41);
    write_png(&top.join("readme-picture.png"), 42);
    assert_eq!(detect_layout(&top).unwrap(), FolderLayout::Plain);
    let report = import(&mut s, std::slice::from_ref(&top));
    assert_eq!((report.imported, report.labelled), (9, 7), "{report}");
    let counts = s.store.label_counts().unwrap();
    assert!(counts.contains(&("mould".to_string(), 1)), "{counts:?}");
    assert!(counts.contains(&(GOOD.to_string(), 4)), "{counts:?}");
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM samples WHERE source = 'import:mvtec_ad'"
        ),
        9
    );
}

/// When the database refuses the batch (here: locked by another writer), nothing is
/// registered and the sample files this import wrote are removed again.
#[test]
fn database_error_at_commit_leaves_no_new_files() {
    let s = setup();
    let tree = s.root.join("tree");
    mvtec_tree(&tree);
    let db = s.store.path().to_path_buf();
    let mut store =
        Store::open_with_busy_timeout(&db, std::time::Duration::from_millis(50)).unwrap();
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let never = AtomicBool::new(false);
    let err = import_paths(
        &mut store,
        &s.samples,
        std::slice::from_ref(&tree),
        "anna",
        &never,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
    assert!(err.to_string().contains(&db.display().to_string()), "{err}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM samples"), 0);
    assert_eq!(files_in(&s.samples), Vec::<String>::new());
}

#[test]
fn broken_labels_csv_names_the_file_and_line() {
    let mut s = setup();
    let out = s.root.join("export");
    write_png(&out.join("good/1.png"), 1);
    std::fs::write(
        out.join("labels.csv"),
        "file,label,sample_id\ngood/1.png,good,1\ngood/2.png,,2\n",
    )
    .unwrap();
    let report = import(&mut s, std::slice::from_ref(&out));
    assert_eq!(report.imported, 0, "{report}");
    assert_eq!(report.failed.len(), 1, "{report}");
    assert_eq!(report.failed[0].path, out.join("labels.csv"));
    assert!(
        report.failed[0].reason.contains("line 3")
            && report.failed[0].reason.contains("good/2.png"),
        "{report}"
    );
    assert!(report.all_failed());
}
