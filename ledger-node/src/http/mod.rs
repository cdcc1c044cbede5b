//! The HTTP API, versioned under `/v1`: axum handlers over [`Node`], answering JSON and RFC
//! 9457 problem details. `GET /v1/openapi.json` describes every route.
//!
//! This module is the only one that knows HTTP: it maps requests to [`Node`] calls and the
//! node's typed errors to statuses (see [`problem`]). No rule is decided here; the limits it
//! enforces (body size, events per request, envelope size, page sizes) are checked before any
//! work reaches the node.

pub mod checkpoint;
pub mod contracts;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod log;
pub mod openapi;
pub mod problem;
pub mod proofs;
pub mod ratelimit;
pub mod replication;
pub mod serve;
pub mod trail;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::clock::MonotonicClock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::service::Node;
use problem::{codes, Problem};
pub use serve::serve;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    node: Node,
    limits: Limits,
    metrics: Arc<Metrics>,
    front_door: Arc<ratelimit::FrontDoor<MonotonicClock>>,
    /// One permit per request body being read or held (`bodies_in_flight_max`).
    bodies: Arc<Semaphore>,
}

/// The `/v1` API, `/healthz`, `/readyz` and `/metrics` over `node`, enforcing `limits` and recording
/// responses in `metrics` (the same [`Metrics`] the node reports to).
pub fn router(node: Node, limits: Limits, metrics: Arc<Metrics>) -> Router {
    let state = AppState {
        node,
        limits,
        metrics: Arc::clone(&metrics),
        front_door: Arc::new(ratelimit::FrontDoor::new(&limits, MonotonicClock)),
        bodies: Arc::new(Semaphore::new(
            limits.bodies_in_flight_max().min(Semaphore::MAX_PERMITS),
        )),
    };
    Router::new()
        .route("/v1/events", post(events::post))
        .route("/v1/events/{id}", get(events::get))
        .route("/v1/log", get(log::get))
        .route("/v1/contracts", get(contracts::list))
        .route("/v1/contracts/{id}", get(contracts::get))
        .route("/v1/contracts/{id}/events", get(contracts::events))
        .route("/v1/trail", get(trail::get))
        .route("/v1/checkpoint", get(checkpoint::latest))
        .route("/v1/checkpoint/{size}", get(checkpoint::at_size))
        .route("/v1/proof/inclusion", get(proofs::inclusion))
        .route("/v1/proof/consistency", get(proofs::consistency))
        .route("/v1/node", get(node_info))
        .route("/v1/replication", get(replication::status))
        .route("/v1/replication/refused", get(replication::refused))
        .route("/v1/openapi.json", get(openapi::get))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(prometheus))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_bytes_max()))
        .layer(middleware::from_fn(problem::problems_only))
        .layer(middleware::from_fn_with_state(
            limits,
            problem::bounded_head,
        ))
        .layer(middleware::from_fn_with_state(metrics, record_response))
        .with_state(state)
}

/// `GET /v1/node`: the node's identity and log head.
#[derive(Serialize)]
struct NodeView {
    origin: String,
    verifier_key: String,
    size: u64,
    root: String,
}

async fn node_info(State(state): State<AppState>) -> Json<NodeView> {
    let info = state.node.info();
    Json(NodeView {
        origin: info.origin,
        verifier_key: info.verifier_key,
        size: info.log_size,
        root: hex::encode(info.root),
    })
}

/// Media type of the OpenMetrics text exposition, which Prometheus scrapes.
const OPENMETRICS_MEDIA_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn prometheus(State(state): State<AppState>) -> Response {
    state.metrics.set_writer_up(state.node.health().is_ok());
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(OPENMETRICS_MEDIA_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode metrics");
            Problem::internal().into_response()
        }
    }
}

async fn not_found(uri: Uri) -> Problem {
    Problem::not_found_route(uri.path())
}

async fn method_not_allowed(request: Request) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}; the Allow header lists the methods that are",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn record_response(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    // Only the standard methods become label values, so a client cannot grow the label set.
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::PATCH
        | Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "OTHER".to_owned(),
    };
    let response = next.run(request).await;
    metrics.record_response(&method, response.status().as_u16());
    response
}

/// A query string parsed into `T`, or a `400` problem naming what is wrong.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(Problem::bad_query(format!(
                "{}; GET /v1/openapi.json lists the parameters of each endpoint",
                rejection.body_text()
            ))),
        }
    }
}

/// Checks a requested page size against the limits: the default when absent, a `400` when
/// it is 0 or over `page_size_max`.
///
/// # Errors
/// A `400` problem.
pub fn page_size(limits: &Limits, limit: Option<usize>) -> Result<usize, Problem> {
    let max = limits.page_size_max();
    match limit {
        None => Ok(limits.page_size_default()),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_query(format!(
            "limit {n} is not between 1 and {max}"
        ))),
    }
}

/// A page of a list being filled: at most `limit` items and `page_bytes_max` bytes of their
/// JSON, but always the first item offered (a page is never empty while items remain).
pub struct PageFill {
    items: Vec<Box<RawValue>>,
    bytes: usize,
    limit: usize,
    bytes_max: usize,
}

/// Items a page read takes from the store at once: a page over large events holds a few of
/// them in memory beyond what it returns, never `limit` of them.
pub const PAGE_READ_CHUNK: usize = 16;

impl PageFill {
    /// An empty page of at most `limit` items under `limits.page_bytes_max()`.
    pub fn new(limits: &Limits, limit: usize) -> Self {
        Self {
            items: Vec::new(),
            bytes: 0,
            limit,
            bytes_max: limits.page_bytes_max(),
        }
    }

    /// Adds `item` if the page has room for it; `false` (and the item left out) if not: the
    /// page is complete and the item starts the next one.
    ///
    /// # Errors
    /// A `500` problem if the item cannot be serialized.
    pub fn offer<T: Serialize>(&mut self, item: &T) -> Result<bool, Problem> {
        if self.items.len() >= self.limit {
            return Ok(false);
        }
        let raw = serde_json::value::to_raw_value(item).map_err(|error| {
            tracing::error!(%error, "cannot serialize a page item");
            Problem::internal()
        })?;
        // One comma between items.
        let bytes = self.bytes.saturating_add(raw.get().len()).saturating_add(1);
        if !self.items.is_empty() && bytes > self.bytes_max {
            return Ok(false);
        }
        self.bytes = bytes;
        self.items.push(raw);
        Ok(true)
    }

    /// How many more items to read from the store: a chunk, or one to learn whether a next
    /// page exists once this one holds `limit`.
    pub fn wanted(&self) -> usize {
        self.limit
            .saturating_sub(self.items.len())
            .clamp(1, PAGE_READ_CHUNK)
    }

    /// Items so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the page holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The page's items, serialized.
    pub fn into_items(self) -> Vec<Box<RawValue>> {
        self.items
    }
}

/// Runs a store read on the blocking pool, so a slow disk read never stalls the runtime.
///
/// # Errors
/// A `500` problem if the task panicked or was cancelled.
pub async fn blocking<T, F>(node: &Node, read: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: FnOnce(&Node) -> T + Send + 'static,
{
    let node = node.clone();
    tokio::task::spawn_blocking(move || read(&node))
        .await
        .map_err(|error| {
            tracing::error!(%error, "store read task failed");
            Problem::internal()
        })
}
