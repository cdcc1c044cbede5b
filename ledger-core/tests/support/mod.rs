//! A test programme and an event builder shared by the rules tests, the property tests and the
//! apply bench: "Homes First", a social impact bond for young people leaving care who are at
//! risk of homelessness (modelled on the Fair Chance Fund outcomes: accommodation sustained at 3,
//! 6 and 12 months). Keys are ed25519-dalek keys from fixed seeds; envelopes are signed through
//! `proto::dsse` exactly as the CLI signs them.

#![allow(dead_code, unreachable_pub)]

use ed25519_dalek::SigningKey;
use proto::dsse::{self, Envelope};
use proto::payload::*;
use proto::{Body, ContractId, EventId, Int, KeyId, OutcomeId, Payload, PublicKey, Role};

/// The parties of the programme, plus keys that are no party's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    /// The council paying for outcomes.
    Commissioner,
    /// The charity working with the young people.
    Provider,
    /// The independent evaluator.
    Verifier,
    /// The special-purpose vehicle.
    Intermediary,
    /// The senior investor.
    InvestorA,
    /// The subordinate investor.
    InvestorB,
    /// The young people's representative.
    Rep,
    /// Nobody in the contract.
    Outsider,
    /// A fresh key for rotations (the number picks the seed).
    Fresh(u8),
}

impl Who {
    fn seed(self) -> u8 {
        match self {
            Who::Commissioner => 1,
            Who::Provider => 2,
            Who::Verifier => 3,
            Who::Intermediary => 4,
            Who::InvestorA => 5,
            Who::InvestorB => 6,
            Who::Rep => 7,
            Who::Outsider => 8,
            Who::Fresh(n) => 100u8.wrapping_add(n),
        }
    }

    /// The signing key.
    pub fn key(self) -> SigningKey {
        SigningKey::from_bytes(&[self.seed(); 32])
    }

    /// The public key.
    pub fn public(self) -> PublicKey {
        PublicKey::from_bytes(self.key().verifying_key().to_bytes())
    }

    /// The key id.
    pub fn id(self) -> KeyId {
        KeyId::of(&self.public())
    }
}

/// Every party with its role and name, in registration order.
pub const PARTIES: [(Who, Role, &str); 7] = [
    (
        Who::Commissioner,
        Role::Commissioner,
        "Northshire County Council",
    ),
    (Who::Provider, Role::Provider, "Safe Steps Housing Trust"),
    (
        Who::Verifier,
        Role::Verifier,
        "Independent Outcomes Review Ltd",
    ),
    (Who::Intermediary, Role::Intermediary, "Homes First SPV Ltd"),
    (Who::InvestorA, Role::Investor, "Civic Capital Fund"),
    (
        Who::InvestorB,
        Role::Investor,
        "Northshire Community Foundation",
    ),
    (Who::Rep, Role::BeneficiaryRep, "Care Leavers' Voice"),
];

/// Outcome ids, prices (pence) and unit caps of the rate card.
pub const OUTCOMES: [(&str, u64, u64); 3] = [
    ("housed-3m", 50_000, 200),
    ("housed-6m", 150_000, 150),
    ("housed-12m", 300_000, 100),
];

/// The contract cap (pence): 400 000 GBP.
pub const CAP: u64 = 40_000_000;

pub fn int(value: u64) -> Int {
    Int::new(value).expect("test integers fit in 2^53-1")
}

pub fn text<T: std::str::FromStr>(value: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    value.parse().expect("test text is valid")
}

pub fn outcome(id: &str) -> OutcomeId {
    text(id)
}

pub fn pseudonym(n: u64) -> proto::Pseudonym {
    let mut bytes = [0x5a; 32];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    proto::Pseudonym::from_bytes(bytes)
}

/// The registration body of the programme.
pub fn programme() -> ContractRegistered {
    ContractRegistered {
        title: text("Homes First: sustained accommodation for young care leavers"),
        currency: text("GBP"),
        parties: PARTIES
            .iter()
            .map(|(who, role, name)| Party {
                key: who.public(),
                role: *role,
                name: text(name),
            })
            .collect(),
        outcomes: OUTCOMES
            .iter()
            .map(|(id, price, cap)| OutcomeDef {
                id: outcome(id),
                name: text(&format!("Accommodation sustained: {id}")),
                price: int(*price),
                cap_units: int(*cap),
            })
            .collect(),
        cap: int(CAP),
        start: text("2025-01-01"),
        end: text("2027-12-31"),
    }
}

/// A claim of `quantity` units of `outcome_id` for April to June 2025, one participant per unit
/// up to three.
pub fn claim(outcome_id: &str, quantity: u64) -> Body {
    Body::ClaimSubmitted(ClaimSubmitted {
        outcome: outcome(outcome_id),
        period: Period {
            from: text("2025-04-01"),
            to: text("2025-06-30"),
        },
        quantity: int(quantity),
        participants: (0..quantity.min(3)).map(pseudonym).collect(),
        evidence: vec![Evidence {
            sha256: proto::Sha256Digest::from_bytes([0xe1; 32]),
            media_type: text("application/pdf"),
            uri: None,
        }],
    })
}

pub fn verify(claim: EventId, quantity: u64) -> Body {
    Body::ClaimVerified(ClaimVerified {
        claim,
        quantity: int(quantity),
    })
}

pub fn reject(claim: EventId) -> Body {
    Body::ClaimRejected(ClaimRejected {
        claim,
        reason: text("tenancy ended before 3 months"),
    })
}

pub fn dispute(claim: EventId) -> Body {
    Body::ClaimDisputed(ClaimDisputed {
        claim,
        reason: text("eligibility: not at risk on entry"),
    })
}

pub fn resolve(dispute: EventId, decision: Decision, quantity: Option<u64>) -> Body {
    Body::DisputeResolved(DisputeResolved {
        dispute,
        decision,
        quantity: quantity.map(int),
    })
}

pub fn feedback(claim: Option<EventId>, outcome_id: Option<&str>, stance: Stance) -> Body {
    Body::FeedbackRecorded(FeedbackRecorded {
        claim,
        outcome: outcome_id.map(outcome),
        stance,
        text: text("the flat was warm and the support worker came every week"),
    })
}

/// A payment with the given lines and total, in `currency`.
pub fn pay_in(lines: &[(EventId, u64)], total: u64, currency: &str) -> Body {
    Body::PaymentMade(PaymentMade {
        lines: lines
            .iter()
            .map(|(claim, amount)| PaymentLine {
                claim: *claim,
                amount: int(*amount),
            })
            .collect(),
        total: int(total),
        currency: text(currency),
        reference: text("NCC-REMIT-0001"),
    })
}

/// A payment in GBP whose total is the sum of its lines.
pub fn pay(lines: &[(EventId, u64)]) -> Body {
    pay_in(lines, lines.iter().map(|(_, amount)| amount).sum(), "GBP")
}

pub fn distribute_in(investor: KeyId, amount: u64, currency: &str) -> Body {
    Body::DistributionMade(DistributionMade {
        investor,
        amount: int(amount),
        currency: text(currency),
        reference: text("SPV-DIST-0001"),
    })
}

pub fn distribute(investor: Who, amount: u64) -> Body {
    distribute_in(investor.id(), amount, "GBP")
}

pub fn amend(prices: &[(&str, u64)]) -> Body {
    Body::ContractAmended(ContractAmended {
        prices: prices
            .iter()
            .map(|(id, price)| PriceChange {
                outcome: outcome(id),
                price: int(*price),
            })
            .collect(),
        reason: text("rent inflation: the parties agree higher prices from Q3"),
    })
}

pub fn rotate(old: Who, new: Who) -> Body {
    Body::KeyRotated(KeyRotated {
        old: old.id(),
        new: new.public(),
    })
}

pub fn revoke(key: KeyId) -> Body {
    Body::KeyRevoked(KeyRevoked {
        key,
        reason: text("key reported lost"),
        successor: None,
    })
}

/// A revocation of `key` that gives its party the key of `successor` at once.
pub fn revoke_to(key: KeyId, successor: Who) -> Body {
    Body::KeyRevoked(KeyRevoked {
        key,
        reason: text("key compromised; the party sent its new key"),
        successor: Some(successor.public()),
    })
}

/// An enrolment of `new` for the party that held `party`.
pub fn enrol(party: KeyId, new: Who) -> Body {
    Body::KeyEnrolled(KeyEnrolled {
        party,
        new: new.public(),
        reason: text("the party's successor key, confirmed in person"),
    })
}

pub fn close() -> Body {
    Body::ContractClosed(ContractClosed {
        reason: text("term ended"),
    })
}

/// The signers of an amendment: the commissioner, the provider and both investors.
pub const AMENDERS: [Who; 4] = [
    Who::Commissioner,
    Who::Provider,
    Who::InvestorA,
    Who::InvestorB,
];

/// An event not yet sealed: its payload and who signs it.
#[derive(Clone, Debug)]
pub struct Draft {
    pub payload: Payload,
    pub signers: Vec<Who>,
    /// Signers whose signature is over other bytes.
    pub forgers: Vec<Who>,
}

impl Draft {
    pub fn seq(mut self, seq: u64) -> Self {
        self.payload.seq = int(seq);
        self
    }

    pub fn prev(mut self, prev: Option<EventId>) -> Self {
        self.payload.prev = prev;
        self
    }

    pub fn signed_by(mut self, signers: &[Who]) -> Self {
        self.signers = signers.to_vec();
        self
    }

    pub fn forged_by(mut self, forgers: &[Who]) -> Self {
        self.forgers = forgers.to_vec();
        self
    }

    pub fn authored_by(mut self, author: Who) -> Self {
        self.payload.author = author.id();
        self
    }

    /// The event id.
    pub fn id(&self) -> EventId {
        self.payload.id()
    }

    /// The envelope as JSON bytes.
    pub fn seal(&self) -> Vec<u8> {
        let bytes = self.payload.encode();
        let mut signatures: Vec<dsse::Signature> = self
            .signers
            .iter()
            .map(|who| dsse::sign(PAYLOAD_TYPE, &bytes, &who.key()))
            .collect();
        signatures.extend(
            self.forgers
                .iter()
                .map(|who| dsse::sign(PAYLOAD_TYPE, b"other bytes", &who.key())),
        );
        Envelope::new(PAYLOAD_TYPE, bytes, signatures)
            .expect("distinct signers")
            .to_jcs()
    }
}

/// One contract's stream under construction.
#[derive(Clone, Debug)]
pub struct Stream {
    pub contract: ContractId,
    pub head: Option<(u64, EventId)>,
    /// Every envelope sealed into this stream, in order.
    pub envelopes: Vec<Vec<u8>>,
}

impl Stream {
    pub fn new(contract: &str) -> Self {
        Stream {
            contract: text(contract),
            head: None,
            envelopes: Vec::new(),
        }
    }

    /// A stream holding the programme's registration.
    pub fn registered(contract: &str) -> Self {
        Self::registered_with(contract, programme())
    }

    /// A stream holding a registration with this body, signed by every party.
    pub fn registered_with(contract: &str, body: ContractRegistered) -> Self {
        let mut stream = Self::new(contract);
        let signers: Vec<Who> = PARTIES.iter().map(|(who, _, _)| *who).collect();
        let draft = stream
            .draft(Who::Commissioner, Body::ContractRegistered(body))
            .signed_by(&signers);
        stream.push(draft);
        stream
    }

    /// The next event of the stream, authored and signed by `author`.
    pub fn draft(&self, author: Who, body: Body) -> Draft {
        let (seq, prev) = match self.head {
            Some((seq, id)) => (seq + 1, Some(id)),
            None => (0, None),
        };
        Draft {
            payload: Payload {
                contract: self.contract.clone(),
                seq: int(seq),
                prev,
                author: author.id(),
                at: text("2025-07-01T09:30:00Z"),
                body,
            },
            signers: vec![author],
            forgers: Vec::new(),
        }
    }

    /// Seals `draft` into the stream; its id.
    pub fn push(&mut self, draft: Draft) -> EventId {
        let id = draft.id();
        self.head = Some((draft.payload.seq.get(), id));
        self.envelopes.push(draft.seal());
        id
    }

    /// Drafts and seals an event by `author`; its id.
    pub fn add(&mut self, author: Who, body: Body) -> EventId {
        let draft = self.draft(author, body);
        self.push(draft)
    }

    /// Id of the last event.
    pub fn head_id(&self) -> EventId {
        self.head.expect("a stream with events").1
    }
}
