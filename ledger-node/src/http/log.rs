//! `GET /v1/log?from=&limit=`: events in global (Merkle leaf) order.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::events::EventView;
use super::problem::Problem;
use super::{blocking, page_size, ApiQuery, AppState};

/// Query of `GET /v1/log`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// First global index (default 0).
    from: Option<u64>,
    /// Page size (default `page_size_default`, at most `page_size_max`).
    limit: Option<usize>,
}

/// A page of the log.
#[derive(Serialize)]
pub struct LogPage {
    from: u64,
    events: Vec<EventView>,
    /// The `from` of the next page, absent at the end of the log.
    next: Option<u64>,
}

/// `GET /v1/log`.
pub async fn get(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<LogPage>, Problem> {
    let limit = page_size(&state.limits, query.limit)?;
    let from = query.from.unwrap_or(0);
    // One more than the page tells whether a next page exists.
    let probe = limit.saturating_add(1);
    let mut events = blocking(&state.node, move |node| node.log(from, probe)).await??;
    let next = next_start(from, &mut events, limit);
    Ok(Json(LogPage {
        from,
        events: EventView::all(events)?,
        next,
    }))
}

/// Cuts `items` fetched with one extra to `limit`, and returns where the next page starts if
/// there was an extra.
pub fn next_start<T>(from: u64, items: &mut Vec<T>, limit: usize) -> Option<u64> {
    if items.len() <= limit {
        return None;
    }
    items.truncate(limit);
    u64::try_from(limit).ok().and_then(|n| from.checked_add(n))
}
