//! Contract files: the readable TOML a programme's parties agree on, turned into the body of
//! `contract.registered` (see `examples/contract.toml`).
//!
//! ```toml
//! id = "fcf-manchester-2025"            # contract id, [a-z0-9][a-z0-9-]{0,63}
//! title = "Fair Chance: ..."
//! currency = "GBP"                      # ISO 4217; every amount is in minor units (pence)
//! start = "2025-04-01"                  # first and last day of the term
//! end = "2028-03-31"
//! cap = 150_000_000                     # most money paid in all, minor units
//!
//! [[parties]]                           # one per party; exactly one of key_file, public_key
//! name = "Greater Manchester Combined Authority"
//! role = "commissioner"                 # commissioner provider investor intermediary
//! key_file = "keys/commissioner.key"    #   verifier beneficiary_rep
//!
//! [[outcomes]]
//! id = "accommodation-3m"
//! name = "Accommodation sustained 3 months"
//! price = 150_000                       # per unit, minor units
//! cap_units = 300
//! ```
//!
//! A `key_file` is a path relative to the contract file, or a key name looked up in the key
//! directory; only its public key is read.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proto::payload::{ContractRegistered, OutcomeDef, Party};
use proto::{ContractId, Currency, Date, Int, PublicKey, Role};
use serde::Deserialize;

use crate::keyfile::KeyFile;

/// Why a contract file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContractFileError {
    /// The file cannot be read.
    #[error("cannot read contract file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML of the contract file's shape.
    #[error("contract file {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
}

impl ContractFileError {
    /// Stable code.
    #[allow(dead_code)]
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "contract-file-io",
            Self::Invalid { .. } => "contract-file-invalid",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractToml {
    id: String,
    title: String,
    currency: String,
    start: DateValue,
    end: DateValue,
    cap: u64,
    parties: Vec<PartyToml>,
    outcomes: Vec<OutcomeToml>,
}

/// TOML has a date type; a quoted date is accepted as well.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateValue {
    fn text(&self) -> String {
        match self {
            Self::Toml(d) => d.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyToml {
    name: String,
    role: String,
    key_file: Option<String>,
    public_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeToml {
    id: String,
    name: String,
    price: u64,
    cap_units: u64,
}

/// A contract read from its file: its id and the body of its `contract.registered`.
#[derive(Debug, Clone)]
pub(crate) struct ContractFile {
    /// The contract id.
    pub(crate) id: ContractId,
    /// The registration body.
    pub(crate) body: ContractRegistered,
}

/// Reads and checks a contract file. Key files it names are resolved relative to the file's
/// directory, then as names in `keys_dir`.
///
/// # Errors
/// [`ContractFileError`] naming the member that is wrong.
pub(crate) fn load(path: &Path, keys_dir: &Path) -> Result<ContractFile, ContractFileError> {
    let text = fs::read_to_string(path).map_err(|source| ContractFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |reason: String| ContractFileError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let raw: ContractToml = toml::from_str(&text).map_err(|e| invalid(e.message().to_owned()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    convert(raw, base, keys_dir).map_err(invalid)
}

fn convert(raw: ContractToml, base: &Path, keys_dir: &Path) -> Result<ContractFile, String> {
    let parties = raw
        .parties
        .iter()
        .enumerate()
        .map(|(i, p)| party(p, base, keys_dir).map_err(|e| format!("parties[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let outcomes = raw
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| outcome(o).map_err(|e| format!("outcomes[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let body = ContractRegistered {
        title: field("title", &raw.title)?,
        currency: field::<Currency>("currency", &raw.currency)?,
        parties,
        outcomes,
        cap: int("cap", raw.cap)?,
        start: field::<Date>("start", &raw.start.text())?,
        end: field::<Date>("end", &raw.end.text())?,
    };
    Ok(ContractFile {
        id: field("id", &raw.id)?,
        body,
    })
}

fn party(raw: &PartyToml, base: &Path, keys_dir: &Path) -> Result<Party, String> {
    let role = Role::parse(&raw.role).ok_or_else(|| {
        format!(
            "role {:?} is not one of commissioner, provider, investor, intermediary, verifier, \
             beneficiary_rep",
            raw.role
        )
    })?;
    let key = match (&raw.key_file, &raw.public_key) {
        (Some(file), None) => public_key_of_file(file, base, keys_dir)?,
        (None, Some(hex)) => field::<PublicKey>("public_key", hex)?,
        _ => return Err("give exactly one of key_file and public_key".to_owned()),
    };
    Ok(Party {
        key,
        role,
        name: field("name", &raw.name)?,
    })
}

fn public_key_of_file(file: &str, base: &Path, keys_dir: &Path) -> Result<PublicKey, String> {
    let relative = base.join(file);
    let key = if relative.is_file() {
        KeyFile::load_path(&relative)
    } else {
        KeyFile::load(file, keys_dir)
    };
    key.map(|k| k.public_key())
        .map_err(|e| format!("key_file: {e}"))
}

fn outcome(raw: &OutcomeToml) -> Result<OutcomeDef, String> {
    Ok(OutcomeDef {
        id: field("id", &raw.id)?,
        name: field("name", &raw.name)?,
        price: int("price", raw.price)?,
        cap_units: int("cap_units", raw.cap_units)?,
    })
}

fn field<T: FromStr<Err = proto::DecodeError>>(name: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|e: proto::DecodeError| format!("{name}: {}", e.detail()))
}

fn int(name: &str, value: u64) -> Result<Int, String> {
    Int::new(value).ok_or_else(|| format!("{name}: {value} is over the limit 2^53-1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/contract.toml");

    #[test]
    fn the_example_contract_reads_with_the_parties_keys() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        make_keys(dir.path())?;
        let contract = load(Path::new(EXAMPLE), dir.path())?;
        assert_eq!(contract.id.as_str(), "fcf-manchester-2025");
        assert_eq!(contract.body.currency.as_str(), "GBP");
        assert_eq!(contract.body.parties.len(), 7);
        assert_eq!(contract.body.outcomes.len(), 3);
        assert_eq!(contract.body.outcomes[0].price.get(), 150_000);
        Ok(())
    }

    const PARTIES: [&str; 7] = [
        "commissioner",
        "provider",
        "investor-a",
        "investor-b",
        "intermediary",
        "verifier",
        "beneficiary-rep",
    ];

    fn make_keys(dir: &Path) -> anyhow::Result<()> {
        for (i, name) in PARTIES.iter().enumerate() {
            let seed = [u8::try_from(i)?; 32];
            KeyFile::new(name, ed25519_dalek::SigningKey::from_bytes(&seed), dir)?.write_new()?;
        }
        Ok(())
    }

    #[test]
    fn a_party_with_two_keys_is_refused_by_index() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        let text = std::fs::read_to_string(EXAMPLE)?.replacen(
            "role = \"commissioner\"",
            "role = \"commissioner\"\npublic_key = \"00\"",
            1,
        );
        std::fs::write(&path, text)?;
        let err = load(&path, dir.path())
            .map(|_| ())
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("parties[0]: give exactly one")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn an_unknown_role_is_named() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        make_keys(dir.path())?;
        let path = dir.path().join("c.toml");
        let text = std::fs::read_to_string(EXAMPLE)?.replacen("\"verifier\"", "\"auditor\"", 1);
        std::fs::write(&path, text)?;
        let err = load(&path, dir.path())
            .map(|_| ())
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("role \"auditor\"")),
            "{err:?}"
        );
        Ok(())
    }
}
