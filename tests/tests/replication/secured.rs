//! A `nats-server -js` from a configuration file, for the connection options: a server that
//! admits one NKey user, a server that speaks only TLS, a server of one operator's JWT users.
//! Keys, certificates and JWTs are made here, in the test, with `nkeys` and `rcgen`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ledger_tests::wait_until;
use serde_json::json;
use tempfile::TempDir;

use super::support::{free_port, WAIT};

/// A running `nats-server -c FILE`; dropping it kills the server.
pub(crate) struct ConfiguredServer {
    dir: TempDir,
    child: Option<Child>,
    port: u16,
}

impl ConfiguredServer {
    /// Starts a server on a free loopback port with JetStream in its own store and `extra`
    /// appended to its configuration; waits until it accepts connections.
    pub(crate) fn start(dir: TempDir, extra: &str) -> Result<Self> {
        let port = free_port()?;
        let store = dir.path().join("store");
        let config = format!(
            "listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: {store:?} }}\n{extra}\n"
        );
        let config_path = dir.path().join("server.conf");
        std::fs::write(&config_path, config)?;
        let program = std::env::var_os("NATS_SERVER").unwrap_or_else(|| "nats-server".into());
        let log = std::fs::File::create(dir.path().join("nats.log"))?;
        let child = Command::new(program)
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting nats-server (is it on PATH?)")?;
        let server = Self {
            dir,
            child: Some(child),
            port,
        };
        wait_until(WAIT, "the configured nats-server listens", || {
            Ok(TcpStream::connect(("127.0.0.1", port)).ok().map(drop))
        })
        .with_context(|| server.log())?;
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's log.
    pub(crate) fn log(&self) -> String {
        ledger_tests::node::log_tail(&self.dir.path().join("nats.log"), 30)
    }
}

impl Drop for ConfiguredServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A new NKey user: (public key, seed).
pub(crate) fn nkey_user() -> Result<(String, String)> {
    let pair = nkeys::KeyPair::new_user();
    let seed = pair.seed().map_err(|e| anyhow!("user seed: {e}"))?;
    Ok((pair.public_key(), seed))
}

/// A CA and a server certificate for 127.0.0.1 it signed, as PEM files in `dir`: returns
/// (CA certificate, server certificate, server key).
pub(crate) fn tls_files(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ledger test CA");
    let ca_key = rcgen::KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;
    let server_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
    let server_key = rcgen::KeyPair::generate()?;
    let server = server_params.signed_by(&server_key, &ca, &ca_key)?;
    Ok((
        write(dir, "ca.pem", &ca.pem())?,
        write(dir, "server.pem", &server.pem())?,
        write(dir, "server-key.pem", &server_key.serialize_pem())?,
    ))
}

/// A JWT of `claims` (the `nats` part), issued by `issuer` for `subject`.
fn jwt(
    issuer: &nkeys::KeyPair,
    subject: &str,
    name: &str,
    nats: serde_json::Value,
) -> Result<String> {
    let header = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "ed25519-nkey"}).to_string());
    let claims = json!({
        "jti": format!("{}{}", name.to_uppercase(), subject.len()),
        "iat": 1_700_000_000,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{claims}");
    let signature = issuer
        .sign(signed.as_bytes())
        .map_err(|e| anyhow!("signing a JWT: {e}"))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// An operator, one account with JetStream and one user of it: the server's configuration
/// (operator JWT, memory resolver preloaded with the account) and the user's credentials
/// file text.
pub(crate) fn operator_setup() -> Result<(String, String)> {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "op",
        json!({"type": "operator", "version": 2}),
    )?;
    let unlimited = json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
        "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
    });
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "ledger",
        json!({"type": "account", "version": 2, "limits": unlimited}),
    )?;
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        "node",
        json!({"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}),
    )?;
    // JetStream needs a system account.
    let system = nkeys::KeyPair::new_account();
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        json!({"type": "account", "version": 2}),
    )?;
    let server = format!(
        "operator: {operator_jwt}\nsystem_account: {system}\nresolver: MEMORY\n\
         resolver_preload: {{ {account}: {account_jwt}, {system}: {system_jwt} }}\n",
        account = account.public_key(),
        system = system.public_key(),
    );
    let seed = user.seed().map_err(|e| anyhow!("user seed: {e}"))?;
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    );
    Ok((server, creds))
}
