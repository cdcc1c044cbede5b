//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Encoding sorts object members by their UTF-16 code units, writes numbers in the ECMAScript
//! `Number.prototype.toString` form and escapes strings minimally. Decoding is strict: it refuses
//! duplicate member names, and [`check_canonical`] refuses any byte string that is not exactly
//! the canonical form of the value it holds.
//!
//! Two encoders: [`encode`] writes a `serde_json::Value`, and [`to_canonical_vec`] writes any
//! `Serialize` value straight into the output, with no `Value` in between (the payload codec's
//! fast path). Tests check they agree.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::error::{DecodeError, DecodeErrorKind};

mod writer;

/// Serializes `value` to its canonical RFC 8785 bytes, written straight from the value (no
/// `serde_json::Value` in between).
///
/// # Errors
/// Fails for what JCS cannot represent: a NaN or infinite float, an integer beyond 64 bits, a
/// map key that is not a string (integers and booleans are written as their text, as
/// `serde_json` does), or an object member written twice.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    to_canonical_vec_sized(value, 256)
}

/// [`to_canonical_vec`] into a buffer of `capacity` bytes to start with.
pub(crate) fn to_canonical_vec_sized<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut writer = writer::Writer::with_capacity(capacity);
    value.serialize(&mut writer)?;
    Ok(writer.into_bytes())
}

/// Canonical RFC 8785 bytes of a JSON value.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    // RFC 8785 section 3.2.3: sort by the UTF-16 code units of the names.
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    out.push(b'{');
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    // JCS numbers are IEEE-754 doubles printed as ECMAScript does. Integers that a double
    // holds exactly print as plain digits; anything else goes through the double.
    if let Some(u) = n.as_u64() {
        if u <= crate::ids::INT_MAX {
            out.extend_from_slice(u.to_string().as_bytes());
            return;
        }
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= crate::ids::INT_MAX {
            out.extend_from_slice(i.to_string().as_bytes());
            return;
        }
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    let mut buffer = ryu_js::Buffer::new();
    out.extend_from_slice(buffer.format(f).as_bytes());
}

/// Writes `s` as a JCS string: only `"`, `\` and control characters are escaped, the short
/// forms where JSON has them, else `\u00xx` in lowercase hex.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escape: find out eight bytes at a time, then copy them whole.
    if needs_escape(bytes) {
        write_escaped(out, bytes);
    } else {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    }
}

#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut unescaped_from = 0;
    let mut control = *b"\\u0000";
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1F => {
                control[4] = HEX[usize::from(byte >> 4)];
                control[5] = HEX[usize::from(byte & 0x0F)];
                &control
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[unescaped_from..i]);
        out.extend_from_slice(escape);
        unescaped_from = i + 1;
    }
    out.extend_from_slice(&bytes[unescaped_from..]);
    out.push(b'"');
}

/// Whether `bytes` hold a `"`, a `\` or a control character, tested eight bytes at a time
/// with the "has a byte less than n" word test (exact for n <= 128; bytes past ASCII never
/// count).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_less = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0;
    let mut words = bytes.chunks_exact(8);
    let found = words.by_ref().any(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        has_less(word, 0x20) | has_less(word ^ (ONES * 0x22), 1) | has_less(word ^ (ONES * 0x5C), 1)
    });
    found
        || words
            .remainder()
            .iter()
            .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Checks that `bytes` are exactly the canonical encoding of the JSON value they hold.
///
/// # Errors
/// [`DecodeError`] for malformed JSON, duplicate member names, or bytes that are not canonical.
pub fn check_canonical(bytes: &[u8]) -> Result<Value, DecodeError> {
    let value = parse_strict(bytes)?;
    let canonical = encode(&value);
    if canonical != bytes {
        let at = canonical
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(canonical.len().min(bytes.len()));
        return Err(DecodeError::non_canonical(at));
    }
    Ok(value)
}

/// Parses JSON text, refusing duplicate member names at any depth.
///
/// # Errors
/// [`DecodeError`]: [`DecodeErrorKind::DuplicateKey`] with the JSON pointer of the repeated
/// member (e.g. `/body/parties/0/name`), or [`DecodeErrorKind::Malformed`] for text that is
/// not JSON.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, DecodeError> {
    let failure = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictSeed { failure: &failure }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, failure.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(failure)) => Err(failure),
        (Err(e), None) => Err(DecodeError::malformed(format!("not valid JSON: {e}"))),
    }
}

/// Escapes a member name as one JSON pointer reference token (RFC 6901: `~` -> `~0`,
/// `/` -> `~1`).
pub fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Builds a `Value` like serde_json does, but records a duplicate member name in `failure`.
/// The path of the failure grows one token per level as the error unwinds, so nothing is
/// allocated for paths while parsing succeeds.
#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    failure: &'a RefCell<Option<DecodeError>>,
}

impl StrictSeed<'_> {
    fn locate(&self, token: &str) {
        let mut failure = self.failure.borrow_mut();
        if let Some(located) = failure.take() {
            *failure = Some(located.under(&format!("/{token}")));
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    self.locate(&items.len().to_string());
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                *self.failure.borrow_mut() = Some(DecodeError::new(
                    DecodeErrorKind::DuplicateKey,
                    format!("/{}", escape_pointer(&name)),
                    format!("member {name:?} appears twice; keep one"),
                ));
                return Err(de::Error::custom("duplicate member name"));
            }
            match map.next_value_seed(self) {
                Ok(value) => {
                    members.insert(name, value);
                }
                Err(e) => {
                    self.locate(&escape_pointer(&name));
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_word_test_finds_exactly_the_bytes_to_escape(
            bytes in prop::collection::vec(
                prop_oneof![any::<u8>(), prop::sample::select(b"\"\\\x00\x1f\x20!#[]\x7f\x80".to_vec())],
                0..40,
            )
        ) {
            let expected = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(super::needs_escape(&bytes), expected);
        }
    }
}
