//! [`Event`]: a decoded envelope, its strictly decoded payload and its id.

use proto::dsse::Envelope;
use proto::{Body, ContractId, DecodeError, DecodeErrorKind, EventId, KeyId, Kind, Payload};

use crate::error::Rejection;
use crate::limits::ENVELOPE_BYTES_MAX;

/// One event as received: the DSSE envelope, the payload it carries (decoded strictly) and the
/// event id, SHA-256 of the payload bytes received (never of a re-encoding).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Event {
    envelope: Envelope,
    payload: Payload,
    id: EventId,
    leaf: Vec<u8>,
}

impl Event {
    /// Decodes an envelope as received (its JSON bytes) and the payload inside.
    ///
    /// # Errors
    /// [`Rejection::Decode`]: over [`ENVELOPE_BYTES_MAX`] (`too-large`), or any envelope or
    /// payload decoding failure; payload errors are located under `/payload`.
    pub fn decode(envelope_json: &[u8]) -> Result<Self, Rejection> {
        if envelope_json.len() > ENVELOPE_BYTES_MAX {
            return Err(Rejection::Decode(DecodeError::new(
                DecodeErrorKind::TooLarge,
                "",
                format!(
                    "envelope of {} bytes is over the limit of {ENVELOPE_BYTES_MAX}",
                    envelope_json.len()
                ),
            )));
        }
        // The leaf bytes come with the envelope, from the text received (no re-encoding), here
        // where decoding runs in parallel, not on the sequential apply path.
        let (envelope, leaf) = Envelope::decode_with_jcs(envelope_json)?;
        Self::with_leaf(envelope, leaf)
    }

    /// The event an already decoded envelope carries.
    ///
    /// # Errors
    /// [`Rejection::Decode`] if the payload does not decode strictly (located under
    /// `/payload`).
    pub fn from_envelope(envelope: Envelope) -> Result<Self, Rejection> {
        let leaf = envelope.to_jcs();
        Self::with_leaf(envelope, leaf)
    }

    /// `leaf` is the canonical bytes of `envelope`.
    fn with_leaf(envelope: Envelope, leaf: Vec<u8>) -> Result<Self, Rejection> {
        let payload = Payload::decode(envelope.payload()).map_err(|e| e.under("/payload"))?;
        let id = EventId::of_payload(envelope.payload());
        Ok(Self {
            envelope,
            payload,
            id,
            leaf,
        })
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The decoded payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The event id: SHA-256 of the payload bytes.
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// The contract it belongs to.
    pub fn contract(&self) -> &ContractId {
        &self.payload.contract
    }

    /// Its position in the contract's stream.
    pub fn seq(&self) -> u64 {
        self.payload.seq.get()
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.payload.kind()
    }

    /// Its body.
    pub fn body(&self) -> &Body {
        &self.payload.body
    }

    /// The author's key id.
    pub fn author(&self) -> &KeyId {
        &self.payload.author
    }

    /// The Merkle leaf data: the RFC 8785 bytes of the envelope (encoded once, at decoding).
    pub fn leaf_bytes(&self) -> &[u8] {
        &self.leaf
    }

    /// A copy of [`Event::leaf_bytes`].
    pub fn leaf(&self) -> Vec<u8> {
        self.leaf.clone()
    }
}
