//! The RFC 6962 hashes (RFC 9162 section 2.1.1) with SHA-256, and the [`Hash`](struct@Hash) newtype.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Domain separation prefix of a leaf hash (RFC 6962 section 2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain separation prefix of an interior node hash (RFC 6962 section 2.1).
const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    /// From the 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From a byte slice, which must be exactly 32 bytes long.
    ///
    /// # Errors
    ///
    /// [`HashParseError::Length`] when the slice is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| HashParseError::Length {
                actual: bytes.len(),
            })
    }

    /// The 32 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the input length.
        hex::encode_to_slice(self.0, &mut text).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    /// Parses exactly 64 lowercase hex digits (the only form [`fmt::Display`] writes).
    fn from_str(text: &str) -> Result<Self, HashParseError> {
        if text.len() != 64 {
            return Err(HashParseError::HexLength { actual: text.len() });
        }
        if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(HashParseError::NotLowercaseHex);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| HashParseError::NotLowercaseHex)?;
        Ok(Self(bytes))
    }
}

/// Why bytes or text are not a [`Hash`](struct@Hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// Raw bytes of the wrong length.
    #[error("a hash is 32 bytes, got {actual}: send the full SHA-256 digest")]
    Length {
        /// The length received.
        actual: usize,
    },
    /// Hex text of the wrong length.
    #[error("a hash is 64 hex digits, got {actual} characters: send the full SHA-256 digest")]
    HexLength {
        /// The number of characters received.
        actual: usize,
    },
    /// Text with a character outside `0-9a-f`.
    #[error("a hash is written in lowercase hex digits (0-9, a-f) only")]
    NotLowercaseHex,
}

impl HashParseError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } | Self::HexLength { .. } => "hash-length",
            Self::NotLowercaseHex => "hash-not-lowercase-hex",
        }
    }
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    node_hash_bytes(&left.0, &right.0)
}

/// RFC 6962's interior hash over children of any length: SHA-256(0x01 || left || right).
///
/// The log only ever combines 32-byte hashes ([`node_hash`]); this form exists because the
/// RFC defines the function over byte strings and published test vectors use short children.
pub fn node_hash_bytes(left: &[u8], right: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    Hash(hasher.finalize().into())
}
