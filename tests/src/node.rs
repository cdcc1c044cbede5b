//! A real `ledger-node` process on a loopback port.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::binary;
use crate::wait_until;

/// How long a node may take to open its store and print its address.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const READY_PREFIX: &str = "listening on http://";

/// A running (or stopped) `ledger-node serve` process.
///
/// The node's data directory is `dir/data` and its stderr (the tracing log) is appended to
/// `dir/node.log` across restarts. Dropping the handle kills the process.
#[derive(Debug)]
pub struct Node {
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    addr: SocketAddr,
}

impl Node {
    /// Starts `ledger-node serve --data DIR/data --listen 127.0.0.1:0 EXTRA...` and waits
    /// for its `listening on http://ADDR` line.
    ///
    /// # Errors
    /// When the binary cannot be built or started, or it exits or stays silent past
    /// [`START_TIMEOUT`]; the error holds the tail of its log.
    pub fn start(dir: &Path, extra: &[&str]) -> Result<Self> {
        let args = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let mut node = Self {
            dir: dir.to_owned(),
            args,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        node.spawn()?;
        Ok(node)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The log file (the node's stderr).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    /// The address the node listens on (it changes on restart).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) -> Result<()> {
        let program = binary("ledger-node", "ledger-node")?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut child = Command::new(program)
            .arg("serve")
            .arg("--data")
            .arg(self.data_dir())
            .args(["--listen", "127.0.0.1:0"])
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting ledger-node")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        self.child = Some(child);
        match read_address(stdout) {
            Ok(addr) => {
                self.addr = addr;
                Ok(())
            }
            Err(error) => {
                self.kill()?;
                Err(error.context(format!(
                    "ledger-node did not start; log:\n{}",
                    self.log_tail()
                )))
            }
        }
    }

    /// Kills the process with SIGKILL and reaps it. A no-op when it is not running.
    ///
    /// # Errors
    /// When signalling or reaping fails.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing ledger-node")?;
            child.wait().context("reaping ledger-node")?;
        }
        Ok(())
    }

    /// Asks the process to stop with SIGTERM and waits for it to exit.
    ///
    /// # Errors
    /// When it is not running, or does not exit within [`STOP_TIMEOUT`].
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("ledger-node is not running")
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", child.id());
        }
        let exit = wait_until(STOP_TIMEOUT, "ledger-node exits after SIGTERM", || {
            Ok(child.try_wait()?)
        });
        if exit.is_err() {
            child.kill().ok();
            child.wait().ok();
        }
        exit
    }

    /// Starts the process again on the same data directory with the same arguments (on a new
    /// port), after killing it if it still runs.
    ///
    /// # Errors
    /// As [`Node::start`].
    pub fn restart(&mut self) -> Result<()> {
        self.kill()?;
        self.spawn()
    }

    /// The exit status, if the process has exited (then the handle forgets it).
    ///
    /// # Errors
    /// When polling the process fails.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let status = child.try_wait()?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// The last lines of the node's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path(), 40)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Reads stdout on a thread until the ready line, then keeps draining it so the node never
/// blocks on a full pipe.
fn read_address(stdout: impl Read + Send + 'static) -> Result<SocketAddr> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(addr) = line.trim().strip_prefix(READY_PREFIX) {
                    sent = sender.send(addr.trim_end_matches('/').to_owned()).is_ok();
                }
            }
        }
    });
    let text = receiver
        .recv_timeout(START_TIMEOUT)
        .map_err(|error| match error {
            mpsc::RecvTimeoutError::Timeout => {
                anyhow!("no `{READY_PREFIX}ADDR` line on stdout within {START_TIMEOUT:?}")
            }
            mpsc::RecvTimeoutError::Disconnected => {
                anyhow!(
                    "ledger-node closed its stdout (exited) before printing `{READY_PREFIX}ADDR`"
                )
            }
        })?;
    text.parse()
        .with_context(|| format!("reading the address in `{READY_PREFIX}{text}`"))
}

/// The last `lines` lines of a text file (empty when it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        file.read_to_string(&mut text).ok();
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
