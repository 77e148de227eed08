//! The fault suite (issue 16): the real `foodqc` binary on a fresh data folder under each
//! fault, asserting that every inspection it judged is kept (in the database or in the pending
//! journal beside it) and the exit status.
//!
//! Cases that need `mount` (a small tmpfs for a full disk, a read-only file system) skip with
//! a printed reason when it is not permitted, unless `FOODQC_REQUIRE_ALL` is set (CI runs as
//! root): then they fail.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{foodqc, skip_or_fail};

/// The database of a data folder.
fn db(data: &Path) -> PathBuf {
    data.join("foodqc.sqlite")
}

/// Inspections in the database (read-only, so the test never changes it).
fn db_rows(data: &Path) -> i64 {
    let c =
        rusqlite::Connection::open_with_flags(db(data), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row("SELECT count(*) FROM inspections", [], |r| r.get(0))
        .unwrap()
}

/// Inspections in the database, `None` while it is being created.
fn try_db_rows(data: &Path) -> Option<i64> {
    let c =
        rusqlite::Connection::open_with_flags(db(data), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    c.query_row("SELECT count(*) FROM inspections", [], |r| r.get(0))
        .ok()
}

/// Rows waiting in the pending journal.
fn journal_rows(data: &Path) -> i64 {
    foodqc::store::journal::pending_rows(&db(data)).unwrap() as i64
}

/// `PRAGMA quick_check` of the database.
fn quick_check(data: &Path) -> String {
    let c = rusqlite::Connection::open(db(data)).unwrap();
    c.query_row("PRAGMA quick_check", [], |r| r.get(0)).unwrap()
}

fn inspect(data: &Path) -> Command {
    let mut c = foodqc();
    c.args(["--data-dir"]).arg(data).args(["inspect", "--json"]);
    c
}

/// The JSON summary a run printed.
fn summary(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Wait until the database holds more than `above` inspections.
fn wait_for_rows(data: &Path, above: i64, child: &mut Child) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if db(data).exists() && try_db_rows(data).is_some_and(|n| n > above) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("foodqc ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no inspection recorded within 20 s");
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// A live synthetic run that goes on until stopped.
fn spawn_live(data: &Path) -> Child {
    inspect(data)
        .args(["--source", "synthetic", "--live", "--frames", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A tmpfs of `size` mounted at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs not permitted: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    fn remount_read_only(&self) {
        let out = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn sigterm_flushes_prints_the_summary_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut child = spawn_live(data);
    wait_for_rows(data, 0, &mut child);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let took = t.elapsed();
    assert!(out.status.success(), "{}\n{}", out.status, stderr(&out));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let s = summary(&out);
    assert_eq!(s["interrupted"], true);
    let items = s["items"].as_i64().unwrap();
    assert!(items > 0);
    assert_eq!(items, db_rows(data) + journal_rows(data));
    assert_eq!(journal_rows(data), 0);
    eprintln!(
        "SIGTERM: {items} in, {} in DB, exit 0 in {took:?}",
        db_rows(data)
    );
}

#[test]
fn sigterm_with_the_database_locked_journals_and_exits_0_within_2_s() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut child = spawn_live(data);
    wait_for_rows(data, 0, &mut child);
    let lock = rusqlite::Connection::open(db(data)).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let took = t.elapsed();
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert!(out.status.success(), "{}\n{}", out.status, stderr(&out));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let items = summary(&out)["items"].as_i64().unwrap();
    let (in_db, in_journal) = (db_rows(data), journal_rows(data));
    assert!(in_journal > 0, "the lock did not hold anything back");
    assert_eq!(items, in_db + in_journal);
    eprintln!("SIGTERM locked: {items} in, {in_db} DB + {in_journal} journal, exit 0 in {took:?}");
}

#[test]
fn sigint_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut child = spawn_live(data);
    wait_for_rows(data, 0, &mut child);
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{}", out.status, stderr(&out));
    let items = summary(&out)["items"].as_i64().unwrap();
    assert_eq!(items, db_rows(data) + journal_rows(data));
}

#[test]
fn kill_9_five_times_keeps_a_sound_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut before = 0;
    for round in 0..5 {
        let mut child = spawn_live(data);
        wait_for_rows(data, before, &mut child);
        std::thread::sleep(Duration::from_millis(150 + 70 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(quick_check(data), "ok", "round {round}");
        let now = db_rows(data);
        // Nothing committed is lost, every kill left the rows of earlier runs.
        assert!(now > before, "round {round}: {now} <= {before}");
        before = now;
    }
    // The next run opens the file, records everything it judges and exits 0.
    let out = inspect(data)
        .args(["--source", "synthetic", "--frames", "60"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let items = summary(&out)["items"].as_i64().unwrap();
    assert_eq!(db_rows(data), before + items);
    eprintln!("kill -9 x5: {before} rows kept, then {items} in / {items} recorded, exit 0");
}

#[test]
fn a_lock_held_past_the_give_up_sends_rows_to_the_journal_and_they_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut child = inspect(data)
        .args(["--source", "synthetic", "--live", "--frames", "240"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_rows(data, 0, &mut child);
    let lock = rusqlite::Connection::open(db(data)).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = child.wait_with_output().unwrap();
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert!(out.status.success(), "{}\n{}", out.status, stderr(&out));
    let s = summary(&out);
    let items = s["items"].as_i64().unwrap();
    let (in_db, in_journal) = (db_rows(data), journal_rows(data));
    assert!(in_journal > 0, "the lock did not hold anything back");
    assert_eq!(s["in_journal"].as_i64().unwrap(), in_journal);
    assert_eq!(items, in_db + in_journal);
    // The next open replays the journal into the database, once.
    common::run_ok(foodqc().arg("--data-dir").arg(data).arg("report"));
    common::run_ok(foodqc().arg("--data-dir").arg(data).arg("report"));
    assert_eq!(journal_rows(data), 0);
    assert_eq!(db_rows(data), items);
    eprintln!(
        "lock: {items} in, {in_db} DB + {in_journal} journal, exit 0; after replay {items} DB"
    );
}

#[test]
fn a_full_disk_keeps_every_row_without_crops() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let fs = match Tmpfs::mount(&mnt, "4m") {
        Ok(fs) => fs,
        Err(why) => return skip_or_fail(&why),
    };
    let data = fs.0.join("data");
    let out = inspect(&data)
        .args(["--source", "synthetic", "--frames", "300"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", out.status, stderr(&out));
    let s = summary(&out);
    let items = s["items"].as_i64().unwrap();
    assert_eq!(items, db_rows(&data) + journal_rows(&data));
    assert!(s["samples_missing"].as_i64().unwrap() > 0);
    eprintln!(
        "full disk: {items} in, {} DB + {} journal, {} crops missing, exit 0",
        db_rows(&data),
        journal_rows(&data),
        s["samples_missing"]
    );
}

#[test]
fn an_unwritable_samples_folder_keeps_every_row_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // A file where the samples folder should be: no crop can be saved, even as root.
    std::fs::write(data.join("samples"), b"not a folder").unwrap();
    let out = inspect(data)
        .args(["--source", "synthetic", "--frames", "200"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", out.status, stderr(&out));
    let s = summary(&out);
    let items = s["items"].as_i64().unwrap();
    assert_eq!(items, db_rows(data));
    assert_eq!(journal_rows(data), 0);
    let c = rusqlite::Connection::open(db(data)).unwrap();
    let missing: i64 = c
        .query_row(
            "SELECT count(*) FROM inspections WHERE sample_missing IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(missing > 0, "no row says its crop is missing");
    eprintln!(
        "samples unwritable: {items} in, {items} DB, {missing} rows say crop missing, exit 0"
    );
}

/// A data folder with a few recorded inspections.
fn recorded_folder(data: &Path, lot: &str) -> i64 {
    let out = common::run_ok(inspect(data).args([
        "--source",
        "synthetic",
        "--frames",
        "120",
        "--lot",
        lot,
    ]));
    summary(&out)["items"].as_i64().unwrap()
}

#[test]
fn a_corrupt_database_is_refused_and_restored_from_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let items = recorded_folder(data, "L1");
    let backup = dir.path().join("copy.sqlite");
    common::run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(data)
            .args(["backup", "--out"])
            .arg(&backup),
    );
    // 4 KB of random bytes into the middle of the database.
    let len = std::fs::metadata(db(data)).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(db(data))
        .unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(len / 2 - 2048)).unwrap();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    f.write_all(&noise).unwrap();
    drop(f);
    let damaged = std::fs::read(db(data)).unwrap();

    let out = inspect(data)
        .args(["--source", "synthetic", "--frames", "10"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("damaged") && err.contains("foodqc restore"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(db(data)).unwrap(),
        damaged,
        "the damaged file was written"
    );

    // Restore refuses a non-foodqc file, then takes the backup.
    let bogus = dir.path().join("bogus.sqlite");
    std::fs::write(&bogus, b"hello").unwrap();
    let out = foodqc()
        .arg("--data-dir")
        .arg(data)
        .arg("restore")
        .arg(&bogus)
        .output()
        .unwrap();
    assert!(!out.status.success());
    common::run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(data)
            .arg("restore")
            .arg(&backup),
    );
    assert_eq!(quick_check(data), "ok");
    assert_eq!(db_rows(data), items);
    let kept = std::fs::read_dir(data)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".replaced-"));
    assert!(kept, "the replaced database was not kept aside");
    eprintln!("corrupt DB: refused (exit 1, file untouched); restored {items} rows from backup");
}

#[test]
fn report_reads_a_read_only_database() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("ro");
    let fs = match Tmpfs::mount(&mnt, "8m") {
        Ok(fs) => fs,
        Err(why) => return skip_or_fail(&why),
    };
    let data = fs.0.join("data");
    let items = recorded_folder(&data, "RO-1");
    fs.remount_read_only();
    let out = common::run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(&data)
            .args(["report", "--json"]),
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["items"].as_i64().unwrap(), items);
    // Writing is still refused, clearly.
    let out = inspect(&data)
        .args(["--source", "synthetic", "--frames", "5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn exports_refuse_to_write_over_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let items = recorded_folder(data, "L1");
    let before = std::fs::read(db(data)).unwrap();
    let dbp = db(data);
    let mut wal = dbp.clone().into_os_string();
    wal.push("-wal");
    let dotted = data.join(".").join("foodqc.sqlite");
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["report".into(), "--csv".into(), dbp.clone().into()],
        vec!["report".into(), "--pdf".into(), dotted.into()],
        vec!["report".into(), "--csv".into(), wal],
        vec!["backup".into(), "--out".into(), dbp.clone().into()],
    ];
    for args in cases {
        let out = foodqc()
            .arg("--data-dir")
            .arg(data)
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&out).contains("refusing to write"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(std::fs::read(db(data)).unwrap(), before);
    assert_eq!(db_rows(data), items);
}

#[test]
fn bad_lot_codes_are_refused_and_formulas_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    for (lot, says) in [
        ("", "is empty"),
        ("L1\nL2", "control characters"),
        (&"x".repeat(65) as &str, "longer than 64"),
    ] {
        let out = inspect(data)
            .args(["--source", "synthetic", "--frames", "5", "--lot", lot])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("lot code") && err.contains(says), "{err}");
        assert!(!err.contains("Error code 275"), "{err}");
    }
    let formula = "=HYPERLINK(\"http://x\",\"y\")";
    let items = recorded_folder(data, formula);
    let csv = dir.path().join("out.csv");
    common::run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(data)
            .args(["report", "--csv"])
            .arg(&csv),
    );
    let mut rd = csv::Reader::from_path(&csv).unwrap();
    let lots: Vec<String> = rd.records().map(|r| r.unwrap()[4].to_string()).collect();
    assert_eq!(lots.len() as i64, items);
    assert!(lots.iter().all(|l| l == &format!("'{formula}")), "{lots:?}");
}
