//! Disk-full test (issue 9, finding 7): the real `ledger-node` on a small tmpfs, filled by
//! appends until the node answers 503.
//!
//! - once the writer stopped, `/healthz` and `/readyz` fail with problem documents
//!   (`writer-stopped`) and `ledger_writer_up` is 0;
//! - SIGTERM ends the process within a bounded wait (the node's `--shutdown-timeout-ms`, well
//!   inside the harness's stop timeout), with a failure status: its writer had stopped;
//! - its directory lock is released: after the tmpfs is grown, a new node opens the same
//!   directory and serves every event that was acknowledged 201, at its index, and takes
//!   appends again.
//!
//! And without a full disk: a shutdown held up by a request that never ends stops at the
//! node's deadline, with status 1 and the lock released.
//!
//! Mounting needs root (the test command runs as root in CI); where `mount` fails the test
//! prints `skipped: cannot mount tmpfs (...)` to stderr and passes. The tmpfs is unmounted at
//! the end, on failure too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use ledger_tests::api::{check_problem, Api, EventRecord};
use ledger_tests::events::{Contract, Signed};
use ledger_tests::{wait_until, Node};

/// The tmpfs the node starts on: room for a few thousand small events.
const SMALL: &str = "size=6m";
/// The tmpfs after it is grown for the restart.
const LARGE: &str = "size=64m";
/// Envelopes per append request while filling the disk.
const BATCH_EVENTS: usize = 32;
/// Appends give up if the disk never fills (a tmpfs that ignored its size).
const EVENTS_MAX: u64 = 200_000;
/// The node's bound on its shutdown.
const SHUTDOWN_TIMEOUT_MS: &str = "5000";
const CONTRACT: &str = "disk-full-1";
const WAIT: Duration = Duration::from_secs(30);

/// A mounted tmpfs, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `options` on `path`; `Ok(None)` (after saying why on stderr) where
    /// this process cannot mount.
    fn mount(path: &Path, options: &str) -> Result<Option<Self>> {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .output();
        match output {
            Ok(output) if output.status.success() => Ok(Some(Self {
                path: path.to_owned(),
            })),
            Ok(output) => {
                eprintln!(
                    "skipped: cannot mount tmpfs ({}: {}); the disk-full test needs root",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                Ok(None)
            }
            Err(error) => {
                eprintln!("skipped: cannot mount tmpfs (running mount: {error})");
                Ok(None)
            }
        }
    }

    /// Grows (or shrinks) the mounted tmpfs to `options`.
    fn remount(&self, options: &str) -> Result<()> {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .context("running mount -o remount")?;
        ensure!(status.success(), "mount -o remount,{options}: {status}");
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process that outlived the test): detach it so the directory goes.
            let lazy = Command::new("umount").arg("-l").arg(&self.path).status();
            if !lazy.is_ok_and(|s| s.success()) {
                eprintln!("cannot unmount the tmpfs at {}", self.path.display());
            }
        }
    }
}

/// An append acknowledged 201.
struct Ack {
    id: String,
    index: u64,
}

#[test]
fn a_full_disk_fails_the_probes_and_shutdown_still_ends_and_frees_the_store() -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-disk-full-")
        .tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    let Some(tmpfs) = Tmpfs::mount(&data, SMALL)? else {
        return Ok(());
    };
    // Declared after the tmpfs, so the process is gone before it is unmounted.
    let mut node = Node::start(dir.path(), &["--shutdown-timeout-ms", SHUTDOWN_TIMEOUT_MS])?;
    let acks = fill(&Api::new(&node.url(""))?)
        .with_context(|| format!("filling the disk; node log:\n{}", node.log_tail()))?;
    ensure!(!acks.is_empty(), "the disk was full before any append");

    let api = Api::new(&node.url(""))?;
    check_probes_fail(&api).with_context(|| format!("node log:\n{}", node.log_tail()))?;
    let stopping = Instant::now();
    let status = node
        .terminate()
        .with_context(|| format!("SIGTERM on a full disk; node log:\n{}", node.log_tail()))?;
    ensure!(
        !status.success(),
        "a node whose writer stopped exited with {status} after SIGTERM"
    );

    let stop = format!(
        "exited with {status} {:.1} s after SIGTERM",
        stopping.elapsed().as_secs_f64()
    );
    let deadline_hit =
        std::fs::read_to_string(node.log_path())?.contains("shutdown did not finish");
    tmpfs.remount(LARGE)?;
    node.restart()
        .context("a new node on the same directory (is its lock still held?)")?;
    let api = Api::new(&node.url(""))?;
    let log =
        check_served(&api, &acks).with_context(|| format!("node log:\n{}", node.log_tail()))?;
    ensure!(
        api.get("/readyz")?.status == 200,
        "the restarted node is not ready"
    );
    let more = fill_once(&api, &mut contract_after(&log)?)?;
    ensure!(more.is_some(), "the restarted node refused an append");
    println!(
        "disk full after {} acknowledged events; {stop}{}; all served after the restart",
        acks.len(),
        if deadline_hit {
            " (at the shutdown deadline)"
        } else {
            ""
        }
    );
    node.terminate()?;
    Ok(())
}

#[test]
fn a_shutdown_held_up_by_a_request_ends_at_its_deadline_and_frees_the_store() -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-stuck-stop-")
        .tempdir()?;
    let mut node = Node::start(dir.path(), &["--shutdown-timeout-ms", "1000"])?;
    // A request whose body never comes: the 100 Continue proves the node is reading it.
    let mut stuck = TcpStream::connect(node.addr())?;
    stuck.set_read_timeout(Some(WAIT))?;
    stuck.write_all(
        b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    )?;
    let mut answer = [0u8; 25];
    stuck.read_exact(&mut answer)?;
    ensure!(
        answer.starts_with(b"HTTP/1.1 100"),
        "expected 100 Continue, got {:?}",
        String::from_utf8_lossy(&answer)
    );
    let status = node
        .terminate()
        .with_context(|| format!("SIGTERM with a request open; log:\n{}", node.log_tail()))?;
    ensure!(
        !status.success(),
        "a shutdown past its deadline exited with {status}"
    );
    let log = std::fs::read_to_string(node.log_path())?;
    ensure!(
        log.contains("shutdown did not finish within 1000 ms"),
        "no deadline error in the log:\n{}",
        node.log_tail()
    );
    drop(stuck);
    node.restart()
        .context("a new node on the same directory (is its lock still held?)")?;
    let api = Api::new(&node.url(""))?;
    ensure!(
        api.get("/healthz")?.status == 200,
        "the restarted node is not healthy"
    );
    node.terminate()?;
    Ok(())
}

/// Appends claims until an append is answered 503; returns every one acknowledged 201.
fn fill(api: &Api) -> Result<Vec<Ack>> {
    let mut contract = Contract::new(CONTRACT)?;
    let registered = contract.registered()?;
    let reply = api.post_event(&registered.envelope)?;
    ensure!(
        reply.status == 201,
        "registration: {} {}",
        reply.status,
        reply.text()
    );
    let mut acks = vec![ack_of(&reply.json()?, &registered)?];
    contract.accept(&registered);
    while u64::try_from(acks.len())? < EVENTS_MAX {
        match fill_once(api, &mut contract)? {
            Some(batch) => acks.extend(batch),
            None => return Ok(acks),
        }
    }
    bail!("{EVENTS_MAX} events appended and the disk is not full: is the tmpfs bounded?")
}

/// One batch of claims at the contract's head: `Some` with the acknowledgements if all were
/// accepted, `None` once one is answered 503 (those acknowledged before it are kept out:
/// the caller stops).
fn fill_once(api: &Api, contract: &mut Contract) -> Result<Option<Vec<Ack>>> {
    let mut events: Vec<Signed> = Vec::with_capacity(BATCH_EVENTS);
    let mut head = contract.clone();
    for _ in 0..BATCH_EVENTS {
        let event = head.claim("housed-12m", 1, head.next_seq())?;
        head.accept(&event);
        events.push(event);
    }
    let envelopes: Vec<&[u8]> = events.iter().map(|e| e.envelope.as_slice()).collect();
    let reply = api.post_events(&envelopes)?;
    ensure!(
        reply.status == 200,
        "batch: {} {}",
        reply.status,
        reply.text()
    );
    let json = reply.json()?;
    let results = json["results"].as_array().context("results")?;
    ensure!(results.len() == events.len(), "{} results", results.len());
    let mut acks = Vec::new();
    for (result, event) in results.iter().zip(&events) {
        match result["status"].as_u64() {
            Some(201) => {
                acks.push(ack_of(result, event)?);
                contract.accept(event);
            }
            Some(503) => {
                check_problem(&result["problem"], 503, "unavailable")?;
                return Ok(None);
            }
            _ => bail!("append of {} answered {result}", event.id),
        }
    }
    Ok(Some(acks))
}

/// The acknowledgement of `event` in an answer `{id, index, ...}`.
fn ack_of(answer: &serde_json::Value, event: &Signed) -> Result<Ack> {
    ensure!(
        answer["id"] == event.id.to_hex(),
        "acknowledged {}",
        answer["id"]
    );
    Ok(Ack {
        id: event.id.to_hex(),
        index: answer["index"].as_u64().context("index")?,
    })
}

/// Both probes answer 503 `writer-stopped` problems, and the gauge says the writer is down.
fn check_probes_fail(api: &Api) -> Result<()> {
    for probe in ["/healthz", "/readyz"] {
        let problem = api.get(probe)?.problem(503, "writer-stopped")?;
        let detail = problem["detail"].as_str().context("detail")?;
        ensure!(
            detail.contains("restart") && detail.contains("free space"),
            "{probe} does not say what to do: {detail}"
        );
    }
    let metrics = api.get("/metrics")?.text();
    ensure!(
        metrics.contains("ledger_writer_up 0\n"),
        "the writer gauge is not 0:\n{metrics}"
    );
    Ok(())
}

/// Every acknowledged event is served, at its index, and nothing is in the log twice; returns
/// the log.
fn check_served(api: &Api, acks: &[Ack]) -> Result<Vec<EventRecord>> {
    let log = wait_until(WAIT, "the restarted node serves its log", || {
        Ok(api.log_all(1_000).ok())
    })?;
    for ack in acks {
        let entry = usize::try_from(ack.index).ok().and_then(|i| log.get(i));
        let Some(entry) = entry else {
            bail!(
                "acknowledged event {} at index {} is missing (log of {})",
                ack.id,
                ack.index,
                log.len()
            )
        };
        ensure!(
            entry.id == ack.id,
            "index {} holds {}, not {}",
            ack.index,
            entry.id,
            ack.id
        );
        let reply = api.get(&format!("/v1/events/{}", ack.id))?;
        ensure!(
            reply.status == 200,
            "event {}: {} {}",
            ack.id,
            reply.status,
            reply.text()
        );
    }
    let mut ids: Vec<&str> = log.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ensure!(
        ids.windows(2).all(|w| w[0] != w[1]),
        "an event is in the log twice"
    );
    Ok(log)
}

/// The test contract at its head in `log`.
fn contract_after(log: &[EventRecord]) -> Result<Contract> {
    let mut contract = Contract::new(CONTRACT)?;
    let stream: Vec<&EventRecord> = log.iter().filter(|e| e.contract == CONTRACT).collect();
    let head = stream.last().context("the contract has no events")?;
    contract.rebase(u64::try_from(stream.len())?, Some(head.id.parse()?));
    Ok(contract)
}
