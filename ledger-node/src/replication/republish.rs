//! `ledger-node republish`: re-creates a lost events stream from this node's store.
//!
//! The new stream has the next *epoch* (in its description, `...; epoch N`). Every stored
//! event is published in log order on its contract's subject with `Nats-Msg-Id` = its event
//! id and `Nats-Expected-Last-Sequence` = its index, so the event at log index `i` is message
//! `i + 1` of the new stream (refused messages of the old stream are not re-published). This
//! node's store is left as it is: started again, this node, like every other one, sees a
//! stream of a newer epoch than its own, checks that its first messages are its own log, event
//! by event, and only then moves its position and subject sequences to the new stream
//! ([`super::consumer`]). A run cut short can be run again: it continues the stream of the
//! new epoch where it stopped.
//!
//! It refuses to replace a stream that holds messages of this node's epoch or an older one:
//! only a lost stream (gone, or re-created empty) is re-created.

use std::collections::VecDeque;

use anyhow::{bail, Context};
use async_nats::jetstream::context::{GetStreamErrorKind, Publish, PublishAckFuture};
use async_nats::jetstream::{self, stream};
use proto::dsse::Envelope;
use proto::{EventId, Payload};

use super::consumer::{description_epoch, events_stream_config};
use super::{connect, Names, REQUEST_TIMEOUT};
use crate::config::Config;
use crate::store::{self, Store};

/// Publishes awaiting their acknowledgement at once.
const IN_FLIGHT_MAX: usize = 256;

/// What a republish did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepublishReport {
    /// The new stream's name.
    pub stream: String,
    /// Its epoch.
    pub epoch: u64,
    /// Events in this node's log (all of them are now in the stream).
    pub events: u64,
    /// Events an earlier, interrupted run had already published.
    pub already: u64,
}

/// Re-creates the events stream of `config`'s ledger from the store in its data directory.
/// Run it with the node stopped.
///
/// # Errors
/// No replication configured, a store that does not open, NATS unreachable, a stream that is
/// not lost, or a publish JetStream refused.
pub async fn republish(config: &Config) -> anyhow::Result<RepublishReport> {
    let Some(replication) = config.replication() else {
        bail!("republish needs the ledger to re-create: give --nats and --ledger");
    };
    let dir = config.data_dir();
    let opened = store::schema::open_checked(dir, config.cache_bytes_max())
        .with_context(|| format!("store in {}", dir.display()))?;
    let store = opened.store;
    if store.stream_position()?.is_none() {
        bail!(
            "the store in {} never followed a ledger's stream: there is nothing to republish",
            dir.display()
        );
    }
    let epoch = store
        .stream_epoch()?
        .unwrap_or(1)
        .checked_add(1)
        .context("the stream epoch is at u64::MAX")?;
    let names = Names::new(replication.ledger().clone());
    let client = connect::connect_now(replication.nats_url(), replication.auth()).await?;
    let mut context = jetstream::new(client.clone());
    context.set_timeout(REQUEST_TIMEOUT);
    let config = events_stream_config(&names, replication.stream_replicas(), epoch);
    let already = prepare_stream(&context, config, epoch).await?;
    if already > opened.size {
        bail!(
            "the events stream of epoch {epoch} already holds {already} messages, more than the \
             {} events of this node's log: another node republished a longer log; start this \
             node to check it against that stream",
            opened.size
        );
    }
    publish_log(&context, &names, &store, already, opened.size).await?;
    client
        .flush()
        .await
        .context("flushing the NATS connection")?;
    Ok(RepublishReport {
        stream: names.events_stream(),
        epoch,
        events: opened.size,
        already,
    })
}

/// Makes sure the stream of `epoch` exists; returns how many messages it already holds.
async fn prepare_stream(
    context: &jetstream::Context,
    config: stream::Config,
    epoch: u64,
) -> anyhow::Result<u64> {
    let name = config.name.clone();
    match context.get_stream(&name).await {
        Ok(mut existing) => {
            let info = existing
                .info()
                .await
                .with_context(|| format!("reading stream {name}"))?;
            let found = description_epoch(info.config.description.as_deref());
            let messages = info.state.messages;
            if found == epoch {
                return Ok(messages);
            }
            if messages > 0 {
                bail!(
                    "the events stream {name} exists with {messages} messages (epoch {found}): \
                     republish re-creates only a lost stream (gone, or re-created empty)"
                );
            }
            tracing::warn!(stream = %name, "deleting the empty events stream to re-create it");
            context
                .delete_stream(&name)
                .await
                .with_context(|| format!("deleting the empty stream {name}"))?;
        }
        Err(e)
            if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j)
            if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND) => {}
        Err(e) => return Err(anyhow::anyhow!("reading stream {name}: {e}")),
    }
    context
        .create_stream(config)
        .await
        .with_context(|| format!("creating stream {name}"))?;
    Ok(0)
}

/// Publishes the log's events `from..size`, each at stream sequence index + 1.
async fn publish_log(
    context: &jetstream::Context,
    names: &Names,
    store: &Store,
    from: u64,
    size: u64,
) -> anyhow::Result<()> {
    let mut pending: VecDeque<(u64, PublishAckFuture)> = VecDeque::new();
    for index in from..size {
        let envelope = store
            .envelope_at(index)?
            .with_context(|| format!("the log has no event at index {index}"))?;
        let decoded = Envelope::decode(&envelope)
            .map_err(|e| anyhow::anyhow!("the event at index {index} does not decode: {e}"))?;
        let payload = Payload::decode(decoded.payload())
            .map_err(|e| anyhow::anyhow!("the event at index {index} does not decode: {e}"))?;
        let id = EventId::of_payload(decoded.payload());
        let publish = Publish::build()
            .payload(envelope.into())
            .message_id(id.to_hex())
            .expected_last_sequence(index);
        let ack = context
            .send_publish(names.event_subject(&payload.contract), publish)
            .await
            .with_context(|| format!("publishing the event at index {index}"))?;
        pending.push_back((index, ack));
        if pending.len() >= IN_FLIGHT_MAX {
            confirm(pending.pop_front()).await?;
        }
    }
    while let Some(next) = pending.pop_front() {
        confirm(Some(next)).await?;
    }
    Ok(())
}

/// Waits for one acknowledgement: the event at `index` must be message `index + 1`.
async fn confirm(pending: Option<(u64, PublishAckFuture)>) -> anyhow::Result<()> {
    let Some((index, ack)) = pending else {
        return Ok(());
    };
    let ack = ack.await.with_context(|| {
        format!("JetStream refused the event at index {index}; run republish again to continue")
    })?;
    let expected = index.checked_add(1).context("index at u64::MAX")?;
    if ack.sequence != expected || ack.duplicate {
        bail!(
            "the event at index {index} was stored as message {} (duplicate: {}), not {expected}",
            ack.sequence,
            ack.duplicate
        );
    }
    Ok(())
}
