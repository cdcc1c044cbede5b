//! A real `nats-server -js` on a random loopback port with a temporary store directory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tempfile::TempDir;

use crate::node::log_tail;

/// How long `nats-server` may take to be ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

const LISTENING: &str = "Listening for client connections on ";
const READY: &str = "Server is ready";

/// A running `nats-server` with JetStream. Dropping it kills the server and removes its store.
#[derive(Debug)]
pub struct NatsServer {
    dir: TempDir,
    child: Option<Child>,
    port: u16,
}

impl NatsServer {
    /// Starts `nats-server -js -a 127.0.0.1 -p -1 -sd TMP` (`nats-server` from `PATH`, or
    /// `$NATS_SERVER`) and waits until it is ready.
    ///
    /// # Errors
    /// When it cannot be started or is not ready within [`START_TIMEOUT`].
    pub fn start() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ledger-nats-").tempdir()?;
        let mut server = Self {
            dir,
            child: None,
            port: 0,
        };
        server.spawn("-1")?;
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    fn spawn(&mut self, port: &str) -> Result<()> {
        let program = std::env::var_os("NATS_SERVER").unwrap_or_else(|| "nats-server".into());
        let mut child = Command::new(program)
            .args(["-js", "-a", "127.0.0.1", "-p", port, "-sd"])
            .arg(self.store_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting nats-server (is it on PATH?)")?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?;
        self.child = Some(child);
        let log = File::create(self.log_path())?;
        match read_port(stderr, log) {
            Ok(port) => {
                self.port = port;
                Ok(())
            }
            Err(error) => {
                self.kill()?;
                Err(error.context(format!(
                    "nats-server log:\n{}",
                    log_tail(&self.log_path(), 40)
                )))
            }
        }
    }

    /// Kills the server with SIGKILL. A no-op when it is not running.
    ///
    /// # Errors
    /// When signalling or reaping fails.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing nats-server")?;
            child.wait().context("reaping nats-server")?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and store, after killing it if it runs.
    ///
    /// # Errors
    /// As [`NatsServer::start`].
    pub fn restart(&mut self) -> Result<()> {
        self.kill()?;
        let port = self.port.to_string();
        self.spawn(&port)
    }

    /// The directory holding the store and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Copies stderr to `log` on a thread, reporting the client port once the server is ready.
fn read_port(stderr: impl Read + Send + 'static, mut log: File) -> Result<u16> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut port = None;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            writeln!(log, "{line}").ok();
            if let Some((_, address)) = line.split_once(LISTENING) {
                port = address
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse::<u16>().ok());
            }
            if line.contains(READY) {
                if let Some(port) = port.take() {
                    sender.send(port).ok();
                }
            }
        }
    });
    receiver
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| anyhow!("nats-server was not ready within {START_TIMEOUT:?}"))
}
