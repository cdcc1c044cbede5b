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
        Self {
            kind,
            path: path.into(),
            detail: detail.into(),
        }
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

/// A signed-note, verifier-key or checkpoint failure. `code()` is stable, like
/// [`DecodeErrorKind::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note breaks the C2SP signed-note syntax.
    #[error("malformed note: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The note is over the size limit.
    #[error("note of {bytes} bytes is over the limit of {limit}; refuse it")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// More signature lines than the limit.
    #[error("note has {count} signature lines, over the limit of {limit}; refuse it")]
    TooManySignatures {
        /// Lines counted when the limit was passed.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A signature line names a known key but does not verify: the note must be refused.
    #[error("invalid signature for key {name}+{key_id}; the note is forged or damaged")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key id, 8 hex digits.
        key_id: String,
    },
    /// Several configured verifiers have the same name and key id.
    #[error("ambiguous key {name}+{key_id}: configure each verifier key once")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key id, 8 hex digits.
        key_id: String,
    },
    /// No signature of a known key: the note's text must be ignored.
    #[error("note has no verifiable signatures; check the verifier keys configured")]
    NoVerifiedSignature,
    /// Fewer trusted signers than required.
    #[error("{found} of the required {required} trusted signers signed the note")]
    QuorumNotMet {
        /// Signers required.
        required: usize,
        /// Trusted signers whose signatures verified.
        found: usize,
    },
    /// A key name that is empty or holds a space, a `+` or a control character.
    #[error(
        "invalid key name {name:?}: names are non-empty, with no spaces, '+' or control characters"
    )]
    InvalidKeyName {
        /// The name given.
        name: String,
    },
    /// A verifier key string that does not parse.
    #[error("invalid verifier key: {reason}")]
    InvalidVerifierKey {
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint body that breaks C2SP tlog-checkpoint.
    #[error("malformed checkpoint: {reason}")]
    MalformedCheckpoint {
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint root hash that is not 32 bytes.
    #[error("checkpoint root hash is {bytes} bytes; a SHA-256 tree root is 32")]
    RootLength {
        /// Bytes decoded.
        bytes: usize,
    },
    /// A checkpoint of another log.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// The origin wanted.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// A checkpoint without a valid signature of its log's key.
    #[error("checkpoint is not signed by the log key {name}+{key_id}")]
    MissingLogSignature {
        /// Log key name.
        name: String,
        /// Log key id, 8 hex digits.
        key_id: String,
    },
}

impl NoteError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "note-malformed",
            Self::TooLarge { .. } => "note-too-large",
            Self::TooManySignatures { .. } => "note-too-many-signatures",
            Self::InvalidSignature { .. } => "note-invalid-signature",
            Self::AmbiguousKey { .. } => "note-ambiguous-key",
            Self::NoVerifiedSignature => "note-unverified",
            Self::QuorumNotMet { .. } => "note-quorum-not-met",
            Self::InvalidKeyName { .. } => "note-invalid-key-name",
            Self::InvalidVerifierKey { .. } => "note-invalid-verifier-key",
            Self::MalformedCheckpoint { .. } => "checkpoint-malformed",
            Self::RootLength { .. } => "checkpoint-root-length",
            Self::OriginMismatch { .. } => "checkpoint-origin-mismatch",
            Self::MissingLogSignature { .. } => "checkpoint-missing-log-signature",
        }
    }
}
