//! `POST /v1/events` (append one envelope or an array of them) and `GET /v1/events/{id}`.
//!
//! A single envelope (a JSON object) answers `201 Created` with `{id, index, contract, seq}`
//! and a `Location`, or a problem. An array answers `200 OK` with one result per envelope, in
//! order, after the Elasticsearch `_bulk` convention: `{"errors": bool, "results": [...]}`,
//! each result `{"status": 201, "id", "index", "contract", "seq"}` or
//! `{"status": 4xx|5xx, "problem": {...}}`. Request-level failures (body too large, too many
//! envelopes, not an object or array) are problems for the whole request.
//!
//! A write must say `Content-Type: application/json` (else 415): a web page cannot send that
//! cross-origin without a CORS preflight, which the node never grants, so a page a user visits
//! cannot post to a node on their loopback. The body is read only under a permit of
//! `bodies_in_flight_max` (none free: an immediate 503), within `body_read_timeout_ms` (408)
//! and `body_bytes_max` (413, at once when `Content-Length` says so).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::dsse::Envelope;
use proto::{ContractId, EventId, KeyId, Payload};
use serde::Serialize;
use serde_json::value::RawValue;

use super::problem::{codes, Head, Problem};
use super::ratelimit::{Client, Intent};
use super::{blocking, AppState};
use crate::service::{AppendError, Appended, RefusalClass, StoredEvent};

/// One stored event as the API shows it; the envelope is embedded byte for byte as stored.
#[derive(Serialize)]
pub struct EventView {
    id: EventId,
    index: u64,
    contract: ContractId,
    seq: u64,
    kind: &'static str,
    author: KeyId,
    at: proto::Timestamp,
    envelope: Box<RawValue>,
}

impl EventView {
    /// The view of a stored event.
    ///
    /// # Errors
    /// A `500` problem if the stored envelope is not UTF-8 JSON (a corrupt store).
    pub fn of(event: StoredEvent) -> Result<Self, Problem> {
        let text = String::from_utf8(event.envelope).map_err(|_| corrupt(event.index))?;
        let envelope = RawValue::from_string(text).map_err(|_| corrupt(event.index))?;
        Ok(Self {
            id: event.id,
            index: event.index,
            contract: event.contract,
            seq: event.seq,
            kind: event.kind.as_str(),
            author: event.author,
            at: event.at,
            envelope,
        })
    }
}

fn corrupt(index: u64) -> Problem {
    tracing::error!(index, "stored envelope is not UTF-8 JSON");
    Problem::internal()
}

/// The `{id}` of `GET /v1/events/{id}`.
pub(crate) fn event_id(text: &str) -> Result<EventId, Problem> {
    text.parse().map_err(|e: proto::DecodeError| {
        Problem::new(StatusCode::BAD_REQUEST, codes::BAD_PATH, format!("{e}"))
    })
}

/// `GET /v1/events/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EventView>, Problem> {
    let id = event_id(&id)?;
    match blocking(&state.node, move |node| node.event(&id)).await?? {
        Some(event) => Ok(Json(EventView::of(event)?)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            codes::EVENT_NOT_FOUND,
            format!("no event has id {id}"),
        )
        .for_event(id)),
    }
}

/// The answer for an accepted event.
#[derive(Serialize)]
struct AppendedView {
    id: EventId,
    index: u64,
    contract: ContractId,
    seq: u64,
}

impl From<Appended> for AppendedView {
    fn from(a: Appended) -> Self {
        Self {
            id: a.id,
            index: a.index,
            contract: a.contract,
            seq: a.seq,
        }
    }
}

/// One result of a batch.
#[derive(Serialize)]
#[serde(untagged)]
enum ItemView {
    Accepted {
        status: u16,
        #[serde(flatten)]
        appended: AppendedView,
    },
    Refused {
        status: u16,
        problem: Problem,
    },
}

#[derive(Serialize)]
struct BatchView {
    errors: bool,
    results: Vec<ItemView>,
}

/// What the body holds.
enum Batch {
    One(Vec<u8>),
    Many(Vec<Vec<u8>>),
}

/// `POST /v1/events`.
pub async fn post(State(state): State<AppState>, client: Client, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let read = read_body(&state, &parts.headers, body).await;
    let (_permit, batch) = match read.and_then(|(permit, b)| Ok((permit, split(&b, &state)?))) {
        Ok(read) => read,
        Err(problem) => {
            state.metrics.record_refusal(problem.code());
            return problem.into_response();
        }
    };
    match batch {
        Batch::One(envelope) => {
            let mut results = match append(&state, client, vec![envelope]).await {
                Ok(results) => results,
                Err(problem) => return refused(&state, problem),
            };
            match results.pop() {
                Some(Ok(appended)) => created(appended),
                Some(Err(problem)) => problem.into_response(),
                None => Problem::internal().into_response(),
            }
        }
        Batch::Many(envelopes) => match append(&state, client, envelopes).await {
            Ok(results) => Json(batch_view(results)).into_response(),
            Err(problem) => refused(&state, problem),
        },
    }
}

/// A refusal of the whole request, counted.
fn refused(state: &AppState, problem: Problem) -> Response {
    state.metrics.record_refusal(problem.code());
    problem.into_response()
}

fn created(appended: Appended) -> Response {
    let location = format!("/v1/events/{}", appended.id);
    let mut response = (StatusCode::CREATED, Json(AppendedView::from(appended))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn batch_view(results: Vec<Result<Appended, Problem>>) -> BatchView {
    let results: Vec<ItemView> = results
        .into_iter()
        .enumerate()
        .map(|(item, result)| match result {
            Ok(appended) => ItemView::Accepted {
                status: 201,
                appended: appended.into(),
            },
            Err(problem) => {
                let problem = problem.for_item(item);
                ItemView::Refused {
                    status: problem.status().as_u16(),
                    problem,
                }
            }
        })
        .collect();
    let errors = results
        .iter()
        .any(|r| matches!(r, ItemView::Refused { .. }));
    BatchView { errors, results }
}

/// Reads the body of a write, under a permit held until the write is answered.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(tokio::sync::OwnedSemaphorePermit, Bytes), Problem> {
    require_json(headers)?;
    let max = state.limits.body_bytes_max();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let over = declared.filter(|length| *length > max as u64);
    if over.is_some_and(|length| length > (max as u64).saturating_mul(DRAIN_FACTOR)) {
        return Err(body_too_large());
    }
    let permit = std::sync::Arc::clone(&state.bodies)
        .try_acquire_owned()
        .map_err(|_| {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                format!(
                    "the node is reading {} request bodies, the most it takes at once \
                     (bodies_in_flight_max); retry after the Retry-After delay",
                    state.limits.bodies_in_flight_max()
                ),
            )
        })?;
    let timeout = Duration::from_millis(state.limits.body_read_timeout_ms());
    if over.is_some() {
        // Read and drop a body a little over the bound before answering, so the client,
        // still sending it, reads the 413 instead of a reset connection.
        let _ = tokio::time::timeout(timeout, drain(body)).await;
        return Err(body_too_large());
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok((permit, bytes)),
        Ok(Err(error)) => {
            let inner = error.into_inner();
            if inner.is::<http_body_util::LengthLimitError>() {
                Err(body_too_large())
            } else {
                Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    codes::BAD_BODY,
                    format!("the request body could not be read: {inner}"),
                ))
            }
        }
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::BODY_TIMEOUT,
            format!(
                "the request body did not arrive within {} ms (body_read_timeout_ms); send it at once",
                state.limits.body_read_timeout_ms()
            ),
        )),
    }
}

/// Writes must be `application/json` (parameters such as `charset` allowed).
fn require_json(headers: &HeaderMap) -> Result<(), Problem> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    match media_type {
        Some(media_type) if media_type.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "a write must be sent with Content-Type: application/json",
        )),
    }
}

/// A body declared over `body_bytes_max` by at most this factor is read and dropped before
/// the 413 (a larger one is answered at once, and the client may see the connection reset).
const DRAIN_FACTOR: u64 = 2;

/// Reads `body` to its end, keeping none of it (its length was declared and bounded).
async fn drain(mut body: Body) {
    use http_body_util::BodyExt;
    while let Some(Ok(_frame)) = body.frame().await {}
}

fn body_too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::BODY_TOO_LARGE,
        "the request body is over the node's body_bytes_max; send fewer envelopes per request",
    )
}

/// Splits the body into envelopes: one object, or an array of at most
/// `events_per_request_max` of them, each kept byte for byte.
fn split(body: &[u8], state: &AppState) -> Result<Batch, Problem> {
    let trimmed = body.trim_ascii();
    match trimmed.first() {
        Some(b'{') => Ok(Batch::One(trimmed.to_vec())),
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(trimmed).map_err(|e| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    codes::BAD_BODY,
                    format!("the body is not a JSON array: {e}"),
                )
            })?;
            let max = state.limits.events_per_request_max();
            if items.is_empty() {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    codes::BAD_BODY,
                    "the array holds no envelope",
                ));
            }
            if items.len() > max {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    codes::TOO_MANY_EVENTS,
                    format!(
                        "{} envelopes in one request, over the limit of {max}; split the array",
                        items.len()
                    ),
                ));
            }
            Ok(Batch::Many(
                items
                    .iter()
                    .map(|raw| raw.get().as_bytes().to_vec())
                    .collect(),
            ))
        }
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_BODY,
            "the body must be a DSSE envelope (a JSON object) or a JSON array of envelopes",
        )),
    }
}

/// Appends envelopes: those over `payload_bytes_max` are refused here, then the front door's
/// rate limits and quotas ([`ratelimit`](super::ratelimit)), and the others go to the node in
/// one call; the results come back in request order.
///
/// # Errors
/// The front door's problem refusing the whole request.
async fn append(
    state: &AppState,
    client: Client,
    envelopes: Vec<Vec<u8>>,
) -> Result<Vec<Result<Appended, Problem>>, Problem> {
    let max = state.limits.payload_bytes_max();
    let mut results: Vec<Option<Result<Appended, Problem>>> = Vec::with_capacity(envelopes.len());
    let mut sent = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        if envelope.len() > max {
            state.metrics.record_refusal(codes::ENVELOPE_TOO_LARGE);
            results.push(Some(Err(envelope_too_large(&envelope, max))));
        } else {
            results.push(None);
            sent.push(envelope);
        }
    }
    let (sent, authors) = front_door(state, client, sent, &mut results)?;
    let copies = sent.clone();
    let answers = state.node.append(sent).await;
    failed_verifications(state, client, &answers, &authors);
    let mut answers = answers.into_iter().zip(copies);
    let mut out = Vec::with_capacity(results.len());
    for slot in results {
        out.push(match slot {
            Some(refused) => refused,
            None => match answers.next() {
                Some((Ok(appended), _)) => Ok(appended),
                Some((Err(error), envelope)) => Err(problem_for(state, &error, &envelope).await),
                None => Err(Problem::internal()),
            },
        });
    }
    Ok(out)
}

/// Envelopes the front door let through, and their authors (when they read).
type Admissible = (Vec<Vec<u8>>, Vec<Option<KeyId>>);

/// The envelopes of `sent` the front door lets through, with their authors (when they read);
/// the others' slots (the empty ones of `results`, in order) get their problems.
///
/// # Errors
/// The front door's problem refusing the whole request.
fn front_door(
    state: &AppState,
    client: Client,
    sent: Vec<Vec<u8>>,
    results: &mut [Option<Result<Appended, Problem>>],
) -> Result<Admissible, Problem> {
    let intents: Vec<Option<Intent>> = sent.iter().map(|e| Intent::read(e)).collect();
    let refusals = state.front_door.admit(client, &intents)?;
    let mut slots = results.iter_mut().filter(|slot| slot.is_none());
    let mut kept = Vec::with_capacity(sent.len());
    let mut authors = Vec::with_capacity(sent.len());
    for ((envelope, intent), refusal) in sent.into_iter().zip(intents).zip(refusals) {
        let slot = slots.next();
        match (refusal, slot) {
            (Some(problem), Some(slot)) => {
                state.metrics.record_refusal(problem.code());
                *slot = Some(Err(problem));
            }
            _ => {
                kept.push(envelope);
                authors.push(intent.map(|i| *i.author()));
            }
        }
    }
    Ok((kept, authors))
}

/// Tells the front door which envelopes were admitted and which refused for a wrong
/// signature, and by whom.
fn failed_verifications(
    state: &AppState,
    client: Client,
    answers: &[Result<Appended, AppendError>],
    authors: &[Option<KeyId>],
) {
    let mut failed = Vec::new();
    let mut admitted = Vec::new();
    for (answer, author) in answers.iter().zip(authors) {
        match answer {
            Ok(_) => admitted.extend(*author),
            Err(AppendError::Rejected(r)) if r.class() == RefusalClass::BadSignature => {
                failed.push(*author);
            }
            Err(_) => {}
        }
    }
    state.front_door.admitted(&admitted);
    state.front_door.failed(client, &failed);
}

fn envelope_too_large(envelope: &[u8], max: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::ENVELOPE_TOO_LARGE,
        format!(
            "the envelope is {} bytes, over the limit of {max}",
            envelope.len()
        ),
    )
}

/// The problem for an append error, with the event id and the contract's head when the
/// envelope can be read. Only the contract the envelope names is looked up.
async fn problem_for(state: &AppState, error: &AppendError, envelope: &[u8]) -> Problem {
    let decoded = read_envelope(envelope);
    let problem = match error {
        AppendError::Rejected(refusal) => {
            let status =
                StatusCode::from_u16(refusal.class().status()).unwrap_or(StatusCode::BAD_REQUEST);
            let problem = Problem::new(status, refusal.code(), refusal.detail());
            match (refusal.class(), &decoded) {
                (RefusalClass::Conflict, Some((id, _))) if refusal.code() == codes::DUPLICATE => {
                    with_head(
                        state,
                        with_stored_index(state, problem, *id).await,
                        decoded.as_ref(),
                    )
                }
                (RefusalClass::Conflict, _) => with_head(state, problem, decoded.as_ref()),
                _ => problem,
            }
        }
        AppendError::Duplicate { id, index } => {
            let problem = Problem::new(
                StatusCode::CONFLICT,
                codes::DUPLICATE,
                format!("event {id} is already in the log at index {index}; nothing was stored"),
            )
            .with_index(*index);
            with_head(state, problem, decoded.as_ref())
        }
        AppendError::Unavailable(detail) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            format!("{detail}; retry after the Retry-After delay"),
        ),
        AppendError::Internal(detail) => {
            tracing::error!(%detail, "append failed");
            Problem::internal()
        }
    };
    match decoded {
        Some((id, _)) => problem.for_event(id),
        None => problem,
    }
}

/// The stored event's index, read on the blocking pool (a store read).
async fn with_stored_index(state: &AppState, problem: Problem, id: EventId) -> Problem {
    match blocking(&state.node, move |node| node.event(&id)).await {
        Ok(Ok(Some(stored))) => problem.with_index(stored.index),
        Ok(Ok(None) | Err(_)) | Err(_) => problem,
    }
}

/// The head of the one contract the envelope names, from the published view (no store read,
/// no walk over the other contracts).
fn with_head(
    state: &AppState,
    problem: Problem,
    decoded: Option<&(EventId, ContractId)>,
) -> Problem {
    let Some((_, contract)) = decoded else {
        return problem;
    };
    let head = state.node.contract_head(contract).map_or(
        Head {
            next_seq: 0,
            last: None,
        },
        |(events, last)| Head {
            next_seq: events,
            last: Some(last),
        },
    );
    problem.with_head(head)
}

/// The event id and contract of an envelope, if it decodes.
fn read_envelope(envelope: &[u8]) -> Option<(EventId, ContractId)> {
    let envelope = Envelope::decode(envelope).ok()?;
    let id = EventId::of_payload(envelope.payload());
    let payload = Payload::decode(envelope.payload()).ok()?;
    Some((id, payload.contract))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::metrics::Metrics;
    use crate::testkit::{self, ContractKit};

    async fn post(router: &axum::Router, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
        let request = Request::post("/v1/events")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("{e}"));
        let response = router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    /// Issue 9, finding 6: a 409 listed every contract of the node to find the head of one.
    #[tokio::test]
    async fn a_conflict_reads_the_head_of_the_named_contract_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let node = testkit::open(dir.path()).await;
        let config = testkit::config(dir.path(), 1_000);
        let router = super::super::router(node.clone(), config.limits(), Arc::new(Metrics::new()));
        let mut kits: Vec<ContractKit> = ["alpha", "beta", "gamma"]
            .into_iter()
            .map(ContractKit::new)
            .collect();
        for kit in &mut kits {
            let (status, _) = post(&router, kit.registration()).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let claim = kits[1].claim(1);
        assert_eq!(post(&router, claim.clone()).await.0, StatusCode::CREATED);

        let (status, problem) = post(&router, claim).await;

        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["code"], "duplicate");
        assert_eq!(problem["index"], 3);
        assert_eq!(problem["head"]["next_seq"], 2);
        assert_eq!(node.listed(), 0, "a refusal walked the contract list");
        node.shutdown().await;
    }
}
