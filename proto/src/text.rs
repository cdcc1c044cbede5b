//! Bounded human text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DecodeError, DecodeErrorKind};

/// Non-empty text of at most `MAX_CHARS` Unicode scalar values, with no control characters but
/// newline and tab, no bidirectional formatting controls and no noncharacters (SPEC.md 1.3).
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
        if let Some(c) = s.chars().find(|c| is_bidi_control(*c)) {
            return Err(invalid(format!(
                "text holds bidirectional formatting control U+{:04X}, which can make it read \
                 other than it is stored; remove it",
                c as u32
            )));
        }
        if let Some(c) = s.chars().find(|c| is_noncharacter(*c)) {
            return Err(invalid(format!(
                "text holds noncharacter U+{:04X}, which is not for interchange; remove it",
                c as u32
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

/// The bidirectional formatting controls (Unicode property `Bidi_Control`): ALM, LRM, RLM,
/// LRE..RLO and LRI..PDI. They reorder how text is shown (the "Trojan Source" trick), so a
/// reason or a name could display other than the bytes signed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The 66 noncharacters of Unicode (section 23.7): U+FDD0..U+FDEF and the last two code points
/// of every plane (U+FFFE, U+FFFF, U+1FFFE, ..., U+10FFFF).
pub fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
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
            && !s.chars().any(super::is_bidi_control)
            && !s.chars().any(super::is_noncharacter)
    }

    proptest! {
        #[test]
        fn the_ascii_shortcut_never_changes_a_verdict(s in "[ -~\t\n\r\x0b\x0c\x00\x7fé\u{202E}\u{FFFF}]{0,7}") {
            prop_assert_eq!(s.parse::<Text<5>>().is_ok(), valid(&s, 5));
            if super::is_plain_ascii(&s, 5) {
                prop_assert!(valid(&s, 5));
            }
        }
    }

    #[test]
    fn noncharacters_are_the_66_of_unicode() {
        let all: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| super::is_noncharacter(*c))
            .map(u32::from)
            .collect();
        assert_eq!(all.len(), 66);
        assert_eq!(all[..2], [0xFDD0, 0xFDD1]);
        assert_eq!(all[32..36], [0xFFFE, 0xFFFF, 0x1FFFE, 0x1FFFF]);
        assert_eq!(all[65], 0x10FFFF);
        assert!(!super::is_noncharacter('\u{FFFD}'));
        assert!(!super::is_noncharacter('\u{FDCF}'));
        assert!(!super::is_noncharacter('\u{FDF0}'));
    }

    #[test]
    fn bidi_controls_are_the_twelve_of_bidi_control() {
        let all: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| super::is_bidi_control(*c))
            .map(u32::from)
            .collect();
        let expected = [
            0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068,
            0x2069,
        ];
        assert_eq!(all, expected);
    }
}
