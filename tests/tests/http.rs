//! The HTTP API of the real `ledger-node` binary, over real HTTP on loopback: every endpoint,
//! every error status, restarts, and checkpoints and proofs that verify across restarts.
//!
//! Expected values come from the events the tests sign themselves and from the independent
//! verifier in `ledger_tests::verify` (RFC 9162 and C2SP written from the specifications),
//! never from the node.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use ledger_tests::api::{check_problem, Api, EventRecord};
use ledger_tests::events::{seal, Contract, Signed, HOUSED_PRICE};
use ledger_tests::verify::{
    hashes_from_hex, leaf_hash, open_checkpoint, open_envelope, root_of, verify_consistency,
    verify_inclusion, Checkpoint, Hash, NoteVerifier,
};
use ledger_tests::{wait_until, Node};
use proto::dsse::{Envelope, Signature};
use proto::payload::PAYLOAD_TYPE;
use serde_json::Value;
use tempfile::TempDir;

/// Checkpoints follow commits quickly, so tests wait little for them.
const FAST_CHECKPOINTS: [&str; 2] = ["--checkpoint-interval-ms", "20"];
const WAIT: Duration = Duration::from_secs(20);

fn start(extra: &[&str]) -> Result<(TempDir, Node, Api)> {
    let dir = tempfile::Builder::new().prefix("ledger-http-").tempdir()?;
    let mut args = FAST_CHECKPOINTS.to_vec();
    args.extend_from_slice(extra);
    let node = Node::start(dir.path(), &args)?;
    let api = Api::new(&node.url(""))?;
    Ok((dir, node, api))
}

/// Posts the event `make` builds at the contract's head; it must be accepted (201).
fn append(
    api: &Api,
    contract: &mut Contract,
    make: impl FnOnce(&Contract) -> Result<Signed>,
) -> Result<Signed> {
    let signed = make(contract)?;
    let reply = api.post_event(&signed.envelope)?;
    ensure!(
        reply.status == 201,
        "{} refused: {} {}",
        signed.payload.kind().as_str(),
        reply.status,
        reply.text()
    );
    let json = reply.json()?;
    ensure!(json["id"] == signed.id.to_hex(), "id {}", json["id"]);
    ensure!(
        json["seq"] == signed.payload.seq.get(),
        "seq {}",
        json["seq"]
    );
    ensure!(
        reply.header("location") == format!("/v1/events/{}", signed.id),
        "location {:?}",
        reply.header("location")
    );
    contract.accept(&signed);
    Ok(signed)
}

/// A contract's life so far: registration, three claims, two verifications, a payment and
/// feedback (eight events).
struct History {
    contract: Contract,
    events: Vec<Signed>,
}

fn write_history(api: &Api, id: &str) -> Result<History> {
    let mut contract = Contract::new(id)?;
    let mut events = vec![append(api, &mut contract, Contract::registered)?];
    for nonce in 0..3 {
        events.push(append(api, &mut contract, |c| {
            c.claim("housed-12m", 2, nonce)
        })?);
    }
    let (first, second) = (events[1].id, events[2].id);
    events.push(append(api, &mut contract, |c| c.verified(first, 2))?);
    events.push(append(api, &mut contract, |c| c.verified(second, 1))?);
    let lines = [(first, 2 * HOUSED_PRICE), (second, HOUSED_PRICE)];
    events.push(append(api, &mut contract, |c| {
        c.payment(&lines, 3 * HOUSED_PRICE)
    })?);
    events.push(append(api, &mut contract, |c| {
        c.feedback(first, "the tenants confirm they are housed")
    })?);
    Ok(History { contract, events })
}

fn verifier(api: &Api) -> Result<NoteVerifier> {
    let node = api.get("/v1/node")?.json()?;
    NoteVerifier::parse(node["verifier_key"].as_str().context("verifier_key")?)
}

/// Waits until the latest checkpoint is at `size`, and returns it verified.
fn checkpoint_at(api: &Api, verifier: &NoteVerifier, size: u64) -> Result<(Checkpoint, String)> {
    wait_until(WAIT, &format!("a checkpoint at size {size}"), || {
        let reply = api.get("/v1/checkpoint")?;
        if reply.status != 200 {
            return Ok(None);
        }
        let checkpoint = open_checkpoint(verifier, &reply.text())?;
        ensure!(
            checkpoint.size <= size,
            "checkpoint at {} past the log size {size}",
            checkpoint.size
        );
        Ok((checkpoint.size == size).then(|| (checkpoint, reply.text())))
    })
}

fn leaves(log: &[EventRecord]) -> Vec<Hash> {
    log.iter()
        .map(|event| leaf_hash(event.envelope_bytes()))
        .collect()
}

fn proof(api: &Api, path: &str) -> Result<Vec<Hash>> {
    let reply = api.get(path)?;
    ensure!(
        reply.status == 200,
        "GET {path}: {} {}",
        reply.status,
        reply.text()
    );
    let hashes: Vec<String> = serde_json::from_value(reply.json()?["hashes"].clone())?;
    hashes_from_hex(&hashes)
}

/// Every leaf of the log is in the tree of `checkpoint`, by the node's inclusion proofs.
fn check_inclusion(api: &Api, log: &[EventRecord], checkpoint: &Checkpoint) -> Result<()> {
    for (index, leaf) in leaves(log)
        .iter()
        .enumerate()
        .take(usize::try_from(checkpoint.size)?)
    {
        let hashes = proof(
            api,
            &format!("/v1/proof/inclusion?index={index}&size={}", checkpoint.size),
        )?;
        verify_inclusion(
            u64::try_from(index)?,
            checkpoint.size,
            leaf,
            &hashes,
            &checkpoint.root,
        )
        .with_context(|| {
            format!(
                "inclusion of leaf {index} in the tree of size {}",
                checkpoint.size
            )
        })?;
    }
    Ok(())
}

fn check_consistency(api: &Api, old: &Checkpoint, new: &Checkpoint) -> Result<()> {
    let hashes = proof(
        api,
        &format!("/v1/proof/consistency?from={}&to={}", old.size, new.size),
    )?;
    verify_consistency(old.size, new.size, &hashes, &old.root, &new.root)
        .with_context(|| format!("consistency from {} to {}", old.size, new.size))
}

#[test]
fn every_read_endpoint_serves_what_was_appended() -> Result<()> {
    let (_dir, _node, api) = start(&[])?;
    let health = api.get("/healthz")?;
    ensure!(
        health.status == 200 && health.json()?["status"] == "ok",
        "healthz: {}",
        health.text()
    );
    let verifier = verifier(&api)?;

    let history = write_history(&api, "northtown-housing")?;
    let size = u64::try_from(history.events.len())?;
    let log = api.log_all(3)?;
    check_log_is_the_history(&log, &history)?;
    check_events_by_id(&api, &log)?;
    check_contract_reads(&api, &history)?;

    let (checkpoint, note) = checkpoint_at(&api, &verifier, size)?;
    ensure!(
        checkpoint.root == root_of(&leaves(&log)),
        "checkpoint root is not the root of the log's leaves"
    );
    let past = api.get(&format!("/v1/checkpoint/{size}"))?;
    ensure!(
        past.status == 200 && past.text() == note,
        "checkpoint/{size}: {} {}",
        past.status,
        past.text()
    );
    ensure!(
        past.content_type().starts_with("text/plain"),
        "content type {}",
        past.content_type()
    );
    let node = api.get("/v1/node")?.json()?;
    ensure!(
        node["size"] == size && node["root"] == hex::encode(checkpoint.root),
        "node: {node}"
    );
    ensure!(
        node["origin"] == checkpoint.origin,
        "origin {}",
        node["origin"]
    );
    check_inclusion(&api, &log, &checkpoint)?;

    let metrics = api.get("/metrics")?;
    ensure!(metrics.status == 200, "metrics: {}", metrics.status);
    let text = metrics.text();
    for line in [
        format!("ledger_appends_total {size}"),
        format!("ledger_log_size {size}"),
    ] {
        ensure!(
            text.lines().any(|l| l == line),
            "no line {line:?} in metrics:\n{text}"
        );
    }
    ensure!(
        text.contains("ledger_commit_seconds_bucket"),
        "no commit latency histogram:\n{text}"
    );
    Ok(())
}

fn check_log_is_the_history(log: &[EventRecord], history: &History) -> Result<()> {
    ensure!(
        log.len() == history.events.len(),
        "log holds {} events, {} appended",
        log.len(),
        history.events.len()
    );
    for (index, (record, signed)) in log.iter().zip(&history.events).enumerate() {
        ensure!(
            record.index == u64::try_from(index)?,
            "index {} at position {index}",
            record.index
        );
        ensure!(record.id == signed.id.to_hex(), "id at {index}");
        ensure!(
            record.contract == history.contract.id().as_str()
                && record.seq == signed.payload.seq.get(),
            "contract/seq at {index}"
        );
        ensure!(
            record.kind == signed.payload.kind().as_str(),
            "kind at {index}"
        );
        ensure!(
            record.author == signed.payload.author.to_hex(),
            "author at {index}"
        );
        ensure!(record.at == signed.payload.at.as_str(), "at at {index}");
        ensure!(
            record.envelope_bytes() == signed.envelope.as_slice(),
            "envelope bytes at {index}"
        );
    }
    let keys: HashMap<String, [u8; 32]> = history
        .contract
        .parties()
        .all()
        .iter()
        .map(|s| (s.key_id().to_hex(), *s.public().as_bytes()))
        .collect();
    for record in log {
        open_envelope(&serde_json::from_str(record.envelope.get())?, &keys)?;
    }
    Ok(())
}

fn check_events_by_id(api: &Api, log: &[EventRecord]) -> Result<()> {
    for record in log {
        let reply = api.get(&format!("/v1/events/{}", record.id))?;
        ensure!(
            reply.status == 200,
            "GET event {}: {} {}",
            record.id,
            reply.status,
            reply.text()
        );
        let fetched: EventRecord = serde_json::from_slice(&reply.body)?;
        ensure!(
            fetched == *record,
            "event {} differs from its log entry",
            record.id
        );
    }
    Ok(())
}

fn check_contract_reads(api: &Api, history: &History) -> Result<()> {
    let id = history.contract.id().as_str();
    let last = history.events.last().context("empty history")?;
    let list = api.get("/v1/contracts")?.json()?;
    let expected = serde_json::json!({"contracts": [{
        "id": id, "title": "Northtown rough sleeping outcomes programme",
        "events": history.events.len(), "head": last.id.to_hex(), "closed": false,
    }], "next_cursor": null});
    ensure!(list == expected, "contracts: {list}");

    let state = api.get(&format!("/v1/contracts/{id}"))?.json()?;
    ensure!(
        state["id"] == id && state["title"] == expected["contracts"][0]["title"],
        "projection: {state}"
    );
    let paid = &state["claims"][history.events[1].id.to_hex()]["status"];
    let pending = &state["claims"][history.events[3].id.to_hex()]["status"];
    ensure!(
        paid == "paid" && pending == "pending",
        "claim statuses {paid} {pending}"
    );

    let page = api
        .get(&format!("/v1/contracts/{id}/events?from=1&limit=2"))?
        .json()?;
    let seqs: Vec<&Value> = page["events"]
        .as_array()
        .context("events")?
        .iter()
        .map(|e| &e["seq"])
        .collect();
    ensure!(
        seqs == [1, 2] && page["next"] == 3 && page["contract"] == id,
        "stream page: {page}"
    );
    let tail = api
        .get(&format!("/v1/contracts/{id}/events?from=6"))?
        .json()?;
    ensure!(
        tail["events"].as_array().map(Vec::len) == Some(2) && tail["next"].is_null(),
        "stream tail: {tail}"
    );
    Ok(())
}

#[test]
fn checkpoints_and_proofs_grow_consistently() -> Result<()> {
    let (_dir, _node, api) = start(&[])?;
    let verifier = verifier(&api)?;
    let mut contract = Contract::new("eastville-employment")?;
    append(&api, &mut contract, Contract::registered)?;
    append(&api, &mut contract, |c| c.claim("employed-6m", 1, 0))?;
    let (small, _) = checkpoint_at(&api, &verifier, 2)?;
    let mut checkpoints = vec![small];
    for (round, nonce) in [(0u64, 1u64), (1, 2), (2, 3)] {
        for extra in 0..=round {
            append(&api, &mut contract, |c| {
                c.claim("employed-6m", 1, nonce * 10 + extra)
            })?;
        }
        let size = contract.next_seq();
        checkpoints.push(checkpoint_at(&api, &verifier, size)?.0);
    }
    let log = api.log_all(100)?;
    for pair in checkpoints.windows(2) {
        check_consistency(&api, &pair[0], &pair[1])?;
    }
    let first = checkpoints.first().context("no checkpoint")?;
    let last = checkpoints.last().context("no checkpoint")?;
    check_consistency(&api, first, last)?;
    check_consistency(&api, last, last)?;
    check_inclusion(&api, &log, first)?;
    check_inclusion(&api, &log, last)?;
    for checkpoint in &checkpoints {
        let note = api.get(&format!("/v1/checkpoint/{}", checkpoint.size))?;
        ensure!(
            open_checkpoint(&verifier, &note.text())? == *checkpoint,
            "checkpoint {} changed",
            checkpoint.size
        );
    }
    Ok(())
}

#[test]
fn every_refusal_is_a_problem_with_its_status_and_nothing_is_stored() -> Result<()> {
    let (_dir, _node, api) = start(&[])?;
    let mut contract = Contract::new("westford-refusals")?;
    refuse_unsigned_registration(&api, &contract)?;
    let registered = append(&api, &mut contract, Contract::registered)?;
    let claim = append(&api, &mut contract, |c| c.claim("housed-12m", 2, 0))?;
    let size = api.log_all(100)?.len();

    refuse_malformed(&api, &contract)?;
    refuse_bad_signature(&api, &contract)?;
    let wrong_role = contract.by(&contract.parties().verifier, claim_body(&contract)?)?;
    api.post_event(&wrong_role.envelope)?
        .problem(403, "wrong-role")?;
    refuse_conflicts(&api, &contract, &registered, &claim)?;
    api.post_event(&contract.verified(claim.id, 3)?.envelope)?
        .problem(422, "over-claimed")?;
    let unverified = contract.payment(&[(claim.id, HOUSED_PRICE)], HOUSED_PRICE)?;
    api.post_event(&unverified.envelope)?
        .problem(422, "claim-not-verified")?;
    let unknown_outcome = contract.claim("sober-3m", 1, 7)?;
    api.post_event(&unknown_outcome.envelope)?
        .problem(422, "unknown-outcome")?;
    ensure!(
        api.log_all(100)?.len() == size,
        "a refused event was stored"
    );

    let provider = contract.parties().provider.key_id();
    append(&api, &mut contract, |c| c.revoked(provider))?;
    api.post_event(&contract.claim("housed-12m", 1, 8)?.envelope)?
        .problem(403, "revoked-key")?;
    ensure!(
        api.log_all(100)?.len() == size + 1,
        "a refused event was stored"
    );

    let metrics = api.get("/metrics")?.text();
    for code in ["wrong-role", "over-claimed", "revoked-key", "seq-conflict"] {
        let prefix = format!("ledger_refusals_total{{code=\"{code}\"}} ");
        ensure!(
            metrics.lines().any(|l| l.starts_with(&prefix)),
            "no refusal count for {code}:\n{metrics}"
        );
    }
    Ok(())
}

fn claim_body(contract: &Contract) -> Result<proto::Body> {
    Ok(contract.claim("housed-12m", 1, 99)?.payload.body)
}

fn refuse_unsigned_registration(api: &Api, contract: &Contract) -> Result<()> {
    let parties = contract.parties();
    let payload = contract.draft(
        &parties.commissioner,
        proto::Body::ContractRegistered(contract.terms()?),
    )?;
    let five = [
        &parties.commissioner,
        &parties.provider,
        &parties.investor,
        &parties.intermediary,
        &parties.verifier,
    ];
    let unsigned = Contract::sign(payload, &five)?;
    api.post_event(&unsigned.envelope)?
        .problem(403, "missing-signature")?;
    api.get(&format!("/v1/contracts/{}", contract.id()))?
        .problem(404, "contract-not-found")?;
    Ok(())
}

fn refuse_malformed(api: &Api, contract: &Contract) -> Result<()> {
    api.post("/v1/events", b"not json".to_vec())?
        .problem(400, "bad-body")?;
    api.post("/v1/events", b"[{\"payload\":".to_vec())?
        .problem(400, "bad-body")?;
    api.post("/v1/events", b"[]".to_vec())?
        .problem(400, "bad-body")?;
    // The canonical payload with one space: valid JSON, validly signed, not RFC 8785.
    let canonical = contract.claim("housed-12m", 1, 50)?.payload.encode();
    let mut spaced = b"{ ".to_vec();
    spaced.extend_from_slice(&canonical[1..]);
    let envelope = seal(&spaced, &[&contract.parties().provider])?;
    api.post_event(&envelope)?.problem(400, "non-canonical")?;
    let mut extra: Value = serde_json::from_slice(&contract.claim("housed-12m", 1, 51)?.envelope)?;
    extra["comment"] = Value::from("not a DSSE member");
    api.post_event(&serde_json::to_vec(&extra)?)?
        .problem(400, "unknown-field")?;
    Ok(())
}

fn refuse_bad_signature(api: &Api, contract: &Contract) -> Result<()> {
    let claim = contract.claim("housed-12m", 1, 52)?;
    let bytes = claim.payload.encode();
    let good = proto::dsse::sign(
        PAYLOAD_TYPE,
        &bytes,
        contract.parties().provider.signing_key(),
    );
    let mut sig = *good.sig();
    sig[40] ^= 0x01;
    let forged = Envelope::new(
        PAYLOAD_TYPE,
        bytes,
        vec![Signature::new(*good.keyid(), sig)],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let problem = api
        .post_event(&forged.to_jcs())?
        .problem(401, "invalid-signature")?;
    ensure!(
        problem["event"] == claim.id.to_hex(),
        "problem names event {}",
        problem["event"]
    );
    Ok(())
}

fn refuse_conflicts(
    api: &Api,
    contract: &Contract,
    registered: &Signed,
    claim: &Signed,
) -> Result<()> {
    let head = serde_json::json!({"next_seq": 2, "last": claim.id.to_hex()});
    let duplicate = api.post_event(&claim.envelope)?.problem(409, "duplicate")?;
    ensure!(
        duplicate["index"] == 1 && duplicate["head"] == head,
        "duplicate problem: {duplicate}"
    );
    let mut stale = contract.clone();
    stale.rebase(1, Some(registered.id));
    let conflict = api
        .post_event(&stale.claim("housed-12m", 1, 60)?.envelope)?
        .problem(409, "seq-conflict")?;
    ensure!(conflict["head"] == head, "seq conflict head: {conflict}");
    let mut forked = contract.clone();
    forked.rebase(2, Some(registered.id));
    let fork = api
        .post_event(&forked.claim("housed-12m", 1, 61)?.envelope)?
        .problem(409, "prev-mismatch")?;
    ensure!(fork["head"] == head, "prev mismatch head: {fork}");
    Ok(())
}

#[test]
fn limits_answer_413_problems() -> Result<()> {
    let limits = [
        "--body-bytes-max",
        "65536",
        "--events-per-request-max",
        "3",
        "--payload-bytes-max",
        "4096",
    ];
    let (_dir, _node, api) = start(&limits)?;
    let mut contract = Contract::new("limits")?;
    append(&api, &mut contract, Contract::registered)?;

    let big = format!("[\"{}\"]", "x".repeat(70_000)).into_bytes();
    api.post("/v1/events", big)?
        .problem(413, "body-too-large")?;
    let claims: Vec<Signed> = (0..4)
        .map(|n| contract.claim("housed-12m", 1, n))
        .collect::<Result<_>>()?;
    let four: Vec<&[u8]> = claims.iter().map(|c| c.envelope.as_slice()).collect();
    api.post_events(&four)?.problem(413, "too-many-events")?;
    let crowded = contract.claim_with("housed-12m", 60, 60, 9)?;
    ensure!(
        crowded.envelope.len() > 4096,
        "the crowded claim is only {} bytes",
        crowded.envelope.len()
    );
    api.post_event(&crowded.envelope)?
        .problem(413, "envelope-too-large")?;
    ensure!(api.log_all(10)?.len() == 1, "a refused event was stored");
    Ok(())
}

#[test]
fn a_batch_judges_each_envelope_on_its_own_in_order() -> Result<()> {
    let (_dir, _node, api) = start(&[])?;
    let mut contract = Contract::new("batch")?;
    let registered = contract.registered()?;
    contract.accept(&registered);
    let first = contract.claim("housed-12m", 2, 1)?;
    contract.accept(&first);
    let over = contract.verified(first.id, 5)?;
    let verified = contract.verified(first.id, 2)?;
    contract.accept(&verified);
    let batch = [&registered, &first, &over, &verified, &first];
    let reply = api.post_events(
        &batch
            .iter()
            .map(|s| s.envelope.as_slice())
            .collect::<Vec<_>>(),
    )?;
    ensure!(
        reply.status == 200,
        "batch: {} {}",
        reply.status,
        reply.text()
    );
    let json = reply.json()?;
    ensure!(json["errors"] == true, "errors flag: {json}");
    let results = json["results"].as_array().context("results")?;
    let statuses: Vec<&Value> = results.iter().map(|r| &r["status"]).collect();
    ensure!(
        statuses == [201, 201, 422, 201, 409],
        "statuses {statuses:?}"
    );
    for (index, (result, signed)) in [
        (0, (&results[0], &registered)),
        (1, (&results[1], &first)),
        (2, (&results[3], &verified)),
    ] {
        ensure!(
            result["id"] == signed.id.to_hex() && result["index"] == index,
            "result {result}"
        );
    }
    check_problem(&results[2]["problem"], 422, "over-claimed")?;
    ensure!(
        results[2]["problem"]["item"] == 2,
        "item {}",
        results[2]["problem"]["item"]
    );
    check_problem(&results[4]["problem"], 409, "duplicate")?;
    ensure!(
        api.log_all(10)?.len() == 3,
        "the log does not hold exactly the three accepted events"
    );

    let next = contract.claim("housed-12m", 1, 2)?;
    let all_good = api.post_events(&[next.envelope.as_slice()])?.json()?;
    ensure!(
        all_good["errors"] == false && all_good["results"][0]["status"] == 201,
        "{all_good}"
    );
    Ok(())
}

#[test]
fn routing_and_parameter_errors_are_problems() -> Result<()> {
    let (_dir, _node, api) = start(&["--page-size-default", "20", "--page-size-max", "50"])?;
    let mut contract = Contract::new("routing")?;
    append(&api, &mut contract, Contract::registered)?;
    let not_found = [
        ("/nowhere", "not-found"),
        (
            "/v1/events/0000000000000000000000000000000000000000000000000000000000000000",
            "event-not-found",
        ),
        ("/v1/contracts/no-such-contract", "contract-not-found"),
        (
            "/v1/contracts/no-such-contract/events",
            "contract-not-found",
        ),
        ("/v1/checkpoint/999999", "checkpoint-not-found"),
    ];
    for (path, code) in not_found {
        api.get(path)?
            .problem(404, code)
            .with_context(|| path.to_owned())?;
    }
    let delete = api.request(reqwest::Method::DELETE, "/v1/events")?;
    delete.problem(405, "method-not-allowed")?;
    ensure!(
        delete.header("allow").contains("POST"),
        "allow {:?}",
        delete.header("allow")
    );
    let get = api.get("/v1/events")?;
    get.problem(405, "method-not-allowed")?;
    ensure!(
        get.header("allow") == "POST",
        "allow {:?}",
        get.header("allow")
    );
    let bad = [
        ("/v1/events/xyz", "bad-path"),
        ("/v1/contracts/Not_An_Id", "bad-path"),
        ("/v1/checkpoint/abc", "bad-path"),
        ("/v1/log?limit=0", "bad-query"),
        ("/v1/log?limit=51", "bad-query"),
        ("/v1/log?from=-1", "bad-query"),
        ("/v1/log?bogus=1", "bad-query"),
        ("/v1/trail?kind=claim.invented", "bad-query"),
        ("/v1/trail?role=king", "bad-query"),
        ("/v1/trail?since=yesterday", "bad-query"),
        ("/v1/trail?party=abc", "bad-query"),
        ("/v1/proof/inclusion?index=0", "bad-query"),
        ("/v1/proof/inclusion?index=1&size=1", "index-out-of-range"),
        ("/v1/proof/inclusion?index=0&size=2", "size-out-of-range"),
        ("/v1/proof/consistency?from=0&to=1", "bad-range"),
        ("/v1/proof/consistency?from=1&to=2", "size-out-of-range"),
    ];
    for (path, code) in bad {
        api.get(path)?
            .problem(400, code)
            .with_context(|| path.to_owned())?;
    }
    Ok(())
}

#[test]
fn the_openapi_document_describes_every_route_and_problem() -> Result<()> {
    let (_dir, _node, api) = start(&[])?;
    let doc = api.get("/v1/openapi.json")?.json()?;
    ensure!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi {}",
        doc["openapi"]
    );
    let routes = [
        ("/v1/events", "post"),
        ("/v1/events/{id}", "get"),
        ("/v1/log", "get"),
        ("/v1/contracts", "get"),
        ("/v1/contracts/{id}", "get"),
        ("/v1/contracts/{id}/events", "get"),
        ("/v1/trail", "get"),
        ("/v1/checkpoint", "get"),
        ("/v1/checkpoint/{size}", "get"),
        ("/v1/proof/inclusion", "get"),
        ("/v1/proof/consistency", "get"),
        ("/v1/node", "get"),
        ("/v1/replication", "get"),
        ("/v1/replication/refused", "get"),
        ("/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in routes {
        ensure!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    let described = doc["paths"].as_object().map(|p| p.len());
    ensure!(
        described == Some(routes.len()),
        "{described:?} paths described, {} served",
        routes.len()
    );
    let types = doc["x-problem-types"]
        .as_array()
        .context("x-problem-types")?;
    for (code, status) in [
        ("over-outcome-cap", 422),
        ("revoked-key", 403),
        ("too-many-events", 413),
        ("unavailable", 503),
    ] {
        let found = types
            .iter()
            .find(|t| t["code"] == code)
            .with_context(|| format!("no problem type {code}"))?;
        ensure!(found["status"] == status, "{code}: {found}");
    }
    Ok(())
}

#[test]
fn the_trail_filters_and_paginates_with_a_cursor() -> Result<()> {
    let (_dir, _node, api) = start(&[])?;
    let history = write_history(&api, "trail-housing")?;
    let mut other = Contract::new("trail-employment")?;
    append(&api, &mut other, Contract::registered)?;
    append(&api, &mut other, |c| c.claim("employed-6m", 1, 0))?;
    let ids = |indexes: &[usize]| -> Vec<String> {
        indexes
            .iter()
            .map(|&i| history.events[i].id.to_hex())
            .collect()
    };

    let claims = trail_ids(&api, "contract=trail-housing&kind=claim.submitted", 2)?;
    ensure!(claims == ids(&[1, 2, 3]), "claims {claims:?}");
    let verifier = history.contract.parties().verifier.key_id();
    let by_verifier = trail_ids(&api, &format!("party={verifier}"), 1)?;
    // The verifier signed the registration (every party does) and authored two verifications.
    ensure!(
        by_verifier == ids(&[0, 4, 5]),
        "verifier's events {by_verifier:?}"
    );
    let providers = trail_ids(&api, "role=provider", 10)?;
    ensure!(providers.len() == 4, "provider events {providers:?}");
    let employed = trail_ids(&api, "outcome=employed-6m&kind=claim.submitted", 10)?;
    ensure!(employed.len() == 1, "employed-6m claims {employed:?}");
    // Event seq n is dated 2025-03-01T00:00:00Z + n minutes.
    let window = trail_ids(
        &api,
        "contract=trail-housing&since=2025-03-01T00:02:00Z&until=2025-03-01T00:04:00Z",
        10,
    )?;
    ensure!(
        window == ids(&[2, 3]),
        "events in [00:02, 00:04): {window:?}"
    );
    let everything = trail_ids(&api, "", 3)?;
    ensure!(
        everything.len() == history.events.len() + 2,
        "whole trail {}",
        everything.len()
    );
    Ok(())
}

/// Every event id of a trail query, following `next_cursor` with pages of `limit`.
fn trail_ids(api: &Api, filter: &str, limit: usize) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor: Option<u64> = None;
    for _ in 0..1_000 {
        let position = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let reply = api.get(&format!("/v1/trail?{filter}&limit={limit}{position}"))?;
        ensure!(
            reply.status == 200,
            "trail {filter}: {} {}",
            reply.status,
            reply.text()
        );
        let page = reply.json()?;
        let events = page["events"].as_array().context("events")?;
        ensure!(
            events.len() <= limit,
            "a page of {} over the limit {limit}",
            events.len()
        );
        ids.extend(
            events
                .iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned)),
        );
        match page["next_cursor"].as_u64() {
            Some(next) => cursor = Some(next),
            None => return Ok(ids),
        }
    }
    anyhow::bail!("the trail {filter} did not end after 1000 pages")
}

#[test]
fn restart_keeps_everything_and_proofs_verify_across_restarts() -> Result<()> {
    let (_dir, mut node, mut api) = start(&[])?;
    let mut history = write_history(&api, "restart-housing")?;
    let verifier = verifier(&api)?;
    let size = u64::try_from(history.events.len())?;
    let (before, note) = checkpoint_at(&api, &verifier, size)?;
    let snapshot = Snapshot::take(&api, history.contract.id().as_str())?;

    let status = node.terminate()?;
    ensure!(
        status.success(),
        "SIGTERM exit: {status}\n{}",
        node.log_tail()
    );
    node.restart()?;
    api = Api::new(&node.url(""))?;
    snapshot.check(&api)?;
    ensure!(
        api.get(&format!("/v1/checkpoint/{size}"))?.text() == note,
        "checkpoint {size} changed"
    );

    let claim = append(&api, &mut history.contract, |c| {
        c.claim("employed-6m", 1, 40)
    })?;
    append(&api, &mut history.contract, |c| c.verified(claim.id, 1))?;
    let (after, _) = checkpoint_at(&api, &verifier, size + 2)?;
    check_consistency(&api, &before, &after)?;
    let log = api.log_all(100)?;
    check_inclusion(&api, &log, &after)?;

    node.kill()?;
    node.restart()?;
    api = Api::new(&node.url(""))?;
    ensure!(api.log_all(100)? == log, "the log changed across SIGKILL");
    let latest = open_checkpoint(&verifier, &api.checkpoint_note()?)?;
    ensure!(
        latest == after,
        "latest checkpoint after SIGKILL {latest:?}, before {after:?}"
    );
    check_consistency(&api, &before, &latest)?;
    append(&api, &mut history.contract, Contract::closed)?;
    Ok(())
}

/// What a restart must keep.
struct Snapshot {
    node: Value,
    log: Vec<EventRecord>,
    contracts: Value,
    state: Value,
    contract: String,
}

impl Snapshot {
    fn take(api: &Api, contract: &str) -> Result<Self> {
        Ok(Self {
            node: api.get("/v1/node")?.json()?,
            log: api.log_all(100)?,
            contracts: api.get("/v1/contracts")?.json()?,
            state: api.get(&format!("/v1/contracts/{contract}"))?.json()?,
            contract: contract.to_owned(),
        })
    }

    fn check(&self, api: &Api) -> Result<()> {
        let again = Self::take(api, &self.contract)?;
        ensure!(
            again.node == self.node,
            "node info {} became {}",
            self.node,
            again.node
        );
        ensure!(again.log == self.log, "the log changed across the restart");
        ensure!(
            again.contracts == self.contracts,
            "contracts {} became {}",
            self.contracts,
            again.contracts
        );
        ensure!(
            again.state == self.state,
            "projection {} became {}",
            self.state,
            again.state
        );
        Ok(())
    }
}
