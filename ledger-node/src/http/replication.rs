//! `GET /v1/replication` (the replicated ledger this node follows and where it stands) and
//! `GET /v1/replication/refused?from=&limit=` (the stream messages every node refused, with
//! their reasons: what a client that bypassed the nodes published).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::problem::{codes, Problem};
use super::{blocking, page_size, ApiQuery, AppState, PageFill};
use crate::store::RefusedMessage;

/// What `GET /v1/replication` answers.
#[derive(Serialize)]
pub struct ReplicationView {
    ledger: String,
    /// `connecting`, `ready` or `broken`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// The last stream sequence this node applied.
    position: u64,
}

/// `GET /v1/replication`.
pub async fn status(State(state): State<AppState>) -> Result<Json<ReplicationView>, Problem> {
    let status = state.node.replication_status().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "this node is standalone: it follows no replicated ledger (start it with --nats and --ledger)",
        )
    })?;
    Ok(Json(ReplicationView {
        ledger: status.ledger,
        status: status.state,
        detail: status.detail,
        position: status.position,
    }))
}

/// Query of `GET /v1/replication/refused`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusedQuery {
    /// First stream sequence (default 0).
    from: Option<u64>,
    /// Page size (default `page_size_default`, at most `page_size_max`).
    limit: Option<usize>,
}

/// A page of refused stream messages.
#[derive(Serialize)]
pub struct RefusedPage {
    refused: Vec<Box<RawValue>>,
    /// The `from` of the next page, absent at the end.
    next: Option<u64>,
}

/// `GET /v1/replication/refused`.
pub async fn refused(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RefusedQuery>,
) -> Result<Json<RefusedPage>, Problem> {
    let limit = page_size(&state.limits, query.limit)?;
    let from = query.from.unwrap_or(0);
    let mut page = PageFill::new(&state.limits, limit);
    let (page, next) = blocking(&state.node, move |node| -> Result<_, Problem> {
        let mut position = from;
        loop {
            let refused: Vec<RefusedMessage> = node.refused(position, page.wanted())?;
            if refused.is_empty() {
                return Ok((page, None));
            }
            for message in refused {
                let sequence = message.sequence;
                if !page.offer(&message)? {
                    return Ok((page, Some(sequence)));
                }
                position = sequence.saturating_add(1);
            }
        }
    })
    .await??;
    Ok(Json(RefusedPage {
        refused: page.into_items(),
        next,
    }))
}
