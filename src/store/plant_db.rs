//! The plant database (PostgreSQL) the collector fills from every station's Kafka messages:
//! its schema, kept by numbered migrations that several collectors may run at once (an
//! advisory lock serialises them), and idempotent writes: `(station, id)` is the key of an
//! inspection, `(origin, id)` of an audit entry, so a message delivered twice is stored once.

use std::cell::RefCell;

use postgres::{Client, NoTls};

/// The plant schema, oldest first; index + 1 is the version it makes.
const PLANT_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE inspections (
    station        TEXT             NOT NULL,
    id             BIGINT           NOT NULL,
    ts_ms          BIGINT           NOT NULL,
    frame          BIGINT           NOT NULL,
    item           INTEGER          NOT NULL,
    track          BIGINT,
    verdict        TEXT             NOT NULL CHECK (verdict IN ('pass', 'review', 'reject')),
    score          DOUBLE PRECISION,
    defect_class   TEXT,
    lot            TEXT,
    model_version  TEXT,
    bbox_x         INTEGER,
    bbox_y         INTEGER,
    bbox_w         INTEGER,
    bbox_h         INTEGER,
    PRIMARY KEY (station, id)
);
CREATE INDEX inspections_ts ON inspections (ts_ms);
CREATE INDEX inspections_lot ON inspections (lot, ts_ms);
CREATE TABLE audit_log (
    origin   TEXT    NOT NULL,
    id       BIGINT  NOT NULL,
    ts_ms    BIGINT  NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    details  TEXT    NOT NULL,
    PRIMARY KEY (origin, id)
);
"#,
    r#"
ALTER TABLE inspections
    ADD COLUMN product TEXT,
    ADD COLUMN line    TEXT,
    ADD COLUMN shift   TEXT,
    ADD COLUMN recipe  TEXT;
CREATE INDEX inspections_station ON inspections (station, ts_ms);
CREATE INDEX inspections_verdict ON inspections (verdict, ts_ms);
CREATE INDEX audit_log_lot_status ON audit_log ((details::jsonb ->> 'code'), ts_ms)
    WHERE action = 'lot.status';
"#,
];

/// The plant schema version this build makes and understands.
pub const PLANT_SCHEMA_VERSION: usize = PLANT_MIGRATIONS.len();

/// A plant database problem, naming the database (without its password) and what failed.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("plant-db-error", db = .db.as_str(), what = .what.to_string(), error = .source.to_string()))]
pub struct PlantDbError {
    /// The database's address, password left out.
    pub db: String,
    /// What was being done.
    pub what: &'static str,
    /// The client's error (or the TLS setting's).
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// One inspection as a station published it.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct PlantInspection {
    /// Station name (the message key).
    pub station: String,
    /// The station database's row id.
    pub id: i64,
    /// When it was judged (unix ms).
    pub ts_ms: i64,
    /// Frame number.
    pub frame: i64,
    /// Item index in the frame.
    pub item: i32,
    /// Tracker id.
    pub track: Option<i64>,
    /// `pass`, `review` or `reject`.
    pub verdict: String,
    /// Anomaly score (none when not a number).
    pub score: Option<f64>,
    /// Defect class, when named.
    pub defect_class: Option<String>,
    /// Lot code.
    pub lot: Option<String>,
    /// The lot's product.
    #[serde(default)]
    pub product: Option<String>,
    /// The lot's production line.
    #[serde(default)]
    pub line: Option<String>,
    /// The lot's shift.
    #[serde(default)]
    pub shift: Option<String>,
    /// The recipe the station ran.
    #[serde(default)]
    pub recipe: Option<String>,
    /// Model version.
    pub model_version: Option<String>,
    /// `[x, y, w, h]`, pixels.
    pub bbox: Option<[i32; 4]>,
}

/// One audit entry as a station published it.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct PlantAuditEntry {
    /// The publishing station.
    pub origin: String,
    /// The station database's row id.
    pub id: i64,
    /// When (unix ms).
    pub ts_ms: i64,
    /// Who.
    pub actor: String,
    /// What (`lot.hold`, `station.recipe`...).
    pub action: String,
    /// The details, as JSON.
    pub details: serde_json::Value,
}

/// A connection to the plant database.
pub struct PlantDb {
    // Reports read through `&self` like they do a station's `Store`; one thread at a time.
    pub(super) client: RefCell<Client>,
    pub(super) name: String,
}

/// `url` without its password, for messages and saved settings.
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Wraps a client error of `what` on database `db`.
pub(super) fn error_for(
    db: &str,
    what: &'static str,
) -> impl FnOnce(postgres::Error) -> PlantDbError + use<> {
    let db = db.to_string();
    move |source| PlantDbError {
        db,
        what,
        source: Box::new(source),
    }
}

/// A client of `url`, giving up after 10 s when the server does not answer. With
/// `sslmode=require` (or `verify-ca`, `verify-full`) in the URL the connection is TLS and the
/// server's certificate is checked against `sslrootcert=FILE` (else the system's authorities)
/// and its host name: libpq's `verify-full`, always. Without it, plaintext.
fn connect_client(url: &str, name: &str) -> Result<Client, PlantDbError> {
    let (url, tls) = tls_settings(url);
    let mut config: postgres::Config = url.parse().map_err(error_for(name, "connect"))?;
    config.connect_timeout(std::time::Duration::from_secs(10));
    match tls {
        None => config.connect(NoTls).map_err(error_for(name, "connect")),
        Some(root) => {
            let tls = rustls_connector(root.as_deref()).map_err(|why| PlantDbError {
                db: name.to_string(),
                what: "connect",
                source: why.into(),
            })?;
            config.connect(tls).map_err(error_for(name, "connect"))
        }
    }
}

/// `url` without the TLS settings the client does not read itself, and TLS: `None` for
/// plaintext, `Some(root)` for TLS checked against the authorities in `root` (a PEM file) or
/// the system's.
fn tls_settings(url: &str) -> (String, Option<Option<String>>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut kept = Vec::new();
    let (mut tls, mut root) = (false, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" if matches!(value, "require" | "verify-ca" | "verify-full") => {
                tls = true;
                kept.push("sslmode=require".to_string());
            }
            "sslrootcert" => root = Some(value.to_string()),
            _ => kept.push(pair.to_string()),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    // A root certificate given is a wish for TLS, as with libpq's verify modes.
    let tls = tls || root.is_some();
    let url = if tls && !url.contains("sslmode=") {
        format!(
            "{url}{}sslmode=require",
            if url.contains('?') { "&" } else { "?" }
        )
    } else {
        url
    };
    (url, tls.then_some(root))
}

/// A rustls connector checking the server against the authorities in PEM file `root`, or
/// the system's; the error names the file.
fn rustls_connector(
    root: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("sslrootcert {file}: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {file}: no certificate"));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    // ring, not aws-lc-rs (a cmake build of minutes): classical key exchange, which rustls
    // now marks deprecated for want of post-quantum groups.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PlantDb {
    /// Connect to `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`) and bring its schema up
    /// to [`PLANT_SCHEMA_VERSION`].
    pub fn connect(url: &str) -> Result<PlantDb, PlantDbError> {
        let name = without_password(url);
        let client = connect_client(url, &name)?;
        let mut db = PlantDb {
            client: RefCell::new(client),
            name,
        };
        db.migrate()?;
        Ok(db)
    }

    /// Connect to `url` to read it (reports): the schema must be there, made by a collector;
    /// an older one is brought up to date like [`PlantDb::connect`] does.
    pub fn open_for_reading(url: &str) -> Result<PlantDb, PlantDbError> {
        let name = without_password(url);
        let mut client = connect_client(url, &name)?;
        // A reading role need not be allowed to create tables: only a schema that is behind
        // is migrated. No `foodqc_schema` table is an error that names it.
        let version: i32 = client
            .query_one("SELECT max(version) FROM foodqc_schema", &[])
            .map_err(error_for(&name, "read the schema version"))?
            .get::<_, Option<i32>>(0)
            .unwrap_or(0);
        let mut db = PlantDb {
            client: RefCell::new(client),
            name,
        };
        if (version as usize) < PLANT_SCHEMA_VERSION {
            db.migrate()?;
        }
        Ok(db)
    }

    fn migrate(&mut self) -> Result<(), PlantDbError> {
        let name = self.name.clone();
        let mut tx = self
            .client
            .get_mut()
            .transaction()
            .map_err(error_for(&name, "migrate"))?;
        // Several collectors may start at once: one migrates, the others wait and see it done.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7263001);
             CREATE TABLE IF NOT EXISTS foodqc_schema (version INTEGER NOT NULL);",
        )
        .map_err(error_for(&name, "migrate"))?;
        let version: i32 = tx
            .query_opt("SELECT version FROM foodqc_schema", &[])
            .map_err(error_for(&name, "migrate"))?
            .map_or(0, |r| r.get(0));
        for (i, sql) in PLANT_MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).map_err(error_for(&name, "migrate"))?;
            let v = (i + 1) as i32;
            tx.execute("DELETE FROM foodqc_schema", &[])
                .map_err(error_for(&name, "migrate"))?;
            tx.execute("INSERT INTO foodqc_schema (version) VALUES ($1)", &[&v])
                .map_err(error_for(&name, "migrate"))?;
        }
        tx.commit().map_err(error_for(&name, "migrate"))
    }

    /// The database's address, without its password (for messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many inspections the plant database holds.
    pub fn inspection_count(&self) -> Result<i64, PlantDbError> {
        self.client
            .borrow_mut()
            .query_one("SELECT count(*) FROM inspections", &[])
            .map(|r| r.get(0))
            .map_err(error_for(&self.name, "count inspections"))
    }

    /// Store a batch in one transaction; rows already there are left as they are. The rows
    /// newly stored.
    pub fn store_batch(
        &mut self,
        inspections: &[PlantInspection],
        audit: &[PlantAuditEntry],
    ) -> Result<u64, PlantDbError> {
        let name = self.name.clone();
        let mut tx = self
            .client
            .get_mut()
            .transaction()
            .map_err(error_for(&name, "begin"))?;
        let mut added = 0;
        // One statement per table, the batch as arrays (`unnest`): one round trip however
        // many rows, several times faster than a statement per row.
        if !inspections.is_empty() {
            let col = |f: &dyn Fn(&PlantInspection) -> Option<String>| -> Vec<Option<String>> {
                inspections.iter().map(f).collect()
            };
            let stations: Vec<&str> = inspections.iter().map(|r| r.station.as_str()).collect();
            let ids: Vec<i64> = inspections.iter().map(|r| r.id).collect();
            let ts: Vec<i64> = inspections.iter().map(|r| r.ts_ms).collect();
            let frames: Vec<i64> = inspections.iter().map(|r| r.frame).collect();
            let items: Vec<i32> = inspections.iter().map(|r| r.item).collect();
            let tracks: Vec<Option<i64>> = inspections.iter().map(|r| r.track).collect();
            let verdicts: Vec<&str> = inspections.iter().map(|r| r.verdict.as_str()).collect();
            let scores: Vec<Option<f64>> = inspections.iter().map(|r| r.score).collect();
            let bbox = |i: usize| -> Vec<Option<i32>> {
                inspections.iter().map(|r| r.bbox.map(|b| b[i])).collect()
            };
            let (defects, lots, models) = (
                col(&|r| r.defect_class.clone()),
                col(&|r| r.lot.clone()),
                col(&|r| r.model_version.clone()),
            );
            let (products, lines, shifts, recipes) = (
                col(&|r| r.product.clone()),
                col(&|r| r.line.clone()),
                col(&|r| r.shift.clone()),
                col(&|r| r.recipe.clone()),
            );
            let (bx, by, bw, bh) = (bbox(0), bbox(1), bbox(2), bbox(3));
            added += tx
                .execute(
                    "INSERT INTO inspections (station, id, ts_ms, frame, item, track, verdict,
                         score, defect_class, lot, model_version, bbox_x, bbox_y, bbox_w, bbox_h,
                         product, line, shift, recipe)
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                         $5::int[], $6::bigint[], $7::text[], $8::float8[], $9::text[],
                         $10::text[], $11::text[], $12::int[], $13::int[], $14::int[], $15::int[],
                         $16::text[], $17::text[], $18::text[], $19::text[])
                     ON CONFLICT (station, id) DO NOTHING",
                    &[
                        &stations, &ids, &ts, &frames, &items, &tracks, &verdicts, &scores,
                        &defects, &lots, &models, &bx, &by, &bw, &bh, &products, &lines, &shifts,
                        &recipes,
                    ],
                )
                .map_err(error_for(&name, "insert inspections"))?;
        }
        if !audit.is_empty() {
            let origins: Vec<&str> = audit.iter().map(|a| a.origin.as_str()).collect();
            let ids: Vec<i64> = audit.iter().map(|a| a.id).collect();
            let ts: Vec<i64> = audit.iter().map(|a| a.ts_ms).collect();
            let actors: Vec<&str> = audit.iter().map(|a| a.actor.as_str()).collect();
            let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
            let details: Vec<String> = audit.iter().map(|a| a.details.to_string()).collect();
            added += tx
                .execute(
                    "INSERT INTO audit_log (origin, id, ts_ms, actor, action, details)
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[],
                         $5::text[], $6::text[])
                     ON CONFLICT (origin, id) DO NOTHING",
                    &[&origins, &ids, &ts, &actors, &actions, &details],
                )
                .map_err(error_for(&name, "insert audit entries"))?;
        }
        tx.commit().map_err(error_for(&name, "commit"))?;
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_is_asked_by_sslmode_or_a_root_certificate_and_always_verified() {
        let plain = "postgres://qc@db:5432/foodqc";
        assert_eq!(super::tls_settings(plain), (plain.to_string(), None));
        assert_eq!(
            super::tls_settings("postgres://qc@db/f?sslmode=verify-full&sslrootcert=/ca.pem"),
            (
                "postgres://qc@db/f?sslmode=require".to_string(),
                Some(Some("/ca.pem".into()))
            )
        );
        assert_eq!(
            super::tls_settings("postgres://qc@db/f?sslrootcert=/ca.pem&connect_timeout=5"),
            (
                "postgres://qc@db/f?connect_timeout=5&sslmode=require".to_string(),
                Some(Some("/ca.pem".into()))
            )
        );
        assert_eq!(
            super::tls_settings("postgres://qc@db/f?sslmode=require").1,
            Some(None),
            "the system's authorities"
        );
        assert_eq!(
            super::tls_settings("postgres://qc@db/f?sslmode=disable").1,
            None
        );
    }

    #[test]
    fn messages_name_the_database_without_its_password() {
        assert_eq!(
            super::without_password("postgres://qc:secret@db.plant:5432/foodqc"),
            "postgres://qc@db.plant:5432/foodqc"
        );
        assert_eq!(
            super::without_password("postgres://db.plant/foodqc"),
            "postgres://db.plant/foodqc"
        );
    }
}
