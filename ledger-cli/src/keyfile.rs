//! Ed25519 key files: how a party keeps its signing key on disk.
//!
//! A key file is TOML, written once with mode 0600 in a directory of mode 0700:
//!
//! ```toml
//! # outcome-ledger Ed25519 signing key. Keep this file secret; share only public_key and key_id.
//! format = "outcome-ledger-key-v1"
//! name = "provider"
//! algorithm = "ed25519"
//! public_key = "<64 hex: the raw 32-byte Ed25519 public key>"
//! key_id = "<64 hex: SHA-256 of the public key>"
//! seed = "<64 hex: the 32-byte RFC 8032 private key (seed)>"
//! ```
//!
//! Loading checks every member: the public key and key id must be the ones the seed gives, so a
//! file edited by hand or truncated is refused rather than signing as someone else. On Unix a
//! file that others can read is refused too, as ssh does.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use proto::{KeyId, PublicKey};
use serde::{Deserialize, Serialize};

/// The `format` member of every key file this build writes and reads.
pub(crate) const FORMAT: &str = "outcome-ledger-key-v1";

/// File name extension of key files.
pub(crate) const EXTENSION: &str = "key";

const HEADER: &str = "# outcome-ledger Ed25519 signing key. Keep this file secret; share only \
                      public_key and key_id.\n";

/// Longest key name, in bytes.
const NAME_BYTES_MAX: usize = 64;

/// Why a key file could not be made or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyFileError {
    /// The name is not usable as a file name and a signed-note key name.
    #[error("key name {0:?} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'")]
    BadName(String),
    /// `key new` found a file already there.
    #[error(
        "key file {0} already exists; choose another name, or move the old file away yourself"
    )]
    Exists(PathBuf),
    /// No file at the path, nor under that name in the key directory.
    #[error("no key file {path}; make one with `ledger key new {name}`, or pass the path of a key file (--keys sets the directory)")]
    NotFound {
        /// Where it was looked for.
        path: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// Others may read the file.
    #[error("key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a key file of this format.
    #[error("{path} is not a valid key file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("cannot {action} key file {path}")]
    Io {
        /// "read", "write", ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl KeyFileError {
    /// Stable code, as printed with `--json`.
    #[allow(dead_code)]
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::BadName(_) => "key-bad-name",
            Self::Exists(_) => "key-exists",
            Self::NotFound { .. } => "key-not-found",
            Self::Exposed { .. } => "key-exposed",
            Self::Invalid { .. } => "key-invalid",
            Self::Io { .. } => "key-io",
        }
    }
}

/// The on-disk form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileToml {
    format: String,
    name: String,
    algorithm: String,
    public_key: String,
    key_id: String,
    seed: String,
}

/// A party's signing key, loaded from or written to a key file.
pub(crate) struct KeyFile {
    name: String,
    path: PathBuf,
    signing: SigningKey,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        f.debug_struct("KeyFile")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl KeyFile {
    /// A key with the given name and signing key, not yet on disk.
    ///
    /// # Errors
    /// [`KeyFileError::BadName`] for a name that is not allowed.
    pub(crate) fn new(name: &str, signing: SigningKey, dir: &Path) -> Result<Self, KeyFileError> {
        check_name(name)?;
        let path = dir.join(format!("{name}.{EXTENSION}"));
        Ok(Self {
            name: name.to_owned(),
            path,
            signing,
        })
    }

    /// The key's name (also its signed-note key name).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The signing key.
    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The raw public key.
    pub(crate) fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.signing.verifying_key().to_bytes())
    }

    /// The key id: SHA-256 of the public key.
    pub(crate) fn key_id(&self) -> KeyId {
        KeyId::of(&self.public_key())
    }

    /// Writes the file: the directory is made with mode 0700 if missing, the file is created
    /// with mode 0600 and never overwritten.
    ///
    /// # Errors
    /// [`KeyFileError::Exists`] if the file is there, [`KeyFileError::Io`] otherwise.
    pub(crate) fn write_new(&self) -> Result<(), KeyFileError> {
        let io_error = |action, source| KeyFileError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| io_error("make the directory of", e))?;
        }
        let mut file = match open_private_new(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(KeyFileError::Exists(self.path.clone()))
            }
            Err(e) => return Err(io_error("create", e)),
        };
        let text = self
            .to_toml()
            .map_err(|e| io_error("encode", io::Error::other(e)))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("write", e))
    }

    fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let body = toml::to_string(&KeyFileToml {
            format: FORMAT.to_owned(),
            name: self.name.clone(),
            algorithm: "ed25519".to_owned(),
            public_key: self.public_key().to_hex(),
            key_id: self.key_id().to_hex(),
            seed: hex::encode(self.signing.to_bytes()),
        })?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Loads a key named by `spec`: a path to a key file, or a name looked up as
    /// `DIR/NAME.key` in `keys_dir`.
    ///
    /// # Errors
    /// Any [`KeyFileError`] but `Exists`.
    pub(crate) fn load(spec: &str, keys_dir: &Path) -> Result<Self, KeyFileError> {
        let path = resolve(spec, keys_dir)?;
        Self::load_path(&path)
    }

    /// Loads the key file at `path`.
    ///
    /// # Errors
    /// Any [`KeyFileError`] but `Exists`.
    pub(crate) fn load_path(path: &Path) -> Result<Self, KeyFileError> {
        check_private(path)?;
        let text = fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let invalid = |reason: String| KeyFileError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let raw: KeyFileToml =
            toml::from_str(&text).map_err(|e| invalid(e.message().to_owned()))?;
        Self::from_toml(raw, path).map_err(invalid)
    }

    fn from_toml(raw: KeyFileToml, path: &Path) -> Result<Self, String> {
        if raw.format != FORMAT {
            return Err(format!(
                "format is {:?}, this build reads {FORMAT:?}",
                raw.format
            ));
        }
        if raw.algorithm != "ed25519" {
            return Err(format!(
                "algorithm is {:?}, only \"ed25519\" is used",
                raw.algorithm
            ));
        }
        check_name(&raw.name).map_err(|e| e.to_string())?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(&raw.seed, &mut seed)
            .map_err(|_| "seed must be 64 hex digits (32 bytes)".to_owned())?;
        let key = Self {
            name: raw.name,
            path: path.to_owned(),
            signing: SigningKey::from_bytes(&seed),
        };
        if raw.public_key != key.public_key().to_hex() {
            return Err(
                "public_key is not the public key of seed: the file was altered".to_owned(),
            );
        }
        if raw.key_id != key.key_id().to_hex() {
            return Err("key_id is not SHA-256 of public_key: the file was altered".to_owned());
        }
        Ok(key)
    }
}

/// The file a key spec names: an existing path, or `keys_dir/NAME.key`.
///
/// # Errors
/// [`KeyFileError::NotFound`] when neither exists.
pub(crate) fn resolve(spec: &str, keys_dir: &Path) -> Result<PathBuf, KeyFileError> {
    let as_path = PathBuf::from(spec);
    if as_path.is_file() {
        return Ok(as_path);
    }
    let named = keys_dir.join(format!("{spec}.{EXTENSION}"));
    if check_name(spec).is_ok() && named.is_file() {
        return Ok(named);
    }
    let looked = if check_name(spec).is_ok() {
        named
    } else {
        as_path
    };
    Err(KeyFileError::NotFound {
        path: looked,
        name: spec.to_owned(),
    })
}

fn check_name(name: &str) -> Result<(), KeyFileError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyFileError::BadName(name.to_owned()))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private_new(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private_new(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|source| KeyFileError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 section 7.1, TEST 1: the secret key and the public key it gives.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn rfc8032_key(dir: &Path) -> anyhow::Result<KeyFile> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(SEED, &mut seed)?;
        Ok(KeyFile::new("alice", SigningKey::from_bytes(&seed), dir)?)
    }

    #[test]
    fn a_written_key_loads_back_with_the_rfc8032_public_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let key = rfc8032_key(&dir.path().join("keys"))?;
        key.write_new()?;
        let loaded = KeyFile::load("alice", &dir.path().join("keys"))?;
        assert_eq!(loaded.public_key().to_hex(), PUBLIC);
        assert_eq!(loaded.name(), "alice");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_is_private_and_never_overwritten() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let key = rfc8032_key(dir.path())?;
        key.write_new()?;
        let mode = fs::metadata(key.path())?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(key.write_new(), Err(KeyFileError::Exists(_))));
        fs::set_permissions(key.path(), fs::Permissions::from_mode(0o644))?;
        assert!(matches!(
            KeyFile::load_path(key.path()),
            Err(KeyFileError::Exposed { .. })
        ));
        Ok(())
    }

    #[test]
    fn an_altered_public_key_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let key = rfc8032_key(dir.path())?;
        key.write_new()?;
        let text = fs::read_to_string(key.path())?.replace(PUBLIC, &"0".repeat(64));
        fs::write(key.path(), text)?;
        let err = KeyFile::load_path(key.path()).map(|_| ()).err();
        assert!(matches!(err, Some(KeyFileError::Invalid { .. })), "{err:?}");
        Ok(())
    }

    #[test]
    fn names_that_could_escape_the_directory_are_refused() {
        for name in ["", "../x", ".hidden", "a b", "a+b", &"x".repeat(65)] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert!(check_name("investor-2.senior_a").is_ok());
    }
}
