//! The pending journal: inspection rows that could not reach the database (locked past the
//! give-up, disk full, read-only) wait here until it is back.
//!
//! The journal is an append-only file beside the database, `<database>.pending.jsonl`, one
//! JSON line per row: `{"b3":"<blake3 hex of entry>","entry":{...}}`. Every append is one
//! write of whole lines followed by `fsync`, under an exclusive advisory lock (several
//! recorders of one data folder may share it). A line whose checksum does not match (a torn
//! last line after a crash, a damaged disk block) is never replayed: it is moved to
//! `<database>.pending.rejected.jsonl` for a person to look at, never deleted.
//!
//! Replay ([`Store::replay_journal`]) inserts the rows in one transaction and records each
//! row's unique key in `journal_replayed`, so a journal replayed twice (a crash between the
//! commit and the truncation) inserts nothing twice; then the journal is emptied.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::inspections::{INSERT_INSPECTION_SQL, InspectionRow, insert_one};
use super::samples::{NewSample, get_or_create_sample};
use super::{Store, StoreError, now_ms, sql_err};

/// One inspection waiting in the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Unique key of the row (recording run and sequence number): what makes replay
    /// idempotent.
    pub key: String,
    /// The inspection.
    pub row: InspectionRow,
    /// Its crop, already saved on disk, to register with the row.
    pub sample: Option<NewSample>,
    /// Why a wanted crop is missing.
    pub sample_missing: Option<String>,
}

/// What a replay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayOutcome {
    /// Rows inserted into the database.
    pub replayed: u64,
    /// Rows skipped because an earlier replay had already inserted them.
    pub already_replayed: u64,
    /// Lines refused (bad checksum, unreadable, or refused by the database for good), moved to
    /// the rejected file.
    pub rejected: u64,
}

/// The journal file of the database at `db_path`.
pub fn journal_path(db_path: &Path) -> PathBuf {
    sibling(db_path, ".pending.jsonl")
}

/// Where journal lines that cannot be replayed are kept.
pub fn rejected_path(db_path: &Path) -> PathBuf {
    sibling(db_path, ".pending.rejected.jsonl")
}

fn sibling(db_path: &Path, suffix: &str) -> PathBuf {
    let mut s = db_path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A key unique to this process and call: unix ms, process id and a counter.
pub(crate) fn new_key_prefix() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        now_ms(),
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    )
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The checksummed line of one entry.
fn line_of(entry: &JournalEntry) -> String {
    // Serialising plain data cannot fail.
    let json = serde_json::to_string(entry).unwrap_or_default();
    let b3 = blake3::hash(json.as_bytes()).to_hex();
    format!("{{\"b3\":\"{b3}\",\"entry\":{json}}}\n")
}

#[derive(Deserialize)]
struct LineIn<'a> {
    b3: &'a str,
    #[serde(borrow)]
    entry: &'a RawValue,
}

/// Parse and verify one line.
fn parse_line(line: &str) -> Option<JournalEntry> {
    let l: LineIn<'_> = serde_json::from_str(line).ok()?;
    if blake3::hash(l.entry.get().as_bytes()).to_hex().as_str() != l.b3 {
        return None;
    }
    serde_json::from_str(l.entry.get()).ok()
}

/// Append `entries` to the journal of `db_path` and fsync. All or nothing: a failed write is
/// cut back off the file, so no half line stays behind.
pub fn append(db_path: &Path, entries: &[JournalEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let path = journal_path(db_path);
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // Rows wait here in plain text: readable by the owner only, like the database.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&path).map_err(io_err(&path))?;
    f.lock().map_err(io_err(&path))?;
    let before = f.metadata().map_err(io_err(&path))?.len();
    let text: String = entries.iter().map(line_of).collect();
    let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_data());
    if let Err(e) = written {
        // Best effort: the error below is what matters.
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(io_err(&path)(e));
    }
    Ok(())
}

/// How many rows wait in the journal of `db_path` (lines, without reading them through).
pub fn pending_rows(db_path: &Path) -> Result<u64, StoreError> {
    let path = journal_path(db_path);
    let mut text = Vec::new();
    match File::open(&path) {
        Ok(mut f) => f.read_to_end(&mut text).map_err(io_err(&path))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(&path)(e)),
    };
    Ok(text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64)
}

impl Store {
    /// Insert the rows waiting in this database's journal (see [`journal_path`]), each once
    /// even if replayed again, then empty the journal. Lines that fail their checksum or that
    /// the database refuses for good go to [`rejected_path`]. Does nothing when there is no
    /// journal.
    pub fn replay_journal(&mut self) -> Result<ReplayOutcome, StoreError> {
        let path = journal_path(&self.path);
        let mut f = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ReplayOutcome::default());
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        f.lock().map_err(io_err(&path))?;
        let mut text = String::new();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(io_err(&path))?;
        if bytes.is_empty() {
            return Ok(ReplayOutcome::default());
        }
        // Invalid UTF-8 only makes its line fail the checksum.
        text.push_str(&String::from_utf8_lossy(&bytes));
        let mut out = ReplayOutcome::default();
        let mut rejected: Vec<String> = Vec::new();
        let mut entries: Vec<(JournalEntry, &str)> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse_line(line) {
                Some(e) => entries.push((e, line)),
                None => {
                    tracing::error!(journal = %path.display(), "journal line fails its checksum; kept aside");
                    rejected.push(line.to_string());
                }
            }
        }
        let db_path = self.path.clone();
        let key = super::audit::chain_key(&db_path)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&db_path, "begin (journal replay)"))?;
        let first_id = super::seal::max_inspection_id(&tx, &db_path)? + 1;
        {
            let mut mark = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO journal_replayed (key, replayed_at) VALUES (?1, ?2)",
                )
                .map_err(sql_err(&db_path, "insert into journal_replayed"))?;
            let mut insert = tx
                .prepare_cached(INSERT_INSPECTION_SQL)
                .map_err(sql_err(&db_path, "insert into inspections"))?;
            let now = now_ms();
            for (e, line) in &entries {
                let fresh = mark
                    .execute(params![e.key, now])
                    .map_err(sql_err(&db_path, "insert into journal_replayed"))?;
                if fresh == 0 {
                    out.already_replayed += 1;
                    continue;
                }
                let sample_id = match &e.sample {
                    Some(s) => Some(get_or_create_sample(&tx, &db_path, s)?),
                    None => e.row.sample_id,
                };
                match insert_one(&mut insert, &e.row, sample_id, e.sample_missing.as_deref()) {
                    Ok(_) => out.replayed += 1,
                    Err(err)
                        if err.sqlite_error_code()
                            == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                    {
                        tracing::error!(error = %err, key = %e.key, "journal row refused by the database; kept aside");
                        rejected.push(line.to_string());
                    }
                    Err(err) => return Err(sql_err(&db_path, "insert into inspections")(err)),
                }
            }
        }
        super::seal::seal_batch(&tx, &db_path, &key, first_id)?;
        tx.commit()
            .map_err(sql_err(&db_path, "commit (journal replay)"))?;
        self.anchor_heads();
        out.rejected = rejected.len() as u64;
        if !rejected.is_empty() {
            let rpath = rejected_path(&db_path);
            let mut r = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&rpath)
                .map_err(io_err(&rpath))?;
            let text: String = rejected.iter().map(|l| format!("{l}\n")).collect();
            r.write_all(text.as_bytes())
                .and_then(|()| r.sync_data())
                .map_err(io_err(&rpath))?;
        }
        // The rows are committed (and their keys with them): a crash before this point only
        // means the next replay skips them.
        f.set_len(0)
            .and_then(|()| f.seek(SeekFrom::Start(0)).map(drop))
            .and_then(|()| f.sync_data())
            .map_err(io_err(&path))?;
        if out.replayed > 0 {
            tracing::info!(rows = out.replayed, journal = %path.display(), "journal replayed into the database");
        }
        Ok(out)
    }
}
