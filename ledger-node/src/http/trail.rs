//! `GET /v1/trail`: the audit trail regulators query, filtered and paginated with a cursor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::{ContractId, KeyId, Kind, OutcomeId, Role, Timestamp};
use serde::{Deserialize, Serialize};

use super::events::EventView;
use super::problem::Problem;
use super::{blocking, page_size, ApiQuery, AppState};
use crate::service::TrailFilter;

/// Query of `GET /v1/trail`. Every filter given must match.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailQuery {
    contract: Option<ContractId>,
    party: Option<KeyId>,
    role: Option<Role>,
    kind: Option<String>,
    outcome: Option<OutcomeId>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    cursor: Option<u64>,
    limit: Option<usize>,
}

/// A page of the trail.
#[derive(Serialize)]
pub struct TrailView {
    events: Vec<EventView>,
    /// Pass as `cursor` for the next page; absent when the log is exhausted.
    next_cursor: Option<u64>,
}

/// `GET /v1/trail`.
pub async fn get(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TrailQuery>,
) -> Result<Json<TrailView>, Problem> {
    let limit = page_size(&state.limits, query.limit)?;
    let kind = match query.kind.as_deref() {
        None => None,
        Some(name) => Some(Kind::parse(name).ok_or_else(|| {
            Problem::bad_query(format!(
                "kind {name:?} is not an event kind (e.g. claim.submitted)"
            ))
        })?),
    };
    if let (Some(since), Some(until)) = (&query.since, &query.until) {
        if since > until {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                super::problem::codes::BAD_QUERY,
                "since is after until",
            ));
        }
    }
    let filter = TrailFilter {
        contract: query.contract,
        party: query.party,
        role: query.role,
        kind,
        outcome: query.outcome,
        since: query.since,
        until: query.until,
    };
    let cursor = query.cursor;
    let page = blocking(&state.node, move |node| node.trail(&filter, cursor, limit)).await??;
    Ok(Json(TrailView {
        events: EventView::all(page.events)?,
        next_cursor: page.next_cursor,
    }))
}
