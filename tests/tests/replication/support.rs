//! What the replication tests share: a JetStream cluster of real `nats-server` processes, a
//! rogue publisher speaking the NATS protocol straight to a server, writing clients that keep
//! track of every acknowledged event, and the convergence checks.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use ledger_tests::api::{Api, EventRecord, Reply};
use ledger_tests::events::{Contract, Signed};
use ledger_tests::verify::NoteVerifier;
use ledger_tests::{wait_until, NatsServer, Node};
use proto::EventId;
use serde_json::Value;
use tempfile::TempDir;

/// How long a condition may take to hold (a node catching up, a cluster electing leaders).
pub(crate) const WAIT: Duration = Duration::from_secs(60);
/// Checkpoints follow commits quickly, so cosigning converges fast.
pub(crate) const CHECKPOINT_INTERVAL_MS: &str = "100";

/// The ledger every test node joins.
pub(crate) const LEDGER: &str = "test-ledger";

/// A port free on loopback when asked (the cluster needs its ports before it starts).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A ledger node joining [`LEDGER`] through `nats` with one stream replica and the
/// connection flags `extra` (credentials, TLS).
pub(crate) fn start_node_with(dir: &Path, nats: &str, extra: &[&str]) -> Result<(Node, Api)> {
    let mut args = vec![
        "--nats",
        nats,
        "--ledger",
        LEDGER,
        "--checkpoint-interval-ms",
        CHECKPOINT_INTERVAL_MS,
    ];
    args.extend_from_slice(extra);
    let node = Node::start(dir, &args)?;
    let api = Api::new(&node.url(""))?;
    wait_ready(&api).with_context(|| format!("node log:\n{}", node.log_tail()))?;
    Ok((node, api))
}

/// A ledger node joining [`LEDGER`] through `nats` (one URL or a comma-separated list).
pub(crate) fn start_node(dir: &Path, nats: &str, replicas: &str) -> Result<(Node, Api)> {
    let args = [
        "--nats",
        nats,
        "--ledger",
        LEDGER,
        "--stream-replicas",
        replicas,
        "--checkpoint-interval-ms",
        CHECKPOINT_INTERVAL_MS,
    ];
    let node = Node::start(dir, &args)?;
    let api = Api::new(&node.url(""))?;
    wait_ready(&api).with_context(|| format!("node log:\n{}", node.log_tail()))?;
    Ok((node, api))
}

/// Waits until the node follows the ledger's stream (`GET /v1/replication` says ready).
pub(crate) fn wait_ready(api: &Api) -> Result<()> {
    wait_until(WAIT, "the node follows the ledger's stream", || {
        let reply = api.get("/v1/replication")?;
        ensure!(reply.status == 200, "GET /v1/replication: {}", reply.text());
        Ok((reply.json()?["status"] == "ready").then_some(()))
    })
}

/// A three-server JetStream cluster on loopback, each server with its own store.
pub(crate) struct Cluster {
    dir: TempDir,
    servers: Vec<ClusterServer>,
}

struct ClusterServer {
    child: Option<Child>,
    client_port: u16,
}

impl Cluster {
    /// Starts `count` servers routed to each other and waits until each is ready.
    pub(crate) fn start(count: usize) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("ledger-cluster-")
            .tempdir()?;
        let client_ports: Vec<u16> = (0..count).map(|_| free_port()).collect::<Result<_>>()?;
        let route_ports: Vec<u16> = (0..count).map(|_| free_port()).collect::<Result<_>>()?;
        let mut cluster = Self {
            dir,
            servers: Vec::new(),
        };
        for (i, &client_port) in client_ports.iter().enumerate() {
            let routes: Vec<String> = route_ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, port)| format!("nats://127.0.0.1:{port}"))
                .collect();
            let child = spawn_server(cluster.dir.path(), i, client_port, route_ports[i], &routes)?;
            cluster.servers.push(ClusterServer {
                child: Some(child),
                client_port,
            });
        }
        for i in 0..count {
            cluster.wait_listening(i)?;
        }
        Ok(cluster)
    }

    /// Every server's URL, comma-separated (a client fails over between them).
    pub(crate) fn urls(&self) -> String {
        let urls: Vec<String> = (0..self.servers.len()).map(|i| self.url(i)).collect();
        urls.join(",")
    }

    /// Server `i`'s URL.
    pub(crate) fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].client_port)
    }

    /// Kills server `i` with SIGKILL.
    pub(crate) fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut child) = self.servers[i].child.take() {
            child.kill().context("killing nats-server")?;
            child.wait().context("reaping nats-server")?;
        }
        Ok(())
    }

    fn wait_listening(&self, i: usize) -> Result<()> {
        let port = self.servers[i].client_port;
        let log = self.dir.path().join(format!("s{i}.log"));
        wait_until(WAIT, &format!("server {i} listens"), || {
            Ok(TcpStream::connect(("127.0.0.1", port)).ok().map(drop))
        })
        .with_context(|| ledger_tests::node::log_tail(&log, 30))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                child.kill().ok();
                child.wait().ok();
            }
        }
    }
}

fn spawn_server(
    dir: &Path,
    i: usize,
    client_port: u16,
    route_port: u16,
    routes: &[String],
) -> Result<Child> {
    let program = std::env::var_os("NATS_SERVER").unwrap_or_else(|| "nats-server".into());
    let log = std::fs::File::create(dir.join(format!("s{i}.log")))?;
    Command::new(program)
        .args(["-js", "-a", "127.0.0.1", "-p", &client_port.to_string()])
        .arg("-sd")
        .arg(dir.join(format!("store-{i}")))
        .args(["--server_name", &format!("s{i}")])
        .args(["--cluster_name", "ledger-test"])
        .args(["--cluster", &format!("nats://127.0.0.1:{route_port}")])
        .args(["--routes", &routes.join(",")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .context("starting nats-server (is it on PATH?)")
}

/// A client of the NATS protocol itself, publishing to JetStream without any node: a party
/// that bypasses the nodes.
pub(crate) struct RogueClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RogueClient {
    /// Connects to the server at `port` on loopback.
    pub(crate) fn connect(port: u16) -> Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(WAIT))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut info = String::new();
        reader.read_line(&mut info)?;
        ensure!(info.starts_with("INFO "), "expected INFO, got {info:?}");
        let mut client = Self { stream, reader };
        client.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB rogue.ack 1\r\n")?;
        Ok(client)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        Ok(self.stream.flush()?)
    }

    /// Publishes `payload` on `subject` and returns JetStream's acknowledgement (JSON).
    pub(crate) fn publish(&mut self, subject: &str, payload: &[u8]) -> Result<Value> {
        let mut command = format!("PUB {subject} rogue.ack {}\r\n", payload.len()).into_bytes();
        command.extend_from_slice(payload);
        command.extend_from_slice(b"\r\n");
        self.send(&command)?;
        loop {
            let mut line = String::new();
            ensure!(self.reader.read_line(&mut line)? > 0, "the server closed");
            if line.starts_with("PING") {
                self.send(b"PONG\r\n")?;
            } else if let Some(header) = line.strip_prefix("MSG ") {
                let size: usize = header
                    .split_whitespace()
                    .last()
                    .context("MSG without a size")?
                    .parse()?;
                let mut body = vec![0; size + 2];
                self.reader.read_exact(&mut body)?;
                body.truncate(size);
                return Ok(serde_json::from_slice(&body)?);
            } else if line.starts_with("-ERR") {
                bail!("server error: {line}");
            }
        }
    }
}

/// How a node answered one POST of one envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 201: stored at this index.
    Created(u64),
    /// 409 duplicate: already stored at this index.
    Duplicate(u64),
    /// 409 seq/prev conflict: the contract's head is `(next_seq, last)`.
    Conflict(u64, Option<EventId>),
    /// 503 with `Retry-After`.
    Unavailable,
}

/// Posts one envelope and classifies the answer; any other answer is an error.
pub(crate) fn post(api: &Api, signed: &Signed) -> Result<Answer> {
    let reply = match api.post_event(&signed.envelope) {
        Ok(reply) => reply,
        // A node killed under the client.
        Err(e) => return Err(e.context("POST /v1/events")),
    };
    classify(&reply)
        .with_context(|| format!("POST of {}: {} {}", signed.id, reply.status, reply.text()))
}

fn classify(reply: &Reply) -> Result<Answer> {
    match reply.status {
        201 => Ok(Answer::Created(json_u64(&reply.json()?["index"])?)),
        409 => {
            let json = reply.json()?;
            match json["code"].as_str() {
                Some("duplicate") => Ok(Answer::Duplicate(json_u64(&json["index"])?)),
                Some("seq-conflict" | "prev-mismatch") => {
                    let head = &json["head"];
                    let last = match head["last"].as_str() {
                        Some(id) => Some(id.parse().map_err(|e| anyhow!("head id: {e:?}"))?),
                        None => None,
                    };
                    Ok(Answer::Conflict(json_u64(&head["next_seq"])?, last))
                }
                other => bail!("unexpected 409 code {other:?}"),
            }
        }
        503 => {
            reply.problem(503, "unavailable")?;
            ensure!(
                reply.header("retry-after") == "1",
                "503 without Retry-After: 1"
            );
            Ok(Answer::Unavailable)
        }
        status => bail!("unexpected status {status}"),
    }
}

fn json_u64(value: &Value) -> Result<u64> {
    value
        .as_u64()
        .with_context(|| format!("{value} is not a u64"))
}

/// What writing clients share with the test: every acknowledged event, and counters.
#[derive(Default)]
pub(crate) struct Ledgerbook {
    acked: Mutex<Vec<(EventId, u64)>>,
    /// Events acknowledged (201 or 409 duplicate after a 503).
    pub(crate) acks: AtomicU64,
    /// 503 answers seen.
    pub(crate) unavailable: AtomicU64,
    /// Set to stop the clients.
    pub(crate) stop: AtomicBool,
}

impl Ledgerbook {
    fn record(&self, id: EventId, index: u64) {
        self.acked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, index));
        self.acks.fetch_add(1, Ordering::SeqCst);
    }

    /// The acknowledged events (id, index).
    pub(crate) fn acked(&self) -> Vec<(EventId, u64)> {
        self.acked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the test asked the clients to stop.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Posts `signed` until a definitive answer: 503s are retried (the same envelope, so a stored
/// one comes back as a duplicate), as a client honouring `Retry-After` does.
pub(crate) fn post_until_answered(api: &Api, signed: &Signed, book: &Ledgerbook) -> Result<Answer> {
    wait_until(
        WAIT,
        &format!("a definitive answer for {}", signed.id),
        || match post(api, signed)? {
            Answer::Unavailable => {
                book.unavailable.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            }
            answer => Ok(Some(answer)),
        },
    )
}

/// Registers `contract` through `api` (a registration another client made first comes back
/// as a duplicate: it is the same signed event) and then makes `claims` claims, or stops early
/// when asked. Other clients may write to the same contract: a conflict rebases on the head
/// the node reports.
pub(crate) fn write_claims(
    api: &Api,
    mut contract: Contract,
    claims: u64,
    nonce_base: u64,
    book: &Ledgerbook,
) -> Result<()> {
    let mut made = 0;
    while made < claims && !book.stopping() {
        let signed = if contract.next_seq() == 0 {
            contract.registered()?
        } else {
            contract.claim("housed-12m", 1, nonce_base + made)?
        };
        match post_until_answered(api, &signed, book)? {
            Answer::Created(index) | Answer::Duplicate(index) => {
                book.record(signed.id, index);
                contract.accept(&signed);
                if signed.payload.seq.get() > 0 {
                    made += 1;
                }
            }
            Answer::Conflict(next_seq, last) => contract.rebase(next_seq, last),
            Answer::Unavailable => bail!("post_until_answered returned a 503"),
        }
    }
    Ok(())
}

/// Runs `work` on a thread per item; every error is reported.
pub(crate) fn in_threads<T: Send + 'static>(
    items: Vec<T>,
    work: impl Fn(T) -> Result<()> + Send + Sync + 'static,
) -> Result<()> {
    let work = Arc::new(work);
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| {
            let work = Arc::clone(&work);
            std::thread::spawn(move || work(item))
        })
        .collect();
    let mut errors = Vec::new();
    for handle in handles {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("{e:#}")),
            Err(_) => errors.push("a thread panicked".into()),
        }
    }
    ensure!(errors.is_empty(), "{}", errors.join("\n"));
    Ok(())
}

/// `(size, root)` of a node.
pub(crate) fn head(api: &Api) -> Result<(u64, String)> {
    let json = api.get("/v1/node")?.json()?;
    let size = json_u64(&json["size"])?;
    let root = json["root"].as_str().context("root")?.to_owned();
    Ok((size, root))
}

/// Waits until every node holds `size` events with one root, then checks that their logs,
/// contract lists and projections are identical; returns the log.
pub(crate) fn converged(apis: &[&Api], size: u64) -> Result<Vec<EventRecord>> {
    wait_until(WAIT, &format!("every node holds {size} events"), || {
        let heads: Vec<(u64, String)> = apis.iter().map(|api| head(api)).collect::<Result<_>>()?;
        let all_there = heads.iter().all(|h| h.0 == size);
        if all_there {
            ensure!(
                heads.iter().all(|h| h.1 == heads[0].1),
                "nodes of size {size} disagree on the root: {heads:?}"
            );
        }
        Ok(all_there.then_some(()))
    })?;
    let log = apis[0].log_all(1_000)?;
    ensure!(log.len() as u64 == size, "log of {} events", log.len());
    for api in &apis[1..] {
        ensure!(
            api.log_all(1_000)? == log,
            "{} serves another log",
            api.base()
        );
    }
    let contracts = apis[0].get("/v1/contracts")?.json()?;
    for api in &apis[1..] {
        ensure!(
            api.get("/v1/contracts")?.json()? == contracts,
            "contract lists differ"
        );
    }
    let ids: HashSet<&str> = log.iter().map(|e| e.contract.as_str()).collect();
    for id in ids {
        let path = format!("/v1/contracts/{id}");
        let state = apis[0].get(&path)?.json()?;
        for api in &apis[1..] {
            ensure!(
                api.get(&path)?.json()? == state,
                "projections of {id} differ"
            );
        }
    }
    Ok(log)
}

/// Every acknowledged event is in `log` exactly once at its acknowledged index, and the log
/// holds nothing else.
pub(crate) fn exactly_the_acknowledged(
    log: &[EventRecord],
    acked: &[(EventId, u64)],
) -> Result<()> {
    let mut positions: BTreeMap<String, u64> = BTreeMap::new();
    for event in log {
        ensure!(
            positions.insert(event.id.clone(), event.index).is_none(),
            "event {} is in the log twice",
            event.id
        );
    }
    for (id, index) in acked {
        let found = positions.get(&id.to_hex());
        ensure!(
            found == Some(index),
            "acknowledged event {id} at {index} is at {found:?}"
        );
    }
    let acked_ids: HashSet<String> = acked.iter().map(|(id, _)| id.to_hex()).collect();
    ensure!(
        acked_ids.len() == log.len(),
        "{} distinct events acknowledged, {} in the log",
        acked_ids.len(),
        log.len()
    );
    Ok(())
}

/// Waits until every node serves a latest checkpoint of `size` signed by every node's key.
pub(crate) fn cosigned(apis: &[&Api], size: u64) -> Result<String> {
    let verifiers: Vec<NoteVerifier> = apis
        .iter()
        .map(|api| {
            let json = api.get("/v1/node")?.json()?;
            NoteVerifier::parse(json["verifier_key"].as_str().context("verifier_key")?)
        })
        .collect::<Result<_>>()?;
    let mut note = String::new();
    wait_until(WAIT, &format!("every node cosigns size {size}"), || {
        for api in apis {
            let reply = api.get("/v1/checkpoint")?;
            if reply.status != 200 {
                return Ok(None);
            }
            let text = reply.text();
            let body_size = text.lines().nth(1).unwrap_or_default();
            if body_size != size.to_string() || !verifiers.iter().all(|v| v.open(&text).is_ok()) {
                return Ok(None);
            }
            note = text;
        }
        Ok(Some(()))
    })?;
    Ok(note)
}

/// A NATS server and three nodes joined to the ledger through it.
pub(crate) struct Trio {
    /// The server.
    pub(crate) nats: NatsServer,
    /// The nodes.
    pub(crate) nodes: Vec<Node>,
    /// Their clients.
    pub(crate) apis: Vec<Api>,
    /// Their directories.
    pub(crate) dirs: Vec<TempDir>,
}

impl Trio {
    /// Starts a server and three nodes.
    pub(crate) fn start() -> Result<Self> {
        let nats = NatsServer::start()?;
        let mut trio = Self {
            nats,
            nodes: Vec::new(),
            apis: Vec::new(),
            dirs: Vec::new(),
        };
        for _ in 0..3 {
            trio.add_node()?;
        }
        Ok(trio)
    }

    /// Starts one more node on an empty directory.
    pub(crate) fn add_node(&mut self) -> Result<()> {
        let dir = tempfile::Builder::new().prefix("ledger-repl-").tempdir()?;
        let (node, api) = start_node(dir.path(), &self.nats.url(), "1")?;
        self.nodes.push(node);
        self.apis.push(api);
        self.dirs.push(dir);
        Ok(())
    }

    /// References to every client.
    pub(crate) fn apis(&self) -> Vec<&Api> {
        self.apis.iter().collect()
    }

    /// The last lines of every node's log, for failures.
    pub(crate) fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| format!("--- node {i}:\n{}", node.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The envelope with its first signature's last byte flipped: a forgery under the right key id.
pub(crate) fn forge(envelope: &[u8]) -> Result<Vec<u8>> {
    let decoded = proto::dsse::Envelope::decode(envelope).map_err(|e| anyhow!("{e}"))?;
    let mut signatures = decoded.signatures().to_vec();
    let first = signatures.first_mut().context("no signature")?;
    let mut sig = *first.sig();
    sig[63] ^= 0x01;
    *first = proto::dsse::Signature::new(*first.keyid(), sig);
    let forged = proto::dsse::Envelope::new(
        decoded.payload_type(),
        decoded.payload().to_vec(),
        signatures,
    )
    .map_err(|e| anyhow!("{e}"))?;
    Ok(forged.to_jcs())
}
