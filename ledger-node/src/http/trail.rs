//! `GET /v1/trail`: the audit trail regulators query, filtered and paginated with a cursor.
//!
//! A page holds at most `limit` events and `page_bytes_max` bytes of them (always at least
//! one), and examines at most `trail_scan_events_max` log entries; `next_cursor` says where
//! the next page starts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::{ContractId, KeyId, Kind, OutcomeId, Role, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::events::EventView;
use super::problem::Problem;
use super::{blocking, page_size, ApiQuery, AppState, PageFill};
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
    events: Vec<Box<RawValue>>,
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
    let start = query.cursor.unwrap_or(0);
    let scan_max = u64::try_from(state.limits.trail_scan_events_max()).unwrap_or(u64::MAX);
    let mut page = PageFill::new(&state.limits, limit);
    let (page, next_cursor) = blocking(&state.node, move |node| -> Result<_, Problem> {
        let mut cursor = start;
        loop {
            let part = node.trail(&filter, Some(cursor), page.wanted())?;
            for event in part.events {
                let index = event.index;
                if !page.offer(&EventView::of(event)?)? {
                    return Ok((page, Some(index)));
                }
            }
            let Some(next) = part.next_cursor else {
                return Ok((page, None));
            };
            // One page examines at most trail_scan_events_max entries, as one trail call does.
            if page.len() >= limit || next.saturating_sub(start) >= scan_max {
                return Ok((page, Some(next)));
            }
            cursor = next;
        }
    })
    .await??;
    Ok(Json(TrailView {
        events: page.into_items(),
        next_cursor,
    }))
}
