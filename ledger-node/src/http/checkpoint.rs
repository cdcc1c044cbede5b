//! `GET /v1/checkpoint` (the latest) and `GET /v1/checkpoint/{size}`: C2SP signed notes served
//! as `text/plain`, verifiable with the key string of `GET /v1/node`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::problem::{codes, Problem};
use super::{blocking, AppState};
use crate::service::SignedCheckpoint;

const NOTE_MEDIA_TYPE: &str = "text/plain; charset=utf-8";

fn note(checkpoint: SignedCheckpoint) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(NOTE_MEDIA_TYPE),
        )],
        checkpoint.note,
    )
        .into_response()
}

/// `GET /v1/checkpoint`.
pub async fn latest(State(state): State<AppState>) -> Result<Response, Problem> {
    state.node.latest_checkpoint().map(note).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            codes::CHECKPOINT_NOT_FOUND,
            "the node has signed no checkpoint yet; retry after the first append",
        )
    })
}

/// The `{size}` of `GET /v1/checkpoint/{size}`.
pub(crate) fn tree_size(text: &str) -> Result<u64, Problem> {
    text.parse().map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_PATH,
            format!("tree size {text:?} is not a non-negative integer"),
        )
    })
}

/// `GET /v1/checkpoint/{size}`.
pub async fn at_size(
    State(state): State<AppState>,
    Path(size): Path<String>,
) -> Result<Response, Problem> {
    let size = tree_size(&size)?;
    match blocking(&state.node, move |node| node.checkpoint_at(size)).await?? {
        Some(checkpoint) => Ok(note(checkpoint)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            codes::CHECKPOINT_NOT_FOUND,
            format!(
                "no checkpoint was signed at tree size {size}; GET /v1/checkpoint gives the latest"
            ),
        )),
    }
}
