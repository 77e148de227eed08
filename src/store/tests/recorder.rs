//! The inspection recorder: batching, images stored once, locks, unwritable folders, refused
//! rows and shutdown.

use super::*;

/// Recorder options with short timeouts so failure tests stay fast.
fn quick_opts() -> RecorderOptions {
    RecorderOptions {
        busy_timeout: Duration::from_millis(100),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        max_wait: Duration::from_millis(20),
        ..RecorderOptions::default()
    }
}

#[test]
fn recorder_records_everything_and_stores_each_image_once() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let samples_dir = dir.path().join("samples");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let rec = InspectionRecorder::spawn(db.clone(), samples_dir.clone(), 8192).unwrap();
    let images: Vec<RgbImage> = (0..5).map(|i| crop(i * 40)).collect();
    let tx = rec.sender();
    let producer = std::thread::spawn(move || {
        for i in 0..10_000i64 {
            let sample = (i % 10 == 0).then(|| SampleImage {
                image: images[(i / 10 % 5) as usize].clone(),
                source: "line-1".into(),
            });
            tx.send(RecordItem {
                row: row(st, None, i),
                sample,
            })
            .unwrap();
        }
    });
    producer.join().unwrap();
    let stats = rec.finish().unwrap();
    assert_eq!(stats.recorded, 10_000);
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.dropped, 0);
    assert!(stats.batches > 1, "{stats:?}");
    assert_eq!(stats.last_error, None);

    let store = Store::open(&db).unwrap();
    assert_eq!(store.count_inspections().unwrap(), (10_000, 1_000));
    assert_eq!(count(&store, "samples"), 5);
    let linked: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM inspections WHERE sample_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(linked, 1_000);
    let files: Vec<_> = std::fs::read_dir(&samples_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 5, "{files:?}"); // no temp files left either
    assert!(files.iter().all(|f| f.ends_with(".png") && f.len() == 68));
    let v = &store.recent_inspections(1).unwrap()[0];
    assert_eq!(v.ts_ms, 1_700_000_000_000 + 9_999);
}

#[test]
fn recorder_waits_out_a_locked_database_and_loses_nothing() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let rec = InspectionRecorder::spawn_with(db.clone(), dir.path().join("samples"), quick_opts())
        .unwrap();

    let locker = Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let tx = rec.sender();
    for i in 0..1000 {
        tx.send(RecordItem {
            row: row(st, None, i),
            sample: (i == 0).then(|| SampleImage {
                image: crop(1),
                source: "s".into(),
            }),
        })
        .unwrap();
    }
    wait_until(
        "the recorder to report the lock",
        Duration::from_secs(5),
        || rec.stats().failing,
    );
    let stats = rec.stats();
    let err = stats.last_error.clone().unwrap();
    assert!(err.contains("locked"), "{err}");
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert_eq!(stats.recorded, 0);
    assert_eq!(stats.pending, 1000);

    locker.execute_batch("COMMIT").unwrap();
    drop(tx);
    let stats = rec.finish().unwrap();
    assert_eq!((stats.recorded, stats.pending), (1000, 0), "{stats:?}");
    assert!(!stats.failing);
    assert_eq!(
        Store::open(&db).unwrap().count_inspections().unwrap().0,
        1000
    );
}

/// Make `dir` unwritable: read-only permissions when that works (not as root), else put a
/// plain file where the folder should be. Returns a function that undoes it.
fn block_folder(dir: &Path) -> impl FnOnce() {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join("probe");
    let writable = std::fs::write(&probe, "x").is_ok();
    let dir = dir.to_path_buf();
    if writable {
        // Root ignores permissions.
        std::fs::remove_file(&probe).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        std::fs::write(&dir, "not a folder").unwrap();
    }
    move || {
        if writable {
            std::fs::remove_file(&dir).unwrap();
        } else {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

#[test]
fn recorder_survives_an_unwritable_samples_folder() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let samples_dir = dir.path().join("samples");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let rec =
        InspectionRecorder::spawn_with(db.clone(), samples_dir.clone(), quick_opts()).unwrap();
    let unblock = block_folder(&samples_dir);
    let tx = rec.sender();
    let send = |from: i64, to: i64| {
        for i in from..to {
            tx.send(RecordItem {
                row: row(st, None, i),
                sample: Some(SampleImage {
                    image: crop((i % 3) as u8),
                    source: "s".into(),
                }),
            })
            .unwrap();
        }
    };
    // The crops cannot be saved: the rows are recorded anyway, saying why.
    send(0, 100);
    wait_until("the rows to be recorded", Duration::from_secs(5), || {
        rec.stats().recorded == 100
    });
    let err = rec.stats().last_error.unwrap();
    assert!(err.contains(&samples_dir.display().to_string()), "{err}");
    assert!(rec.stats().samples_missing > 0);
    {
        let store = Store::open(&db).unwrap();
        assert_eq!(count(&store, "samples"), 0);
        let missing: i64 = store
            .connection()
            .query_row(
                "SELECT count(*) FROM inspections WHERE sample_missing IS NOT NULL
                 AND sample_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(missing, 100);
    }

    // Once the folder is writable again, crops are saved again.
    unblock();
    send(100, 130);
    drop(tx);
    let stats = rec.finish().unwrap();
    assert_eq!((stats.recorded, stats.pending), (130, 0), "{stats:?}");
    let store = Store::open(&db).unwrap();
    assert_eq!(count(&store, "samples"), 3);
    assert_eq!(std::fs::read_dir(&samples_dir).unwrap().count(), 3);
}

#[test]
fn recorder_finish_reports_what_it_could_not_write() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let rec = InspectionRecorder::spawn_with(db.clone(), dir.path().join("samples"), quick_opts())
        .unwrap();
    // Neither the database (locked) nor the journal (a folder in its place) takes rows.
    std::fs::create_dir(crate::store::journal::journal_path(&db)).unwrap();
    let lock = Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let tx = rec.sender();
    for i in 0..10 {
        tx.send(RecordItem {
            row: row(st, None, i),
            sample: None,
        })
        .unwrap();
    }
    drop(tx);
    let err = rec.finish_within(Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(err, StoreError::Unrecorded { unrecorded: 10, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("locked"), "{err}");
}

#[test]
fn a_locked_database_sends_rows_to_the_journal_and_replay_is_idempotent() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let opts = RecorderOptions {
        journal_after: Duration::from_millis(200),
        ..quick_opts()
    };
    let rec = InspectionRecorder::spawn_with(db.clone(), dir.path().join("samples"), opts).unwrap();
    let lock = Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let tx = rec.sender();
    for i in 0..50 {
        tx.send(RecordItem {
            row: row(st, None, i),
            sample: None,
        })
        .unwrap();
    }
    wait_until(
        "the rows to reach the journal",
        Duration::from_secs(5),
        || rec.stats().journaled == 50,
    );
    assert_eq!(crate::store::journal::pending_rows(&db).unwrap(), 50);
    let journal = std::fs::read(crate::store::journal::journal_path(&db)).unwrap();
    lock.execute_batch("ROLLBACK").unwrap();
    // The database is back: the next batch brings the journal in with it.
    tx.send(RecordItem {
        row: row(st, None, 50),
        sample: None,
    })
    .unwrap();
    drop(tx);
    let stats = rec.finish().unwrap();
    assert_eq!(
        (stats.recorded, stats.replayed, stats.in_journal),
        (1, 50, 0)
    );
    let mut store = Store::open(&db).unwrap();
    assert_eq!(count(&store, "inspections"), 51);

    // The same journal again (a crash between the commit and the truncation), with a torn
    // last line: nothing twice, the torn line kept aside.
    let mut again = journal.clone();
    again.extend_from_slice(b"{\"b3\":\"00\",\"entry\":{\"key\":");
    std::fs::write(crate::store::journal::journal_path(&db), &again).unwrap();
    let out = store.replay_journal().unwrap();
    assert_eq!(
        (out.replayed, out.already_replayed, out.rejected),
        (0, 50, 1)
    );
    assert_eq!(count(&store, "inspections"), 51);
    assert_eq!(crate::store::journal::pending_rows(&db).unwrap(), 0);
    assert!(crate::store::journal::rejected_path(&db).is_file());
}

#[test]
fn recorder_drops_only_rows_the_database_refuses() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let rec = InspectionRecorder::spawn_with(db.clone(), dir.path().join("samples"), quick_opts())
        .unwrap();
    let tx = rec.sender();
    for i in 0..50 {
        let station = if i == 7 { st + 99 } else { st };
        tx.send(RecordItem {
            row: row(station, None, i),
            sample: None,
        })
        .unwrap();
    }
    drop(tx);
    let stats = rec.finish().unwrap();
    assert_eq!((stats.recorded, stats.dropped, stats.pending), (49, 1, 0));
    let err = stats.last_error.unwrap();
    assert!(
        err.contains("inspections") && err.contains("frame 1 item 3"),
        "{err}"
    );
}

#[test]
fn recorder_finish_does_not_wait_for_held_senders_and_drop_flushes() {
    let dir = tmp();
    let db = dir.path().join("db.sqlite");
    let st = Store::open(&db)
        .unwrap()
        .upsert_station("line-1", "x")
        .unwrap();
    let rec = InspectionRecorder::spawn(db.clone(), dir.path().join("samples"), 64).unwrap();
    let held = rec.sender();
    for i in 0..300 {
        held.send(RecordItem {
            row: row(st, None, i),
            sample: None,
        })
        .unwrap();
    }
    let stats = rec.finish().unwrap();
    assert_eq!((stats.recorded, stats.pending), (300, 0));
    let err = held
        .send(RecordItem {
            row: row(st, None, 300),
            sample: None,
        })
        .unwrap_err();
    assert!(err.to_string().contains("stopped"), "{err}");

    // Dropping the handle without finish still writes what was queued.
    let rec = InspectionRecorder::spawn(db.clone(), dir.path().join("samples"), 64).unwrap();
    let tx = rec.sender();
    for i in 1000..1050 {
        tx.send(RecordItem {
            row: row(st, None, i),
            sample: None,
        })
        .unwrap();
    }
    drop(rec);
    assert_eq!(
        Store::open(&db).unwrap().count_inspections().unwrap().0,
        350
    );
}
