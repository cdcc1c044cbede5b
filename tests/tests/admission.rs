//! The front door of the real `ledger-node` (issue 9, findings 3 and 4): writes are metered
//! per client, per key and per contract, and a flood of bad signatures is cheap to refuse and
//! stopped. Two clients are told apart by their loopback source address (127.0.0.1 and
//! 127.0.0.2). Outcomes are asserted, never timings: every budget below refills over ten
//! minutes, so nothing comes back while a test runs.

use anyhow::{ensure, Context, Result};
use ledger_tests::api::{check_problem, Api, Reply};
use ledger_tests::events::{Contract, Signed, Signer};
use ledger_tests::Node;
use proto::dsse::{self, Envelope};
use proto::payload::PAYLOAD_TYPE;
use proto::Role;
use std::net::{IpAddr, Ipv4Addr};
use tempfile::TempDir;

/// Ten minutes: no budget refills noticeably during a test.
const LONG_PERIOD_MS: &str = "600000";
const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn start(extra: &[&str]) -> Result<(TempDir, Node, Api, Api)> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-admission-")
        .tempdir()?;
    let node = Node::start(dir.path(), extra)?;
    let first = Api::new(&node.url(""))?;
    let second = Api::from_address(&node.url(""), OTHER_CLIENT)?;
    Ok((dir, node, first, second))
}

/// A `429` problem of `code` with a `Retry-After` of at least one second.
fn too_many(reply: &Reply, code: &str) -> Result<serde_json::Value> {
    let json = reply.problem(429, code)?;
    let retry_after: u64 = reply
        .header("retry-after")
        .parse()
        .context("a Retry-After header in seconds")?;
    ensure!(retry_after >= 1, "Retry-After {retry_after}");
    ensure!(
        json["retry_after"] == retry_after,
        "retry_after member {json}"
    );
    Ok(json)
}

fn log_size(api: &Api) -> Result<u64> {
    let json = api.get("/v1/node")?.json()?;
    json["size"].as_u64().context("a size")
}

/// `signed` with its one signature replaced by the same key's signature of other bytes.
fn forged(signed: &Signed, signer: &Signer) -> Result<Vec<u8>> {
    let signature = dsse::sign(PAYLOAD_TYPE, b"other bytes", signer.signing_key());
    let envelope = Envelope::new(PAYLOAD_TYPE, signed.payload.encode(), vec![signature])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(envelope.to_jcs())
}

#[test]
fn registrations_from_one_client_get_429_past_its_rate_while_another_client_writes() -> Result<()> {
    let (_dir, _node, first, second) = start(&[
        "--client-events-per-period",
        "10",
        "--write-period-ms",
        LONG_PERIOD_MS,
    ])?;
    for n in 0..10 {
        let contract = Contract::new(&format!("spam-{n}"))?;
        let reply = first.post_event(&contract.registered()?.envelope)?;
        ensure!(reply.status == 201, "registration {n}: {}", reply.text());
    }
    let eleventh = Contract::new("spam-10")?;
    let reply = first.post_event(&eleventh.registered()?.envelope)?;
    too_many(&reply, "rate-limited")?;
    // A batch from the same client is refused whole.
    let batch = [
        Contract::new("spam-11")?.registered()?.envelope,
        Contract::new("spam-12")?.registered()?.envelope,
    ];
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    too_many(&first.post_events(&refs)?, "rate-limited")?;
    // Another client still writes.
    let other = Contract::new("honest")?;
    let reply = second.post_event(&other.registered()?.envelope)?;
    ensure!(reply.status == 201, "the other client: {}", reply.text());
    ensure!(log_size(&first)? == 11, "nothing refused was stored");
    Ok(())
}

#[test]
fn a_contract_over_its_byte_quota_is_refused_and_one_within_its_quota_accepted() -> Result<()> {
    let mut big = Contract::new("big-claims")?;
    let registration = big.registered()?;
    big.accept(&registration);
    let mut claims = Vec::new();
    for nonce in 0..3 {
        let claim = big.claim_with("housed-12m", 50, 50, nonce)?;
        big.accept(&claim);
        claims.push(claim);
    }
    // Room for the registration and two of the claims, not the third.
    let quota = registration.envelope.len() + claims[0].envelope.len() * 5 / 2;
    let quota = quota.to_string();
    let (_dir, _node, first, _) = start(&[
        "--contract-bytes-per-period",
        &quota,
        "--contract-quota-period-ms",
        LONG_PERIOD_MS,
    ])?;
    for signed in std::iter::once(&registration).chain(&claims[..2]) {
        let reply = first.post_event(&signed.envelope)?;
        ensure!(reply.status == 201, "within quota: {}", reply.text());
    }
    let reply = first.post_event(&claims[2].envelope)?;
    let problem = too_many(&reply, "contract-quota")?;
    let detail = problem["detail"].as_str().unwrap_or_default();
    ensure!(
        detail.contains("big-claims") && detail.contains("contract_bytes_per_period"),
        "the problem names the contract and the quota: {detail}"
    );
    // Another contract has a quota of its own.
    let small = Contract::new("small-claims")?;
    let reply = first.post_event(&small.registered()?.envelope)?;
    ensure!(reply.status == 201, "another contract: {}", reply.text());
    ensure!(log_size(&first)? == 4, "the refused claim was not stored");
    Ok(())
}

#[test]
fn a_bad_signature_flood_is_held_back_while_another_client_keeps_appending() -> Result<()> {
    let (_dir, _node, honest, attacker) = start(&[
        "--failed-verifications-max",
        "8",
        "--failed-verifications-period-ms",
        LONG_PERIOD_MS,
    ])?;
    let mut contract = Contract::new("target")?;
    let registration = contract.registered()?;
    ensure!(honest.post_event(&registration.envelope)?.status == 201);
    contract.accept(&registration);
    let provider = contract.parties().provider.clone();

    // The flood: envelopes carrying 64 signatures each. Over the bound on signatures
    // per request, refused whole before any is verified.
    let signers: Vec<Signer> = (0..64)
        .map(|i| Signer::from_label(&format!("flood-{i}"), Role::Provider, "flood"))
        .collect();
    let signer_refs: Vec<&Signer> = signers.iter().collect();
    let claim = contract.claim("housed-12m", 1, 0)?;
    let heavy = Contract::sign(claim.payload.clone(), &signer_refs)?.envelope;
    let flood: Vec<&[u8]> = std::iter::repeat_n(heavy.as_slice(), 40).collect();
    attacker
        .post_events(&flood)?
        .problem(413, "too-many-signatures")?;
    // Under the bound, they are refused for their signer set, which costs no verification
    // and spends no budget of failed verifications.
    let reply = attacker.post_events(&flood[..16])?;
    ensure!(reply.status == 200, "{}", reply.text());
    for result in reply.json()?["results"].as_array().context("results")? {
        ensure!(result["status"] == 403, "{result}");
    }

    // Envelopes at the right place, by the right author, with wrong signatures: each costs a
    // verification. After 8 of them the attacker is held back.
    let mut nonce = 100;
    for round in 0..3 {
        let mut batch = Vec::new();
        for _ in 0..4 {
            nonce += 1;
            batch.push(forged(&contract.claim("housed-12m", 1, nonce)?, &provider)?);
        }
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let reply = attacker.post_events(&refs)?;
        ensure!(reply.status == 200, "round {round}: {}", reply.text());
        for result in reply.json()?["results"].as_array().context("results")? {
            check_problem(&result["problem"], 401, "invalid-signature")?;
        }
        // The honest client keeps appending, as the same provider.
        let claim = contract.claim("housed-12m", 1, round)?;
        let reply = honest.post_event(&claim.envelope)?;
        ensure!(
            reply.status == 201,
            "honest append {round}: {}",
            reply.text()
        );
        contract.accept(&claim);
    }
    nonce += 1;
    let bad = forged(&contract.claim("housed-12m", 1, nonce)?, &provider)?;
    too_many(&attacker.post_event(&bad)?, "too-many-bad-signatures")?;
    // Held back even with a good envelope, for the period.
    let good = contract.claim("housed-12m", 1, 3)?;
    too_many(
        &attacker.post_event(&good.envelope)?,
        "too-many-bad-signatures",
    )?;
    let reply = honest.post_event(&good.envelope)?;
    ensure!(reply.status == 201, "honest append: {}", reply.text());
    ensure!(
        log_size(&honest)? == 5,
        "only the honest events were stored"
    );
    Ok(())
}
