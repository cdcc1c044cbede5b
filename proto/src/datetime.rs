//! Dates and instants as the formats write them: `YYYY-MM-DD` and RFC 3339 UTC instants
//! `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. Both keep the exact text they were parsed from, so that
//! re-encoding a payload reproduces its bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date as CalendarDate, OffsetDateTime};

use crate::error::{DecodeError, DecodeErrorKind};

fn invalid(detail: String) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidValue, "", detail)
}

/// An instant in UTC, as the author claims it. Ordered by the instant it names.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Timestamp {
    text: String,
    unix_nanos: i128,
}

impl Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        self.unix_nanos
    }

    /// The calendar date of the instant (UTC).
    pub fn date(&self) -> Date {
        // The first ten characters of a valid timestamp are a valid date.
        Date::from_str(&self.text[..10]).unwrap_or_else(|_| unreachable_date())
    }

    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A timestamp for a Unix time in seconds (whole seconds, `Z`).
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        let t = OffsetDateTime::from_unix_timestamp(seconds).ok()?;
        let text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        text.parse().ok()
    }
}

fn unreachable_date() -> Date {
    Date {
        text: "1970-01-01".to_owned(),
        days: 0,
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.unix_nanos
            .cmp(&other.unix_nanos)
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl FromStr for Timestamp {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, DecodeError> {
        let b = s.as_bytes();
        let shape_ok = b.len() >= 20
            && b.len() <= 30
            && b[10] == b'T'
            && b.last() == Some(&b'Z')
            && (b.len() == 20 || (b[19] == b'.' && b.len() > 21));
        if !shape_ok {
            return Err(invalid(format!(
                "time must be RFC 3339 in UTC, like 2025-03-31T12:00:00Z, got {s:?}"
            )));
        }
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| invalid(format!("time {s:?} is not a valid RFC 3339 instant: {e}")))?;
        Ok(Self {
            text: s.to_owned(),
            unix_nanos: t.unix_timestamp_nanos(),
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::ids::deserialize_from_str(d, "an RFC 3339 instant string")
    }
}

/// A calendar date `YYYY-MM-DD`. Ordered by the day it names.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Date {
    text: String,
    days: i32,
}

impl Date {
    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Days since 1970-01-01 (Julian day offset); only differences matter.
    pub fn days(&self) -> i32 {
        self.days
    }
}

impl PartialOrd for Date {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Date {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.days.cmp(&other.days)
    }
}

impl FromStr for Date {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, DecodeError> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && digits(0..4)
            && digits(5..7)
            && digits(8..10);
        let bad = || {
            invalid(format!(
                "date must be YYYY-MM-DD, like 2025-04-01, got {s:?}"
            ))
        };
        if !shape_ok {
            return Err(bad());
        }
        let year: i32 = s[0..4].parse().map_err(|_| bad())?;
        let month: u8 = s[5..7].parse().map_err(|_| bad())?;
        let day: u8 = s[8..10].parse().map_err(|_| bad())?;
        let month = time::Month::try_from(month).map_err(|_| bad())?;
        let date = CalendarDate::from_calendar_date(year, month, day).map_err(|_| bad())?;
        Ok(Self {
            text: s.to_owned(),
            days: date.to_julian_day() - 2_440_588,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::ids::deserialize_from_str(d, "a date string")
    }
}
