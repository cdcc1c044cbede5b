//! Identifier and value newtypes of the formats. Each constructor enforces its pattern, so a
//! value of one of these types is valid by construction ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{DecodeError, DecodeErrorKind};

/// Largest integer a payload may hold: 2^53 - 1, the largest integer every JSON
/// implementation (an IEEE-754 double) represents exactly.
pub const INT_MAX: u64 = (1 << 53) - 1;

fn invalid(detail: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidValue, "", detail)
}

fn parse_hex32(s: &str, what: &str) -> Result<[u8; 32], DecodeError> {
    let well_formed = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err(invalid(format!("{what} must be 64 lowercase hex digits, got {s:?}")));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| invalid(format!("{what}: {e}")))?;
    Ok(out)
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
                hex::encode(self.0)
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
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
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
        && b[1..].iter().all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
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
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
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
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
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
