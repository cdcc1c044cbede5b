//! The `ledger` command line, run as a real process against a real `ledger-node` process:
//! every command's happy path, and its failures with a clear message and the documented exit
//! status (0 success, 1 the ledger said no, 2 could not do it).
//!
//! Expected values come from the contract the tests write and from arithmetic done here
//! (price x units, SHA-256 of a public key), never from the CLI's own output of another
//! command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use ledger_tests::{binary, wait_until, Node};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// Checkpoints follow commits quickly, so `show` finds its event under one soon.
const FAST_CHECKPOINTS: [&str; 2] = ["--checkpoint-interval-ms", "20"];
const WAIT: Duration = Duration::from_secs(20);

/// Rate card of the test contract, in pence.
const PRICE_3M: u64 = 150_000;
const PRICE_12M: u64 = 400_000;

const PARTIES: [(&str, &str); 7] = [
    ("commissioner", "commissioner"),
    ("provider", "provider"),
    ("investor-a", "investor"),
    ("investor-b", "investor"),
    ("intermediary", "intermediary"),
    ("verifier", "verifier"),
    ("beneficiary-rep", "beneficiary_rep"),
];

/// What one run of `ledger` did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit 0, or an error with everything it printed.
    fn ok(self) -> Result<Self> {
        ensure!(
            self.code == 0,
            "ledger failed ({}):\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        Ok(self)
    }

    /// Exit `code` with `needle` in stderr.
    fn fails(self, code: i32, needle: &str) -> Result<Self> {
        ensure!(
            self.code == code && self.stderr.contains(needle),
            "expected exit {code} and {needle:?} in stderr, got {}:\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
        Ok(self)
    }

    /// The JSON lines of stdout (with `--json`).
    fn lines(&self) -> Result<Vec<Value>> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).with_context(|| format!("not JSON: {line}")))
            .collect()
    }

    /// The one JSON line of `type`.
    fn line(&self, kind: &str) -> Result<Value> {
        let found: Vec<Value> = self
            .lines()?
            .into_iter()
            .filter(|l| l["type"] == kind)
            .collect();
        ensure!(
            found.len() == 1,
            "{} lines of type {kind} in {}",
            found.len(),
            self.stdout
        );
        Ok(found.into_iter().next().unwrap_or_default())
    }
}

/// A node, a working directory with a key directory, and the `ledger` binary.
struct World {
    dir: TempDir,
    node: Option<Node>,
    ledger: PathBuf,
}

impl World {
    fn new() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ledger-cli-").tempdir()?;
        std::fs::create_dir(dir.path().join("node"))?;
        let node = Node::start(&dir.path().join("node"), &FAST_CHECKPOINTS)?;
        Ok(Self {
            dir,
            node: Some(node),
            ledger: binary("ledger-cli", "ledger")?,
        })
    }

    /// A world with no node running (for the network-down tests).
    fn offline() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ledger-cli-").tempdir()?;
        Ok(Self {
            dir,
            node: None,
            ledger: binary("ledger-cli", "ledger")?,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn node_url(&self) -> String {
        // Port 9 (discard) on loopback: nothing listens there in the test environment.
        self.node
            .as_ref()
            .map_or_else(|| "http://127.0.0.1:9".to_owned(), |n| n.url(""))
    }

    /// Runs `ledger ARGS` in the working directory, with LEDGER_NODE and LEDGER_KEYS set.
    fn run(&self, args: &[&str]) -> Result<Run> {
        let output = Command::new(&self.ledger)
            .args(args)
            .current_dir(self.dir.path())
            .env("LEDGER_NODE", self.node_url())
            .env("LEDGER_KEYS", self.path("keys"))
            .env("NO_COLOR", "1")
            .output()
            .context("running ledger")?;
        Ok(Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn json(&self, args: &[&str]) -> Result<Run> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    fn make_keys(&self) -> Result<()> {
        for (name, _) in PARTIES {
            self.run(&["key", "new", name])?.ok()?;
        }
        Ok(())
    }

    fn key_id(&self, name: &str) -> Result<String> {
        let key = self.json(&["key", "show", name])?.ok()?.line("key")?;
        Ok(key["key_id"].as_str().context("key_id")?.to_owned())
    }

    /// Writes `contract.toml` for `id` naming the parties' key files.
    fn write_contract(&self, id: &str) -> Result<PathBuf> {
        let mut text = format!(
            "id = \"{id}\"\ntitle = \"Test programme {id}\"\ncurrency = \"GBP\"\n\
             start = 2025-04-01\nend = 2028-03-31\ncap = 10_000_000\n"
        );
        for (name, role) in PARTIES {
            text.push_str(&format!(
                "\n[[parties]]\nname = \"Party {name}\"\nrole = \"{role}\"\nkey_file = \"{name}\"\n"
            ));
        }
        text.push_str(&format!(
            "\n[[outcomes]]\nid = \"housed-3m\"\nname = \"Housed 3 months\"\nprice = {PRICE_3M}\ncap_units = 20\n\
             \n[[outcomes]]\nid = \"housed-12m\"\nname = \"Housed 12 months\"\nprice = {PRICE_12M}\ncap_units = 10\n"
        ));
        let path = self.path(&format!("{id}.toml"));
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Keys, and a registered contract signed by every party in one command.
    fn registered(id: &str) -> Result<Self> {
        let world = Self::new()?;
        world.make_keys()?;
        let file = world.write_contract(id)?;
        let file = file.to_str().context("path")?;
        let mut args = vec!["contract", "register", "--file", file];
        for (name, _) in PARTIES {
            args.extend(["--key", name]);
        }
        world.json(&args)?.ok()?.line("appended")?;
        Ok(world)
    }

    /// `ledger claim` of `quantity` units of `outcome`; returns the claim id.
    fn claim(&self, contract: &str, outcome: &str, quantity: u64) -> Result<String> {
        let quantity = quantity.to_string();
        let run = self.json(&[
            "claim", "--contract", contract, "--key", "provider", "--outcome", outcome, "--from",
            "2025-04-01", "--to", "2025-06-30", "--quantity", &quantity, "--evidence",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:application/pdf",
        ])?;
        id_of(&run.ok()?)
    }
}

fn id_of(run: &Run) -> Result<String> {
    Ok(run.line("appended")?["id"]
        .as_str()
        .context("id")?
        .to_owned())
}

fn mode_of(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

// ---------------------------------------------------------------------------------------------
// keys

#[test]
fn key_new_writes_a_private_file_and_never_prints_or_overwrites_it() -> Result<()> {
    let world = World::offline()?;
    let made = world.json(&["key", "new", "alice"])?.ok()?;
    let file = world.path("keys/alice.key");
    ensure!(mode_of(&file)? == 0o600, "mode {:o}", mode_of(&file)?);
    let text = std::fs::read_to_string(&file)?;
    let seed = text
        .lines()
        .find_map(|l| l.strip_prefix("seed = \""))
        .and_then(|l| l.strip_suffix('"'))
        .context("seed line")?;
    ensure!(
        !made.stdout.contains(seed) && !made.stderr.contains(seed),
        "the seed was printed"
    );
    // key id = SHA-256 of the raw public key, recomputed here.
    let key = made.line("key")?;
    let public = hex::decode(key["public_key"].as_str().context("public_key")?)?;
    ensure!(
        key["key_id"] == hex::encode(Sha256::digest(&public)),
        "{key}"
    );
    ensure!(
        key["verifier_key"]
            .as_str()
            .is_some_and(|v| v.starts_with("alice+")),
        "{key}"
    );
    world
        .run(&["key", "new", "alice"])?
        .fails(2, "already exists")?;
    ensure!(
        std::fs::read_to_string(&file)? == text,
        "the key file changed"
    );
    Ok(())
}

#[test]
fn key_show_names_the_key_id_public_key_and_verifier_key() -> Result<()> {
    let world = World::offline()?;
    world.run(&["key", "new", "bob"])?.ok()?;
    let by_name = world.json(&["key", "show", "bob"])?.ok()?.line("key")?;
    let path = world.path("keys/bob.key");
    let by_path = world
        .json(&["key", "show", path.to_str().context("path")?])?
        .ok()?
        .line("key")?;
    ensure!(
        by_name["key_id"] == by_path["key_id"],
        "{by_name} vs {by_path}"
    );
    let human = world.run(&["key", "show", "bob"])?.ok()?;
    ensure!(
        human.stdout.contains("verifier key  bob+"),
        "{}",
        human.stdout
    );
    Ok(())
}

#[test]
fn a_bad_key_file_is_refused_with_what_to_do() -> Result<()> {
    let world = World::offline()?;
    world.run(&["key", "new", "carol"])?.ok()?;
    let path = world.path("keys/carol.key");
    let text = std::fs::read_to_string(&path)?;
    let public_line = text
        .lines()
        .find(|l| l.starts_with("public_key"))
        .context("public_key")?;
    std::fs::write(
        &path,
        text.replace(
            public_line,
            &format!("public_key = \"{}\"", "ab".repeat(32)),
        ),
    )?;
    world
        .run(&["key", "show", "carol"])?
        .fails(2, "not a valid key file")?;
    std::fs::write(&path, "this is not a key")?;
    world
        .run(&["key", "show", "carol"])?
        .fails(2, "not a valid key file")?;
    world
        .run(&["key", "show", "nobody"])?
        .fails(2, "ledger key new nobody")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    world
        .run(&["key", "show", "carol"])?
        .fails(2, "chmod 600")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// acting

#[test]
fn registration_is_signed_offline_in_turn_then_submitted() -> Result<()> {
    let world = World::new()?;
    world.make_keys()?;
    let contract = world.write_contract("offline-signing")?;
    let written = world
        .json(&[
            "contract",
            "register",
            "--file",
            contract.to_str().context("path")?,
            "--key",
            "commissioner",
        ])?
        .ok()?
        .line("envelope-file")?;
    ensure!(
        written["missing"].as_array().map(Vec::len) == Some(6),
        "{written}"
    );
    let file = written["path"].as_str().context("path")?.to_owned();
    // Submitting now is refused by the node: six signatures are missing.
    world
        .run(&["submit", &file])?
        .fails(1, "missing-signature")?;
    for (name, _) in &PARTIES[1..6] {
        world.run(&["sign", &file, "--key", name])?.ok()?;
    }
    let last = world
        .json(&["sign", &file, "--key", "beneficiary-rep"])?
        .ok()?
        .line("envelope-file")?;
    ensure!(
        last["missing"].as_array().is_some_and(Vec::is_empty),
        "{last}"
    );
    ensure!(last["signatures"] == 7, "{last}");
    world
        .run(&["sign", &file, "--key", "provider"])?
        .fails(1, "already signed")?;
    let appended = world.json(&["submit", &file])?.ok()?.line("appended")?;
    ensure!(
        appended["seq"] == 0 && appended["kind"] == "contract.registered",
        "{appended}"
    );
    Ok(())
}

#[test]
fn a_key_that_is_not_a_party_may_not_sign_the_registration() -> Result<()> {
    let world = World::new()?;
    world.make_keys()?;
    world.run(&["key", "new", "stranger"])?.ok()?;
    let contract = world.write_contract("strangers")?;
    let path = contract.to_str().context("path")?;
    world
        .run(&[
            "contract",
            "register",
            "--file",
            path,
            "--key",
            "commissioner",
            "--key",
            "stranger",
        ])?
        .fails(1, "is not one of the parties that sign contract.registered")?;
    Ok(())
}

#[test]
fn claims_are_verified_and_paid_from_the_rate_card() -> Result<()> {
    let world = World::registered("rate-card")?;
    let first = world.claim("rate-card", "housed-3m", 5)?;
    let second = world.claim("rate-card", "housed-12m", 2)?;
    world
        .json(&["verify-claim", &first, "--key", "verifier"])?
        .ok()?;
    world
        .json(&[
            "verify-claim",
            &second,
            "--key",
            "verifier",
            "--quantity",
            "1",
        ])?
        .ok()?;
    let paid = world
        .json(&[
            "pay",
            "--contract",
            "rate-card",
            "--key",
            "commissioner",
            "--auto",
            "--reference",
            "R-1",
        ])?
        .ok()?;
    let payment = id_of(&paid)?;
    let shown = world.json(&["show", &payment])?.ok()?.line("event")?;
    let body = &shown["payload"]["body"];
    // 5 x GBP 1,500 + 1 x GBP 4,000, computed here from the rate card written above.
    ensure!(body["total"] == 5 * PRICE_3M + PRICE_12M, "{body}");
    ensure!(body["lines"].as_array().map(Vec::len) == Some(2), "{body}");
    let investor = world.key_id("investor-a")?;
    world
        .json(&[
            "distribute",
            "--contract",
            "rate-card",
            "--key",
            "intermediary",
            "--investor",
            &investor,
            "--amount",
            "100000",
            "--reference",
            "D-1",
        ])?
        .ok()?;
    world
        .run(&[
            "pay",
            "--contract",
            "rate-card",
            "--key",
            "commissioner",
            "--auto",
            "--reference",
            "R-2",
        ])?
        .fails(1, "nothing to pay")?;
    Ok(())
}

#[test]
fn disputes_feedback_amendment_and_closing() -> Result<()> {
    let world = World::registered("life")?;
    let claim = world.claim("life", "housed-12m", 3)?;
    world
        .json(&["verify-claim", &claim, "--key", "verifier"])?
        .ok()?;
    let dispute = id_of(
        &world
            .json(&[
                "dispute",
                &claim,
                "--key",
                "beneficiary-rep",
                "--reason",
                "housed before referral",
            ])?
            .ok()?,
    )?;
    // The claim is under an open dispute: nothing is payable.
    world
        .run(&[
            "pay",
            "--contract",
            "life",
            "--key",
            "commissioner",
            "--auto",
            "--reference",
            "R",
        ])?
        .fails(1, "nothing to pay")?;
    world
        .json(&[
            "resolve",
            &dispute,
            "--key",
            "verifier",
            "--decision",
            "adjusted",
            "--quantity",
            "2",
        ])?
        .ok()?;
    world
        .json(&[
            "feedback",
            "--claim",
            &claim,
            "--key",
            "beneficiary-rep",
            "--stance",
            "affirms",
            "--text",
            "two are housed",
        ])?
        .ok()?;
    world
        .json(&[
            "amend",
            "--contract",
            "life",
            "--price",
            "housed-12m=450000",
            "--reason",
            "rents rose",
            "--key",
            "commissioner",
            "--key",
            "provider",
            "--key",
            "investor-a",
            "--key",
            "investor-b",
        ])?
        .ok()?
        .line("appended")?;
    let paid = id_of(
        &world
            .json(&[
                "pay",
                "--contract",
                "life",
                "--key",
                "commissioner",
                "--auto",
                "--reference",
                "R",
            ])?
            .ok()?,
    )?;
    let body = world.json(&["show", &paid])?.ok()?.line("event")?["payload"]["body"].clone();
    // Adjusted to 2 units at the price fixed when it was verified, before the amendment.
    ensure!(body["total"] == 2 * PRICE_12M, "{body}");
    world
        .json(&[
            "close",
            "--contract",
            "life",
            "--key",
            "commissioner",
            "--reason",
            "term ended",
        ])?
        .ok()?;
    let state = world.json(&["state", "life"])?.ok()?.line("contract")?;
    ensure!(
        state["closed"] == true && state["paid_money"] == 2 * PRICE_12M,
        "{state}"
    );
    world
        .run(&[
            "claim",
            "--contract",
            "life",
            "--key",
            "provider",
            "--outcome",
            "housed-3m",
            "--from",
            "2025-04-01",
            "--to",
            "2025-06-30",
            "--quantity",
            "1",
        ])?
        .fails(1, "contract-closed")?;
    Ok(())
}

#[test]
fn an_amendment_short_of_signatures_goes_to_a_file_for_the_others() -> Result<()> {
    let world = World::registered("amending")?;
    let written = world
        .json(&[
            "amend",
            "--contract",
            "amending",
            "--price",
            "housed-3m=160000",
            "--reason",
            "costs rose",
            "--key",
            "commissioner",
        ])?
        .ok()?
        .line("envelope-file")?;
    let file = written["path"].as_str().context("path")?.to_owned();
    ensure!(
        written["missing"].as_array().map(Vec::len) == Some(3),
        "{written}"
    );
    world
        .run(&[
            "sign",
            &file,
            "--key",
            "provider",
            "--key",
            "investor-a",
            "--key",
            "investor-b",
        ])?
        .ok()?;
    world.json(&["submit", &file])?.ok()?.line("appended")?;
    let outcome = world
        .json(&["state", "amending"])?
        .ok()?
        .lines()?
        .into_iter()
        .find(|l| l["type"] == "outcome" && l["outcome"] == "housed-3m")
        .context("outcome line")?;
    ensure!(outcome["price"] == 160_000, "{outcome}");
    Ok(())
}

/// Issue 9, finding 2: consent belongs to parties. A revocation waits for a quorum (signed in
/// turn), a party without a key holds amendments back, an enrolment gives it a successor, and
/// the only verifier's key goes only with a successor.
#[test]
fn a_revoked_party_still_consents_through_its_successor_key() -> Result<()> {
    let world = World::registered("succession")?;
    world.run(&["key", "new", "investor-b-new"])?.ok()?;
    world.run(&["key", "new", "verifier-new"])?.ok()?;
    let old = world.key_id("investor-b")?;
    let revoke = [
        "revoke-key",
        "--contract",
        "succession",
        "--revoke",
        &old,
        "--reason",
        "laptop stolen",
        "--key",
        "commissioner",
    ];
    let written = world.json(&revoke)?.ok()?.line("envelope-file")?;
    let file = written["path"].as_str().context("path")?.to_owned();
    ensure!(
        written["quorum"]["needed"] == 4 && written["quorum"]["signed"] == 1,
        "{written}"
    );
    world.run(&["submit", &file])?.fails(1, "no-quorum")?;
    world
        .run(&["sign", &file, "--key", "investor-b"])?
        .fails(1, "not one of the parties that sign key.revoked")?;
    let signed = world
        .json(&[
            "sign",
            &file,
            "--key",
            "provider",
            "--key",
            "verifier",
            "--key",
            "intermediary",
        ])?
        .ok()?
        .line("envelope-file")?;
    ensure!(signed["quorum"]["signed"] == 4, "{signed}");
    world.json(&["submit", &file])?.ok()?.line("appended")?;

    let amend = |extra: &[&str]| {
        let mut args = vec![
            "amend",
            "--contract",
            "succession",
            "--price",
            "housed-3m=2",
            "--reason",
            "the price the commissioner wants",
            "--key",
            "commissioner",
            "--key",
            "provider",
            "--key",
            "investor-a",
        ];
        args.extend_from_slice(extra);
        world.json(&args)
    };
    amend(&[])?.fails(1, "party-without-key")?;
    world
        .json(&[
            "enrol-key",
            "--contract",
            "succession",
            "--party",
            &old,
            "--new",
            "investor-b-new",
            "--reason",
            "successor key, confirmed in person",
            "--key",
            "commissioner",
            "--key",
            "provider",
            "--key",
            "verifier",
            "--key",
            "intermediary",
        ])?
        .ok()?
        .line("appended")?;
    amend(&["--key", "investor-b-new"])?
        .ok()?
        .line("appended")?;

    let verifier = world.key_id("verifier")?;
    let quorum = [
        "--key",
        "commissioner",
        "--key",
        "provider",
        "--key",
        "intermediary",
        "--key",
        "investor-a",
    ];
    let mut last = vec![
        "revoke-key",
        "--contract",
        "succession",
        "--revoke",
        &verifier,
        "--reason",
        "gone",
    ];
    last.extend_from_slice(&quorum);
    world.json(&last)?.fails(1, "last-key-of-role")?;
    last.extend_from_slice(&["--successor", "verifier-new"]);
    world.json(&last)?.ok()?.line("appended")?;
    let audit = world.json(&["audit"])?.ok()?.line("audit")?;
    ensure!(audit["result"] == "verified", "{audit}");
    Ok(())
}

#[test]
fn the_wrong_role_is_refused_with_the_rule() -> Result<()> {
    let world = World::registered("roles")?;
    let claim = world.claim("roles", "housed-3m", 1)?;
    world
        .run(&["verify-claim", &claim, "--key", "provider"])?
        .fails(1, "wrong-role")?
        .fails(1, "may not author claim.verified")?
        // The hint names the contract, to list its parties and roles.
        .fails(1, "`ledger state roles` lists the parties")?;
    Ok(())
}

#[test]
fn a_claim_that_does_not_exist_is_named() -> Result<()> {
    let world = World::registered("ghosts")?;
    let ghost = "ab".repeat(32);
    world
        .run(&["verify-claim", &ghost, "--key", "verifier"])?
        .fails(1, &format!("cannot find claim {ghost}"))?;
    let refused = world.json(&[
        "pay",
        "--contract",
        "ghosts",
        "--key",
        "commissioner",
        "--auto",
        "--claims",
        &ghost,
        "--reference",
        "R",
    ])?;
    let line = refused.line("refused")?;
    ensure!(
        refused.code == 1 && line["code"] == "unknown-claim",
        "{line}"
    );
    world
        .run(&["verify-claim", "not-an-id", "--key", "verifier"])?
        .fails(2, "64 lowercase hex")?;
    Ok(())
}

#[test]
fn overpayment_and_overdistribution_are_refused() -> Result<()> {
    let world = World::registered("overpaid")?;
    let claim = world.claim("overpaid", "housed-3m", 2)?;
    world
        .json(&["verify-claim", &claim, "--key", "verifier"])?
        .ok()?;
    let too_much = format!("{claim}={}", 2 * PRICE_3M + 1);
    world
        .run(&[
            "pay",
            "--contract",
            "overpaid",
            "--key",
            "commissioner",
            "--line",
            &too_much,
            "--reference",
            "R",
        ])?
        .fails(1, "amount-mismatch")?;
    let right = format!("{claim}={}", 2 * PRICE_3M);
    world
        .json(&[
            "pay",
            "--contract",
            "overpaid",
            "--key",
            "commissioner",
            "--line",
            &right,
            "--reference",
            "R",
        ])?
        .ok()?;
    let more = (2 * PRICE_3M + 1).to_string();
    world
        .run(&[
            "distribute",
            "--contract",
            "overpaid",
            "--key",
            "intermediary",
            "--investor",
            "investor-a",
            "--amount",
            &more,
            "--reference",
            "D",
        ])?
        .fails(1, "over-distribution")?;
    Ok(())
}

#[test]
fn a_tampered_envelope_file_is_refused() -> Result<()> {
    let world = World::registered("tampered")?;
    let written = world
        .json(&[
            "close",
            "--contract",
            "tampered",
            "--key",
            "commissioner",
            "--reason",
            "done",
            "--out",
            "close.json",
        ])?
        .ok()?
        .line("envelope-file")?;
    ensure!(written["path"] == "close.json", "{written}");
    let path = world.path("close.json");
    let mut envelope: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let signature = envelope["signatures"][0]["sig"]
        .as_str()
        .context("sig")?
        .to_owned();
    let flipped = if signature.starts_with('A') {
        signature.replacen('A', "B", 1)
    } else {
        format!("A{}", &signature[1..])
    };
    envelope["signatures"][0]["sig"] = Value::String(flipped);
    std::fs::write(&path, serde_json::to_vec(&envelope)?)?;
    world
        .run(&["submit", "close.json"])?
        .fails(1, "invalid-signature")?;
    std::fs::write(&path, "{}")?;
    world
        .run(&["submit", "close.json"])?
        .fails(2, "is not a ledger event envelope")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// reading

#[test]
fn state_trail_and_show_read_what_was_written() -> Result<()> {
    let world = World::registered("reading")?;
    let claim = world.claim("reading", "housed-3m", 4)?;
    world
        .json(&[
            "verify-claim",
            &claim,
            "--key",
            "verifier",
            "--quantity",
            "3",
        ])?
        .ok()?;
    let outcomes: Vec<Value> = world
        .json(&["state", "reading"])?
        .ok()?
        .lines()?
        .into_iter()
        .filter(|l| l["type"] == "outcome")
        .collect();
    ensure!(outcomes.len() == 2, "{outcomes:?}");
    ensure!(
        outcomes[0]["verified_units"] == 3 && outcomes[0]["unpaid_money"] == 3 * PRICE_3M,
        "{:?}",
        outcomes[0]
    );
    let table = world.run(&["state", "reading", "--claims"])?.ok()?;
    ensure!(
        table.stdout.contains("GBP 4,500.00") && table.stdout.contains(&claim),
        "{}",
        table.stdout
    );
    let csv = world
        .run(&["--csv", "trail", "--contract", "reading"])?
        .ok()?;
    let rows: Vec<&str> = csv.stdout.lines().collect();
    ensure!(
        rows.len() == 4 && rows[0].starts_with("index,id,at,contract"),
        "{}",
        csv.stdout
    );
    ensure!(
        rows[3].contains("claim.verified") && rows[3].contains(&claim),
        "{}",
        rows[3]
    );
    let claims = world
        .json(&["trail", "--kind", "claim.submitted", "--role", "provider"])?
        .ok()?
        .lines()?;
    ensure!(
        claims.len() == 1 && claims[0]["id"] == claim.as_str(),
        "{claims:?}"
    );
    let none = world
        .json(&[
            "trail",
            "--contract",
            "reading",
            "--until",
            "2000-01-01T00:00:00Z",
        ])?
        .ok()?;
    ensure!(none.stdout.is_empty(), "{}", none.stdout);
    // The node signs a checkpoint covering the claim shortly; `show` then verifies inclusion.
    let shown = wait_until(WAIT, "show verifies the claim's inclusion", || {
        let shown = world.json(&["show", &claim])?.ok()?.line("event")?;
        Ok((shown["inclusion"]["verified"] == true).then_some(shown))
    })?;
    ensure!(
        shown["kind"] == "claim.submitted" && shown["seq"] == 1,
        "{shown}"
    );
    ensure!(
        shown["signatures"][0]["valid"] == true && shown["signatures"][0]["role"] == "provider",
        "{shown}"
    );
    ensure!(shown["payload"]["body"]["quantity"] == 4, "{shown}");
    world
        .run(&["show", &"cd".repeat(32)])?
        .fails(1, "event-not-found")?;
    Ok(())
}

#[test]
fn trail_pages_through_the_node_cursors() -> Result<()> {
    let world = World::registered("paging")?;
    for _ in 0..4 {
        world.claim("paging", "housed-3m", 1)?;
    }
    let some = world
        .json(&["trail", "--contract", "paging", "--limit", "3"])?
        .ok()?
        .lines()?;
    let indexes: Vec<&Value> = some.iter().map(|l| &l["index"]).collect();
    ensure!(
        indexes == [&Value::from(0), &Value::from(1), &Value::from(2)],
        "{indexes:?}"
    );
    let all = world
        .json(&["trail", "--contract", "paging", "--all"])?
        .ok()?
        .lines()?;
    ensure!(all.len() == 5, "{all:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// trouble

#[test]
fn a_node_that_is_down_is_a_network_error_with_what_to_do() -> Result<()> {
    let world = World::offline()?;
    world.make_keys()?;
    world
        .run(&["state", "anything"])?
        .fails(2, "cannot reach the node at http://127.0.0.1:9")?;
    world
        .run(&[
            "close",
            "--contract",
            "anything",
            "--key",
            "commissioner",
            "--reason",
            "r",
        ])?
        .fails(2, "start one with `ledger-node`")?;
    world
        .run(&["--node", "ftp://example", "state", "x"])?
        .fails(2, "is not an http:// or https:// URL")?;
    Ok(())
}

#[test]
fn usage_errors_exit_2_and_help_documents_the_exit_codes() -> Result<()> {
    let world = World::offline()?;
    world
        .run(&["pay", "--contract", "x"])?
        .fails(2, "required")?;
    world
        .run(&["frobnicate"])?
        .fails(2, "unrecognized subcommand")?;
    let help = world.run(&["--help"])?.ok()?;
    ensure!(
        help.stdout.contains("Exit status:") && help.stdout.contains("ledger demo"),
        "{}",
        help.stdout
    );
    for command in [
        "claim", "pay", "trail", "state", "show", "sign", "submit", "amend", "demo",
    ] {
        let help = world.run(&[command, "--help"])?.ok()?;
        ensure!(
            help.stdout.contains("Examples:"),
            "{command} --help has no examples"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// demo

#[test]
fn the_demo_plays_a_programme_and_audits_it() -> Result<()> {
    let world = World::offline()?;
    let run = world.run(&["demo", "--data", "demo-data"])?.ok()?;
    for needle in [
        "registered, signed by all 7 parties",
        "disputes",
        "resolves the dispute",
        "amendment",
        "audit verified",
    ] {
        ensure!(
            run.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            run.stdout
        );
    }
    ensure!(
        mode_of(&world.path("demo-data/keys/provider.key"))? == 0o600,
        "key file mode"
    );
    // The same seed on the same store: the contract is already there.
    world
        .run(&["demo", "--data", "demo-data"])?
        .fails(1, "use another --seed")?;
    Ok(())
}

#[test]
fn the_demo_at_scale_appends_the_events_asked_for() -> Result<()> {
    let world = World::offline()?;
    let run = world
        .json(&["demo", "--events", "700", "--seed", "7"])?
        .ok()?;
    let texts: Vec<String> = run
        .lines()?
        .into_iter()
        .filter(|l| l["type"] == "demo")
        .filter_map(|l| l["text"].as_str().map(str::to_owned))
        .collect();
    ensure!(
        texts
            .iter()
            .any(|t| t.starts_with("appended 700 events over 2 contracts")),
        "{texts:?}"
    );
    Ok(())
}
