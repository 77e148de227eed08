//! `foodqc user`: the first admin without sign-in, the list, later changes only by an admin,
//! and no password in clear anywhere in the database files.

mod common;

use std::path::Path;

use common::{foodqc, run_ok};

const ADMIN_PW: &str = "Andes-2026-Rosa";
const OPERATOR_PW: &str = "Linea-Uno-Turno-2";

fn user(dir: &Path) -> std::process::Command {
    let mut cmd = foodqc();
    cmd.arg("--data-dir")
        .arg(dir)
        .arg("user")
        .env_remove("FOODQC_PASSWORD")
        .env_remove("FOODQC_ACTOR_PASSWORD");
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn first_admin_list_and_admin_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // No password source and no terminal: a clear refusal naming the ways to give one.
    let out = user(d)
        .args(["add", "admin", "--role", "admin"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("FOODQC_PASSWORD"), "{}", stderr(&out));

    // The first user must be an admin.
    let out = user(d)
        .args(["add", "ana", "--role", "qc_manager"])
        .env("FOODQC_PASSWORD", ADMIN_PW)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("admin"), "{}", stderr(&out));

    let out = run_ok(
        user(d)
            .args([
                "add",
                "admin",
                "--role",
                "admin",
                "--display-name",
                "Rosa Huamán",
            ])
            .env("FOODQC_PASSWORD", ADMIN_PW),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin"));

    // A second user without an admin's sign-in is refused and not created.
    let out = user(d)
        .args(["add", "line-1", "--role", "operator", "--service"])
        .env("FOODQC_PASSWORD", OPERATOR_PW)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--user"), "{}", stderr(&out));
    // ... and with a wrong admin password too.
    let out = user(d)
        .args(["add", "line-1", "--role", "operator", "--user", "admin"])
        .env("FOODQC_PASSWORD", OPERATOR_PW)
        .env("FOODQC_ACTOR_PASSWORD", "not-the-Password-1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("wrong user name or password"),
        "{}",
        stderr(&out)
    );
    // An unknown role names the value and the roles.
    let out = user(d)
        .args(["add", "x", "--role", "boss"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("boss") && stderr(&out).contains("qc_manager"));

    // The password of a service account from a file, the admin's from the environment.
    let pw_file = d.join("line-1.pw");
    std::fs::write(&pw_file, format!("{OPERATOR_PW}\n")).unwrap();
    run_ok(
        user(d)
            .args([
                "add",
                "line-1",
                "--role",
                "operator",
                "--service",
                "--user",
                "admin",
            ])
            .arg("--password-file")
            .arg(&pw_file)
            .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW),
    );

    let out = run_ok(user(d).args(["list", "--json"]));
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 2, "{users:?}");
    assert_eq!(users[0]["name"], "admin");
    assert_eq!(users[0]["display_name"], "Rosa Huamán");
    assert_eq!(users[0]["role"], "admin");
    assert_eq!(users[1]["name"], "line-1");
    assert_eq!(users[1]["service"], true);
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));

    run_ok(
        user(d)
            .args(["disable", "line-1", "--user", "admin"])
            .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW),
    );
    let out = run_ok(user(d).arg("list"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("line-1") && text.contains("disabled"),
        "{text}"
    );

    // The passwords are nowhere in the database, its WAL or its journal.
    let mut files = 0;
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("foodqc.sqlite") {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        for pw in [ADMIN_PW, OPERATOR_PW] {
            assert!(
                !bytes.windows(pw.len()).any(|w| w == pw.as_bytes()),
                "{pw} in clear in {name}"
            );
        }
    }
    assert!(files >= 1);
    let store = foodqc::store::Store::open(&d.join("foodqc.sqlite")).unwrap();
    let actions: Vec<String> = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect();
    assert_eq!(
        actions,
        [
            "admin user.create",
            "admin auth.failure",
            "admin auth.login",
            "admin user.create",
            "admin auth.login",
            "admin user.disable",
        ]
    );
}

#[test]
fn user_help_is_translated_including_nested_commands() {
    let out = run_ok(foodqc().args(["--lang", "es", "user", "add", "--help"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Agregar un usuario"), "{text}");
    assert!(text.contains("Rol: operator"), "{text}");
    let out = run_ok(foodqc().args(["--lang", "es", "user", "--help"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Comandos:") && text.contains("Listar los usuarios"),
        "{text}"
    );
}

/// A headless station started by a service account records the account in the audit log;
/// its password comes from a file; an admin's account cannot run the line, and a wrong
/// password starts nothing.
#[test]
fn a_service_account_runs_the_headless_station() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::add_users(d, &[("line-1", "operator"), ("adm.eva", "admin")]);
    let pw_file = d.join("line-1.pw");
    std::fs::write(&pw_file, format!("{}\n", common::USER_PW)).unwrap();
    let inspect = |user: &str| {
        let mut cmd = foodqc();
        cmd.arg("--data-dir")
            .arg(d)
            .args([
                "inspect",
                "--frames",
                "3",
                "--station",
                "cam-7",
                "--user",
                user,
            ])
            .env_remove("FOODQC_ACTOR_PASSWORD");
        cmd
    };
    run_ok(inspect("line-1").env("FOODQC_ACTOR_PASSWORD_FILE", &pw_file));
    let out = inspect("adm.eva")
        .env("FOODQC_ACTOR_PASSWORD", common::USER_PW)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("adm.eva"), "{}", stderr(&out));
    let out = inspect("line-1")
        .env("FOODQC_ACTOR_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert!(!out.status.success());

    let store = foodqc::store::Store::open(&d.join("foodqc.sqlite")).unwrap();
    let starts: Vec<(String, String)> = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "station.start")
        .map(|e| (e.actor, e.details.to_string()))
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0].0, "line-1");
    assert!(starts[0].1.contains("cam-7"), "{starts:?}");
}
