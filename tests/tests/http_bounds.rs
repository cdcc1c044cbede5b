//! The HTTP bounds of the real `ledger-node` binary (issue 9, findings 3, 5, 6 and 9): idle and
//! header-trickling connections are closed, the connection bound holds and recovers, every
//! error is a problem document (431, 413 and 415 included), pages are bounded by bytes and say where to continue, and the
//! OpenAPI document states the node's configured bounds.
//!
//! Nothing here is timed: each test waits for a condition (an EOF, a status) with a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use ledger_tests::api::{Api, EventRecord};
use ledger_tests::events::{Contract, Signed};
use ledger_tests::Node;
use serde_json::Value;
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(30);

fn start(extra: &[&str]) -> Result<(TempDir, Node, Api)> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-http-bounds-")
        .tempdir()?;
    let node = Node::start(dir.path(), extra)?;
    let api = Api::new(&node.url(""))?;
    Ok((dir, node, api))
}

fn append(api: &Api, contract: &mut Contract, signed: Signed) -> Result<()> {
    let reply = api.post_event(&signed.envelope)?;
    ensure!(reply.status == 201, "{} {}", reply.status, reply.text());
    contract.accept(&signed);
    Ok(())
}

/// Reads until the node closes the connection (EOF or reset), failing after `WAIT`. Returns
/// what was read before.
fn read_until_closed(stream: &mut TcpStream) -> Result<Vec<u8>> {
    let deadline = Instant::now() + WAIT;
    stream.set_read_timeout(Some(WAIT))?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(seen),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(seen),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!("the node kept the connection open for {WAIT:?}")
            }
            Err(e) => return Err(e.into()),
        }
        ensure!(
            Instant::now() < deadline,
            "the node kept the connection open"
        );
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream> {
    TcpStream::connect_timeout(&addr, WAIT).context("connecting to the node")
}

#[test]
fn idle_sockets_beyond_the_connection_bound_are_closed_and_the_node_recovers() -> Result<()> {
    let (_dir, node, api) = start(&[
        "--idle-timeout-ms",
        "200",
        "--header-read-timeout-ms",
        "200",
        "--connections-max",
        "4",
    ])?;
    // Twice the bound: four are accepted and idle, four wait in the backlog.
    let mut idle: Vec<TcpStream> = (0..8)
        .map(|_| connect(node.addr()))
        .collect::<Result<_>>()?;
    for stream in &mut idle {
        let seen = read_until_closed(stream)?;
        ensure!(seen.is_empty(), "an idle socket got {seen:?}");
    }
    let reply = api.get("/v1/node")?;
    ensure!(
        reply.status == 200,
        "after the idle sockets: {}",
        reply.status
    );
    // A keep-alive connection that served a request is closed once idle too.
    let mut kept = connect(node.addr())?;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")?;
    let seen = read_until_closed(&mut kept)?;
    ensure!(
        seen.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    Ok(())
}

#[test]
fn a_header_trickling_connection_is_closed() -> Result<()> {
    // The idle timeout is long: only the header read timeout can close this connection.
    let (_dir, node, api) = start(&[
        "--idle-timeout-ms",
        "600000",
        "--header-read-timeout-ms",
        "300",
    ])?;
    let mut stream = connect(node.addr())?;
    stream.write_all(b"GET /v1/node HTTP/1.1\r\nHost: node\r\n")?;
    // One header line per read timeout, until the node hangs up.
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 1024];
    let mut line = 0u64;
    loop {
        ensure!(
            Instant::now() < deadline,
            "the trickling connection stayed open"
        );
        if stream
            .write_all(format!("X-Trickle-{line}: a\r\n").as_bytes())
            .is_err()
        {
            break;
        }
        line += 1;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bail!("answered {}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    ensure!(
        api.get("/v1/node")?.status == 200,
        "the node stopped answering"
    );
    Ok(())
}

#[test]
fn every_error_is_a_problem_and_writes_must_be_json() -> Result<()> {
    let (_dir, node, api) = start(&[
        "--header-bytes-max",
        "4096",
        "--headers-max",
        "20",
        "--body-bytes-max",
        "1000",
    ])?;
    let http = reqwest::blocking::Client::new();
    let url = node.url("/v1/node");
    let long = http.get(&url).header("x-long", "a".repeat(5000)).send()?;
    check(long, 431, "header-too-large")?;
    let mut many = http.get(&url);
    for n in 0..25 {
        many = many.header(format!("x-field-{n}"), "a");
    }
    check(many.send()?, 431, "header-too-large")?;
    let events = node.url("/v1/events");
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let plain = http
            .post(&events)
            .header("content-type", content_type)
            .body("{}")
            .send()?;
        check(plain, 415, "unsupported-media-type")?;
    }
    check(
        http.post(&events).body("{}").send()?,
        415,
        "unsupported-media-type",
    )?;
    let charset = http
        .post(&events)
        .header("content-type", "application/json; charset=utf-8")
        .body("{}")
        .send()?;
    ensure!(
        charset.status() == 400,
        "json with a charset: {}",
        charset.status()
    );
    api.post("/v1/events", vec![b' '; 2000])?
        .problem(413, "body-too-large")?;
    // A path that does not decode is refused by axum before the handler: still a problem.
    api.get("/v1/events/%FF")?.problem(400, "bad-request")?;
    Ok(())
}

fn check(response: reqwest::blocking::Response, status: u16, code: &str) -> Result<()> {
    let got = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = response.json().context("a problem body")?;
    ensure!(got == status, "status {got}: {body}");
    ensure!(media == "application/problem+json", "media type {media:?}");
    ledger_tests::api::check_problem(&body, status, code)
}

#[derive(serde::Deserialize)]
struct EventPage {
    events: Vec<EventRecord>,
    next: Option<u64>,
}

#[derive(serde::Deserialize)]
struct TrailPage {
    events: Vec<EventRecord>,
    next_cursor: Option<u64>,
}

/// Events of one page and their JSON size as served.
fn page_bytes(reply_body: &[u8], key: &str) -> Result<(usize, usize)> {
    let json: Value = serde_json::from_slice(reply_body)?;
    let items = json[key].as_array().context("a list")?;
    let bytes = items
        .iter()
        .map(|item| serde_json::to_vec(item).map(|v| v.len() + 1))
        .sum::<Result<usize, _>>()?;
    Ok((items.len(), bytes))
}

const PAGE_BYTES_MAX: usize = 3000;

/// Every page holds at least one item and, when it holds more, stays under the byte bound.
fn check_bounded(body: &[u8], key: &str) -> Result<()> {
    let (items, bytes) = page_bytes(body, key)?;
    ensure!(items >= 1, "an empty page before the end");
    ensure!(
        items == 1 || bytes <= PAGE_BYTES_MAX,
        "{items} items of {bytes} bytes"
    );
    Ok(())
}

#[test]
fn pages_are_bounded_by_bytes_and_say_where_to_continue() -> Result<()> {
    let bound = PAGE_BYTES_MAX.to_string();
    let (_dir, _node, api) = start(&["--page-bytes-max", &bound])?;
    let mut written = Vec::new();
    for name in ["paged-a", "paged-b", "paged-c"] {
        let mut contract = Contract::new(name)?;
        let registered = contract.registered()?;
        written.push(registered.id.to_hex());
        append(&api, &mut contract, registered)?;
        for nonce in 0..4 {
            let claim = contract.claim("housed-12m", 1, nonce)?;
            written.push(claim.id.to_hex());
            append(&api, &mut contract, claim)?;
        }
    }
    // The log, at the largest page size: the byte bound cuts it.
    let mut from = Some(0);
    let mut log = Vec::new();
    let mut pages = 0;
    while let Some(start) = from {
        let reply = api.get(&format!("/v1/log?from={start}&limit=1000"))?;
        ensure!(reply.status == 200, "{}", reply.text());
        check_bounded(&reply.body, "events")?;
        let page: EventPage = serde_json::from_slice(&reply.body)?;
        log.extend(page.events.into_iter().map(|e| e.id));
        from = page.next;
        pages += 1;
    }
    ensure!(log == written, "the pages of the log are not the log");
    ensure!(
        pages > 1,
        "one page of {} events under {PAGE_BYTES_MAX} bytes",
        log.len()
    );
    check_stream(&api, &written[5..10])?;
    check_trail(&api, &written)?;
    Ok(())
}

fn check_stream(api: &Api, expected: &[String]) -> Result<()> {
    let mut from = Some(0);
    let mut ids = Vec::new();
    while let Some(start) = from {
        let reply = api.get(&format!(
            "/v1/contracts/paged-b/events?from={start}&limit=1000"
        ))?;
        ensure!(reply.status == 200, "{}", reply.text());
        check_bounded(&reply.body, "events")?;
        let page: EventPage = serde_json::from_slice(&reply.body)?;
        ids.extend(page.events.into_iter().map(|e| e.id));
        from = page.next;
    }
    ensure!(ids == expected, "the pages of a stream are not the stream");
    Ok(())
}

fn check_trail(api: &Api, expected: &[String]) -> Result<()> {
    let mut cursor = Some(0);
    let mut ids = Vec::new();
    while let Some(start) = cursor {
        let reply = api.get(&format!("/v1/trail?cursor={start}&limit=1000"))?;
        ensure!(reply.status == 200, "{}", reply.text());
        let page: TrailPage = serde_json::from_slice(&reply.body)?;
        if !page.events.is_empty() {
            check_bounded(&reply.body, "events")?;
        }
        ids.extend(page.events.into_iter().map(|e| e.id));
        cursor = page.next_cursor;
    }
    ensure!(ids == expected, "the pages of the trail are not the log");
    Ok(())
}

#[test]
fn the_contract_list_is_paged_by_id_with_a_cursor() -> Result<()> {
    let (_dir, _node, api) = start(&["--page-size-default", "2"])?;
    let names = ["list-d", "list-a", "list-c", "list-e", "list-b"];
    for name in names {
        let mut contract = Contract::new(name)?;
        let registered = contract.registered()?;
        append(&api, &mut contract, registered)?;
    }
    let mut ids = Vec::new();
    let mut path = "/v1/contracts".to_owned();
    loop {
        let json = api.get(&path)?.json()?;
        let page = json["contracts"].as_array().context("contracts")?;
        ensure!(
            page.len() <= 2,
            "a page of {} over the default of 2",
            page.len()
        );
        ids.extend(
            page.iter()
                .map(|c| c["id"].as_str().unwrap_or("").to_owned()),
        );
        match json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/contracts?cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sorted.sort();
    ensure!(ids == sorted, "{ids:?}");
    let all = api.get("/v1/contracts?limit=5")?.json()?;
    ensure!(all["next_cursor"].is_null(), "{all}");
    Ok(())
}

#[test]
fn the_openapi_document_states_the_configured_bounds() -> Result<()> {
    let (_dir, _node, api) = start(&[
        "--page-size-max",
        "50",
        "--page-size-default",
        "7",
        "--events-per-request-max",
        "9",
        "--body-bytes-max",
        "200000",
        "--payload-bytes-max",
        "100000",
        "--page-bytes-max",
        "65536",
        "--header-bytes-max",
        "8192",
        "--headers-max",
        "50",
        "--bodies-in-flight-max",
        "3",
        "--body-read-timeout-ms",
        "4000",
    ])?;
    let doc = api.get("/v1/openapi.json")?.json()?;
    let limits = &doc["x-limits"];
    for (name, value) in [
        ("page_size_max", 50),
        ("page_size_default", 7),
        ("events_per_request_max", 9),
        ("body_bytes_max", 200_000),
        ("payload_bytes_max", 100_000),
        ("page_bytes_max", 65_536),
        ("header_bytes_max", 8192),
        ("headers_max", 50),
        ("bodies_in_flight_max", 3),
        ("body_read_timeout_ms", 4000),
    ] {
        ensure!(limits[name] == value, "x-limits {name}: {}", limits[name]);
    }
    let mut limit_params = 0;
    for (path, item) in doc["paths"].as_object().context("paths")? {
        for parameter in item["get"]["parameters"].as_array().into_iter().flatten() {
            let schema = &parameter["schema"];
            if parameter["name"] == "limit" {
                limit_params += 1;
                ensure!(
                    schema["minimum"] == 1 && schema["maximum"] == 50 && schema["default"] == 7,
                    "{path} limit: {schema}"
                );
            }
            if ["size", "to"].contains(&parameter["name"].as_str().unwrap_or(""))
                || (path == "/v1/proof/consistency" && parameter["name"] == "from")
            {
                ensure!(
                    schema["minimum"] == 1,
                    "{path} {}: {schema}",
                    parameter["name"]
                );
            }
        }
    }
    // log, contracts, a contract's events, trail, refused stream messages
    ensure!(limit_params == 5, "{limit_params} operations take a limit");
    let post = &doc["paths"]["/v1/events"]["post"]["requestBody"];
    ensure!(post["x-body-bytes-max"] == 200_000, "{post}");
    let batch = &post["content"]["application/json"]["schema"]["oneOf"][1];
    ensure!(batch["maxItems"] == 9 && batch["minItems"] == 1, "{batch}");
    let envelope = &doc["components"]["schemas"]["Envelope"];
    ensure!(
        envelope["properties"]["payload"]["maxLength"] == 100_000,
        "{envelope}"
    );
    for status in ["408", "413", "415", "431"] {
        ensure!(
            doc["paths"]["/v1/events"]["post"]["responses"][status].is_object(),
            "POST /v1/events does not describe {status}"
        );
    }
    Ok(())
}
