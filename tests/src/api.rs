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
