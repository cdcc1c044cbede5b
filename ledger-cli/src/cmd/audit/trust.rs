//! Whom the auditor trusts to sign checkpoints, and checkpoints opened under that trust.
//!
//! `--trust` takes C2SP signed-note verifier key strings (`name+8hex+base64`, what
//! `GET /v1/node` and `ledger key show` print) or files of them, one per line (blank lines and
//! `#` comments skipped). A checkpoint counts only if at least `--min-signers` distinct
//! trusted keys signed it, and a signature of a trusted key that does not verify refuses it.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context};
use ledger_core::merkle::Hash;
use proto::note::{open_note, require_signers, Checkpoint, NoteVerifier};

use super::finding::{Check, Finding};

/// The trusted checkpoint signers and how many of them must sign.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    verifiers: Vec<NoteVerifier>,
    min_signers: usize,
}

impl Trust {
    /// Trust in `verifiers`, at least `min_signers` of which must sign.
    ///
    /// # Errors
    /// A usage error if no key is given, or fewer keys than `min_signers`.
    pub(crate) fn new(verifiers: Vec<NoteVerifier>, min_signers: usize) -> anyhow::Result<Self> {
        if verifiers.is_empty() {
            bail!("no trusted checkpoint key: give --trust KEY (a verifier key string or a file of them)");
        }
        if min_signers == 0 || min_signers > verifiers.len() {
            bail!(
                "--min-signers {min_signers} cannot be met by the {} trusted key(s) given; give \
                 a number from 1 to {}",
                verifiers.len(),
                verifiers.len()
            );
        }
        Ok(Self {
            verifiers,
            min_signers,
        })
    }

    /// How many trusted keys must sign.
    pub(crate) fn min_signers(&self) -> usize {
        self.min_signers
    }

    /// Opens a signed checkpoint note: at least `min_signers` trusted keys signed it, none of
    /// their signatures fails, and its body is a checkpoint. `what` names the note in findings.
    ///
    /// # Errors
    /// A [`Finding`] of [`Check::Checkpoint`] naming what failed.
    pub(crate) fn open(&self, note: &str, what: &str) -> Result<Trusted, Finding> {
        let fail =
            |code: &'static str, detail: String| Finding::new(Check::Checkpoint, code, detail);
        let opened = open_note(note.as_bytes(), &self.verifiers)
            .map_err(|e| fail(e.code(), format!("{what}: {e}")))?;
        let signers = require_signers(&opened, &self.verifiers, self.min_signers).map_err(|e| {
            fail(
                e.code(),
                format!("{what}: {e}; --min-signers is {}", self.min_signers),
            )
        })?;
        let signers = signers
            .iter()
            .map(|s| format!("{}+{}", s.name(), s.key_id().to_hex()))
            .collect();
        let checkpoint =
            Checkpoint::parse(opened.text()).map_err(|e| fail(e.code(), format!("{what}: {e}")))?;
        Ok(Trusted {
            checkpoint,
            signers,
        })
    }
}

/// A checkpoint that enough trusted keys signed.
#[derive(Debug, Clone)]
pub(crate) struct Trusted {
    checkpoint: Checkpoint,
    signers: Vec<String>,
}

impl Trusted {
    /// The log's origin line.
    pub(crate) fn origin(&self) -> &str {
        self.checkpoint.origin()
    }

    /// The tree size.
    pub(crate) fn size(&self) -> u64 {
        self.checkpoint.size()
    }

    /// The tree root.
    pub(crate) fn root(&self) -> Hash {
        Hash::from_bytes(*self.checkpoint.root())
    }

    /// The trusted signers, as `name+keyid`.
    pub(crate) fn signers(&self) -> &[String] {
        &self.signers
    }
}

/// Reads the `--trust` values: verifier key strings, or files of them.
///
/// # Errors
/// A value that is neither a readable file nor a verifier key string.
pub(crate) fn load_verifiers(values: &[String]) -> anyhow::Result<Vec<NoteVerifier>> {
    let mut verifiers = Vec::new();
    for value in values {
        if Path::new(value).is_file() {
            let text = fs::read_to_string(value)
                .with_context(|| format!("cannot read the trusted keys file {value}"))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let verifier = NoteVerifier::parse(line)
                    .with_context(|| format!("{value} line {}: not a verifier key", number + 1))?;
                push_new(&mut verifiers, verifier);
            }
        } else {
            let verifier = NoteVerifier::parse(value).with_context(|| {
                format!(
                    "--trust {value:?} is neither a file nor a verifier key string (name+id+key)"
                )
            })?;
            push_new(&mut verifiers, verifier);
        }
    }
    Ok(verifiers)
}

/// Adds a key once: a key given twice would make every signature of it ambiguous.
fn push_new(verifiers: &mut Vec<NoteVerifier>, verifier: NoteVerifier) {
    if !verifiers.contains(&verifier) {
        verifiers.push(verifier);
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use proto::note::NoteSigner;

    use super::{load_verifiers, Trust};

    fn vkey(name: &str, seed: u8) -> String {
        match NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])) {
            Ok(signer) => signer.verifier_key(),
            Err(e) => panic!("test key: {e}"),
        }
    }

    #[test]
    fn trusted_keys_come_from_strings_and_files_once_each() -> anyhow::Result<()> {
        let (a, b) = (vkey("log.example", 1), vkey("witness.example", 2));
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("trusted.txt");
        std::fs::write(&file, format!("# the log\n{a}\n\n  {b}  \n{a}\n"))?;
        let path = file.to_string_lossy().into_owned();
        let verifiers = load_verifiers(&[a.clone(), path])?;
        let names: Vec<&str> = verifiers.iter().map(|v| v.name()).collect();
        assert_eq!(names, ["log.example", "witness.example"]);
        assert!(load_verifiers(&["not-a-key".to_owned()]).is_err());
        Ok(())
    }

    #[test]
    fn more_signers_than_trusted_keys_is_a_usage_error() -> anyhow::Result<()> {
        let verifiers = load_verifiers(&[vkey("log.example", 1)])?;
        assert!(Trust::new(verifiers.clone(), 2).is_err());
        assert!(Trust::new(verifiers.clone(), 0).is_err());
        assert!(Trust::new(Vec::new(), 1).is_err());
        assert_eq!(Trust::new(verifiers, 1)?.min_signers(), 1);
        Ok(())
    }
}
