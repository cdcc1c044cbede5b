//! Fuzzing entry points (not an API): the bodies of the `http_query` and `http_path` targets
//! in `fuzz/`, running the parsers the handlers run on the query string and on path
//! parameters. The replay tests below run `fuzz/corpus/http_query/` and
//! `fuzz/corpus/http_path/` through them on stable.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequestParts;
use axum::http::{header, Request, StatusCode, Uri};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

use super::problem::{codes, Problem};
use super::ApiQuery;

/// The query string `data` (what follows `?` in a request target) through [`ApiQuery`] of
/// every endpoint's query type: each refusal is a `400` problem document with the code
/// `bad-query`, and the extractor never waits.
pub fn query(data: &[u8]) {
    let mut target = b"/v1/fuzz?".to_vec();
    target.extend_from_slice(data);
    // What hyper refuses as a request target never reaches a handler.
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    extract::<super::log::LogQuery>(&uri);
    extract::<super::trail::TrailQuery>(&uri);
    extract::<super::contracts::StreamQuery>(&uri);
    extract::<super::proofs::InclusionQuery>(&uri);
    extract::<super::proofs::ConsistencyQuery>(&uri);
    extract::<super::replication::RefusedQuery>(&uri);
}

fn extract<T: DeserializeOwned>(uri: &Uri) {
    let mut request = Request::new(());
    *request.uri_mut() = uri.clone();
    let (mut parts, ()) = request.into_parts();
    let future = pin!(ApiQuery::<T>::from_request_parts(&mut parts, &()));
    let Poll::Ready(result) = future.poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("the query extractor waited: it must decide at once");
    };
    if let Err(problem) = result {
        refused_as(problem, codes::BAD_QUERY);
    }
}

/// A decoded path segment `data` (axum gives handlers the percent-decoded UTF-8 text) through
/// the parsers of `{id}` and `{size}`: an id parses exactly when it is its one canonical
/// spelling, and each refusal is a `400` problem document with the code `bad-path`.
pub fn path(data: &[u8]) {
    // axum refuses a segment that does not decode to UTF-8 before any handler runs.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lowercase_hex =
        text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match super::events::event_id(text) {
        Ok(id) => {
            assert!(lowercase_hex, "an event id parses from {text:?}");
            assert_eq!(id.to_string(), text);
            assert_eq!(
                hex::decode(text).ok().as_deref(),
                Some(id.as_bytes().as_slice())
            );
        }
        Err(problem) => {
            assert!(!lowercase_hex, "the event id {text:?} is refused");
            refused_as(problem, codes::BAD_PATH);
        }
    }
    match super::contracts::contract_id(text) {
        Ok(id) => assert_eq!(id.to_string(), text, "a contract id has one spelling"),
        Err(problem) => refused_as(problem, codes::BAD_PATH),
    }
    match super::checkpoint::tree_size(text) {
        // u64's parser: ASCII digits, an optional leading '+', leading zeros allowed.
        Ok(size) => {
            let digits = text.strip_prefix('+').unwrap_or(text);
            assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
            let significant = digits.trim_start_matches('0');
            assert_eq!(
                size.to_string(),
                if significant.is_empty() {
                    "0"
                } else {
                    significant
                }
            );
        }
        Err(problem) => refused_as(problem, codes::BAD_PATH),
    }
}

/// `problem` is a `400` with `code`, and renders as a problem document.
fn refused_as(problem: Problem, code: &str) {
    assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem.code(), code);
    let response = problem.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let media_type = response.headers().get(header::CONTENT_TYPE);
    assert_eq!(
        media_type.map(|v| v.as_bytes()),
        Some(super::problem::PROBLEM_MEDIA_TYPE.as_bytes())
    );
}

#[cfg(test)]
#[path = "../../../fuzz/replay.rs"]
mod replay;

#[cfg(test)]
mod tests {
    #[test]
    fn the_http_query_corpus_replays() {
        super::replay::corpus(env!("CARGO_MANIFEST_DIR"), "http_query", super::query);
    }

    #[test]
    fn the_http_path_corpus_replays() {
        super::replay::corpus(env!("CARGO_MANIFEST_DIR"), "http_path", super::path);
    }
}
