//! A typed, blocking client of the node's `/v1` HTTP API.
//!
//! Answers map to three outcomes: the value asked for; a [`Refusal`] (a 4xx problem: the ledger
//! said no, exit status 1); or a [`ClientError`] (the node could not be reached or failed:
//! exit status 2). Only this module knows URLs and HTTP.

use std::time::Duration;

use ledger_core::projection::ContractState;
use proto::{ContractId, EventId, KeyId, Timestamp};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::cmd::Refusal;

/// Time to open a connection before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole request (a batch append waits for a disk flush).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The node could not be asked, or failed to answer: nothing about the ledger was learnt.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// `--node` is not a usable URL.
    #[error("--node {0:?} is not an http:// or https:// URL; give one like http://127.0.0.1:7878")]
    BadUrl(String),
    /// No connection, or it broke.
    #[error("cannot reach the node at {url} ({cause}); start one with `ledger-node`, or point --node or LEDGER_NODE at a running node")]
    Unreachable {
        /// The node URL.
        url: String,
        /// The innermost cause.
        cause: String,
    },
    /// The node answered 5xx.
    #[error("the node at {url} failed ({status} {code}): {detail}; try again later, or look at the node's log")]
    Server {
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Problem code, if one.
        code: String,
        /// Problem detail.
        detail: String,
    },
    /// The answer is not what this CLI expects (a different version of the API?).
    #[error("the answer of {url} is not what this version of ledger expects ({detail}); is --node a ledger node of the same version?")]
    Protocol {
        /// The request URL.
        url: String,
        /// What did not fit.
        detail: String,
    },
}

impl ClientError {
    /// Stable code.
    #[allow(dead_code)]
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::BadUrl(_) => "bad-node-url",
            Self::Unreachable { .. } => "node-unreachable",
            Self::Server { .. } => "node-failed",
            Self::Protocol { .. } => "node-protocol",
        }
    }
}

/// An RFC 9457 problem document as the node writes it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Problem {
    /// Short title.
    #[serde(default)]
    pub(crate) title: String,
    /// HTTP status.
    #[serde(default)]
    pub(crate) status: u16,
    /// What happened and what to do.
    #[serde(default)]
    pub(crate) detail: String,
    /// Stable code.
    #[serde(default)]
    pub(crate) code: String,
}

impl Problem {
    /// The refusal this problem is, with a hint of what to do next.
    pub(crate) fn refusal(&self) -> Refusal {
        let title = if self.title.is_empty() {
            "refused"
        } else {
            &self.title
        };
        let refusal = Refusal::new(&self.code, title, &self.detail).with_status(self.status);
        match hint(&self.code) {
            Some(hint) => refusal.with_hint(hint),
            None => refusal,
        }
    }
}

/// What to run next for the refusals where the CLI knows better than the rule's own text.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "seq-conflict" | "prev-mismatch" => {
            "another event landed first; run the same command again (it re-reads the head), \
             or rebuild the envelope file"
        }
        "wrong-role" | "unknown-author" => {
            "sign with the key of a party whose role may make this event; `ledger state \
             CONTRACT` lists the parties and their roles"
        }
        "missing-signature" => {
            "collect the missing signatures with `ledger sign FILE --key NAME`, then `ledger \
             submit FILE`"
        }
        "invalid-signature" => "the envelope was altered after signing; build and sign it again",
        "unknown-claim" | "claim-not-pending" | "claim-not-verified" | "already-paid" => {
            "`ledger state CONTRACT` lists the claims and where each stands"
        }
        "amount-mismatch" | "total-mismatch" => {
            "let the CLI compute the amounts from the rate card: `ledger pay --claims ID... --auto`"
        }
        "over-outcome-cap" | "over-contract-cap" | "over-distribution" => {
            "`ledger state CONTRACT` shows the caps left and the money received"
        }
        "event-not-found" => {
            "check the id; `ledger trail --contract CONTRACT` lists a contract's events"
        }
        "contract-not-found" | "unknown-contract" => {
            "`ledger trail --kind contract.registered` lists the contracts on this node"
        }
        _ => return None,
    })
}

/// An event appended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Appended {
    /// The event id.
    pub(crate) id: EventId,
    /// Its index in the log.
    pub(crate) index: u64,
}

/// One stored event, as `GET /v1/events/{id}`, the log and the trail give it.
#[derive(Debug, Deserialize)]
pub(crate) struct EventRecord {
    /// The event id.
    pub(crate) id: EventId,
    /// Global index.
    pub(crate) index: u64,
    /// Contract.
    pub(crate) contract: ContractId,
    /// Position in the contract.
    pub(crate) seq: u64,
    /// Kind, by its wire name.
    pub(crate) kind: String,
    /// Author's key id.
    pub(crate) author: KeyId,
    /// Author's time.
    pub(crate) at: Timestamp,
    /// The DSSE envelope JSON, as stored (its RFC 8785 bytes).
    pub(crate) envelope: Box<RawValue>,
}

/// A page of the trail.
#[derive(Debug, Deserialize)]
pub(crate) struct TrailPage {
    /// Matching events in log order.
    pub(crate) events: Vec<EventRecord>,
    /// Where the next page starts, if there is one.
    pub(crate) next_cursor: Option<u64>,
}

/// The trail's filters, as query parameters.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct TrailQuery {
    /// Contract id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contract: Option<String>,
    /// Party key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) party: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<String>,
    /// Kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    /// Outcome id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) outcome: Option<String>,
    /// At or after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) since: Option<String>,
    /// Before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) until: Option<String>,
    /// Resume from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<u64>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) limit: Option<u64>,
}

/// The node's identity and log head (`GET /v1/node`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodeInfo {
    /// Checkpoint origin.
    pub(crate) origin: String,
    /// Signed-note verifier key string.
    pub(crate) verifier_key: String,
    /// Events in the log.
    pub(crate) size: u64,
}

#[derive(Deserialize)]
struct Hashes {
    hashes: Vec<String>,
}

/// The result of one envelope of a batch append.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum BatchItem {
    /// Refused.
    Refused {
        /// The HTTP status it would have had alone.
        #[allow(dead_code)]
        status: u16,
        /// Why.
        problem: Problem,
    },
    /// Stored.
    Appended(Appended),
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItem>,
}

/// A client of one node.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    base: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client of the node at `base` (`http://host:port`).
    ///
    /// # Errors
    /// [`ClientError::BadUrl`] if `base` is not an http(s) URL.
    pub(crate) fn new(base: &str) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl(base.to_owned()).into());
        }
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("ledger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: base.to_owned(),
                cause: root_cause(&e),
            })?;
        Ok(Self {
            base: base.to_owned(),
            http,
        })
    }

    /// Appends one envelope (its JSON bytes).
    ///
    /// # Errors
    /// A [`Refusal`] if the node refused it; a [`ClientError`] otherwise.
    pub(crate) fn append(&self, envelope: &[u8]) -> anyhow::Result<Appended> {
        let url = format!("{}/v1/events", self.base);
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(envelope.to_vec());
        let response = self.send(request, &url)?;
        json_of(response, &url)
    }

    /// Appends envelopes in one request, each judged on its own and in order.
    ///
    /// # Errors
    /// A [`Refusal`] if the request as a whole was refused (too many, too large); a
    /// [`ClientError`] otherwise. Refusals of single envelopes are in the result.
    pub(crate) fn append_batch(&self, envelopes: &[Vec<u8>]) -> anyhow::Result<Vec<BatchItem>> {
        let url = format!("{}/v1/events", self.base);
        let mut body = Vec::with_capacity(envelopes.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, envelope) in envelopes.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(envelope);
        }
        body.push(b']');
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let response = self.send_any(request, &url)?;
        let items = decode_body::<BatchAnswer>(response, &url)?.results;
        if items.len() != envelopes.len() {
            return Err(protocol(
                &url,
                "a batch answer of another length than the request",
            ));
        }
        Ok(items)
    }

    /// The projection of a contract.
    ///
    /// # Errors
    /// A [`Refusal`] `contract-not-found`, or a [`ClientError`].
    pub(crate) fn contract(&self, id: &ContractId) -> anyhow::Result<ContractState> {
        self.get_json(&format!("/v1/contracts/{id}"), &[])
    }

    /// One event.
    ///
    /// # Errors
    /// A [`Refusal`] `event-not-found`, or a [`ClientError`].
    pub(crate) fn event(&self, id: &EventId) -> anyhow::Result<EventRecord> {
        self.get_json(&format!("/v1/events/{id}"), &[])
    }

    /// A page of the trail.
    ///
    /// # Errors
    /// A [`Refusal`] for a bad filter, or a [`ClientError`].
    pub(crate) fn trail(&self, query: &TrailQuery) -> anyhow::Result<TrailPage> {
        let url = format!("{}/v1/trail", self.base);
        let response = self.send(self.http.get(&url).query(query), &url)?;
        json_of(response, &url)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, as hashes.
    ///
    /// # Errors
    /// A [`Refusal`] for a range the log cannot prove, or a [`ClientError`].
    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> anyhow::Result<Vec<[u8; 32]>> {
        self.proof(&format!("/v1/proof/inclusion?index={index}&size={size}"))
    }

    fn proof(&self, url: &str) -> anyhow::Result<Vec<[u8; 32]>> {
        let hashes: Hashes = self.get_json(url, &[])?;
        hashes_of(url, &hashes.hashes)
    }

    /// The latest signed checkpoint, as the signed note's text.
    ///
    /// # Errors
    /// A [`Refusal`] if the log has none yet, or a [`ClientError`].
    pub(crate) fn checkpoint(&self) -> anyhow::Result<String> {
        let url = format!("{}/v1/checkpoint", self.base);
        let response = self.send(self.http.get(&url), &url)?;
        response
            .text()
            .map_err(|e| unreachable_error(&self.base, &e))
    }

    /// The node's identity and log head.
    ///
    /// # Errors
    /// A [`ClientError`].
    pub(crate) fn node_info(&self) -> anyhow::Result<NodeInfo> {
        self.get_json("/v1/node", &[])
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self.send(self.http.get(&url).query(query), &url)?;
        json_of(response, &url)
    }

    /// Sends, and turns every status but 2xx into a refusal or an error.
    fn send(&self, request: RequestBuilder, url: &str) -> anyhow::Result<Response> {
        let response = self.send_any(request, url)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(problem_error(response, url))
        }
    }

    /// Sends; 2xx and 207 pass, 5xx and unreachable nodes are errors.
    fn send_any(&self, request: RequestBuilder, url: &str) -> anyhow::Result<Response> {
        let response = request
            .send()
            .map_err(|e| unreachable_error(&self.base, &e))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::MULTI_STATUS {
            Ok(response)
        } else {
            Err(problem_error(response, url))
        }
    }
}

fn json_of<T: DeserializeOwned>(response: Response, url: &str) -> anyhow::Result<T> {
    decode_body(response, url)
}

fn decode_body<T: DeserializeOwned>(response: Response, url: &str) -> anyhow::Result<T> {
    let bytes = response.bytes().map_err(|e| unreachable_error(url, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| protocol(url, &e.to_string()))
}

/// A non-2xx answer: a [`Refusal`] for 4xx, a [`ClientError::Server`] for the rest.
fn problem_error(response: Response, url: &str) -> anyhow::Error {
    let status = response.status().as_u16();
    let bytes = response.bytes().unwrap_or_default();
    let problem: Problem = serde_json::from_slice(&bytes).unwrap_or_else(|_| Problem {
        title: String::new(),
        status,
        detail: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        code: format!("http-{status}"),
    });
    if (400..500).contains(&status) {
        problem.refusal().into()
    } else {
        ClientError::Server {
            url: url.to_owned(),
            status,
            code: problem.code,
            detail: problem.detail,
        }
        .into()
    }
}

fn unreachable_error(url: &str, error: &reqwest::Error) -> anyhow::Error {
    ClientError::Unreachable {
        url: url.to_owned(),
        cause: root_cause(error),
    }
    .into()
}

fn protocol(url: &str, detail: &str) -> anyhow::Error {
    ClientError::Protocol {
        url: url.to_owned(),
        detail: detail.to_owned(),
    }
    .into()
}

/// The innermost cause of an error ("Connection refused (os error 111)"), which says more
/// than reqwest's outer "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// A page of the log in global order (`GET /v1/log`).
#[derive(Debug, Deserialize)]
pub(crate) struct LogPage {
    /// Global index of the first event of the page.
    pub(crate) from: u64,
    /// The events.
    pub(crate) events: Vec<EventRecord>,
}

/// One contract of `GET /v1/contracts`.
#[derive(Debug, Deserialize)]
pub(crate) struct ContractLine {
    /// The contract id.
    pub(crate) id: ContractId,
}

/// A page of `GET /v1/contracts`.
#[derive(Deserialize)]
struct ContractList {
    contracts: Vec<ContractLine>,
    /// Where the next page starts (absent from nodes that answered the whole list at once).
    #[serde(default)]
    next_cursor: Option<ContractId>,
}

/// Most pages of the contract list the client follows: a node that keeps answering a next
/// cursor past this many pages is broken, not large.
const CONTRACT_PAGES_MAX: usize = 1_000_000;

/// The log, contract list and consistency proofs, for export and audit.
impl Client {
    /// A page of the log from global index `from`: up to `limit` events, or the node's
    /// default page size.
    ///
    /// # Errors
    /// A [`Refusal`] for a limit over the node's page size, or a [`ClientError`].
    pub(crate) fn log(&self, from: u64, limit: Option<u64>) -> anyhow::Result<LogPage> {
        let from = from.to_string();
        match limit.map(|n| n.to_string()) {
            Some(limit) => self.get_json("/v1/log", &[("from", &from), ("limit", &limit)]),
            None => self.get_json("/v1/log", &[("from", &from)]),
        }
    }

    /// Every contract the node holds, following the pages of the list.
    ///
    /// # Errors
    /// A [`ClientError`], also when a page does not continue after the previous one.
    pub(crate) fn contracts(&self) -> anyhow::Result<Vec<ContractLine>> {
        let mut all: Vec<ContractLine> = Vec::new();
        let mut cursor: Option<ContractId> = None;
        for _ in 0..CONTRACT_PAGES_MAX {
            let page: ContractList = match &cursor {
                Some(after) => self.get_json("/v1/contracts", &[("cursor", after.as_str())])?,
                None => self.get_json("/v1/contracts", &[])?,
            };
            let last = all.last().map(|line| line.id.clone());
            if let (Some(last), Some(first)) = (&last, page.contracts.first()) {
                if first.id <= *last {
                    return Err(protocol(
                        "/v1/contracts",
                        "a page of contracts that does not continue after the previous one",
                    ));
                }
            }
            all.extend(page.contracts);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                Some(_) => {
                    return Err(protocol(
                        "/v1/contracts",
                        "a next cursor that does not advance",
                    ))
                }
                None => return Ok(all),
            }
        }
        Err(protocol(
            "/v1/contracts",
            "more pages of contracts than any node holds",
        ))
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves.
    ///
    /// # Errors
    /// A [`Refusal`] for sizes the log cannot prove, or a [`ClientError`].
    pub(crate) fn consistency_proof(&self, from: u64, to: u64) -> anyhow::Result<Vec<[u8; 32]>> {
        let url = format!("/v1/proof/consistency?from={from}&to={to}");
        let hashes: Hashes = self.get_json(&url, &[])?;
        hashes_of(&url, &hashes.hashes)
    }
}

fn hashes_of(url: &str, hashes: &[String]) -> anyhow::Result<Vec<[u8; 32]>> {
    hashes
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out)
                .map_err(|_| protocol(url, "a proof hash that is not 64 hex digits"))?;
            Ok(out)
        })
        .collect()
}
