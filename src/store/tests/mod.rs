//! Store and recorder tests, on real SQLite files in temporary folders.

use std::path::Path;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use rusqlite::Connection;
use serde_json::json;

use super::*;
use crate::domain::BBox;
use crate::domain::Verdict;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn row(station_id: i64, lot_id: Option<i64>, i: i64) -> InspectionRow {
    InspectionRow {
        ts_ms: 1_700_000_000_000 + i,
        station_id,
        lot_id,
        model_version_id: None,
        frame_seq: i / 4,
        item_index: i % 4,
        track_id: Some(i),
        score: (i % 100) as f64 / 100.0,
        verdict: if i % 10 == 0 {
            Verdict::Reject
        } else {
            Verdict::Pass
        },
        defect_class: (i % 10 == 0).then(|| "crack".to_string()),
        bbox: BBox {
            x: (i % 1000) as u32,
            y: 5,
            w: 40,
            h: 30,
        },
        sample_id: None,
    }
}

fn crop(shade: u8) -> RgbImage {
    RgbImage::from_fn(24, 16, |x, y| Rgb([shade, (x * 10) as u8, (y * 10) as u8]))
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pragma_i64(conn: &Connection, name: &str) -> i64 {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .connection()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn query_plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows.join("\n")
}

#[test]
fn migrations_validate() {
    migrations().validate().unwrap();
    // Every migration applies on an empty database and the version says how many there are.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut conn = conn;
    migrations().to_latest(&mut conn).unwrap();
    assert_eq!(pragma_i64(&conn, "user_version"), SCHEMA_VERSION as i64);
}

#[test]
fn store_types_are_send() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Store>();
    send::<InspectionRecorder>();
    send_sync::<RecordSender>();
}

#[test]
fn fresh_open_creates_schema_and_reopen_is_idempotent() {
    let dir = tmp();
    let path = dir.path().join("nested/deeper/foodqc.sqlite");
    let id = {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.path(), path);
        let conn = store.connection();
        assert_eq!(pragma_i64(conn, "user_version"), SCHEMA_VERSION as i64);
        assert_eq!(pragma_i64(conn, "foreign_keys"), 1);
        assert_eq!(pragma_i64(conn, "synchronous"), 1); // NORMAL
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        for t in [
            "stations",
            "lots",
            "model_versions",
            "samples",
            "inspections",
            "labels",
            "audit_log",
        ] {
            assert_eq!(count(&store, t), 0, "table {t}");
        }
        store.upsert_station("line-1", "synthetic:7").unwrap()
    };
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        pragma_i64(store.connection(), "user_version"),
        SCHEMA_VERSION as i64
    );
    // Same station, same id; the source is updated.
    assert_eq!(store.upsert_station("line-1", "camera:0").unwrap(), id);
    let stations = store.list_stations().unwrap();
    assert_eq!(stations.len(), 1);
    assert_eq!(stations[0].source, "camera:0");
}

#[test]
fn newer_schema_is_refused_and_left_untouched() {
    let dir = tmp();
    let path = dir.path().join("future.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        // One past this build's schema, whatever it is.
        let future = SCHEMA_VERSION + 1;
        conn.execute_batch(&format!(
            "CREATE TABLE x (a); PRAGMA user_version = {future};"
        ))
        .unwrap();
    }
    let future = (SCHEMA_VERSION + 1) as i64;
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, .. } if found == future),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("schema version {future}")), "{msg}");
    assert!(msg.contains(&format!("up to {SCHEMA_VERSION}")), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "file was modified");
    assert!(!dir.path().join("future.sqlite-wal").exists());
}

#[test]
fn garbage_file_is_not_a_database() {
    let dir = tmp();
    let path = dir.path().join("foodqc.sqlite");
    std::fs::write(
        &path,
        "this is a shopping list, not a database\n".repeat(50),
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a database"), "{msg}");
}

#[test]
fn directory_and_bad_parent_are_clear_errors() {
    let dir = tmp();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::IsDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file.join("foodqc.sqlite")).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[test]
fn database_of_another_program_is_refused() {
    let dir = tmp();
    let path = dir.path().join("other.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE contacts (name TEXT);")
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn audit_log_is_append_only() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let id = store
        .audit("alice", "test.action", json!({"n": 1}))
        .unwrap();
    let conn = store.connection();
    let upd = conn
        .execute("UPDATE audit_log SET actor = 'mallory' WHERE id = ?1", [id])
        .unwrap_err()
        .to_string();
    assert!(upd.contains("append-only"), "{upd}");
    let del = conn
        .execute("DELETE FROM audit_log", [])
        .unwrap_err()
        .to_string();
    assert!(del.contains("append-only"), "{del}");
    let entries = store.audit_entries(10).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "alice");
    assert_eq!(entries[0].action, "test.action");
    assert_eq!(entries[0].details, json!({"n": 1}));
}

#[test]
fn only_one_model_is_active() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let new = |v: &str| NewModelVersion {
        version: v.into(),
        path: format!("/models/{v}").into(),
        kind: "svm".into(),
        params: json!({"c": 1.0}),
        metrics: json!({"auc": 0.97}),
        data_snapshot: json!({"samples": 120}),
    };
    let a = store.register_model_version(&new("v1")).unwrap();
    let b = store.register_model_version(&new("v2")).unwrap();
    assert_eq!(store.register_model_version(&new("v1")).unwrap(), a);
    assert!(store.active_model().unwrap().is_none());

    store.set_active_model(a, "alice").unwrap();
    store.set_active_model(b, "bob").unwrap();
    let active = store.active_model().unwrap().unwrap();
    assert_eq!((active.id, active.version.as_str()), (b, "v2"));
    assert_eq!(active.metrics, json!({"auc": 0.97}));
    let n_active: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM model_versions WHERE active = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n_active, 1);
    // The schema itself refuses a second active row.
    let err = store
        .connection()
        .execute("UPDATE model_versions SET active = 1 WHERE id = ?1", [a])
        .unwrap_err();
    assert!(err.to_string().contains("UNIQUE"), "{err}");

    let err = store.set_active_model(999, "bob").unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { id: 999, .. }),
        "{err:?}"
    );
    assert_eq!(store.active_model().unwrap().unwrap().id, b);

    let list = store.list_model_versions().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|m| m.active).count(), 1);
    let audits = store.audit_entries(10).unwrap();
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0].action, "model.activate");
    assert_eq!(audits[0].details["version"], "v2");
    assert_eq!(audits[0].details["previous_version"], "v1");
}

#[test]
fn lot_status_change_writes_audit_row() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let lot = store
        .get_or_create_lot("L-001", "crackers", "line 2", "morning")
        .unwrap();
    assert_eq!(
        store.get_or_create_lot("L-001", "other", "x", "y").unwrap(),
        lot
    );
    store
        .set_lot_status(lot, LotStatus::Hold, "qc-anna", "burnt edges")
        .unwrap();
    let lots = store.list_lots().unwrap();
    assert_eq!(lots.len(), 1);
    assert_eq!(lots[0].status, LotStatus::Hold);
    assert_eq!(lots[0].product, "crackers");

    let audits = store.audit_entries(10).unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].actor, "qc-anna");
    assert_eq!(audits[0].action, "lot.status");
    assert_eq!(audits[0].details["from"], "open");
    assert_eq!(audits[0].details["to"], "hold");
    assert_eq!(audits[0].details["comment"], "burnt edges");

    let err = store
        .set_lot_status(42, LotStatus::Released, "qc-anna", "")
        .unwrap_err();
    assert!(err.to_string().contains("lots"), "{err}");
    assert_eq!(store.audit_entries(10).unwrap().len(), 1);
}

#[test]
fn insert_100k_inspections_counts_and_index_use() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let st = store.upsert_station("line-1", "synthetic:7").unwrap();
    let lots: Vec<i64> = (0..4)
        .map(|i| {
            store
                .get_or_create_lot(&format!("L{i}"), "crackers", "1", "a")
                .unwrap()
        })
        .collect();
    let rows: Vec<InspectionRow> = (0..100_000)
        .map(|i| row(st, (i % 5 != 4).then(|| lots[(i % 5) as usize]), i))
        .collect();

    let start = Instant::now();
    assert_eq!(store.insert_inspections(&rows).unwrap(), 100_000);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "inserted 100000 inspections in {:.3} s = {:.0} rows/s",
        secs,
        100_000.0 / secs
    );

    assert_eq!(store.count_inspections().unwrap(), (100_000, 10_000));
    let summaries = store.lot_summaries().unwrap();
    assert_eq!(summaries.len(), 4);
    assert_eq!(summaries.iter().map(|s| s.items).sum::<i64>(), 80_000);
    let l0 = summaries.iter().find(|s| s.code == "L0").unwrap();
    assert_eq!((l0.items, l0.rejects), (20_000, 10_000)); // i % 5 == 0 holds every i % 10 == 0
    assert_eq!(l0.first_ts_ms, Some(1_700_000_000_000));
    assert_eq!(l0.last_ts_ms, Some(1_700_000_000_000 + 99_995));

    let recent = store.recent_inspections(3).unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0].ts_ms, 1_700_000_000_000 + 99_999);
    assert_eq!(recent[0].station, "line-1");
    let by_lot = store.lot_inspections(lots[1], 5).unwrap();
    assert_eq!(by_lot.len(), 5);
    assert!(by_lot.iter().all(|v| v.lot_code.as_deref() == Some("L1")));

    let conn = store.connection();
    let plan = query_plan(conn, LOT_INSPECTIONS_SQL, rusqlite::params![lots[1], 5]);
    assert!(plan.contains("inspections_lot_ts"), "{plan}");
    let plan = query_plan(conn, stations::LOT_SUMMARIES_SQL, []);
    assert!(plan.contains("COVERING INDEX inspections_lot_ts"), "{plan}");
    let plan = query_plan(
        conn,
        "SELECT count(*) FROM inspections WHERE verdict = 'reject'",
        [],
    );
    assert!(plan.contains("inspections_verdict_ts"), "{plan}");
}

#[test]
fn insert_inspections_is_all_or_nothing() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let st = store.upsert_station("s", "x").unwrap();
    let mut rows = vec![row(st, None, 1), row(st, None, 2)];
    rows.push(row(st + 100, None, 3)); // unknown station: foreign key
    let err = store.insert_inspections(&rows).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("inspections") && msg.contains("FOREIGN KEY"),
        "{msg}"
    );
    assert_eq!(store.count_inspections().unwrap(), (0, 0));
}

#[test]
fn samples_are_deduplicated_and_labels_keep_history() {
    let dir = tmp();
    let samples_dir = dir.path().join("samples");
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let a = save_sample_png(&samples_dir, &crop(10)).unwrap();
    let again = save_sample_png(&samples_dir, &crop(10)).unwrap();
    assert!(a.newly_written && !again.newly_written);
    assert_eq!(a.hash, again.hash);
    assert_eq!(a.path, samples_dir.join(format!("{}.png", a.hash)));
    assert_eq!(image::open(&a.path).unwrap().to_rgb8(), crop(10));
    let new = |s: &SavedSample| NewSample {
        path: s.path.clone(),
        hash: s.hash.clone(),
        width: s.width,
        height: s.height,
        source: "test".into(),
    };
    let id_a = store.insert_sample(&new(&a)).unwrap();
    assert_eq!(store.insert_sample(&new(&again)).unwrap(), id_a);
    let b = save_sample_png(&samples_dir, &crop(200)).unwrap();
    let id_b = store.insert_sample(&new(&b)).unwrap();
    assert_eq!(count(&store, "samples"), 2);
    assert_eq!(store.sample(id_a).unwrap().unwrap().hash, a.hash);

    assert_eq!(store.unlabelled_samples(10).unwrap().len(), 2);
    store.add_label(id_a, "crack", None, "anna").unwrap();
    store
        .add_label(id_a, "good", Some(Path::new("/masks/a.png")), "bob")
        .unwrap();
    store.add_label(id_b, "good", None, "anna").unwrap();
    assert!(store.unlabelled_samples(10).unwrap().is_empty());
    // Latest label per sample wins: a is now "good".
    assert_eq!(store.label_counts().unwrap(), vec![("good".to_string(), 2)]);
    let history = store.labels_for_sample(id_a).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].label, "good");
    assert_eq!(
        history[0].mask_path.as_deref(),
        Some(Path::new("/masks/a.png"))
    );
    let audits = store.audit_entries(10).unwrap();
    assert_eq!(audits.len(), 3);
    assert!(audits.iter().all(|e| e.action == "label.add"));

    let err = store.add_label(12345, "good", None, "anna").unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                table: "samples",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn two_stores_on_one_file_from_two_threads() {
    let dir = tmp();
    let path = dir.path().join("db.sqlite");
    let st = Store::open(&path)
        .unwrap()
        .upsert_station("s", "x")
        .unwrap();
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                for chunk in 0..20 {
                    let rows: Vec<_> = (0..100)
                        .map(|i| row(st, None, t * 100_000 + chunk * 100 + i))
                        .collect();
                    store.insert_inspections(&rows).unwrap();
                    store.recent_inspections(5).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        Store::open(&path).unwrap().count_inspections().unwrap().0,
        4000
    );
}

#[test]
fn import_batch_is_one_transaction_and_skips_duplicates() {
    let dir = tmp();
    let samples_dir = dir.path().join("samples");
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let new = |shade: u8| {
        let s = save_sample_png(&samples_dir, &crop(shade)).unwrap();
        NewSample {
            path: s.path,
            hash: s.hash,
            width: s.width,
            height: s.height,
            source: "import:test".into(),
        }
    };
    // One sample is already there (captured from the line earlier).
    let existing = store.insert_sample(&new(1)).unwrap();
    let labelled = |shade: u8, label: &str| NewImport {
        sample: new(shade),
        label: Some(NewLabel {
            label: label.into(),
            mask_path: Some(samples_dir.join(format!("{shade}_mask.png"))),
        }),
    };
    let items = vec![
        labelled(2, "good"),
        NewImport {
            sample: new(1),
            label: Some(NewLabel {
                label: "crack".into(),
                mask_path: None,
            }),
        },
        NewImport {
            sample: new(3),
            label: None,
        },
        labelled(2, "crack"), // same image twice in one batch
    ];
    let ids = store
        .import_batch(&items, "anna", json!({"source": "import:test"}))
        .unwrap();
    assert_eq!(ids.len(), 4);
    assert!(ids[0].is_some() && ids[2].is_some());
    assert_eq!((ids[1], ids[3]), (None, None));
    assert_eq!(count(&store, "samples"), 3);
    // The duplicate of the existing sample did not get the batch's label.
    assert!(store.labels_for_sample(existing).unwrap().is_empty());
    let l = store.labels_for_sample(ids[0].unwrap()).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(
        (l[0].label.as_str(), l[0].labeled_by.as_str()),
        ("good", "anna")
    );
    assert_eq!(l[0].mask_path, Some(samples_dir.join("2_mask.png")));
    let audits = store.audit_entries(10).unwrap();
    let actions: Vec<&str> = audits.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["samples.import", "label.add"]);
    assert_eq!(audits[0].details["imported"], 2);
    assert_eq!(audits[0].details["duplicates"], 2);
    assert_eq!(audits[0].details["labelled"], 1);
    assert_eq!(audits[0].details["source"], "import:test");
    assert_eq!(audits[1].details["sample_id"], ids[0].unwrap());

    let pairs = store.labelled_samples().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].0.id, ids[0].unwrap());
    assert_eq!(pairs[0].1.label, "good");

    // A failing item rolls the whole batch back: nothing of it stays.
    let before = (count(&store, "samples"), count(&store, "labels"));
    let audits_before = count(&store, "audit_log");
    let bad = vec![
        labelled(4, "good"),
        NewImport {
            sample: new(5),
            label: Some(NewLabel {
                label: String::new(), // violates CHECK (length(label) > 0)
                mask_path: None,
            }),
        },
    ];
    let err = store.import_batch(&bad, "anna", json!({})).unwrap_err();
    assert!(err.to_string().contains("labels"), "{err}");
    assert_eq!((count(&store, "samples"), count(&store, "labels")), before);
    assert_eq!(count(&store, "audit_log"), audits_before);
}

#[test]
fn labelled_samples_take_the_latest_label() {
    let dir = tmp();
    let samples_dir = dir.path().join("samples");
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let mut ids = Vec::new();
    for shade in [10, 20, 30] {
        let s = save_sample_png(&samples_dir, &crop(shade)).unwrap();
        ids.push(
            store
                .insert_sample(&NewSample {
                    path: s.path,
                    hash: s.hash,
                    width: s.width,
                    height: s.height,
                    source: "t".into(),
                })
                .unwrap(),
        );
    }
    store.add_label(ids[2], "crack", None, "anna").unwrap();
    store.add_label(ids[0], "crack", None, "anna").unwrap();
    store.add_label(ids[0], "good", None, "bob").unwrap();
    let pairs = store.labelled_samples().unwrap();
    let got: Vec<(i64, &str, &str)> = pairs
        .iter()
        .map(|(s, l)| (s.id, l.label.as_str(), l.labeled_by.as_str()))
        .collect();
    assert_eq!(got, [(ids[0], "good", "bob"), (ids[2], "crack", "anna")]);
}

#[test]
fn many_threads_can_open_a_new_database_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Store::open(&path).map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        pragma_i64(store.connection(), "user_version"),
        SCHEMA_VERSION as i64
    );
}

mod chain;
mod encryption;
mod recorder;

/// A new data folder and database are the owner's only: folder 0700, database and its WAL 0600.
#[cfg(unix)]
#[test]
fn a_new_database_and_its_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("foodqc.sqlite");
    let store = Store::open(&path).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
    let wal = data.join("foodqc.sqlite-wal");
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600);
    drop(store);
    // An existing database keeps the mode its owner gave it.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    drop(Store::open(&path).unwrap());
    assert_eq!(mode(&path), 0o640);
}
