//! The tamper-evident hash chains, without SQL: the canonical byte encoding of an audit entry
//! and of an inspection row, the keyed hashes, and the checks `foodqc audit verify` runs on
//! what the store reads back.
//!
//! # Audit log
//!
//! Entry `n` stores `prev_hash` (the `hash` of entry `n - 1`, or 32 zero bytes for the first)
//! and `hash = blake3::keyed_hash(key, prev_hash || canonical(entry))`. Changing any column
//! of an entry breaks its own hash; deleting or inserting one breaks the link of the next
//! (and leaves a gap in the ids, which are given out one by one); deleting the tail is caught
//! by the head anchored outside the database ([`Head`]).
//!
//! Entries written before the chain existed carry no hash. The first chained entry of such a
//! database is an `audit.chain_start` marker whose `prev_hash` is the chain run over those
//! older entries as if they had been hashed, so they are protected from then on too.
//!
//! # Canonical encodings (version 1)
//!
//! Integers are 8-byte little-endian two's complement; text and blobs are a u64 LE length
//! followed by the bytes; an optional value is one byte 0 (absent) or 1 followed by the value;
//! a real is the 8-byte LE IEEE-754 bit pattern as stored.
//!
//! - audit entry: `"foodqc.audit.v1\0"`, id, ts, actor, action, details JSON text exactly as
//!   stored in `details_json`.
//! - inspection row: id, ts, station_id, lot_id?, model_version_id?, frame_seq, item_index,
//!   track_id?, score, verdict text, defect_class?, bbox x, y, w, h, sample_id?,
//!   sample_missing?.
//! - batch: `blake3::keyed_hash` over `"foodqc.batch.v1\0"`, prev_hash (32 bytes), first_id,
//!   last_id, row_count, created_at, then each row of `first_id..=last_id` in id order.
//!
//! The key is 32 bytes from a file outside the database ([`super::audit_key`]).

use std::fmt;

use serde::Serialize;

/// Length of a key and of a hash, in bytes.
pub const HASH_LEN: usize = 32;

/// A hash of the chain (blake3, 32 bytes).
pub type Hash = [u8; HASH_LEN];

/// The `prev_hash` of the first link of a chain.
pub const GENESIS: Hash = [0; HASH_LEN];

/// Action of the entry that starts the chain on a database with older, unhashed entries.
pub const CHAIN_START_ACTION: &str = "audit.chain_start";

/// The secret key of the chains. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey(pub(crate) [u8; HASH_LEN]);

impl ChainKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

/// Lowercase hex of a hash (for messages, JSON and the anchor file).
pub fn to_hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash from 64 hex digits.
pub fn from_hex(s: &str) -> Option<Hash> {
    blake3::Hash::from_hex(s.trim()).ok().map(|h| *h.as_bytes())
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_i64(out, v);
        }
    }
}

fn put_opt_text(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_bytes(out, v.as_bytes());
        }
    }
}

/// The columns of an audit entry that the chain covers, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Row id.
    pub id: i64,
    /// Time (unix ms).
    pub ts_ms: i64,
    /// Actor.
    pub actor: String,
    /// Action.
    pub action: String,
    /// `details_json` exactly as stored (not re-serialized: key order and spacing count).
    pub details_json: String,
    /// Stored `prev_hash` (`None` on an unhashed row).
    pub prev_hash: Option<Vec<u8>>,
    /// Stored `hash` (`None` on an unhashed row).
    pub hash: Option<Vec<u8>>,
}

/// The canonical bytes of an audit entry (see the module documentation).
pub fn audit_canonical(id: i64, ts_ms: i64, actor: &str, action: &str, details: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + actor.len() + action.len() + details.len());
    out.extend_from_slice(b"foodqc.audit.v1\0");
    put_i64(&mut out, id);
    put_i64(&mut out, ts_ms);
    put_bytes(&mut out, actor.as_bytes());
    put_bytes(&mut out, action.as_bytes());
    put_bytes(&mut out, details.as_bytes());
    out
}

/// `keyed_blake3(key, prev || canonical)`: the hash of a link.
pub fn link_hash(key: &ChainKey, prev: &Hash, canonical: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new_keyed(&key.0);
    h.update(prev);
    h.update(canonical);
    *h.finalize().as_bytes()
}

/// The hash an audit entry must carry after `prev`.
pub fn audit_hash(key: &ChainKey, prev: &Hash, r: &AuditRecord) -> Hash {
    let canonical = audit_canonical(r.id, r.ts_ms, &r.actor, &r.action, &r.details_json);
    link_hash(key, prev, &canonical)
}

/// The columns of an inspection that its batch hash covers, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct InspectionRecord {
    /// Row id.
    pub id: i64,
    /// Time (unix ms).
    pub ts_ms: i64,
    /// Station id.
    pub station_id: i64,
    /// Lot id.
    pub lot_id: Option<i64>,
    /// Model version id.
    pub model_version_id: Option<i64>,
    /// Frame sequence number.
    pub frame_seq: i64,
    /// Item index within the frame.
    pub item_index: i64,
    /// Tracker id.
    pub track_id: Option<i64>,
    /// Score (its bit pattern is hashed).
    pub score: f64,
    /// Verdict text as stored.
    pub verdict: String,
    /// Defect class.
    pub defect_class: Option<String>,
    /// Bounding box x, y, w, h.
    pub bbox: [i64; 4],
    /// Sample id.
    pub sample_id: Option<i64>,
    /// Why the crop is missing.
    pub sample_missing: Option<String>,
}

/// Append the canonical bytes of an inspection row to `out`.
pub fn inspection_canonical(out: &mut Vec<u8>, r: &InspectionRecord) {
    put_i64(out, r.id);
    put_i64(out, r.ts_ms);
    put_i64(out, r.station_id);
    put_opt_i64(out, r.lot_id);
    put_opt_i64(out, r.model_version_id);
    put_i64(out, r.frame_seq);
    put_i64(out, r.item_index);
    put_opt_i64(out, r.track_id);
    out.extend_from_slice(&r.score.to_bits().to_le_bytes());
    put_bytes(out, r.verdict.as_bytes());
    put_opt_text(out, r.defect_class.as_deref());
    for v in r.bbox {
        put_i64(out, v);
    }
    put_opt_i64(out, r.sample_id);
    put_opt_text(out, r.sample_missing.as_deref());
}

/// One row of `inspection_batches`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRecord {
    /// Batch id.
    pub id: i64,
    /// First inspection id covered.
    pub first_id: i64,
    /// Last inspection id covered.
    pub last_id: i64,
    /// Rows the batch covered when sealed.
    pub row_count: i64,
    /// When it was sealed (unix ms).
    pub created_at: i64,
    /// Stored `prev_hash`.
    pub prev_hash: Vec<u8>,
    /// Stored `hash`.
    pub hash: Vec<u8>,
}

/// The hash of a batch after `prev` over its rows (in id order).
pub fn batch_hash(
    key: &ChainKey,
    prev: &Hash,
    first_id: i64,
    last_id: i64,
    created_at: i64,
    rows: &[InspectionRecord],
) -> Hash {
    let mut buf = Vec::with_capacity(64 + rows.len() * 120);
    buf.extend_from_slice(b"foodqc.batch.v1\0");
    put_i64(&mut buf, first_id);
    put_i64(&mut buf, last_id);
    put_i64(&mut buf, rows.len() as i64);
    put_i64(&mut buf, created_at);
    for r in rows {
        inspection_canonical(&mut buf, r);
    }
    link_hash(key, prev, &buf)
}

/// The newest link of a chain: what the anchor outside the database remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// Entry or batch id.
    pub id: i64,
    /// Its hash.
    #[serde(serialize_with = "ser_hex")]
    pub hash: Hash,
}

fn ser_hex<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_hex(h))
}

/// The heads of both chains (`None`: that chain has no link yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Newest chained audit entry.
    pub audit: Option<ChainHead>,
    /// Newest inspection batch.
    pub batches: Option<ChainHead>,
}

impl Head {
    /// The text of an anchor file.
    pub fn to_text(&self) -> String {
        let line = |name: &str, h: &Option<ChainHead>| match h {
            Some(h) => format!("{name} {} {}\n", h.id, to_hex(&h.hash)),
            None => format!("{name} none\n"),
        };
        format!(
            "foodqc-audit-head v1\n{}{}",
            line("audit", &self.audit),
            line("batches", &self.batches)
        )
    }

    /// Parse an anchor file's text (`None` when it is not one).
    pub fn parse(text: &str) -> Option<Head> {
        let mut lines = text.lines();
        if lines.next()?.trim() != "foodqc-audit-head v1" {
            return None;
        }
        let mut head = Head::default();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let mut parts = line.split_whitespace();
            let name = parts.next()?;
            let value = match parts.next()? {
                "none" => None,
                id => Some(ChainHead {
                    id: id.parse().ok()?,
                    hash: from_hex(parts.next()?)?,
                }),
            };
            match name {
                "audit" => head.audit = value,
                "batches" => head.batches = value,
                _ => return None,
            }
        }
        Some(head)
    }
}

/// Which chain a problem is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// `audit_log`.
    Audit,
    /// `inspection_batches` over `inspections`.
    Batches,
}

/// Something `verify` found wrong. Ids are audit entry ids or batch ids (see [`Chain`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The entry's content no longer matches its hash (a column was edited).
    AuditHashMismatch {
        /// Entry id.
        id: i64,
    },
    /// The entry does not link to the one before it (an entry before it was deleted,
    /// inserted or replaced).
    AuditLinkBroken {
        /// Entry id.
        id: i64,
    },
    /// Ids missing before this entry (entries deleted).
    AuditMissing {
        /// First missing id.
        from: i64,
        /// Last missing id.
        to: i64,
    },
    /// A row without a hash after the chain started (written outside foodqc).
    AuditUnhashed {
        /// Entry id.
        id: i64,
    },
    /// The entries before the chain start marker no longer hash to what it recorded.
    AuditLegacyChanged {
        /// The marker's id.
        marker: i64,
    },
    /// A batch's rows no longer hash to its hash (a row changed, deleted or inserted).
    BatchHashMismatch {
        /// Batch id.
        id: i64,
        /// First inspection id.
        first_id: i64,
        /// Last inspection id.
        last_id: i64,
        /// Rows found in the range now.
        rows_now: i64,
        /// Rows when sealed.
        rows_sealed: i64,
    },
    /// The batch does not link to the batch before it, or batches are missing.
    BatchLinkBroken {
        /// Batch id.
        id: i64,
    },
    /// Inspections that no batch covers (inserted outside foodqc).
    UnsealedRows {
        /// First such inspection id.
        first_id: i64,
        /// How many.
        count: i64,
    },
    /// The database ends before the head anchored outside it: the tail was deleted.
    TailDeleted {
        /// The chain.
        chain: Chain,
        /// The database's last id (`None`: nothing left).
        last: Option<i64>,
        /// The anchored head's id.
        anchored: i64,
        /// Where the anchor was read.
        anchor: String,
    },
    /// The link at the anchored id differs from the anchored hash (the tail was deleted and
    /// rewritten).
    AnchorMismatch {
        /// The chain.
        chain: Chain,
        /// The anchored id.
        id: i64,
        /// Where the anchor was read.
        anchor: String,
    },
}

/// Walk the audit chain over `rows` in id order; problems in the order met.
pub fn verify_audit(key: &ChainKey, rows: &[AuditRecord]) -> Vec<Problem> {
    let mut problems = Vec::new();
    // The running hash: over unhashed older rows as if hashed, then the stored hashes.
    let mut running = GENESIS;
    let mut started = false;
    let mut last_id: Option<i64> = None;
    for r in rows {
        let expected = audit_hash(key, &running, r);
        match (&r.prev_hash, &r.hash) {
            (Some(prev), Some(hash)) => {
                if started
                    && let Some(last) = last_id
                    && r.id != last + 1
                {
                    problems.push(Problem::AuditMissing {
                        from: last + 1,
                        to: r.id - 1,
                    });
                }
                if prev.as_slice() != running {
                    problems.push(if started || r.action != CHAIN_START_ACTION {
                        Problem::AuditLinkBroken { id: r.id }
                    } else {
                        Problem::AuditLegacyChanged { marker: r.id }
                    });
                }
                let prev: Hash = prev.as_slice().try_into().unwrap_or(GENESIS);
                if hash.as_slice() != audit_hash(key, &prev, r) {
                    problems.push(Problem::AuditHashMismatch { id: r.id });
                }
                running = hash.as_slice().try_into().unwrap_or(GENESIS);
                started = true;
            }
            _ if started => {
                problems.push(Problem::AuditUnhashed { id: r.id });
                running = expected;
            }
            _ => running = expected,
        }
        last_id = Some(r.id);
    }
    problems
}

/// Check one batch against the one before it (`prev`, `None` for the first) and its rows as
/// read now.
pub fn verify_batch(
    key: &ChainKey,
    prev: Option<&BatchRecord>,
    b: &BatchRecord,
    rows: &[InspectionRecord],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let expected_prev: Hash = match prev {
        Some(p) => p.hash.as_slice().try_into().unwrap_or(GENESIS),
        None => GENESIS,
    };
    let contiguous = prev.is_none_or(|p| p.id + 1 == b.id);
    if b.prev_hash.as_slice() != expected_prev || !contiguous {
        problems.push(Problem::BatchLinkBroken { id: b.id });
    }
    let prev_hash: Hash = b.prev_hash.as_slice().try_into().unwrap_or(GENESIS);
    let hash = batch_hash(key, &prev_hash, b.first_id, b.last_id, b.created_at, rows);
    if rows.len() as i64 != b.row_count || b.hash.as_slice() != hash {
        problems.push(Problem::BatchHashMismatch {
            id: b.id,
            first_id: b.first_id,
            last_id: b.last_id,
            rows_now: rows.len() as i64,
            rows_sealed: b.row_count,
        });
    }
    problems
}

/// Compare the database's chain (`link(id)`: the stored hash of entry/batch `id`, `last`: its
/// last id) with a head anchored outside it.
pub fn check_anchor(
    chain: Chain,
    anchored: Option<&ChainHead>,
    last: Option<i64>,
    link: impl Fn(i64) -> Option<Vec<u8>>,
    anchor: &str,
) -> Option<Problem> {
    let a = anchored?;
    if last.is_none_or(|l| l < a.id) {
        return Some(Problem::TailDeleted {
            chain,
            last,
            anchored: a.id,
            anchor: anchor.to_string(),
        });
    }
    match link(a.id) {
        Some(h) if h.as_slice() == a.hash => None,
        _ => Some(Problem::AnchorMismatch {
            chain,
            id: a.id,
            anchor: anchor.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChainKey {
        ChainKey([7; 32])
    }

    fn entry(id: i64, prev: Option<&Hash>, action: &str) -> AuditRecord {
        let mut r = AuditRecord {
            id,
            ts_ms: 1_700_000_000_000 + id,
            actor: "qc".into(),
            action: action.into(),
            details_json: format!("{{\"n\":{id}}}"),
            prev_hash: None,
            hash: None,
        };
        if let Some(prev) = prev {
            r.prev_hash = Some(prev.to_vec());
            r.hash = Some(audit_hash(&key(), prev, &r).to_vec());
        }
        r
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|id| {
                let r = entry(id, Some(&prev), "lot.status");
                prev = r.hash.clone().unwrap().try_into().unwrap();
                r
            })
            .collect()
    }

    #[test]
    fn canonical_encoding_is_stable_and_unambiguous() {
        let a = audit_canonical(1, 2, "ab", "c", "{}");
        // Known bytes: a change of the encoding must be a new version, not a silent change.
        let mut want = b"foodqc.audit.v1\0".to_vec();
        want.extend_from_slice(&1i64.to_le_bytes());
        want.extend_from_slice(&2i64.to_le_bytes());
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(b"ab");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(b"c");
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(b"{}");
        assert_eq!(a, want);
        // Lengths keep field boundaries apart: "ab"+"c" differs from "a"+"bc".
        assert_ne!(a, audit_canonical(1, 2, "a", "bc", "{}"));
        // Whitespace in the stored JSON counts.
        assert_ne!(a, audit_canonical(1, 2, "ab", "c", "{ }"));
    }

    #[test]
    fn keyed_hash_depends_on_key_and_prev() {
        let c = audit_canonical(1, 2, "a", "b", "{}");
        let h = link_hash(&key(), &GENESIS, &c);
        assert_ne!(h, link_hash(&ChainKey([8; 32]), &GENESIS, &c));
        assert_ne!(h, link_hash(&key(), &[1; 32], &c));
        assert_eq!(h, link_hash(&key(), &GENESIS, &c));
    }

    #[test]
    fn untouched_chain_verifies() {
        assert!(verify_audit(&key(), &chain(5)).is_empty());
        assert!(verify_audit(&key(), &[]).is_empty());
    }

    #[test]
    fn edited_entry_is_named() {
        let mut c = chain(5);
        c[2].actor = "mallory".into();
        assert_eq!(
            verify_audit(&key(), &c),
            vec![Problem::AuditHashMismatch { id: 3 }]
        );
    }

    #[test]
    fn deleted_entry_is_named() {
        let mut c = chain(5);
        c.remove(2);
        let p = verify_audit(&key(), &c);
        assert_eq!(p[0], Problem::AuditMissing { from: 3, to: 3 });
        assert!(p.contains(&Problem::AuditLinkBroken { id: 4 }));
    }

    #[test]
    fn wrong_key_breaks_every_entry() {
        let p = verify_audit(&ChainKey([9; 32]), &chain(3));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn older_unhashed_entries_are_covered_by_the_start_marker() {
        let mut rows = vec![entry(1, None, "lot.status"), entry(2, None, "label.add")];
        let mut running = GENESIS;
        for r in &rows {
            running = audit_hash(&key(), &running, r);
        }
        rows.push(entry(3, Some(&running), CHAIN_START_ACTION));
        assert!(verify_audit(&key(), &rows).is_empty());
        rows[0].actor = "mallory".into();
        assert_eq!(
            verify_audit(&key(), &rows),
            vec![Problem::AuditLegacyChanged { marker: 3 }]
        );
    }

    #[test]
    fn unhashed_row_after_the_start_is_named() {
        let mut c = chain(3);
        c.push(entry(4, None, "lot.status"));
        assert_eq!(
            verify_audit(&key(), &c),
            vec![Problem::AuditUnhashed { id: 4 }]
        );
    }

    fn row(id: i64, verdict: &str) -> InspectionRecord {
        InspectionRecord {
            id,
            ts_ms: 1_700_000_000_000 + id,
            station_id: 1,
            lot_id: Some(2),
            model_version_id: None,
            frame_seq: id,
            item_index: 0,
            track_id: None,
            score: 0.25,
            verdict: verdict.into(),
            defect_class: None,
            bbox: [1, 2, 3, 4],
            sample_id: None,
            sample_missing: None,
        }
    }

    fn batch(id: i64, prev: &Hash, rows: &[InspectionRecord]) -> BatchRecord {
        let (first, last) = (rows[0].id, rows[rows.len() - 1].id);
        BatchRecord {
            id,
            first_id: first,
            last_id: last,
            row_count: rows.len() as i64,
            created_at: 5,
            prev_hash: prev.to_vec(),
            hash: batch_hash(&key(), prev, first, last, 5, rows).to_vec(),
        }
    }

    #[test]
    fn batch_detects_flipped_verdict_deleted_and_inserted_rows() {
        let rows: Vec<_> = (1..=4).map(|i| row(i, "reject")).collect();
        let b = batch(1, &GENESIS, &rows);
        assert!(verify_batch(&key(), None, &b, &rows).is_empty());
        let mut flipped = rows.clone();
        flipped[1].verdict = "pass".into();
        assert!(matches!(
            verify_batch(&key(), None, &b, &flipped)[..],
            [Problem::BatchHashMismatch { id: 1, .. }]
        ));
        let deleted = [rows[0].clone(), rows[2].clone(), rows[3].clone()];
        assert!(matches!(
            verify_batch(&key(), None, &b, &deleted)[..],
            [Problem::BatchHashMismatch {
                rows_now: 3,
                rows_sealed: 4,
                ..
            }]
        ));
        let mut score = rows.clone();
        score[0].score = 0.2500001;
        assert_eq!(verify_batch(&key(), None, &b, &score).len(), 1);
        // The second batch links to the first.
        let more = [row(5, "pass")];
        let b2 = batch(2, &b.hash.clone().try_into().unwrap(), &more);
        assert!(verify_batch(&key(), Some(&b), &b2, &more).is_empty());
        let stray = batch(2, &GENESIS, &more);
        assert_eq!(
            verify_batch(&key(), Some(&b), &stray, &more),
            vec![Problem::BatchLinkBroken { id: 2 }]
        );
    }

    #[test]
    fn anchor_catches_a_deleted_tail() {
        let head = ChainHead {
            id: 5,
            hash: [3; 32],
        };
        let found = |_| Some(vec![3u8; 32]);
        assert_eq!(
            check_anchor(Chain::Audit, Some(&head), Some(6), found, "f"),
            None
        );
        assert!(matches!(
            check_anchor(Chain::Audit, Some(&head), Some(4), found, "f"),
            Some(Problem::TailDeleted {
                last: Some(4),
                anchored: 5,
                ..
            })
        ));
        assert!(matches!(
            check_anchor(
                Chain::Audit,
                Some(&head),
                Some(5),
                |_| Some(vec![4; 32]),
                "f"
            ),
            Some(Problem::AnchorMismatch { id: 5, .. })
        ));
        assert_eq!(check_anchor(Chain::Audit, None, None, found, "f"), None);
    }

    #[test]
    fn head_text_round_trips() {
        let h = Head {
            audit: Some(ChainHead {
                id: 12,
                hash: [0xab; 32],
            }),
            batches: None,
        };
        assert_eq!(Head::parse(&h.to_text()), Some(h));
        assert_eq!(Head::parse("something else"), None);
    }
}
