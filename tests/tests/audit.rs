//! The auditing commands of the real `ledger` binary against a real `ledger-node`: `audit`
//! online and on an exported bundle, `checkpoint save` then `audit --since`, and the rows of
//! `export --csv`.
//!
//! Expected money comes from the events the tests sign (prices of the harness's rate card
//! times the units verified), never from the CLI or the node.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use ed25519_dalek::SigningKey;
use ledger_tests::api::Api;
use ledger_tests::events::{Contract, Signed, HOUSED_PRICE};
use ledger_tests::{binary, wait_until, Node};
use proto::note::{add_signatures, NoteSigner};
use proto::payload::DistributionMade;
use proto::{Body, Int};
use serde_json::Value;
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(30);

/// A node with two contracts' history, and what the test posted.
struct Scene {
    dir: TempDir,
    node: Node,
    api: Api,
    north: Contract,
    events: Vec<Signed>,
}

impl Scene {
    fn url(&self) -> String {
        self.node.url("")
    }

    fn vkey(&self) -> Result<String> {
        let info = self.api.get("/v1/node")?.json()?;
        Ok(info["verifier_key"]
            .as_str()
            .context("no verifier_key")?
            .to_owned())
    }

    fn path(&self, name: &str) -> Result<String> {
        path_str(&self.dir.path().join(name))
    }

    /// Runs `ledger --node URL ARGS...`.
    fn ledger(&self, args: &[&str]) -> Result<Output> {
        let url = self.url();
        let mut all = vec!["--node", url.as_str()];
        all.extend_from_slice(args);
        ledger(&all)
    }

    fn post(&mut self, make: impl FnOnce(&Contract) -> Result<Signed>) -> Result<Signed> {
        let signed = post(&self.api, &mut self.north, make)?;
        self.events.push(signed.clone());
        Ok(signed)
    }
}

fn path_str(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("non-UTF-8 path"))
}

fn ledger(args: &[&str]) -> Result<Output> {
    let program = binary("ledger-cli", "ledger")?;
    Ok(Command::new(program)
        .args(args)
        .env_remove("LEDGER_NODE")
        .output()?)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails unless the run exited 0; returns its stdout.
fn success(out: &Output, what: &str) -> Result<String> {
    ensure!(
        out.status.code() == Some(0),
        "{what}: exit {:?}\n{}",
        out.status.code(),
        text(out)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn post(
    api: &Api,
    contract: &mut Contract,
    make: impl FnOnce(&Contract) -> Result<Signed>,
) -> Result<Signed> {
    let signed = make(contract)?;
    let reply = api.post_event(&signed.envelope)?;
    ensure!(
        reply.status == 201,
        "{} refused: {}",
        signed.payload.kind().as_str(),
        reply.text()
    );
    contract.accept(&signed);
    Ok(signed)
}

/// North: registration, three claims (2 and 3 housed, 1 employed), two verifications (2 and
/// 3 units), a payment of both, feedback. South: registration, a claim of 1, its
/// verification. Interleaved: 11 events.
fn scene() -> Result<Scene> {
    let dir = tempfile::Builder::new().prefix("ledger-audit-").tempdir()?;
    let node = Node::start(dir.path(), &["--checkpoint-interval-ms", "20"])?;
    let api = Api::new(&node.url(""))?;
    let (mut north, mut south) = (
        Contract::new("north-housing")?,
        Contract::new("south-housing")?,
    );
    let mut events = vec![post(&api, &mut north, Contract::registered)?];
    let first = post(&api, &mut north, |c| c.claim("housed-12m", 2, 1))?;
    let second = post(&api, &mut north, |c| c.claim("housed-12m", 3, 2))?;
    events.extend([first.clone(), second.clone()]);
    events.push(post(&api, &mut north, |c| c.claim("employed-6m", 1, 3))?);
    events.push(post(&api, &mut south, Contract::registered)?);
    events.push(post(&api, &mut north, |c| c.verified(first.id, 2))?);
    let south_claim = post(&api, &mut south, |c| c.claim("housed-12m", 1, 4))?;
    events.push(south_claim.clone());
    events.push(post(&api, &mut north, |c| c.verified(second.id, 3))?);
    events.push(post(&api, &mut south, |c| c.verified(south_claim.id, 1))?);
    let lines = [(first.id, 2 * HOUSED_PRICE), (second.id, 3 * HOUSED_PRICE)];
    events.push(post(&api, &mut north, |c| {
        c.payment(&lines, 5 * HOUSED_PRICE)
    })?);
    events.push(post(&api, &mut north, |c| {
        c.feedback(first.id, "both tenants still housed")
    })?);
    wait_for_checkpoint(&api, events.len())?;
    Ok(Scene {
        dir,
        node,
        api,
        north,
        events,
    })
}

fn wait_for_checkpoint(api: &Api, size: usize) -> Result<()> {
    wait_until(WAIT, "the checkpoint covers every event", || {
        let reply = api.get("/v1/checkpoint")?;
        Ok(
            (reply.status == 200 && reply.text().lines().nth(1) == Some(&size.to_string()))
                .then_some(()),
        )
    })
}

/// The JSON lines of a `--json` run.
fn json_lines(stdout: &str) -> Result<Vec<Value>> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).with_context(|| format!("not JSON: {line}")))
        .collect()
}

/// Checks the statements and the verdict of `ledger --json audit` against the scene's events.
fn check_statements(stdout: &str, events: usize) -> Result<()> {
    let lines = json_lines(stdout)?;
    let statement = |contract: &str| {
        lines
            .iter()
            .find(|l| l["type"] == "statement" && l["contract"] == contract)
            .with_context(|| format!("no statement of {contract}"))
    };
    let north = statement("north-housing")?;
    let housed = 5 * HOUSED_PRICE;
    ensure!(
        north["verified_money"] == housed && north["paid_money"] == housed,
        "north: {north}"
    );
    ensure!(
        north["unpaid_money"] == 0 && north["currency"] == "GBP",
        "north: {north}"
    );
    let outcome = &north["outcomes"][0];
    ensure!(
        outcome["outcome"] == "housed-12m" && outcome["verified_units"] == 5,
        "{outcome}"
    );
    ensure!(
        outcome["paid_units"] == 5 && north["outcomes"][1]["verified_units"] == 0,
        "{north}"
    );
    let south = statement("south-housing")?;
    ensure!(
        south["verified_money"] == HOUSED_PRICE && south["paid_money"] == 0,
        "south: {south}"
    );
    ensure!(south["unpaid_money"] == HOUSED_PRICE, "south: {south}");
    let verdict = lines.last().context("no output")?;
    ensure!(
        verdict["type"] == "audit" && verdict["result"] == "verified",
        "{verdict}"
    );
    ensure!(
        verdict["size"] == events && verdict["contracts"] == 2,
        "{verdict}"
    );
    Ok(())
}

#[test]
fn audit_online_and_of_an_exported_bundle_verifies_and_states_the_money() -> Result<()> {
    let scene = scene()?;
    let events = scene.events.len();
    let human = success(&scene.ledger(&["audit"])?, "audit --node")?;
    ensure!(
        human.contains(&format!("audit verified: {events} events of 2 contract(s)")),
        "{human}"
    );
    ensure!(
        human.contains("GBP 7,500.00"),
        "the money of north is printed: {human}"
    );
    let vkey = scene.vkey()?;
    let online = success(
        &scene.ledger(&["--json", "audit", "--trust", &vkey])?,
        "audit --trust",
    )?;
    check_statements(&online, events)?;
    let bundle = scene.path("bundle.jsonl")?;
    success(
        &scene.ledger(&["export", "--bundle", &bundle])?,
        "export --bundle",
    )?;
    let offline = success(
        &ledger(&["--json", "audit", "--bundle", &bundle, "--trust", &vkey])?,
        "audit --bundle",
    )?;
    check_statements(&offline, events)?;
    let statements = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("\"type\":\"statement\""))
            .map(str::to_owned)
            .collect()
    };
    ensure!(
        statements(&offline) == statements(&online),
        "the bundle's statements are the node's"
    );
    Ok(())
}

#[test]
fn audit_of_a_bundle_counts_k_of_n_trusted_signers() -> Result<()> {
    let scene = scene()?;
    let vkey = scene.vkey()?;
    let bundle = scene.path("bundle.jsonl")?;
    success(
        &scene.ledger(&["export", "--bundle", &bundle])?,
        "export --bundle",
    )?;
    // A witness cosigns the checkpoint inside the bundle.
    let witness = NoteSigner::new("witness.example", SigningKey::from_bytes(&[5; 32]))
        .map_err(|e| anyhow!("{e}"))?;
    let text = std::fs::read_to_string(&bundle)?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut checkpoint: Value = serde_json::from_str(&lines[1])?;
    let note = checkpoint["note"].as_str().context("no note")?;
    let cosigned = add_signatures(note.as_bytes(), &[&witness]).map_err(|e| anyhow!("{e}"))?;
    checkpoint["note"] = Value::String(cosigned);
    lines[1] = serde_json::to_string(&checkpoint)?;
    std::fs::write(&bundle, lines.join("\n") + "\n")?;
    let both = [
        "audit",
        "--bundle",
        &bundle,
        "--trust",
        &vkey,
        "--trust",
        &witness.verifier_key(),
    ];
    let out = success(
        &ledger(&[&both[..], &["--min-signers", "2"]].concat())?,
        "2 of 2",
    )?;
    ensure!(
        out.contains("witness.example+"),
        "the witness is named among the signers: {out}"
    );
    Ok(())
}

#[test]
fn checkpoint_save_then_audit_since_proves_the_log_only_grew() -> Result<()> {
    let mut scene = scene()?;
    let saved = scene.path("q2.checkpoint")?;
    let out = success(
        &scene.ledger(&["checkpoint", "save", &saved])?,
        "checkpoint save",
    )?;
    ensure!(
        out.contains(&format!("at size {}", scene.events.len())),
        "{out}"
    );
    let note = std::fs::read_to_string(&saved)?;
    ensure!(
        note == scene.api.get("/v1/checkpoint")?.text(),
        "the file is the note as served"
    );
    // The log grows: a distribution to the investor and a second payment-free claim.
    let investor = scene.north.parties().investor.key_id();
    let intermediary = scene.north.parties().intermediary.clone();
    let body = DistributionMade {
        investor,
        amount: Int::new(500_000).context("amount")?,
        currency: "GBP".parse().map_err(|e| anyhow!("{e}"))?,
        reference: "DIST-2025-0001".parse().map_err(|e| anyhow!("{e}"))?,
    };
    let distribution = scene.post(|c| c.by(&intermediary, Body::DistributionMade(body)))?;
    scene.post(|c| c.claim("employed-6m", 2, 9))?;
    wait_for_checkpoint(&scene.api, scene.events.len())?;
    let id = distribution.id.to_hex();
    let args = [
        "audit",
        "--since",
        &saved,
        "--event",
        &id,
        "--contract",
        "south-housing",
    ];
    let out = success(&scene.ledger(&args)?, "audit --since")?;
    ensure!(out.contains("only grew"), "{out}");
    ensure!(
        out.contains("4 event(s) proven"),
        "the distribution and south's 3 events: {out}"
    );
    // Offline: the new bundle's first events hash to the saved root.
    let bundle = scene.path("q3.jsonl")?;
    success(&scene.ledger(&["export", "--bundle", &bundle])?, "export")?;
    let vkey = scene.vkey()?;
    success(
        &ledger(&[
            "audit", "--bundle", &bundle, "--trust", &vkey, "--since", &saved,
        ])?,
        "bundle --since",
    )?;
    Ok(())
}

#[test]
fn audit_since_a_checkpoint_of_another_log_fails() -> Result<()> {
    let scene = scene()?;
    let other_dir = tempfile::tempdir()?;
    let other = Node::start(other_dir.path(), &["--checkpoint-interval-ms", "20"])?;
    let other_api = Api::new(&other.url(""))?;
    let mut contract = Contract::new("elsewhere")?;
    post(&other_api, &mut contract, Contract::registered)?;
    wait_for_checkpoint(&other_api, 1)?;
    let saved = scene.path("other.checkpoint")?;
    let url = other.url("");
    success(
        &ledger(&["--node", &url, "checkpoint", "save", &saved])?,
        "save the other's",
    )?;
    let out = scene.ledger(&["audit", "--since", &saved])?;
    ensure!(
        out.status.code() == Some(1),
        "exit {:?}: {}",
        out.status.code(),
        text(&out)
    );
    ensure!(text(&out).contains("[note-unverified]"), "{}", text(&out));
    Ok(())
}

/// CSV records (the fixture's fields hold no comma or quote).
fn csv_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn export_csv_gives_one_row_per_event_and_per_payment_line() -> Result<()> {
    let scene = scene()?;
    let out = success(&scene.ledger(&["--csv", "export"])?, "export --csv")?;
    let rows = csv_rows(&out);
    let header = "index,id,at,contract,seq,kind,author,author_role,outcome,quantity,amount,currency,claim,detail";
    ensure!(rows[0].join(",") == header, "header {:?}", rows[0]);
    ensure!(rows.len() == scene.events.len() + 1, "{} rows", rows.len());
    for (row, event) in rows[1..].iter().zip(&scene.events) {
        ensure!(
            row[1] == event.id.to_hex() && row[5] == event.payload.kind().as_str(),
            "{row:?}"
        );
        ensure!(row[3] == event.payload.contract.as_str(), "{row:?}");
    }
    // Event 5: north's verification of the first claim, 2 units at the housed price.
    let verified = &rows[6];
    let expected = [
        "verifier",
        "housed-12m",
        "2",
        &(2 * HOUSED_PRICE).to_string(),
        "GBP",
    ];
    ensure!(verified[7..12] == expected, "{verified:?}");
    ensure!(verified[12] == scene.events[1].id.to_hex(), "{verified:?}");
    let payment = &rows[10];
    ensure!(
        payment[5] == "payment.made" && payment[7] == "commissioner",
        "{payment:?}"
    );
    ensure!(
        payment[10] == (5 * HOUSED_PRICE).to_string() && payment[13] == "REMIT-2025-0001",
        "{payment:?}"
    );
    let out = success(
        &scene.ledger(&["--csv", "export", "--payments"])?,
        "export --payments",
    )?;
    let lines = csv_rows(&out);
    ensure!(lines.len() == 3, "two payment lines: {lines:?}");
    for (line, (claim, units)) in lines[1..]
        .iter()
        .zip([(&scene.events[1], 2u64), (&scene.events[2], 3)])
    {
        ensure!(
            line[5] == claim.id.to_hex() && line[6] == "housed-12m",
            "{line:?}"
        );
        let amount = (units * HOUSED_PRICE).to_string();
        ensure!(
            line[7] == units.to_string()
                && line[8] == HOUSED_PRICE.to_string()
                && line[9] == amount,
            "{line:?}"
        );
    }
    let south = success(
        &scene.ledger(&["--csv", "export", "--contract", "south-housing"])?,
        "--contract",
    )?;
    ensure!(csv_rows(&south).len() == 4, "south has 3 events: {south}");
    let bundle = scene.path("bundle.jsonl")?;
    success(
        &scene.ledger(&["export", "--bundle", &bundle])?,
        "export --bundle",
    )?;
    let from_bundle = success(
        &ledger(&["--csv", "export", "--from", &bundle])?,
        "export --from",
    )?;
    ensure!(
        from_bundle == out_of(&scene, &["--csv", "export"])?,
        "rows from the bundle equal the node's"
    );
    Ok(())
}

fn out_of(scene: &Scene, args: &[&str]) -> Result<String> {
    success(&scene.ledger(args)?, "ledger")
}
