//! `GET /v1/log?from=&limit=`: events in global (Merkle leaf) order.
//!
//! A page holds at most `limit` events and `page_bytes_max` bytes of them (always at least
//! one); `next` says where the next page starts.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::events::EventView;
use super::problem::Problem;
use super::{blocking, page_size, ApiQuery, AppState, PageFill};

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
    events: Vec<Box<RawValue>>,
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
    let mut page = PageFill::new(&state.limits, limit);
    let (page, next) = blocking(&state.node, move |node| -> Result<_, Problem> {
        let mut position = from;
        loop {
            let events = node.log(position, page.wanted())?;
            if events.is_empty() {
                return Ok((page, None));
            }
            for event in events {
                let index = event.index;
                if !page.offer(&EventView::of(event)?)? {
                    return Ok((page, Some(index)));
                }
                position = index.saturating_add(1);
            }
        }
    })
    .await??;
    Ok(Json(LogPage {
        from,
        events: page.into_items(),
        next,
    }))
}
