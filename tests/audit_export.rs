//! `foodqc audit export`, run as a QC manager on a line PC would: users made with `foodqc user
//! add`, a signed PDF and a CSV of the lot entries, the signature on the audit trail, and
//! the refusals (a technician, the admin, a bad time, no reason).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::run_ok;

const ADMIN_PW: &str = "Andes-2026-Rosa";
const QC_PW: &str = "Calidad-Lima-2026";
const TECH_PW: &str = "Etiquetas-2026-Luis";

/// `foodqc --data-dir DIR ARGS...` with no password in the environment.
fn cmd(dir: &Path, args: &[&str]) -> Command {
    common::in_data_dir(dir, args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The station's users, as an admin makes them on a terminal.
fn add_users(d: &Path) {
    run_ok(cmd(d, &["user", "add", "admin", "--role", "admin"]).env("FOODQC_PASSWORD", ADMIN_PW));
    for (name, role, display, pw) in [
        ("qc.rosa", "qc_manager", "Rosa Quispe", QC_PW),
        ("tec.luis", "technician", "Luis Mamani", TECH_PW),
    ] {
        run_ok(
            cmd(d, &["user", "add", name, "--role", role, "--user", "admin"])
                .args(["--display-name", display])
                .env("FOODQC_PASSWORD", pw)
                .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW),
        );
    }
}

fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_qc_manager_exports_a_signed_extract_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_users(d);
    // Something to review: a lot held (signed) by the QC manager.
    run_ok(
        cmd(d, &["report", "--generate", "3000", "--hold", "L1102-A-1"])
            .args(["--comment", "grietas, año 2026", "--user", "qc.rosa"])
            .env("FOODQC_ACTOR_PASSWORD", QC_PW),
    );

    let pdf = d.join("audit-lots.pdf");
    let csv = d.join("audit-lots.csv");
    let out = run_ok(
        cmd(d, &["audit", "export", "--action", "lot"])
            .arg("--pdf")
            .arg(&pdf)
            .arg("--csv")
            .arg(&csv)
            .args(["--from", "2000-01-01", "--user", "qc.rosa"])
            .args(["--reason", "weekly records review"])
            .env("FOODQC_ACTOR_PASSWORD", QC_PW),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("signed as reviewed by Rosa Quispe (qc.rosa)"),
        "{stdout}"
    );
    assert!(
        stderr(&out).contains("audit trail intact"),
        "{}",
        stderr(&out)
    );
    let hash = stdout
        .split("content ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    assert_eq!(hash.len(), 64, "{stdout}");
    #[cfg(unix)]
    for f in [&pdf, &csv] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }

    // The PDF names the signer, the meaning, the reason and the hash it is bound to, and
    // the entries with their old and new values.
    let text = pdf_text(&pdf);
    for needle in [
        "Audit trail extract",
        "Filter: action lot",
        "Hash chain: audit trail intact",
        "Rosa Quispe (user qc.rosa, qc_manager)",
        "Meaning: reviewed (audit.review)",
        "Reason: weekly records review",
        hash.as_str(),
        "lot.status",
        "lot L1102-A-1",
        "before: open · after: hold",
        "grietas, año 2026",
        "UTC",
        "America/Lima",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the PDF:\n{text}"
        );
    }
    assert!(
        !text.contains("auth.login"),
        "the filter let other actions in:\n{text}"
    );

    // The CSV has the same rows: exactly the `lot` entries of the trail.
    let listed = run_ok(&mut cmd(d, &["audit", "list", "--action", "lot", "--json"]));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    assert_eq!(&headers[4], "action");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), listed.len());
    assert!(!rows.is_empty());
    // Oldest first in the extract, newest first in the list.
    for (row, entry) in rows.iter().zip(listed.iter().rev()) {
        assert_eq!(row[0], entry["id"].to_string());
        assert_eq!(&row[3], entry["actor"].as_str().unwrap());
        assert!(row[4].starts_with("lot"), "{row:?}");
    }
    let hold = rows.iter().find(|r| &r[4] == "lot.status").unwrap();
    assert_eq!(
        (&hold[5], &hold[6], &hold[7], &hold[8]),
        ("lot L1102-A-1", "open", "hold", "grietas, año 2026")
    );

    // The signature is on the audit trail, bound to the extract's hash.
    let sigs = run_ok(&mut cmd(
        d,
        &["audit", "list", "--action", "signature", "--json"],
    ));
    let sigs: serde_json::Value = serde_json::from_slice(&sigs.stdout).unwrap();
    let review = sigs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["details"]["action"] == "audit.review")
        .expect("the review's signature is audited");
    assert_eq!(review["actor"], "qc.rosa");
    assert_eq!(review["details"]["meaning"], "reviewed");
    assert_eq!(review["details"]["reason"], "weekly records review");
    assert_eq!(review["details"]["content_hash"], hash.as_str());
    assert_eq!(review["details"]["record_kind"], "audit_extract");
    // ... and the chain still holds.
    run_ok(&mut cmd(d, &["audit", "verify"]));

    // A technician may not read the trail: refused naming the permission, no file written.
    let refused = d.join("tech.pdf");
    let out = cmd(
        d,
        &[
            "audit", "export", "--user", "tec.luis", "--reason", "curious",
        ],
    )
    .arg("--pdf")
    .arg(&refused)
    .env("FOODQC_ACTOR_PASSWORD", TECH_PW)
    .output()
    .unwrap();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("view_audit_trail") && e.contains("qc_manager, admin"),
        "{e}"
    );
    assert!(!refused.exists());
    // The admin reads it but signs no review of it.
    let out = cmd(d, &["audit", "export", "--user", "admin", "--reason", "x"])
        .arg("--pdf")
        .arg(&refused)
        .env("FOODQC_ACTOR_PASSWORD", ADMIN_PW)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("review_audit_trail"),
        "{}",
        stderr(&out)
    );
    assert!(!refused.exists());

    // Bad values are named before anyone signs in.
    for (args, needles) in [
        (vec!["--from", "yesterday"], vec!["--from", "yesterday"]),
        (vec!["--to", "2026-13-45"], vec!["--to", "2026-13-45"]),
        (
            vec!["--from", "2026-11-20", "--to", "2026-11-19"],
            vec!["not after"],
        ),
        (vec!["--actor", "nobody"], vec!["nobody"]),
        (vec!["--reason", " "], vec!["--reason"]),
    ] {
        let mut c = cmd(d, &["audit", "export", "--user", "qc.rosa"]);
        if !args.contains(&"--reason") {
            c.args(["--reason", "r"]);
        }
        let out = c
            .args(&args)
            .arg("--pdf")
            .arg(d.join("x.pdf"))
            .env("FOODQC_ACTOR_PASSWORD", QC_PW)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        for n in needles {
            assert!(stderr(&out).contains(n), "{args:?}: {}", stderr(&out));
        }
    }
    let out = cmd(
        d,
        &["audit", "export", "--user", "qc.rosa", "--reason", "r"],
    )
    .env("FOODQC_ACTOR_PASSWORD", QC_PW)
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--pdf"), "{}", stderr(&out));
    let out = cmd(
        d,
        &["audit", "export", "--user", "qc.rosa", "--reason", "r"],
    )
    .arg("--pdf")
    .arg(d.join("no-such-folder/x.pdf"))
    .env("FOODQC_ACTOR_PASSWORD", QC_PW)
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-folder"), "{}", stderr(&out));
    assert!(!d.join("x.pdf").exists());
}

/// The extract in Spanish: the PDF's texts, accents intact.
#[test]
fn the_extract_speaks_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_users(d);
    let pdf = d.join("auditoria.pdf");
    let out = run_ok(
        cmd(d, &["--lang", "es", "audit", "export", "--user", "qc.rosa"])
            .args(["--reason", "revisión semanal"])
            .arg("--pdf")
            .arg(&pdf)
            .env("FOODQC_ACTOR_PASSWORD", QC_PW),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("firmadas como revisado"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = pdf_text(&pdf);
    for needle in [
        "Extracto del registro de auditoría",
        "Filtro: todas las entradas",
        "Firma electrónica",
        "Significado: revisado",
        "Motivo: revisión semanal",
        "user.create",
        "página 1 de 1",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the PDF:\n{text}"
        );
    }
}
