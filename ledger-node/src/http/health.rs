//! `GET /healthz` and `GET /readyz`: liveness and readiness probes (what each means:
//! [`crate::health`]). `200 {"status": "ok"}`, or a `503` problem document whose `code` says
//! why and whose `detail` says what to do.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::problem::Problem;
use super::AppState;
use crate::health::Unready;

/// The body of a passing probe.
#[derive(Serialize)]
pub struct Passing {
    status: &'static str,
}

/// `GET /healthz`: fails (503) once the writer stopped; restart the node then.
///
/// # Errors
/// A `503` problem: `writer-stopped`.
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Passing>, Problem> {
    probe(state.node.health())
}

/// `GET /readyz`: fails (503) while the node should not be sent traffic.
///
/// # Errors
/// A `503` problem: `writer-stopped`, `shutting-down` or `replication-*`.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Passing>, Problem> {
    probe(state.node.readiness())
}

fn probe(outcome: Result<(), Unready>) -> Result<Json<Passing>, Problem> {
    match outcome {
        Ok(()) => Ok(Json(Passing { status: "ok" })),
        Err(why) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            why.code(),
            why.to_string(),
        )),
    }
}
