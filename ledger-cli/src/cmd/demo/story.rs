//! The demo programme: a three-year homelessness outcomes contract, modelled on the Fair
//! Chance Fund (accommodation sustained 3, 6 and 12 months), played quarter by quarter against
//! the node. Every choice (cohort sizes, pseudonyms) comes from the seed.

use anyhow::Context;
use proto::payload::{
    Body, ClaimDisputed, ClaimRejected, ClaimSubmitted, ClaimVerified, ContractAmended,
    ContractClosed, ContractRegistered, Decision, DisputeResolved, DistributionMade, Evidence,
    FeedbackRecorded, OutcomeDef, PaymentMade, Period, PriceChange, Stance,
};
use proto::{Amount, ContractId, Currency, EventId, Int, OutcomeId, Pseudonym, Sha256Digest};
use rand::rngs::StdRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

use super::calendar::Quarter;
use super::cast::{Cast, Member, Stream};
use super::Narrator;
use crate::client::Client;
use crate::keyfile::KeyFile;
use crate::output::money;
use crate::plan;

/// The rate card: (id, name, price in pence, cap units).
const OUTCOMES: [(&str, &str, u64, u64); 3] = [
    (
        "accommodation-3m",
        "Accommodation sustained 3 months",
        150_000,
        300,
    ),
    (
        "accommodation-6m",
        "Accommodation sustained 6 months",
        250_000,
        240,
    ),
    (
        "accommodation-12m",
        "Accommodation sustained 12 months",
        400_000,
        180,
    ),
];
const OUTCOME_3M: usize = 0;
const OUTCOME_6M: usize = 1;
const OUTCOME_12M: usize = 2;

/// The contract cap: GBP 1,500,000.00.
const CAP_PENCE: u64 = 150_000_000;

/// Quarters played: April 2025 to March 2028.
pub(super) const QUARTERS: u32 = 12;

/// Quarters of the special events.
const REJECT_QUARTER: u32 = 1;
const AFFIRM_QUARTER: u32 = 2;
const DISPUTE_QUARTER: u32 = 4;
const AMEND_QUARTER: u32 = 5;
const PARTIAL_QUARTER: u32 = 6;
const COMMENT_QUARTER: u32 = 7;
const REJECT_12M_QUARTER: u32 = 9;

/// Shares of each outcome payment the intermediary distributes to the investors, in percent
/// (the rest pays the provider, off the ledger).
const SENIOR_SHARE_PERCENT: u64 = 42;
const JUNIOR_SHARE_PERCENT: u64 = 18;

/// A claim made this quarter.
struct Claimed {
    outcome: usize,
    id: EventId,
    people: Vec<u64>,
}

/// The programme being played.
pub(super) struct Story<'a> {
    client: &'a Client,
    cast: &'a Cast,
    narrator: &'a mut Narrator,
    stream: Stream,
    rng: StdRng,
    currency: Currency,
    pseudonym_key: [u8; 32],
    next_person: u64,
    reached_3m: Vec<Vec<u64>>,
    reached_6m: Vec<Vec<u64>>,
    open_dispute: Option<(EventId, u64)>,
    payments_explained: bool,
    events: u64,
}

impl<'a> Story<'a> {
    /// A story of contract `contract` between `cast`, told through `narrator`.
    pub(super) fn new(
        client: &'a Client,
        cast: &'a Cast,
        narrator: &'a mut Narrator,
        contract: ContractId,
        mut rng: StdRng,
    ) -> anyhow::Result<Self> {
        let mut pseudonym_key = [0u8; 32];
        rng.fill_bytes(&mut pseudonym_key);
        Ok(Self {
            client,
            cast,
            narrator,
            stream: Stream::new(contract),
            rng,
            currency: "GBP".parse()?,
            pseudonym_key,
            next_person: 0,
            reached_3m: Vec::new(),
            reached_6m: Vec::new(),
            open_dispute: None,
            payments_explained: false,
            events: 0,
        })
    }

    /// Events appended so far.
    pub(super) fn events(&self) -> u64 {
        self.events
    }

    /// The contract id.
    pub(super) fn contract(&self) -> &ContractId {
        self.stream.contract()
    }

    /// Plays the whole programme.
    ///
    /// # Errors
    /// An event the node refused (a bug of the demo), or a network error.
    pub(super) fn play(&mut self) -> anyhow::Result<()> {
        self.register()?;
        for q in 0..QUARTERS {
            self.play_quarter(Quarter::new(q))?;
        }
        self.close()
    }

    fn post(
        &mut self,
        author: &KeyFile,
        cosigners: &[&KeyFile],
        at: proto::Timestamp,
        body: Body,
    ) -> anyhow::Result<EventId> {
        let kind = body.kind().as_str();
        let (id, envelope) = self.stream.next(author, cosigners, at, body)?;
        let appended = self
            .client
            .append(&envelope)
            .with_context(|| format!("the node refused the demo's {kind}"))?;
        anyhow::ensure!(appended.id == id, "the node stored {kind} under another id");
        self.events = self.events.saturating_add(1);
        Ok(id)
    }

    fn register(&mut self) -> anyhow::Result<()> {
        let outcomes = OUTCOMES
            .iter()
            .map(|(id, name, price, cap_units)| {
                Ok(OutcomeDef {
                    id: id.parse()?,
                    name: name.parse()?,
                    price: int(*price)?,
                    cap_units: int(*cap_units)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = Body::ContractRegistered(ContractRegistered {
            title: "Fair Chance: sustained accommodation for young people, Greater Manchester"
                .parse()?,
            currency: self.currency,
            parties: self.cast.parties()?,
            outcomes,
            cap: int(CAP_PENCE)?,
            start: "2025-04-01".parse()?,
            end: "2028-03-31".parse()?,
        });
        let cosigners: Vec<&KeyFile> = self.cast.members()[1..].iter().map(|m| &m.key).collect();
        let at = Quarter::new(0).at(-100, 10)?;
        let day = at.date();
        let cast = self.cast;
        self.post(&cast.commissioner.key, &cosigners, at, body)?;
        self.narrator.line(format!(
            "{day}  contract {} registered, signed by all 7 parties: 3 outcomes at {}, {} and {} a young person, cap {}",
            self.contract(),
            self.money(OUTCOMES[0].2),
            self.money(OUTCOMES[1].2),
            self.money(OUTCOMES[2].2),
            self.money(CAP_PENCE)
        ))
    }

    fn play_quarter(&mut self, quarter: Quarter) -> anyhow::Result<()> {
        self.narrator.line(quarter.label())?;
        if quarter.index() == AMEND_QUARTER {
            self.amend(&quarter)?;
        }
        let claims = self.claim_all(&quarter)?;
        self.verify_all(&quarter, claims)?;
        if quarter.index() == DISPUTE_QUARTER + 1 {
            if let Some((dispute, quantity)) = self.open_dispute.take() {
                self.resolve(&quarter, dispute, quantity)?;
            }
        }
        self.feedback(&quarter)?;
        self.pay_and_distribute(&quarter)
    }

    /// The provider claims each outcome reached this quarter.
    fn claim_all(&mut self, quarter: &Quarter) -> anyhow::Result<Vec<Claimed>> {
        let q = quarter.index() as usize;
        let fresh = self.rng.gen_range(16..=26u64);
        let people_3m: Vec<u64> = (self.next_person..self.next_person + fresh).collect();
        self.next_person += fresh;
        let people_6m = q.checked_sub(1).map_or_else(Vec::new, |p| {
            self.share_of(&self.reached_3m[p].clone(), 70..=90)
        });
        let people_12m = q
            .checked_sub(2)
            .filter(|_| q >= 3)
            .map_or_else(Vec::new, |p| {
                self.share_of(&self.reached_6m[p].clone(), 65..=85)
            });
        let mut claims = Vec::new();
        let mut said = Vec::new();
        for (outcome, people) in [
            (OUTCOME_3M, people_3m),
            (OUTCOME_6M, people_6m),
            (OUTCOME_12M, people_12m),
        ] {
            if people.is_empty() {
                continue;
            }
            said.push(format!("{} × {}", people.len(), OUTCOMES[outcome].0));
            let id = self.claim(quarter, outcome, &people, quarter.at(7, 9)?)?;
            claims.push(Claimed {
                outcome,
                id,
                people,
            });
        }
        self.narrator
            .line(format!("  provider claims {}", said.join(", ")))?;
        Ok(claims)
    }

    fn share_of(&mut self, people: &[u64], percent: std::ops::RangeInclusive<u64>) -> Vec<u64> {
        let share = self.rng.gen_range(percent);
        let count = (people.len() as u64).saturating_mul(share) / 100;
        people
            .iter()
            .copied()
            .take(usize::try_from(count).unwrap_or(0))
            .collect()
    }

    fn claim(
        &mut self,
        quarter: &Quarter,
        outcome: usize,
        people: &[u64],
        at: proto::Timestamp,
    ) -> anyhow::Result<EventId> {
        let participants: Vec<Pseudonym> = people.iter().map(|p| self.pseudonym(*p)).collect();
        let report = format!("tenancy report {} {}", quarter.label(), OUTCOMES[outcome].0);
        let evidence = Evidence {
            sha256: Sha256Digest::from_bytes(Sha256::digest(report.as_bytes()).into()),
            media_type: "application/pdf".parse()?,
            uri: Some(
                format!(
                    "https://evidence.example/fcf/{}/{}.pdf",
                    quarter.slug(),
                    OUTCOMES[outcome].0
                )
                .parse()?,
            ),
        };
        let body = Body::ClaimSubmitted(ClaimSubmitted {
            outcome: OUTCOMES[outcome].0.parse()?,
            period: Period {
                from: quarter.first_day()?,
                to: quarter.last_day()?,
            },
            quantity: int(people.len() as u64)?,
            participants,
            evidence: vec![evidence],
        });
        let cast = self.cast;
        self.post(&cast.provider.key, &[], at, body)
    }

    /// A participant's pseudonym: a keyed hash only the provider can link to a person.
    fn pseudonym(&self, person: u64) -> Pseudonym {
        let mut hasher = Sha256::new();
        hasher.update(self.pseudonym_key);
        hasher.update(person.to_be_bytes());
        Pseudonym::from_bytes(hasher.finalize().into())
    }

    fn money(&self, pence: u64) -> String {
        money(pence, self.currency.as_str())
    }
}

impl Story<'_> {
    /// The verifier's decisions: most claims in full, one rejected and resubmitted, one
    /// verified in part, one rejected for good.
    fn verify_all(&mut self, quarter: &Quarter, claims: Vec<Claimed>) -> anyhow::Result<()> {
        let q = quarter.index();
        let mut verified = Vec::new();
        for claim in claims {
            let units = claim.people.len() as u64;
            match (q, claim.outcome) {
                (REJECT_QUARTER, OUTCOME_6M) => {
                    verified.push(self.reject_and_resubmit(quarter, claim)?)
                }
                (REJECT_12M_QUARTER, OUTCOME_12M) => self.reject_for_good(quarter, &claim)?,
                (PARTIAL_QUARTER, OUTCOME_3M) => {
                    self.verify(quarter, claim.id, units - 2)?;
                    self.narrator.line(format!(
                        "  verifier verifies {} of {} × {}: two tenancies began after the period",
                        units - 2,
                        units,
                        OUTCOMES[OUTCOME_3M].0
                    ))?;
                    verified.push(Claimed {
                        people: claim.people[..claim.people.len() - 2].to_vec(),
                        ..claim
                    });
                }
                _ => {
                    self.verify(quarter, claim.id, units)?;
                    verified.push(claim);
                }
            }
        }
        self.record_cohorts(&verified);
        if q == DISPUTE_QUARTER {
            self.dispute(quarter, &verified)?;
        }
        Ok(())
    }

    fn record_cohorts(&mut self, verified: &[Claimed]) {
        let of = |outcome| {
            verified
                .iter()
                .filter(|c| c.outcome == outcome)
                .flat_map(|c| c.people.clone())
                .collect()
        };
        self.reached_3m.push(of(OUTCOME_3M));
        self.reached_6m.push(of(OUTCOME_6M));
    }

    fn verify(&mut self, quarter: &Quarter, claim: EventId, units: u64) -> anyhow::Result<EventId> {
        let body = Body::ClaimVerified(ClaimVerified {
            claim,
            quantity: int(units)?,
        });
        let cast = self.cast;
        self.post(&cast.verifier.key, &[], quarter.at(35, 11)?, body)
    }

    fn reject_and_resubmit(
        &mut self,
        quarter: &Quarter,
        claim: Claimed,
    ) -> anyhow::Result<Claimed> {
        let reason = "tenancy evidence is missing for 4 of these young people; resubmit with landlord confirmations";
        let body = Body::ClaimRejected(ClaimRejected {
            claim: claim.id,
            reason: reason.parse()?,
        });
        let cast = self.cast;
        self.post(&cast.verifier.key, &[], quarter.at(21, 11)?, body)?;
        let people = claim.people[..claim.people.len().saturating_sub(4)].to_vec();
        let id = self.claim(quarter, claim.outcome, &people, quarter.at(28, 9)?)?;
        self.verify(quarter, id, people.len() as u64)?;
        self.narrator.line(format!(
            "  verifier rejects the {} claim: {reason}\n  provider resubmits {} × {} with the confirmations; verified",
            OUTCOMES[claim.outcome].0,
            people.len(),
            OUTCOMES[claim.outcome].0
        ))?;
        Ok(Claimed {
            outcome: claim.outcome,
            id,
            people,
        })
    }

    fn reject_for_good(&mut self, quarter: &Quarter, claim: &Claimed) -> anyhow::Result<()> {
        let reason = "housing records show breaks in accommodation for these participants during the 12 months";
        let body = Body::ClaimRejected(ClaimRejected {
            claim: claim.id,
            reason: reason.parse()?,
        });
        let cast = self.cast;
        self.post(&cast.verifier.key, &[], quarter.at(35, 11)?, body)?;
        self.narrator.line(format!(
            "  verifier rejects the {} claim: {reason}",
            OUTCOMES[claim.outcome].0
        ))
    }

    /// The beneficiary representative disputes the verified 6-month claim.
    fn dispute(&mut self, quarter: &Quarter, verified: &[Claimed]) -> anyhow::Result<()> {
        let Some(claim) = verified.iter().find(|c| c.outcome == OUTCOME_6M) else {
            return Ok(());
        };
        let reason =
            "two of these young people were already in settled accommodation before referral: \
                      these outcomes would have happened anyway";
        let body = Body::ClaimDisputed(ClaimDisputed {
            claim: claim.id,
            reason: reason.parse()?,
        });
        let cast = self.cast;
        let dispute = self.post(&cast.beneficiary_rep.key, &[], quarter.at(38, 15)?, body)?;
        let standing = (claim.people.len() as u64).saturating_sub(2);
        self.open_dispute = Some((dispute, standing));
        self.narrator.line(format!(
            "  the Young Persons' Housing Panel disputes the {} claim: {reason}\n  \
             (the commissioner cannot pay a claim under an open dispute)",
            OUTCOMES[OUTCOME_6M].0
        ))
    }

    fn resolve(
        &mut self,
        quarter: &Quarter,
        dispute: EventId,
        standing: u64,
    ) -> anyhow::Result<()> {
        let body = Body::DisputeResolved(DisputeResolved {
            dispute,
            decision: Decision::Adjusted,
            quantity: Some(int(standing)?),
        });
        let cast = self.cast;
        self.post(&cast.verifier.key, &[], quarter.at(36, 10)?, body)?;
        self.narrator.line(format!(
            "  verifier resolves the dispute: adjusted, {standing} units stand at the price fixed when it was verified"
        ))
    }

    fn amend(&mut self, quarter: &Quarter) -> anyhow::Result<()> {
        let prices = [(OUTCOME_6M, 265_000), (OUTCOME_12M, 450_000)];
        let reason =
            "rents in Greater Manchester rose 11% in 2025-26: sustaining a tenancy costs more";
        let body = Body::ContractAmended(ContractAmended {
            prices: prices
                .iter()
                .map(|(o, p)| {
                    Ok(PriceChange {
                        outcome: OUTCOMES[*o].0.parse()?,
                        price: int(*p)?,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            reason: reason.parse()?,
        });
        let cast = self.cast;
        let cosigners = [
            &cast.provider.key,
            &cast.investor_a.key,
            &cast.investor_b.key,
        ];
        self.post(&cast.commissioner.key, &cosigners, quarter.at(2, 10)?, body)?;
        self.narrator.line(format!(
            "  amendment signed by the commissioner, the provider and both investors: {} now {}, {} now {} ({reason})",
            OUTCOMES[OUTCOME_6M].0,
            self.money(265_000),
            OUTCOMES[OUTCOME_12M].0,
            self.money(450_000)
        ))
    }

    fn feedback(&mut self, quarter: &Quarter) -> anyhow::Result<()> {
        let (stance, text, outcome) = match quarter.index() {
            AFFIRM_QUARTER => (
                Stance::Affirms,
                "the panel met six young people from this quarter's cohort: all still housed, and positive about their support workers",
                OUTCOME_3M,
            ),
            COMMENT_QUARTER => (
                Stance::Comment,
                "young people say support ends too abruptly after 12 months; several asked for a lighter-touch year two",
                OUTCOME_12M,
            ),
            _ => return Ok(()),
        };
        let body = Body::FeedbackRecorded(FeedbackRecorded {
            claim: None,
            outcome: Some(OUTCOMES[outcome].0.parse::<OutcomeId>()?),
            stance,
            text: text.parse()?,
        });
        let cast = self.cast;
        self.post(&cast.beneficiary_rep.key, &[], quarter.at(40, 14)?, body)?;
        let stance = match stance {
            Stance::Affirms => "affirms",
            Stance::Contests => "contests",
            Stance::Comment => "comments",
        };
        self.narrator.line(format!(
            "  the panel {stance} on {}: {text}",
            OUTCOMES[outcome].0
        ))
    }

    /// The commissioner pays every payable claim, amounts from the node's projection; the
    /// intermediary distributes part of it to the investors.
    fn pay_and_distribute(&mut self, quarter: &Quarter) -> anyhow::Result<()> {
        let state = self.client.contract(self.contract())?;
        let claims = plan::payable_claims(&state);
        if claims.is_empty() {
            return self.narrator.line("  nothing verified to pay this quarter");
        }
        let lines = plan::auto_lines(&state, &claims)?;
        let total = plan::total(&lines)?;
        let reference = format!("GMCA-{}", quarter.slug().to_uppercase());
        let body = Body::PaymentMade(PaymentMade {
            lines,
            total,
            currency: self.currency,
            reference: reference.parse()?,
        });
        let cast = self.cast;
        self.post(&cast.commissioner.key, &[], quarter.at(50, 12)?, body)?;
        let senior = share(total, SENIOR_SHARE_PERCENT)?;
        let junior = share(total, JUNIOR_SHARE_PERCENT)?;
        self.distribute(quarter, &cast.investor_a, senior, "A")?;
        self.distribute(quarter, &cast.investor_b, junior, "B")?;
        let how = if self.payments_explained {
            String::new()
        } else {
            self.payments_explained = true;
            " (each claim's price fixed at verification x its verified units, read from the node)"
                .to_owned()
        };
        self.narrator.line(format!(
            "  commissioner pays {} for {} claim(s){how}; the SPV distributes {} and {} to the investors",
            self.money(total.get()),
            claims.len(),
            self.money(senior.get()),
            self.money(junior.get())
        ))
    }

    fn distribute(
        &mut self,
        quarter: &Quarter,
        investor: &Member,
        amount: Amount,
        tag: &str,
    ) -> anyhow::Result<()> {
        if amount.get() == 0 {
            return Ok(());
        }
        let body = Body::DistributionMade(DistributionMade {
            investor: investor.key.key_id(),
            amount,
            currency: self.currency,
            reference: format!("SPV-{}-{tag}", quarter.slug().to_uppercase()).parse()?,
        });
        let cast = self.cast;
        self.post(&cast.intermediary.key, &[], quarter.at(55, 12)?, body)?;
        Ok(())
    }

    fn close(&mut self) -> anyhow::Result<()> {
        let last = Quarter::new(QUARTERS - 1);
        let body = Body::ContractClosed(ContractClosed {
            reason: "term ended; every verified outcome paid".parse()?,
        });
        let cast = self.cast;
        self.post(&cast.commissioner.key, &[], last.at(70, 10)?, body)?;
        let text = "closing thoughts from the panel: most young people we met are still housed; thank you for listening";
        let body = Body::FeedbackRecorded(FeedbackRecorded {
            claim: None,
            outcome: None,
            stance: Stance::Comment,
            text: text.parse()?,
        });
        self.post(&cast.beneficiary_rep.key, &[], last.at(75, 10)?, body)?;
        self.narrator.line(format!(
            "{}  the commissioner closes the contract; the panel's closing feedback is still accepted after it",
            last.at(70, 10)?.date()
        ))
    }
}

fn int(value: u64) -> anyhow::Result<Int> {
    Int::new(value).ok_or_else(|| anyhow::anyhow!("{value} is over 2^53-1"))
}

fn share(total: Amount, percent: u64) -> anyhow::Result<Amount> {
    let value = total
        .get()
        .checked_mul(percent)
        .map(|v| v / 100)
        .ok_or_else(|| anyhow::anyhow!("distribution share overflows"))?;
    int(value)
}
