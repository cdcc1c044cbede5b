//! The front door of `POST /v1/events`: rate limits and quotas on writes, checked at the node
//! that receives a request before anything is judged, verified or published (issue 9,
//! findings 3 and 4).
//!
//! - a bound on the signatures of one request (`signatures_per_request_max`): `413`;
//! - envelopes per `write_period_ms` per client (its peer IP address), charged on arrival,
//!   and events admitted per author key, charged once admitted (a key's budget is spent only
//!   by envelopes its holder signed, so nobody can spend another's): `429`;
//! - failed verifications (envelopes refused `invalid-signature`) per client and per author
//!   key: a client that sends more than `failed_verifications_max` in
//!   `failed_verifications_period_ms` is refused `429` for one period, and so is a key named
//!   by more than `key_failed_verifications_max` of them. The key's budget is higher: the
//!   author of an envelope whose signature fails is not authenticated, so anyone can spend it
//!   (holding back a key at worst for one period, and only by sending that many);
//! - envelope bytes per contract per `contract_quota_period_ms`: `429` naming the quota.
//!
//! Every `429` carries `Retry-After` (and a `retry_after` member) saying when the budget
//! frees up. The budgets are GCRA cells of `governor` (a burst of the whole budget, refilled
//! continuously over the period), keyed, with the clock injected so that tests do not sleep.
//! An attempt spends budget whether or not the node then admits it: the work was asked for.
//!
//! *Why only here.* In a replicated ledger a message's fate must be a function of the stream
//! prefix, never of a node's configuration or clock. So these limits apply only before
//! publishing, at the node that receives the request; the stream apply
//! (`Writer::apply_stream`) never consults them.
//!
//! The keyed state is bounded: limiters forget keys whose budget is full again
//! ([`FrontDoor::forget_idle`], every [`FORGET_EVERY_REQUESTS`] requests), and at most
//! [`OFFENDERS_MAX`] offenders are held back at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{NotUntil, Quota, RateLimiter};
use proto::dsse::Envelope;
use proto::{ContractId, KeyId};
use serde::Deserialize;

use super::problem::Problem;
use crate::config::Limits;

/// Codes of the front door's refusals.
pub mod codes {
    /// More signatures in one request than `signatures_per_request_max`.
    pub const TOO_MANY_SIGNATURES: &str = "too-many-signatures";
    /// A client or key over its rate of envelopes.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// A client or key held back after too many failed verifications.
    pub const TOO_MANY_BAD_SIGNATURES: &str = "too-many-bad-signatures";
    /// A contract over its quota of bytes per period.
    pub const CONTRACT_QUOTA: &str = "contract-quota";
}

/// The front door's codes with their statuses (for the OpenAPI document).
pub const CODES: &[(&str, u16)] = &[
    (codes::TOO_MANY_SIGNATURES, 413),
    (codes::RATE_LIMITED, 429),
    (codes::TOO_MANY_BAD_SIGNATURES, 429),
    (codes::CONTRACT_QUOTA, 429),
];

/// Requests between two sweeps of idle keys.
pub const FORGET_EVERY_REQUESTS: u64 = 4_096;
/// Most clients and keys held back at once; past it, offenders whose time is up are dropped,
/// and a new offender is not recorded until there is room (its budget still refuses it).
pub const OFFENDERS_MAX: usize = 65_536;

type Keyed<K, C> = RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Who is held back: a client (peer address) or an author key after failed verifications,
/// or a key over its rate of admitted events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Offender {
    Client(IpAddr),
    Key(KeyId),
    KeyWrites(KeyId),
}

/// The client of a request: its peer IP address, from axum's `ConnectInfo<SocketAddr>` (the
/// server must be run with `into_make_service_with_connect_info::<SocketAddr>()`, or insert
/// it per connection). Without one (an in-process caller), every request is one client,
/// `0.0.0.0`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Client(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(peer))
    }
}

/// What the front door reads of one envelope, without judging it.
#[derive(Clone, Debug)]
pub struct Intent {
    author: KeyId,
    contract: ContractId,
    bytes: u32,
    signatures: usize,
}

#[derive(Deserialize)]
struct PayloadHead {
    contract: ContractId,
    author: KeyId,
}

impl Intent {
    /// The author, contract, size and signature count of an envelope; `None` if it does not
    /// read (the node refuses it, for free: nothing is verified).
    pub fn read(envelope: &[u8]) -> Option<Self> {
        let decoded = Envelope::decode(envelope).ok()?;
        let head: PayloadHead = serde_json::from_slice(decoded.payload()).ok()?;
        Some(Self {
            author: head.author,
            contract: head.contract,
            bytes: u32::try_from(envelope.len()).unwrap_or(u32::MAX),
            signatures: decoded.signatures().len(),
        })
    }

    /// The author key.
    pub fn author(&self) -> &KeyId {
        &self.author
    }
}

/// The rate limits and quotas of one node, over the clock `C`.
pub struct FrontDoor<C: Clock + Clone> {
    clock: C,
    signatures_max: usize,
    client_events: Keyed<IpAddr, C>,
    key_events: Keyed<KeyId, C>,
    client_failures: Keyed<IpAddr, C>,
    key_failures: Keyed<KeyId, C>,
    failure_period: Duration,
    write_period: Duration,
    contract_bytes: Keyed<ContractId, C>,
    /// Clients and keys held back, and until when.
    offenders: Mutex<HashMap<Offender, C::Instant>>,
    requests: AtomicU64,
}

impl<C: Clock + Clone> FrontDoor<C> {
    /// The front door enforcing `limits`, reading time from `clock`.
    pub fn new(limits: &Limits, clock: C) -> Self {
        let rates = limits.rates();
        let failure_period = Duration::from_millis(rates.failed_verifications_period_ms());
        let write_period = Duration::from_millis(rates.write_period_ms());
        Self {
            signatures_max: limits.signatures_per_request_max(),
            client_events: limiter(
                &clock,
                per_period(rates.client_events_per_period(), write_period),
            ),
            key_events: limiter(
                &clock,
                per_period(rates.key_events_per_period(), write_period),
            ),
            client_failures: limiter(
                &clock,
                per_period(rates.failed_verifications_max(), failure_period),
            ),
            key_failures: limiter(
                &clock,
                per_period(rates.key_failed_verifications_max(), failure_period),
            ),
            failure_period,
            write_period,
            contract_bytes: limiter(
                &clock,
                per_period(
                    rates.contract_bytes_per_period(),
                    Duration::from_millis(rates.contract_quota_period_ms()),
                ),
            ),
            offenders: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            clock,
        }
    }

    /// Checks one request of `client`: the signature bound, the client held back or over
    /// its rate (each a problem for the whole request); then each envelope's key held back or
    /// over its rate, and its contract over quota (a problem for that envelope, in order;
    /// `None` for an envelope let through).
    ///
    /// # Errors
    /// The problem refusing the whole request.
    pub fn admit(
        &self,
        client: Client,
        intents: &[Option<Intent>],
    ) -> Result<Vec<Option<Problem>>, Problem> {
        self.sweep_now_and_then();
        let signatures: usize = intents.iter().flatten().map(|i| i.signatures).sum();
        if signatures > self.signatures_max {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::TOO_MANY_SIGNATURES,
                format!(
                    "{signatures} signatures in one request, over the limit of {}; send fewer envelopes per request",
                    self.signatures_max
                ),
            ));
        }
        self.held_back(Offender::Client(client.0))?;
        let envelopes = NonZeroU32::new(u32::try_from(intents.len()).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        match self.client_events.check_key_n(&client.0, envelopes) {
            Ok(Ok(())) => {}
            Ok(Err(not_until)) => return Err(self.rate_limited("this client", &not_until)),
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    codes::RATE_LIMITED,
                    format!("{envelopes} envelopes in one request are more than this client's burst; send fewer per request"),
                ))
            }
        }
        Ok(intents
            .iter()
            .map(|intent| intent.as_ref().and_then(|i| self.admit_one(i).err()))
            .collect())
    }

    /// One envelope: its key held back or over its rate, its contract over quota.
    fn admit_one(&self, intent: &Intent) -> Result<(), Problem> {
        self.held_back(Offender::Key(intent.author))?;
        self.held_back(Offender::KeyWrites(intent.author))?;
        let bytes = NonZeroU32::new(intent.bytes).unwrap_or(NonZeroU32::MIN);
        match self.contract_bytes.check_key_n(&intent.contract, bytes) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let seconds = self.seconds_until(&not_until);
                Err(Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    codes::CONTRACT_QUOTA,
                    format!(
                        "contract {} is over its quota of bytes per period (contract_bytes_per_period); {} more bytes fit in about {seconds} s",
                        intent.contract, intent.bytes
                    ),
                )
                .with_retry_after(seconds))
            }
            Err(_) => Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                codes::CONTRACT_QUOTA,
                format!(
                    "an envelope of {} bytes is more than contract {}'s whole quota per period (contract_bytes_per_period)",
                    intent.bytes, intent.contract
                ),
            )),
        }
    }

    /// Charges each author key for its admitted events (one entry per event): a key past its
    /// rate is held back until its budget has room again.
    pub fn admitted(&self, authors: &[KeyId]) {
        for (key, count) in tally(authors.iter()) {
            let until = match self.key_events.check_key_n(&key, count) {
                Ok(Ok(())) => continue,
                Ok(Err(not_until)) => not_until.earliest_possible(),
                Err(_) => self.clock.now() + Nanos::from(self.write_period),
            };
            self.hold_back(Offender::KeyWrites(key), until);
        }
    }

    /// Counts the envelopes of `client` refused for a wrong signature, one entry each with
    /// its author when it read: a client or key past its budget is held back for one period.
    pub fn failed(&self, client: Client, authors: &[Option<KeyId>]) {
        let Some(total) = NonZeroU32::new(u32::try_from(authors.len()).unwrap_or(u32::MAX)) else {
            return;
        };
        let until = self.clock.now() + Nanos::from(self.failure_period);
        if !matches!(
            self.client_failures.check_key_n(&client.0, total),
            Ok(Ok(()))
        ) {
            self.hold_back(Offender::Client(client.0), until);
        }
        for (key, count) in tally(authors.iter().flatten()) {
            if !matches!(self.key_failures.check_key_n(&key, count), Ok(Ok(()))) {
                self.hold_back(Offender::Key(key), until);
            }
        }
    }

    fn hold_back(&self, offender: Offender, until: C::Instant) {
        let mut offenders = self.offenders.lock().unwrap_or_else(|p| p.into_inner());
        if offenders.len() >= OFFENDERS_MAX {
            let now = self.clock.now();
            offenders.retain(|_, until| *until > now);
        }
        if offenders.len() < OFFENDERS_MAX {
            offenders.insert(offender, until);
        }
        tracing::warn!(?offender, "held back at the front door");
    }

    /// A `429` if `offender` is held back now.
    fn held_back(&self, offender: Offender) -> Result<(), Problem> {
        let now = self.clock.now();
        let mut offenders = self.offenders.lock().unwrap_or_else(|p| p.into_inner());
        let Some(until) = offenders.get(&offender).copied() else {
            return Ok(());
        };
        if until <= now {
            offenders.remove(&offender);
            return Ok(());
        }
        let seconds = ceil_seconds(until.duration_since(now).into());
        let who = match offender {
            Offender::Client(ip) => format!("client {ip}"),
            Offender::Key(key) => format!("key {key}"),
            Offender::KeyWrites(key) => {
                return Err(Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    codes::RATE_LIMITED,
                    format!("key {key} is over its rate of admitted events (key_events_per_period); retry in {seconds} s"),
                )
                .with_retry_after(seconds))
            }
        };
        Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_BAD_SIGNATURES,
            format!("{who} sent too many envelopes with wrong signatures (failed_verifications_max); retry in {seconds} s with correctly signed envelopes"),
        )
        .with_retry_after(seconds))
    }

    fn rate_limited(&self, who: &str, not_until: &NotUntil<C::Instant>) -> Problem {
        let seconds = self.seconds_until(not_until);
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            format!("{who} is over its rate of envelopes (client_events_per_period); retry in {seconds} s"),
        )
        .with_retry_after(seconds)
    }

    fn seconds_until(&self, not_until: &NotUntil<C::Instant>) -> u64 {
        ceil_seconds(not_until.wait_time_from(self.clock.now()))
    }

    /// Every [`FORGET_EVERY_REQUESTS`] requests, [`FrontDoor::forget_idle`].
    fn sweep_now_and_then(&self) {
        let count = self.requests.fetch_add(1, Ordering::Relaxed);
        if count % FORGET_EVERY_REQUESTS == FORGET_EVERY_REQUESTS - 1 {
            self.forget_idle();
        }
    }

    /// Forgets the keys whose budget is full again and the offenders whose time is up.
    pub fn forget_idle(&self) {
        self.client_events.retain_recent();
        self.key_events.retain_recent();
        self.client_failures.retain_recent();
        self.key_failures.retain_recent();
        self.contract_bytes.retain_recent();
        let now = self.clock.now();
        let mut offenders = self.offenders.lock().unwrap_or_else(|p| p.into_inner());
        offenders.retain(|_, until| *until > now);
    }

    /// Keys the limiters remember (clients, keys, contracts, offenders), for tests.
    pub fn remembered(&self) -> usize {
        let offenders = self.offenders.lock().map_or(0, |o| o.len());
        self.client_events.len()
            + self.key_events.len()
            + self.client_failures.len()
            + self.key_failures.len()
            + self.contract_bytes.len()
            + offenders
    }
}

/// A keyed limiter of `quota` over `clock`.
fn limiter<K: std::hash::Hash + Eq + Clone, C: Clock + Clone>(
    clock: &C,
    quota: Quota,
) -> Keyed<K, C> {
    RateLimiter::new(quota, DashMapStateStore::default(), clock.clone())
}

/// How many times each key comes.
fn tally<'a>(keys: impl Iterator<Item = &'a KeyId>) -> Vec<(KeyId, NonZeroU32)> {
    let mut counts: HashMap<KeyId, u32> = HashMap::new();
    for key in keys {
        let count = counts.entry(*key).or_insert(0);
        *count = count.saturating_add(1);
    }
    counts
        .into_iter()
        .filter_map(|(key, count)| Some((key, NonZeroU32::new(count)?)))
        .collect()
}

/// `count` cells per `period`, all of them in one burst.
fn per_period(count: u32, period: Duration) -> Quota {
    let count = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
    let cell = period / count.get();
    Quota::with_period(cell.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(count))
        .allow_burst(count)
}

/// Whole seconds, rounded up, at least 1 (a `Retry-After` of 0 invites a busy loop).
fn ceil_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs();
    let seconds = if wait.subsec_nanos() > 0 {
        seconds.saturating_add(1)
    } else {
        seconds
    };
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;
    use crate::config::{Config, Settings};

    fn limits(settings: Settings) -> Limits {
        Config::resolve(settings).unwrap().limits()
    }

    fn intent(author: u8, contract: &str, bytes: u32) -> Option<Intent> {
        Some(Intent {
            author: KeyId::of(&proto::PublicKey::from_bytes([author; 32])),
            contract: contract.parse().unwrap(),
            bytes,
            signatures: 1,
        })
    }

    const ONE: Client = Client(IpAddr::V4(Ipv4Addr::LOCALHOST));
    const TWO: Client = Client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));

    #[test]
    fn a_client_over_its_rate_waits_while_another_writes() {
        let clock = FakeRelativeClock::default();
        let settings = Settings {
            client_events_per_period: Some(3),
            ..Settings::default()
        };
        let door = FrontDoor::new(&limits(settings), clock.clone());
        let batch = [intent(1, "c", 10), intent(1, "c", 10)];
        assert!(door.admit(ONE, &batch).is_ok());
        let refused = door.admit(ONE, &batch).unwrap_err();
        assert_eq!(
            (refused.status(), refused.code()),
            (StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED)
        );
        assert!(door.admit(TWO, &batch).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(door.admit(ONE, &batch).is_ok());
    }

    #[test]
    fn a_contract_over_its_byte_quota_is_refused_until_it_refills() {
        let clock = FakeRelativeClock::default();
        let settings = Settings {
            contract_bytes_per_period: Some(1_000),
            contract_quota_period_ms: Some(10_000),
            ..Settings::default()
        };
        let door = FrontDoor::new(&limits(settings), clock.clone());
        let answers = door
            .admit(
                ONE,
                &[
                    intent(1, "big", 600),
                    intent(1, "big", 600),
                    intent(1, "small", 600),
                ],
            )
            .unwrap();
        assert!(answers[0].is_none() && answers[2].is_none());
        let refused = answers[1].as_ref().unwrap();
        assert_eq!(refused.code(), codes::CONTRACT_QUOTA);
        // 200 bytes more are needed: 2 s of a 1,000-bytes-per-10-s refill.
        let json = serde_json::to_value(refused).unwrap();
        assert_eq!(json["retry_after"], 2);
        clock.advance(Duration::from_secs(2));
        assert!(door.admit(ONE, &[intent(1, "big", 600)]).unwrap()[0].is_none());
    }

    #[test]
    fn too_many_failed_verifications_hold_back_the_client_and_the_key_for_a_period() {
        let clock = FakeRelativeClock::default();
        let settings = Settings {
            failed_verifications_max: Some(4),
            key_failed_verifications_max: Some(4),
            failed_verifications_period_ms: Some(60_000),
            ..Settings::default()
        };
        let door = FrontDoor::new(&limits(settings), clock.clone());
        let bad = intent(9, "c", 10);
        let key = *bad.as_ref().unwrap().author();
        door.failed(ONE, &[Some(key); 4]);
        assert!(
            door.admit(ONE, &[intent(1, "c", 10)]).is_ok(),
            "within budget"
        );
        door.failed(ONE, &[Some(key)]);
        let refused = door.admit(ONE, &[intent(1, "c", 10)]).unwrap_err();
        assert_eq!(refused.code(), codes::TOO_MANY_BAD_SIGNATURES);
        // The key is held back for every client; the other client's other keys are not.
        let answers = door.admit(TWO, &[bad, intent(1, "c", 10)]).unwrap();
        assert_eq!(
            answers[0].as_ref().map(Problem::code),
            Some(codes::TOO_MANY_BAD_SIGNATURES)
        );
        assert!(answers[1].is_none());
        clock.advance(Duration::from_secs(60));
        assert!(door.admit(ONE, &[intent(1, "c", 10)]).is_ok());
    }

    #[test]
    fn a_key_over_its_rate_of_admitted_events_waits_and_others_do_not() {
        let clock = FakeRelativeClock::default();
        let settings = Settings {
            key_events_per_period: Some(2),
            write_period_ms: Some(10_000),
            ..Settings::default()
        };
        let door = FrontDoor::new(&limits(settings), clock.clone());
        let busy = intent(1, "c", 10);
        let key = *busy.as_ref().unwrap().author();
        // Envelopes not admitted spend nothing of the key's budget.
        for _ in 0..5 {
            assert!(door.admit(ONE, std::slice::from_ref(&busy)).unwrap()[0].is_none());
        }
        door.admitted(&[key, key]);
        assert!(door.admit(ONE, std::slice::from_ref(&busy)).unwrap()[0].is_none());
        door.admitted(&[key]);
        let answers = door
            .admit(TWO, &[busy.clone(), intent(2, "c", 10)])
            .unwrap();
        assert_eq!(
            answers[0].as_ref().map(Problem::code),
            Some(codes::RATE_LIMITED)
        );
        assert!(answers[1].is_none());
        // One event's worth of budget is back after 5 s.
        clock.advance(Duration::from_secs(5));
        assert!(door.admit(ONE, &[busy]).unwrap()[0].is_none());
    }

    #[test]
    fn too_many_signatures_are_refused_before_anything_else() {
        let clock = FakeRelativeClock::default();
        let settings = Settings {
            signatures_per_request_max: Some(2),
            ..Settings::default()
        };
        let door = FrontDoor::new(&limits(settings), clock);
        let batch = [intent(1, "c", 10), intent(1, "c", 10), intent(1, "c", 10)];
        let refused = door.admit(ONE, &batch).unwrap_err();
        assert_eq!(
            (refused.status(), refused.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_MANY_SIGNATURES)
        );
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let door = FrontDoor::new(&limits(Settings::default()), clock.clone());
        for n in 0..50u8 {
            let one = intent(n, &format!("c{n}"), 10);
            assert!(door.admit(ONE, std::slice::from_ref(&one)).is_ok());
            door.admitted(&[*one.as_ref().unwrap().author()]);
        }
        assert!(door.remembered() >= 100);
        clock.advance(Duration::from_secs(3_600));
        door.forget_idle();
        assert_eq!(door.remembered(), 0);
    }
}
