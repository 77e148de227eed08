//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod plant;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `foodqc` binary of this build, as a command to add arguments to. It speaks English
/// whatever the machine's locale (the tests read its English messages); `--lang` overrides.
/// No database key comes from the environment.
pub fn foodqc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_foodqc"));
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C")
        // Plain databases unless a test sets a key.
        .env_remove("FOODQC_DB_KEY")
        .env_remove("FOODQC_DB_KEY_FILE");
    cmd
}

/// `foodqc --data-dir DIR ARGS...` with no password in the environment (each test says
/// whose it gives).
pub fn in_data_dir(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = foodqc();
    c.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("FOODQC_PASSWORD")
        .env_remove("FOODQC_ACTOR_PASSWORD")
        .env_remove("FOODQC_ACTOR_PASSWORD_FILE");
    c
}

/// Runs `cmd` to its end and returns its output; a failed run fails the test with the
/// command, its stdout and its stderr.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the foodqc binary starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Skip a test that needs something this machine lacks, with the reason; when
/// `FOODQC_REQUIRE_ALL` is set (CI) the skip is a failure instead.
pub fn skip_or_fail(reason: &str) {
    if std::env::var_os("FOODQC_REQUIRE_ALL").is_some() {
        panic!("FOODQC_REQUIRE_ALL is set but: {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// A shared dataset folder (`../shared/datasets/<rel>` next to the repo), if present.
pub fn dataset(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(rel);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: dataset {} is not present", p.display());
        None
    }
}

/// Save a copy of the bundled model as `version` in `data_dir/models`, register it in the data
/// folder's database and make it the active (promoted) version; returns the model file.
pub fn promote_bundled_copy(data_dir: &std::path::Path, version: &str) -> PathBuf {
    let mut model = foodqc::model::AnomalyModel::bundled().expect("the bundled model loads");
    model.version = version.to_string();
    let path = data_dir.join("models").join(format!("{version}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    model.save(&path).unwrap();
    let mut store = foodqc::store::Store::open(&data_dir.join("foodqc.sqlite")).unwrap();
    let id = store
        .register_model_version(&foodqc::store::NewModelVersion {
            version: version.to_string(),
            path: path.clone(),
            kind: "anomaly".into(),
            params: serde_json::json!({}),
            metrics: serde_json::json!({}),
            data_snapshot: serde_json::json!({}),
        })
        .unwrap();
    store.set_active_model(id, "tester").unwrap();
    path
}

/// The password of every user [`add_users`] creates.
pub const USER_PW: &str = "Quality-2026";

/// Add `users` (name, role) to the data folder's station, and its admin (`admin`) first when
/// it has none; every password is [`USER_PW`].
pub fn add_users(data_dir: &std::path::Path, users: &[(&str, &str)]) {
    use foodqc::services::auth::{NewAccount, authenticate, create_user};
    let mut store = foodqc::store::Store::open(&data_dir.join("foodqc.sqlite")).unwrap();
    let acc = |name, role: &str| NewAccount {
        name,
        display_name: None,
        role: role.parse().unwrap(),
        service: false,
    };
    if store.user_count().unwrap() == 0 {
        create_user(&mut store, None, &acc("admin", "admin"), USER_PW).unwrap();
    }
    let admin = authenticate(&mut store, "admin", USER_PW).unwrap();
    for (name, role) in users {
        if store.user_by_name(name).unwrap().is_none() {
            create_user(&mut store, Some(&admin), &acc(name, role), USER_PW).unwrap();
        }
    }
}

/// `cmd` run by `user` (signed in with [`USER_PW`] from the environment).
pub fn as_user<'a>(cmd: &'a mut Command, user: &str) -> &'a mut Command {
    cmd.args(["--user", user])
        .env("FOODQC_ACTOR_PASSWORD", USER_PW)
}
