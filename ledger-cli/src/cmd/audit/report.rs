//! What `ledger audit` prints: a statement per contract and the verdict, as tables and
//! sentences for people or JSON lines (`statement`, then `audit`) for programs.

use std::io;

use ledger_core::merkle::Hash;
use ledger_core::projection::ContractState;
use ledger_core::Statement;
use proto::Role;
use serde::Serialize;

use super::finding::{Finding, Stop};
use super::replay::Replay;
use super::trust::{Trust, Trusted};
use crate::cmd::{Globals, Status};
use crate::output::{group_thousands, money, table_of, Output};

/// What a successful audit verified.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The log's origin.
    pub(crate) origin: String,
    /// Events verified (the checkpoint's size).
    pub(crate) size: u64,
    /// The Merkle root verified.
    pub(crate) root: Hash,
    /// The trusted keys that signed the checkpoint.
    pub(crate) signers: Vec<String>,
    /// How many had to.
    pub(crate) min_signers: usize,
    /// Every contract's statement after the replay, by contract id (empty for the
    /// proof-based check).
    pub(crate) contracts: Vec<ContractReport>,
    /// Further checks that passed, as sentences.
    pub(crate) notes: Vec<String>,
}

impl Verified {
    /// What a replay that reached `checkpoint` verified.
    pub(crate) fn of_replay(replay: &Replay, checkpoint: &Trusted, trust: &Trust) -> Self {
        let mut contracts: Vec<ContractReport> = replay
            .ledger()
            .contracts()
            .map(ContractReport::of)
            .collect();
        contracts.sort_by(|a, b| a.statement.contract.cmp(&b.statement.contract));
        Self {
            contracts,
            ..Self::of_checkpoint(checkpoint, trust)
        }
    }

    /// What verifying `checkpoint` alone established.
    pub(crate) fn of_checkpoint(checkpoint: &Trusted, trust: &Trust) -> Self {
        Self {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: checkpoint.root(),
            signers: checkpoint.signers().to_vec(),
            min_signers: trust.min_signers(),
            contracts: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// What the audit prints of one contract: its statement, title and parties.
#[derive(Debug)]
pub(crate) struct ContractReport {
    statement: Statement,
    title: String,
    parties: Vec<(String, Role)>,
}

impl ContractReport {
    fn of(state: &ContractState) -> Self {
        let parties = state
            .parties()
            .iter()
            .map(|p| (p.name().to_string(), p.role()))
            .collect();
        Self {
            statement: Statement::of(state),
            title: state.title().to_string(),
            parties,
        }
    }
}

/// The final JSON line.
#[derive(Serialize)]
struct Verdict<'a> {
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contracts: Option<usize>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    signers: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    checks: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a Finding>,
}

/// Prints the outcome of an audit and gives the status it exits with.
///
/// # Errors
/// The audit could not check ([`Stop::Trouble`]), or printing failed.
pub(crate) fn print(outcome: Result<Verified, Stop>, globals: &Globals) -> anyhow::Result<Status> {
    let mut out = globals.output();
    match outcome {
        Ok(verified) => {
            print_verified(&mut out, &verified)?;
            Ok(Status::Success)
        }
        Err(Stop::Failed(finding)) => {
            print_failure(&mut out, &finding)?;
            Ok(Status::Failure)
        }
        Err(Stop::Trouble(error)) => Err(error),
    }
}

fn print_failure(out: &mut Output, finding: &Finding) -> io::Result<()> {
    out.say(format!(
        "audit FAILED ({} check): {finding}",
        finding.check.as_str()
    ))?;
    let verdict = Verdict {
        result: "failed",
        origin: None,
        size: None,
        root: None,
        contracts: None,
        signers: &[],
        checks: &[],
        failure: Some(finding),
    };
    out.json("audit", &verdict)?;
    out.flush()
}

fn print_verified(out: &mut Output, verified: &Verified) -> io::Result<()> {
    for report in &verified.contracts {
        out.json("statement", &report.statement)?;
        if out.is_human() {
            print_statement(out, report)?;
        }
    }
    out.say(summary(verified))?;
    let verdict = Verdict {
        result: "verified",
        origin: Some(&verified.origin),
        size: Some(verified.size),
        root: Some(verified.root.to_string()),
        contracts: Some(verified.contracts.len()),
        signers: &verified.signers,
        checks: &verified.notes,
        failure: None,
    };
    out.json("audit", &verdict)?;
    out.flush()
}

fn summary(verified: &Verified) -> String {
    let mut text = format!(
        "audit verified: {} events of {} contract(s) in log {}\n  Merkle root {} matches the \
         checkpoint signed by {} (at least {} trusted signer(s) required)",
        group_thousands(verified.size),
        verified.contracts.len(),
        verified.origin,
        verified.root,
        verified.signers.join(", "),
        verified.min_signers
    );
    for note in &verified.notes {
        text.push_str("\n  ");
        text.push_str(note);
    }
    text
}

fn print_statement(out: &mut Output, report: &ContractReport) -> io::Result<()> {
    let statement = &report.statement;
    let currency = statement.currency.as_str();
    let cash = |amount: proto::Amount| money(amount.get(), currency);
    out.say(format!(
        "Contract {} ({}), {currency}",
        statement.contract, report.title
    ))?;
    let headers = [
        "outcome",
        "price",
        "verified",
        "verified money",
        "paid",
        "paid money",
        "unpaid",
        "unpaid money",
        "cap units left",
    ];
    let rows = statement
        .outcomes
        .iter()
        .map(|line| {
            vec![
                line.outcome.to_string(),
                cash(line.price),
                group_thousands(line.verified_units.get()),
                cash(line.verified_money),
                group_thousands(line.paid_units.get()),
                cash(line.paid_money),
                group_thousands(line.unpaid_units.get()),
                cash(line.unpaid_money),
                group_thousands(line.cap_units_left.get()),
            ]
        })
        .collect();
    out.say(table_of(&headers, &[1, 2, 3, 4, 5, 6, 7, 8], rows))?;
    out.say(table_of(
        &["party", "role", "money"],
        &[],
        party_rows(report),
    ))?;
    out.say(format!(
        "Verified {}, paid {}, unpaid {}, clawback due {}, cap left {}\n",
        cash(statement.verified_money),
        cash(statement.paid_money),
        cash(statement.unpaid_money),
        cash(statement.clawback_money),
        cash(statement.cap_left)
    ))
}

/// Money by party: what the commissioner paid, what the provider side received, kept and
/// distributed, and what each investor received.
fn party_rows(report: &ContractReport) -> Vec<Vec<String>> {
    let statement = &report.statement;
    let currency = statement.currency.as_str();
    let cash = |amount: proto::Amount| money(amount.get(), currency);
    let receiver = if report
        .parties
        .iter()
        .any(|(_, role)| *role == Role::Intermediary)
    {
        Role::Intermediary
    } else {
        Role::Provider
    };
    let mut rows = Vec::new();
    for (name, role) in &report.parties {
        let text = match *role {
            Role::Commissioner => format!(
                "paid {} for outcomes; clawback due to it {}",
                cash(statement.paid_money),
                cash(statement.clawback_money)
            ),
            role if role == receiver => format!(
                "received {}; distributed {}; retained {}",
                cash(statement.paid_money),
                cash(statement.distributed),
                cash(statement.retained)
            ),
            Role::Investor => {
                let line = statement.investors.iter().find(|i| i.name.as_str() == name);
                let received = line.map_or(proto::Int::ZERO, |l| l.distributed);
                format!("received {}", cash(received))
            }
            _ => continue,
        };
        rows.push(vec![name.clone(), role.as_str().to_owned(), text]);
    }
    rows
}
