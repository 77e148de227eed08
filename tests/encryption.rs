//! Encryption at rest (issue 17), end to end with the real `foodqc` binary: a database written
//! with a key has no SQLite header and no lot code in its bytes and opens only with the key;
//! `foodqc encrypt` turns a plain database into an encrypted one with the same rows and an
//! audit trail that still verifies; a key file others may read is refused.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{add_users, as_user, foodqc, run_ok};

const KEY: &str = "correct horse battery staple";
const LOT: &str = "LOT-SECRET-4711";

fn db(data: &Path) -> PathBuf {
    data.join("foodqc.sqlite")
}

/// `foodqc --data-dir DATA` with the database key in the environment.
fn with_key(data: &Path, key: &str) -> Command {
    let mut cmd = foodqc();
    cmd.env("FOODQC_DB_KEY", key).arg("--data-dir").arg(data);
    cmd
}

/// `foodqc --data-dir DATA` without any database key.
fn without_key(data: &Path) -> Command {
    let mut cmd = foodqc();
    cmd.arg("--data-dir").arg(data);
    cmd
}

/// Inspect 30 synthetic frames under [`LOT`].
fn inspect(mut cmd: Command) {
    run_ok(cmd.args([
        "inspect",
        "--source",
        "synthetic",
        "--frames",
        "30",
        "--lot",
        LOT,
    ]));
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The database file and the SQLite files beside it that exist.
fn database_files(data: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db(data).display())))
        .filter(|p| p.exists())
        .collect()
}

/// Rows per table, read directly with SQLCipher (`key` applied first when given).
fn row_counts(file: &Path, key: Option<&str>) -> BTreeMap<String, i64> {
    let c = rusqlite::Connection::open(file).unwrap();
    if let Some(key) = key {
        c.pragma_update(None, "key", key).unwrap();
    }
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|n| {
            let rows = c
                .query_row(&format!("SELECT count(*) FROM \"{n}\""), [], |r| r.get(0))
                .unwrap();
            (n, rows)
        })
        .collect()
}

#[test]
fn an_encrypted_database_shows_no_plaintext_and_opens_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    inspect(with_key(data, KEY));

    let files = database_files(data);
    assert!(!files.is_empty());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "{} has a plain SQLite header",
            file.display()
        );
        assert!(
            !contains(&bytes, LOT.as_bytes()),
            "{} holds the lot code in plaintext",
            file.display()
        );
    }
    // The daily backup taken at start is encrypted with the same key.
    for entry in std::fs::read_dir(data.join("backups")).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_some_and(|e| e == "sqlite") {
            let bytes = std::fs::read(&file).unwrap();
            assert!(!bytes.starts_with(b"SQLite format 3"), "{}", file.display());
            assert!(!contains(&bytes, LOT.as_bytes()), "{}", file.display());
        }
    }

    let out = without_key(data).arg("report").output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("is encrypted: a key is needed"), "{err}");
    assert!(err.contains("FOODQC_DB_KEY"), "{err}");
    assert!(err.contains(&db(data).display().to_string()), "{err}");

    let out = with_key(data, "not the key")
        .arg("report")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("does not open with the key given") && err.contains("key is wrong"),
        "{err}"
    );
    assert!(
        !err.contains("sqlcipher"),
        "SQLCipher's own log leaks: {err}"
    );

    let out = run_ok(with_key(data, KEY).args(["report", "--json"]));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains(LOT), "{report}");
}

#[test]
fn foodqc_encrypt_turns_a_plain_database_into_an_encrypted_one_with_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    inspect(without_key(data));
    let before = row_counts(&db(data), None);
    assert!(before["inspections"] > 0, "{before:?}");

    // A key set over a plain database: refused, pointing at `foodqc encrypt`.
    let out = with_key(data, KEY).arg("report").output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("is not encrypted") && err.contains("foodqc encrypt"),
        "{err}"
    );

    let out = run_ok(with_key(data, KEY).args(["encrypt", "--json"]));
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables: BTreeMap<String, i64> = done["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_str().unwrap().to_string(), t[1].as_i64().unwrap()))
        .collect();
    assert_eq!(tables, before);
    assert_eq!(done["backups_left_plain"].as_array().unwrap().len(), 0);
    assert!(!done["backups_encrypted"].as_array().unwrap().is_empty());

    let bytes = std::fs::read(db(data)).unwrap();
    assert!(!bytes.starts_with(b"SQLite format 3"));
    assert!(!contains(&bytes, LOT.as_bytes()));
    assert_eq!(row_counts(&db(data), Some(KEY)), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db(data)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }

    // Same row ids, same hashes: the audit chains verify, against the anchors kept outside.
    let out = run_ok(with_key(data, KEY).args(["audit", "verify"]));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("intact"), "{said}");

    let out = with_key(data, KEY).arg("encrypt").output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("encrypted already"),
        "{}",
        stderr(&out)
    );

    // The station goes on recording into the encrypted file.
    inspect(with_key(data, KEY));
    let after = row_counts(&db(data), Some(KEY));
    assert!(after["inspections"] > before["inspections"]);
}

#[test]
fn a_key_file_others_may_read_is_refused_and_a_private_one_works() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    inspect(with_key(&data, KEY));
    let key_file = dir.path().join("db.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = without_key(&data)
            .env("FOODQC_DB_KEY_FILE", &key_file)
            .arg("report")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(&key_file.display().to_string()), "{err}");
        assert!(err.contains("0644"), "{err}");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // The trailing newline is not part of the key.
    let out = run_ok(
        without_key(&data)
            .env("FOODQC_DB_KEY_FILE", &key_file)
            .args(["report", "--json"]),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(LOT));
}

/// Every regular file below `dir` whose mode lets group or others in, with its mode.
#[cfg(unix)]
fn open_to_others(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            if path.is_dir() {
                stack.push(path);
            } else if mode & 0o077 != 0 {
                found.push(format!("{mode:o} {}", path.display()));
            }
        }
    }
    found
}

#[cfg(unix)]
#[test]
fn crops_exports_reports_and_backups_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    inspect(without_key(&data));
    add_users(&data, &[("tec.luis", "technician")]);
    run_ok(as_user(
        without_key(&data).args(["demo-samples", "--count", "6"]),
        "tec.luis",
    ));
    run_ok(
        without_key(&data)
            .arg("report")
            .arg("--csv")
            .arg(out.join("r.csv"))
            .arg("--pdf")
            .arg(out.join("r.pdf")),
    );
    run_ok(
        without_key(&data)
            .arg("export")
            .arg("--out")
            .arg(out.join("set")),
    );
    run_ok(
        without_key(&data)
            .arg("backup")
            .arg("--out")
            .arg(out.join("copy.sqlite")),
    );
    assert!(out.join("r.csv").is_file() && out.join("set").is_dir());
    assert_eq!(open_to_others(&data), Vec::<String>::new());
    assert_eq!(open_to_others(&out), Vec::<String>::new());
}
