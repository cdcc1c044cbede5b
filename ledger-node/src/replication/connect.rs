//! How a node connects to NATS: who it is (a credentials file or an NKey seed) and how it
//! checks the server (TLS with a CA, optionally a client certificate).
//!
//! Every file is read and checked when the configuration is resolved, so a node with an
//! unreadable file or a malformed seed refuses to start, naming the flag and the file. The
//! secrets themselves are kept in [`Secret`], whose `Debug` never shows them, and are never
//! logged.
//!
//! The first connection is tried once at start: a server that refuses this node's identity,
//! or a TLS handshake that fails, stops the node with that message (retrying cannot help). A
//! server that is only unreachable is retried in the background, forever, while the node
//! serves reads.

use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::ConnectErrorKind;

use super::REQUEST_TIMEOUT;

/// The largest credentials, seed, certificate or key file read.
const FILE_BYTES_MAX: u64 = 1024 * 1024;

/// A secret read from a file: its `Debug` says only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A NATS connection option that cannot be used: the flag, the file and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {}: {problem}", path.display())]
pub struct NatsFileError {
    /// The flag (`--nats-creds`, `--nats-nkey`, `--nats-tls-ca`, ...).
    pub flag: &'static str,
    /// The file given.
    pub path: PathBuf,
    /// What is wrong with it, and what is expected.
    pub problem: String,
}

/// Whether the connection must use TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// TLS only if the server asks for it (or the URL says `tls://`).
    IfOffered,
    /// TLS always: a server without it is refused.
    Required,
}

/// The raw NATS connection settings (paths as given).
#[derive(Clone, Debug, Default)]
pub struct NatsFiles {
    /// `--nats-creds`: a user JWT and seed.
    pub creds: Option<PathBuf>,
    /// `--nats-nkey`: a user NKey seed.
    pub nkey: Option<PathBuf>,
    /// `--nats-tls-ca`: CA certificates (PEM) the server's certificate must chain to.
    pub tls_ca: Option<PathBuf>,
    /// `--nats-tls-cert`: this node's client certificate (PEM).
    pub tls_cert: Option<PathBuf>,
    /// `--nats-tls-key`: the client certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// `--nats-tls-required`.
    pub tls_required: bool,
}

/// Validated NATS connection options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsAuth {
    creds: Option<(PathBuf, Secret)>,
    nkey: Option<(PathBuf, Secret)>,
    tls_ca: Option<PathBuf>,
    tls_client: Option<(PathBuf, PathBuf)>,
    tls: Tls,
}

impl NatsAuth {
    /// No identity, TLS only if the server offers it.
    pub fn none() -> Self {
        Self {
            creds: None,
            nkey: None,
            tls_ca: None,
            tls_client: None,
            tls: Tls::IfOffered,
        }
    }

    /// Reads and checks every file given. TLS is required when `--nats-tls-required` or any
    /// TLS file is given.
    ///
    /// # Errors
    /// [`NatsFileError`] naming the first flag whose file is unreadable or malformed (a
    /// credentials file and a seed together, or a certificate without its key, too).
    pub fn from_files(files: &NatsFiles) -> Result<Self, NatsFileError> {
        let creds = match &files.creds {
            Some(path) => Some((path.clone(), read_creds(path)?)),
            None => None,
        };
        let nkey = match &files.nkey {
            Some(path) => Some((path.clone(), read_seed(path)?)),
            None => None,
        };
        if let (Some((path, _)), Some(_)) = (&creds, &nkey) {
            return Err(problem(
                "--nats-nkey",
                path,
                "give a credentials file (--nats-creds) or an NKey seed (--nats-nkey), not both",
            ));
        }
        if let Some(path) = &files.tls_ca {
            read_certificates("--nats-tls-ca", path)?;
        }
        let tls_client = match (&files.tls_cert, &files.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                read_certificates("--nats-tls-cert", cert)?;
                read_key(key)?;
                Some((cert.clone(), key.clone()))
            }
            (Some(path), None) | (None, Some(path)) => {
                return Err(problem(
                    "--nats-tls-cert",
                    path,
                    "a client certificate needs its key: give --nats-tls-cert and --nats-tls-key together",
                ))
            }
        };
        let any_tls = files.tls_required || files.tls_ca.is_some() || tls_client.is_some();
        Ok(Self {
            creds,
            nkey,
            tls_ca: files.tls_ca.clone(),
            tls_client,
            tls: if any_tls {
                Tls::Required
            } else {
                Tls::IfOffered
            },
        })
    }

    /// Whether TLS is required.
    pub fn tls(&self) -> Tls {
        self.tls
    }

    /// What the node presents, for messages: the flag and the file, never the secret.
    fn identity(&self) -> String {
        match (&self.creds, &self.nkey) {
            (Some((path, _)), _) => format!("the user of --nats-creds {}", path.display()),
            (None, Some((path, _))) => format!("the NKey of --nats-nkey {}", path.display()),
            (None, None) => "no credentials (give --nats-creds or --nats-nkey)".to_owned(),
        }
    }

    /// The connection options of these settings.
    fn options(&self) -> anyhow::Result<async_nats::ConnectOptions> {
        let mut options = async_nats::ConnectOptions::new();
        if let Some((path, Secret(text))) = &self.creds {
            options = options
                .credentials(text)
                .map_err(|_| anyhow::anyhow!("--nats-creds {}: unusable", path.display()))?;
        }
        if let Some((_, Secret(seed))) = &self.nkey {
            options = options.nkey(seed.clone());
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls == Tls::Required {
            options = options.require_tls(true);
        }
        Ok(options)
    }
}

fn problem(flag: &'static str, path: &Path, problem: impl Into<String>) -> NatsFileError {
    NatsFileError {
        flag,
        path: path.to_owned(),
        problem: problem.into(),
    }
}

/// The file's text, at most [`FILE_BYTES_MAX`] bytes.
fn read_text(flag: &'static str, path: &Path) -> Result<String, NatsFileError> {
    let unreadable = |e: std::io::Error| problem(flag, path, format!("cannot read it: {e}"));
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > FILE_BYTES_MAX {
        return Err(problem(
            flag,
            path,
            format!("{size} bytes is more than {FILE_BYTES_MAX}"),
        ));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|_| problem(flag, path, "it is not UTF-8 text"))
}

fn read_creds(path: &Path) -> Result<Secret, NatsFileError> {
    let text = read_text("--nats-creds", path)?;
    // The parser's message may quote the file: say only what is expected.
    async_nats::ConnectOptions::with_credentials(&text).map_err(|_| {
        problem(
            "--nats-creds",
            path,
            "not a NATS credentials file (a user JWT and its NKey seed, as `nsc generate creds` writes)",
        )
    })?;
    Ok(Secret(text))
}

fn read_seed(path: &Path) -> Result<Secret, NatsFileError> {
    let text = read_text("--nats-nkey", path)?;
    let seed = text.trim();
    let malformed = || {
        problem(
            "--nats-nkey",
            path,
            "not an NKey user seed (one line starting with SU, as `nk -gen user` writes)",
        )
    };
    let pair = nkeys::KeyPair::from_seed(seed).map_err(|_| malformed())?;
    if !pair.public_key().starts_with('U') {
        return Err(malformed());
    }
    Ok(Secret(seed.to_owned()))
}

fn read_certificates(flag: &'static str, path: &Path) -> Result<(), NatsFileError> {
    let text = read_text(flag, path)?;
    let mut reader = BufReader::new(text.as_bytes());
    let certificates: Vec<_> = rustls_pemfile::certs(&mut reader)
        .collect::<Result<_, _>>()
        .map_err(|e| problem(flag, path, format!("not PEM certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(problem(
            flag,
            path,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(())
}

fn read_key(path: &Path) -> Result<(), NatsFileError> {
    let flag = "--nats-tls-key";
    let text = read_text(flag, path)?;
    let mut reader = BufReader::new(text.as_bytes());
    match rustls_pemfile::private_key(&mut reader) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(problem(flag, path, "holds no PEM private key")),
        Err(e) => Err(problem(flag, path, format!("not a PEM private key: {e}"))),
    }
}

/// Reconnection pauses: 0, 50 ms, 100 ms, ... up to 1 s.
fn reconnect_delay(attempts: usize) -> Duration {
    let millis = u64::try_from(attempts.saturating_sub(1))
        .unwrap_or(u64::MAX)
        .saturating_mul(50);
    Duration::from_millis(millis.min(1_000))
}

/// The options every connection of a node shares.
fn node_options(auth: &NatsAuth, name: &str) -> anyhow::Result<async_nats::ConnectOptions> {
    Ok(auth
        .options()?
        .name(name)
        .max_reconnects(None)
        .connection_timeout(REQUEST_TIMEOUT)
        .ping_interval(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(|event| async move {
            match event {
                async_nats::Event::ServerError(e) => tracing::warn!(error = %e, "NATS server"),
                async_nats::Event::ClientError(e) => tracing::warn!(error = %e, "NATS client"),
                _ => {}
            }
        }))
}

/// A client of the servers in `urls` (comma-separated). The first attempt is made now: a
/// refused identity or a failed TLS handshake is an error; an unreachable server is retried
/// in the background, forever.
///
/// # Errors
/// An unusable URL, or a server that refuses this node's credentials or TLS.
pub(crate) async fn connect(urls: &str, auth: &NatsAuth) -> anyhow::Result<async_nats::Client> {
    let servers: Vec<&str> = urls.split(',').map(str::trim).collect();
    match node_options(auth, "ledger-node")?
        .connect(servers.clone())
        .await
    {
        Ok(client) => return Ok(client),
        Err(e) => refused(urls, auth, &e)?,
    }
    node_options(auth, "ledger-node")?
        .retry_on_initial_connect()
        .connect(servers)
        .await
        .map_err(|e| anyhow::anyhow!("NATS URL {urls:?}: {e}"))
}

/// A client that connects once, now, or fails (for operator commands).
///
/// # Errors
/// Whatever the first attempt met.
pub(crate) async fn connect_now(urls: &str, auth: &NatsAuth) -> anyhow::Result<async_nats::Client> {
    let servers: Vec<&str> = urls.split(',').map(str::trim).collect();
    match node_options(auth, "ledger-node-republish")?
        .connect(servers)
        .await
    {
        Ok(client) => Ok(client),
        Err(e) => {
            refused(urls, auth, &e)?;
            Err(anyhow::anyhow!("cannot connect to NATS at {urls}: {e}"))
        }
    }
}

/// An error for a failed first attempt that retrying cannot mend; `Ok` for the others.
fn refused(urls: &str, auth: &NatsAuth, e: &async_nats::ConnectError) -> anyhow::Result<()> {
    match e.kind() {
        ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
            anyhow::bail!(
                "the NATS server at {urls} refused this node ({e}): it presented {}; give the \
                 credentials of a user the server knows",
                auth.identity()
            )
        }
        ConnectErrorKind::Io if tls_failure(e) => anyhow::bail!(
            "TLS with the NATS server at {urls} failed ({}): give the CA that signed the \
             server's certificate with --nats-tls-ca (and --nats-tls-cert/--nats-tls-key if \
             the server asks for a client certificate)",
            chain(e)
        ),
        ConnectErrorKind::Tls => anyhow::bail!(
            "TLS with the NATS server at {urls} failed ({e}): give the CA that signed the \
             server's certificate with --nats-tls-ca (and --nats-tls-cert/--nats-tls-key if \
             the server asks for a client certificate)"
        ),
        ConnectErrorKind::ServerParse | ConnectErrorKind::Dns => {
            anyhow::bail!("NATS URL {urls:?}: {e}")
        }
        _ => {
            tracing::warn!(error = %e, "NATS is not reachable yet; connecting in the background");
            Ok(())
        }
    }
}

/// The error and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Whether an I/O failure of a first connection was the TLS handshake (rustls reports a
/// refused certificate as an I/O error).
fn tls_failure(e: &async_nats::ConnectError) -> bool {
    let text = chain(e).to_ascii_lowercase();
    ["certificate", "tls", "handshake", "unknownissuer"]
        .iter()
        .any(|word| text.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_user_seed_is_read_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let pair = nkeys::KeyPair::new_user();
        let seed = pair.seed().unwrap();
        let files = NatsFiles {
            nkey: Some(write(dir.path(), "seed", &format!("{seed}\n"))),
            ..NatsFiles::default()
        };
        let auth = NatsAuth::from_files(&files).unwrap();
        assert!(!format!("{auth:?}").contains(&seed));
        assert_eq!(auth.tls(), Tls::IfOffered);
    }

    #[test]
    fn bad_files_name_the_flag_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let account = nkeys::KeyPair::new_account().seed().unwrap();
        let cases = [
            ("--nats-nkey", write(dir.path(), "junk", "SUNOTASEED\n")),
            ("--nats-nkey", write(dir.path(), "account", &account)),
            ("--nats-nkey", dir.path().join("missing")),
        ];
        for (flag, path) in cases {
            let files = NatsFiles {
                nkey: Some(path.clone()),
                ..NatsFiles::default()
            };
            let error = NatsAuth::from_files(&files).unwrap_err();
            assert_eq!((error.flag, &error.path), (flag, &path));
            assert!(error.to_string().starts_with(flag), "{error}");
        }
        let creds = NatsFiles {
            creds: Some(write(dir.path(), "creds", "not a creds file")),
            ..NatsFiles::default()
        };
        assert_eq!(
            NatsAuth::from_files(&creds).unwrap_err().flag,
            "--nats-creds"
        );
        let ca = NatsFiles {
            tls_ca: Some(write(dir.path(), "ca.pem", "no certificate here")),
            ..NatsFiles::default()
        };
        assert_eq!(NatsAuth::from_files(&ca).unwrap_err().flag, "--nats-tls-ca");
        let half = NatsFiles {
            tls_key: Some(write(dir.path(), "key.pem", "")),
            ..NatsFiles::default()
        };
        assert_eq!(
            NatsAuth::from_files(&half).unwrap_err().flag,
            "--nats-tls-cert"
        );
    }

    #[test]
    fn tls_files_or_the_flag_require_tls() {
        let required = NatsFiles {
            tls_required: true,
            ..NatsFiles::default()
        };
        assert_eq!(
            NatsAuth::from_files(&required).unwrap().tls(),
            Tls::Required
        );
        assert_eq!(NatsAuth::none().tls(), Tls::IfOffered);
    }
}
