//! Fuzzing entry point (not an API): the body of the `envelope` target in `fuzz/`. The replay
//! test below runs every file of `fuzz/corpus/envelope/` through it on stable.

use sha2::{Digest, Sha256};

use crate::Event;

/// [`Event::decode`], as the node runs it on every envelope received, after the `proto`
/// envelope checks: an event's id is SHA-256 of its payload bytes, its payload re-encodes to
/// exactly those bytes, its leaf is the envelope's canonical bytes, and the leaf decodes to
/// the same event and is a fixed point.
pub fn envelope(data: &[u8]) {
    proto::fuzzing::envelope(data);
    let Ok(event) = Event::decode(data) else {
        return;
    };
    let payload = event.envelope().payload();
    let id = Sha256::digest(payload);
    assert_eq!(event.id().as_bytes().as_slice(), id.as_slice());
    assert_eq!(
        event.payload().encode(),
        payload,
        "the payload is not canonical"
    );
    assert_eq!(event.leaf_bytes(), event.envelope().to_jcs().as_slice());
    match Event::decode(event.leaf_bytes()) {
        Ok(again) => assert_eq!(again, event, "the leaf bytes decode to another event"),
        Err(e) => panic!("the leaf bytes of an event do not decode: {e}"),
    }
}

#[cfg(test)]
#[path = "../../fuzz/replay.rs"]
mod replay;

#[cfg(test)]
mod tests {
    #[test]
    fn the_envelope_corpus_replays() {
        super::replay::corpus(env!("CARGO_MANIFEST_DIR"), "envelope", super::envelope);
    }
}
