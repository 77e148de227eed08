//! Reports over the plant database equal the station's: the generated demo production (three
//! stations, shifts, lots, a bad lot, a drifting lot, a recipe) is recorded in a station
//! database whose outbox is on; its outbox messages are stored in a real PostgreSQL as the
//! collector stores them; then every report (summary, p-chart by lot, hour, shift and station,
//! Pareto, drift, lot dispositions, drill-down, CSV) is built from both and compared.

mod common;

use common::plant::{Postgres, pg_bin};
use foodqc::domain::Recipe;
use foodqc::reports::drift::DriftReference;
use foodqc::reports::{GroupBy, Report, ReportFilter, ReportSource, build_report, query};
use foodqc::store::LotStatus;
use foodqc::store::Store;
use foodqc::store::plant_db::{PlantAuditEntry, PlantDb, PlantInspection};

/// The station database with the demo production, its outbox on.
fn station(dir: &std::path::Path) -> Store {
    let mut store = Store::open(&dir.join("foodqc.sqlite")).unwrap();
    store.enable_outbox("planta-lima").unwrap();
    let opts = foodqc::reports::demo::GenerateOptions {
        rows: 30_000,
        items_per_lot: 1_500,
        ..Default::default()
    };
    // Station line-2 runs recipe "chispas" from the fourth hour on.
    let line2 = store.upsert_station("line-2", "synthetic:demo").unwrap();
    let recipe = store
        .save_recipe(
            &Recipe {
                name: "chispas".into(),
                ..Recipe::default()
            },
            "qc",
        )
        .unwrap();
    store
        .start_recipe_run(line2, Some(recipe.id), opts.start_ms + 4 * 3_600_000)
        .unwrap();
    foodqc::reports::demo::generate(&mut store, None, &opts, &|_| {}).unwrap();
    let lot = store.list_lots().unwrap()[3].clone();
    store
        .set_lot_status(lot.id, LotStatus::Hold, "ana", "grietas")
        .unwrap();
    store
}

/// Store the station's outbox in the plant database as the collector does.
fn publish(store: &mut Store, plant: &mut PlantDb) -> usize {
    let mut n = 0;
    loop {
        let rows = store.outbox_pending(5_000).unwrap();
        if rows.is_empty() {
            return n;
        }
        let mut inspections = Vec::new();
        let mut audit = Vec::new();
        for r in &rows {
            match r.topic.as_str() {
                "foodqc.inspections" => {
                    inspections.push(serde_json::from_str::<PlantInspection>(&r.payload).unwrap())
                }
                _ => audit.push(serde_json::from_str::<PlantAuditEntry>(&r.payload).unwrap()),
            }
        }
        n += plant.store_batch(&inspections, &audit).unwrap() as usize;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        store.mark_outbox_delivered(&ids, 1).unwrap();
    }
}

/// The report without what differs by design: query times, lot row ids (the plant knows lots
/// by code), and the last bits of mean scores (the two databases add in different orders).
fn comparable(mut r: Report) -> Report {
    r.timings_ms.clear();
    for d in &mut r.drift {
        d.mean_score = (d.mean_score * 1e9).round() / 1e9;
    }
    for l in &mut r.lots {
        l.lot_id = 0;
    }
    r
}

#[test]
fn plant_reports_equal_the_stations() {
    let Some(bin) = pg_bin() else {
        common::skip_or_fail("PostgreSQL is missing (apt-get install postgresql)");
        return;
    };
    let pg = Postgres::start(bin);
    let dir = tempfile::tempdir().unwrap();
    let mut store = station(dir.path());
    let mut plant = PlantDb::connect(&pg.url()).unwrap();
    let stored = publish(&mut store, &mut plant);
    let reader = PlantDb::open_for_reading(&pg.url()).unwrap();
    assert!(reader.is_plant());
    let reference = DriftReference::default();
    let lots = store.list_lots().unwrap();
    let held = lots.iter().find(|l| l.status == LotStatus::Hold).unwrap();
    let filters = [
        ReportFilter::default(),
        ReportFilter {
            station: Some("line-2".into()),
            ..Default::default()
        },
        ReportFilter {
            lot: Some(held.code.clone()),
            ..Default::default()
        },
        ReportFilter {
            shift: Some(lots[1].shift.clone()),
            verdict: Some("reject".into()),
            ..Default::default()
        },
        ReportFilter {
            product: Some("choc chip cookies".into()),
            line: Some("line 2".into()),
            ..Default::default()
        },
        ReportFilter {
            recipe: Some("chispas".into()),
            ..Default::default()
        },
        ReportFilter {
            defect_class: Some("unclassified".into()),
            model_version: Some("demo-v2".into()),
            ..Default::default()
        },
    ];
    let mut compared = 0;
    for f in &filters {
        for by in GroupBy::ALL {
            let here = comparable(build_report(&store, f, by, &reference).unwrap());
            let there = comparable(build_report(&reader, f, by, &reference).unwrap());
            assert!(here.summary.items > 0, "{f:?} selects something");
            assert_eq!(here, there, "report of {f:?} by {}", by.title());
            compared += 1;
        }
        // The drill-down: the same items, newest first.
        let key = |v: &foodqc::store::InspectionView| {
            (
                v.station.clone(),
                v.id,
                v.ts_ms,
                v.verdict.as_str(),
                v.lot_code.clone(),
            )
        };
        let a: Vec<_> = query::items(&store, f, false, 200)
            .unwrap()
            .iter()
            .map(key)
            .collect();
        let b: Vec<_> = query::items(&reader, f, false, 200)
            .unwrap()
            .iter()
            .map(key)
            .collect();
        assert_eq!(a.len(), b.len());
        assert_eq!(
            a.iter().collect::<std::collections::BTreeSet<_>>(),
            b.iter().collect::<std::collections::BTreeSet<_>>()
        );
    }
    // The held lot shows as held, with who held it and why.
    let r = build_report(&reader, &ReportFilter::default(), GroupBy::Lot, &reference).unwrap();
    let d = r.lots.iter().find(|l| l.code == held.code).unwrap();
    assert_eq!(d.status, LotStatus::Hold);
    assert_eq!(
        d.last_change.as_ref().map(|c| (c.0.as_str(), c.2.as_str())),
        Some(("ana", "grietas"))
    );
    // The filter menus offer the same values.
    let (a, b) = (
        store.filter_options().unwrap(),
        ReportSource::filter_options(&reader).unwrap(),
    );
    assert_eq!(
        (&a.stations, &a.lines, &a.products, &a.shifts, &a.defects),
        (&b.stations, &b.lines, &b.products, &b.shifts, &b.defects)
    );
    // A value the plant has never seen is named, not an empty report.
    let e = build_report(
        &reader,
        &ReportFilter {
            lot: Some("NO-SUCH-LOT".into()),
            ..Default::default()
        },
        GroupBy::Lot,
        &reference,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("NO-SUCH-LOT"), "{e}");
    // The CSV of the plant holds every row once.
    let csv = dir.path().join("plant.csv");
    let n = foodqc::reports::export::write_csv(
        &reader,
        &ReportFilter::default(),
        &csv,
        &|_| {},
        &Default::default(),
    )
    .unwrap();
    assert_eq!(n, 30_000);
    eprintln!("{stored} rows stored; {compared} reports equal on SQLite and PostgreSQL");
}

#[test]
fn the_report_command_reads_the_plant() {
    let Some(bin) = pg_bin() else {
        common::skip_or_fail("PostgreSQL is missing (apt-get install postgresql)");
        return;
    };
    let pg = Postgres::start(bin);
    let dir = tempfile::tempdir().unwrap();
    let mut store = station(dir.path());
    let mut plant = PlantDb::connect(&pg.url()).unwrap();
    publish(&mut store, &mut plant);
    let other = tempfile::tempdir().unwrap();
    let pdf = other.path().join("plant.pdf");
    let out = common::foodqc()
        .arg("--data-dir")
        .arg(other.path())
        .args(["report", "--plant", &pg.url(), "--by", "station", "--json"])
        .arg("--pdf")
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["items"], 30_000);
    let stations: Vec<&str> = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(stations, ["line-1-bottom", "line-1-top", "line-2"]);
    assert!(std::fs::metadata(&pdf).unwrap().len() > 10_000);
    // A plant lot decision needs the brokers it goes out through.
    let out = common::foodqc()
        .args([
            "report",
            "--plant",
            &pg.url(),
            "--hold",
            "L1",
            "--comment",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // An unreachable plant database is named, without its password.
    let out = common::foodqc()
        .args([
            "report",
            "--plant",
            "postgres://qc:secret@127.0.0.1:1/foodqc",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("postgres://qc@127.0.0.1:1/foodqc"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// TLS to the plant database: a server that takes TLS only is reached with `sslmode=require`
/// and its authority (`sslrootcert`), by the library and by `foodqc report --plant`;
/// plaintext is turned away, and a server whose certificate another authority signed is
/// refused, the error naming the database.
#[test]
fn the_plant_database_is_reached_over_tls_with_its_authority_only() {
    let certs = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let (Some(bin), Some(files), Some(stranger)) = (
        pg_bin(),
        common::plant::tls_files(certs.path()),
        common::plant::tls_files(other.path()),
    ) else {
        common::skip_or_fail("PostgreSQL or openssl is missing");
        return;
    };
    let pg = Postgres::start_tls_only(bin, &files);
    let url =
        |ca: &std::path::Path| format!("{}?sslmode=require&sslrootcert={}", pg.url(), ca.display());
    let db = PlantDb::connect(&url(&files.ca)).expect("TLS with the server's authority");
    assert_eq!(db.inspection_count().unwrap(), 0, "a round trip over TLS");
    drop(db);
    assert!(
        PlantDb::connect(&pg.url()).is_err(),
        "plaintext is turned away"
    );
    let err = PlantDb::connect(&url(&stranger.ca))
        .err()
        .expect("another authority")
        .to_string();
    assert!(err.contains("127.0.0.1"), "{err}");
    let out = common::run_ok(common::foodqc().arg("--data-dir").arg(certs.path()).args([
        "report",
        "--plant",
        &url(&files.ca),
        "--json",
    ]));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r.get("lots").is_some(), "{r}");
}
