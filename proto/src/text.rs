//! Bounded human text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DecodeError, DecodeErrorKind};

/// Non-empty text of at most `MAX_CHARS` Unicode scalar values, with no control characters but
/// newline and tab.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Text<const MAX_CHARS: usize>(String);

impl<const MAX_CHARS: usize> Text<MAX_CHARS> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX_CHARS: usize> FromStr for Text<MAX_CHARS> {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, DecodeError> {
        if is_plain_ascii(s, MAX_CHARS) {
            return Ok(Self(s.to_owned()));
        }
        let invalid = |detail: String| DecodeError::new(DecodeErrorKind::InvalidValue, "", detail);
        if s.trim().is_empty() {
            return Err(invalid("text must not be empty".to_owned()));
        }
        let chars = s.chars().count();
        if chars > MAX_CHARS {
            return Err(invalid(format!(
                "text of {chars} characters is over the limit of {MAX_CHARS}"
            )));
        }
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t')
        {
            return Err(invalid(format!(
                "text holds control character U+{:04X}",
                c as u32
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

/// The common case, decided in two passes over the bytes: valid ASCII text of at most
/// `max_chars` characters (one byte each), printable or newline or tab, not only whitespace.
/// Anything else takes the full checks, which also name what is wrong.
fn is_plain_ascii(s: &str, max_chars: usize) -> bool {
    let allowed = |b: &u8| matches!(b, b' '..=b'~' | b'\n' | b'\t');
    let bytes = s.as_bytes();
    bytes.len() <= max_chars
        && bytes.iter().all(allowed)
        && bytes.iter().any(|b| !matches!(b, b' ' | b'\n' | b'\t'))
}

impl<const MAX_CHARS: usize> fmt::Display for Text<MAX_CHARS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX_CHARS: usize> Serialize for Text<MAX_CHARS> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX_CHARS: usize> Deserialize<'de> for Text<MAX_CHARS> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::ids::deserialize_from_str(d, "a text string")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Text;

    /// The full checks, as written before the ASCII shortcut: the reference.
    fn valid(s: &str, max_chars: usize) -> bool {
        !s.trim().is_empty()
            && s.chars().count() <= max_chars
            && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    }

    proptest! {
        #[test]
        fn the_ascii_shortcut_never_changes_a_verdict(s in "[ -~\t\n\r\x0b\x0c\x00\x7fé]{0,7}") {
            prop_assert_eq!(s.parse::<Text<5>>().is_ok(), valid(&s, 5));
            if super::is_plain_ascii(&s, 5) {
                prop_assert!(valid(&s, 5));
            }
        }
    }
}
