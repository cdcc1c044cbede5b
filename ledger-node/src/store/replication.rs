//! The store's part of replication (see `crate::replication`): where the node is in the events
//! stream, the last sequence of each subject, the stream messages refused, and the checkpoint
//! signatures collected from the ledger's nodes.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `refused` | stream sequence u64 | [`RefusedMessage`] JSON |
//! | `subjects` | subject token (a contract id as received) | last stream sequence u64 |
//! | `cosignatures` | size u64, note key id (4 bytes) | signature line text |
//! | `meta` | `stream_position` | u64: the last stream sequence applied |
//! | `meta` | `cosign_position` | u64: signatures stream read up to here |
//! | `meta` | `stream_epoch` | u64: the events stream's epoch the position counts in (absent: 1) |
//!
//! `refused`, `subjects` and `stream_position` are written in the commit group that applies the
//! messages, so the position never runs ahead of (or behind) what it produced. Signatures are
//! written apart, by the cosigning task: each is re-checked against the tree before it is kept,
//! and they can be collected again from the stream.

use proto::EventId;
use serde::{Deserialize, Serialize};

use super::keys::{self, MetaKey};
use super::{corrupt, storage, Store, StoreError};

/// A message of the events stream that no node admits, as every node records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusedMessage {
    /// Its stream sequence.
    pub sequence: u64,
    /// The subject it was published on.
    pub subject: String,
    /// Its event id, when the envelope decodes.
    pub event: Option<EventId>,
    /// The stable code of the refusal (`invalid-signature`, `over-cap`, `subject-mismatch`...).
    pub code: String,
    /// The HTTP status a client would have got for it from a node.
    pub status: u16,
    /// The explanation.
    pub detail: String,
}

fn cosignature_key(size: u64, key_id: [u8; 4]) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&size.to_be_bytes());
    key[8..].copy_from_slice(&key_id);
    key
}

impl Store {
    /// The last stream sequence applied (`None` for a store never replicated).
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn stream_position(&self) -> Result<Option<u64>, StoreError> {
        self.meta_u64(MetaKey::StreamPosition)
    }

    /// Sets the last stream sequence applied, not flushed: for a rebuild, which replays the
    /// log the stream produced and so keeps the node where it was in the stream.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn put_stream_position(&self, position: u64) -> Result<(), StoreError> {
        self.meta
            .insert(
                MetaKey::StreamPosition.bytes(),
                &keys::u64_bytes(position)[..],
            )
            .map_err(storage)?;
        Ok(())
    }

    /// The epoch of the events stream the stored position counts in (`None`: never moved to
    /// a re-created stream, so 1).
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn stream_epoch(&self) -> Result<Option<u64>, StoreError> {
        self.meta_u64(MetaKey::StreamEpoch)
    }

    /// Sets the events stream's epoch, not flushed: for a rebuild, which keeps the node
    /// where it was in the stream.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn put_stream_epoch(&self, epoch: u64) -> Result<(), StoreError> {
        self.meta
            .insert(MetaKey::StreamEpoch.bytes(), &keys::u64_bytes(epoch)[..])
            .map_err(storage)?;
        Ok(())
    }

    /// Every subject token with a stored last sequence.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a token that is not UTF-8.
    pub fn subject_tokens(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for item in self.subjects.iter() {
            let (key, _) = item.map_err(storage)?;
            let token = String::from_utf8(key.to_vec())
                .map_err(|_| corrupt("a subjects key is not UTF-8"))?;
            out.push(token);
        }
        Ok(out)
    }

    /// The stream sequences of every stored refusal.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed key.
    pub fn refused_sequences(&self) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for item in self.refused.iter() {
            let (key, _) = item.map_err(storage)?;
            out.push(keys::read_u64(&key).ok_or_else(|| corrupt("refused key"))?);
        }
        Ok(out)
    }

    /// The last stream sequence of the subject whose last token is `token`, if any message was
    /// applied from it.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn subject_sequence(&self, token: &str) -> Result<Option<u64>, StoreError> {
        match self.subjects.get(token.as_bytes()).map_err(storage)? {
            None => Ok(None),
            Some(v) => keys::read_u64(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("subjects/{token} is not a u64"))),
        }
    }

    /// Up to `limit` refused stream messages from sequence `from`, in order.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed record.
    pub fn refused(&self, from: u64, limit: usize) -> Result<Vec<RefusedMessage>, StoreError> {
        let mut out = Vec::new();
        for item in self.refused.range(keys::u64_bytes(from)..).take(limit) {
            let (key, value) = item.map_err(storage)?;
            let sequence = keys::read_u64(&key).ok_or_else(|| corrupt("refused key"))?;
            let record = serde_json::from_slice(&value)
                .map_err(|e| corrupt(format!("refused/{sequence}: {e}")))?;
            out.push(record);
        }
        Ok(out)
    }

    /// Keeps a checkpoint signature line of the key `key_id` at tree `size`; not flushed.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn put_cosignature(
        &self,
        size: u64,
        key_id: [u8; 4],
        line: &str,
    ) -> Result<(), StoreError> {
        self.cosignatures
            .insert(cosignature_key(size, key_id), line.as_bytes())
            .map(|_| ())
            .map_err(storage)
    }

    /// Whether a signature of `key_id` at `size` is kept.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn has_cosignature(&self, size: u64, key_id: [u8; 4]) -> Result<bool, StoreError> {
        self.cosignatures
            .contains_key(cosignature_key(size, key_id))
            .map_err(storage)
    }

    /// The signature lines kept at tree `size`, by key id.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a line that is not UTF-8.
    pub fn cosignature_lines(&self, size: u64) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for item in self.cosignatures.scan_prefix(keys::u64_bytes(size)) {
            let (_, value) = item.map_err(storage)?;
            let line = String::from_utf8(value.to_vec())
                .map_err(|_| corrupt(format!("cosignatures/{size} is not UTF-8")))?;
            out.push(line);
        }
        Ok(out)
    }

    /// The largest size at most `size_max` with a kept signature.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed key.
    pub fn last_cosigned_size(&self, size_max: u64) -> Result<Option<u64>, StoreError> {
        let end = cosignature_key(size_max, [0xff; 4]);
        match self.cosignatures.range(..=end).next_back() {
            None => Ok(None),
            Some(item) => {
                let (key, _) = item.map_err(storage)?;
                keys::read_u64(key.get(..8).unwrap_or_default())
                    .map(Some)
                    .ok_or_else(|| corrupt("cosignatures key is malformed"))
            }
        }
    }

    /// How far the signatures stream was read (0 if never).
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn cosign_position(&self) -> Result<u64, StoreError> {
        Ok(self.meta_u64(MetaKey::CosignPosition)?.unwrap_or(0))
    }

    /// Records how far the signatures stream was read, and flushes (with the signatures kept
    /// before it).
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn set_cosign_position(&self, position: u64) -> Result<(), StoreError> {
        self.meta
            .insert(
                MetaKey::CosignPosition.bytes(),
                &keys::u64_bytes(position)[..],
            )
            .map_err(storage)?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosignature_keys_sort_by_size_then_key() {
        assert!(cosignature_key(1, [0xff; 4]) < cosignature_key(2, [0; 4]));
        assert!(cosignature_key(256, [0; 4]) > cosignature_key(255, [0xff; 4]));
    }

    #[test]
    fn signatures_are_found_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open_unchecked(dir.path(), crate::config::CACHE_BYTES_MAX_DEFAULT).unwrap();
        store.put_cosignature(5, [1, 2, 3, 4], "— a x").unwrap();
        store.put_cosignature(5, [0, 0, 0, 9], "— b y").unwrap();
        store.put_cosignature(9, [7; 4], "— c z").unwrap();
        assert_eq!(store.cosignature_lines(5).unwrap(), ["— b y", "— a x"]);
        assert!(store.has_cosignature(9, [7; 4]).unwrap());
        assert!(!store.has_cosignature(9, [8; 4]).unwrap());
        assert_eq!(store.last_cosigned_size(8).unwrap(), Some(5));
        assert_eq!(store.last_cosigned_size(9).unwrap(), Some(9));
        assert_eq!(store.last_cosigned_size(4).unwrap(), None);
        assert_eq!(store.cosign_position().unwrap(), 0);
        store.set_cosign_position(12).unwrap();
        assert_eq!(store.cosign_position().unwrap(), 12);
    }
}
