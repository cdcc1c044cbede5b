//! `ledger demo --events N`: N events over many contracts, for trying the ledger at size.
//!
//! Each contract is a stream of monthly claims of the three outcomes, their verification, a
//! payment from the rate card and two distributions. Worker threads each own a share of the
//! contracts, build and sign their events, and post them in batches; a contract's events are
//! built and sent by one worker, in order, so every batch is valid as it arrives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use proto::payload::{
    Body, ClaimSubmitted, ClaimVerified, ContractRegistered, DistributionMade, Evidence,
    OutcomeDef, PaymentLine, PaymentMade, Period,
};
use proto::{Currency, EventId, Int, Pseudonym, Sha256Digest, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::cast::{Cast, Stream};
use crate::client::{BatchItem, Client};
use crate::keyfile::KeyFile;

/// Events per contract (the last contract may hold fewer).
const EVENTS_PER_CONTRACT: u64 = 500;
/// Envelopes per POST: the node's default `events_per_request_max`.
const BATCH_EVENTS: usize = 256;
/// Worker threads at most.
const WORKERS_MAX: usize = 8;
/// (outcome id, price in pence).
const OUTCOMES: [(&str, u64); 3] = [
    ("accommodation-3m", 150_000),
    ("accommodation-6m", 250_000),
    ("accommodation-12m", 400_000),
];

/// What a scale run did.
pub(super) struct Scaled {
    /// Events appended.
    pub(super) events: u64,
    /// Contracts they belong to.
    pub(super) contracts: u64,
    /// Seconds it took.
    pub(super) seconds: f64,
}

/// Appends `events` events over as many contracts as needed.
///
/// # Errors
/// An event the node refused (a bug of the demo), or a network error.
pub(super) fn run(
    client: &Client,
    cast: &Cast,
    events: u64,
    seed: u64,
    progress: bool,
) -> anyhow::Result<Scaled> {
    let contracts = events.div_ceil(EVENTS_PER_CONTRACT).max(1);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, WORKERS_MAX)
        .min(usize::try_from(contracts).unwrap_or(WORKERS_MAX));
    let bar = progress_bar(events, progress);
    let appended = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (bar, appended) = (&bar, &appended);
                scope.spawn(move || {
                    let mut sender = Sender {
                        client,
                        batch: Vec::new(),
                        ids: Vec::new(),
                        bar,
                        appended,
                    };
                    let mine = (worker as u64..contracts).step_by(workers);
                    for index in mine {
                        let count = EVENTS_PER_CONTRACT.min(events - index * EVENTS_PER_CONTRACT);
                        play_contract(cast, seed, index, count, &mut sender)?;
                    }
                    sender.flush()
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("a demo worker panicked"))?
        })
    })?;
    bar.finish_and_clear();
    Ok(Scaled {
        events: appended.into_inner(),
        contracts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn progress_bar(events: u64, progress: bool) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(events);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} events, {per_sec}, eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// One worker's batch of envelopes, posted when full.
struct Sender<'a> {
    client: &'a Client,
    batch: Vec<Vec<u8>>,
    ids: Vec<EventId>,
    bar: &'a ProgressBar,
    appended: &'a AtomicU64,
}

impl Sender<'_> {
    fn push(&mut self, id: EventId, envelope: Vec<u8>) -> anyhow::Result<()> {
        self.batch.push(envelope);
        self.ids.push(id);
        if self.batch.len() == BATCH_EVENTS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let items = self.client.append_batch(&self.batch)?;
        for (i, (item, id)) in items.iter().zip(&self.ids).enumerate() {
            match item {
                BatchItem::Refused { problem, .. } => {
                    return Err(anyhow::Error::from(problem.refusal()))
                        .with_context(|| format!("the node refused event {i} of a demo batch"));
                }
                BatchItem::Appended(appended) => {
                    anyhow::ensure!(
                        appended.id == *id,
                        "the node stored event {id} under {}",
                        appended.id
                    );
                }
            }
        }
        let count = self.batch.len() as u64;
        self.appended.fetch_add(count, Ordering::Relaxed);
        self.bar.inc(count);
        self.batch.clear();
        self.ids.clear();
        Ok(())
    }
}

/// One contract of `count` events.
struct Contract<'a> {
    cast: &'a Cast,
    stream: Stream,
    rng: StdRng,
    left: u64,
    currency: Currency,
}

fn play_contract(
    cast: &Cast,
    seed: u64,
    index: u64,
    count: u64,
    sender: &mut Sender<'_>,
) -> anyhow::Result<()> {
    let mut contract = Contract {
        cast,
        stream: Stream::new(format!("scale-{seed}-{index:06}").parse()?),
        rng: StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        left: count,
        currency: "GBP".parse()?,
    };
    contract.register(sender)?;
    let mut month = 0u32;
    while contract.left > 0 {
        contract.month(month, sender)?;
        month += 1;
    }
    Ok(())
}

impl Contract<'_> {
    /// Builds and queues one event, if the budget allows; `None` once it is spent.
    fn emit(
        &mut self,
        author: &KeyFile,
        cosigners: &[&KeyFile],
        at: Timestamp,
        body: Body,
        sender: &mut Sender<'_>,
    ) -> anyhow::Result<Option<EventId>> {
        if self.left == 0 {
            return Ok(None);
        }
        let (id, envelope) = self.stream.next(author, cosigners, at, body)?;
        sender.push(id, envelope)?;
        self.left -= 1;
        Ok(Some(id))
    }

    fn register(&mut self, sender: &mut Sender<'_>) -> anyhow::Result<()> {
        let outcomes = OUTCOMES
            .iter()
            .map(|(id, price)| {
                Ok(OutcomeDef {
                    id: id.parse()?,
                    name: format!("Outcome {id}").parse()?,
                    price: int(*price)?,
                    cap_units: int(100_000)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = Body::ContractRegistered(ContractRegistered {
            title: format!("Scale test contract {}", self.stream.contract()).parse()?,
            currency: self.currency,
            parties: self.cast.parties()?,
            outcomes,
            cap: int(10_000_000_000)?,
            start: "2025-01-01".parse()?,
            end: "2199-12-31".parse()?,
        });
        let cast = self.cast;
        let cosigners: Vec<&KeyFile> = cast.members()[1..].iter().map(|m| &m.key).collect();
        self.emit(
            &cast.commissioner.key,
            &cosigners,
            "2024-12-01T10:00:00Z".parse()?,
            body,
            sender,
        )?;
        Ok(())
    }

    /// One month: a claim of each outcome, their verification, the payment, two distributions.
    fn month(&mut self, month: u32, sender: &mut Sender<'_>) -> anyhow::Result<()> {
        let (from, to, at) = month_dates(month)?;
        let cast = self.cast;
        let mut claimed = Vec::new();
        for (outcome, price) in OUTCOMES {
            let quantity = self.rng.gen_range(1..=20u64);
            let body = self.claim(outcome, &from, &to, quantity)?;
            let Some(claim) = self.emit(&cast.provider.key, &[], at.clone(), body, sender)? else {
                return Ok(());
            };
            claimed.push((claim, quantity, price));
        }
        for (claim, quantity, _) in &claimed {
            let body = Body::ClaimVerified(ClaimVerified {
                claim: *claim,
                quantity: int(*quantity)?,
            });
            self.emit(&cast.verifier.key, &[], at.clone(), body, sender)?;
        }
        let lines = claimed
            .iter()
            .map(|(claim, quantity, price)| {
                let amount = price
                    .checked_mul(*quantity)
                    .ok_or_else(|| anyhow::anyhow!("amount overflows"))?;
                Ok(PaymentLine {
                    claim: *claim,
                    amount: int(amount)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let total = crate::plan::total(&lines)?;
        let reference = format!("PAY-{month:04}").parse()?;
        let body = Body::PaymentMade(PaymentMade {
            lines,
            total,
            currency: self.currency,
            reference,
        });
        self.emit(&cast.commissioner.key, &[], at.clone(), body, sender)?;
        for investor in [&cast.investor_a, &cast.investor_b] {
            let body = Body::DistributionMade(DistributionMade {
                investor: investor.key.key_id(),
                amount: int(total.get() / 4)?,
                currency: self.currency,
                reference: format!("DIST-{month:04}").parse()?,
            });
            self.emit(&cast.intermediary.key, &[], at.clone(), body, sender)?;
        }
        Ok(())
    }

    fn claim(
        &mut self,
        outcome: &str,
        from: &str,
        to: &str,
        quantity: u64,
    ) -> anyhow::Result<Body> {
        let participants = (0..quantity.min(2))
            .map(|_| {
                let mut bytes = [0u8; 32];
                self.rng.fill(&mut bytes);
                Pseudonym::from_bytes(Sha256::digest(bytes).into())
            })
            .collect();
        let evidence = Evidence {
            sha256: Sha256Digest::from_bytes(
                Sha256::digest(format!("{outcome} {from}").as_bytes()).into(),
            ),
            media_type: "application/pdf".parse()?,
            uri: None,
        };
        Ok(Body::ClaimSubmitted(ClaimSubmitted {
            outcome: outcome.parse()?,
            period: Period {
                from: from.parse()?,
                to: to.parse()?,
            },
            quantity: int(quantity)?,
            participants,
            evidence: vec![evidence],
        }))
    }
}

/// First day, last day and the instant the events of month `month` (0 = January 2025) are
/// dated: five days after its end.
fn month_dates(month: u32) -> anyhow::Result<(String, String, Timestamp)> {
    let year = 2025 + i32::try_from(month / 12)?;
    let first = time::Date::from_calendar_date(
        year,
        time::Month::try_from(u8::try_from(month % 12 + 1)?)?,
        1,
    )?;
    let last = first
        .checked_add(time::Duration::days(
            i64::from(first.month().length(year)) - 1,
        ))
        .context("date out of range")?;
    let at_day = last
        .checked_add(time::Duration::days(5))
        .context("date out of range")?;
    let at = Timestamp::from_unix_seconds(at_day.midnight().assume_utc().unix_timestamp() + 36_000)
        .context("instant out of range")?;
    let text = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    Ok((text(first), text(last), at))
}

fn int(value: u64) -> anyhow::Result<Int> {
    Int::new(value).ok_or_else(|| anyhow::anyhow!("{value} is over 2^53-1"))
}

#[cfg(test)]
mod tests {
    use super::month_dates;

    #[test]
    fn months_have_their_calendar_length() -> anyhow::Result<()> {
        let (from, to, at) = month_dates(1)?;
        assert_eq!((from.as_str(), to.as_str()), ("2025-02-01", "2025-02-28"));
        assert_eq!(at.as_str(), "2025-03-05T10:00:00Z");
        let (from, to, _) = month_dates(13)?;
        assert_eq!((from.as_str(), to.as_str()), ("2026-02-01", "2026-02-28"));
        let (_, to, _) = month_dates(12 * 3 + 1)?;
        assert_eq!(to, "2028-02-29");
        Ok(())
    }
}
