//! The hash chains through the store: entries and batches written by the store verify, a
//! change made with plain SQL is named, older rows are chained at open, and what sealing a
//! batch costs.

use super::*;
use crate::store::chain::{self, Problem};

fn key_of(store: &Store) -> chain::ChainKey {
    audit_key::load_key(&audit_key::key_path(store.path()))
        .unwrap()
        .expect("the store created its key")
}

#[test]
fn audit_entries_and_batches_verify_and_an_edit_is_named() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    for n in 0..3 {
        store
            .audit("alice", "test.action", json!({ "n": n }))
            .unwrap();
    }
    let st = store.upsert_station("s1", "synthetic").unwrap();
    let rows: Vec<_> = (0..50).map(|i| row(st, None, i)).collect();
    store.insert_inspections(&rows[..20]).unwrap();
    store.insert_inspections(&rows[20..]).unwrap();
    let key = key_of(&store);
    let report = store.verify_chains(&key).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(
        (report.audit_entries, report.batches, report.inspections),
        (3, 2, 50)
    );
    assert_eq!(
        report.anchors.len(),
        1,
        "the anchor file beside the database"
    );

    let c = store.connection();
    c.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER inspections_no_update;")
        .unwrap();
    c.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2", [])
        .unwrap();
    // Row 31 (i = 30) is a reject.
    c.execute("UPDATE inspections SET verdict = 'pass' WHERE id = 31", [])
        .unwrap();
    let report = store.verify_chains(&key).unwrap();
    assert_eq!(report.problems[0], Problem::AuditHashMismatch { id: 2 });
    assert!(
        matches!(
            report.problems[1],
            Problem::BatchHashMismatch {
                id: 2,
                first_id: 21,
                last_id: 50,
                ..
            }
        ),
        "{:?}",
        report.problems
    );
}

#[test]
fn older_rows_are_chained_at_the_next_open() {
    let dir = tmp();
    let path = dir.path().join("foodqc.sqlite");
    {
        let store = Store::open(&path).unwrap();
        // As a database of the previous schema would have them: no hashes, no batches.
        store
            .connection()
            .execute_batch(
                "INSERT INTO audit_log (ts, actor, action, details_json)
                     VALUES (1, 'qc', 'lot.status', '{\"a\":1}'), (2, 'qc', 'label.add', '{}');
                 INSERT INTO stations (name, source, created_at) VALUES ('s', 'x', 0);
                 INSERT INTO inspections (ts, station_id, frame_seq, item_index, score, verdict,
                     bbox_x, bbox_y, bbox_w, bbox_h)
                     VALUES (1, 1, 0, 0, 0.9, 'reject', 0, 0, 1, 1),
                            (2, 1, 1, 0, 0.1, 'pass', 0, 0, 1, 1);",
            )
            .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let newest = store.audit_entries(1).unwrap();
    assert_eq!(newest[0].action, chain::CHAIN_START_ACTION);
    assert_eq!(newest[0].id, 3);
    assert_eq!(newest[0].details["chain_started_at"], 3);
    store.audit("qc", "lot.status", json!({})).unwrap();
    let key = key_of(&store);
    let report = store.verify_chains(&key).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(
        (report.audit_entries, report.batches, report.inspections),
        (4, 1, 2)
    );
    // The older entries are covered by the marker.
    let c = store.connection();
    c.execute_batch("DROP TRIGGER audit_log_no_update;")
        .unwrap();
    c.execute("UPDATE audit_log SET actor = 'x' WHERE id = 1", [])
        .unwrap();
    assert_eq!(
        store.verify_chains(&key).unwrap().problems,
        vec![Problem::AuditLegacyChanged { marker: 3 }]
    );
}

/// The recorder writes ~30 items/s per station: sealing 100 rows must stay far below a
/// millisecond. Prints the measured cost (`cargo test -- --nocapture`).
#[test]
fn sealing_100_rows_costs_well_under_a_millisecond() {
    let dir = tmp();
    let mut store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    let st = store.upsert_station("s1", "synthetic").unwrap();
    let rows: Vec<_> = (0..100).map(|i| row(st, None, i)).collect();
    store.insert_inspections(&rows).unwrap();
    let key = key_of(&store);
    let records = seal::inspection_records(store.connection(), store.path(), 1, 100).unwrap();
    assert_eq!(records.len(), 100);
    let runs = 2000;
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(chain::batch_hash(
            &key,
            &chain::GENESIS,
            1,
            100,
            0,
            &records,
        ));
    }
    let hash_us = t.elapsed().as_secs_f64() * 1e6 / runs as f64;
    // Reading the rows back and hashing them, as seal_batch does inside the transaction.
    let t = Instant::now();
    for _ in 0..200 {
        let r = seal::inspection_records(store.connection(), store.path(), 1, 100).unwrap();
        std::hint::black_box(chain::batch_hash(&key, &chain::GENESIS, 1, 100, 0, &r));
    }
    let seal_us = t.elapsed().as_secs_f64() * 1e6 / 200.0;
    println!("batch of 100 rows: hashing {hash_us:.1} us, read back + hashing {seal_us:.1} us");
    assert!(hash_us < 500.0, "hashing 100 rows took {hash_us:.1} us");
    assert!(seal_us < 1000.0, "sealing 100 rows took {seal_us:.1} us");
}
