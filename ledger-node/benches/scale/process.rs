//! The real `ledger-node` binary as a child process, its memory from `/proc`, and the size of
//! its data directory.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long a node may take to open its store (open check and replay) and print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long a node may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READY_PREFIX: &str = "listening on http://";

/// A running `ledger-node serve`; dropping it kills the process.
pub(crate) struct NodeProcess {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// From spawn to the `listening` line.
    pub(crate) started_in: Duration,
}

impl NodeProcess {
    /// Starts the node on `data` at `127.0.0.1:0`, its stderr appended to `log`.
    pub(crate) fn start(data: &Path, log: &Path, extra: &[String]) -> Result<Self> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-node"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .context("starting ledger-node")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        match read_address(stdout) {
            Ok(addr) => Ok(Self {
                child,
                addr,
                started_in: started.elapsed(),
            }),
            Err(e) => {
                child.kill().ok();
                child.wait().ok();
                Err(e.context(format!("ledger-node did not start; see {}", log.display())))
            }
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its memory now.
    pub(crate) fn memory(&self) -> Result<Memory> {
        Memory::of(self.pid())
    }

    /// SIGTERM, then waits for a clean exit; returns how long the shutdown took.
    pub(crate) fn terminate(mut self) -> Result<Duration> {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", self.child.id());
        }
        while started.elapsed() < STOP_TIMEOUT {
            if let Some(exit) = self.child.try_wait()? {
                if !exit.success() {
                    bail!("ledger-node exited with {exit} after SIGTERM");
                }
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("ledger-node did not exit within {STOP_TIMEOUT:?} of SIGTERM")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// Reads stdout on a thread until the ready line, then keeps draining it.
fn read_address(stdout: impl std::io::Read + Send + 'static) -> Result<SocketAddr> {
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
        .map_err(|_| anyhow!("no `{READY_PREFIX}ADDR` line (the node exited or took too long)"))?;
    text.parse()
        .with_context(|| format!("reading the address in {text:?}"))
}

/// A process's memory, from `/proc/PID/status` (kB there, bytes here).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Memory {
    /// Resident set now.
    pub(crate) rss_bytes: u64,
    /// Peak resident set since the process started.
    pub(crate) hwm_bytes: u64,
    /// Anonymous part of the resident set (heap, stacks).
    pub(crate) anon_bytes: u64,
}

impl Memory {
    fn of(pid: u32) -> Result<Self> {
        let path = format!("/proc/{pid}/status");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| -> Result<u64> {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| anyhow!("{path} has no {name}"))?;
            let kb: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(kb * 1024)
        };
        Ok(Self {
            rss_bytes: field("VmRSS:")?,
            hwm_bytes: field("VmHWM:")?,
            anon_bytes: field("RssAnon:")?,
        })
    }
}

/// Bytes under `dir`: (apparent, allocated on disk).
pub(crate) fn dir_size(dir: &Path) -> Result<(u64, u64)> {
    let mut apparent = 0u64;
    let mut allocated = 0u64;
    let mut pending: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        for entry in
            std::fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))?
        {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                apparent += meta.len();
                allocated += meta.blocks() * 512;
            }
        }
    }
    Ok((apparent, allocated))
}

/// The 1-minute load average of the machine, from `/proc/loadavg`.
pub(crate) fn load_average() -> String {
    let mut text = String::new();
    if let Ok(file) = File::open("/proc/loadavg") {
        BufReader::new(file).read_line(&mut text).ok();
    }
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
