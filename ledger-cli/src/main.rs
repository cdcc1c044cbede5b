//! `ledger`: the command line of the outcome ledger, for parties, auditors and regulators.
//!
//! A thin binary: `cli.rs` is the flag list, `cmd/` runs each command, `client.rs` speaks the
//! node's `/v1` HTTP API, `output.rs` renders. Formats and rules come from `proto` and
//! `ledger-core`; the embedded demo node is `ledger-node`'s. This file maps what a command
//! returns to the exit status documented in `--help`.

mod bundle;
#[cfg(test)]
mod bundle_fuzzing;
mod cli;
mod client;
mod cmd;
mod contract_file;
mod keyfile;
mod output;
mod plan;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::cmd::{Refusal, Status};
use crate::output::Format;

/// Exit status: the ledger said no (refused, not found) or an audit found a failure.
const EXIT_REFUSED: u8 = 1;
/// Exit status: usage, IO or network error; nothing about the ledger was learnt.
const EXIT_TROUBLE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout and succeed.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_TROUBLE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let format = cli::format_of(&cli.global);
    match cmd::run(cli) {
        Ok(Status::Success) => ExitCode::SUCCESS,
        Ok(Status::Failure) => ExitCode::from(EXIT_REFUSED),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => report(&e, format),
    }
}

/// Prints the error chain (and, for a refusal, its hint and JSON line); returns the status.
fn report(error: &anyhow::Error, format: Format) -> ExitCode {
    let refusal = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Refusal>());
    if let (Some(refusal), Format::Json | Format::Csv) = (refusal, format) {
        let mut stdout = io::stdout();
        if let Ok(line) = serde_json::to_string(&refusal.json()) {
            let _ = writeln!(stdout, "{line}");
        }
    }
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "error: {error:#}");
    match refusal {
        Some(refusal) => {
            if let Some(hint) = refusal.hint() {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(EXIT_REFUSED)
        }
        None => ExitCode::from(EXIT_TROUBLE),
    }
}

/// A closed stdout (`ledger trail | head`) ends the program quietly.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
