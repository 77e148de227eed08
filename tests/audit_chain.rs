//! The tamper-evident audit trail (issue 17), end to end: the real `foodqc` binary records
//! inspections and audited lot decisions, then plain SQL (after dropping the triggers, as an
//! attacker with the database file would) edits or deletes audit entries or inspections, and
//! `foodqc audit verify` must exit non-zero naming the entry or batch; untouched it exits 0.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{add_users, as_user, foodqc, run_ok};

/// A data folder with 30 synthetic frames inspected under lot `L-1` and three audited lot
/// decisions (so the audit log holds `station.start` and three `lot.status` entries).
fn recorded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    run_ok(foodqc().arg("--data-dir").arg(data).args([
        "inspect",
        "--source",
        "synthetic",
        "--frames",
        "30",
        "--lot",
        "L-1",
    ]));
    add_users(data, &[("qc-ana", "qc_manager")]);
    for (flag, comment) in [
        ("--hold", "metal detector alarm"),
        ("--release", "re-inspected, clear"),
        ("--hold", "customer complaint"),
    ] {
        run_ok(as_user(
            foodqc().arg("--data-dir").arg(data).args([
                "report",
                flag,
                "L-1",
                "--comment",
                comment,
            ]),
            "qc-ana",
        ));
    }
    dir
}

fn db(data: &Path) -> PathBuf {
    data.join("foodqc.sqlite")
}

/// A connection to the database without the append-only triggers.
fn tamper(data: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db(data)).unwrap();
    // Signatures refer to their audit entries: an attacker turns that check off too.
    c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for t in [
        "audit_log_no_update",
        "audit_log_no_delete",
        "inspections_no_update",
        "inspections_no_delete",
        "inspection_batches_no_update",
        "inspection_batches_no_delete",
    ] {
        c.execute_batch(&format!("DROP TRIGGER IF EXISTS {t}"))
            .unwrap();
    }
    c
}

fn verify(data: &Path) -> Output {
    foodqc()
        .arg("--data-dir")
        .arg(data)
        .args(["audit", "verify"])
        .output()
        .unwrap()
}

/// stdout and stderr of a run.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `foodqc audit verify` fails and says `what`.
fn assert_broken(data: &Path, what: &str) {
    let out = verify(data);
    let t = text(&out);
    assert!(
        !out.status.success(),
        "verify passed a tampered database:\n{t}"
    );
    assert!(t.contains(what), "expected {what:?} in:\n{t}");
}

fn one(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The batch whose range covers inspection `id`.
fn batch_of(c: &rusqlite::Connection, id: i64) -> i64 {
    c.query_row(
        "SELECT id FROM inspection_batches WHERE ?1 BETWEEN first_id AND last_id",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn untouched_database_verifies() {
    let dir = recorded();
    let out = verify(dir.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let n = one(
        &rusqlite::Connection::open(db(dir.path())).unwrap(),
        "SELECT count(*) FROM audit_log",
    );
    assert!(
        t.contains(&format!("audit trail intact: {n} audit entries")),
        "{t}"
    );
    assert!(t.contains("head matches the copy in"), "{t}");
    // The key and the anchor are outside the database; the key is private.
    let key = dir.path().join("audit.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(dir.path().join("audit-head").is_file());
    // The listing filters by actor and action.
    let out = run_ok(foodqc().arg("--data-dir").arg(dir.path()).args([
        "audit", "list", "--actor", "qc-ana", "--action", "lot", "--json",
    ]));
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 3, "{entries}");
    // Each decision is signed: the signature rows and their audit entries name the signer.
    let c = rusqlite::Connection::open(db(dir.path())).unwrap();
    let signed = one(
        &c,
        "SELECT count(*) FROM signatures WHERE signer = 'qc-ana' AND record_id = 'L-1'",
    );
    assert_eq!(signed, 3);
}

#[test]
fn edited_audit_entry_is_named() {
    let dir = recorded();
    let c = tamper(dir.path());
    let id = one(
        &c,
        "SELECT min(id) FROM audit_log WHERE action = 'lot.status'",
    );
    c.execute(
        "UPDATE audit_log SET details_json = json_set(details_json, '$.comment', 'nothing') WHERE id = ?1",
        [id],
    )
    .unwrap();
    assert_broken(dir.path(), &format!("audit entry {id} was changed"));
}

#[test]
fn deleted_audit_entry_is_named() {
    let dir = recorded();
    let c = tamper(dir.path());
    c.execute("DELETE FROM audit_log WHERE id = 2", []).unwrap();
    assert_broken(dir.path(), "audit entries 2 to 2 are missing");
}

#[test]
fn deleted_audit_tail_is_caught() {
    let dir = recorded();
    let c = tamper(dir.path());
    let last = one(&c, "SELECT max(id) FROM audit_log");
    c.execute("DELETE FROM audit_log WHERE id >= ?1", [last - 1])
        .unwrap();
    drop(c);
    assert_broken(
        dir.path(),
        &format!(
            "the audit log was cut: it ends at entry {}, but {} records entry {last}",
            last - 2,
            dir.path().join("audit-head").display()
        ),
    );
    // A later audited action does not hide it: the anchor only moves over an intact link.
    for flag in ["--release", "--hold"] {
        run_ok(as_user(
            foodqc().arg("--data-dir").arg(dir.path()).args([
                "report",
                flag,
                "L-1",
                "--comment",
                "cover-up",
            ]),
            "qc-ana",
        ));
    }
    assert_broken(dir.path(), &format!("audit entry {last} differs"));
}

#[test]
fn flipped_verdict_is_named() {
    let dir = recorded();
    let c = tamper(dir.path());
    let id = one(
        &c,
        "SELECT min(id) FROM inspections WHERE verdict = 'reject'",
    );
    let batch = batch_of(&c, id);
    c.execute(
        "UPDATE inspections SET verdict = 'pass' WHERE id = ?1",
        [id],
    )
    .unwrap();
    assert_broken(
        dir.path(),
        &format!("inspection batch {batch} (inspections"),
    );
}

#[test]
fn deleted_inspection_is_named() {
    let dir = recorded();
    let c = tamper(dir.path());
    let id = one(
        &c,
        "SELECT min(id) FROM inspections WHERE verdict = 'reject'",
    );
    let batch = batch_of(&c, id);
    c.execute("DELETE FROM inspections WHERE id = ?1", [id])
        .unwrap();
    assert_broken(
        dir.path(),
        &format!("inspection batch {batch} (inspections"),
    );
    assert_broken(dir.path(), "rows now");
}

#[test]
fn deleted_inspection_tail_is_caught() {
    let dir = recorded();
    let c = tamper(dir.path());
    let last_batch = one(&c, "SELECT max(id) FROM inspection_batches");
    let first = one(
        &c,
        &format!("SELECT first_id FROM inspection_batches WHERE id = {last_batch}"),
    );
    c.execute("DELETE FROM inspections WHERE id >= ?1", [first])
        .unwrap();
    c.execute("DELETE FROM inspection_batches WHERE id = ?1", [last_batch])
        .unwrap();
    assert_broken(dir.path(), "the inspections were cut");
}

#[test]
fn inserted_inspection_is_named() {
    let dir = recorded();
    let c = tamper(dir.path());
    c.execute_batch(
        "INSERT INTO inspections (ts, station_id, lot_id, frame_seq, item_index, score, verdict,
             bbox_x, bbox_y, bbox_w, bbox_h)
         SELECT ts, station_id, lot_id, frame_seq, item_index, score, 'pass', 0, 0, 1, 1
         FROM inspections ORDER BY id DESC LIMIT 1",
    )
    .unwrap();
    assert_broken(dir.path(), "are in no batch");
}

#[test]
fn verify_without_the_key_says_so() {
    let dir = recorded();
    std::fs::rename(
        dir.path().join("audit.key"),
        dir.path().join("elsewhere.key"),
    )
    .unwrap();
    assert_broken(dir.path(), "no audit key at");
    // FOODQC_AUDIT_KEY_FILE points at it.
    let out = foodqc()
        .arg("--data-dir")
        .arg(dir.path())
        .env("FOODQC_AUDIT_KEY_FILE", dir.path().join("elsewhere.key"))
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn deleted_batches_are_not_sealed_again() {
    let dir = recorded();
    let c = tamper(dir.path());
    c.execute("DELETE FROM inspection_batches", []).unwrap();
    drop(c);
    // Opening the database (any command) must not seal the rows anew.
    assert_broken(dir.path(), "the inspections were cut");
    assert_broken(dir.path(), "are in no batch");
}
