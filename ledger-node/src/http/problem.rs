//! RFC 9457 problem details: every error the API answers is one of these, served as
//! `application/problem+json`.
//!
//! The `type` of a problem is a stable URI built from a stable code (a rule's `code()`, a
//! decode error's `code()`, or one of the node's own codes in [`codes`]), so clients branch on
//! `type` or on the `code` extension member, never on `title` or `detail` text.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proto::EventId;
use serde::Serialize;

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
