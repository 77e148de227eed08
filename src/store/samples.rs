//! Samples (item crops saved on disk as `<blake3 hex>.png`) and their labels.
//!
//! A sample is identified by the blake3 hash of its PNG bytes, so the same crop saved twice is
//! one file and one row. Labels are history: every `add_label` adds a row, and the latest
//! label (highest id) of a sample is the one that counts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::RgbImage;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::audit::{insert_audit, limit_param};
use super::{Store, StoreError, now_ms, path_text, sql_err};

/// A sample to register (the PNG file is already on disk).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct NewSample {
    /// Where the PNG file is.
    pub path: PathBuf,
    /// blake3 hex (64 lower-case characters) of the PNG file's bytes.
    pub hash: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Where the crop came from, e.g. the station name or `import`.
    pub source: String,
}

/// One row of `samples`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleRow {
    /// Row id.
    pub id: i64,
    /// Where the PNG file is.
    pub path: PathBuf,
    /// blake3 hex of the PNG bytes.
    pub hash: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Where the crop came from.
    pub source: String,
    /// When the sample was first registered (unix ms).
    pub created_at_ms: i64,
}

/// One row of `labels`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelRow {
    /// Row id; the highest id of a sample is its current label.
    pub id: i64,
    /// The sample labelled.
    pub sample_id: i64,
    /// The label, e.g. `good`, `crack`.
    pub label: String,
    /// Optional defect mask image.
    pub mask_path: Option<PathBuf>,
    /// Who labelled it.
    pub labeled_by: String,
    /// When (unix ms).
    pub created_at_ms: i64,
}

/// A crop saved by [`save_sample_png`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SavedSample {
    /// `samples_dir/<hash>.png`.
    pub path: PathBuf,
    /// blake3 hex of the PNG bytes.
    pub hash: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// False when a file with that hash was already there (nothing was written).
    pub newly_written: bool,
}

/// PNG bytes of a crop and their blake3 hex.
pub(crate) struct EncodedPng {
    pub(crate) bytes: Vec<u8>,
    pub(crate) hash: String,
}

/// Encode `image` as PNG (fixed settings, so equal pixels give equal bytes and hash).
pub(crate) fn encode_png(image: &RgbImage) -> Result<EncodedPng, image::ImageError> {
    let mut bytes = Vec::with_capacity(image.as_raw().len() / 2 + 128);
    image.write_with_encoder(PngEncoder::new_with_quality(
        &mut bytes,
        CompressionType::Fast,
        FilterType::Adaptive,
    ))?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    Ok(EncodedPng { bytes, hash })
}

/// The file a sample with this hash lives in.
pub(crate) fn sample_file(samples_dir: &Path, hash: &str) -> PathBuf {
    samples_dir.join(format!("{hash}.png"))
}

/// Write `bytes` to `samples_dir/<hash>.png` unless that file exists. Atomic: the bytes go to
/// a temporary file in the same folder, are synced, then renamed into place, so a reader (or
/// a crash) never sees a half-written sample. Returns the path and whether it was written.
pub(crate) fn write_png_file(
    samples_dir: &Path,
    hash: &str,
    bytes: &[u8],
) -> Result<(PathBuf, bool), StoreError> {
    static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);
    let target = sample_file(samples_dir, hash);
    if target.is_file() {
        return Ok((target, false));
    }
    super::create_private_dir(samples_dir).map_err(|source| StoreError::CreateDir {
        path: samples_dir.to_path_buf(),
        source,
    })?;
    let tmp = samples_dir.join(format!(
        ".{hash}.{}.{}.tmp",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = crate::domain::private_fs::create_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp); // best effort; the error below is what matters
        return Err(StoreError::Io { path: tmp, source });
    }
    if let Err(source) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::Io {
            path: target,
            source,
        });
    }
    Ok((target, true))
}

/// Encode `image` as PNG, hash it and save it as `samples_dir/<hash>.png` (atomically, and
/// only if no file with that hash exists). Register it with [`Store::insert_sample`].
pub fn save_sample_png(samples_dir: &Path, image: &RgbImage) -> Result<SavedSample, StoreError> {
    let enc = encode_png(image).map_err(|source| StoreError::Encode {
        dir: samples_dir.to_path_buf(),
        width: image.width(),
        height: image.height(),
        source,
    })?;
    let (path, newly_written) = write_png_file(samples_dir, &enc.hash, &enc.bytes)?;
    Ok(SavedSample {
        path,
        hash: enc.hash,
        width: image.width(),
        height: image.height(),
        newly_written,
    })
}

/// Get-or-create the sample row for `s.hash` on `conn` (inside the caller's transaction).
pub(crate) fn get_or_create_sample(
    conn: &Connection,
    db_path: &Path,
    s: &NewSample,
) -> Result<i64, StoreError> {
    let path = path_text(&s.path, "samples")?;
    let err = || sql_err(db_path, "insert into samples");
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM samples WHERE hash = ?1")
        .map_err(err())?
        .query_row([&s.hash], |r| r.get(0))
        .optional()
        .map_err(err())?;
    if let Some(id) = existing {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO samples (path, hash, width, height, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    )
    .map_err(err())?
    .query_row(
        params![path, s.hash, s.width, s.height, s.source, now_ms()],
        |r| r.get(0),
    )
    .map_err(err())
}

pub(crate) const SAMPLE_COLUMNS: &str =
    "s.id, s.path, s.hash, s.width, s.height, s.source, s.created_at";

pub(crate) fn sample_row(r: &Row<'_>) -> rusqlite::Result<SampleRow> {
    Ok(SampleRow {
        id: r.get(0)?,
        path: PathBuf::from(r.get::<_, String>(1)?),
        hash: r.get(2)?,
        width: r.get(3)?,
        height: r.get(4)?,
        source: r.get(5)?,
        created_at_ms: r.get(6)?,
    })
}

fn label_row(r: &Row<'_>) -> rusqlite::Result<LabelRow> {
    Ok(LabelRow {
        id: r.get(0)?,
        sample_id: r.get(1)?,
        label: r.get(2)?,
        mask_path: r.get::<_, Option<String>>(3)?.map(PathBuf::from),
        labeled_by: r.get(4)?,
        created_at_ms: r.get(5)?,
    })
}

/// A sample to register in an import batch, with the label it arrives with (if any).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewImport {
    /// The sample (its PNG is already on disk).
    pub sample: NewSample,
    /// The label the source gave it, e.g. the class folder of an MVTec-style tree.
    pub label: Option<NewLabel>,
}

/// A label to add together with its sample (see [`NewImport`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewLabel {
    /// The label, e.g. `good`, `crack` (must not be empty).
    pub label: String,
    /// Optional defect mask image.
    pub mask_path: Option<PathBuf>,
}

/// Insert one label row and its `label.add` audit entry on `conn` (inside the caller's
/// transaction). Returns the label id.
fn insert_label(
    conn: &Connection,
    db_path: &Path,
    sample_id: i64,
    sample_hash: &str,
    label: &str,
    mask: Option<&str>,
    actor: &str,
) -> Result<i64, StoreError> {
    let err = || sql_err(db_path, "insert into labels");
    let label_id: i64 = conn
        .prepare_cached(
            "INSERT INTO labels (sample_id, label, mask_path, labeled_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .map_err(err())?
        .query_row(params![sample_id, label, mask, actor, now_ms()], |r| {
            r.get(0)
        })
        .map_err(err())?;
    let details = serde_json::json!({
        "label_id": label_id,
        "sample_id": sample_id,
        "sample_hash": sample_hash,
        "label": label,
        "mask_path": mask,
    });
    insert_audit(conn, db_path, actor, "label.add", &details)?;
    Ok(label_id)
}

impl Store {
    /// Register a sample whose PNG is on disk and return its id. Get-or-create by `hash`: a
    /// sample with the same hash keeps its first row (path, source, time) and id.
    pub fn insert_sample(&mut self, s: &NewSample) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (samples)"))?;
        let id = get_or_create_sample(&tx, &self.path, s)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (samples)"))?;
        Ok(id)
    }

    /// The sample with this id, if any.
    pub fn sample(&self, id: i64) -> Result<Option<SampleRow>, StoreError> {
        let sql = format!("SELECT {SAMPLE_COLUMNS} FROM samples AS s WHERE s.id = ?1");
        let err = || sql_err(&self.path, "select from samples");
        self.conn
            .prepare_cached(&sql)
            .map_err(err())?
            .query_row([id], sample_row)
            .optional()
            .map_err(err())
    }

    /// Up to `limit` samples that have no label yet, newest first (the labelling queue).
    pub fn unlabelled_samples(&self, limit: usize) -> Result<Vec<SampleRow>, StoreError> {
        let sql = format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples AS s
             WHERE NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.sample_id = s.id)
             ORDER BY s.id DESC LIMIT ?1"
        );
        let err = || sql_err(&self.path, "select from samples and labels");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let rows = stmt
            .query_map([limit_param(limit)], sample_row)
            .map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// Label a sample (a new history row; it becomes the sample's current label) and write an
    /// audit entry (`label.add`) in the same transaction. Returns the label id. Fails with
    /// [`StoreError::NotFound`] for an unknown sample.
    pub fn add_label(
        &mut self,
        sample_id: i64,
        label: &str,
        mask_path: Option<&Path>,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let mask = mask_path.map(|p| path_text(p, "labels")).transpose()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (labels)"))?;
        let hash: Option<String> = tx
            .query_row("SELECT hash FROM samples WHERE id = ?1", [sample_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_err(&self.path, "select from samples"))?;
        let Some(hash) = hash else {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                table: "samples",
                id: sample_id,
            });
        };
        let label_id = insert_label(&tx, &self.path, sample_id, &hash, label, mask, actor)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (labels)"))?;
        self.anchor_heads();
        Ok(label_id)
    }

    /// Every label given to a sample, newest (current) first.
    pub fn labels_for_sample(&self, sample_id: i64) -> Result<Vec<LabelRow>, StoreError> {
        let err = || sql_err(&self.path, "select from labels");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, sample_id, label, mask_path, labeled_by, created_at
                 FROM labels WHERE sample_id = ?1 ORDER BY id DESC",
            )
            .map_err(err())?;
        let rows = stmt.query_map([sample_id], label_row).map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// How many samples currently carry each label (latest label per sample wins), most
    /// frequent first.
    pub fn label_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let err = || sql_err(&self.path, "count labels");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT label, count(*) AS n FROM labels
                 WHERE id IN (SELECT max(id) FROM labels GROUP BY sample_id)
                 GROUP BY label ORDER BY n DESC, label",
            )
            .map_err(err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }

    /// The id of the sample with this content hash (blake3 hex of its PNG), if registered.
    pub fn sample_id_by_hash(&self, hash: &str) -> Result<Option<i64>, StoreError> {
        let err = || sql_err(&self.path, "select from samples");
        self.conn
            .prepare_cached("SELECT id FROM samples WHERE hash = ?1")
            .map_err(err())?
            .query_row([hash], |r| r.get(0))
            .optional()
            .map_err(err())
    }

    /// Register a batch of imported samples and their labels in ONE transaction: either every
    /// row is written or (on any error) none is.
    ///
    /// A sample whose hash is already registered (by an earlier import, the live line, or an
    /// earlier item of this batch) is skipped together with its label: the same image is never
    /// imported twice. Returns, per item, the new sample id or `None` for a skipped duplicate.
    ///
    /// Audit: one `label.add` entry per label (as [`Store::add_label`] writes) and one
    /// `samples.import` entry summarising the batch, whose `details` are `summary` with the
    /// counts `imported`, `duplicates` and `labelled` added (when `summary` is an object).
    pub fn import_batch(
        &mut self,
        items: &[NewImport],
        actor: &str,
        summary: serde_json::Value,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (import)"))?;
        let mut ids = Vec::with_capacity(items.len());
        let (mut imported, mut labelled) = (0u64, 0u64);
        for item in items {
            let s = &item.sample;
            let exists: Option<i64> = tx
                .prepare_cached("SELECT id FROM samples WHERE hash = ?1")
                .map_err(sql_err(&self.path, "select from samples"))?
                .query_row([&s.hash], |r| r.get(0))
                .optional()
                .map_err(sql_err(&self.path, "select from samples"))?;
            if exists.is_some() {
                ids.push(None);
                continue;
            }
            let id = get_or_create_sample(&tx, &self.path, s)?;
            imported += 1;
            if let Some(l) = &item.label {
                let mask = l
                    .mask_path
                    .as_deref()
                    .map(|p| path_text(p, "labels"))
                    .transpose()?;
                insert_label(&tx, &self.path, id, &s.hash, &l.label, mask, actor)?;
                labelled += 1;
            }
            ids.push(Some(id));
        }
        let mut details = summary;
        if let Some(obj) = details.as_object_mut() {
            obj.insert("imported".into(), imported.into());
            obj.insert("duplicates".into(), (items.len() as u64 - imported).into());
            obj.insert("labelled".into(), labelled.into());
        }
        insert_audit(&tx, &self.path, actor, "samples.import", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (import)"))?;
        self.anchor_heads();
        Ok(ids)
    }

    /// Every sample that has a label, with its current (latest) label, in sample id order.
    pub fn labelled_samples(&self) -> Result<Vec<(SampleRow, LabelRow)>, StoreError> {
        let sql = format!(
            "SELECT {SAMPLE_COLUMNS}, l.id, l.sample_id, l.label, l.mask_path, l.labeled_by,
                    l.created_at
             FROM labels AS l JOIN samples AS s ON s.id = l.sample_id
             WHERE l.id IN (SELECT max(id) FROM labels GROUP BY sample_id)
             ORDER BY s.id"
        );
        let err = || sql_err(&self.path, "select from samples and labels");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let rows = stmt
            .query_map([], |r| {
                let sample = sample_row(r)?;
                let label = LabelRow {
                    id: r.get(7)?,
                    sample_id: r.get(8)?,
                    label: r.get(9)?,
                    mask_path: r.get::<_, Option<String>>(10)?.map(PathBuf::from),
                    labeled_by: r.get(11)?,
                    created_at_ms: r.get(12)?,
                };
                Ok((sample, label))
            })
            .map_err(err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err())
    }
}
