//! Tampered audit bundles: the real `ledger audit --bundle` must catch every change and name
//! it, with exit status 1.
//!
//! One bundle is made once per test process from a real `ledger-node` (two contracts of a
//! housing outcomes programme, posted with the harness's event builder) and exported with the
//! real `ledger export --bundle`. Each test changes a copy of it: one byte anywhere in any
//! envelope (seeded positions, including inside base64 payloads and signatures), a dropped
//! event, swapped events, a changed checkpoint (size, root, signature), a signature by a key
//! outside the contract or outside the trusted set, too few trusted signers. What each must
//! fail with is reasoned from the format (SPEC.md sections 3, 5, 6 and 7), not taken from the
//! auditor's output.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use ed25519_dalek::SigningKey;
use ledger_tests::api::Api;
use ledger_tests::events::{Contract, Signed};
use ledger_tests::verify::{leaf_hash, root_of};
use ledger_tests::{binary, wait_until, Node};
use proto::dsse::{self, Envelope};
use proto::note::{sign_note, NoteSigner};
use proto::payload::PAYLOAD_TYPE;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
/// The prefix of every event line up to the index digits (SPEC.md 7.1, as the writer emits).
const EVENT_PREFIX: &str = "{\"type\":\"event\",\"index\":";
/// Seed of the byte positions changed.
const SEED: u64 = 0x7a3b_e11d;
/// Random one-byte changes tried, besides the targeted ones.
const RANDOM_CHANGES: usize = 48;

/// The bundle every test tampers with, and what the test knows about it.
struct Fixture {
    /// The bundle's lines, without newlines.
    lines: Vec<String>,
    /// The node's checkpoint verifier key.
    vkey: String,
    /// Envelope bytes of each event, in log order, as posted.
    envelopes: Vec<Vec<u8>>,
    /// Contract id of each event, in log order.
    contracts: Vec<String>,
    /// Event id of each event, in log order.
    ids: Vec<String>,
}

impl Fixture {
    /// Line number (0-based) of the first event line.
    fn first_event_line(&self) -> usize {
        self.lines.len() - self.envelopes.len()
    }

    /// The line of event `index`.
    fn event_line(&self, index: usize) -> &str {
        &self.lines[self.first_event_line() + index]
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| match make_fixture() {
        Ok(fixture) => fixture,
        Err(error) => panic!("making the bundle failed: {error:#}"),
    })
}

/// Posts `make(contract)` and moves the contract's head.
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

/// Two contracts, interleaved: north (registration, three claims, two verifications, a
/// payment, feedback) and south (registration, a claim, its verification).
fn post_history(api: &Api) -> Result<Vec<Signed>> {
    let (mut north, mut south) = (
        Contract::new("north-housing")?,
        Contract::new("south-housing")?,
    );
    let mut events = vec![post(api, &mut north, Contract::registered)?];
    let first = post(api, &mut north, |c| c.claim("housed-12m", 2, 1))?;
    let second = post(api, &mut north, |c| c.claim("housed-12m", 3, 2))?;
    events.extend([first.clone(), second.clone()]);
    events.push(post(api, &mut north, |c| c.claim("employed-6m", 1, 3))?);
    events.push(post(api, &mut south, Contract::registered)?);
    events.push(post(api, &mut north, |c| c.verified(first.id, 2))?);
    let south_claim = post(api, &mut south, |c| c.claim("housed-12m", 1, 4))?;
    events.push(south_claim.clone());
    events.push(post(api, &mut north, |c| c.verified(second.id, 3))?);
    events.push(post(api, &mut south, |c| c.verified(south_claim.id, 1))?);
    let lines = [(first.id, 300_000), (second.id, 450_000)];
    events.push(post(api, &mut north, |c| c.payment(&lines, 750_000))?);
    events.push(post(api, &mut north, |c| {
        c.feedback(first.id, "both tenants still housed")
    })?);
    Ok(events)
}

fn make_fixture() -> Result<Fixture> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-tamper-")
        .tempdir()?;
    let node = Node::start(dir.path(), &["--checkpoint-interval-ms", "20"])?;
    let api = Api::new(&node.url(""))?;
    let events = post_history(&api)?;
    wait_for_checkpoint(&api, events.len())?;
    let vkey = api.get("/v1/node")?.json()?["verifier_key"]
        .as_str()
        .context("no verifier_key in /v1/node")?
        .to_owned();
    let bundle = dir.path().join("bundle.jsonl");
    let out = ledger(&[
        "--node",
        &node.url(""),
        "export",
        "--bundle",
        path_str(&bundle)?,
    ])?;
    ensure!(
        out.status.code() == Some(0),
        "export failed: {}",
        text(&out)
    );
    let lines = std::fs::read_to_string(&bundle)?
        .lines()
        .map(str::to_owned)
        .collect();
    Ok(Fixture {
        lines,
        vkey,
        envelopes: events.iter().map(|e| e.envelope.clone()).collect(),
        contracts: events
            .iter()
            .map(|e| e.payload.contract.to_string())
            .collect(),
        ids: events.iter().map(|e| e.id.to_hex()).collect(),
    })
}

/// Waits until the node's latest checkpoint covers `size` events.
fn wait_for_checkpoint(api: &Api, size: usize) -> Result<()> {
    wait_until(WAIT, "the checkpoint covers every event", || {
        let reply = api.get("/v1/checkpoint")?;
        let text = reply.text();
        Ok((reply.status == 200 && text.lines().nth(1) == Some(&size.to_string())).then_some(()))
    })
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", path.display()))
}

/// Runs the real `ledger` binary.
fn ledger(args: &[&str]) -> Result<Output> {
    let program = binary("ledger-cli", "ledger")?;
    Ok(Command::new(program)
        .args(args)
        .env_remove("LEDGER_NODE")
        .output()?)
}

/// Stdout and stderr of a run.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Audits `lines` as a bundle with extra arguments; returns the exit code and the output.
fn audit(lines: &[String], extra: &[&str]) -> Result<(Option<i32>, String)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bundle.jsonl");
    let mut bytes: Vec<u8> = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    std::fs::write(&path, bytes)?;
    let mut args = vec!["audit", "--bundle", path_str(&path)?];
    args.extend_from_slice(extra);
    let out = ledger(&args)?;
    Ok((out.status.code(), text(&out)))
}

/// Audits `lines` trusting the node's key; it must fail (exit 1) with every `needles` in
/// the output.
fn must_fail(lines: &[String], needles: &[&str], what: &str) -> Result<()> {
    let vkey = &fixture().vkey;
    let (code, output) = audit(lines, &["--trust", vkey])?;
    ensure!(
        code == Some(1),
        "{what}: exit status {code:?}, not 1:\n{output}"
    );
    for needle in needles {
        ensure!(
            output.contains(needle),
            "{what}: {needle:?} not in the output:\n{output}"
        );
    }
    Ok(())
}

/// Replaces the byte at `position` of event `index`'s envelope with `byte`.
fn with_byte(fixture: &Fixture, index: usize, position: usize, byte: u8) -> Result<Vec<String>> {
    let mut lines = fixture.lines.clone();
    let line = &mut lines[fixture.first_event_line() + index];
    let start = line.find(",\"envelope\":").context("no envelope member")? + ",\"envelope\":".len();
    let mut bytes = line.clone().into_bytes();
    bytes[start + position] = byte;
    *line = String::from_utf8(bytes).map_err(|_| anyhow!("a non-UTF-8 change"))?;
    Ok(lines)
}

#[test]
fn the_untouched_bundle_verifies() -> Result<()> {
    let fixture = fixture();
    let (code, output) = audit(&fixture.lines, &["--trust", &fixture.vkey])?;
    ensure!(code == Some(0), "exit {code:?}:\n{output}");
    ensure!(
        output.contains(&format!("{} events", fixture.envelopes.len())),
        "{output}"
    );
    // The bundle holds each envelope exactly as it was posted (its RFC 8785 bytes).
    for (index, envelope) in fixture.envelopes.iter().enumerate() {
        let expected = format!(
            "{EVENT_PREFIX}{index},\"envelope\":{}}}",
            String::from_utf8_lossy(envelope)
        );
        ensure!(
            fixture.event_line(index) == expected,
            "event line {index} differs"
        );
    }
    Ok(())
}

#[test]
fn one_byte_changed_anywhere_in_any_envelope_is_caught() -> Result<()> {
    let fixture = fixture();
    let mut rng = StdRng::seed_from_u64(SEED);
    for case in 0..RANDOM_CHANGES {
        let index = rng.gen_range(0..fixture.envelopes.len());
        let envelope = &fixture.envelopes[index];
        let position = rng.gen_range(0..envelope.len());
        let byte = loop {
            let candidate = rng.gen_range(0x20u8..0x7f);
            if candidate != envelope[position] {
                break candidate;
            }
        };
        let what = format!(
            "case {case}: event {index} byte {position} {:?} -> {:?}",
            envelope[position] as char, byte as char
        );
        must_fail(
            &with_byte(fixture, index, position, byte)?,
            &[&format!("event {index}")],
            &what,
        )?;
    }
    Ok(())
}

/// The position of the `n`th byte inside the string value of `member` of an envelope.
fn inside(envelope: &[u8], member: &str, n: usize) -> Result<usize> {
    let text = std::str::from_utf8(envelope)?;
    let key = format!("\"{member}\":\"");
    Ok(text.find(&key).context("member not found")? + key.len() + n)
}

/// Flips a base64 character to another base64 character.
fn other_base64(byte: u8) -> u8 {
    if byte == b'A' {
        b'B'
    } else {
        b'A'
    }
}

#[test]
fn a_changed_signature_byte_fails_that_signature() -> Result<()> {
    let fixture = fixture();
    // Event 1 is a claim signed by the provider alone. Byte 20 of the signature's base64 is
    // inside R: still valid base64, same length, so only the signature check can fail.
    let position = inside(&fixture.envelopes[1], "sig", 20)?;
    let lines = with_byte(
        fixture,
        1,
        position,
        other_base64(fixture.envelopes[1][position]),
    )?;
    must_fail(
        &lines,
        &["event 1", &fixture.ids[1], "[invalid-signature]"],
        "signature byte",
    )
}

#[test]
fn a_changed_payload_byte_is_caught_at_its_event() -> Result<()> {
    let fixture = fixture();
    // Inside the base64 of the payload, at the start, the middle and near the end.
    for index in [0, 4, 10] {
        let length = fixture.envelopes[index].len();
        for n in [0, length / 4, length / 3] {
            let position = inside(&fixture.envelopes[index], "payload", n)?;
            let lines = with_byte(
                fixture,
                index,
                position,
                other_base64(fixture.envelopes[index][position]),
            )?;
            must_fail(
                &lines,
                &[&format!("event {index}")],
                &format!("payload byte {n} of event {index}"),
            )?;
        }
    }
    Ok(())
}

/// The event lines with their `index` members renumbered 0, 1, ... in line order.
fn renumbered(fixture: &Fixture, mut events: Vec<String>) -> Vec<String> {
    for (index, line) in events.iter_mut().enumerate() {
        let envelope_at = line.find(",\"envelope\":").unwrap_or(line.len());
        *line = format!("{EVENT_PREFIX}{index}{}", &line[envelope_at..]);
    }
    let mut lines = fixture.lines[..fixture.first_event_line()].to_vec();
    lines.extend(events);
    lines
}

fn event_lines(fixture: &Fixture) -> Vec<String> {
    fixture.lines[fixture.first_event_line()..].to_vec()
}

#[test]
fn a_dropped_event_is_caught() -> Result<()> {
    let fixture = fixture();
    let mut lines = fixture.lines.clone();
    lines.remove(fixture.first_event_line() + 6);
    // Line of event 6 now holds event 7: out of order.
    must_fail(
        &lines,
        &["event 6", "[bundle-format]"],
        "dropped, indexes kept",
    )?;
    let mut events = event_lines(fixture);
    events.remove(6);
    // Renumbered, south's verification (now event 7) is its contract's second event but
    // carries seq 2: the chain breaks before the bundle runs out of events.
    must_fail(
        &renumbered(fixture, events),
        &["event 7", "[seq-conflict]"],
        "dropped, renumbered",
    )
}

#[test]
fn swapped_events_are_caught() -> Result<()> {
    let fixture = fixture();
    let mut lines = fixture.lines.clone();
    let first = fixture.first_event_line();
    lines.swap(first + 1, first + 2);
    must_fail(
        &lines,
        &["event 1", "[bundle-format]"],
        "swapped, indexes kept",
    )?;
    // Two events of one contract, renumbered: event 1 now carries seq 2.
    let mut events = event_lines(fixture);
    events.swap(1, 2);
    ensure!(
        fixture.contracts[1] == fixture.contracts[2],
        "events 1 and 2 share a contract"
    );
    must_fail(
        &renumbered(fixture, events),
        &["event 1", "[seq-conflict]"],
        "same contract",
    )?;
    // Events 3 and 4 are of two contracts: each chain still holds, only the root differs.
    let mut events = event_lines(fixture);
    events.swap(3, 4);
    ensure!(
        fixture.contracts[3] != fixture.contracts[4],
        "events 3 and 4 are of two contracts"
    );
    must_fail(
        &renumbered(fixture, events),
        &["[root-mismatch]"],
        "two contracts",
    )
}

/// The lines with the checkpoint note changed by `change`.
fn with_note(fixture: &Fixture, change: impl Fn(&str) -> String) -> Result<Vec<String>> {
    let mut lines = fixture.lines.clone();
    let mut line: Value = serde_json::from_str(&lines[1])?;
    let note = line["note"].as_str().context("no note")?.to_owned();
    line["note"] = Value::String(change(&note));
    lines[1] = serde_json::to_string(&line)?;
    Ok(lines)
}

#[test]
fn a_changed_checkpoint_is_caught() -> Result<()> {
    let fixture = fixture();
    let size = fixture.envelopes.len();
    let bigger = with_note(fixture, |note| {
        note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1)
    })?;
    must_fail(&bigger, &["[note-invalid-signature]"], "checkpoint size")?;
    let other_root = root_of(
        &fixture.envelopes[..size - 1]
            .iter()
            .map(|e| leaf_hash(e))
            .collect::<Vec<_>>(),
    );
    let other_root = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, other_root);
    let rooted = with_note(fixture, |note| {
        let old = note.lines().nth(2).unwrap_or_default().to_owned();
        note.replacen(&old, &other_root, 1)
    })?;
    must_fail(&rooted, &["[note-invalid-signature]"], "checkpoint root")?;
    // A character of the signature (after the 4-byte key id): same key, bad signature.
    let signed = with_note(fixture, |note| {
        let at = note.trim_end().len() - 10;
        let mut bytes = note.as_bytes().to_vec();
        bytes[at] = other_base64(bytes[at]);
        String::from_utf8_lossy(&bytes).into_owned()
    })?;
    must_fail(
        &signed,
        &["[note-invalid-signature]"],
        "checkpoint signature",
    )
}

#[test]
fn a_checkpoint_signed_by_an_untrusted_key_is_refused() -> Result<()> {
    let fixture = fixture();
    // A forger drops the last event and signs a checkpoint that matches the rest exactly,
    // under the log's name but with its own key.
    let size = fixture.envelopes.len() - 1;
    let root = root_of(
        &fixture.envelopes[..size]
            .iter()
            .map(|e| leaf_hash(e))
            .collect::<Vec<_>>(),
    );
    let note: Value = serde_json::from_str(&fixture.lines[1])?;
    let origin = note["note"]
        .as_str()
        .and_then(|n| n.lines().next())
        .context("no origin")?;
    let body = format!(
        "{origin}\n{size}\n{}\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, root)
    );
    let forger =
        NoteSigner::new(origin, SigningKey::from_bytes(&[7; 32])).map_err(|e| anyhow!("{e}"))?;
    let forged = sign_note(&body, &[&forger]).map_err(|e| anyhow!("{e}"))?;
    let mut lines = fixture.lines.clone();
    lines.pop();
    lines[0] = lines[0].replacen(
        &format!("\"size\":{}", size + 1),
        &format!("\"size\":{size}"),
        1,
    );
    lines[1] = serde_json::to_string(&serde_json::json!({"type": "checkpoint", "note": forged}))?;
    must_fail(&lines, &["[note-unverified]"], "forged checkpoint")?;
    // Trusting the forger's key instead, the same bundle verifies: the check is the trust.
    let (code, output) = audit(&lines, &["--trust", &forger.verifier_key()])?;
    ensure!(
        code == Some(0),
        "trusting the forger: exit {code:?}:\n{output}"
    );
    Ok(())
}

#[test]
fn an_event_signed_by_a_key_outside_the_contract_is_refused() -> Result<()> {
    let fixture = fixture();
    // Event 6 (a verification) re-signed by an outsider over the same payload.
    let envelope = Envelope::decode(&fixture.envelopes[6]).map_err(|e| anyhow!("{e}"))?;
    let outsider = SigningKey::from_bytes(&[9; 32]);
    let signature = dsse::sign(PAYLOAD_TYPE, envelope.payload(), &outsider);
    let forged = Envelope::new(PAYLOAD_TYPE, envelope.payload().to_vec(), vec![signature])
        .map_err(|e| anyhow!("{e}"))?;
    let mut lines = fixture.lines.clone();
    let line = fixture.first_event_line() + 6;
    lines[line] = format!(
        "{EVENT_PREFIX}6,\"envelope\":{}}}",
        String::from_utf8_lossy(&forged.to_jcs())
    );
    must_fail(
        &lines,
        &["event 6", &fixture.ids[6]],
        "outsider's signature",
    )
}

#[test]
fn too_few_trusted_signers_is_a_failure() -> Result<()> {
    let fixture = fixture();
    let witness = NoteSigner::new("witness.example", SigningKey::from_bytes(&[11; 32]))
        .map_err(|e| anyhow!("{e}"))?;
    let (code, output) = audit(
        &fixture.lines,
        &[
            "--trust",
            &fixture.vkey,
            "--trust",
            &witness.verifier_key(),
            "--min-signers",
            "2",
        ],
    )?;
    ensure!(code == Some(1), "exit {code:?}:\n{output}");
    ensure!(output.contains("[note-quorum-not-met]"), "{output}");
    // Asking for more signers than keys trusted is a usage error: nothing was checked.
    let (code, output) = audit(
        &fixture.lines,
        &["--trust", &fixture.vkey, "--min-signers", "2"],
    )?;
    ensure!(code == Some(2), "exit {code:?}:\n{output}");
    Ok(())
}
