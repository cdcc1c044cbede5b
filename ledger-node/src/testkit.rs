//! Test support: real signed envelopes of a small contract, and a node on a temporary
//! directory. Keys come from fixed seeds so every run signs the same bytes.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use proto::dsse::{self, Envelope};
use proto::payload::{
    ClaimSubmitted, ContractRegistered, Evidence, OutcomeDef, Party, Period, PAYLOAD_TYPE,
};
use proto::{Body, ContractId, EventId, Int, KeyId, Payload, PublicKey, Role, Timestamp};
use sha2::{Digest, Sha256};

use crate::config::{Config, Settings};
use crate::service::{NoObserver, Node, Observer};

/// Unix time of every contract's registration: 2025-03-01T00:00:00Z.
const FIRST_AT_SECONDS: i64 = 1_740_787_200;

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("ledger-node-tests/{label}")).into())
}

fn public(key: &SigningKey) -> PublicKey {
    PublicKey::from_bytes(key.verifying_key().to_bytes())
}

fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse()
        .unwrap_or_else(|e| panic!("test value {text:?}: {e:?}"))
}

/// One contract's parties and chain head; makes the next envelope of its stream.
pub(crate) struct ContractKit {
    id: ContractId,
    commissioner: SigningKey,
    provider: SigningKey,
    verifier: SigningKey,
    next_seq: u64,
    head: Option<EventId>,
    previous_head: Option<EventId>,
}

impl ContractKit {
    /// A contract named `name` with its own keys.
    pub(crate) fn new(name: &str) -> Self {
        Self {
            id: parse(name),
            commissioner: key(&format!("{name}/commissioner")),
            provider: key(&format!("{name}/provider")),
            verifier: key(&format!("{name}/verifier")),
            next_seq: 0,
            head: None,
            previous_head: None,
        }
    }

    /// The contract id.
    pub(crate) fn id(&self) -> &ContractId {
        &self.id
    }

    /// The provider's key id.
    pub(crate) fn provider_id(&self) -> KeyId {
        KeyId::of(&public(&self.provider))
    }

    /// `contract.registered`, signed by the three parties.
    pub(crate) fn registration(&mut self) -> Vec<u8> {
        let party = |key: &SigningKey, role: Role, name: &str| Party {
            key: public(key),
            role,
            name: parse(name),
        };
        let body = Body::ContractRegistered(ContractRegistered {
            title: parse("Housing outcomes"),
            currency: parse("GBP"),
            parties: vec![
                party(&self.commissioner, Role::Commissioner, "Council"),
                party(&self.provider, Role::Provider, "Provider"),
                party(&self.verifier, Role::Verifier, "Verifier"),
            ],
            outcomes: vec![OutcomeDef {
                id: parse("housed"),
                name: parse("Housed 12 months"),
                price: Int::new(1_000).unwrap_or_default(),
                cap_units: Int::new(1_000_000).unwrap_or_default(),
            }],
            cap: Int::new(1_000_000_000).unwrap_or_default(),
            start: parse("2025-01-01"),
            end: parse("2030-12-31"),
        });
        let signers = [
            self.commissioner.clone(),
            self.provider.clone(),
            self.verifier.clone(),
        ];
        let author = KeyId::of(&public(&self.commissioner));
        self.next(body, author, &signers)
    }

    /// `claim.submitted` by the provider, one unit, participant `n`.
    pub(crate) fn claim(&mut self, n: u64) -> Vec<u8> {
        let participant = Sha256::digest(format!("participant/{n}")).into();
        let body = Body::ClaimSubmitted(ClaimSubmitted {
            outcome: parse("housed"),
            period: Period {
                from: parse("2025-02-01"),
                to: parse("2025-02-28"),
            },
            quantity: Int::new(1).unwrap_or_default(),
            participants: vec![proto::Pseudonym::from_bytes(participant)],
            evidence: vec![Evidence {
                sha256: proto::Sha256Digest::from_bytes([7; 32]),
                media_type: parse("application/pdf"),
                uri: None,
            }],
        });
        let provider = self.provider.clone();
        self.next(body, KeyId::of(&public(&provider)), &[provider])
    }

    /// A claim whose signature is by the wrong key (refused as a bad or unknown signer); the
    /// chain does not advance.
    pub(crate) fn forged_claim(&mut self) -> Vec<u8> {
        let envelope = self.claim(0);
        self.next_seq -= 1;
        self.head = self.previous_head.take();
        let mut value: serde_json::Value = serde_json::from_slice(&envelope).unwrap_or_default();
        value["signatures"][0]["sig"] = serde_json::Value::String(base64_of(&[1u8; 64]));
        serde_json::to_vec(&value).unwrap_or_default()
    }

    fn next(&mut self, body: Body, author: KeyId, signers: &[SigningKey]) -> Vec<u8> {
        let at = Timestamp::from_unix_seconds(FIRST_AT_SECONDS + self.next_seq as i64)
            .unwrap_or_else(|| parse("2025-03-01T00:00:00Z"));
        let payload = Payload {
            contract: self.id.clone(),
            seq: Int::new(self.next_seq).unwrap_or_default(),
            prev: self.head,
            author,
            at,
            body,
        }
        .encode();
        let signatures = signers
            .iter()
            .map(|k| dsse::sign(PAYLOAD_TYPE, &payload, k))
            .collect();
        let id = EventId::of_payload(&payload);
        let envelope =
            Envelope::new(PAYLOAD_TYPE, payload, signatures).unwrap_or_else(|e| panic!("{e}"));
        self.previous_head = self.head;
        self.head = Some(id);
        self.next_seq += 1;
        envelope.to_jcs()
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A config for a node in `dir` with checkpoints at most every `interval_ms`.
pub(crate) fn config(dir: &std::path::Path, interval_ms: u64) -> Config {
    let settings = Settings {
        data_dir: Some(dir.to_owned()),
        checkpoint_interval_ms: Some(interval_ms),
        ..Settings::default()
    };
    Config::resolve(settings).unwrap_or_else(|e| panic!("{e}"))
}

/// Opens a node on `dir` that observes nothing.
pub(crate) async fn open(dir: &std::path::Path) -> Node {
    let observer: Arc<dyn Observer> = Arc::new(NoObserver);
    Node::open(&config(dir, 1_000), observer)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}
