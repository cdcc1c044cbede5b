//! The node's own Ed25519 key: it signs the node's checkpoints.
//!
//! The key lives in `DATA/node.key` as 64 lowercase hex digits (the 32-byte seed) and a
//! newline. It is created on first start with mode 0600, written to a temporary file, synced and
//! renamed into place so a crash never leaves half a key. A key file that group or others can
//! read is refused: whoever reads it can sign checkpoints in the node's name.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use proto::{KeyId, PublicKey};
use rand::{CryptoRng, RngCore};

/// File name of the key in the data directory.
pub const KEY_FILE: &str = "node.key";

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
}

impl IdentityError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "key-io",
            Self::Permissions { .. } => "key-permissions",
            Self::Malformed { .. } => "key-malformed",
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
