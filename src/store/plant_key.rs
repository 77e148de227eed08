//! Who may command a station from the plant. Each PC that signs plant decisions (lot
//! hold/release, model releases) has an Ed25519 key pair in a file beside its database
//! (`<data dir>/plant-signing.key`, PKCS#8, mode 0600, or `$FOODQC_PLANT_KEY_FILE`), made on
//! first use. Every message it queues for the stations carries a seal: its public key and a
//! signature over the topic and the exact payload (Kafka headers `foodqc-key` and
//! `foodqc-signature`). A station applies a message only when the seal verifies with a key its
//! admin trusts (`plant_trusted_keys`, audited) or its own; anything else is refused and
//! audited, so a writer on the topic without a trusted key cannot hold, release or re-model a
//! line.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::audit::insert_audit;
use super::audit_key::{create_key_file, data_dir, io_err};
use super::{Store, StoreError, now_ms, sql_err};

/// Environment variable naming the key file instead of `<data dir>/plant-signing.key`.
pub const KEY_FILE_ENV: &str = "FOODQC_PLANT_KEY_FILE";

/// Kafka header with the sealing PC's public key (base64).
pub const KEY_HEADER: &str = "foodqc-key";

/// Kafka header with the Ed25519 signature (base64).
pub const SIGNATURE_HEADER: &str = "foodqc-signature";

/// What a signature covers before the topic and the payload: a seal is never valid for
/// anything but a foodqc plant message.
const CONTEXT: &[u8] = b"foodqc.plant-message/1\n";

/// Length of an Ed25519 public key.
const PUBLIC_KEY_LEN: usize = 32;

/// The key file of the database at `db_path`.
pub fn key_path(db_path: &Path) -> PathBuf {
    match std::env::var_os(KEY_FILE_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => data_dir(db_path).join("plant-signing.key"),
    }
}

/// The signature of one plant message and the public key that checks it (both base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSeal {
    /// The sealing PC's public key.
    pub key: String,
    /// Ed25519 over [`CONTEXT`], the topic, a newline and the payload.
    pub signature: String,
}

/// This PC's plant signing key.
pub struct PlantKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for PlantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private half.
        write!(f, "PlantKey({})", fingerprint(&self.public_key()))
    }
}

impl PlantKey {
    /// The key at `path`, `None` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<PlantKey>, StoreError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|e| {
            io_err(path)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a foodqc plant signing key (Ed25519, PKCS#8): {e}"),
            ))
        })?;
        Ok(Some(PlantKey { pair }))
    }

    /// The key at `path`, made (mode 0600) when there is none.
    pub fn load_or_create(path: &Path) -> Result<PlantKey, StoreError> {
        if let Some(k) = PlantKey::load(path)? {
            return Ok(k);
        }
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).map_err(|_| {
                io_err(path)(std::io::Error::other("no randomness for a new signing key"))
            })?;
        create_key_file(path, pkcs8.as_ref())?;
        tracing::info!(key = %path.display(), "plant signing key created");
        PlantKey::load(path)?.ok_or_else(|| {
            io_err(path)(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "plant signing key vanished after creation",
            ))
        })
    }

    /// The public key, base64: what a station's admin trusts.
    pub fn public_key(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.pair.public_key().as_ref())
    }

    /// Seal a message for `topic` with payload `payload`.
    pub fn seal(&self, topic: &str, payload: &[u8]) -> MessageSeal {
        let signature = self.pair.sign(&signed_bytes(topic, payload));
        MessageSeal {
            key: self.public_key(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
        }
    }
}

fn signed_bytes(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(CONTEXT.len() + topic.len() + 1 + payload.len());
    bytes.extend_from_slice(CONTEXT);
    bytes.extend_from_slice(topic.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(payload);
    bytes
}

/// A short name of a public key for people: 16 hex digits of its blake3 hash, in fours.
pub fn fingerprint(public_key: &str) -> String {
    let hex = blake3::hash(public_key.trim().as_bytes()).to_hex();
    hex[..16]
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// `text` as a public key (base64 of 32 bytes, surrounding blanks ignored); `None` when it
/// is not one.
pub fn parse_public_key(text: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    (bytes.len() == PUBLIC_KEY_LEN).then(|| base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A key a station trusts to command it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// The name the admin gave it (the QC PC, say `calidad-pc-2`).
    pub name: String,
    /// The public key, base64.
    pub key: String,
    /// Who trusted it.
    pub added_by: String,
    /// When (unix ms).
    pub added_at: i64,
}

/// Why a plant message is not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealRefusal {
    /// It carries no seal.
    #[error("{}", crate::tr!("plant-seal-missing"))]
    Unsigned,
    /// The signature does not match the message: altered on the way, or forged.
    #[error("{}", crate::tr!("plant-seal-bad", fingerprint = .fingerprint.as_str()))]
    BadSignature {
        /// Fingerprint of the key it names.
        fingerprint: String,
    },
    /// A valid signature by a key this station does not trust.
    #[error("{}", crate::tr!("plant-seal-untrusted", fingerprint = .fingerprint.as_str()))]
    Untrusted {
        /// Fingerprint of the key.
        fingerprint: String,
    },
}

/// Check `seal` on a message for `topic` with `payload` against the `trusted` keys: the
/// trusted key that signed it, or why it is refused.
pub fn check<'a>(
    seal: Option<&MessageSeal>,
    topic: &str,
    payload: &[u8],
    trusted: &'a [TrustedKey],
) -> Result<&'a TrustedKey, SealRefusal> {
    let seal = seal.ok_or(SealRefusal::Unsigned)?;
    let fp = fingerprint(&seal.key);
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(key), Ok(signature)) = (engine.decode(&seal.key), engine.decode(&seal.signature))
    else {
        return Err(SealRefusal::BadSignature { fingerprint: fp });
    };
    UnparsedPublicKey::new(&ED25519, &key)
        .verify(&signed_bytes(topic, payload), &signature)
        .map_err(|_| SealRefusal::BadSignature {
            fingerprint: fp.clone(),
        })?;
    let key = engine.encode(key);
    trusted
        .iter()
        .find(|t| t.key == key)
        .ok_or(SealRefusal::Untrusted { fingerprint: fp })
}

impl Store {
    /// This PC's plant signing key, made beside the database on first use.
    pub fn plant_key(&self) -> Result<PlantKey, StoreError> {
        PlantKey::load_or_create(&key_path(&self.path))
    }

    /// This PC's plant signing key if it has one (a station that never signed has none).
    pub fn existing_plant_key(&self) -> Result<Option<PlantKey>, StoreError> {
        PlantKey::load(&key_path(&self.path))
    }

    /// The keys this station trusts, by name.
    pub fn trusted_plant_keys(&self) -> Result<Vec<TrustedKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, key, added_by, added_at FROM plant_trusted_keys ORDER BY name",
            )
            .map_err(sql_err(&self.path, "select from plant_trusted_keys"))?;
        stmt.query_map([], |r| {
            Ok(TrustedKey {
                name: r.get(0)?,
                key: r.get(1)?,
                added_by: r.get(2)?,
                added_at: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql_err(&self.path, "select from plant_trusted_keys"))
    }

    /// Trust public key `key` (base64) as `name`, by `actor`; audited `plant.key.trust`. A
    /// name or key trusted already is refused, naming it.
    pub fn trust_plant_key(
        &mut self,
        name: &str,
        key: &str,
        actor: &str,
    ) -> Result<TrustedKey, StoreError> {
        let invalid = |column, value: &str| StoreError::InvalidValue {
            path: self.path.clone(),
            table: "plant_trusted_keys",
            column,
            value: value.to_string(),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("name", name));
        }
        let key = parse_public_key(key).ok_or_else(|| invalid("key", key))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (trust a plant key)"))?;
        let taken: Option<String> = tx
            .query_row(
                "SELECT name FROM plant_trusted_keys WHERE name = ?1 OR key = ?2",
                params![name, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(&self.path, "select from plant_trusted_keys"))?;
        if let Some(taken) = taken {
            return Err(StoreError::InvalidValue {
                path: self.path.clone(),
                table: "plant_trusted_keys",
                column: "name",
                value: format!("{taken} (trusted already)"),
            });
        }
        let at = now_ms();
        tx.execute(
            "INSERT INTO plant_trusted_keys (name, key, added_by, added_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![name, key, actor, at],
        )
        .map_err(sql_err(&self.path, "insert into plant_trusted_keys"))?;
        let details =
            serde_json::json!({ "name": name, "key": key, "fingerprint": fingerprint(&key) });
        insert_audit(&tx, &self.path, actor, "plant.key.trust", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (trust a plant key)"))?;
        self.anchor_heads();
        Ok(TrustedKey {
            name: name.to_string(),
            key,
            added_by: actor.to_string(),
            added_at: at,
        })
    }

    /// Stop trusting key `name`, by `actor`; audited `plant.key.revoke`. The key revoked, or
    /// `None` when no key has that name.
    pub fn revoke_plant_key(
        &mut self,
        name: &str,
        actor: &str,
    ) -> Result<Option<TrustedKey>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (revoke a plant key)"))?;
        let found = tx
            .query_row(
                "DELETE FROM plant_trusted_keys WHERE name = ?1
                 RETURNING name, key, added_by, added_at",
                [name.trim()],
                |r| {
                    Ok(TrustedKey {
                        name: r.get(0)?,
                        key: r.get(1)?,
                        added_by: r.get(2)?,
                        added_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sql_err(&self.path, "delete from plant_trusted_keys"))?;
        let Some(found) = found else {
            return Ok(None);
        };
        let details = serde_json::json!({
            "name": found.name,
            "key": found.key,
            "fingerprint": fingerprint(&found.key),
        });
        insert_audit(&tx, &self.path, actor, "plant.key.revoke", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (revoke a plant key)"))?;
        self.anchor_heads();
        Ok(Some(found))
    }

    /// Audit (`plant.message.refuse`, actor `station`) that plant message `id` on `topic` was
    /// not applied, and why; once per message and key. True when this is the first time.
    pub fn refuse_plant_message(
        &mut self,
        id: &str,
        topic: &str,
        seal: Option<&MessageSeal>,
        why: &SealRefusal,
        station: &str,
    ) -> Result<bool, StoreError> {
        let fp = seal.map(|s| fingerprint(&s.key)).unwrap_or_default();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&self.path, "begin (refuse a plant message)"))?;
        let seen = tx
            .query_row(
                "SELECT 1 FROM audit_log WHERE action = 'plant.message.refuse'
                 AND json_extract(details_json, '$.message') = ?1
                 AND json_extract(details_json, '$.fingerprint') = ?2",
                params![id, fp],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql_err(&self.path, "select from audit_log"))?
            .is_some();
        if seen {
            return Ok(false);
        }
        let details = serde_json::json!({
            "message": id,
            "topic": topic,
            "fingerprint": fp,
            "why": why.to_string(),
        });
        insert_audit(&tx, &self.path, station, "plant.message.refuse", &details)?;
        tx.commit()
            .map_err(sql_err(&self.path, "commit (refuse a plant message)"))?;
        self.anchor_heads();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(name: &str, key: &PlantKey) -> TrustedKey {
        TrustedKey {
            name: name.into(),
            key: key.public_key(),
            added_by: "admin".into(),
            added_at: 0,
        }
    }

    #[test]
    fn a_seal_holds_for_its_own_message_and_trusted_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let qc = PlantKey::load_or_create(&dir.path().join("qc.key")).unwrap();
        let other = PlantKey::load_or_create(&dir.path().join("other.key")).unwrap();
        let trust = [trusted("calidad-pc", &qc)];
        let payload = br#"{"lot":"L-1","status":"hold"}"#;
        let seal = qc.seal("foodqc.commands", payload);
        assert_eq!(
            check(Some(&seal), "foodqc.commands", payload, &trust)
                .unwrap()
                .name,
            "calidad-pc"
        );
        let fp = fingerprint(&qc.public_key());
        // Altered payload, another topic, a copied signature under another key.
        let altered = br#"{"lot":"L-1","status":"released"}"#;
        assert_eq!(
            check(Some(&seal), "foodqc.commands", altered, &trust),
            Err(SealRefusal::BadSignature {
                fingerprint: fp.clone()
            })
        );
        assert!(matches!(
            check(Some(&seal), "foodqc.models", payload, &trust),
            Err(SealRefusal::BadSignature { .. })
        ));
        let borrowed = MessageSeal {
            key: other.public_key(),
            signature: seal.signature.clone(),
        };
        assert!(matches!(
            check(Some(&borrowed), "foodqc.commands", payload, &trust),
            Err(SealRefusal::BadSignature { .. })
        ));
        // A valid seal by a key nobody trusted, and no seal at all.
        let by_other = other.seal("foodqc.commands", payload);
        assert_eq!(
            check(Some(&by_other), "foodqc.commands", payload, &trust),
            Err(SealRefusal::Untrusted {
                fingerprint: fingerprint(&other.public_key())
            })
        );
        assert_eq!(
            check(None, "foodqc.commands", payload, &trust),
            Err(SealRefusal::Unsigned)
        );
        let garbage = MessageSeal {
            key: "not base64!".into(),
            signature: "??".into(),
        };
        assert!(matches!(
            check(Some(&garbage), "foodqc.commands", payload, &trust),
            Err(SealRefusal::BadSignature { .. })
        ));
    }

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plant-signing.key");
        assert!(PlantKey::load(&path).unwrap().is_none());
        let made = PlantKey::load_or_create(&path).unwrap();
        let again = PlantKey::load_or_create(&path).unwrap();
        assert_eq!(made.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{made:?}").contains(&made.public_key()));
        std::fs::write(&path, b"not a key").unwrap();
        let e = PlantKey::load(&path).unwrap_err().to_string();
        assert!(e.contains("plant-signing.key"), "{e}");
        assert_eq!(
            parse_public_key(&made.public_key()),
            Some(made.public_key())
        );
        assert_eq!(parse_public_key("  abc  "), None);
        assert_eq!(parse_public_key("AAAA"), None);
        assert_eq!(fingerprint(&made.public_key()).len(), 19);
    }
}
