//! The node's own Ed25519 key: it signs the node's checkpoints.
//!
//! The key lives in `DATA/node.key` as 64 lowercase hex digits (the 32-byte seed) and a
//! newline. It is created on first start with mode 0600, written to a temporary file, synced and
//! renamed into place so a crash never leaves half a key. A key file that group or others can
//! read is refused: whoever reads it can sign checkpoints in the node's name.
//!
//! Beside it, `DATA/origin` records the checkpoint origin the data directory was first started
//! with (one line). A node started without `--origin` signs under it; a node started with
//! another `--origin` is refused unless `--force-origin` is given ([`resolve_origin`]): the
//! origin names the log, and auditors holding the old verifier key would find the new
//! checkpoints unverifiable, as if the log had been tampered with.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use proto::{KeyId, PublicKey};
use rand::{CryptoRng, RngCore};

/// File name of the key in the data directory.
pub const KEY_FILE: &str = "node.key";

/// File name of the recorded checkpoint origin in the data directory.
pub const ORIGIN_FILE: &str = "origin";

/// Longest origin file read, in bytes (an origin is at most 200).
const ORIGIN_BYTES_MAX: u64 = 1024;

/// Why the node key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing the file failed.
    #[error("node key {}: {detail}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The file is readable by group or others.
    #[error(
        "node key {} has mode {mode:o}, readable by others: run `chmod 600 {}` (and consider \
         the key leaked)",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a key.
    #[error("node key {} is not 64 hex digits and a newline: restore it from backup", path.display())]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The configured origin is not the one the data directory records.
    #[error(
        "this data directory's checkpoints are signed under origin {recorded:?} (recorded in \
         {}), not {configured:?}: start without --origin (or with --origin {recorded}); only if \
         the log is to be renamed, start with --force-origin, and give auditors the new \
         verifier key",
        path.display()
    )]
    OriginMismatch {
        /// The origin file.
        path: PathBuf,
        /// The origin it records.
        recorded: String,
        /// The origin configured now.
        configured: String,
    },
    /// The origin file is not one line of an origin.
    #[error("origin file {} is not one line of text: restore it from backup, or write the origin the log was signed under", path.display())]
    OriginMalformed {
        /// The origin file.
        path: PathBuf,
    },
}

impl IdentityError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "key-io",
            Self::Permissions { .. } => "key-permissions",
            Self::Malformed { .. } => "key-malformed",
            Self::OriginMismatch { .. } => "origin-mismatch",
            Self::OriginMalformed { .. } => "origin-malformed",
        }
    }
}

/// The node's signing key and what is derived from it.
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// Loads `dir/node.key`, or creates it with a seed drawn from `rng` if there is none.
    ///
    /// # Errors
    /// [`IdentityError`] if the file cannot be read or written, is readable by others, or is
    /// malformed.
    pub fn load_or_create<R: RngCore + CryptoRng>(
        dir: &Path,
        rng: &mut R,
    ) -> Result<Self, IdentityError> {
        let path = dir.join(KEY_FILE);
        match fs::symlink_metadata(&path) {
            Ok(_) => Self::load(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(&path, rng),
            Err(e) => Err(io(&path, &e)),
        }
    }

    fn load(path: &Path) -> Result<Self, IdentityError> {
        check_permissions(path)?;
        let text = fs::read_to_string(path).map_err(|e| io(path, &e))?;
        let hex_seed = text.strip_suffix('\n').unwrap_or(&text);
        let mut seed = [0u8; 32];
        let ok = hex_seed.len() == 64 && hex::decode_to_slice(hex_seed, &mut seed).is_ok();
        if !ok {
            return Err(IdentityError::Malformed {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    fn create<R: RngCore + CryptoRng>(path: &Path, rng: &mut R) -> Result<Self, IdentityError> {
        let key = SigningKey::generate(rng);
        let temporary = path.with_extension("key.tmp");
        write_private(
            &temporary,
            format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
        )?;
        fs::rename(&temporary, path).map_err(|e| io(path, &e))?;
        if let Some(dir) = path.parent() {
            // Make the rename durable: sync the directory entry.
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io(dir, &e))?;
        }
        Ok(Self { key })
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.key.verifying_key().to_bytes())
    }

    /// The key id (SHA-256 of the public key).
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.public_key())
    }

    /// The default checkpoint origin: `outcome-ledger/` and the first 8 hex digits of the key id.
    pub fn default_origin(&self) -> String {
        let id = self.key_id().to_hex();
        format!("outcome-ledger/{}", &id[..8])
    }
}

/// Whether a configured origin may replace the recorded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginChange {
    /// Refuse another origin than the recorded one.
    Refuse,
    /// `--force-origin`: sign under the configured origin from now on, and record it.
    Force,
}

/// The checkpoint origin of the data directory `dir`: the recorded one (`DATA/origin`) unless
/// another is configured and forced; with none recorded, the configured one, else
/// `fallback()`; recorded (durably) if it was not.
///
/// # Errors
/// [`IdentityError::OriginMismatch`] if `configured` differs from the recorded origin and the
/// change is not forced; [`IdentityError::Io`] or [`IdentityError::OriginMalformed`] if the
/// file cannot be read or written.
pub fn resolve_origin(
    dir: &Path,
    configured: Option<&str>,
    change: OriginChange,
    fallback: impl FnOnce() -> String,
) -> Result<String, IdentityError> {
    let path = dir.join(ORIGIN_FILE);
    let recorded = read_origin(&path)?;
    let origin = match (recorded.as_deref(), configured) {
        (Some(recorded), None) => return Ok(recorded.to_owned()),
        (Some(recorded), Some(configured)) if recorded == configured => {
            return Ok(recorded.to_owned())
        }
        (Some(recorded), Some(configured)) => {
            if change == OriginChange::Refuse {
                return Err(IdentityError::OriginMismatch {
                    path,
                    recorded: recorded.to_owned(),
                    configured: configured.to_owned(),
                });
            }
            tracing::warn!(
                recorded,
                configured,
                "--force-origin: the log's checkpoints are signed under a new origin from now on"
            );
            configured.to_owned()
        }
        (None, Some(configured)) => configured.to_owned(),
        (None, None) => fallback(),
    };
    crate::signed_head::write_durably(dir, ORIGIN_FILE, format!("{origin}\n").as_bytes()).map_err(
        |e| IdentityError::Io {
            path: path.clone(),
            detail: e.to_string(),
        },
    )?;
    Ok(origin)
}

fn read_origin(path: &Path) -> Result<Option<String>, IdentityError> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, &e)),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, ORIGIN_BYTES_MAX), &mut text)
        .map_err(|e| io(path, &e))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if line.is_empty() || line.contains('\n') {
        return Err(IdentityError::OriginMalformed {
            path: path.to_owned(),
        });
    }
    Ok(Some(line.to_owned()))
}

fn io(path: &Path, e: &std::io::Error) -> IdentityError {
    IdentityError::Io {
        path: path.to_owned(),
        detail: e.to_string(),
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), IdentityError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|e| io(path, &e))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), IdentityError> {
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, &e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(path, &e))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let mut file = fs::File::create(path).map_err(|e| io(path, &e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_a_private_key_once_and_loads_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(dir.path(), &mut StdRng::seed_from_u64(1)).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // A different seed for the second call: it must load, not create.
        let second = Identity::load_or_create(dir.path(), &mut StdRng::seed_from_u64(2)).unwrap();
        assert_eq!(first.public_key(), second.public_key());
        assert!(second.default_origin().starts_with("outcome-ledger/"));
        assert_eq!(second.default_origin().len(), "outcome-ledger/".len() + 8);
    }

    #[test]
    fn refuses_a_key_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create(dir.path(), &mut StdRng::seed_from_u64(1)).unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let error = Identity::load_or_create(dir.path(), &mut StdRng::seed_from_u64(1))
            .err()
            .unwrap();
        assert_eq!(error.code(), "key-permissions");
    }

    #[test]
    fn the_recorded_origin_is_kept_and_another_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let fallback = || "outcome-ledger/fallback".to_owned();
        let first = resolve_origin(
            dir.path(),
            Some("x.example/log"),
            OriginChange::Refuse,
            fallback,
        );
        assert_eq!(first.unwrap(), "x.example/log");
        // Restarted without --origin: the recorded one, not the fallback.
        let again = resolve_origin(dir.path(), None, OriginChange::Refuse, fallback).unwrap();
        assert_eq!(again, "x.example/log");
        let error = resolve_origin(
            dir.path(),
            Some("y.example/log"),
            OriginChange::Refuse,
            fallback,
        )
        .unwrap_err();
        assert_eq!(error.code(), "origin-mismatch");
        let message = error.to_string();
        assert!(
            message.contains("\"x.example/log\"") && message.contains("\"y.example/log\""),
            "{message}"
        );
        let forced = resolve_origin(
            dir.path(),
            Some("y.example/log"),
            OriginChange::Force,
            fallback,
        );
        assert_eq!(forced.unwrap(), "y.example/log");
        let after = resolve_origin(dir.path(), None, OriginChange::Refuse, fallback).unwrap();
        assert_eq!(after, "y.example/log");
    }

    #[test]
    fn with_nothing_recorded_or_configured_the_fallback_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let origin = resolve_origin(dir.path(), None, OriginChange::Refuse, || "a/b".into());
        assert_eq!(origin.unwrap(), "a/b");
        assert_eq!(
            fs::read_to_string(dir.path().join(ORIGIN_FILE)).unwrap(),
            "a/b\n"
        );
    }

    #[test]
    fn refuses_a_malformed_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        write_private(&path, b"not hex\n").unwrap();
        let error = Identity::load_or_create(dir.path(), &mut StdRng::seed_from_u64(1))
            .err()
            .unwrap();
        assert_eq!(error.code(), "key-malformed");
    }
}
