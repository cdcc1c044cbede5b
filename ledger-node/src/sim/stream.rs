//! The stream model: what a JetStream consumer can hand the writer. A consumer session starts
//! at a sequence and delivers a run of the stream with seeded faults (a message delivered
//! again, two swapped, one missing); the consumer keeps the messages that continue at the next
//! expected sequence, drops those before it and ends the session at a gap, as
//! `replication::consumer::in_order` does. What it keeps is one or two batches for
//! [`crate::append::Writer::apply_stream`].

use rand::rngs::StdRng;
use rand::Rng;

use crate::replication::consumer::StreamMessage;

/// Messages one session delivers at most.
const SESSION_MESSAGES_MAX: u64 = 8;

/// The sequences one consumer session delivers from `start`, of a stream of `length`
/// messages (sequences `1..=length`), with seeded redeliveries, swaps and gaps.
pub(super) fn deliveries(rng: &mut StdRng, start: u64, length: u64) -> Vec<u64> {
    let end = start
        .saturating_add(rng.gen_range(1..=SESSION_MESSAGES_MAX))
        .min(length.saturating_add(1));
    let mut delivered: Vec<u64> = (start..end).collect();
    if delivered.len() >= 2 {
        match rng.gen_range(0..6u32) {
            0 => {
                // Redelivery: a message delivered earlier comes again.
                let at = rng.gen_range(1..delivered.len());
                let again = delivered[rng.gen_range(0..at)];
                delivered.insert(at, again);
            }
            1 => {
                let at = rng.gen_range(0..delivered.len() - 1);
                delivered.swap(at, at + 1);
            }
            2 => {
                delivered.remove(rng.gen_range(0..delivered.len()));
            }
            _ => {}
        }
    }
    delivered
}

/// The consumer's filter: the messages continuing at `next` (advancing it), those before it
/// dropped, the rest of the session dropped at the first one past it.
pub(super) fn in_order(delivered: &[u64], next: &mut u64) -> Vec<u64> {
    let mut kept = Vec::new();
    for &sequence in delivered {
        if sequence < *next {
            continue;
        }
        if sequence > *next {
            break;
        }
        *next = sequence.saturating_add(1);
        kept.push(sequence);
    }
    kept
}

/// The kept sequences as one or two batches of the stream's messages.
pub(super) fn batches(
    rng: &mut StdRng,
    kept: &[u64],
    stream: &[StreamMessage],
) -> Vec<Vec<StreamMessage>> {
    let message = |s: &u64| {
        let index = usize::try_from(s.saturating_sub(1)).unwrap_or(usize::MAX);
        stream.get(index).cloned()
    };
    let messages: Vec<StreamMessage> = kept.iter().filter_map(message).collect();
    if messages.len() >= 2 && rng.gen_bool(0.5) {
        let at = rng.gen_range(1..messages.len());
        let (first, second) = messages.split_at(at);
        return vec![first.to_vec(), second.to_vec()];
    }
    if messages.is_empty() {
        return Vec::new();
    }
    vec![messages]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_model_drops_redeliveries_and_stops_at_a_gap() {
        let mut next = 3;
        assert_eq!(in_order(&[2, 3, 3, 4, 6, 5], &mut next), [3, 4]);
        assert_eq!(next, 5);
    }
}
