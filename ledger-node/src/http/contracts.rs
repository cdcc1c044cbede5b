//! `GET /v1/contracts`, `GET /v1/contracts/{id}` (the projection) and
//! `GET /v1/contracts/{id}/events`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use proto::{ContractId, EventId};
use serde::{Deserialize, Serialize};

use super::events::EventView;
use super::log::next_start;
use super::problem::{codes, Problem};
use super::{blocking, page_size, ApiQuery, AppState};
use crate::service::ContractState;

/// One line of the contract list.
#[derive(Serialize)]
struct ContractLine {
    id: ContractId,
    title: String,
    events: u64,
    head: EventId,
    closed: bool,
}

/// The contract list.
#[derive(Serialize)]
pub struct ContractList {
    contracts: Vec<ContractLine>,
}

/// `GET /v1/contracts`.
pub async fn list(State(state): State<AppState>) -> Json<ContractList> {
    let contracts = state
        .node
        .contracts()
        .into_iter()
        .map(|c| ContractLine {
            id: c.id,
            title: c.title,
            events: c.events,
            head: c.head,
            closed: c.closed,
        })
        .collect();
    Json(ContractList { contracts })
}

pub(crate) fn contract_id(text: &str) -> Result<ContractId, Problem> {
    text.parse().map_err(|e: proto::DecodeError| {
        Problem::new(StatusCode::BAD_REQUEST, codes::BAD_PATH, e.to_string())
    })
}

fn no_contract(id: &ContractId) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        codes::CONTRACT_NOT_FOUND,
        format!("no contract has id {id}"),
    )
}

/// `GET /v1/contracts/{id}`: the contract's projection.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ContractState>, Problem> {
    let id = contract_id(&id)?;
    state
        .node
        .contract(&id)
        .map(Json)
        .ok_or_else(|| no_contract(&id))
}

/// Query of `GET /v1/contracts/{id}/events`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// First seq (default 0).
    from: Option<u64>,
    /// Page size.
    limit: Option<usize>,
}

/// A page of a contract's stream.
#[derive(Serialize)]
pub struct StreamPage {
    contract: ContractId,
    from: u64,
    events: Vec<EventView>,
    /// The `from` of the next page, absent at the end of the stream.
    next: Option<u64>,
}

/// `GET /v1/contracts/{id}/events`.
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Json<StreamPage>, Problem> {
    let id = contract_id(&id)?;
    let limit = page_size(&state.limits, query.limit)?;
    let from = query.from.unwrap_or(0);
    let probe = limit.saturating_add(1);
    let contract = id.clone();
    let mut events = blocking(&state.node, move |node| {
        node.contract_events(&contract, from, probe)
    })
    .await??;
    if events.is_empty() && !state.node.contracts().iter().any(|c| c.id == id) {
        return Err(no_contract(&id));
    }
    let next = next_start(from, &mut events, limit);
    Ok(Json(StreamPage {
        contract: id,
        from,
        events: EventView::all(events)?,
        next,
    }))
}
