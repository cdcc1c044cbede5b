//! `GET /v1/proof/inclusion?index=&size=` and `GET /v1/proof/consistency?from=&to=`: RFC 9162
//! proofs as lowercase hex hashes.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::problem::Problem;
use super::{blocking, ApiQuery, AppState};
use crate::service::Hash;

/// Query of `GET /v1/proof/inclusion`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    size: u64,
}

/// An inclusion proof.
#[derive(Serialize)]
pub struct InclusionView {
    index: u64,
    size: u64,
    hashes: Vec<String>,
}

/// `GET /v1/proof/inclusion`.
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionView>, Problem> {
    let InclusionQuery { index, size } = query;
    let proof = blocking(&state.node, move |node| node.inclusion_proof(index, size)).await??;
    Ok(Json(InclusionView {
        index,
        size,
        hashes: hex_all(&proof),
    }))
}

/// Query of `GET /v1/proof/consistency`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

/// A consistency proof.
#[derive(Serialize)]
pub struct ConsistencyView {
    from: u64,
    to: u64,
    hashes: Vec<String>,
}

/// `GET /v1/proof/consistency`.
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>, Problem> {
    let ConsistencyQuery { from, to } = query;
    let proof = blocking(&state.node, move |node| node.consistency_proof(from, to)).await??;
    Ok(Json(ConsistencyView {
        from,
        to,
        hashes: hex_all(&proof),
    }))
}

fn hex_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}
