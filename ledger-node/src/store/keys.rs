//! Key and value layouts of the store's trees. Every number is big-endian, so sled's byte order
//! is the numeric order and a range scan walks the log, a stream or a tree level in order.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `log` | index u64 | envelope, RFC 8785 bytes (the Merkle leaf data) |
//! | `by-id` | event id (32 bytes) | index u64 |
//! | `streams` | contract id, 0x00, seq u64 | index u64 |
//! | `facts` | index u64 | [`EventFacts`](super::EventFacts) JSON |
//! | `nodes` | level u8, index u64 | 32-byte hash of a complete subtree |
//! | `checkpoints` | size u64 | signed note text |
//! | `projections` | contract id | `ContractState` JSON |
//! | `meta` | name (ASCII) | see [`MetaKey`] |
//!
//! A contract id is `[a-z0-9][a-z0-9-]{0,63}`, so it never holds 0x00: the separator makes the
//! stream prefix of contract `a` no prefix of contract `ab`'s.

use proto::ContractId;

/// A u64 as a key or value: 8 bytes, big-endian.
pub(crate) fn u64_bytes(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

/// The u64 in exactly 8 big-endian bytes, or `None` for any other length.
pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// The 32 bytes of a hash, or `None` for any other length.
pub(crate) fn read_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).ok()
}

/// The key of a Merkle node: level, then index.
pub(crate) fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = level;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The prefix of every stream key of `contract`.
pub(crate) fn stream_prefix(contract: &ContractId) -> Vec<u8> {
    let mut key = Vec::with_capacity(contract.as_str().len() + 9);
    key.extend_from_slice(contract.as_str().as_bytes());
    key.push(0);
    key
}

/// The stream key of `contract` at `seq`.
pub(crate) fn stream_key(contract: &ContractId, seq: u64) -> Vec<u8> {
    let mut key = stream_prefix(contract);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// Names in the `meta` tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetaKey {
    /// u32: the layout version of the trees ([`super::schema::SCHEMA_VERSION`]).
    SchemaVersion,
    /// u64: events in the log (the tree size).
    Size,
    /// 32 bytes: the Merkle root at that size.
    Root,
    /// u64: the log size the stored projections reflect.
    ProjectionPosition,
    /// u64: the last stream sequence applied (replicated ledgers).
    StreamPosition,
    /// u64: how far the signatures stream was read (replicated ledgers).
    CosignPosition,
    /// u64: the epoch of the events stream `StreamPosition` counts in (replicated ledgers;
    /// absent: 1). A stream re-created from a node's store has the next epoch.
    StreamEpoch,
}

impl MetaKey {
    /// The key bytes.
    pub(crate) fn bytes(self) -> &'static [u8] {
        match self {
            Self::SchemaVersion => b"schema_version",
            Self::Size => b"size",
            Self::Root => b"root",
            Self::ProjectionPosition => b"projection_position",
            Self::StreamPosition => b"stream_position",
            Self::CosignPosition => b"cosign_position",
            Self::StreamEpoch => b"stream_epoch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_keys_sort_numerically() {
        // 255 < 256 numerically; little-endian bytes would sort them the other way round.
        assert!(u64_bytes(255) < u64_bytes(256));
        assert!(node_key(0, u64::MAX) < node_key(1, 0));
        assert_eq!(
            read_u64(&u64_bytes(0x0102_0304_0506_0708)),
            Some(0x0102_0304_0506_0708)
        );
        assert_eq!(read_u64(&[1, 2, 3]), None);
    }

    #[test]
    fn stream_prefixes_do_not_overlap() {
        let a: ContractId = "a".parse().unwrap();
        let ab: ContractId = "ab".parse().unwrap();
        assert!(!stream_key(&ab, 0).starts_with(&stream_prefix(&a)));
        assert!(stream_key(&a, 7).starts_with(&stream_prefix(&a)));
        assert!(stream_key(&a, 1) < stream_key(&a, 256));
    }
}
