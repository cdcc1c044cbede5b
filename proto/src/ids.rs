//! Identifier and value newtypes of the formats. Each constructor enforces its pattern, so a
//! value of one of these types is valid by construction ("parse, don't validate").

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{DecodeError, DecodeErrorKind};

/// Largest integer a payload may hold: 2^53 - 1, the largest integer every JSON
/// implementation (an IEEE-754 double) represents exactly.
pub const INT_MAX: u64 = (1 << 53) - 1;

/// Deserializes a string-typed value through its `FromStr`, reading the string in place (no
/// `String` is made for it: hex ids are decoded straight from the input text).
pub(crate) fn deserialize_from_str<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = DecodeError>,
{
    struct ParseVisitor<T> {
        expecting: &'static str,
        parsed: PhantomData<T>,
    }

    impl<T: FromStr<Err = DecodeError>> Visitor<'_> for ParseVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }

    d.deserialize_str(ParseVisitor {
        expecting,
        parsed: PhantomData,
    })
}

fn invalid(detail: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidValue, "", detail)
}

fn parse_hex32(s: &str, what: &str) -> Result<[u8; 32], DecodeError> {
    <&[u8; 64]>::try_from(s.as_bytes())
        .ok()
        .and_then(decode_hex64)
        .ok_or_else(|| invalid(format!("{what} must be 64 lowercase hex digits, got {s:?}")))
}

fn decode_hex64(digits: &[u8; 64]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(digits.chunks_exact(8)) {
        let mut chars = [0u8; 8];
        chars.copy_from_slice(word);
        bytes.copy_from_slice(&hex_word(u64::from_le_bytes(chars))?);
    }
    Some(out)
}

/// Decodes eight lowercase hex digits (little-endian in `word`: the first is the low byte)
/// to four bytes, all eight at once; `None` if any is not a lowercase hex digit.
fn hex_word(word: u64) -> Option<[u8; 4]> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = ONES * 0x80;
    if word & HIGHS != 0 {
        return None;
    }
    // Every byte is below 0x80 now, so adding at most 0x50 to it never carries into the next:
    // the high bit of each byte of `at_least(c)` says whether that byte is >= c.
    let at_least = |c: u8| word.wrapping_add(ONES * u64::from(0x80 - c)) & HIGHS;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HIGHS {
        return None;
    }
    let nibbles = (word & (ONES * 0x0F)) + (letter >> 7) * 9;
    // Pairs of nibbles (high first) into the low byte of each 16-bit lane.
    let lanes = ((nibbles & 0x000F_000F_000F_000F) << 4) | ((nibbles >> 8) & 0x000F_000F_000F_000F);
    let lane = |i: u32| (lanes >> (16 * i)) as u8;
    Some([lane(0), lane(1), lane(2), lane(3)])
}

/// The eight lowercase hex digits of four bytes, all at once.
fn hex_chars(bytes: [u8; 4]) -> [u8; 8] {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    // Each byte in the low half of a 16-bit lane; its high nibble to the lane's low byte and
    // its low nibble to the high byte: the digits in order, little-endian.
    let lanes = bytes
        .iter()
        .enumerate()
        .fold(0u64, |lanes, (i, b)| lanes | u64::from(*b) << (16 * i));
    let nibbles = ((lanes >> 4) & 0x000F_000F_000F_000F) | ((lanes & 0x000F_000F_000F_000F) << 8);
    // A nibble over 9 carries into bit 4 when 6 is added: those become 'a'..'f'.
    let letters = ((nibbles + ONES * 6) >> 4) & ONES;
    (nibbles + ONES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)).to_le_bytes()
}

/// The 64 lowercase hex digits of 32 bytes, on the stack.
struct Hex64([u8; 64]);

impl Hex64 {
    fn of(bytes: &[u8; 32]) -> Self {
        let mut out = [0u8; 64];
        for (chars, word) in out.chunks_exact_mut(8).zip(bytes.chunks_exact(4)) {
            let mut four = [0u8; 4];
            four.copy_from_slice(word);
            chars.copy_from_slice(&hex_chars(four));
        }
        Self(out)
    }

    fn as_str(&self) -> &str {
        // Hex digits are ASCII, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

macro_rules! hex32_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 32]);

        impl $name {
            /// From raw bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// Lowercase hex form.
            pub fn to_hex(&self) -> String {
                Hex64::of(&self.0).as_str().to_owned()
            }
        }

        impl FromStr for $name {
            type Err = DecodeError;
            fn from_str(s: &str) -> Result<Self, DecodeError> {
                parse_hex32(s, $what).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(Hex64::of(&self.0).as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), Hex64::of(&self.0).as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(Hex64::of(&self.0).as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_from_str(d, concat!("a ", $what, " string"))
            }
        }
    };
}

hex32_type!(
    /// A key id: SHA-256 of the raw 32-byte Ed25519 public key.
    KeyId,
    "key id"
);
hex32_type!(
    /// An event id: SHA-256 of the payload bytes. A claim's id and a dispute's id are the ids
    /// of the events that made them.
    EventId,
    "event id"
);
hex32_type!(
    /// A raw Ed25519 public key (32 bytes), written as 64 lowercase hex digits.
    PublicKey,
    "public key"
);
hex32_type!(
    /// A participant pseudonym: a keyed hash chosen by the provider, never a name.
    Pseudonym,
    "participant pseudonym"
);
hex32_type!(
    /// A SHA-256 digest of an evidence document.
    Sha256Digest,
    "sha256"
);

impl KeyId {
    /// The key id of a public key.
    pub fn of(key: &PublicKey) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Appends the lowercase hex form to `out`.
    pub(crate) fn push_hex(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Hex64::of(&self.0).0);
    }
}

impl EventId {
    /// The event id of payload bytes (hash the bytes received, never a re-encoding).
    pub fn of_payload(payload: &[u8]) -> Self {
        Self(Sha256::digest(payload).into())
    }
}

fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && matches!(b[0], b'a'..=b'z' | b'0'..=b'9')
        && b[1..]
            .iter()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = DecodeError;
            fn from_str(s: &str) -> Result<Self, DecodeError> {
                if is_slug(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(invalid(format!(
                        "{} must match [a-z0-9][a-z0-9-]{{0,63}}, got {s:?}",
                        $what
                    )))
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_from_str(d, concat!("a ", $what, " string"))
            }
        }
    };
}

slug_type!(
    /// A contract id: `[a-z0-9][a-z0-9-]{0,63}`.
    ContractId,
    "contract id"
);
slug_type!(
    /// An outcome id within a contract's rate card: `[a-z0-9][a-z0-9-]{0,63}`.
    OutcomeId,
    "outcome id"
);

/// An ISO 4217 currency code: three uppercase ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // The constructor only admits ASCII uppercase letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, DecodeError> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(invalid(format!(
                "currency must be an ISO 4217 code of three uppercase letters, got {s:?}"
            ))),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_from_str(d, "a currency code string")
    }
}

/// A non-negative integer of at most [`INT_MAX`]: sequence numbers, quantities, unit caps.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Int(u64);

impl Int {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// `value` if it is at most [`INT_MAX`].
    pub fn new(value: u64) -> Option<Self> {
        (value <= INT_MAX).then_some(Self(value))
    }

    /// The value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        Self::new(v).ok_or_else(|| {
            serde::de::Error::custom(format!("integer {v} is over the limit 2^53-1"))
        })
    }
}

/// Money: an integer number of minor units (pence, cents) of the contract's currency.
pub type Amount = Int;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_word_decoder_agrees_with_the_hex_crate(
            chars in prop::collection::vec(
                prop_oneof![
                    15 => prop::sample::select(b"0123456789abcdef".to_vec()),
                    1 => prop::sample::select(b"/:@AFG`gz\x7f\x80\xb0\xe1".to_vec()),
                ],
                8,
            )
        ) {
            let mut word = [0u8; 8];
            word.copy_from_slice(&chars);
            let lowercase = chars.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
            let expected = lowercase
                .then(|| {
                    let mut out = [0u8; 4];
                    hex::decode_to_slice(&chars, &mut out).ok().map(|()| out)
                })
                .flatten();
            prop_assert_eq!(super::hex_word(u64::from_le_bytes(word)), expected);
        }

        #[test]
        fn hex_text_agrees_with_the_hex_crate(bytes in any::<[u8; 32]>()) {
            let text = super::Hex64::of(&bytes);
            prop_assert_eq!(text.as_str(), hex::encode(bytes));
            prop_assert_eq!(super::parse_hex32(&hex::encode(bytes), "id"), Ok(bytes));
        }
    }
}
