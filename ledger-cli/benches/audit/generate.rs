//! A generator of valid, realistic audit bundles: many outcome contracts, each with six
//! parties (registration signed by all six), then claims, verifications, some rejections,
//! disputes resolved, beneficiary feedback, payments of verified claims and distributions to
//! the investor, interleaved across contracts in a seeded random order. Every event passes the
//! rules of SPEC.md section 6, so `ledger audit` must verify the bundle.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use ed25519_dalek::SigningKey;
use ledger_core::merkle::{self, Frontier};
use proto::dsse::{self, Envelope};
use proto::note::{sign_note, NoteSigner};
use proto::payload::{
    ClaimDisputed, ClaimRejected, ClaimSubmitted, ClaimVerified, ContractRegistered, Decision,
    DisputeResolved, DistributionMade, Evidence, FeedbackRecorded, OutcomeDef, Party, PaymentLine,
    PaymentMade, Period, Stance, PAYLOAD_TYPE,
};
use proto::{Body, ContractId, EventId, Int, Payload, PublicKey, Role, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::bundle::{BundleWriter, Head};

/// Events per contract, on average.
const EVENTS_PER_CONTRACT: u64 = 250;
/// Unix time of the first event: 2025-01-06T09:00:00Z.
const FIRST_AT_SECONDS: i64 = 1_736_154_000;
/// Name and origin of the bench log.
pub(crate) const ORIGIN: &str = "bench.example/outcome-ledger";

const ROLES: [Role; 6] = [
    Role::Commissioner,
    Role::Provider,
    Role::Investor,
    Role::Intermediary,
    Role::Verifier,
    Role::BeneficiaryRep,
];
const OUTCOMES: [(&str, u64); 3] = [
    ("housed-12m", 150_000),
    ("employed-6m", 80_000),
    ("wellbeing", 20_000),
];

/// A key from a label: SHA-256 of it as the seed.
fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn int(value: u64) -> Int {
    Int::new(value).unwrap_or(Int::ZERO)
}

fn text<const N: usize>(value: &str) -> proto::Text<N> {
    value
        .parse()
        .unwrap_or_else(|_| panic!("bench text {value:?} is invalid"))
}

/// One contract's stream as its parties write it.
struct ContractGen {
    id: ContractId,
    keys: Vec<SigningKey>,
    seq: u64,
    prev: Option<EventId>,
    pending: VecDeque<(EventId, u64, u64)>,
    unpaid: Vec<(EventId, u64)>,
    /// A verified claim held back for a dispute, and its amount.
    disputable: Option<(EventId, u64)>,
    /// The claim under an open dispute, its amount, and the dispute's id.
    open_dispute: Option<(EventId, u64, EventId)>,
    undistributed: u64,
    nonce: u64,
}

impl ContractGen {
    fn new(number: u64) -> Self {
        let id: ContractId = format!("bench-{number:06}")
            .parse()
            .unwrap_or_else(|_| panic!("contract id"));
        let keys = ROLES
            .iter()
            .map(|role| key(&format!("bench/{id}/{}", role.as_str())))
            .collect();
        Self {
            id,
            keys,
            seq: 0,
            prev: None,
            pending: VecDeque::new(),
            unpaid: Vec::new(),
            disputable: None,
            open_dispute: None,
            undistributed: 0,
            nonce: 0,
        }
    }

    fn public(&self, role: usize) -> PublicKey {
        PublicKey::from_bytes(self.keys[role].verifying_key().to_bytes())
    }

    /// The next event's envelope (RFC 8785 bytes).
    fn next(&mut self, rng: &mut StdRng) -> Vec<u8> {
        let (author, body) = if self.seq == 0 {
            (0, self.registration())
        } else {
            self.choose(rng)
        };
        let signers: Vec<usize> = if self.seq == 0 {
            (0..ROLES.len()).collect()
        } else {
            vec![author]
        };
        self.seal(author, body, &signers)
    }

    fn choose(&mut self, rng: &mut StdRng) -> (usize, Body) {
        if let Some((claim, amount, dispute)) = self.open_dispute.take() {
            self.unpaid.push((claim, amount));
            let body = DisputeResolved {
                dispute,
                decision: Decision::Overturned,
                quantity: None,
            };
            return (4, Body::DisputeResolved(body));
        }
        if self.unpaid.len() >= 4 {
            return (0, self.payment());
        }
        if self.undistributed >= 200_000 && rng.gen_bool(0.5) {
            return (3, self.distribution());
        }
        let roll: f64 = rng.gen();
        match self.pending.front().copied() {
            Some(claim) if roll < 0.45 => self.judge(claim, rng),
            _ if roll < 0.50 && self.disputable.is_some() => (5, self.dispute()),
            _ if roll < 0.55 => (5, self.feedback()),
            _ => (1, self.claim(rng)),
        }
    }

    fn registration(&self) -> Body {
        let names = [
            "Council",
            "Homes First",
            "Social Fund",
            "Outcomes SPV",
            "Evaluator",
            "Tenants Voice",
        ];
        let parties = (0..ROLES.len())
            .map(|i| Party {
                key: self.public(i),
                role: ROLES[i],
                name: text(names[i]),
            })
            .collect();
        let outcomes = OUTCOMES
            .iter()
            .map(|(id, price)| OutcomeDef {
                id: id.parse().unwrap_or_else(|_| panic!("outcome id")),
                name: text(id),
                price: int(*price),
                cap_units: int(10_000_000),
            })
            .collect();
        Body::ContractRegistered(ContractRegistered {
            title: text(&format!("Outcomes programme {}", self.id)),
            currency: "GBP".parse().unwrap_or_else(|_| panic!("currency")),
            parties,
            outcomes,
            cap: int(1 << 52),
            start: "2025-01-01".parse().unwrap_or_else(|_| panic!("date")),
            end: "2029-12-31".parse().unwrap_or_else(|_| panic!("date")),
        })
    }

    fn claim(&mut self, rng: &mut StdRng) -> Body {
        self.nonce += 1;
        let outcome = rng.gen_range(0..OUTCOMES.len());
        let quantity = rng.gen_range(1..=3u64);
        let participants = (0..quantity)
            .map(|i| {
                proto::Pseudonym::from_bytes(
                    Sha256::digest(format!("{}/{}/{i}", self.id, self.nonce)).into(),
                )
            })
            .collect();
        let evidence = Evidence {
            sha256: proto::Sha256Digest::from_bytes(
                Sha256::digest(format!("evidence/{}/{}", self.id, self.nonce)).into(),
            ),
            media_type: text("application/pdf"),
            uri: None,
        };
        Body::ClaimSubmitted(ClaimSubmitted {
            outcome: OUTCOMES[outcome]
                .0
                .parse()
                .unwrap_or_else(|_| panic!("outcome")),
            period: Period {
                from: "2025-04-01".parse().unwrap_or_else(|_| panic!("date")),
                to: "2025-06-30".parse().unwrap_or_else(|_| panic!("date")),
            },
            quantity: int(quantity),
            participants,
            evidence: vec![evidence],
        })
    }

    /// Verifies (nine in ten) or rejects the oldest pending claim.
    fn judge(
        &mut self,
        (claim, outcome, quantity): (EventId, u64, u64),
        rng: &mut StdRng,
    ) -> (usize, Body) {
        self.pending.pop_front();
        if rng.gen_bool(0.1) {
            let reason = text("evidence does not show the outcome sustained");
            return (4, Body::ClaimRejected(ClaimRejected { claim, reason }));
        }
        let price = OUTCOMES[outcome as usize].1;
        if self.disputable.is_none() && rng.gen_bool(0.2) {
            self.disputable = Some((claim, price * quantity));
        } else {
            self.unpaid.push((claim, price * quantity));
        }
        (
            4,
            Body::ClaimVerified(ClaimVerified {
                claim,
                quantity: int(quantity),
            }),
        )
    }

    /// Disputes the claim held back; `remember` keeps the dispute's id once it is sealed.
    fn dispute(&mut self) -> Body {
        let (claim, _) = self
            .disputable
            .unwrap_or_else(|| panic!("no disputable claim"));
        Body::ClaimDisputed(ClaimDisputed {
            claim,
            reason: text("the tenant says they moved out in May"),
        })
    }

    fn feedback(&self) -> Body {
        Body::FeedbackRecorded(FeedbackRecorded {
            claim: None,
            outcome: OUTCOMES[0].0.parse().ok(),
            stance: Stance::Comment,
            text: text("tenants report the support workers visit every week"),
        })
    }

    fn payment(&mut self) -> Body {
        let lines: Vec<PaymentLine> = self
            .unpaid
            .drain(..)
            .map(|(claim, amount)| PaymentLine {
                claim,
                amount: int(amount),
            })
            .collect();
        let total: u64 = lines.iter().map(|l| l.amount.get()).sum();
        self.undistributed += total;
        Body::PaymentMade(PaymentMade {
            lines,
            total: int(total),
            currency: "GBP".parse().unwrap_or_else(|_| panic!("currency")),
            reference: text(&format!("REMIT-{}-{}", self.id, self.seq)),
        })
    }

    fn distribution(&mut self) -> Body {
        let amount = self.undistributed / 2;
        self.undistributed -= amount;
        Body::DistributionMade(DistributionMade {
            investor: proto::KeyId::of(&self.public(2)),
            amount: int(amount),
            currency: "GBP".parse().unwrap_or_else(|_| panic!("currency")),
            reference: text(&format!("DIST-{}-{}", self.id, self.seq)),
        })
    }

    fn seal(&mut self, author: usize, body: Body, signers: &[usize]) -> Vec<u8> {
        let at = FIRST_AT_SECONDS + i64::try_from(self.seq).unwrap_or(0) * 3_600;
        let payload = Payload {
            contract: self.id.clone(),
            seq: int(self.seq),
            prev: self.prev,
            author: proto::KeyId::of(&self.public(author)),
            at: Timestamp::from_unix_seconds(at).unwrap_or_else(|| panic!("timestamp")),
            body,
        };
        let bytes = payload.encode();
        let id = EventId::of_payload(&bytes);
        self.remember(&payload.body, id);
        let signatures = signers
            .iter()
            .map(|&i| dsse::sign(PAYLOAD_TYPE, &bytes, &self.keys[i]))
            .collect();
        let envelope = Envelope::new(PAYLOAD_TYPE, bytes, signatures)
            .unwrap_or_else(|e| panic!("envelope: {e}"));
        self.seq += 1;
        self.prev = Some(id);
        envelope.to_jcs()
    }

    /// Keeps what later events refer to: a claim's id, a dispute's id.
    fn remember(&mut self, body: &Body, id: EventId) {
        match body {
            Body::ClaimSubmitted(claim) => {
                let outcome = OUTCOMES
                    .iter()
                    .position(|(o, _)| *o == claim.outcome.as_str())
                    .unwrap_or(0);
                self.pending
                    .push_back((id, outcome as u64, claim.quantity.get()));
            }
            Body::ClaimDisputed(_) => {
                if let Some((claim, amount)) = self.disputable.take() {
                    self.open_dispute = Some((claim, amount, id));
                }
            }
            _ => {}
        }
    }
}

/// Writes a bundle of `size` events to `path`, through `scratch` (the envelopes, while the
/// Merkle root they make is computed); returns the verifier key of its checkpoint.
pub(crate) fn write(size: u64, path: &Path, scratch: &Path) -> std::io::Result<String> {
    let contracts = (size / EVENTS_PER_CONTRACT).max(1);
    let mut gens: Vec<ContractGen> = (0..contracts).map(ContractGen::new).collect();
    let mut rng = StdRng::seed_from_u64(size);
    let mut frontier = Frontier::new();
    let mut nodes = Vec::new();
    let mut events = BufWriter::new(File::create(scratch)?);
    for n in 0..size {
        // Registrations first in each contract's stream; the order across contracts is random.
        let pick = if n < contracts {
            n as usize
        } else {
            rng.gen_range(0..gens.len())
        };
        let envelope = gens[pick].next(&mut rng);
        frontier
            .append(merkle::leaf_hash(&envelope), &mut nodes)
            .map_err(std::io::Error::other)?;
        nodes.clear();
        events.write_all(&envelope)?;
        events.write_all(b"\n")?;
    }
    events.flush()?;
    drop(events);
    let signer = NoteSigner::new(ORIGIN, key("bench/node")).map_err(std::io::Error::other)?;
    let root = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        frontier.root().as_bytes(),
    );
    let note = sign_note(&format!("{ORIGIN}\n{size}\n{root}\n"), &[&signer])
        .map_err(std::io::Error::other)?;
    let keys = gens
        .iter()
        .flat_map(|g| (0..ROLES.len()).map(|i| g.public(i)))
        .collect();
    let head = Head {
        origin: ORIGIN.to_owned(),
        size,
        created_at: None,
        checkpoint: note,
        nodes: vec![signer.verifier_key()],
        keys,
    };
    let mut writer = BundleWriter::start(BufWriter::new(File::create(path)?), &head)?;
    for line in BufReader::new(File::open(scratch)?).split(b'\n') {
        writer.event(&line?)?;
    }
    writer.finish()?;
    std::fs::remove_file(scratch)?;
    Ok(signer.verifier_key())
}
