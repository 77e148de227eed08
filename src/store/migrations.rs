//! The database schema, as an ordered list of migrations.
//!
//! The schema version lives in `PRAGMA user_version` (rusqlite_migration). Never edit a
//! migration that has shipped: append a new one.

use rusqlite_migration::{M, Migrations};

/// Migration 1: the whole initial schema.
///
/// Tables are `STRICT` so SQLite enforces the declared types. Timestamps are INTEGER unix
/// milliseconds (UTC). Foreign keys have no ON DELETE action: deleting a lot, station, model
/// version or sample that inspections still refer to is refused.
const SCHEMA_V1: &str = r#"
CREATE TABLE stations (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE CHECK (length(name) > 0),
    source      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE lots (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) > 0),
    product     TEXT    NOT NULL,
    line        TEXT    NOT NULL,
    shift       TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'hold', 'released')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE model_versions (
    id                  INTEGER PRIMARY KEY,
    version             TEXT    NOT NULL UNIQUE CHECK (length(version) > 0),
    path                TEXT    NOT NULL,
    kind                TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    params_json         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params_json)),
    metrics_json        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metrics_json)),
    data_snapshot_json  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(data_snapshot_json)),
    active              INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))
) STRICT;
-- At most one active model: a unique index over the rows with active = 1 only.
CREATE UNIQUE INDEX model_versions_one_active ON model_versions (active) WHERE active = 1;

CREATE TABLE samples (
    id          INTEGER PRIMARY KEY,
    path        TEXT    NOT NULL,
    hash        TEXT    NOT NULL UNIQUE
                CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
    width       INTEGER NOT NULL CHECK (width > 0),
    height      INTEGER NOT NULL CHECK (height > 0),
    source      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX samples_created ON samples (created_at);

CREATE TABLE inspections (
    id                INTEGER PRIMARY KEY,
    ts                INTEGER NOT NULL,
    station_id        INTEGER NOT NULL REFERENCES stations (id),
    lot_id            INTEGER REFERENCES lots (id),
    model_version_id  INTEGER REFERENCES model_versions (id),
    frame_seq         INTEGER NOT NULL CHECK (frame_seq >= 0),
    item_index        INTEGER NOT NULL CHECK (item_index >= 0),
    track_id          INTEGER,
    score             REAL    NOT NULL,
    verdict           TEXT    NOT NULL CHECK (verdict IN ('pass', 'reject', 'review')),
    defect_class      TEXT,
    bbox_x            INTEGER NOT NULL CHECK (bbox_x >= 0),
    bbox_y            INTEGER NOT NULL CHECK (bbox_y >= 0),
    bbox_w            INTEGER NOT NULL CHECK (bbox_w >= 0),
    bbox_h            INTEGER NOT NULL CHECK (bbox_h >= 0),
    sample_id         INTEGER REFERENCES samples (id)
) STRICT;
CREATE INDEX inspections_ts ON inspections (ts);
-- verdict rides along so per-lot counts (lot_summaries) read the index only.
CREATE INDEX inspections_lot_ts ON inspections (lot_id, ts, verdict);
CREATE INDEX inspections_station_ts ON inspections (station_id, ts);
CREATE INDEX inspections_verdict_ts ON inspections (verdict, ts);
-- Few inspections keep a crop: a partial index stays small.
CREATE INDEX inspections_sample ON inspections (sample_id) WHERE sample_id IS NOT NULL;

CREATE TABLE labels (
    id          INTEGER PRIMARY KEY,
    sample_id   INTEGER NOT NULL REFERENCES samples (id),
    label       TEXT    NOT NULL CHECK (length(label) > 0),
    mask_path   TEXT,
    labeled_by  TEXT    NOT NULL CHECK (length(labeled_by) > 0),
    created_at  INTEGER NOT NULL
) STRICT;
-- The latest label of a sample is the one with the highest id.
CREATE INDEX labels_sample ON labels (sample_id, id);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    ts            INTEGER NOT NULL,
    actor         TEXT    NOT NULL CHECK (length(actor) > 0),
    action        TEXT    NOT NULL CHECK (length(action) > 0),
    details_json  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details_json))
) STRICT;
CREATE INDEX audit_log_ts ON audit_log (ts);
-- Append-only: the audit trail must not be rewritten after the fact.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
"#;

/// Migration: the defect taxonomy the labellers use, and per-model scores of samples (so the
/// labelling queue can put the most uncertain samples first without re-scoring them).
const SCHEMA_LABELING: &str = r#"
CREATE TABLE defect_classes (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL UNIQUE CHECK (length(name) > 0 AND name <> 'good'),
    colour    TEXT    NOT NULL CHECK (length(colour) = 7 AND colour GLOB '#[0-9a-f]*'),
    hotkey    INTEGER CHECK (hotkey BETWEEN 1 AND 9),
    position  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX defect_classes_hotkey ON defect_classes (hotkey) WHERE hotkey IS NOT NULL;
INSERT INTO defect_classes (name, colour, hotkey, position) VALUES
    ('crack',          '#e8553e', 1, 1),
    ('burnt',          '#6b3a1e', 2, 2),
    ('discoloration',  '#d9a521', 3, 3),
    ('mould/rot',      '#4f8a3c', 4, 4),
    ('foreign matter', '#3f7fd9', 5, 5),
    ('misshape',       '#a05ad6', 6, 6),
    ('missing piece',  '#d94f9e', 7, 7);

CREATE TABLE sample_scores (
    sample_id      INTEGER NOT NULL REFERENCES samples (id),
    model_version  TEXT    NOT NULL,
    score          REAL    NOT NULL,
    threshold      REAL    NOT NULL CHECK (threshold > 0),
    predicted      TEXT    NOT NULL,
    items          INTEGER NOT NULL CHECK (items >= 0),
    scored_at      INTEGER NOT NULL,
    PRIMARY KEY (sample_id, model_version)
) STRICT;
"#;

/// Threshold settings per model version: every Apply appends a row (the newest row is the
/// setting in force), so a revert is just another row and the history is never rewritten.
const SCHEMA_THRESHOLDS: &str = r#"
CREATE TABLE model_thresholds (
    id                INTEGER PRIMARY KEY,
    model_version_id  INTEGER NOT NULL REFERENCES model_versions (id),
    reject            REAL    NOT NULL,
    review            REAL,
    pixel             REAL    NOT NULL,
    per_class_json    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(per_class_json)),
    set_by            TEXT    NOT NULL CHECK (length(set_by) > 0),
    reason            TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    CHECK (review IS NULL OR review <= reject)
) STRICT;
CREATE INDEX model_thresholds_model ON model_thresholds (model_version_id, id);
"#;

/// Reports: indexes for the QC report queries (p-chart, Pareto, drift, exports) at millions of
/// rows. Each report query filters by time and/or verdict and aggregates verdict, score and
/// defect class, so two covering indexes let them read an index only, never the table:
/// - time first, for date-range reports and hourly charts;
/// - verdict first, for the drift trend (passed items' scores) and the Pareto (rejects'
///   defect classes).
const SCHEMA_REPORTS: &str = r#"
CREATE INDEX inspections_report_ts ON inspections
    (ts, verdict, score, lot_id, station_id, model_version_id, defect_class);
CREATE INDEX inspections_report_verdict ON inspections (verdict, ts, score, defect_class);
"#;

/// Faults: an inspection whose crop could not be saved (disk full, read-only samples folder)
/// is still recorded and says why its crop is missing; rows replayed from the pending journal
/// (see [`super::journal`]) leave their key here, so replaying a journal twice inserts nothing
/// twice.
const SCHEMA_FAULTS: &str = r#"
ALTER TABLE inspections ADD COLUMN sample_missing TEXT
    CHECK (sample_missing IS NULL OR length(sample_missing) > 0);
CREATE TABLE journal_replayed (
    key          TEXT    PRIMARY KEY,
    replayed_at  INTEGER NOT NULL
) STRICT;
"#;

/// Drift baseline: the first passed items a model version judged, in time order (see
/// [`crate::store::Store::drift_baseline`]), without walking every older row.
const SCHEMA_DRIFT_BASELINE: &str = r#"
CREATE INDEX inspections_model_ts ON inspections (model_version_id, ts);
"#;

/// Users of the station: login name, role and an Argon2id PHC hash (never the password).
/// Failed attempts and the lock live here so a lockout survives a restart. Users are disabled,
/// never deleted: the audit log and signatures keep referring to them by name.
const SCHEMA_USERS: &str = r#"
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE
                         CHECK (length(name) BETWEEN 1 AND 32
                                AND name NOT GLOB '*[^a-z0-9._-]*'
                                AND name GLOB '[a-z0-9]*'),
    display_name         TEXT    NOT NULL CHECK (length(trim(display_name)) BETWEEN 1 AND 128),
    role                 TEXT    NOT NULL
                         CHECK (role IN ('operator', 'technician', 'data_scientist',
                                         'qc_manager', 'admin')),
    password_hash        TEXT    NOT NULL CHECK (password_hash GLOB '$argon2id$*'),
    service              INTEGER NOT NULL DEFAULT 0 CHECK (service IN (0, 1)),
    disabled             INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    failed_attempts      INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until         INTEGER,
    created_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL
) STRICT;
CREATE TRIGGER users_no_delete BEFORE DELETE ON users
BEGIN
    SELECT RAISE(ABORT, 'users are disabled, never deleted: DELETE refused');
END;
"#;

/// Tamper evidence (issue 17): a keyed hash chain over `audit_log` (each entry carries
/// `prev_hash` and `hash`, see [`super::chain`]) and over the inspections, in batches
/// (`inspection_batches`: one row per recorder transaction, hashing the rows `first_id..=last_id`).
/// The hashes are BLOBs of 32 bytes; the key is a file outside the database. Rows written
/// before this migration carry no hash: the next open chains them (an `audit.chain_start`
/// entry, a first batch over the older inspections). Batches, like the audit log, are
/// append-only, and inspections can no longer be updated or deleted.
const SCHEMA_AUDIT_CHAIN: &str = r#"
ALTER TABLE audit_log ADD COLUMN prev_hash BLOB CHECK (prev_hash IS NULL OR length(prev_hash) = 32);
ALTER TABLE audit_log ADD COLUMN hash BLOB CHECK (hash IS NULL OR length(hash) = 32);
CREATE TABLE inspection_batches (
    id          INTEGER PRIMARY KEY,
    first_id    INTEGER NOT NULL,
    last_id     INTEGER NOT NULL,
    row_count   INTEGER NOT NULL CHECK (row_count >= 0),
    created_at  INTEGER NOT NULL,
    prev_hash   BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    CHECK (last_id >= first_id)
) STRICT;
CREATE TRIGGER inspection_batches_no_update BEFORE UPDATE ON inspection_batches
BEGIN
    SELECT RAISE(ABORT, 'inspection_batches is append-only: UPDATE refused');
END;
CREATE TRIGGER inspection_batches_no_delete BEFORE DELETE ON inspection_batches
BEGIN
    SELECT RAISE(ABORT, 'inspection_batches is append-only: DELETE refused');
END;
CREATE TRIGGER inspections_no_update BEFORE UPDATE ON inspections
BEGIN
    SELECT RAISE(ABORT, 'inspections are append-only: UPDATE refused');
END;
CREATE TRIGGER inspections_no_delete BEFORE DELETE ON inspections
BEGIN
    SELECT RAISE(ABORT, 'inspections are append-only: DELETE refused');
END;
"#;

/// Electronic signatures: who signed which record (by its content hash), when, with what
/// meaning and why. Append-only; each row is also an audit entry, so the audit chain covers it.
const SCHEMA_SIGNATURES: &str = r#"
CREATE TABLE signatures (
    id            INTEGER PRIMARY KEY,
    ts            INTEGER NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    signer        TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    meaning       TEXT    NOT NULL CHECK (meaning IN ('performed', 'reviewed', 'approved')),
    action        TEXT    NOT NULL,
    record_kind   TEXT    NOT NULL,
    record_id     TEXT    NOT NULL,
    content_hash  TEXT    NOT NULL
                  CHECK (length(content_hash) = 64 AND content_hash NOT GLOB '*[^0-9a-f]*'),
    reason        TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    audit_id      INTEGER NOT NULL REFERENCES audit_log (id)
) STRICT;
CREATE INDEX signatures_record ON signatures (record_kind, record_id, id);
CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
BEGIN
    SELECT RAISE(ABORT, 'signatures are append-only: UPDATE refused');
END;
CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
BEGIN
    SELECT RAISE(ABORT, 'signatures are append-only: DELETE refused');
END;
"#;

/// Acceptance criteria (issue 17): the bounds a candidate model must meet on independent test
/// data before it goes live, as a history (who set them, when and why); the newest row is in
/// force, none means the defaults ([`crate::domain::AcceptanceCriteria::DEFAULT`]).
/// Append-only like the audit log, which also records each change.
const SCHEMA_ACCEPTANCE: &str = r#"
CREATE TABLE acceptance_criteria (
    id                     INTEGER PRIMARY KEY,
    min_recall             REAL    NOT NULL CHECK (min_recall BETWEEN 0 AND 1),
    max_false_reject_rate  REAL    NOT NULL CHECK (max_false_reject_rate BETWEEN 0 AND 1),
    min_defect_samples     INTEGER NOT NULL CHECK (min_defect_samples >= 0),
    min_good_samples       INTEGER NOT NULL CHECK (min_good_samples >= 0),
    set_by                 TEXT    NOT NULL CHECK (length(set_by) > 0),
    reason                 TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    created_at             INTEGER NOT NULL
) STRICT;
CREATE TRIGGER acceptance_criteria_no_update BEFORE UPDATE ON acceptance_criteria
BEGIN
    SELECT RAISE(ABORT, 'acceptance_criteria is append-only: UPDATE refused');
END;
CREATE TRIGGER acceptance_criteria_no_delete BEFORE DELETE ON acceptance_criteria
BEGIN
    SELECT RAISE(ABORT, 'acceptance_criteria is append-only: DELETE refused');
END;
"#;

/// Recipes (issue 19): named product setups, each save a new version (append-only, like the
/// audit log that also records each save), and the recipe runs of each station: a row when a
/// station starts or switches recipe (`recipe_id` NULL: no recipe), so every inspection's
/// recipe is the newest run of its station at or before its time.
const SCHEMA_RECIPES: &str = r#"
CREATE TABLE recipes (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (length(trim(name)) > 0),
    version     INTEGER NOT NULL CHECK (version >= 1),
    plc_index   INTEGER CHECK (plc_index BETWEEN 1 AND 65535),
    body        TEXT    NOT NULL,
    created_by  TEXT    NOT NULL CHECK (length(created_by) > 0),
    created_at  INTEGER NOT NULL,
    UNIQUE (name, version)
) STRICT;
CREATE TRIGGER recipes_no_update BEFORE UPDATE ON recipes
BEGIN
    SELECT RAISE(ABORT, 'recipes are append-only: save a new version');
END;
CREATE TRIGGER recipes_no_delete BEFORE DELETE ON recipes
BEGIN
    SELECT RAISE(ABORT, 'recipes are append-only: DELETE refused');
END;
CREATE TABLE recipe_runs (
    id          INTEGER PRIMARY KEY,
    station_id  INTEGER NOT NULL REFERENCES stations(id),
    recipe_id   INTEGER REFERENCES recipes(id),
    started_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX recipe_runs_station_time ON recipe_runs (station_id, started_at);
CREATE TRIGGER recipe_runs_no_update BEFORE UPDATE ON recipe_runs
BEGIN
    SELECT RAISE(ABORT, 'recipe_runs is append-only: UPDATE refused');
END;
CREATE TRIGGER recipe_runs_no_delete BEFORE DELETE ON recipe_runs
BEGIN
    SELECT RAISE(ABORT, 'recipe_runs is append-only: DELETE refused');
END;
"#;

/// Each user's own settings (today the language the window speaks to them); a preference,
/// not a record, so it may change.
const SCHEMA_USER_PREFERENCES: &str = r#"
CREATE TABLE user_preferences (
    user_id   INTEGER PRIMARY KEY REFERENCES users(id),
    language  TEXT
) STRICT;
"#;

/// The outbox to the plant's Kafka: once a station publishes (`outbox_settings.enabled`),
/// every inspection and audit entry also lands here, by trigger, in the transaction that
/// records it, so nothing recorded can miss the plant. The publisher marks rows delivered.
const SCHEMA_OUTBOX: &str = r#"
CREATE TABLE outbox_settings (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    enabled  INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    origin   TEXT    NOT NULL CHECK (length(origin) > 0)
) STRICT;
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    topic         TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    payload       TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at    INTEGER NOT NULL,
    delivered_at  INTEGER
) STRICT;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
CREATE TRIGGER inspections_to_outbox AFTER INSERT ON inspections
WHEN (SELECT enabled FROM outbox_settings WHERE id = 1) = 1
BEGIN
    INSERT INTO outbox (topic, key, payload, created_at)
    SELECT 'foodqc.inspections', s.name, json_object(
        'schema', 'foodqc.inspection/1',
        'station', s.name,
        'id', NEW.id,
        'ts_ms', NEW.ts,
        'frame', NEW.frame_seq,
        'item', NEW.item_index,
        'track', NEW.track_id,
        'verdict', NEW.verdict,
        'score', NEW.score,
        'defect_class', NEW.defect_class,
        'lot', (SELECT code FROM lots WHERE id = NEW.lot_id),
        'model_version', (SELECT version FROM model_versions WHERE id = NEW.model_version_id),
        'bbox', json_array(NEW.bbox_x, NEW.bbox_y, NEW.bbox_w, NEW.bbox_h)
    ), NEW.ts
    FROM stations s WHERE s.id = NEW.station_id;
END;
CREATE TRIGGER audit_to_outbox AFTER INSERT ON audit_log
WHEN (SELECT enabled FROM outbox_settings WHERE id = 1) = 1
BEGIN
    INSERT INTO outbox (topic, key, payload, created_at)
    SELECT 'foodqc.audit', o.origin, json_object(
        'schema', 'foodqc.audit/1',
        'origin', o.origin,
        'id', NEW.id,
        'ts_ms', NEW.ts,
        'actor', NEW.actor,
        'action', NEW.action,
        'details', json(NEW.details_json)
    ), NEW.ts
    FROM outbox_settings o WHERE o.id = 1;
END;
"#;

/// The inspection message also carries what the plant's reports filter by and a station's
/// database keeps in other tables: the lot's product, line and shift, and the recipe the
/// station ran when it judged the item (additive fields of `foodqc.inspection/1`).
const SCHEMA_OUTBOX_LOT_FIELDS: &str = r#"
DROP TRIGGER inspections_to_outbox;
CREATE TRIGGER inspections_to_outbox AFTER INSERT ON inspections
WHEN (SELECT enabled FROM outbox_settings WHERE id = 1) = 1
BEGIN
    INSERT INTO outbox (topic, key, payload, created_at)
    SELECT 'foodqc.inspections', s.name, json_object(
        'schema', 'foodqc.inspection/1',
        'station', s.name,
        'id', NEW.id,
        'ts_ms', NEW.ts,
        'frame', NEW.frame_seq,
        'item', NEW.item_index,
        'track', NEW.track_id,
        'verdict', NEW.verdict,
        'score', NEW.score,
        'defect_class', NEW.defect_class,
        'lot', l.code,
        'product', l.product,
        'line', l.line,
        'shift', l.shift,
        'recipe', (SELECT rc.name FROM recipe_runs rr JOIN recipes rc ON rc.id = rr.recipe_id
                   WHERE rr.station_id = NEW.station_id AND rr.started_at <= NEW.ts
                   ORDER BY rr.started_at DESC, rr.id DESC LIMIT 1),
        'model_version', (SELECT version FROM model_versions WHERE id = NEW.model_version_id),
        'bbox', json_array(NEW.bbox_x, NEW.bbox_y, NEW.bbox_w, NEW.bbox_h)
    ), NEW.ts
    FROM stations s LEFT JOIN lots l ON l.id = NEW.lot_id
    WHERE s.id = NEW.station_id;
END;
"#;

/// Parts of a model version the plant is sending, kept until the whole version is here (a
/// model is split over several messages; a restart resumes with the parts received). A
/// staging area, not a record: the rows go once the version is applied or refused.
const SCHEMA_PLANT_MODEL_PARTS: &str = r#"
CREATE TABLE plant_model_parts (
    command      TEXT    NOT NULL,
    part         INTEGER NOT NULL CHECK (part >= 0),
    parts        INTEGER NOT NULL CHECK (parts >= 1),
    release_json TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (command, part)
) STRICT;
"#;

/// Reject crops to the plant (optional, per database): while `crop_max_bytes` is set, each
/// reject recorded with a saved crop also puts a `foodqc.rejects` message in the outbox; the
/// publisher sends the crop as JPEG, or skips it (reason in `skipped`) when it is larger than
/// the limit or gone.
/// Plant decisions are sealed by the deciding PC's key (the seal travels in Kafka headers),
/// and a station applies only what a key its admin trusts sealed (see `store::plant_key`).
const SCHEMA_PLANT_SEALS: &str = r#"
ALTER TABLE outbox ADD COLUMN seal_key TEXT;
ALTER TABLE outbox ADD COLUMN seal_signature TEXT;
CREATE TABLE plant_trusted_keys (
    name     TEXT PRIMARY KEY CHECK (length(trim(name)) > 0),
    key      TEXT NOT NULL UNIQUE,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
"#;

const SCHEMA_OUTBOX_REJECT_CROPS: &str = r#"
ALTER TABLE outbox_settings ADD COLUMN crop_max_bytes INTEGER
    CHECK (crop_max_bytes IS NULL OR crop_max_bytes > 0);
ALTER TABLE outbox ADD COLUMN skipped TEXT;
CREATE TRIGGER reject_crops_to_outbox AFTER INSERT ON inspections
WHEN NEW.verdict = 'reject' AND NEW.sample_id IS NOT NULL
 AND (SELECT enabled = 1 AND crop_max_bytes IS NOT NULL FROM outbox_settings WHERE id = 1)
BEGIN
    INSERT INTO outbox (topic, key, payload, created_at)
    SELECT 'foodqc.rejects', s.name, json_object(
        'schema', 'foodqc.reject/1',
        'station', s.name,
        'id', NEW.id,
        'ts_ms', NEW.ts,
        'frame', NEW.frame_seq,
        'item', NEW.item_index,
        'score', NEW.score,
        'defect_class', NEW.defect_class,
        'lot', (SELECT code FROM lots WHERE id = NEW.lot_id),
        'model_version', (SELECT version FROM model_versions WHERE id = NEW.model_version_id),
        'crop', sm.path,
        'max_bytes', o.crop_max_bytes
    ), NEW.ts
    FROM stations s, samples sm, outbox_settings o
    WHERE s.id = NEW.station_id AND sm.id = NEW.sample_id AND o.id = 1;
END;
"#;

/// Every migration, oldest first. Index + 1 is the schema version it produces.
const MIGRATION_LIST: &[M<'static>] = &[
    M::up(SCHEMA_V1).comment("initial schema"),
    M::up(SCHEMA_LABELING).comment("defect taxonomy and sample scores"),
    M::up(SCHEMA_THRESHOLDS).comment("threshold settings per model version"),
    M::up(SCHEMA_REPORTS).comment("report indexes"),
    M::up(SCHEMA_FAULTS).comment("missing crops and the pending journal"),
    M::up(SCHEMA_DRIFT_BASELINE).comment("drift baseline index"),
    M::up(SCHEMA_USERS).comment("users, roles and password hashes"),
    M::up(SCHEMA_AUDIT_CHAIN).comment("hash chains over the audit log and the inspections"),
    M::up(SCHEMA_SIGNATURES).comment("electronic signatures"),
    M::up(SCHEMA_ACCEPTANCE).comment("acceptance criteria"),
    M::up(SCHEMA_RECIPES).comment("recipes and the recipe runs of each station"),
    M::up(SCHEMA_USER_PREFERENCES).comment("each user's language"),
    M::up(SCHEMA_OUTBOX).comment("the outbox to the plant's Kafka"),
    M::up(SCHEMA_OUTBOX_LOT_FIELDS).comment("lot fields and recipe in inspection messages"),
    M::up(SCHEMA_PLANT_MODEL_PARTS).comment("model versions arriving from the plant"),
    M::up(SCHEMA_OUTBOX_REJECT_CROPS).comment("reject crops to the plant"),
    M::up(SCHEMA_PLANT_SEALS).comment("sealed plant messages and the keys a station trusts"),
];

/// The schema version this build creates and understands (highest `user_version`).
pub const SCHEMA_VERSION: usize = MIGRATION_LIST.len();

/// The migrations of the foodqc schema.
pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATION_LIST)
}
