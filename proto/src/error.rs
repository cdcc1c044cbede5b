//! Decoding errors with stable codes.

use std::fmt;

/// What class of decoding failure happened. `code()` is stable: it names the RFC 9457 problem
/// `type` of the node's HTTP API and appears in the CLI's `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    /// Not JSON, or JSON of the wrong shape (missing field, wrong type, unknown `kind`).
    Malformed,
    /// Valid JSON, but not the RFC 8785 canonical form of its value.
    NonCanonical,
    /// A member name that appears twice in one object.
    DuplicateKey,
    /// A member the format does not define.
    UnknownField,
    /// A field whose value breaks the format (pattern, range, length).
    InvalidValue,
    /// A DSSE envelope problem: wrong `payloadType`, bad base64, unsorted signatures.
    Envelope,
    /// A size or count over a format limit.
    TooLarge,
}

impl DecodeErrorKind {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NonCanonical => "non-canonical",
            Self::DuplicateKey => "duplicate-key",
            Self::UnknownField => "unknown-field",
            Self::InvalidValue => "invalid-value",
            Self::Envelope => "bad-envelope",
            Self::TooLarge => "too-large",
        }
    }
}

/// A decoding failure: its kind, where in the document (a JSON-pointer-like path, empty for the
/// whole document) and a human explanation that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    path: String,
    detail: String,
}

impl DecodeError {
    /// A new error.
    pub fn new(kind: DecodeErrorKind, path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind, path: path.into(), detail: detail.into() }
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self::new(DecodeErrorKind::Malformed, "", detail)
    }

    pub(crate) fn non_canonical(byte_offset: usize) -> Self {
        Self::new(
            DecodeErrorKind::NonCanonical,
            "",
            format!(
                "bytes are not RFC 8785 canonical JSON (first difference at byte {byte_offset}); \
                 serialize with a JCS encoder: sorted keys, no whitespace, minimal escapes"
            ),
        )
    }

    /// The class of failure.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// Stable code of the class of failure.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Where in the document it failed.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The human explanation.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The same error, located under `prefix` (used when decoding nested documents).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = format!("{prefix}{}", self.path);
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.kind.code(), self.detail)
        } else {
            write!(f, "{} at {}: {}", self.kind.code(), self.path, self.detail)
        }
    }
}
