//! The signed workload the node benchmarks share: one contract per client, a registration
//! signed by its three parties and then one-unit claims, with keys derived from names (so every
//! run signs the same events).

use ed25519_dalek::SigningKey;
use proto::dsse::{self, Envelope};
use proto::payload::{
    ClaimSubmitted, ContractRegistered, Evidence, OutcomeDef, Party, Period, PAYLOAD_TYPE,
};
use proto::{Body, ContractId, EventId, Int, KeyId, Payload, PublicKey, Role, Timestamp};
use sha2::{Digest, Sha256};

/// A signing key derived from `label`.
pub(crate) fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("ledger-node-bench/{label}")).into())
}

pub(crate) fn public(key: &SigningKey) -> PublicKey {
    PublicKey::from_bytes(key.verifying_key().to_bytes())
}

pub(crate) fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse()
        .unwrap_or_else(|e| panic!("bench value {text:?}: {e:?}"))
}

/// A registration and `events - 1` one-unit claims of one contract, signed.
pub(crate) fn contract_stream(name: &str, events: usize) -> Vec<Vec<u8>> {
    let (commissioner, provider, verifier) = (
        key(&format!("{name}/c")),
        key(&format!("{name}/p")),
        key(&format!("{name}/v")),
    );
    let party = |key: &SigningKey, role: Role, name: &str| Party {
        key: public(key),
        role,
        name: parse(name),
    };
    let registration = Body::ContractRegistered(ContractRegistered {
        title: parse("Benchmark contract"),
        currency: parse("GBP"),
        parties: vec![
            party(&commissioner, Role::Commissioner, "Council"),
            party(&provider, Role::Provider, "Provider"),
            party(&verifier, Role::Verifier, "Verifier"),
        ],
        outcomes: vec![OutcomeDef {
            id: parse("housed"),
            name: parse("Housed"),
            price: Int::new(1_000).unwrap_or_default(),
            cap_units: Int::new(1_000_000).unwrap_or_default(),
        }],
        cap: Int::new(1_000_000_000).unwrap_or_default(),
        start: parse("2025-01-01"),
        end: parse("2030-12-31"),
    });
    let contract: ContractId = parse(name);
    let mut head: Option<EventId> = None;
    let mut stream = Vec::with_capacity(events);
    let mut push = |seq: usize, body: Body, author: &SigningKey, signers: &[&SigningKey]| {
        let payload = Payload {
            contract: contract.clone(),
            seq: Int::new(seq as u64).unwrap_or_default(),
            prev: head,
            author: KeyId::of(&public(author)),
            at: Timestamp::from_unix_seconds(1_740_787_200 + seq as i64)
                .unwrap_or_else(|| parse("2025-03-01T00:00:00Z")),
            body,
        }
        .encode();
        head = Some(EventId::of_payload(&payload));
        let signatures = signers
            .iter()
            .map(|k| dsse::sign(PAYLOAD_TYPE, &payload, k))
            .collect();
        let envelope =
            Envelope::new(PAYLOAD_TYPE, payload, signatures).unwrap_or_else(|e| panic!("{e}"));
        stream.push(envelope.to_jcs());
    };
    push(
        0,
        registration,
        &commissioner,
        &[&commissioner, &provider, &verifier],
    );
    for seq in 1..events {
        let claim = Body::ClaimSubmitted(ClaimSubmitted {
            outcome: parse("housed"),
            period: Period {
                from: parse("2025-02-01"),
                to: parse("2025-02-28"),
            },
            quantity: Int::new(1).unwrap_or_default(),
            participants: vec![proto::Pseudonym::from_bytes(
                Sha256::digest(format!("{name}/{seq}")).into(),
            )],
            evidence: vec![Evidence {
                sha256: proto::Sha256Digest::from_bytes([7; 32]),
                media_type: parse("application/pdf"),
                uri: None,
            }],
        });
        push(seq, claim, &provider, &[&provider]);
    }
    stream
}
