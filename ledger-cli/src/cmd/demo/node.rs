//! The demo's embedded node: `ledger_node`'s real service and HTTP API on a thread of its own,
//! listening on a free loopback port, so that the demo speaks HTTP to it like any client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use ledger_node::config::{Config, Settings};
use ledger_node::metrics::Metrics;
use ledger_node::service::Node;
use tokio::sync::oneshot;

/// Worker threads of the node's runtime: the machine's cores, at most 4 (the CLI's own
/// threads need the rest).
const NODE_THREADS_MAX: usize = 4;

/// Least time between two signed checkpoints: short, so the audit at the end of the demo
/// finds the whole log under a signed checkpoint without waiting long.
const CHECKPOINT_INTERVAL_MS: u64 = 50;

/// How the node thread ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// When [`EmbeddedNode::stop`] is called.
    WhenAsked,
    /// Only on ctrl-c (`--keep`).
    OnInterrupt,
}

/// A node running in this process.
pub(super) struct EmbeddedNode {
    url: String,
    data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl EmbeddedNode {
    /// Opens (or creates) the store in `data_dir` and serves it on `127.0.0.1:0`.
    ///
    /// # Errors
    /// The store cannot be opened, or the port cannot be bound.
    pub(super) fn start(data_dir: &Path, stop: Stop) -> anyhow::Result<Self> {
        let settings = Settings {
            data_dir: Some(data_dir.to_owned()),
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            origin: Some("outcome-ledger/demo".to_owned()),
            checkpoint_interval_ms: Some(CHECKPOINT_INTERVAL_MS),
            ..Settings::default()
        };
        let config = Config::resolve(settings).context("the demo node's settings are invalid")?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("demo-node".to_owned())
            .spawn(move || run_node(&config, &ready_tx, shutdown_rx, stop))
            .context("cannot start the demo node's thread")?;
        let address = match ready_rx.recv() {
            Ok(Ok(address)) => address,
            Ok(Err(error)) => return Err(error.context("the demo node did not start")),
            Err(_) => return Err(join_error(thread)),
        };
        Ok(Self {
            url: format!("http://{address}"),
            data_dir: data_dir.to_owned(),
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// Its base URL.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Its data directory.
    pub(super) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Asks it to stop (unless it waits for ctrl-c), waits for it, and flushes.
    ///
    /// # Errors
    /// The node failed while serving or shutting down.
    pub(super) fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the demo node's thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedNode {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn join_error(thread: JoinHandle<anyhow::Result<()>>) -> anyhow::Error {
    match thread.join() {
        Ok(Err(error)) => error.context("the demo node did not start"),
        _ => anyhow::anyhow!("the demo node's thread ended before it started serving"),
    }
}

/// The node thread: a runtime, the node, the HTTP server until shutdown.
fn run_node(
    config: &Config,
    ready: &mpsc::Sender<anyhow::Result<SocketAddr>>,
    shutdown: oneshot::Receiver<()>,
    stop: Stop,
) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(NODE_THREADS_MAX));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("cannot start the demo node's runtime")?;
    runtime.block_on(async {
        let (node, listener, metrics) = match open(config).await {
            Ok(opened) => opened,
            Err(error) => {
                let _ = ready.send(Err(error));
                return Ok(());
            }
        };
        let address = listener
            .local_addr()
            .context("the demo node's socket has no address")?;
        let _ = ready.send(Ok(address));
        let app = ledger_node::http::router(node.clone(), config.limits(), metrics);
        let signal = shutdown_signal(shutdown, stop);
        let served = ledger_node::http::serve(listener, app, config.serving(), signal).await;
        node.shutdown().await;
        served.context("the demo node's HTTP server failed")
    })
}

async fn open(config: &Config) -> anyhow::Result<(Node, tokio::net::TcpListener, Arc<Metrics>)> {
    let metrics = Arc::new(Metrics::new());
    let node = Node::open(config, metrics.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen())
        .await
        .with_context(|| format!("cannot listen on {}", config.listen()))?;
    Ok((node, listener, metrics))
}

async fn shutdown_signal(shutdown: oneshot::Receiver<()>, stop: Stop) {
    match stop {
        Stop::WhenAsked => {
            let _ = shutdown.await;
        }
        Stop::OnInterrupt => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
