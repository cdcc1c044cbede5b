//! `ledger demo`: starts a ledger node in this process, creates the keys of every party, plays
//! a realistic outcomes programme (or, with `--events N`, N events over many contracts)
//! against it over HTTP, then audits the whole log from scratch and prints the statement.

mod calendar;
mod cast;
mod node;
mod scale;
mod story;

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use self::cast::Cast;
use self::node::{EmbeddedNode, Stop};
use self::story::Story;
use crate::client::Client;
use crate::cmd::{Globals, Refusal, Status};
use crate::output::{group_thousands, short, Output};

pub(crate) const DEMO_EXAMPLES: &str = "\
Examples:
  ledger demo                          # a temporary node, a three-year programme, the audit
  ledger demo --data ./demo --keep     # keep the node and its data; query it from another shell
  ledger demo --events 100000          # 100,000 events over 200 contracts, then the audit
  ledger --json demo | jq -c 'select(.type==\"statement\")'

Everything runs in this process: a ledger node (its sled store in a temporary directory
unless --data) serving HTTP on a free loopback port, and the parties' key files (under
DIR/keys). The same --seed gives the same keys, people and numbers.";

/// `ledger demo`
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the node's store and the key files in DIR instead of a temporary directory
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Instead of the story, append N events over many contracts (500 events each)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    events: Option<u64>,
    /// Seed of every key, person and number
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Leave the node running after the demo, until ctrl-c, to try other commands on it
    #[arg(long)]
    keep: bool,
}

/// Runs `ledger demo`.
///
/// # Errors
/// The node cannot start; an event is refused (a bug of the demo); the audit cannot run.
pub(crate) fn run(args: DemoArgs, globals: &Globals) -> anyhow::Result<Status> {
    let temporary = match &args.data {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("ledger-demo-")
                .tempdir()
                .context("cannot make a temporary directory")?,
        ),
    };
    let data_dir = match (&args.data, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_owned(),
        (None, None) => anyhow::bail!("no data directory"),
    };
    let stop = if args.keep {
        Stop::OnInterrupt
    } else {
        Stop::WhenAsked
    };
    let node = EmbeddedNode::start(&data_dir.join("node"), stop)?;
    let client = Client::new(node.url())?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let cast = Cast::new(&mut rng, &data_dir.join("keys"))?;
    let mut narrator = Narrator {
        out: globals.output(),
    };
    introduce(&mut narrator, &args, &node, &cast, temporary.is_some())?;
    let node_globals = Globals {
        node: node.url().to_owned(),
        ..globals.clone()
    };
    let status = match args.events {
        Some(events) => play_at_scale(&mut narrator, &client, &cast, events, &args, &node_globals)?,
        None => play_story(&mut narrator, &client, &cast, rng, &args, &node_globals)?,
    };
    if args.keep {
        narrator.line(format!(
            "\nThe node keeps running at {url}; press ctrl-c to stop it. Try, in another shell:\n  \
             ledger --node {url} trail --limit 20\n  ledger --node {url} audit",
            url = node.url()
        ))?;
    }
    node.stop()?;
    Ok(status)
}

/// Prints narration for people, or `{"type": "demo", "text": ...}` lines with `--json`.
pub(super) struct Narrator {
    out: Output,
}

#[derive(Serialize)]
struct Line<'a> {
    text: &'a str,
}

impl Narrator {
    /// One line (or several) of narration.
    ///
    /// # Errors
    /// Writing failed.
    pub(super) fn line(&mut self, text: impl Display) -> anyhow::Result<()> {
        let text = text.to_string();
        self.out.say(&text)?;
        self.out.json("demo", &Line { text: &text })?;
        self.out.flush()?;
        Ok(())
    }
}

fn introduce(
    narrator: &mut Narrator,
    args: &DemoArgs,
    node: &EmbeddedNode,
    cast: &Cast,
    temporary: bool,
) -> anyhow::Result<()> {
    narrator.line(format!(
        "The outcome ledger demo (seed {})\n\n\
         Every event below is signed by the party that makes it, sent over HTTP to a ledger node\n\
         running in this process, checked against the contract's rules and appended to a Merkle log.\n",
        args.seed
    ))?;
    let kept = if temporary {
        "deleted at the end; --data DIR keeps it"
    } else {
        "kept"
    };
    narrator.line(format!(
        "node  {} (store in {}, {kept})",
        node.url(),
        node.data_dir().display()
    ))?;
    let keys_dir = node
        .data_dir()
        .parent()
        .map(|d| d.join("keys"))
        .unwrap_or_default();
    narrator.line(format!(
        "keys  one key file per party, mode 0600, in {}",
        keys_dir.display()
    ))?;
    for member in cast.members() {
        narrator.line(format!(
            "      {:<16} {:<40} key {}",
            member.role.as_str(),
            member.name,
            short(member.key.key_id())
        ))?;
    }
    narrator.line("")
}

fn play_story(
    narrator: &mut Narrator,
    client: &Client,
    cast: &Cast,
    rng: StdRng,
    args: &DemoArgs,
    globals: &Globals,
) -> anyhow::Result<Status> {
    let contract: proto::ContractId = format!("fcf-manchester-{}", args.seed).parse()?;
    if client.contract(&contract).is_ok() {
        return Err(Refusal::new(
            "already-registered",
            "demo already played here",
            format!("contract {contract} is already in this store"),
        )
        .with_hint("use another --seed, or a fresh --data directory")
        .into());
    }
    narrator.line(
        "A homelessness outcomes contract in the style of the Fair Chance Fund: young people aged 18-24,\n\
         paid on accommodation sustained 3, 6 and 12 months, played quarter by quarter for three years.\n",
    )?;
    let started = Instant::now();
    let mut story = Story::new(client, cast, narrator, contract.clone(), rng)?;
    story.play()?;
    let events = story.events();
    narrator.line(format!(
        "\n{events} events appended in {:.1} s. The contract now:\n",
        started.elapsed().as_secs_f64()
    ))?;
    let state = client.contract(&contract)?;
    crate::cmd::read::print_state(&mut narrator.out, &state, false)?;
    narrator.out.flush()?;
    audit(narrator, globals)
}

fn play_at_scale(
    narrator: &mut Narrator,
    client: &Client,
    cast: &Cast,
    events: u64,
    args: &DemoArgs,
    globals: &Globals,
) -> anyhow::Result<Status> {
    narrator.line(format!(
        "Appending {} events over many contracts (monthly claims, verifications, payments, distributions),\n\
         built and signed on worker threads and posted in batches of 256.",
        group_thousands(events)
    ))?;
    let scaled = scale::run(client, cast, events, args.seed, globals.progress)?;
    let rate = scaled.events as f64 / scaled.seconds.max(f64::EPSILON);
    narrator.line(format!(
        "appended {} events over {} contracts in {:.1} s: {} events/s, each durable when acknowledged",
        group_thousands(scaled.events),
        group_thousands(scaled.contracts),
        scaled.seconds,
        group_thousands(rate as u64)
    ))?;
    audit(narrator, globals)
}

/// Longest wait for the node to sign a checkpoint of the whole log.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(10);

/// Waits until the node's latest signed checkpoint covers its whole log (it signs at most
/// every [`node`]'s interval, and catches up after it).
fn wait_for_checkpoint(client: &Client) -> anyhow::Result<()> {
    let deadline = Instant::now() + CHECKPOINT_WAIT;
    loop {
        let size = client.node_info()?.size;
        if signed_size(client)? >= size {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the node signed no checkpoint of its whole log within {CHECKPOINT_WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The size of the node's latest signed checkpoint (0 before its first).
fn signed_size(client: &Client) -> anyhow::Result<u64> {
    let note = match client.checkpoint() {
        Ok(note) => note,
        Err(e)
            if e.downcast_ref::<Refusal>()
                .is_some_and(|r| r.code() == "checkpoint-not-found") =>
        {
            return Ok(0)
        }
        Err(e) => return Err(e),
    };
    let opened = proto::note::parse_unverified(note.as_bytes())
        .context("the node's checkpoint does not parse")?;
    let signed = proto::note::Checkpoint::parse(opened.text())
        .context("the node's checkpoint does not parse")?;
    Ok(signed.size())
}

/// Runs `ledger audit` against the embedded node, as a user would.
fn audit(narrator: &mut Narrator, globals: &Globals) -> anyhow::Result<Status> {
    use clap::FromArgMatches;
    narrator.line("\nNow the audit: every envelope, signature, rule and the Merkle root, verified from scratch.\n")?;
    wait_for_checkpoint(&globals.client()?)?;
    let command = <crate::cmd::audit::AuditArgs as Args>::augment_args(clap::Command::new("audit"));
    let matches = command
        .try_get_matches_from(["audit"])
        .context("cannot build the audit's arguments")?;
    let args = crate::cmd::audit::AuditArgs::from_arg_matches(&matches)?;
    let _ = std::io::stdout().flush();
    crate::cmd::audit::run(&args, globals)
}
