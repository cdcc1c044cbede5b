//! Property tests over random valid histories: registrations, claims, verifications, rejections,
//! disputes and resolutions, amendments, payments, distributions, feedback, rotations,
//! revocations and closings, interleaved across 1 to 3 contracts.
//!
//! The generator keeps its own model of each contract (written from SPEC.md section 6, not from
//! the code under test) to choose only valid events and to know the sums they must add up to.
//! Properties:
//! 1. admitting events one by one, rebuilding from scratch in one batch, and the pure fold
//!    (`ContractState::register` + `apply`) give equal states;
//! 2. invariants hold after every step: paid <= verified, caps never exceeded, distributions
//!    <= payments;
//! 3. the projection and the statement add up to the model's sums;
//! 4. mutating any event of a valid history (seq, prev, author, a payment amount) is refused.

mod support;

use ledger_core::statement::OutcomeLine;
use ledger_core::{ContractState, Event, Ledger, Statement};
use proptest::prelude::*;
use proto::payload::{ClaimSubmitted, ContractRegistered, Decision, Period, Stance};
use proto::{Body, EventId, Int};
use support::*;

const PRICES: [u64; 3] = [50_000, 150_000, 300_000];
const CAPS_UNITS: [u64; 3] = [8, 6, 4];
const CAP: u64 = 1_800_000;
/// Party order of `support::PARTIES`.
const COMMISSIONER: usize = 0;
const PROVIDER: usize = 1;
const VERIFIER: usize = 2;
const INTERMEDIARY: usize = 3;
const INVESTORS: [usize; 2] = [4, 5];
const REP: usize = 6;

#[derive(Clone, Debug)]
enum Action {
    Claim {
        outcome: u8,
        quantity: u8,
    },
    Verify {
        pick: u8,
        fraction: u8,
    },
    Reject {
        pick: u8,
    },
    Dispute {
        pick: u8,
        by: u8,
    },
    Resolve {
        pick: u8,
        decision: u8,
        fraction: u8,
    },
    Amend {
        outcome: u8,
        price: u32,
    },
    Pay {
        mask: u8,
    },
    Distribute {
        investor: u8,
        fraction: u32,
    },
    Feedback {
        pick: u8,
        stance: u8,
    },
    Rotate {
        party: u8,
    },
    Revoke {
        party: u8,
        successor: bool,
    },
    Enrol {
        party: u8,
    },
    Close,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (any::<u8>(), 1..=4u8).prop_map(|(outcome, quantity)| Action::Claim { outcome, quantity }),
        6 => (any::<u8>(), any::<u8>()).prop_map(|(pick, fraction)| Action::Verify { pick, fraction }),
        1 => any::<u8>().prop_map(|pick| Action::Reject { pick }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(pick, by)| Action::Dispute { pick, by }),
        3 => (any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(pick, decision, fraction)| Action::Resolve { pick, decision, fraction }),
        1 => (any::<u8>(), any::<u32>()).prop_map(|(outcome, price)| Action::Amend { outcome, price }),
        5 => any::<u8>().prop_map(|mask| Action::Pay { mask }),
        3 => (any::<u8>(), any::<u32>()).prop_map(|(investor, fraction)| Action::Distribute { investor, fraction }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(pick, stance)| Action::Feedback { pick, stance }),
        1 => any::<u8>().prop_map(|party| Action::Rotate { party }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(party, successor)| Action::Revoke { party, successor }),
        1 => any::<u8>().prop_map(|party| Action::Enrol { party }),
        // Closing ends most of a contract's life: keep it rare.
        1 => any::<u8>().prop_map(|roll| if roll < 48 { Action::Close } else { Action::Pay { mask: roll } }),
    ]
}

fn history() -> impl Strategy<Value = (usize, Vec<(u8, Action)>)> {
    (
        1..=3usize,
        proptest::collection::vec((any::<u8>(), action()), 1..120),
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Pending,
    Verified,
    Rejected,
    Paid,
}

#[derive(Clone, Debug)]
struct ModelClaim {
    id: EventId,
    outcome: usize,
    quantity: u64,
    status: Status,
    verified: u64,
    price: Option<u64>,
    paid_units: u64,
    paid_money: u64,
    clawback: u64,
    open_dispute: Option<EventId>,
}

/// What SPEC.md says one contract holds, computed independently of ledger-core.
#[derive(Clone, Debug)]
struct Model {
    stream: Stream,
    keys: [Option<Who>; 7],
    /// The last key each party held (its current key, or the one revoked last).
    held: [Who; 7],
    prices: [u64; 3],
    claims: Vec<ModelClaim>,
    disputes: Vec<(EventId, usize)>,
    distributed: [u64; 2],
    closed: bool,
}

impl Model {
    fn paid_units(&self, outcome: usize) -> u64 {
        self.claims
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| c.paid_units)
            .sum()
    }

    fn paid_money(&self) -> u64 {
        self.claims.iter().map(|c| c.paid_money).sum()
    }

    fn key(&self, party: usize) -> Option<Who> {
        self.keys[party]
    }
}

/// A generated history: every event in global order, as a draft (to mutate) and sealed.
#[derive(Default)]
struct Generated {
    drafts: Vec<Draft>,
    envelopes: Vec<Vec<u8>>,
    models: Vec<Model>,
    fresh_keys: u8,
}

fn registration_body() -> ContractRegistered {
    let mut body = programme();
    for (i, outcome) in body.outcomes.iter_mut().enumerate() {
        outcome.price = int(PRICES[i]);
        outcome.cap_units = int(CAPS_UNITS[i]);
    }
    body.cap = int(CAP);
    body
}

impl Generated {
    fn build(contracts: usize, actions: &[(u8, Action)]) -> Generated {
        let mut g = Generated::default();
        for (selector, action) in actions {
            let k = usize::from(*selector) % contracts;
            if k >= g.models.len() {
                g.register();
                continue;
            }
            g.act(k, action);
        }
        g
    }

    fn register(&mut self) {
        let contract = format!("homes-first-{}", self.models.len() + 1);
        let stream = Stream::new(&contract);
        let signers: Vec<Who> = PARTIES.iter().map(|(who, _, _)| *who).collect();
        let draft = stream
            .draft(
                Who::Commissioner,
                Body::ContractRegistered(registration_body()),
            )
            .signed_by(&signers);
        let keys = PARTIES.map(|(who, _, _)| Some(who));
        let mut model = Model {
            stream,
            keys,
            held: PARTIES.map(|(who, _, _)| who),
            prices: PRICES,
            claims: Vec::new(),
            disputes: Vec::new(),
            distributed: [0; 2],
            closed: false,
        };
        self.seal(&mut model, draft);
        self.models.push(model);
    }

    fn seal(&mut self, model: &mut Model, draft: Draft) -> EventId {
        self.envelopes.push(draft.seal());
        self.drafts.push(draft.clone());
        model.stream.push(draft)
    }

    fn act(&mut self, k: usize, action: &Action) {
        let mut model = self.models[k].clone();
        if let Some(draft) = self.draft(&mut model, action) {
            let id = self.seal(&mut model, draft.clone());
            apply_to_model(&mut model, &draft, id);
        }
        self.models[k] = model;
    }

    /// A valid event for `action`, if the model allows one.
    fn draft(&mut self, m: &mut Model, action: &Action) -> Option<Draft> {
        let open_only = matches!(
            action,
            Action::Dispute { .. } | Action::Resolve { .. } | Action::Feedback { .. }
        );
        if m.closed && !open_only {
            return None;
        }
        let pick = |n: usize, p: u8| (n > 0).then(|| usize::from(p) % n);
        match action {
            Action::Claim { outcome, quantity } => {
                let o = usize::from(*outcome) % 3;
                let q = u64::from(*quantity);
                let body = Body::ClaimSubmitted(ClaimSubmitted {
                    outcome: proto::OutcomeId::clone(&registration_body().outcomes[o].id),
                    period: Period {
                        from: text("2025-04-01"),
                        to: text("2025-09-30"),
                    },
                    quantity: int(q),
                    participants: (0..q.min(2))
                        .map(|i| pseudonym(i + 1000 * m.claims.len() as u64))
                        .collect(),
                    evidence: Vec::new(),
                });
                Some(m.stream.draft(m.key(PROVIDER)?, body))
            }
            Action::Verify { pick: p, fraction } => {
                let pending: Vec<&ModelClaim> = m
                    .claims
                    .iter()
                    .filter(|c| c.status == Status::Pending)
                    .collect();
                let c = pending[pick(pending.len(), *p)?];
                let units = 1 + u64::from(*fraction) % c.quantity;
                Some(m.stream.draft(m.key(VERIFIER)?, verify(c.id, units)))
            }
            Action::Reject { pick: p } => {
                let pending: Vec<&ModelClaim> = m
                    .claims
                    .iter()
                    .filter(|c| c.status == Status::Pending)
                    .collect();
                let c = pending[pick(pending.len(), *p)?];
                Some(m.stream.draft(m.key(VERIFIER)?, reject(c.id)))
            }
            Action::Dispute { pick: p, by } => {
                let free: Vec<&ModelClaim> = m
                    .claims
                    .iter()
                    .filter(|c| c.open_dispute.is_none())
                    .collect();
                let c = free[pick(free.len(), *p)?];
                Some(m.stream.draft(m.key(usize::from(*by) % 7)?, dispute(c.id)))
            }
            Action::Resolve {
                pick: p,
                decision,
                fraction,
            } => {
                let open: Vec<&(EventId, usize)> = m
                    .disputes
                    .iter()
                    .filter(|(d, c)| m.claims[*c].open_dispute == Some(*d))
                    .collect();
                let (dispute_id, claim) = *open[pick(open.len(), *p)?];
                let c = &m.claims[claim];
                let body = match decision % 3 {
                    0 => resolve(dispute_id, Decision::Upheld, None),
                    1 => resolve(dispute_id, Decision::Overturned, None),
                    _ if c.status == Status::Paid => resolve(
                        dispute_id,
                        Decision::Adjusted,
                        Some(u64::from(*fraction) % (c.paid_units + 1)),
                    ),
                    _ => resolve(
                        dispute_id,
                        Decision::Adjusted,
                        Some(u64::from(*fraction) % (c.quantity + 1)),
                    ),
                };
                Some(m.stream.draft(m.key(VERIFIER)?, body))
            }
            Action::Amend { outcome, price } => {
                let o = usize::from(*outcome) % 3;
                let id = registration_body().outcomes[o].id.to_string();
                // Every commissioner, provider and investor consents, each by its current key: a
                // party without one (revoked, no successor yet) holds the amendment back.
                let signers = [COMMISSIONER, PROVIDER, INVESTORS[0], INVESTORS[1]]
                    .iter()
                    .map(|p| m.key(*p))
                    .collect::<Option<Vec<Who>>>()?;
                let price = 1 + u64::from(*price) % 400_000;
                Some(
                    m.stream
                        .draft(m.key(COMMISSIONER)?, amend(&[(&id, price)]))
                        .signed_by(&signers),
                )
            }
            Action::Pay { mask } => pay_within_caps(m, *mask),
            Action::Distribute { investor, fraction } => {
                let available = m.paid_money() - m.distributed.iter().sum::<u64>();
                let party = INVESTORS[usize::from(*investor) % 2];
                if available == 0 {
                    return None;
                }
                let amount = 1 + u64::from(*fraction) % available;
                Some(
                    m.stream
                        .draft(m.key(INTERMEDIARY)?, distribute(m.key(party)?, amount)),
                )
            }
            Action::Feedback { pick: p, stance } => {
                let claim = pick(m.claims.len(), *p)
                    .filter(|_| p % 2 == 0)
                    .map(|i| m.claims[i].id);
                let outcome = (p % 3 == 0).then_some("housed-6m");
                let stance =
                    [Stance::Affirms, Stance::Contests, Stance::Comment][usize::from(*stance) % 3];
                Some(
                    m.stream
                        .draft(m.key(REP)?, feedback(claim, outcome, stance)),
                )
            }
            Action::Rotate { party } => {
                let party = usize::from(*party) % 7;
                let old = m.key(party)?;
                let new = self.fresh_key()?;
                Some(m.stream.draft(old, rotate(old, new)).signed_by(&[old, new]))
            }
            Action::Revoke { party, successor } => {
                // Any party but the commissioner; the verifier and the rep only with a successor.
                let party = 1 + usize::from(*party) % 6;
                let key = m.key(party)?;
                let mut signers = quorum(m, party)?;
                if *successor || party == VERIFIER || party == REP {
                    let new = self.fresh_key()?;
                    signers.push(new);
                    let body = revoke_to(key.id(), new);
                    return Some(
                        m.stream
                            .draft(m.key(COMMISSIONER)?, body)
                            .signed_by(&signers),
                    );
                }
                Some(
                    m.stream
                        .draft(m.key(COMMISSIONER)?, revoke(key.id()))
                        .signed_by(&signers),
                )
            }
            Action::Enrol { party } => {
                let keyless: Vec<usize> = (0..7).filter(|p| m.key(*p).is_none()).collect();
                let party = keyless[pick(keyless.len(), *party)?];
                let mut signers = quorum(m, party)?;
                let new = self.fresh_key()?;
                signers.push(new);
                let body = enrol(m.held[party].id(), new);
                Some(
                    m.stream
                        .draft(m.key(COMMISSIONER)?, body)
                        .signed_by(&signers),
                )
            }
            Action::Close => Some(m.stream.draft(m.key(COMMISSIONER)?, close())),
        }
    }
}

impl Generated {
    /// A key no party of any contract holds or held, while there are some left.
    fn fresh_key(&mut self) -> Option<Who> {
        if self.fresh_keys >= 150 {
            return None;
        }
        let new = Who::Fresh(self.fresh_keys);
        self.fresh_keys += 1;
        Some(new)
    }
}

/// The quorum for changing `party`'s key: the commissioner and current keys of 4 of the 6
/// other parties (a party without a key counts, but cannot sign); `None` if they lack keys.
fn quorum(m: &Model, party: usize) -> Option<Vec<Who>> {
    let signers: Vec<Who> = (0..7)
        .filter(|p| *p != party)
        .filter_map(|p| m.key(p))
        .take(4)
        .collect();
    (signers.len() == 4 && signers[0] == m.key(COMMISSIONER)?).then_some(signers)
}

/// A payment of verified, undisputed claims chosen by `mask`, skipping any that would pass a cap.
fn pay_within_caps(m: &Model, mask: u8) -> Option<Draft> {
    let mut units = [0u64; 3];
    let mut money = m.paid_money();
    let mut lines = Vec::new();
    let payable = m
        .claims
        .iter()
        .filter(|c| c.status == Status::Verified && c.open_dispute.is_none());
    for (i, c) in payable.enumerate() {
        if i < 8 && mask & (1 << i) == 0 {
            continue;
        }
        let amount = c.price? * c.verified;
        let fits = m.paid_units(c.outcome) + units[c.outcome] + c.verified <= CAPS_UNITS[c.outcome]
            && money + amount <= CAP;
        if fits {
            units[c.outcome] += c.verified;
            money += amount;
            lines.push((c.id, amount));
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(m.stream.draft(m.key(COMMISSIONER)?, pay(&lines)))
}

/// What SPEC.md 6.3 says the event does.
fn apply_to_model(m: &mut Model, draft: &Draft, id: EventId) {
    let find = |m: &Model, claim: &EventId| m.claims.iter().position(|c| &c.id == claim);
    match &draft.payload.body {
        Body::ClaimSubmitted(b) => {
            let outcome = registration_body()
                .outcomes
                .iter()
                .position(|o| o.id == b.outcome)
                .unwrap_or(0);
            m.claims.push(ModelClaim {
                id,
                outcome,
                quantity: b.quantity.get(),
                status: Status::Pending,
                verified: 0,
                price: None,
                paid_units: 0,
                paid_money: 0,
                clawback: 0,
                open_dispute: None,
            });
        }
        Body::ClaimVerified(b) => {
            let i = find(m, &b.claim).unwrap_or(0);
            let price = m.prices[m.claims[i].outcome];
            let c = &mut m.claims[i];
            (c.status, c.verified, c.price) = (Status::Verified, b.quantity.get(), Some(price));
        }
        Body::ClaimRejected(b) => {
            let i = find(m, &b.claim).unwrap_or(0);
            m.claims[i].status = Status::Rejected;
        }
        Body::ClaimDisputed(b) => {
            let i = find(m, &b.claim).unwrap_or(0);
            m.claims[i].open_dispute = Some(id);
            m.disputes.push((id, i));
        }
        Body::DisputeResolved(b) => {
            resolve_in_model(m, b.dispute, b.decision, b.quantity.map(Int::get))
        }
        Body::ContractAmended(b) => {
            for change in &b.prices {
                let o = registration_body()
                    .outcomes
                    .iter()
                    .position(|o| o.id == change.outcome)
                    .unwrap_or(0);
                m.prices[o] = change.price.get();
            }
        }
        Body::PaymentMade(b) => {
            for line in &b.lines {
                let i = find(m, &line.claim).unwrap_or(0);
                let c = &mut m.claims[i];
                (c.status, c.paid_units, c.paid_money) =
                    (Status::Paid, c.verified, line.amount.get());
            }
        }
        Body::DistributionMade(b) => {
            let party = INVESTORS
                .iter()
                .position(|p| m.keys[*p].map(Who::id) == Some(b.investor))
                .unwrap_or(0);
            m.distributed[party] += b.amount.get();
        }
        Body::KeyRotated(b) => {
            let party = m
                .keys
                .iter()
                .position(|k| k.map(Who::id) == Some(b.old))
                .unwrap_or(0);
            let new = draft.signers.iter().copied().find(|w| w.public() == b.new);
            m.keys[party] = new;
            m.held[party] = new.unwrap_or(m.held[party]);
        }
        Body::KeyRevoked(b) => {
            let party = m
                .keys
                .iter()
                .position(|k| k.map(Who::id) == Some(b.key))
                .unwrap_or(0);
            let successor = b
                .successor
                .and_then(|s| draft.signers.iter().copied().find(|w| w.public() == s));
            m.keys[party] = successor;
            m.held[party] = successor.unwrap_or(m.held[party]);
        }
        Body::KeyEnrolled(b) => {
            let party = m.held.iter().position(|k| k.id() == b.party).unwrap_or(0);
            let new = draft.signers.iter().copied().find(|w| w.public() == b.new);
            m.keys[party] = new;
            m.held[party] = new.unwrap_or(m.held[party]);
        }
        Body::ContractClosed(_) => m.closed = true,
        Body::FeedbackRecorded(_) | Body::ContractRegistered(_) => {}
    }
}

fn resolve_in_model(m: &mut Model, dispute: EventId, decision: Decision, quantity: Option<u64>) {
    let claim = m
        .disputes
        .iter()
        .find(|(d, _)| *d == dispute)
        .map_or(0, |(_, c)| *c);
    let price_now = m.prices[m.claims[claim].outcome];
    let c = &mut m.claims[claim];
    c.open_dispute = None;
    match (decision, c.status) {
        (Decision::Overturned, _) => {}
        (Decision::Upheld, Status::Paid) => c.clawback = c.paid_money,
        (Decision::Upheld, _) => (c.status, c.verified) = (Status::Rejected, 0),
        (Decision::Adjusted, Status::Paid) => {
            c.clawback = (c.paid_units - quantity.unwrap_or(0)) * c.price.unwrap_or(0);
        }
        (Decision::Adjusted, _) => {
            c.price = Some(c.price.unwrap_or(price_now));
            (c.status, c.verified) = (Status::Verified, quantity.unwrap_or(0));
        }
    }
}

/// Invariants read from the projection's getters.
fn assert_invariants(state: &ContractState) {
    assert_eq!(state.broken_invariant(), None);
    for o in state.outcomes() {
        let t = o.tally();
        assert!(
            t.paid_units <= t.verified_units,
            "paid units over verified units"
        );
        assert!(
            t.paid_money <= t.verified_money,
            "paid money over verified money"
        );
        assert!(t.paid_units <= o.cap_units(), "unit cap passed");
    }
    assert!(state.tally().paid_money <= *state.cap(), "money cap passed");
    assert!(
        *state.distributed() <= state.tally().paid_money,
        "distributions over payments"
    );
}

/// The projection and the statement add up to the model.
fn assert_matches_model(state: &ContractState, m: &Model) {
    // Each party keeps its place whatever its key: the current key is the model's.
    for (party, key) in state.parties().iter().zip(m.keys) {
        assert_eq!(party.key(), key.map(Who::id).as_ref(), "{:?}", party.role());
    }
    let statement = Statement::of(state);
    let standing = |c: &&ModelClaim| matches!(c.status, Status::Verified | Status::Paid);
    for (o, line) in statement.outcomes.iter().enumerate() {
        let mine = || m.claims.iter().filter(move |c| c.outcome == o);
        let verified_money: u64 = mine()
            .filter(standing)
            .map(|c| {
                if c.status == Status::Paid {
                    c.paid_money
                } else {
                    c.verified * c.price.unwrap_or(0)
                }
            })
            .sum();
        assert_eq!(
            line.verified_units.get(),
            mine().filter(standing).map(|c| c.verified).sum::<u64>()
        );
        assert_eq!(line.verified_money.get(), verified_money);
        assert_eq!(
            line.paid_units.get(),
            mine().map(|c| c.paid_units).sum::<u64>()
        );
        assert_eq!(
            line.paid_money.get(),
            mine().map(|c| c.paid_money).sum::<u64>()
        );
        assert_eq!(line.price.get(), m.prices[o]);
        assert_eq!(
            line.cap_units_left.get(),
            CAPS_UNITS[o] - line.paid_units.get()
        );
        let claimed: u64 = mine().map(|c| c.quantity).sum();
        assert_eq!(state.outcomes()[o].tally().claimed_units.get(), claimed);
    }
    let sum =
        |f: fn(&OutcomeLine) -> Int| statement.outcomes.iter().map(|l| f(l).get()).sum::<u64>();
    assert_eq!(statement.paid_money.get(), sum(|l| l.paid_money));
    assert_eq!(statement.verified_money.get(), sum(|l| l.verified_money));
    assert_eq!(statement.unpaid_money.get(), sum(|l| l.unpaid_money));
    assert_eq!(statement.paid_money.get(), m.paid_money());
    assert_eq!(
        statement.clawback_money.get(),
        m.claims.iter().map(|c| c.clawback).sum::<u64>()
    );
    assert_eq!(
        statement.distributed.get(),
        m.distributed.iter().sum::<u64>()
    );
    assert_eq!(
        statement.retained.get(),
        m.paid_money() - m.distributed.iter().sum::<u64>()
    );
    let by_investor: Vec<u64> = statement
        .investors
        .iter()
        .map(|i| i.distributed.get())
        .collect();
    assert_eq!(by_investor, m.distributed.to_vec());
    assert_eq!(statement.cap_left.get(), CAP - m.paid_money());
}

fn contracts_sorted(ledger: &Ledger) -> Vec<ContractState> {
    let mut states: Vec<ContractState> = ledger.contracts().cloned().collect();
    states.sort_by(|a, b| a.id().cmp(b.id()));
    states
}

/// The pure fold, without signatures: register each contract's first event, apply the rest.
fn fold(envelopes: &[Vec<u8>]) -> Vec<ContractState> {
    let mut states: Vec<ContractState> = Vec::new();
    for bytes in envelopes {
        let event = Event::decode(bytes).expect("generated events decode");
        match states.iter_mut().find(|s| s.id() == event.contract()) {
            Some(state) => state.apply(&event),
            None => states.push(ContractState::register(&event)),
        }
    }
    states.sort_by(|a, b| a.id().cmp(b.id()));
    states
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_rebuild_and_fold_agree_and_invariants_hold((contracts, actions) in history()) {
        let g = Generated::build(contracts, &actions);
        let mut incremental = Ledger::new();
        for (i, bytes) in g.envelopes.iter().enumerate() {
            let result = incremental.append_batch(&[bytes.as_slice()], 1).remove(0);
            let admitted = result.unwrap_or_else(|r| panic!("event {i} of a valid history refused: {r}"));
            prop_assert_eq!(admitted.index, i as u64);
            let state = incremental.contract(&admitted.contract).expect("admitted contract");
            assert_invariants(state);
        }
        let refs: Vec<&[u8]> = g.envelopes.iter().map(Vec::as_slice).collect();
        let mut rebuilt = Ledger::new();
        prop_assert!(rebuilt.append_batch(&refs, 2).iter().all(Result::is_ok));
        prop_assert_eq!(rebuilt.size(), g.envelopes.len() as u64);
        let states = contracts_sorted(&incremental);
        prop_assert_eq!(&states, &contracts_sorted(&rebuilt));
        prop_assert_eq!(&states, &fold(&g.envelopes));
        for (state, model) in states.iter().zip(&g.models) {
            assert_matches_model(state, model);
        }
        let restored = Ledger::restore(states.clone(), incremental.size()).expect("consistent snapshot");
        prop_assert_eq!(restored.keys(), incremental.keys());
    }

    #[test]
    fn mutating_any_event_is_refused(
        (contracts, actions) in history(),
        which in any::<proptest::sample::Index>(),
        mutation in 0..4u8,
    ) {
        let g = Generated::build(contracts, &actions);
        let i = which.index(g.drafts.len());
        let original = &g.drafts[i];
        let Some(mutated) = mutate(original, mutation) else { return Ok(()) };
        prop_assume!(mutated.id() != original.id());
        let mut ledger = Ledger::new();
        let prefix: Vec<&[u8]> = g.envelopes[..i].iter().map(Vec::as_slice).collect();
        prop_assert!(ledger.append_batch(&prefix, 2).iter().all(Result::is_ok));
        let sealed = mutated.seal();
        let result = ledger.append_batch(&[sealed.as_slice()], 1).remove(0);
        prop_assert!(result.is_err(), "mutation {} of event {} ({:?}) admitted", mutation, i, original.payload.kind());
        prop_assert_eq!(ledger.size(), i as u64);
    }
}

/// The event with one field changed, re-signed by the same signers; `None` if the mutation does
/// not apply to its kind.
fn mutate(draft: &Draft, mutation: u8) -> Option<Draft> {
    let mut d = draft.clone();
    let seq = d.payload.seq.get();
    match mutation {
        0 => d.payload.seq = int(seq + 1),
        1 => d.payload.prev = Some(EventId::from_bytes([0xee; 32])),
        2 => {
            // Another party's key (keeping the signatures), or an outsider's where another
            // party could legitimately author the same event.
            let original = d.payload.author;
            let kind = d.payload.kind();
            let other = match kind {
                proto::Kind::ContractRegistered | proto::Kind::ContractAmended => Who::Outsider,
                _ => PARTIES
                    .iter()
                    .map(|(w, _, _)| *w)
                    .find(|w| w.id() != original)?,
            };
            d.payload.author = other.id();
        }
        _ => match &mut d.payload.body {
            Body::PaymentMade(b) => b.lines[0].amount = int(b.lines[0].amount.get() + 1),
            _ => return None,
        },
    }
    Some(d)
}
