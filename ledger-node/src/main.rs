//! `ledger-node`: serve the outcome ledger over HTTP, or rebuild a store from its log.
//!
//! Exit codes: 0 success; 1 the node or the rebuild failed (the message says why: its writer
//! had stopped, or a shutdown took longer than `--shutdown-timeout-ms`); 2 usage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Once};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ledger_node::config::{Config, Settings};
use ledger_node::metrics::Metrics;
use ledger_node::service::Node;

/// jemalloc, not glibc malloc: glibc keeps what the writer's and the readers' threads free in
/// per-thread arenas, jemalloc returns freed pages to the system after a decay time (10 s by
/// default). At 10^6 events RSS after loading is 565 MiB instead of 1.7 GiB (BENCHMARKS.md,
/// Scale). Tunable at run time with `_RJEM_MALLOC_CONF`, e.g. `dirty_decay_ms:1000`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The outcome ledger node: a durable sled store of signed events, served over HTTP.
#[derive(Parser)]
#[command(name = "ledger-node", version, args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Examples:\n  ledger-node --data ./ledger-data --listen 127.0.0.1:7878\n  \
                        ledger-node rebuild --data ./ledger-data\n  \
                        ledger-node republish --data ./ledger-data --nats URL --ledger NAME\n\n\
                        Every setting can also come from a TOML file (--config) or a LEDGER_* \
                        environment variable; flags win over both."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: NodeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve(NodeArgs),
    /// Rebuild every index, the tree, projections and checkpoints from the log alone,
    /// re-verifying every event. Run it with the node stopped.
    Rebuild(NodeArgs),
    /// Re-create a replicated ledger's lost events stream from this node's store (with the
    /// node stopped; on the node with the longest log): every node then checks the new
    /// stream against its own log and follows it. See ARCHITECTURE.md, "Lost stream".
    Republish(NodeArgs),
}

#[derive(Args, Clone)]
struct NodeArgs {
    /// TOML file of settings (the same names as the flags, with underscores).
    #[arg(long, env = "LEDGER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

impl NodeArgs {
    fn resolve(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => Settings::from_toml_file(path)?,
            None => Settings::default(),
        };
        Ok(Config::resolve(self.settings.or(file))?)
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        None => runtime.block_on(serve(cli.serve.resolve()?)),
        Some(Command::Serve(args)) => runtime.block_on(serve(args.resolve()?)),
        Some(Command::Rebuild(args)) => rebuild(&args.resolve()?),
        Some(Command::Republish(args)) => runtime.block_on(republish(&args.resolve()?)),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let node = Node::open(&config, metrics.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen())
        .await
        .with_context(|| format!("listening on {}", config.listen()))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let router = ledger_node::http::router(node.clone(), config.limits(), metrics);
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}").context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
    }
    let bound = Duration::from_millis(config.shutdown_timeout_ms());
    let stop = async move {
        stop_signal().await;
        arm_shutdown_deadline(bound);
    };
    let served = ledger_node::http::serve(listener, router, config.serving(), stop).await;
    // Also when serving failed: from here on the process ends within the bound.
    arm_shutdown_deadline(bound);
    // In-flight requests have been answered; finish queued appends, checkpoint, flush.
    node.shutdown().await;
    let health = node.health();
    // The last handle of the store: sled flushes again as it closes, which can block on a
    // full disk, so it runs on a blocking thread the deadline can abandon.
    tokio::task::spawn_blocking(move || drop(node))
        .await
        .context("closing the store")?;
    served.context("serving HTTP")?;
    health.context("the node stopped, but its writer had stopped before")?;
    tracing::info!("stopped");
    Ok(())
}

/// Ends the process with status 1 if it is still running `bound` after the first call: a
/// store that cannot flush (a full disk) or a request that never ends must not keep the
/// process, and with it the store's directory lock, alive. The store is left unclosed, as
/// after a crash; the next start checks it.
fn arm_shutdown_deadline(bound: Duration) {
    static ARMED: Once = Once::new();
    ARMED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("shutdown-deadline".into())
            .spawn(move || {
                std::thread::sleep(bound);
                tracing::error!(
                    bound_ms = bound.as_millis(),
                    "shutdown did not finish in time; exiting without closing the store"
                );
                eprintln!(
                    "error: shutdown did not finish within {} ms (--shutdown-timeout-ms): the \
                     store could not be flushed (is the disk full?) or a request did not end; \
                     exiting without closing the store, the next start checks it",
                    bound.as_millis()
                );
                std::process::exit(1);
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the shutdown deadline; shutdown is unbounded");
        }
    });
}

/// Resolves on SIGTERM or ctrl-c.
async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("stop signal received; finishing in-flight requests");
}

async fn republish(config: &Config) -> anyhow::Result<()> {
    let report = ledger_node::replication::republish::republish(config).await?;
    println!(
        "republished {} events to {} (epoch {}; {} were already there); start the node: \
         every node checks the new stream against its log and follows it",
        report.events, report.stream, report.epoch, report.already
    );
    Ok(())
}

fn rebuild(config: &Config) -> anyhow::Result<()> {
    let report = ledger_node::rebuild::rebuild(config)?;
    println!(
        "rebuilt {} events of {} contracts; root {}; {} old checkpoints kept",
        report.events,
        report.contracts,
        hex::encode(report.root),
        report.checkpoints_kept
    );
    if report.events > 0 {
        println!("signed a checkpoint at size {}", report.events);
    }
    Ok(())
}
