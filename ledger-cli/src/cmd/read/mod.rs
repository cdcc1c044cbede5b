//! The commands that read: `state` (a contract's projection), `trail` (events across
//! contracts, filtered and paged) and `show` (one event, checked).

mod show;
mod state;
mod trail;

use anyhow::Context;
use proto::dsse::Envelope;
use proto::{EventId, Payload};

pub(crate) use self::show::{show, ShowArgs, SHOW_EXAMPLES};
pub(crate) use self::state::{print_state, state, StateArgs, STATE_EXAMPLES};
pub(crate) use self::trail::{trail, TrailArgs, TRAIL_EXAMPLES};
use crate::client::EventRecord;

/// Decodes the envelope and payload of a stored event, checking its id.
pub(super) fn decode_record(record: &EventRecord) -> anyhow::Result<Payload> {
    let envelope = Envelope::decode(record.envelope.get().as_bytes()).with_context(|| {
        format!(
            "the node served event {} with an envelope that does not decode",
            record.id
        )
    })?;
    anyhow::ensure!(
        EventId::of_payload(envelope.payload()) == record.id,
        "the node served event {} whose payload hashes to another id",
        record.id
    );
    Payload::decode(envelope.payload()).with_context(|| {
        format!(
            "the node served event {} with a payload that does not decode",
            record.id
        )
    })
}

pub(super) fn decision_name(decision: proto::payload::Decision) -> &'static str {
    match decision {
        proto::payload::Decision::Upheld => "upheld",
        proto::payload::Decision::Overturned => "overturned",
        proto::payload::Decision::Adjusted => "adjusted",
    }
}
