//! A small blocking HTTP client for the node's `/v1` API, returning raw replies so tests
//! assert on statuses, headers and bodies as a user of the API sees them.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, CONTENT_TYPE};

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP reply.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    ///
    /// # Errors
    /// When it is not JSON; the error shows the status and body.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "status {} with a body that is not JSON: {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Content-Type` header, or "".
    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A client of one node.
#[derive(Clone, Debug)]
pub struct Api {
    http: Client,
    base: String,
}

impl Api {
    /// A client of the node at `base` (`http://ADDR`).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str) -> Result<Self> {
        let http = Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// A client of the node at `base` whose connections come from the loopback address
    /// `local` (e.g. 127.0.0.2): to the node, another client than [`Api::new`]'s.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_address(base: &str, local: std::net::IpAddr) -> Result<Self> {
        anyhow::ensure!(local.is_loopback(), "tests use loopback addresses only");
        let http = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .local_address(local)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path`.
    ///
    /// # Errors
    /// On a transport error (connection refused, timeout).
    pub fn get(&self, path: &str) -> Result<Reply> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// `method base + path` with no body.
    ///
    /// # Errors
    /// On a transport error.
    pub fn request(&self, method: reqwest::Method, path: &str) -> Result<Reply> {
        self.send(self.http.request(method, format!("{}{path}", self.base)))
    }

    /// `POST base + path` with a JSON body given as bytes.
    ///
    /// # Errors
    /// On a transport error.
    pub fn post(&self, path: &str, body: Vec<u8>) -> Result<Reply> {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        self.send(request)
    }

    /// `POST /v1/events` with one envelope (JSON bytes).
    ///
    /// # Errors
    /// On a transport error.
    pub fn post_event(&self, envelope: &[u8]) -> Result<Reply> {
        self.post("/v1/events", envelope.to_vec())
    }

    /// `POST /v1/events` with a JSON array of envelopes.
    ///
    /// # Errors
    /// On a transport error.
    pub fn post_events(&self, envelopes: &[&[u8]]) -> Result<Reply> {
        let mut body = b"[".to_vec();
        for (i, envelope) in envelopes.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(envelope);
        }
        body.push(b']');
        self.post("/v1/events", body)
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Reply> {
        let response = request.send()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes()?.to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Prefix of every problem `type` URI.
pub const PROBLEM_TYPE_BASE: &str = "https://outcome-ledger.dev/problems/";

impl Reply {
    /// Checks that this reply is an RFC 9457 problem of `status` and `code` (media type,
    /// `type` URI, `status` member, `title`, `detail`) and returns its JSON.
    ///
    /// # Errors
    /// When any of these differs; the error shows the reply.
    pub fn problem(&self, status: u16, code: &str) -> Result<serde_json::Value> {
        let context = || {
            format!(
                "expected a {status} {code} problem, got {} {}",
                self.status,
                self.text()
            )
        };
        anyhow::ensure!(self.status == status, "{}", context());
        anyhow::ensure!(
            self.content_type() == "application/problem+json",
            "{}: content type {:?}",
            context(),
            self.content_type()
        );
        let json = self.json()?;
        check_problem(&json, status, code).with_context(context)?;
        Ok(json)
    }
}

/// Checks a problem document's members (also used for the problems inside batch results).
///
/// # Errors
/// When a member differs.
pub fn check_problem(json: &serde_json::Value, status: u16, code: &str) -> Result<()> {
    anyhow::ensure!(
        json["type"] == format!("{PROBLEM_TYPE_BASE}{code}"),
        "type {}",
        json["type"]
    );
    anyhow::ensure!(json["code"] == code, "code {}", json["code"]);
    anyhow::ensure!(json["status"] == status, "status member {}", json["status"]);
    anyhow::ensure!(
        json["title"].as_str().is_some_and(|t| !t.is_empty()),
        "no title"
    );
    anyhow::ensure!(
        json["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "no detail"
    );
    Ok(())
}

/// An event as `/v1/log`, `/v1/events/{id}` and the other reads show it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct EventRecord {
    /// The event id.
    pub id: String,
    /// Its global index.
    pub index: u64,
    /// Its contract.
    pub contract: String,
    /// Its seq.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// The author's key id.
    pub author: String,
    /// The author's time.
    pub at: String,
    /// The envelope, byte for byte as served.
    pub envelope: Box<serde_json::value::RawValue>,
}

impl PartialEq for EventRecord {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.id,
            self.index,
            &self.contract,
            self.seq,
            &self.kind,
            &self.author,
            &self.at,
        ) == (
            &other.id,
            other.index,
            &other.contract,
            other.seq,
            &other.kind,
            &other.author,
            &other.at,
        ) && self.envelope_bytes() == other.envelope_bytes()
    }
}

impl Eq for EventRecord {}

impl EventRecord {
    /// The envelope's bytes as served.
    pub fn envelope_bytes(&self) -> &[u8] {
        self.envelope.get().as_bytes()
    }
}

#[derive(serde::Deserialize)]
struct Page {
    events: Vec<EventRecord>,
    next: Option<u64>,
}

impl Api {
    /// The whole log, page by page (pages of `page` events).
    ///
    /// # Errors
    /// On a transport error or an answer other than 200.
    pub fn log_all(&self, page: usize) -> Result<Vec<EventRecord>> {
        let mut all = Vec::new();
        let mut from = Some(0u64);
        while let Some(start) = from {
            let reply = self.get(&format!("/v1/log?from={start}&limit={page}"))?;
            anyhow::ensure!(
                reply.status == 200,
                "GET /v1/log: {} {}",
                reply.status,
                reply.text()
            );
            let page: Page = serde_json::from_slice(&reply.body).context("reading a log page")?;
            all.extend(page.events);
            from = page.next;
        }
        Ok(all)
    }

    /// The latest checkpoint note.
    ///
    /// # Errors
    /// On a transport error or an answer other than 200.
    pub fn checkpoint_note(&self) -> Result<String> {
        let reply = self.get("/v1/checkpoint")?;
        anyhow::ensure!(
            reply.status == 200,
            "GET /v1/checkpoint: {} {}",
            reply.status,
            reply.text()
        );
        Ok(reply.text())
    }
}
