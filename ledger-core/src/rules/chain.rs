//! SPEC.md 6.1 "chain" and "closed": each event extends its contract's stream by one.

use proto::payload::ContractRegistered;
use proto::{Body, Kind};

use crate::error::RuleViolation;
use crate::event::Event;
use crate::projection::ContractState;

/// The first event of a contract: a `contract.registered` at seq 0 with `prev` null. Its body.
pub(super) fn check_first(event: &Event) -> Result<&ContractRegistered, RuleViolation> {
    let body = match (event.body(), event.seq()) {
        (Body::ContractRegistered(body), 0) => body,
        (Body::ContractRegistered(_), seq) => {
            return Err(RuleViolation::RegistrationNotAtZero { seq })
        }
        (_, 0) => return Err(RuleViolation::FirstEventNotRegistration { kind: event.kind() }),
        (_, _) => {
            return Err(RuleViolation::UnknownContract {
                contract: event.contract().clone(),
            })
        }
    };
    match event.payload().prev {
        None => Ok(body),
        got => Err(RuleViolation::PrevMismatch {
            expected: None,
            got,
        }),
    }
}

/// An event after the first: `seq` = events so far, `prev` = the head's id.
pub(crate) fn check_next(state: &ContractState, event: &Event) -> Result<(), RuleViolation> {
    let head = state.head();
    if event.id() == &head.id {
        return Err(RuleViolation::Duplicate { id: *event.id() });
    }
    if event.kind() == Kind::ContractRegistered {
        return Err(match event.seq() {
            0 => RuleViolation::AlreadyRegistered {
                contract: event.contract().clone(),
            },
            seq => RuleViolation::RegistrationNotAtZero { seq },
        });
    }
    let expected = state.events();
    if event.seq() != expected {
        return Err(RuleViolation::SeqConflict {
            expected,
            got: event.seq(),
            head: Some(head.id),
        });
    }
    match event.payload().prev {
        Some(prev) if prev == head.id => Ok(()),
        got => Err(RuleViolation::PrevMismatch {
            expected: Some(head.id),
            got,
        }),
    }
}

/// After `contract.closed`, only disputes, their resolutions and feedback.
pub(super) fn check_open(state: &ContractState, event: &Event) -> Result<(), RuleViolation> {
    let allowed_closed = matches!(
        event.kind(),
        Kind::ClaimDisputed | Kind::DisputeResolved | Kind::FeedbackRecorded
    );
    if state.closed().is_some() && !allowed_closed {
        return Err(RuleViolation::ContractClosed { kind: event.kind() });
    }
    Ok(())
}
