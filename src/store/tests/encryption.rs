//! Encryption at rest in the store, with explicit keys (the process-wide key is left alone,
//! so these tests do not disturb the others running in parallel).

use std::sync::Arc;

use super::*;
use crate::store::key::{FileState, file_state, read_key_file};

fn key(passphrase: &str) -> Option<Arc<DatabaseKey>> {
    DatabaseKey::new(passphrase.to_string()).map(Arc::new)
}

fn open(path: &Path, passphrase: Option<&str>) -> Result<Store, StoreError> {
    Store::open_with_key(path, DEFAULT_BUSY_TIMEOUT, passphrase.and_then(key))
}

/// An encrypted database with a station and `n` inspections.
fn encrypted_with_rows(path: &Path, passphrase: &str, n: i64) {
    let mut store = open(path, Some(passphrase)).unwrap();
    let st = store.upsert_station("s", "synthetic").unwrap();
    let rows: Vec<_> = (0..n).map(|i| row(st, None, i)).collect();
    store.insert_inspections(&rows).unwrap();
}

#[test]
fn an_encrypted_store_opens_only_with_its_key() {
    let dir = tmp();
    let path = dir.path().join("db.sqlite");
    encrypted_with_rows(&path, "k1", 20);
    assert_eq!(file_state(&path), FileState::Encrypted);

    let err = open(&path, None).unwrap_err();
    assert!(matches!(err, StoreError::KeyNeeded { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("a key is needed"), "{msg}");

    let err = open(&path, Some("k2")).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    let err = Store::open_read_only_with_key(&path, None).unwrap_err();
    assert!(matches!(err, StoreError::KeyNeeded { .. }), "{err:?}");
    let err = Store::open_read_only_with_key(&path, key("k2")).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");

    assert_eq!(
        open(&path, Some("k1"))
            .unwrap()
            .count_inspections()
            .unwrap()
            .0,
        20
    );
    let ro = Store::open_read_only_with_key(&path, key("k1")).unwrap();
    assert_eq!(ro.count_inspections().unwrap().0, 20);
    assert!(check_key(&path, &DatabaseKey::new("k1".into()).unwrap()).is_ok());
    assert!(matches!(
        check_key(&path, &DatabaseKey::new("k2".into()).unwrap()),
        Err(StoreError::WrongKey { .. })
    ));
}

#[test]
fn a_plain_database_is_refused_while_a_key_is_set() {
    let dir = tmp();
    let path = dir.path().join("db.sqlite");
    drop(open(&path, None).unwrap());
    let before = std::fs::read(&path).unwrap();
    let err = open(&path, Some("k1")).unwrap_err();
    assert!(matches!(err, StoreError::NotEncrypted { .. }), "{err:?}");
    assert!(err.to_string().contains("foodqc encrypt"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "file was modified");
    // A garbage file is still "not a database", with or without a key.
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, "not a database\n".repeat(30)).unwrap();
    let err = open(&junk, None).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
}

#[test]
fn backups_of_an_encrypted_database_are_encrypted_and_restore_with_the_key() {
    let dir = tmp();
    let path = dir.path().join("db.sqlite");
    encrypted_with_rows(&path, "k1", 30);
    let copy = dir.path().join("copy.sqlite");
    open(&path, Some("k1")).unwrap().backup_to(&copy).unwrap();
    assert_eq!(file_state(&copy), FileState::Encrypted);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "backup mode {mode:o}");
    }

    let other = dir.path().join("other").join("db.sqlite");
    let err = restore_with_key(&other, &copy, None).unwrap_err();
    assert!(err.to_string().contains("a key is needed"), "{err}");
    let err = restore_with_key(&other, &copy, key("k2")).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not open with the database key"),
        "{err}"
    );

    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let outcome = restore_with_key(&other, &copy, key("k1")).unwrap();
    assert_eq!(outcome.inspections, 30);
    assert_eq!(file_state(&other), FileState::Encrypted);
    assert_eq!(
        open(&other, Some("k1"))
            .unwrap()
            .count_inspections()
            .unwrap()
            .0,
        30
    );
}

#[test]
fn encrypt_database_keeps_every_row_and_id() {
    let dir = tmp();
    let path = dir.path().join("db.sqlite");
    let ids_of = |store: &Store| -> Vec<i64> {
        store
            .connection()
            .prepare("SELECT id FROM inspections ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let before = {
        let mut store = open(&path, None).unwrap();
        let st = store.upsert_station("s", "synthetic").unwrap();
        let rows: Vec<_> = (0..50).map(|i| row(st, None, i)).collect();
        store.insert_inspections(&rows).unwrap();
        store
            .audit("qc", "lot.status", serde_json::json!({}))
            .unwrap();
        ids_of(&store)
    };

    // Refused while another connection holds the file open.
    let holder = open(&path, None).unwrap();
    let err = encrypt_database(&path, key("k1").unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("another process has it open"),
        "{err}"
    );
    assert_eq!(file_state(&path), FileState::Plain);
    drop(holder);

    let outcome = encrypt_database(&path, key("k1").unwrap()).unwrap();
    assert!(
        outcome
            .tables
            .iter()
            .any(|(t, n)| t == "inspections" && *n == before.len() as i64)
    );
    assert_eq!(file_state(&path), FileState::Encrypted);
    let store = open(&path, Some("k1")).unwrap();
    assert_eq!(ids_of(&store), before);
    let chain_key = audit_key::load_key(&audit_key::key_path(&path))
        .unwrap()
        .expect("the store created its key");
    let report = store.verify_chains(&chain_key).unwrap();
    assert!(report.ok(), "{:?}", report.problems);

    let err = encrypt_database(&path, key("k1").unwrap()).unwrap_err();
    assert!(err.to_string().contains("encrypted already"), "{err}");
}

#[test]
fn key_files_must_be_private_and_keys_never_print() {
    let dir = tmp();
    let file = dir.path().join("db.key");
    std::fs::write(&file, "s3cret passphrase\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_key_file(&file).unwrap_err().to_string();
        assert!(
            err.contains(&file.display().to_string()) && err.contains("0640"),
            "{err}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let key = read_key_file(&file).unwrap();
    let shown = format!("{key:?}");
    assert!(!shown.contains("s3cret"), "{shown}");

    // The newline was not part of the key: the same passphrase typed opens what it wrote.
    let path = dir.path().join("db.sqlite");
    drop(Store::open_with_key(&path, DEFAULT_BUSY_TIMEOUT, Some(Arc::new(key))).unwrap());
    assert!(open(&path, Some("s3cret passphrase")).is_ok());

    std::fs::write(&file, "\n").unwrap();
    let err = read_key_file(&file).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    assert!(DatabaseKey::new(String::new()).is_none());
}
