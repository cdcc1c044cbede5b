//! Replication over NATS JetStream, with real processes only: `nats-server -js` on loopback
//! ports with temporary stores (one server, or a three-server cluster with stream replicas 3)
//! and several real `ledger-node` processes joined to one ledger.
//!
//! What every test checks in the end: all nodes serve the same log, root, contract list and
//! projections, and every acknowledged event is in the log exactly once (nothing else is).
//! Synchronisation is by conditions with deadlines (`wait_until`), never by sleeping.

#[path = "replication/support.rs"]
mod support;

#[path = "replication/secured.rs"]
mod secured;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};

use anyhow::{ensure, Context, Result};
use ledger_tests::api::Api;
use ledger_tests::events::{Contract, Signed};
use ledger_tests::wait_until;
use proto::EventId;

use support::{
    converged, cosigned, exactly_the_acknowledged, head, in_threads, post, start_node,
    write_claims, Answer, Cluster, Ledgerbook, RogueClient, Trio, LEDGER, WAIT,
};

/// Claims each writing client makes.
const CLAIMS_PER_CLIENT: u64 = 12;

/// Clients write on all three nodes at once, each to a contract of its own and to two
/// contracts all of them share.
#[test]
fn three_nodes_converge_under_concurrent_writers() -> Result<()> {
    let trio = Trio::start()?;
    let book = Arc::new(Ledgerbook::default());
    let mut jobs = Vec::new();
    for (i, api) in trio.apis.iter().enumerate() {
        jobs.push((api.clone(), format!("own-{i}"), 1_000 * i as u64));
        let shared = if i % 2 == 0 { "shared-a" } else { "shared-b" };
        jobs.push((api.clone(), shared.to_owned(), 10_000 + 1_000 * i as u64));
    }
    let writers = Arc::clone(&book);
    in_threads(jobs, move |(api, contract, nonces)| {
        write_claims(
            &api,
            Contract::new(&contract)?,
            CLAIMS_PER_CLIENT,
            nonces,
            &writers,
        )
    })
    .with_context(|| trio.logs())?;

    let acked = book.acked();
    let size = distinct(&acked);
    // 5 registrations and 6 clients' claims.
    ensure!(
        size == 5 + 6 * CLAIMS_PER_CLIENT,
        "{size} events acknowledged"
    );
    let log = converged(&trio.apis(), size).with_context(|| trio.logs())?;
    exactly_the_acknowledged(&log, &acked)?;
    let note = cosigned(&trio.apis(), size).with_context(|| trio.logs())?;
    ensure!(note.lines().next() == Some(&*format!("outcome-ledger/{LEDGER}")));
    Ok(())
}

fn distinct(acked: &[(EventId, u64)]) -> u64 {
    let ids: std::collections::HashSet<&EventId> = acked.iter().map(|(id, _)| id).collect();
    ids.len() as u64
}

/// Six racers, two per node, post different claims at the same head of one contract, round
/// after round: each round has exactly one winner, every loser gets 409 with the winner as
/// the head, and every node holds the winners, one per seq.
#[test]
fn racing_appends_have_exactly_one_winner_per_seq() -> Result<()> {
    const ROUNDS: u64 = 8;
    const RACERS: usize = 6;
    let trio = Trio::start()?;
    let mut contract = Contract::new("race")?;
    let registration = contract.registered()?;
    ensure!(matches!(
        post(&trio.apis[0], &registration)?,
        Answer::Created(0)
    ));
    contract.accept(&registration);
    let mut winners = vec![registration.id];
    for round in 0..ROUNDS {
        let claims: Vec<Signed> = (0..RACERS)
            .map(|racer| contract.claim("housed-12m", 1, round * 100 + racer as u64))
            .collect::<Result<_>>()?;
        let answers = race(&trio.apis, &claims)?;
        let won: Vec<&Signed> = claims
            .iter()
            .zip(&answers)
            .filter(|(_, a)| matches!(a, Answer::Created(_)))
            .map(|(c, _)| c)
            .collect();
        ensure!(won.len() == 1, "round {round}: answers {answers:?}");
        let winner = won[0].clone();
        for answer in answers.iter().filter(|a| !matches!(a, Answer::Created(_))) {
            let expected = Answer::Conflict(winner.payload.seq.get() + 1, Some(winner.id));
            ensure!(*answer == expected, "round {round}: a loser got {answer:?}");
        }
        contract.accept(&winner);
        winners.push(winner.id);
    }
    let log = converged(&trio.apis(), ROUNDS + 1).with_context(|| trio.logs())?;
    let in_log: Vec<String> = log.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<String> = winners.iter().map(EventId::to_hex).collect();
    ensure!(in_log == expected, "the log is not the winners in order");
    Ok(())
}

/// Posts every claim at once (racer i through node i mod 3) and returns the answers in order.
fn race(apis: &[Api], claims: &[Signed]) -> Result<Vec<Answer>> {
    let barrier = Arc::new(Barrier::new(claims.len()));
    let handles: Vec<_> = claims
        .iter()
        .enumerate()
        .map(|(i, claim)| {
            let (api, claim, barrier) = (
                apis[i % apis.len()].clone(),
                claim.clone(),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                post(&api, &claim)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().map_err(|_| anyhow::anyhow!("a racer panicked"))?)
        .collect()
}

/// A client sends the same new event, byte for byte, through two nodes at once (a retry on
/// another node), round after round, alone and in batches: of each pair exactly one answer is
/// 201 and the other is 409 duplicate with the same index, as a standalone node answers the
/// second of two identical appends. When both nodes judge before either has applied the
/// other's message, both publish and JetStream deduplicates the second by its Nats-Msg-Id;
/// when one judges after, its judgement finds the event: the answers are the same either way.
#[test]
fn identical_appends_through_two_nodes_store_once() -> Result<()> {
    const ROUNDS: u64 = 12;
    const BATCH_ROUNDS: u64 = 4;
    const BATCH: u64 = 4;
    let trio = Trio::start()?;
    let mut contract = Contract::new("twice")?;
    let mut expected_log = Vec::new();
    let registration = contract.registered()?;
    let answers = race_identical(&trio.apis[..2], std::slice::from_ref(&registration))?;
    expect_one_stored(&answers[0]).context("the registration")?;
    contract.accept(&registration);
    expected_log.push(registration.id);
    for round in 0..ROUNDS {
        let claim = contract.claim("housed-12m", 1, round)?;
        let answers = race_identical(&trio.apis[..2], std::slice::from_ref(&claim))?;
        expect_one_stored(&answers[0]).with_context(|| format!("round {round}"))?;
        contract.accept(&claim);
        expected_log.push(claim.id);
    }
    for round in 0..BATCH_ROUNDS {
        let mut batch = Vec::new();
        for i in 0..BATCH {
            let claim = contract.claim("housed-12m", 1, 1_000 + round * BATCH + i)?;
            contract.accept(&claim);
            batch.push(claim);
        }
        let answers = race_identical(&trio.apis[..2], &batch)?;
        for (i, pair) in answers.iter().enumerate() {
            expect_one_stored(pair).with_context(|| format!("batch round {round}, item {i}"))?;
        }
        expected_log.extend(batch.iter().map(|c| c.id));
    }
    let size = expected_log.len() as u64;
    let log = converged(&trio.apis(), size).with_context(|| trio.logs())?;
    let in_log: Vec<String> = log.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<String> = expected_log.iter().map(EventId::to_hex).collect();
    ensure!(
        in_log == expected,
        "the log holds other events than those sent"
    );
    Ok(())
}

/// Posts the same envelopes (one alone, several as a batch) through every node in `apis` at
/// once and returns, per envelope, each node's answer.
fn race_identical(apis: &[Api], events: &[Signed]) -> Result<Vec<Vec<Answer>>> {
    let barrier = Arc::new(Barrier::new(apis.len()));
    let handles: Vec<_> = apis
        .iter()
        .map(|api| {
            let (api, events, barrier) = (api.clone(), events.to_vec(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                match events.as_slice() {
                    [one] => Ok(vec![post(&api, one)?]),
                    many => post_batch(&api, many),
                }
            })
        })
        .collect();
    let mut per_node = Vec::new();
    for handle in handles {
        per_node.push(
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a poster panicked"))??,
        );
    }
    Ok((0..events.len())
        .map(|i| per_node.iter().map(|answers| answers[i].clone()).collect())
        .collect())
}

/// Posts envelopes as one batch and classifies each result (201 or 409 duplicate).
fn post_batch(api: &Api, events: &[Signed]) -> Result<Vec<Answer>> {
    let envelopes: Vec<&[u8]> = events.iter().map(|e| e.envelope.as_slice()).collect();
    let reply = api.post_events(&envelopes)?;
    ensure!(
        reply.status == 200,
        "batch: {} {}",
        reply.status,
        reply.text()
    );
    let json = reply.json()?;
    let results = json["results"].as_array().context("no results")?;
    ensure!(results.len() == events.len(), "batch: {json}");
    results
        .iter()
        .map(|result| {
            let index = |v: &serde_json::Value| v.as_u64().with_context(|| format!("{result}"));
            match (
                result["status"].as_u64(),
                result["problem"]["code"].as_str(),
            ) {
                (Some(201), _) => Ok(Answer::Created(index(&result["index"])?)),
                (Some(409), Some("duplicate")) => {
                    Ok(Answer::Duplicate(index(&result["problem"]["index"])?))
                }
                _ => anyhow::bail!("unexpected batch result {result}"),
            }
        })
        .collect()
}

/// One 201 and one 409 duplicate, at the same index.
fn expect_one_stored(answers: &[Answer]) -> Result<()> {
    match answers {
        [Answer::Created(a), Answer::Duplicate(b)] | [Answer::Duplicate(b), Answer::Created(a)]
            if a == b =>
        {
            Ok(())
        }
        other => anyhow::bail!("answers {other:?}: not one 201 and one duplicate of it"),
    }
}

/// While clients write through two nodes, the third is killed with SIGKILL and restarted,
/// and a fourth starts on an empty directory: both catch up with the same log and root.
#[test]
fn a_killed_node_and_a_new_node_catch_up() -> Result<()> {
    let mut trio = Trio::start()?;
    let book = Arc::new(Ledgerbook::default());
    let writers = Arc::clone(&book);
    let jobs: Vec<(Api, String, u64)> = (0..2)
        .map(|i| (trio.apis[i].clone(), format!("steady-{i}"), 0))
        .collect();
    let clients = std::thread::spawn(move || {
        in_threads(jobs, move |(api, contract, nonces)| {
            write_claims(&api, Contract::new(&contract)?, 40, nonces, &writers)
        })
    });
    let acks = |n: u64| {
        let book = Arc::clone(&book);
        move || Ok((book.acks.load(Ordering::SeqCst) >= n).then_some(()))
    };
    wait_until(WAIT, "10 acknowledgements", acks(10))?;
    trio.nodes[2].kill()?;
    wait_until(WAIT, "20 acknowledgements", acks(20))?;
    trio.nodes[2].restart()?;
    trio.apis[2] = Api::new(&trio.nodes[2].url(""))?;
    support::wait_ready(&trio.apis[2])?;
    trio.add_node()?;
    let joined = clients
        .join()
        .map_err(|_| anyhow::anyhow!("clients panicked"))?;
    joined.with_context(|| trio.logs())?;

    let acked = book.acked();
    let log = converged(&trio.apis(), distinct(&acked)).with_context(|| trio.logs())?;
    exactly_the_acknowledged(&log, &acked)?;
    Ok(())
}

/// nats-server is killed during writes and started again on the same port and store: writes
/// answer 503 with Retry-After meanwhile, reads keep working, the nodes reconnect by
/// themselves, and no event is lost or stored twice.
#[test]
fn nats_down_answers_503_and_loses_nothing() -> Result<()> {
    let mut trio = Trio::start()?;
    let book = Arc::new(Ledgerbook::default());
    let writers = Arc::clone(&book);
    let jobs: Vec<(Api, String, u64)> = trio
        .apis
        .iter()
        .enumerate()
        .map(|(i, api)| (api.clone(), format!("outage-{i}"), 0))
        .collect();
    let clients = std::thread::spawn(move || {
        in_threads(jobs, move |(api, contract, nonces)| {
            write_claims(&api, Contract::new(&contract)?, 25, nonces, &writers)
        })
    });
    wait_until(WAIT, "15 acknowledgements", || {
        Ok((book.acks.load(Ordering::SeqCst) >= 15).then_some(()))
    })?;
    trio.nats.kill()?;
    wait_until(WAIT, "writers see 503s", || {
        Ok((book.unavailable.load(Ordering::SeqCst) >= 3).then_some(()))
    })?;
    for api in &trio.apis {
        let reply = api.get("/v1/log?limit=1")?;
        ensure!(reply.status == 200, "a read failed while NATS was down");
    }
    trio.nats.restart()?;
    let joined = clients
        .join()
        .map_err(|_| anyhow::anyhow!("clients panicked"))?;
    joined.with_context(|| trio.logs())?;

    let acked = book.acked();
    ensure!(
        distinct(&acked) == 3 * 26,
        "{} acknowledged",
        distinct(&acked)
    );
    let log = converged(&trio.apis(), 3 * 26).with_context(|| trio.logs())?;
    exactly_the_acknowledged(&log, &acked)?;
    Ok(())
}

/// A three-server JetStream cluster, stream replicas 3; one server is killed during writes:
/// the ledger keeps accepting events and every node converges.
#[test]
fn a_cluster_survives_the_loss_of_a_server() -> Result<()> {
    let mut cluster = Cluster::start(3)?;
    let mut nodes = Vec::new();
    let mut apis = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..3 {
        let dir = tempfile::Builder::new()
            .prefix("ledger-cluster-node-")
            .tempdir()?;
        // Each node knows every server and prefers its own.
        let urls = format!("{},{}", cluster.url(i), cluster.urls());
        let (node, api) = start_node(dir.path(), &urls, "3")?;
        nodes.push(node);
        apis.push(api);
        dirs.push(dir);
    }
    let logs = || {
        nodes
            .iter()
            .map(|n| n.log_tail())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    let book = Arc::new(Ledgerbook::default());
    let writers = Arc::clone(&book);
    let jobs: Vec<(Api, String, u64)> = apis
        .iter()
        .enumerate()
        .map(|(i, api)| (api.clone(), format!("cluster-{i}"), 0))
        .collect();
    let clients = std::thread::spawn(move || {
        in_threads(jobs, move |(api, contract, nonces)| {
            write_claims(&api, Contract::new(&contract)?, 20, nonces, &writers)
        })
    });
    wait_until(WAIT, "10 acknowledgements", || {
        Ok((book.acks.load(Ordering::SeqCst) >= 10).then_some(()))
    })?;
    cluster.kill(0)?;
    let after_kill = book.acks.load(Ordering::SeqCst);
    let joined = clients
        .join()
        .map_err(|_| anyhow::anyhow!("clients panicked"))?;
    joined.with_context(logs)?;
    let acked = book.acked();
    ensure!(
        distinct(&acked) == 3 * 21 && book.acks.load(Ordering::SeqCst) > after_kill,
        "the ledger stopped accepting events after the server was lost"
    );
    let apis: Vec<&Api> = apis.iter().collect();
    let log = converged(&apis, 3 * 21).with_context(logs)?;
    exactly_the_acknowledged(&log, &acked)?;
    Ok(())
}

/// A party publishes straight to the stream, around the nodes: a forged claim and a claim
/// naming more participants than units, each at the contract's head. Every node refuses both, with the same
/// reasons at the same stream sequences, and the contract goes on as if they never came.
#[test]
fn every_node_refuses_a_rogue_publisher_identically() -> Result<()> {
    let trio = Trio::start()?;
    let mut contract = Contract::new("rogue-target")?;
    let registration = contract.registered()?;
    ensure!(matches!(
        post(&trio.apis[0], &registration)?,
        Answer::Created(0)
    ));
    contract.accept(&registration);
    converged(&trio.apis(), 1)?;

    let mut forged = contract.claim("housed-12m", 1, 1)?;
    forged.envelope = support::forge(&forged.envelope)?;
    // Three participants for one unit: more people than outcomes claimed.
    let rule_broken = contract.claim_with("housed-12m", 1, 3, 2)?;
    let subject = format!("ledger.{LEDGER}.events.{}", contract.id());
    let mut rogue = RogueClient::connect(trio.nats.port())?;
    let mut sequences = Vec::new();
    for signed in [&forged, &rule_broken] {
        let ack = rogue.publish(&subject, &signed.envelope)?;
        sequences.push(ack["seq"].as_u64().with_context(|| format!("ack {ack}"))?);
    }

    let mut refused = Vec::new();
    for api in &trio.apis {
        let last = *sequences.last().context("no sequence")?;
        refused.push(
            wait_until(WAIT, "the rogue messages are judged", || {
                let page = api.get("/v1/replication/refused")?.json()?;
                let list = page["refused"].as_array().cloned().unwrap_or_default();
                let done = list.iter().any(|r| r["sequence"] == last);
                Ok(done.then_some(list))
            })
            .with_context(|| {
                let status = api
                    .get("/v1/replication")
                    .map(|r| r.text())
                    .unwrap_or_default();
                let page = api
                    .get("/v1/replication/refused")
                    .map(|r| r.text())
                    .unwrap_or_default();
                format!("sequences {sequences:?}; {status}; {page}\n{}", trio.logs())
            })?,
        );
    }
    ensure!(
        refused.iter().all(|r| *r == refused[0]),
        "nodes disagree: {refused:?}"
    );
    let codes: BTreeMap<u64, (String, u64)> = refused[0]
        .iter()
        .map(|r| {
            let code = r["code"].as_str().unwrap_or_default().to_owned();
            (
                r["sequence"].as_u64().unwrap_or(0),
                (code, r["status"].as_u64().unwrap_or(0)),
            )
        })
        .collect();
    ensure!(
        codes.get(&sequences[0]) == Some(&("invalid-signature".to_owned(), 401))
            && codes.get(&sequences[1]) == Some(&("too-many-participants".to_owned(), 422)),
        "refusals {codes:?}"
    );
    // The contract goes on at the same head, through any node.
    let next = contract.claim("housed-12m", 1, 3)?;
    ensure!(matches!(post(&trio.apis[2], &next)?, Answer::Created(1)));
    converged(&trio.apis(), 2)?;
    for api in &trio.apis {
        ensure!(head(api)?.0 == 2);
    }
    Ok(())
}

/// Two nodes joined through `url` with the connection flags `extra`: an event appended
/// through the first is applied by the second.
fn two_nodes_replicate(url: &str, extra: &[&str]) -> Result<()> {
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::Builder::new().prefix("ledger-auth-").tempdir())
        .collect::<std::io::Result<_>>()?;
    let mut nodes = Vec::new();
    let mut apis = Vec::new();
    for dir in &dirs {
        let (node, api) = support::start_node_with(dir.path(), url, extra)?;
        nodes.push(node);
        apis.push(api);
    }
    let book = Ledgerbook::default();
    write_claims(&apis[0], Contract::new("secured")?, 2, 0, &book)?;
    let apis: Vec<&Api> = apis.iter().collect();
    converged(&apis, 3).with_context(|| {
        nodes
            .iter()
            .map(|n| n.log_tail())
            .collect::<Vec<_>>()
            .join("\n---\n")
    })?;
    Ok(())
}

/// Starting a node through `url` with `extra` fails, and the node's message holds every one
/// of `expected`.
fn start_fails_with(url: &str, extra: &[&str], expected: &[&str]) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("ledger-auth-").tempdir()?;
    let Err(error) = support::start_node_with(dir.path(), url, extra) else {
        anyhow::bail!("the node started with {extra:?}");
    };
    let message = format!("{error:#}");
    for part in expected {
        ensure!(message.contains(part), "{part:?} is not in:\n{message}");
    }
    Ok(())
}

/// A server that admits one NKey user: nodes with its seed (`--nats-nkey`) replicate; a node
/// with another user's seed is refused at start with a message naming the flag and the
/// file (never the seed); a file that holds no seed is refused before connecting.
#[test]
fn nkey_users_replicate_and_a_wrong_seed_is_refused_clearly() -> Result<()> {
    let dir = tempfile::Builder::new().prefix("ledger-nkey-").tempdir()?;
    let (user, seed) = secured::nkey_user()?;
    let seed_file = secured::write(dir.path(), "node.nk", &format!("{seed}\n"))?;
    let (_, wrong_seed) = secured::nkey_user()?;
    let wrong_file = secured::write(dir.path(), "wrong.nk", &wrong_seed)?;
    let junk_file = secured::write(dir.path(), "junk.nk", "SUNOTASEED")?;
    let server_dir = tempfile::Builder::new().prefix("ledger-nats-").tempdir()?;
    let server = secured::ConfiguredServer::start(
        server_dir,
        &format!("authorization {{ users = [ {{ nkey: {user} }} ] }}"),
    )?;
    let seed_arg = seed_file.display().to_string();
    two_nodes_replicate(&server.url(), &["--nats-nkey", &seed_arg])
        .with_context(|| server.log())?;
    let wrong = wrong_file.display().to_string();
    start_fails_with(
        &server.url(),
        &["--nats-nkey", &wrong],
        &[
            "refused this node",
            "authorization violation",
            "--nats-nkey",
            &wrong,
        ],
    )?;
    let junk = junk_file.display().to_string();
    start_fails_with(
        &server.url(),
        &["--nats-nkey", &junk],
        &["--nats-nkey", &junk, "not an NKey user seed"],
    )?;
    start_fails_with(&server.url(), &[], &["refused this node", "--nats-nkey"])?;
    Ok(())
}

/// A server that speaks only TLS, with a certificate for 127.0.0.1 from a CA made here:
/// nodes given the CA (`--nats-tls-ca`) replicate; a node without it fails at start saying
/// to give the CA.
#[test]
fn tls_with_the_servers_ca_replicates_and_without_it_fails_clearly() -> Result<()> {
    let dir = tempfile::Builder::new().prefix("ledger-tls-").tempdir()?;
    let (ca, cert, key) = secured::tls_files(dir.path())?;
    let server_dir = tempfile::Builder::new().prefix("ledger-nats-").tempdir()?;
    let server = secured::ConfiguredServer::start(
        server_dir,
        &format!("tls {{ cert_file: {cert:?}, key_file: {key:?}, timeout: 5 }}"),
    )?;
    let ca_arg = ca.display().to_string();
    two_nodes_replicate(&server.url(), &["--nats-tls-ca", &ca_arg])
        .with_context(|| server.log())?;
    start_fails_with(
        &server.url(),
        &[],
        &["TLS with the NATS server", "--nats-tls-ca"],
    )?;
    let not_a_ca = secured::write(dir.path(), "empty.pem", "")?
        .display()
        .to_string();
    start_fails_with(
        &server.url(),
        &["--nats-tls-ca", &not_a_ca],
        &["--nats-tls-ca", &not_a_ca, "no PEM certificate"],
    )?;
    Ok(())
}

/// A server of one operator (JWTs made here with nkeys): nodes with a user's credentials
/// file (`--nats-creds`) replicate; a node without credentials is refused at start; a file
/// that is no credentials file is refused before connecting.
#[test]
fn a_credentials_file_of_an_operators_user_replicates() -> Result<()> {
    let dir = tempfile::Builder::new().prefix("ledger-creds-").tempdir()?;
    let (server_config, creds) = secured::operator_setup()?;
    let creds_file = secured::write(dir.path(), "node.creds", &creds)?;
    let server_dir = tempfile::Builder::new().prefix("ledger-nats-").tempdir()?;
    let server = secured::ConfiguredServer::start(server_dir, &server_config)?;
    let creds_arg = creds_file.display().to_string();
    two_nodes_replicate(&server.url(), &["--nats-creds", &creds_arg])
        .with_context(|| server.log())?;
    start_fails_with(&server.url(), &[], &["refused this node", "--nats-creds"])?;
    let junk = secured::write(dir.path(), "junk.creds", "no JWT here")?
        .display()
        .to_string();
    start_fails_with(
        &server.url(),
        &["--nats-creds", &junk],
        &["--nats-creds", &junk, "not a NATS credentials file"],
    )?;
    Ok(())
}

/// Waits until `api`'s replication status is `state`; returns its detail.
fn wait_state(api: &Api, state: &str) -> Result<String> {
    wait_until(WAIT, &format!("the node's replication is {state}"), || {
        let json = api.get("/v1/replication")?.json()?;
        Ok((json["status"] == state).then(|| json["detail"].as_str().unwrap_or("").to_owned()))
    })
}

/// The events stream is deleted under three nodes (through the JetStream API, as an
/// operator's mistake or a lost server store would): every node says `broken` and how to
/// recover. One node is stopped and `ledger-node republish` re-creates the stream from its
/// store; every node (that one started again, the other two still running) checks the new
/// stream against its log, follows it with the same size and root, and takes new appends,
/// to new contracts and to old ones (whose subject sequences moved to the new stream). A
/// forged message refused before the loss makes old sequences differ from new ones.
#[test]
fn a_lost_stream_is_republished_from_one_node_and_every_node_follows_it() -> Result<()> {
    let mut trio = Trio::start()?;
    let book = Ledgerbook::default();
    write_claims(&trio.apis[0], Contract::new("lost-a")?, 4, 0, &book)?;
    let mut rogue = RogueClient::connect(trio.nats.port())?;
    let forged = support::forge(
        &Contract::new("lost-a")?
            .claim("housed-12m", 1, 999)?
            .envelope,
    )?;
    rogue.publish(&format!("ledger.{LEDGER}.events.lost-a"), &forged)?;
    write_claims(&trio.apis[1], Contract::new("lost-b")?, 4, 100, &book)?;
    let size = distinct(&book.acked());
    converged(&trio.apis(), size).with_context(|| trio.logs())?;
    let before = head(&trio.apis[0])?;

    let stream = format!("ledger-{LEDGER}-events");
    let deleted = rogue.publish(&format!("$JS.API.STREAM.DELETE.{stream}"), b"")?;
    ensure!(deleted["success"] == true, "deleting the stream: {deleted}");
    for api in &trio.apis {
        let detail = wait_state(api, "broken").with_context(|| trio.logs())?;
        ensure!(
            detail.contains("is gone") && detail.contains("ledger-node republish"),
            "{detail}"
        );
    }

    trio.nodes[0].terminate()?;
    let output = std::process::Command::new(ledger_tests::binary("ledger-node", "ledger-node")?)
        .arg("republish")
        .arg("--data")
        .arg(trio.nodes[0].data_dir())
        .args(["--nats", &trio.nats.url(), "--ledger", LEDGER])
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "republish failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        stdout.contains(&format!("republished {size} events")) && stdout.contains("epoch 2"),
        "{stdout}"
    );
    trio.nodes[0].restart()?;
    trio.apis[0] = Api::new(&trio.nodes[0].url(""))?;
    for api in &trio.apis {
        support::wait_ready(api).with_context(|| trio.logs())?;
    }
    converged(&trio.apis(), size).with_context(|| trio.logs())?;
    ensure!(head(&trio.apis[1])? == before, "the root changed");
    for api in &trio.apis {
        let json = api.get("/v1/replication")?.json()?;
        ensure!(
            json["position"] == size,
            "position {} in the new stream",
            json["position"]
        );
    }

    for (i, api) in trio.apis.iter().enumerate() {
        let nonces = 1_000 * (i as u64 + 1);
        write_claims(api, Contract::new("lost-a")?, 1, nonces, &book)
            .with_context(|| trio.logs())?;
        write_claims(api, Contract::new(&format!("after-{i}"))?, 1, nonces, &book)
            .with_context(|| trio.logs())?;
    }
    let acked = book.acked();
    let log = converged(&trio.apis(), size + 9).with_context(|| trio.logs())?;
    exactly_the_acknowledged(&log, &acked)?;
    Ok(())
}
