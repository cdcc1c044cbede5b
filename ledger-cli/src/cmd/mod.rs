//! The commands. Each module takes its clap arguments and the [`Globals`], and returns a
//! [`Status`] or an error (`main.rs` maps both to the exit status).

pub(crate) mod act;
pub(crate) mod audit;
pub(crate) mod checkpoint;
pub(crate) mod demo;
pub(crate) mod export;
pub(crate) mod key;
pub(crate) mod read;

use std::io::IsTerminal;
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{Cli, Command, ContractCommand};
use crate::client::Client;
use crate::output::{Format, Output};

/// Settings every command shares, from the global options.
#[derive(Debug, Clone)]
pub(crate) struct Globals {
    /// Base URL of the node, without a trailing `/`.
    pub(crate) node: String,
    /// Directory of key files.
    pub(crate) keys_dir: PathBuf,
    /// How to print.
    pub(crate) format: Format,
    /// Whether progress bars may be drawn (stderr is a terminal and `--no-progress` is off).
    pub(crate) progress: bool,
}

impl Globals {
    /// A client of the node.
    ///
    /// # Errors
    /// If `--node` is not an http(s) URL.
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        Client::new(&self.node)
    }

    /// The renderer.
    pub(crate) fn output(&self) -> Output {
        Output::new(self.format)
    }
}

/// What a command found, when it ran to the end: exit status 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// It did what it says (for `audit`: everything verified). Exit 0.
    Success,
    /// It ran, and found that the ledger fails a check (for `audit`). Exit 1.
    Failure,
}

/// The ledger said no: the node refused an event, or something named does not exist, or the
/// CLI refuses to build an event the ledger's state makes invalid. Exit status 1.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{title}: {detail} [{code}]")]
pub(crate) struct Refusal {
    status: Option<u16>,
    code: String,
    title: String,
    detail: String,
    hint: Option<String>,
}

impl Refusal {
    /// A refusal with a stable `code`, a short `title` and a `detail`.
    pub(crate) fn new(code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status: None,
            code: code.to_owned(),
            title: title.to_owned(),
            detail: detail.into(),
            hint: None,
        }
    }

    /// The same refusal with the node's HTTP status.
    #[must_use]
    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same refusal with a hint saying what to do.
    #[must_use]
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names `contract` in the hint where it says CONTRACT.
    pub(crate) fn name_contract(&mut self, contract: &proto::ContractId) {
        if let Some(hint) = &mut self.hint {
            *hint = hint.replace("CONTRACT", contract.as_str());
        }
    }

    /// The stable code.
    pub(crate) fn code(&self) -> &str {
        &self.code
    }

    /// What to do about it, if the CLI knows.
    pub(crate) fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The `--json` line printed for it: `{"type": "refused", ...}`.
    pub(crate) fn json(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Line<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            status: Option<u16>,
            code: &'a str,
            title: &'a str,
            detail: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            hint: Option<&'a str>,
        }
        Line {
            kind: "refused",
            status: self.status,
            code: &self.code,
            title: &self.title,
            detail: &self.detail,
            hint: self.hint.as_deref(),
        }
    }
}

/// Runs the command line.
///
/// # Errors
/// What the command failed with; a [`Refusal`] in the chain means exit status 1.
pub(crate) fn run(cli: Cli) -> anyhow::Result<Status> {
    let globals = Globals {
        node: cli.global.node.trim_end_matches('/').to_owned(),
        keys_dir: cli.global.keys.clone(),
        format: crate::cli::format_of(&cli.global),
        progress: !cli.global.no_progress && std::io::stderr().is_terminal(),
    };
    match cli.command {
        Command::Key(command) => key::run(command, &globals),
        Command::Contract(ContractCommand::Register(args)) => act::register(args, &globals),
        Command::Claim(args) => act::claim(args, &globals),
        Command::VerifyClaim(args) => act::verify(args, &globals),
        Command::RejectClaim(args) => act::reject(args, &globals),
        Command::Dispute(args) => act::dispute(args, &globals),
        Command::Resolve(args) => act::resolve(args, &globals),
        Command::Feedback(args) => act::feedback(args, &globals),
        Command::Pay(args) => act::pay(args, &globals),
        Command::Distribute(args) => act::distribute(args, &globals),
        Command::Amend(args) => act::amend(args, &globals),
        Command::RevokeKey(args) => act::revoke_key(args, &globals),
        Command::EnrolKey(args) => act::enrol_key(args, &globals),
        Command::Close(args) => act::close(args, &globals),
        Command::Sign(args) => act::sign(args, &globals),
        Command::Submit(args) => act::submit(args, &globals),
        Command::State(args) => read::state(args, &globals),
        Command::Trail(args) => read::trail(args, &globals),
        Command::Show(args) => read::show(args, &globals),
        Command::Audit(args) => audit::run(&args, &globals),
        Command::Export(args) => export::run(&args, &globals),
        Command::Checkpoint(command) => checkpoint::run(&command, &globals),
        Command::Demo(args) => demo::run(args, &globals),
    }
}
