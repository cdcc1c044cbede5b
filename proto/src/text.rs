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
