//! `foodqc report`, run as a QC manager (or a script on the line PC) would.

mod common;

use common::{USER_PW, add_users, as_user, foodqc, run_ok, skip_or_fail};

#[test]
fn report_generates_holds_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("out.pdf");
    let csv = dir.path().join("out.csv");
    add_users(dir.path(), &[("qc.bo", "qc_manager")]);
    // A generated database, a report over one shift, a lot held on the way, PDF and CSV.
    let out = run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["report", "--generate", "21000", "--json", "--shift", "A"])
            .args([
                "--hold",
                "L1102-A-1",
                "--comment",
                "too many cracks",
                "--user",
                "qc.bo",
            ])
            .env("FOODQC_ACTOR_PASSWORD", USER_PW)
            .arg("--pdf")
            .arg(&pdf)
            .arg("--csv")
            .arg(&csv),
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 21,000 rows in lots of 7,000: three lots, all in shift A of the first day.
    assert_eq!(r["summary"]["items"], 21_000, "{r}");
    let held: Vec<&serde_json::Value> = r["lots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["status"] == "hold")
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["code"], "L1102-A-1");
    assert_eq!(held[0]["last_change"][0], "qc.bo");
    assert!(pdf.metadata().unwrap().len() > 1000);
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(rows, 21_001, "header + one line per inspection");

    // Typos are errors naming the field and value, not empty reports.
    for (args, needle) in [
        (vec!["--lot", "NOPE"], "NOPE"),
        (vec!["--verdict", "maybe"], "maybe"),
        (vec!["--from", "yesterday"], "yesterday"),
        (vec!["--by", "week"], "week"),
        (vec!["--release", "NOPE", "--comment", "x"], "NOPE"),
    ] {
        let out = foodqc()
            .arg("--data-dir")
            .arg(dir.path())
            .arg("report")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// `foodqc --lang es report --pdf F` (and `LANG=es_PE.UTF-8`): the printed report, the PDF
/// and `--help` in Spanish, accents and ñ intact through the PDF's WinAnsi fonts.
#[test]
fn report_in_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("reporte.pdf");
    add_users(dir.path(), &[("qc.rosa", "qc_manager")]);
    let out = run_ok(
        foodqc()
            .args(["--lang", "es", "--data-dir"])
            .arg(dir.path())
            .args(["report", "--generate", "3000", "--by", "hour"])
            .args(["--hold", "L1102-A-1", "--comment", "grietas, año 2026"])
            .args(["--user", "qc.rosa"])
            .env("FOODQC_ACTOR_PASSWORD", USER_PW)
            .arg("--pdf")
            .arg(&pdf),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "reporte foodqc:",
        "piezas",
        "inspeccionadas",
        "gráfico p",
        "horas",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in:\n{stdout}");
    }
    assert!(stderr.contains("ahora está RETENIDO"), "{stderr}");
    assert!(stderr.contains("se escribió"), "{stderr}");

    let text = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "Reporte de calidad foodqc",
        "Resumen",
        "Piezas inspeccionadas",
        "Rechazadas",
        "Gráfico p: proporción de rechazo por hora",
        "Pareto de clases de defecto",
        "Deriva",
        "RETENIDO",
        "grietas, año 2026",
        "Disposición decidida por Calidad",
        "Firma",
        "(America/Lima)",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the PDF:\n{text}"
        );
    }
    assert!(
        !text.contains("Items inspected"),
        "English left in:\n{text}"
    );

    // The locale alone chooses Spanish; --lang en wins over it.
    let help = run_ok(
        foodqc()
            .env("LANG", "es_PE.UTF-8")
            .args(["report", "--help"]),
    );
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Uso:") && help.contains("Opciones"), "{help}");
    assert!(help.contains("Escribir aquí el reporte en PDF."), "{help}");
    let help = run_ok(
        foodqc()
            .env("LANG", "es_PE.UTF-8")
            .args(["--lang", "en", "report", "--help"]),
    );
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Write the PDF report here."), "{help}");
}

/// Names typed in any script print as typed (issue 16): a Japanese lot code, a Cyrillic
/// product, a Japanese user name and an Arabic comment through installed Unicode fonts
/// embedded in the PDF, while Spanish accents stay in Helvetica.
#[test]
fn report_prints_non_latin_names_as_typed() {
    for c in ['ロ', 'К', 'ع'] {
        if foodqc::reports::pdf::unicode_font_for(c).is_none() {
            return skip_or_fail(&format!(
                "no installed TrueType font has {c:?} (install fonts-droid-fallback and \
                 fonts-dejavu-core)"
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("reporte.pdf");
    run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["inspect", "--source", "synthetic", "--frames", "60"])
            .args(["--lot", "ロット-42", "--product", "Кекс"]),
    );
    {
        // A QC manager whose name is written in kanji: the PDF's author and signer.
        use foodqc::services::auth::{NewAccount, authenticate, create_user};
        add_users(dir.path(), &[]);
        let mut store = foodqc::store::Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
        let admin = authenticate(&mut store, "admin", USER_PW).unwrap();
        let acc = NewAccount {
            name: "yamada",
            display_name: Some("山田"),
            role: foodqc::domain::Role::QcManager,
            service: false,
        };
        create_user(&mut store, Some(&admin), &acc, USER_PW).unwrap();
    }
    run_ok(
        foodqc()
            .args(["--lang", "es", "--data-dir"])
            .arg(dir.path())
            .args(["report", "--lot", "ロット-42"])
            .args([
                "--hold",
                "ロット-42",
                "--comment",
                "grietas, año 2026, عسل نحل",
            ])
            .args(["--user", "yamada"])
            .env("FOODQC_ACTOR_PASSWORD", USER_PW)
            .arg("--pdf")
            .arg(&pdf),
    );
    let text = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    // pdftotext wraps right-to-left text in embedding marks (U+202B ... U+202C).
    let text = String::from_utf8_lossy(&text.stdout).replace(['\u{202b}', '\u{202c}'], "");
    for needle in [
        // Arabic in logical order: shaped and laid out right to left, it extracts as typed.
        "عسل نحل",
        "ロット-42",
        "Кекс",
        "山田",
        "grietas, año 2026",
        "Disposición decidida por Calidad",
        "RETENIDO",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the PDF:\n{text}"
        );
    }
    assert!(!text.contains("???"), "characters lost:\n{text}");
    // The document information keeps the author as typed too.
    let info = std::process::Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Author:") && l.ends_with("山田")),
        "{info}"
    );
    // Helvetica still prints the Latin text; the other scripts come from embedded subsets.
    let fonts = std::process::Command::new("pdffonts")
        .arg(&pdf)
        .output()
        .expect("pdffonts (poppler-utils) is installed");
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("Helvetica "), "{fonts}");
    let embedded: Vec<&str> = fonts
        .lines()
        .filter(|l| l.contains("CID TrueType"))
        .collect();
    assert!(!embedded.is_empty(), "{fonts}");
    for l in embedded {
        // Embedded, subset, with a ToUnicode map.
        assert!(
            l.contains("Identity-H") && l.contains(" yes yes yes "),
            "{l}"
        );
    }
}

/// A QC manager closes a shift's report (signed "reviewed"); the PDF and the printed report
/// show who reviewed it and when; the same content is not closed twice; a technician cannot.
#[test]
fn a_shift_report_is_closed_with_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("shift.pdf");
    add_users(
        dir.path(),
        &[("qc.bo", "qc_manager"), ("tec.ana", "technician")],
    );
    let out = run_ok(foodqc().arg("--data-dir").arg(dir.path()).args([
        "report",
        "--generate",
        "7000",
        "--json",
        "--shift",
        "A",
    ]));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = r["summary"]["first_ts_ms"].as_i64().unwrap();
    let day = jiff::Timestamp::from_millisecond(first)
        .unwrap()
        .to_zoned(foodqc::i18n::plant_time_zone().clone())
        .date();
    let date = day.to_string();
    let close = |user: &str| {
        let mut cmd = foodqc();
        cmd.arg("--data-dir").arg(dir.path()).args([
            "report",
            "--close-shift",
            &date,
            "--shift",
            "A",
            "--comment",
            "counts and holds checked",
        ]);
        as_user(&mut cmd, user);
        cmd
    };
    let out = close("tec.ana").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tec.ana"), "{stderr}");

    let out = run_ok(close("qc.bo").arg("--pdf").arg(&pdf));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("shift report {date}/A closed: reviewed by")),
        "{stderr}"
    );
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        format!("Review of {date}/A"),
        "reviewed by qc.bo (qc.bo)".to_string(),
        "counts and holds checked".to_string(),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing from:\n{text}");
    }

    let out = close("qc.bo").output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already closed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Reading the same shift later shows the review.
    let next = day.tomorrow().unwrap().to_string();
    let out = run_ok(
        foodqc()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["report", "--shift", "A", "--from", &date, "--to", &next]),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{date}/A: reviewed by qc.bo")),
        "{stdout}"
    );
}
