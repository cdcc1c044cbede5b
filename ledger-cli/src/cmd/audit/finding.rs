//! What an audit found wrong ([`Finding`], exit status 1), apart from what kept it from
//! checking at all ([`Stop::Trouble`], exit status 2).

use std::fmt;

use ledger_core::Rejection;
use proto::dsse::Envelope;
use proto::{ContractId, EventId};
use serde::Serialize;

use crate::bundle::BundleError;

/// The class of check that failed, in the order the audit runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Check {
    /// The bundle file's own format (section 7 of SPEC.md).
    Bundle,
    /// The signed checkpoint: syntax, trusted signatures, agreement with the bundle.
    Checkpoint,
    /// An event: decoding, canonical form, signatures, roles, chain and contract rules.
    Event,
    /// The Merkle root recomputed from every event against the checkpoint's.
    Root,
    /// The log only grew since an earlier checkpoint.
    Consistency,
    /// An event is in the log the checkpoint commits to.
    Inclusion,
    /// The node's projection of a contract equals the one recomputed from its events.
    Projection,
}

impl Check {
    /// The name of the check, as `--json` writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::Checkpoint => "checkpoint",
            Self::Event => "event",
            Self::Root => "root",
            Self::Consistency => "consistency",
            Self::Inclusion => "inclusion",
            Self::Projection => "projection",
        }
    }
}

/// One failure the audit found: what check, which event (when it is about one), a stable
/// `code` (the rule's, or the check's) and the detail with the numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    /// The class of check.
    pub(crate) check: Check,
    /// Stable code: a `RuleViolation` or `DecodeError` code for events, else the check's own.
    pub(crate) code: &'static str,
    /// Log index of the event, if the failure is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) index: Option<u64>,
    /// Event id, when the event decoded far enough to have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<EventId>,
    /// Contract, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contract: Option<ContractId>,
    /// What failed, with the numbers.
    pub(crate) detail: String,
}

impl Finding {
    /// A failure of a check that is not about one event.
    pub(crate) fn new(check: Check, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            code,
            index: None,
            id: None,
            contract: None,
            detail: detail.into(),
        }
    }

    /// An event refused by the rules (or its decoding), at log index `index`.
    pub(crate) fn rejected(
        index: u64,
        id: Option<EventId>,
        contract: Option<ContractId>,
        why: &Rejection,
    ) -> Self {
        Self {
            check: Check::Event,
            code: why.code(),
            index: Some(index),
            id,
            contract,
            detail: why.to_string(),
        }
    }

    /// An envelope whose bytes are not its own RFC 8785 form (so not the logged leaf data).
    pub(crate) fn non_canonical(index: u64, id: EventId, contract: ContractId) -> Self {
        Self {
            check: Check::Event,
            code: "non-canonical-envelope",
            index: Some(index),
            id: Some(id),
            contract: Some(contract),
            detail:
                "the envelope's bytes are not its RFC 8785 form: they are not the data the log \
                     hashed"
                    .to_owned(),
        }
    }

    /// An event that does not decode: the id is that of its payload, if the envelope decodes.
    pub(crate) fn undecodable(index: u64, bytes: &[u8], why: &Rejection) -> Self {
        let id = Envelope::decode(bytes)
            .ok()
            .map(|e| EventId::of_payload(e.payload()));
        Self::rejected(index, id, None, why)
    }

    /// The same finding about event `index`.
    #[must_use]
    pub(crate) fn at(mut self, index: u64) -> Self {
        self.index = Some(index);
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(index) = self.index {
            write!(f, "event {index}")?;
            if let Some(id) = &self.id {
                write!(f, " (id {id}")?;
                if let Some(contract) = &self.contract {
                    write!(f, ", contract {contract}")?;
                }
                write!(f, ")")?;
            }
            write!(f, ": ")?;
        } else if let Some(contract) = &self.contract {
            write!(f, "contract {contract}: ")?;
        }
        write!(f, "{} [{}]", self.detail, self.code)
    }
}

/// Why an audit stopped before the end: it found a failure, or it could not go on.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The ledger fails a check: exit status 1.
    Failed(Box<Finding>),
    /// Reading, the network or the usage failed: nothing was learnt, exit status 2.
    Trouble(anyhow::Error),
}

impl From<Finding> for Stop {
    fn from(finding: Finding) -> Self {
        Self::Failed(Box::new(finding))
    }
}

impl From<anyhow::Error> for Stop {
    fn from(error: anyhow::Error) -> Self {
        Self::Trouble(error)
    }
}

impl From<BundleError> for Stop {
    fn from(error: BundleError) -> Self {
        match error {
            BundleError::Io(e) => Self::Trouble(e.into()),
            BundleError::Format { line, detail } => Finding::new(
                Check::Bundle,
                "bundle-format",
                format!("line {line}: {detail}"),
            )
            .into(),
        }
    }
}
