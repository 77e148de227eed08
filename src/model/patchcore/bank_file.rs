//! How a memory bank is stored: not a JSON array of floats (megabytes of digits, slow to
//! parse) but its vectors as one base64 string of little-endian f16 (or f32) bytes, with the
//! blake3 checksum of those bytes, verified when read.
//!
//! ```json
//! {"dim": 152, "len": 4096, "precision": "f16", "encoding": "base64-le",
//!  "blake3": "<64 hex digits>", "vectors": "<base64>"}
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{MemoryBank, PatchCoreError};

/// Value of the `encoding` field: standard base64 (with padding) of little-endian bytes.
const ENCODING: &str = "base64-le";

/// Precision of the stored vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// IEEE binary16, 2 bytes a value.
    F16,
    /// IEEE binary32, 4 bytes a value.
    F32,
}

impl Precision {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F16 => 2,
            Precision::F32 => 4,
        }
    }
}

/// The stored form of a [`MemoryBank`].
#[derive(Serialize, Deserialize)]
struct BankFile {
    /// Values per vector.
    dim: usize,
    /// Number of vectors.
    len: usize,
    /// Precision of the bytes.
    precision: Precision,
    /// Always [`ENCODING`].
    encoding: String,
    /// blake3 (hex) of the decoded bytes.
    blake3: String,
    /// `len * dim` values, row-major, as [`ENCODING`].
    vectors: String,
}

impl BankFile {
    fn encode(bank: &MemoryBank) -> Self {
        let raw = bank.raw();
        let mut bytes = Vec::with_capacity(raw.len() * bank.precision.bytes());
        match bank.precision {
            Precision::F16 => {
                for v in raw {
                    bytes.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes());
                }
            }
            Precision::F32 => {
                for v in raw {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        Self {
            dim: bank.dim,
            len: bank.len(),
            precision: bank.precision,
            encoding: ENCODING.to_string(),
            blake3: blake3::hash(&bytes).to_hex().to_string(),
            vectors: BASE64.encode(&bytes),
        }
    }

    fn decode(self) -> Result<MemoryBank, PatchCoreError> {
        let damaged = |s: String| Err(PatchCoreError::Damaged(s));
        if self.encoding != ENCODING {
            return damaged(format!(
                "memory bank encoding is `{}`, this foodqc reads `{ENCODING}`",
                self.encoding
            ));
        }
        let bytes = match BASE64.decode(self.vectors.as_bytes()) {
            Ok(b) => b,
            Err(e) => return damaged(format!("memory bank vectors are not valid base64: {e}")),
        };
        let expected = self
            .len
            .checked_mul(self.dim)
            .and_then(|n| n.checked_mul(self.precision.bytes()));
        if self.len == 0 || self.dim == 0 || expected != Some(bytes.len()) {
            return damaged(format!(
                "memory bank says {} vectors of {} {:?} values but holds {} bytes",
                self.len,
                self.dim,
                self.precision,
                bytes.len()
            ));
        }
        let computed = blake3::hash(&bytes).to_hex().to_string();
        if !computed.eq_ignore_ascii_case(self.blake3.trim()) {
            return Err(PatchCoreError::ChecksumMismatch {
                stored: self.blake3,
                computed,
            });
        }
        let data: Vec<f32> = match self.precision {
            Precision::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Precision::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        };
        MemoryBank::from_vectors(self.dim, self.precision, data)
    }
}

impl Serialize for MemoryBank {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        BankFile::encode(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MemoryBank {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BankFile::deserialize(deserializer)?
            .decode()
            .map_err(serde::de::Error::custom)
    }
}
