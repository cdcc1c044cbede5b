//! RFC 9457 problem details: every error the API answers is one of these, served as
//! `application/problem+json`.
//!
//! The `type` of a problem is a stable URI built from a stable code (a rule's `code()`, a
//! decode error's `code()`, or one of the node's own codes in [`codes`]), so clients branch on
//! `type` or on the `code` extension member, never on `title` or `detail` text.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use proto::EventId;
use serde::Serialize;

use crate::config::Limits;
use crate::service::{ProofRequestError, StoreError};

/// Prefix of every problem `type` URI; the code follows it.
pub const TYPE_BASE: &str = "https://outcome-ledger.dev/problems/";

/// Media type of a problem document (RFC 9457 section 3).
pub const PROBLEM_MEDIA_TYPE: &str = "application/problem+json";

/// Codes of the problems the HTTP layer itself raises (rule and decode codes come from
/// `ledger-core` and `proto`).
pub mod codes {
    /// No route matches the path.
    pub const NOT_FOUND: &str = "not-found";
    /// The route exists but not for this method.
    pub const METHOD_NOT_ALLOWED: &str = "method-not-allowed";
    /// A query parameter is missing, unknown or out of range.
    pub const BAD_QUERY: &str = "bad-query";
    /// A path parameter does not parse (an event id that is not 64 hex digits, ...).
    pub const BAD_PATH: &str = "bad-path";
    /// The request body is not a JSON object or array of envelopes, or is empty.
    pub const BAD_BODY: &str = "bad-body";
    /// The request body is over `body_bytes_max`.
    pub const BODY_TOO_LARGE: &str = "body-too-large";
    /// The array holds more envelopes than `events_per_request_max`.
    pub const TOO_MANY_EVENTS: &str = "too-many-events";
    /// One envelope is over `payload_bytes_max`.
    pub const ENVELOPE_TOO_LARGE: &str = "envelope-too-large";
    /// No event has this id.
    pub const EVENT_NOT_FOUND: &str = "event-not-found";
    /// No contract has this id.
    pub const CONTRACT_NOT_FOUND: &str = "contract-not-found";
    /// No checkpoint was signed at this size.
    pub const CHECKPOINT_NOT_FOUND: &str = "checkpoint-not-found";
    /// The event is already in the log.
    pub const DUPLICATE: &str = "duplicate";
    /// The node cannot take writes now; retry after the `Retry-After` delay.
    pub const UNAVAILABLE: &str = "unavailable";
    /// A fault of the node, not of the request.
    pub const INTERNAL: &str = "internal";
    /// A request the HTTP layer could not read (a status without a more precise code).
    pub const BAD_REQUEST: &str = "bad-request";
    /// The request head is over `header_bytes_max` or holds more than `headers_max` fields.
    pub const HEADER_TOO_LARGE: &str = "header-too-large";
    /// A write without `Content-Type: application/json`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported-media-type";
    /// The request body did not arrive within `body_read_timeout_ms`.
    pub const BODY_TIMEOUT: &str = "body-timeout";
    /// Too many requests from this client; retry after the `Retry-After` delay.
    pub const TOO_MANY_REQUESTS: &str = "too-many-requests";
}

/// Every code the HTTP layer raises, with its status (for the OpenAPI document).
pub const HTTP_CODES: &[(&str, u16)] = &[
    (codes::NOT_FOUND, 404),
    (codes::METHOD_NOT_ALLOWED, 405),
    (codes::BAD_QUERY, 400),
    (codes::BAD_PATH, 400),
    (codes::BAD_BODY, 400),
    (codes::BODY_TOO_LARGE, 413),
    (codes::TOO_MANY_EVENTS, 413),
    (codes::ENVELOPE_TOO_LARGE, 413),
    (codes::EVENT_NOT_FOUND, 404),
    (codes::CONTRACT_NOT_FOUND, 404),
    (codes::CHECKPOINT_NOT_FOUND, 404),
    ("size-out-of-range", 400),
    ("index-out-of-range", 400),
    ("bad-range", 400),
    (codes::DUPLICATE, 409),
    (codes::UNAVAILABLE, 503),
    (codes::INTERNAL, 500),
    (codes::BAD_REQUEST, 400),
    (codes::HEADER_TOO_LARGE, 431),
    (codes::UNSUPPORTED_MEDIA_TYPE, 415),
    (codes::BODY_TIMEOUT, 408),
    (codes::TOO_MANY_REQUESTS, 429),
];

/// Seconds a client should wait before retrying a `503`.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The head of a contract's stream, reported with a `409` so the client can rebase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Head {
    /// The `seq` the next event of the contract must carry (the number of its events).
    pub next_seq: u64,
    /// The id of its last event, which the next event must name as `prev`.
    pub last: Option<EventId>,
}

/// An RFC 9457 problem document with this API's extension members (boxed: errors stay one
/// pointer wide on the `Result` paths of every handler).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<Details>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct Details {
    #[serde(rename = "type")]
    type_uri: String,
    title: String,
    status: u16,
    detail: String,
    /// Stable machine-readable code; the last segment of `type`.
    code: String,
    /// Where in the envelope or payload the problem is (a JSON pointer), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// Position of the envelope in the request array (0-based), for batch requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<usize>,
    /// Id of the event concerned, when the payload could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<EventId>,
    /// Log index of the event already stored (duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    /// The contract's current head (seq/prev conflicts and duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<Head>,
    /// Seconds to wait before retrying (rate limits and quotas); also the `Retry-After`
    /// header of a request-level problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem of `status` with the stable `code` and a `detail` saying what to do.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(Details {
            type_uri: type_uri(code),
            title: title_of(code),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            path: None,
            item: None,
            event: None,
            index: None,
            head: None,
            retry_after: None,
        }))
    }

    /// The same problem, asking the client to wait `seconds` before retrying.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after = Some(seconds);
        self
    }

    /// Sets where in the document the problem is (empty paths are left out).
    #[must_use]
    pub fn at_path(mut self, path: &str) -> Self {
        self.0.path = (!path.is_empty()).then(|| path.to_owned());
        self
    }

    /// Sets the position of the envelope in the request array.
    #[must_use]
    pub fn for_item(mut self, item: usize) -> Self {
        self.0.item = Some(item);
        self
    }

    /// Sets the id of the event concerned.
    #[must_use]
    pub fn for_event(mut self, id: EventId) -> Self {
        self.0.event = Some(id);
        self
    }

    /// Sets the log index of the stored event.
    #[must_use]
    pub fn with_index(mut self, index: u64) -> Self {
        self.0.index = Some(index);
        self
    }

    /// Sets the contract's current head.
    #[must_use]
    pub fn with_head(mut self, head: Head) -> Self {
        self.0.head = Some(head);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// A problem for an error status without a more precise code (what axum or a layer
    /// answered before a handler ran).
    pub fn for_status(status: StatusCode, detail: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::NOT_FOUND => codes::NOT_FOUND,
            StatusCode::METHOD_NOT_ALLOWED => codes::METHOD_NOT_ALLOWED,
            StatusCode::REQUEST_TIMEOUT => codes::BODY_TIMEOUT,
            StatusCode::PAYLOAD_TOO_LARGE => codes::BODY_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => codes::UNSUPPORTED_MEDIA_TYPE,
            StatusCode::TOO_MANY_REQUESTS => codes::TOO_MANY_REQUESTS,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => codes::HEADER_TOO_LARGE,
            StatusCode::SERVICE_UNAVAILABLE => codes::UNAVAILABLE,
            s if s.is_server_error() => codes::INTERNAL,
            _ => codes::BAD_REQUEST,
        };
        Self::new(status, code, detail)
    }

    /// A `404` for a path no route serves.
    pub fn not_found_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("no resource at {path}; GET /v1/openapi.json lists every endpoint"),
        )
    }

    /// A `400` for a query string that does not parse or holds a value out of range.
    pub fn bad_query(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_QUERY, detail)
    }

    /// A `500` for a fault of the node; the detail is logged, not shown.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the node failed to answer; its log says why, and the request may be retried",
        )
    }
}

/// Most bytes of a plain error body kept as the `detail` of the problem replacing it.
const PLAIN_DETAIL_BYTES_MAX: usize = 1024;

/// Middleware: an error response that is not a problem document (one axum or a layer wrote
/// before or around a handler: a path that does not decode, a rate limit) becomes one, with
/// the same status, its text as `detail`, and its `Allow` and `Retry-After` headers kept.
pub async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, PLAIN_DETAIL_BYTES_MAX)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let mut problem = Problem::for_status(status, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(PROBLEM_MEDIA_TYPE))
}

/// Middleware: a request head over `header_bytes_max` bytes or `headers_max` fields is
/// answered with a 431 problem before any handler runs. (hyper refuses heads far larger than
/// these itself, with a bare 431: see `serve.rs`.)
pub async fn bounded_head(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let fields = headers.len();
    let bytes = head_bytes(&request);
    if fields > limits.headers_max() {
        let detail = format!(
            "the request has {fields} header fields, over the limit of {}; send fewer",
            limits.headers_max()
        );
        return Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            codes::HEADER_TOO_LARGE,
            detail,
        )
        .into_response();
    }
    if bytes > limits.header_bytes_max() {
        let detail = format!(
            "the request line and headers are {bytes} bytes, over the limit of {}; send a shorter URL or fewer headers",
            limits.header_bytes_max()
        );
        return Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            codes::HEADER_TOO_LARGE,
            detail,
        )
        .into_response();
    }
    next.run(request).await
}

/// The size of a request head as sent: `METHOD URI HTTP/1.1\r\n`, then `name: value\r\n`
/// per field, then `\r\n`.
fn head_bytes(request: &Request) -> usize {
    let line = request.method().as_str().len() + request.uri().to_string().len() + 12;
    request
        .headers()
        .iter()
        .fold(line + 2, |sum, (name, value)| {
            sum.saturating_add(name.as_str().len() + value.len() + 4)
        })
}

/// The `type` URI of a code.
pub fn type_uri(code: &str) -> String {
    format!("{TYPE_BASE}{code}")
}

/// The `title` of a code: the same for every occurrence of the type, as RFC 9457 asks.
/// `over-outcome-cap` gives `Over outcome cap`.
pub fn title_of(code: &str) -> String {
    let words = code.replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotYet(what) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                format!("{what}; retry after the Retry-After delay"),
            ),
            StoreError::Storage(_) | StoreError::Corrupt(_) => {
                tracing::error!(%error, code = error.code(), "store read failed");
                Problem::internal()
            }
        }
    }
}

impl From<ProofRequestError> for Problem {
    fn from(error: ProofRequestError) -> Self {
        match error {
            ProofRequestError::Store(error) => error.into(),
            ProofRequestError::SizeOutOfRange { .. }
            | ProofRequestError::IndexOutOfRange { .. }
            | ProofRequestError::BadRange { .. } => {
                Problem::new(StatusCode::BAD_REQUEST, error.code(), error.to_string())
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "cannot serialize a problem document");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_MEDIA_TYPE),
        );
        if let Some(seconds) = self.0.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_the_code_in_words() {
        assert_eq!(title_of("over-outcome-cap"), "Over outcome cap");
        assert_eq!(title_of("not-found"), "Not found");
        assert_eq!(title_of(""), "");
    }

    #[test]
    fn serializes_rfc_9457_members_and_leaves_out_unknown_extensions() {
        let problem = Problem::new(StatusCode::CONFLICT, "seq-conflict", "expected seq 3")
            .at_path("/seq")
            .for_item(2)
            .with_head(Head {
                next_seq: 3,
                last: None,
            });
        let json = serde_json::to_value(&problem).unwrap_or_default();
        let expected = serde_json::json!({
            "type": "https://outcome-ledger.dev/problems/seq-conflict",
            "title": "Seq conflict",
            "status": 409,
            "detail": "expected seq 3",
            "code": "seq-conflict",
            "path": "/seq",
            "item": 2,
            "head": {"next_seq": 3, "last": null},
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn unavailable_carries_retry_after_and_the_problem_media_type() {
        let response = Problem::new(StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE, "busy")
            .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_MEDIA_TYPE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
