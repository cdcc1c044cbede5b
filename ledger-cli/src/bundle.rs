//! The audit bundle: a self-contained, plain-text copy of a ledger that an auditor verifies
//! offline (`ledger audit --bundle`). Its normative format is section 7 of `proto/SPEC.md`.
//!
//! A bundle is JSON Lines, in this order: one `bundle` header, one `checkpoint` (the signed
//! note, every signature kept), zero or more `node` verifier keys, zero or more party `key`s,
//! then exactly `size` `event` lines in log order, each holding the envelope's RFC 8785 bytes
//! (its Merkle leaf data) verbatim. Keys come before events so that a reader can verify
//! signatures while it streams; a key line is self-certifying (its key id is the hash of the
//! key), so a wrong one can hide no forgery.
//!
//! The reader splits the file into chunks of raw event lines (cheap, one thread) and
//! [`parse_event_line`] extracts an envelope's exact bytes (run by the audit's workers).
//! Nothing here judges signatures, rules or the Merkle root: that is `cmd::audit`.

use std::io::{self, BufRead, Read, Write};

use proto::{KeyId, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The bundle format version this build reads and writes.
pub(crate) const BUNDLE_VERSION: u64 = 1;

/// Longest line a bundle may hold, newline included: an envelope of the largest claim (10 000
/// participants) is under 1.5 MiB of base64.
pub(crate) const LINE_BYTES_MAX: u64 = 4 << 20;

/// A bundle failure: the file could not be read, or it is not a well-formed bundle.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BundleError {
    /// Reading failed: nothing about the ledger was learnt.
    #[error("could not read the bundle: {0}")]
    Io(#[from] io::Error),
    /// The bytes break the bundle format: the evidence itself is faulty.
    #[error("bundle line {line}: {detail}")]
    Format {
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong, and what a well-formed line holds.
        detail: String,
    },
}

impl BundleError {
    /// Stable machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Io(_) => "bundle-io",
            Self::Format { .. } => "bundle-format",
        }
    }

    fn format(line: u64, detail: impl Into<String>) -> Self {
        Self::Format {
            line,
            detail: detail.into(),
        }
    }
}

/// Everything a bundle holds before its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The log's origin line (the checkpoint's first line).
    pub(crate) origin: String,
    /// Number of events: the checkpoint's tree size.
    pub(crate) size: u64,
    /// When the bundle was written (RFC 3339), for people; never checked.
    pub(crate) created_at: Option<String>,
    /// The signed checkpoint note text, with every signature line.
    pub(crate) checkpoint: String,
    /// Signed-note verifier keys of the nodes that sign checkpoints (not trusted by a reader).
    pub(crate) nodes: Vec<String>,
    /// Every public key that signs an event, so signatures verify while the file streams.
    pub(crate) keys: Vec<PublicKey>,
}

/// One line before the events.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum HeadLine {
    Bundle {
        version: u64,
        origin: String,
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
    },
    Checkpoint {
        note: String,
    },
    Node {
        vkey: String,
    },
    Key {
        keyid: KeyId,
        key: PublicKey,
    },
}

/// Only the `type` member of a line, to dispatch on.
#[derive(Deserialize)]
struct LineType<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

/// An event line as JSON, borrowing the envelope's exact bytes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLineJson<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    index: u64,
    #[serde(borrow)]
    envelope: &'a RawValue,
}

/// Writes a bundle: the head at once, then exactly `size` events.
pub(crate) struct BundleWriter<W: Write> {
    out: W,
    next_index: u64,
    size: u64,
}

impl<W: Write> BundleWriter<W> {
    /// Writes `head` and returns a writer for the events.
    ///
    /// # Errors
    /// Any write error.
    pub(crate) fn start(mut out: W, head: &Head) -> io::Result<Self> {
        write_line(
            &mut out,
            &HeadLine::Bundle {
                version: BUNDLE_VERSION,
                origin: head.origin.clone(),
                size: head.size,
                created_at: head.created_at.clone(),
            },
        )?;
        write_line(
            &mut out,
            &HeadLine::Checkpoint {
                note: head.checkpoint.clone(),
            },
        )?;
        for vkey in &head.nodes {
            write_line(&mut out, &HeadLine::Node { vkey: vkey.clone() })?;
        }
        for key in &head.keys {
            write_line(
                &mut out,
                &HeadLine::Key {
                    keyid: KeyId::of(key),
                    key: *key,
                },
            )?;
        }
        Ok(Self {
            out,
            next_index: 0,
            size: head.size,
        })
    }

    /// Writes the next event: `envelope` must be the envelope's RFC 8785 bytes.
    ///
    /// # Errors
    /// `InvalidInput` past `size` events or for bytes holding a newline (never canonical JSON),
    /// and any write error.
    pub(crate) fn event(&mut self, envelope: &[u8]) -> io::Result<()> {
        if self.next_index >= self.size {
            return Err(invalid_input(format!(
                "more than the {} events announced",
                self.size
            )));
        }
        if envelope.contains(&b'\n') {
            return Err(invalid_input(
                "an envelope holds a newline: not RFC 8785 bytes".into(),
            ));
        }
        write!(
            self.out,
            "{{\"type\":\"event\",\"index\":{},\"envelope\":",
            self.next_index
        )?;
        self.out.write_all(envelope)?;
        self.out.write_all(b"}\n")?;
        self.next_index += 1;
        Ok(())
    }

    /// Flushes and returns the output.
    ///
    /// # Errors
    /// `InvalidInput` if fewer than `size` events were written, and any write error.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.next_index != self.size {
            return Err(invalid_input(format!(
                "{} events written, {} announced",
                self.next_index, self.size
            )));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

fn invalid_input(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, detail)
}

fn write_line<W: Write>(out: &mut W, line: &HeadLine) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

/// Raw event lines read from a bundle, newlines stripped, in one buffer.
pub(crate) struct EventChunk {
    first_line: u64,
    first_index: u64,
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl EventChunk {
    /// Number of events.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// `(line number, log index, line bytes)` of each event, in order.
    pub(crate) fn lines(&self) -> impl Iterator<Item = (u64, u64, &[u8])> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .zip(0u64..)
            .map(move |((start, end), i)| {
                (
                    self.first_line + i,
                    self.first_index + i,
                    &self.data[start..end],
                )
            })
    }
}

/// Reads a bundle: [`BundleReader::open`] gives its head, then [`BundleReader::next_chunk`]
/// its events.
pub(crate) struct BundleReader<R> {
    input: R,
    /// Number of the last line read.
    line: u64,
    /// The first event line, read while looking for the end of the head.
    pending: Option<Vec<u8>>,
    events_read: u64,
    size: u64,
}

impl<R: BufRead> BundleReader<R> {
    /// Reads the head of a bundle.
    ///
    /// # Errors
    /// [`BundleError::Format`] for a missing or misplaced line, an unknown line type or version,
    /// or a key line whose key id is not its key's, and [`BundleError::Io`].
    pub(crate) fn open(input: R) -> Result<(Head, Self), BundleError> {
        let mut reader = Self {
            input,
            line: 0,
            pending: None,
            events_read: 0,
            size: 0,
        };
        let mut head = reader.read_header()?;
        let note = reader.read_line_or_end()?;
        head.checkpoint = match note.as_deref().map(parse_head_line) {
            Some(Ok(HeadLine::Checkpoint { note })) => note,
            Some(Err(detail)) => return Err(BundleError::format(reader.line, detail)),
            _ => {
                return Err(BundleError::format(
                    reader.line,
                    "expected the checkpoint line",
                ))
            }
        };
        reader.read_keys(&mut head)?;
        reader.size = head.size;
        Ok((head, reader))
    }

    fn read_header(&mut self) -> Result<Head, BundleError> {
        let line = self.read_line_or_end()?;
        let not_a_bundle = |detail: &str| {
            let expected = "the first line must be {\"type\":\"bundle\",...}";
            BundleError::format(1, format!("not an audit bundle: {expected}{detail}"))
        };
        let (version, origin, size, created_at) = match line.as_deref().map(parse_head_line) {
            Some(Ok(HeadLine::Bundle {
                version,
                origin,
                size,
                created_at,
            })) => (version, origin, size, created_at),
            Some(Err(detail)) => return Err(not_a_bundle(&format!(" ({detail})"))),
            _ => return Err(not_a_bundle("")),
        };
        if version != BUNDLE_VERSION {
            return Err(BundleError::format(
                1,
                format!("bundle version {version}; this build reads version {BUNDLE_VERSION}"),
            ));
        }
        let (checkpoint, nodes, keys) = (String::new(), Vec::new(), Vec::new());
        Ok(Head {
            origin,
            size,
            created_at,
            checkpoint,
            nodes,
            keys,
        })
    }

    /// Reads `node` then `key` lines, up to the first event line (kept in `pending`).
    fn read_keys(&mut self, head: &mut Head) -> Result<(), BundleError> {
        while let Some(line) = self.read_line_or_end()? {
            if line_type(&line).as_deref() == Some("event") {
                self.pending = Some(line);
                return Ok(());
            }
            match parse_head_line(&line) {
                Ok(HeadLine::Node { vkey }) if head.keys.is_empty() => head.nodes.push(vkey),
                Ok(HeadLine::Key { keyid, key }) if keyid == KeyId::of(&key) => head.keys.push(key),
                Ok(HeadLine::Key { keyid, key }) => {
                    return Err(BundleError::format(
                        self.line,
                        format!("key line: keyid {keyid} is not the SHA-256 of key {key}"),
                    ))
                }
                Ok(_) => return Err(BundleError::format(
                    self.line,
                    "misplaced line: the order is bundle, checkpoint, node..., key..., event...",
                )),
                Err(detail) => return Err(BundleError::format(self.line, detail)),
            }
        }
        Ok(())
    }

    /// Reads up to `events_max` event lines; `None` once every event is read.
    ///
    /// # Errors
    /// [`BundleError::Format`] for fewer or more event lines than the header's size, an empty
    /// or overlong line, or a last line without its newline; [`BundleError::Io`].
    pub(crate) fn next_chunk(
        &mut self,
        events_max: usize,
    ) -> Result<Option<EventChunk>, BundleError> {
        let mut chunk = EventChunk {
            first_line: self.line + 1 - u64::from(self.pending.is_some()),
            first_index: self.events_read,
            data: Vec::new(),
            ends: Vec::with_capacity(events_max),
        };
        while chunk.len() < events_max {
            let line = match self.pending.take() {
                Some(line) => Some(line),
                None => self.read_line_or_end()?,
            };
            let Some(line) = line else {
                break;
            };
            if self.events_read == self.size {
                return Err(BundleError::format(
                    self.line,
                    format!("a line after the {} events the header announces", self.size),
                ));
            }
            chunk.data.extend_from_slice(&line);
            chunk.ends.push(chunk.data.len());
            self.events_read += 1;
        }
        if chunk.len() == 0 && self.events_read < self.size {
            return Err(BundleError::format(
                self.line,
                format!(
                    "the bundle ends after {} events; its header announces {}",
                    self.events_read, self.size
                ),
            ));
        }
        Ok((chunk.len() > 0).then_some(chunk))
    }

    /// The next line without its newline, or `None` at the end of the file.
    fn read_line_or_end(&mut self) -> Result<Option<Vec<u8>>, BundleError> {
        let mut line = Vec::new();
        let read = (&mut self.input)
            .take(LINE_BYTES_MAX)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        if line.pop() != Some(b'\n') {
            let detail = if read as u64 == LINE_BYTES_MAX {
                format!("line longer than {LINE_BYTES_MAX} bytes")
            } else {
                "the last line has no newline: every line ends with LF".to_owned()
            };
            return Err(BundleError::format(self.line, detail));
        }
        if line.is_empty() {
            return Err(BundleError::format(
                self.line,
                "empty line: a bundle has none",
            ));
        }
        Ok(Some(line))
    }
}

fn line_type(line: &[u8]) -> Option<String> {
    serde_json::from_slice::<LineType<'_>>(line)
        .ok()
        .map(|t| t.kind.into_owned())
}

fn parse_head_line(line: &[u8]) -> Result<HeadLine, String> {
    serde_json::from_slice(line).map_err(|e| format!("not a valid bundle line: {e}"))
}

/// The exact envelope bytes of an event line, checking it is the line of event `index`.
///
/// # Errors
/// [`BundleError::Format`] (at `line`) for a line that is not an event line of index `index`.
pub(crate) fn parse_event_line(bytes: &[u8], line: u64, index: u64) -> Result<&[u8], BundleError> {
    let parsed: EventLineJson<'_> = serde_json::from_slice(bytes)
        .map_err(|e| BundleError::format(line, format!("not a valid event line: {e}")))?;
    if parsed.kind != "event" {
        return Err(BundleError::format(
            line,
            format!(
                "a {:?} line among the events: events come last",
                parsed.kind
            ),
        ));
    }
    if parsed.index != index {
        return Err(BundleError::format(
            line,
            format!(
                "event line holds index {}, expected {index}: events are in log order",
                parsed.index
            ),
        ));
    }
    Ok(parsed.envelope.get().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            origin: "ledger.example/log".to_owned(),
            size: 2,
            created_at: Some("2026-01-02T03:04:05Z".to_owned()),
            checkpoint: "ledger.example/log\n2\nAAAA\n\n— ledger.example/log AAAA\n".to_owned(),
            nodes: vec!["ledger.example/log+01020304+AQID".to_owned()],
            keys: vec![PublicKey::from_bytes([7; 32])],
        }
    }

    const ENVELOPES: [&[u8]; 2] = [br#"{"payload":"e30=","x":1}"#, br#"{"payload":"W10="}"#];

    fn bundle_bytes() -> Vec<u8> {
        let Ok(mut writer) = BundleWriter::start(Vec::new(), &head()) else {
            panic!("writing to memory failed");
        };
        for envelope in ENVELOPES {
            assert!(writer.event(envelope).is_ok());
        }
        writer.finish().unwrap_or_default()
    }

    fn read_all(bytes: &[u8]) -> Result<(Head, Vec<Vec<u8>>), BundleError> {
        let (head, mut reader) = BundleReader::open(bytes)?;
        let mut envelopes = Vec::new();
        while let Some(chunk) = reader.next_chunk(1)? {
            for (line, index, bytes) in chunk.lines() {
                envelopes.push(parse_event_line(bytes, line, index)?.to_vec());
            }
        }
        Ok((head, envelopes))
    }

    #[test]
    fn a_bundle_reads_back_as_written() {
        let bytes = bundle_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let expected_event =
            "{\"type\":\"event\",\"index\":1,\"envelope\":{\"payload\":\"W10=\"}}\n";
        assert!(text.ends_with(expected_event), "{text}");
        assert!(
            text.starts_with("{\"type\":\"bundle\",\"version\":1,"),
            "{text}"
        );
        let Ok((read_head, envelopes)) = read_all(&bytes) else {
            panic!("a written bundle must read back");
        };
        assert_eq!(read_head, head());
        assert_eq!(envelopes, ENVELOPES.map(<[u8]>::to_vec).to_vec());
    }

    fn format_error_line(bytes: &[u8]) -> Option<u64> {
        match read_all(bytes) {
            Err(BundleError::Format { line, .. }) => Some(line),
            _ => None,
        }
    }

    fn lines_of(bytes: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn joined(lines: &[String]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_dropped_event_is_a_format_error_at_the_end() {
        let mut lines = lines_of(&bundle_bytes());
        lines.remove(4);
        assert_eq!(format_error_line(&joined(&lines)), Some(5));
    }

    #[test]
    fn swapped_events_are_a_format_error_at_the_first() {
        let mut lines = lines_of(&bundle_bytes());
        lines.swap(4, 5);
        assert_eq!(format_error_line(&joined(&lines)), Some(5));
    }

    #[test]
    fn an_extra_line_is_a_format_error() {
        let mut lines = lines_of(&bundle_bytes());
        lines.push(lines[5].clone());
        assert_eq!(format_error_line(&joined(&lines)), Some(7));
    }

    #[test]
    fn misplaced_and_malformed_lines_are_format_errors() {
        let lines = lines_of(&bundle_bytes());
        let mut keys_first = lines.clone();
        keys_first.swap(2, 3);
        assert_eq!(format_error_line(&joined(&keys_first)), Some(4));
        let mut bad_keyid = lines.clone();
        let keyid = KeyId::of(&PublicKey::from_bytes([7; 32])).to_hex();
        bad_keyid[3] = bad_keyid[3].replacen(&keyid, &"0".repeat(64), 1);
        assert_eq!(format_error_line(&joined(&bad_keyid)), Some(4));
        let mut unknown = lines.clone();
        unknown[4] = unknown[4].replacen("\"index\"", "\"extra\":1,\"index\"", 1);
        assert_eq!(format_error_line(&joined(&unknown)), Some(5));
        let mut no_newline = joined(&lines);
        no_newline.pop();
        assert_eq!(format_error_line(&no_newline), Some(6));
        assert_eq!(
            format_error_line(b"{\"type\":\"checkpoint\",\"note\":\"x\"}\n"),
            Some(1)
        );
    }

    #[test]
    fn the_writer_refuses_a_wrong_count() {
        let Ok(writer) = BundleWriter::start(Vec::new(), &head()) else {
            panic!("writing to memory failed");
        };
        assert!(writer.finish().is_err());
    }
}
