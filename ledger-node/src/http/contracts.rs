//! `GET /v1/contracts` (paged by contract id), `GET /v1/contracts/{id}` (the projection) and
//! `GET /v1/contracts/{id}/events`.
//!
//! Lists hold at most `limit` items and `page_bytes_max` bytes of them (always at least one)
//! and say where the next page starts: `next_cursor` (the last id of this page) for the
//! contract list, `next` (a seq) for a contract's events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use proto::{ContractId, EventId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::events::EventView;
use super::problem::{codes, Problem};
use super::{blocking, page_size, ApiQuery, AppState, PageFill};
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

/// Query of `GET /v1/contracts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The `next_cursor` of the previous page: the list continues after this contract id.
    cursor: Option<ContractId>,
    /// Page size.
    limit: Option<usize>,
}

/// A page of the contract list, by id.
#[derive(Serialize)]
pub struct ContractList {
    contracts: Vec<Box<RawValue>>,
    /// Pass as `cursor` for the next page; absent after the last contract.
    next_cursor: Option<ContractId>,
}

/// `GET /v1/contracts`.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ContractList>, Problem> {
    let limit = page_size(&state.limits, query.limit)?;
    let mut page = PageFill::new(&state.limits, limit);
    let mut after = query.cursor;
    let mut next_cursor = None;
    'pages: loop {
        let lines = state.node.contracts_after(after.as_ref(), page.wanted());
        if lines.is_empty() {
            break;
        }
        for c in lines {
            let line = ContractLine {
                id: c.id,
                title: c.title,
                events: c.events,
                head: c.head,
                closed: c.closed,
            };
            if !page.offer(&line)? {
                next_cursor = after;
                break 'pages;
            }
            after = Some(line.id);
        }
    }
    Ok(Json(ContractList {
        contracts: page.into_items(),
        next_cursor,
    }))
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
    events: Vec<Box<RawValue>>,
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
    let mut page = PageFill::new(&state.limits, limit);
    let contract = id.clone();
    let (page, next) = blocking(&state.node, move |node| -> Result<_, Problem> {
        let mut position = from;
        loop {
            let events = node.contract_events(&contract, position, page.wanted())?;
            if events.is_empty() {
                return Ok((page, None));
            }
            for event in events {
                let seq = event.seq;
                if !page.offer(&EventView::of(event)?)? {
                    return Ok((page, Some(seq)));
                }
                position = seq.saturating_add(1);
            }
        }
    })
    .await??;
    if page.is_empty() && state.node.contract_head(&id).is_none() {
        return Err(no_contract(&id));
    }
    Ok(Json(StreamPage {
        contract: id,
        from,
        events: page.into_items(),
        next,
    }))
}
