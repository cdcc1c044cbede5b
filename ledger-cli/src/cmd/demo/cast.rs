//! The parties of the demo programme, their keys (drawn from the seed, written as key files),
//! and [`Stream`], which builds each contract's events in order.

use std::path::Path;

use ed25519_dalek::SigningKey;
use proto::payload::{Body, Party};
use proto::{ContractId, EventId, Role, Text, Timestamp};
use rand::rngs::StdRng;
use rand::RngCore;

use crate::keyfile::{KeyFile, KeyFileError};
use crate::plan::{self, Head};

/// One party: its organisation, role and key.
pub(super) struct Member {
    /// The organisation's public name.
    pub(super) name: &'static str,
    /// Its role.
    pub(super) role: Role,
    /// Its key.
    pub(super) key: KeyFile,
}

/// Every party of the programme.
pub(super) struct Cast {
    pub(super) commissioner: Member,
    pub(super) provider: Member,
    pub(super) investor_a: Member,
    pub(super) investor_b: Member,
    pub(super) intermediary: Member,
    pub(super) verifier: Member,
    pub(super) beneficiary_rep: Member,
}

/// (key name, organisation, role), in the order the keys are drawn from the seed.
const PARTIES: [(&str, &str, Role); 7] = [
    (
        "commissioner",
        "Greater Manchester Combined Authority",
        Role::Commissioner,
    ),
    ("provider", "Bridges to Home CIC", Role::Provider),
    (
        "investor-a",
        "Northern Social Investment Fund",
        Role::Investor,
    ),
    (
        "investor-b",
        "Manchester Community Foundation",
        Role::Investor,
    ),
    (
        "intermediary",
        "Fair Chance Manchester SPV Ltd",
        Role::Intermediary,
    ),
    (
        "verifier",
        "Independent Outcomes Verification LLP",
        Role::Verifier,
    ),
    (
        "beneficiary-rep",
        "Young Persons' Housing Panel",
        Role::BeneficiaryRep,
    ),
];

impl Cast {
    /// Draws the seven keys from `rng` and writes them as key files in `keys_dir` (a file
    /// already there from an earlier run with the same seed is reused).
    ///
    /// # Errors
    /// A key file that cannot be written, or one already there holding another key.
    pub(super) fn new(rng: &mut StdRng, keys_dir: &Path) -> anyhow::Result<Self> {
        let mut members = Vec::with_capacity(PARTIES.len());
        for (key_name, name, role) in PARTIES {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let key = KeyFile::new(key_name, SigningKey::from_bytes(&seed), keys_dir)?;
            keep(&key)?;
            members.push(Member { name, role, key });
        }
        let mut members = members.into_iter();
        let mut next = || {
            members
                .next()
                .ok_or_else(|| anyhow::anyhow!("a demo party is missing"))
        };
        Ok(Self {
            commissioner: next()?,
            provider: next()?,
            investor_a: next()?,
            investor_b: next()?,
            intermediary: next()?,
            verifier: next()?,
            beneficiary_rep: next()?,
        })
    }

    /// Every party, in contract order.
    pub(super) fn members(&self) -> [&Member; 7] {
        [
            &self.commissioner,
            &self.provider,
            &self.investor_a,
            &self.investor_b,
            &self.intermediary,
            &self.verifier,
            &self.beneficiary_rep,
        ]
    }

    /// The parties as `contract.registered` lists them.
    ///
    /// # Errors
    /// A name over the format's bound (a bug of the demo).
    pub(super) fn parties(&self) -> anyhow::Result<Vec<Party>> {
        self.members()
            .iter()
            .map(|m| {
                Ok(Party {
                    key: m.key.public_key(),
                    role: m.role,
                    name: m.name.parse::<Text<200>>()?,
                })
            })
            .collect()
    }
}

/// Writes the key file, or checks that the one already there is the same key.
fn keep(key: &KeyFile) -> anyhow::Result<()> {
    match key.write_new() {
        Ok(()) => Ok(()),
        Err(KeyFileError::Exists(path)) => {
            let existing = KeyFile::load_path(&path)?;
            anyhow::ensure!(
                existing.key_id() == key.key_id(),
                "{} holds another key than this seed gives; use another --data or --seed",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// One contract's events, built in order: each gets the next seq and the previous id.
pub(super) struct Stream {
    contract: ContractId,
    head: Head,
}

impl Stream {
    /// A contract not yet registered.
    pub(super) fn new(contract: ContractId) -> Self {
        Self {
            contract,
            head: Head::GENESIS,
        }
    }

    /// The contract id.
    pub(super) fn contract(&self) -> &ContractId {
        &self.contract
    }

    /// The next event, signed by `author` and `cosigners`: its id and envelope bytes.
    ///
    /// # Errors
    /// A seq past 2^53-1.
    pub(super) fn next(
        &mut self,
        author: &KeyFile,
        cosigners: &[&KeyFile],
        at: Timestamp,
        body: Body,
    ) -> anyhow::Result<(EventId, Vec<u8>)> {
        let payload = plan::payload(&self.contract, &self.head, author.key_id(), at, body)?;
        let mut signers = vec![author.signing()];
        signers.extend(cosigners.iter().map(|k| k.signing()));
        let envelope = plan::seal(&payload, &signers)?;
        let id = EventId::of_payload(envelope.payload());
        self.head = self.head.after(id);
        Ok((id, envelope.to_jcs()))
    }
}
