//! Fuzzing entry point (not an API): the body of the `bundle_line` target in `fuzz/`, which
//! includes this file and `bundle.rs` with `#[path]` (the CLI is a binary crate). The replay
//! test below runs every file of `fuzz/corpus/bundle_line/` through it on stable.

use crate::bundle::{parse_event_line, BundleError, BundleReader, BundleWriter, Head};

/// Reads `data` as a bundle, every line through the bundle's line parsers: what reads reads
/// the same in chunks of any size; each envelope is the exact bytes of its line; and the
/// bundle written again from what was read reads back to the same head and envelopes.
pub(crate) fn bundle(data: &[u8]) {
    let one_by_one = read_all(data, 1);
    let chunked = read_all(data, 7);
    match (&one_by_one, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the chunk size changes what a bundle reads"),
        (Err(_), Err(_)) => {}
        _ => panic!("the chunk size changes whether a bundle reads"),
    }
    let Ok((head, envelopes)) = one_by_one else {
        return;
    };
    assert_eq!(u64::try_from(envelopes.len()).ok(), Some(head.size));
    for envelope in &envelopes {
        assert!(!envelope.is_empty() && !envelope.contains(&b'\n'));
        assert!(data
            .windows(envelope.len())
            .any(|w| w == envelope.as_slice()));
    }
    let Some(written) = write_all(&head, &envelopes) else {
        panic!("a bundle that reads cannot be written again");
    };
    match read_all(&written, 1) {
        Ok(again) => assert_eq!(again, (head, envelopes), "a rewritten bundle reads another"),
        Err(e) => panic!("a rewritten bundle does not read: {e}"),
    }
}

type Read = (Head, Vec<Vec<u8>>);

fn read_all(bytes: &[u8], events_max: usize) -> Result<Read, BundleError> {
    let (head, mut reader) = BundleReader::open(bytes)?;
    let mut envelopes = Vec::new();
    while let Some(chunk) = reader.next_chunk(events_max)? {
        for (line, index, bytes) in chunk.lines() {
            envelopes.push(parse_event_line(bytes, line, index)?.to_vec());
        }
    }
    Ok((head, envelopes))
}

fn write_all(head: &Head, envelopes: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut writer = BundleWriter::start(Vec::new(), head).ok()?;
    for envelope in envelopes {
        writer.event(envelope).ok()?;
    }
    writer.finish().ok()
}

#[cfg(test)]
#[path = "../../fuzz/replay.rs"]
mod replay;

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundle_line_corpus_replays() {
        super::replay::corpus(env!("CARGO_MANIFEST_DIR"), "bundle_line", super::bundle);
    }
}
