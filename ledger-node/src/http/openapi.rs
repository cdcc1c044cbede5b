//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API, hand-written with
//! `serde_json::json!` next to the handlers it describes, and every problem type with its
//! status (`x-problem-types`). Its bounds are the running node's [`Limits`] (`maximum` of
//! `limit`, `maxItems` of a batch, ...), also listed whole in `x-limits`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::problem::{title_of, type_uri, HTTP_CODES};
use super::AppState;
use crate::config::Limits;

/// The decode error codes of `proto` (400, or 413 for `too-large`).
const DECODE_CODES: &[(&str, u16)] = &[
    ("malformed", 400),
    ("non-canonical", 400),
    ("duplicate-key", 400),
    ("unknown-field", 400),
    ("invalid-value", 400),
    ("bad-envelope", 400),
    ("too-large", 413),
];

/// `GET /v1/openapi.json`.
pub async fn get(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state.limits))
}

/// Every problem type: `(code, status)`, each code once.
pub fn problem_types() -> Vec<(&'static str, u16)> {
    let mut all: Vec<(&'static str, u16)> = HTTP_CODES.to_vec();
    all.extend_from_slice(DECODE_CODES);
    all.extend(
        crate::health::Unready::CODES
            .iter()
            .map(|code| (*code, 503)),
    );
    all.extend_from_slice(super::ratelimit::CODES);
    for code in ledger_core::RuleViolation::CODES {
        let status = ledger_core::RuleViolation::class_of_code(code)
            .map_or(422, ledger_core::ErrorClass::http_status);
        all.push((code, status));
    }
    let mut seen = std::collections::HashSet::new();
    all.retain(|(code, _)| seen.insert(*code));
    all
}

fn problem_type_list() -> Value {
    problem_types()
        .into_iter()
        .map(|(code, status)| json!({"type": type_uri(code), "code": code, "status": status, "title": title_of(code)}))
        .collect()
}

/// The node's bounds, by their configuration names.
fn limit_list(limits: &Limits) -> Value {
    json!({
        "body_bytes_max": limits.body_bytes_max(),
        "events_per_request_max": limits.events_per_request_max(),
        "payload_bytes_max": limits.payload_bytes_max(),
        "page_size_default": limits.page_size_default(),
        "page_size_max": limits.page_size_max(),
        "page_bytes_max": limits.page_bytes_max(),
        "trail_scan_events_max": limits.trail_scan_events_max(),
        "body_read_timeout_ms": limits.body_read_timeout_ms(),
        "bodies_in_flight_max": limits.bodies_in_flight_max(),
        "header_bytes_max": limits.header_bytes_max(),
        "headers_max": limits.headers_max()
    })
}

/// The whole document, with the bounds of `limits`.
pub fn document(limits: &Limits) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Outcome ledger node API",
            "version": "1",
            "description": "An append-only, Ed25519-signed, RFC 9162 Merkle-logged ledger of social outcome contracts. Writes are DSSE envelopes; an acknowledged write is durable. Errors are RFC 9457 problem details (application/problem+json) whose `type` is https://outcome-ledger.dev/problems/<code>; `x-problem-types` lists every code with its status.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "paths": paths(limits),
        "components": {"schemas": schemas(limits), "responses": responses()},
        "x-problem-types": problem_type_list(),
        "x-limits": limit_list(limits)
    })
}

fn problem_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn query_param(name: &str, description: &str, schema: Value, required: Value) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    query_param(name, description, schema, Value::Bool(false))
}

fn required_query(name: &str, description: &str, schema: Value) -> Value {
    query_param(name, description, schema, Value::Bool(true))
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn u64_schema() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "format": "uint64"})
}

/// A tree size: at least 1.
fn size_schema() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": u64::MAX, "format": "uint64"})
}

fn limit_param(limits: &Limits) -> Value {
    query(
        "limit",
        &format!(
            "Page size: 1 to page_size_max (default page_size_default). A page also stops before \
             its items would exceed page_bytes_max ({} bytes) of JSON, holding at least one.",
            limits.page_bytes_max()
        ),
        json!({"type": "integer", "minimum": 1, "maximum": limits.page_size_max(), "default": limits.page_size_default()}),
    )
}

/// What every operation may answer besides its own results.
fn common_errors() -> Value {
    json!({
        "431": problem_response("The request line and headers are over header_bytes_max, or hold more than headers_max fields (header-too-large)"),
        "500": {"$ref": "#/components/responses/Internal"},
        "503": {"$ref": "#/components/responses/Unavailable"}
    })
}

fn read_errors() -> Value {
    with(
        common_errors(),
        json!({"400": {"$ref": "#/components/responses/BadRequest"}}),
    )
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base
}

fn paths(limits: &Limits) -> Value {
    json!({
        "/v1/events": {"post": post_events(limits)},
        "/v1/events/{id}": {"get": {
            "summary": "One event with its envelope, global index, contract and seq",
            "parameters": [path_param("id", "Event id: SHA-256 of the payload, 64 lowercase hex.", json!({"$ref": "#/components/schemas/Hex32"}))],
            "responses": with(read_errors(), json!({"200": json_response("The event", "Event"), "404": problem_response("No event has this id (event-not-found)")}))
        }},
        "/v1/log": {"get": {
            "summary": "Events in global (Merkle leaf) order",
            "parameters": [query("from", "First global index (default 0).", u64_schema()), limit_param(limits)],
            "responses": with(read_errors(), json!({"200": json_response("A page of the log", "LogPage")}))
        }},
        "/v1/contracts": {"get": {
            "summary": "The contracts, by id, a page at a time",
            "parameters": [
                query("cursor", "`next_cursor` of the previous page: the list continues after this contract id.", json!({"$ref": "#/components/schemas/ContractId"})),
                limit_param(limits)
            ],
            "responses": with(read_errors(), json!({"200": json_response("A page of the contracts, by id", "ContractList")}))
        }},
        "/v1/contracts/{id}": {"get": {
            "summary": "A contract's projection (its state folded from its events)",
            "parameters": [path_param("id", "Contract id.", json!({"$ref": "#/components/schemas/ContractId"}))],
            "responses": with(read_errors(), json!({"200": json_response("The projection", "ContractState"), "404": problem_response("No contract has this id (contract-not-found)")}))
        }},
        "/v1/contracts/{id}/events": {"get": {
            "summary": "A contract's events in seq order",
            "parameters": [
                path_param("id", "Contract id.", json!({"$ref": "#/components/schemas/ContractId"})),
                query("from", "First seq (default 0).", u64_schema()),
                limit_param(limits)
            ],
            "responses": with(read_errors(), json!({"200": json_response("A page of the stream", "StreamPage"), "404": problem_response("No contract has this id (contract-not-found)")}))
        }},
        "/v1/trail": {"get": trail(limits)},
        "/v1/checkpoint": {"get": {
            "summary": "The latest signed checkpoint: a C2SP tlog-checkpoint in a signed note, verifiable with the key of GET /v1/node",
            "responses": with(common_errors(), json!({"200": note_response(), "404": problem_response("No checkpoint signed yet (checkpoint-not-found)")}))
        }},
        "/v1/checkpoint/{size}": {"get": {
            "summary": "The checkpoint signed at a past tree size",
            "parameters": [path_param("size", "Tree size, at least 1.", size_schema())],
            "responses": with(read_errors(), json!({"200": note_response(), "404": problem_response("No checkpoint at this size (checkpoint-not-found)")}))
        }},
        "/v1/proof/inclusion": {"get": {
            "summary": "RFC 9162 inclusion proof of leaf `index` in the tree of `size` (the leaf is SHA-256(0x00 || RFC 8785 envelope))",
            "parameters": [required_query("index", "Leaf (global) index.", u64_schema()), required_query("size", "Tree size, 1 to the log size.", size_schema())],
            "responses": with(read_errors(), json!({"200": json_response("The proof", "InclusionProof")}))
        }},
        "/v1/proof/consistency": {"get": {
            "summary": "RFC 9162 consistency proof between tree sizes `from` and `to`",
            "parameters": [required_query("from", "Older tree size, at least 1.", size_schema()), required_query("to", "Newer tree size, from `from` to the log size.", size_schema())],
            "responses": with(read_errors(), json!({"200": json_response("The proof", "ConsistencyProof")}))
        }},
        "/v1/node": {"get": {
            "summary": "The node's checkpoint origin, signed-note verifier key, log size and root",
            "responses": with(common_errors(), json!({"200": json_response("The node", "NodeInfo")}))
        }},
        "/v1/replication": {"get": {
            "summary": "The replicated ledger this node follows (--nats, --ledger): its name, `status` (connecting, ready, broken with a `detail`) and `position`, the last stream sequence applied",
            "responses": with(common_errors(), json!({"200": {"description": "Where the node stands", "content": {"application/json": {"schema": {"type": "object", "required": ["ledger", "status", "position"]}}}}, "404": problem_response("A standalone node (not-found)")}))
        }},
        "/v1/replication/refused": {"get": {
            "summary": "Messages of the ledger's stream every node refused (published around the nodes), by stream sequence, with the refusal's code, status and detail",
            "parameters": [query("from", "First stream sequence (default 0).", u64_schema()), limit_param(limits)],
            "responses": with(read_errors(), json!({"200": {"description": "`{refused: [{sequence, subject, event, code, status, detail}], next}`", "content": {"application/json": {"schema": {"type": "object", "required": ["refused"]}}}}}))
        }},
        "/v1/openapi.json": {"get": {"summary": "This document", "responses": with(common_errors(), json!({"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}))}},
        "/healthz": {"get": {
            "summary": "Liveness: whether the node can do its job at all",
            "description": "Fails once the writer stopped taking appends (a store write or flush failed, e.g. a full disk, or the writer ended): only a restart, which checks the store, brings it back, so a supervisor should restart the node. A node still opening its store does not listen yet.",
            "responses": with(common_errors(), json!({"200": probe_passing("The writer takes appends"), "503": problem_response("writer-stopped: the detail says why and what to do (free disk space, then restart)")}))
        }},
        "/readyz": {"get": {
            "summary": "Readiness: whether the node should be sent traffic now",
            "description": "Fails while /healthz fails, once the node is shutting down, and on a replicated ledger while it is not linked to JetStream or has not yet applied the events stream as far as it stood when the node linked. A node that is not ready still answers reads; restarting it does not help.",
            "responses": with(common_errors(), json!({"200": probe_passing("Ready for traffic"), "503": problem_response("writer-stopped, shutting-down, replication-connecting, replication-catching-up or replication-broken")}))
        }},
        "/metrics": {"get": {"summary": "Prometheus metrics: ledger_appends_total, ledger_refusals_total{code}, ledger_commit_seconds, ledger_commit_group_events, ledger_log_size, ledger_writer_up, ledger_http_responses_total{method,status}", "responses": with(common_errors(), json!({"200": {"description": "OpenMetrics text", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}}))}}
    })
}

fn probe_passing(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}}}})
}

fn note_response() -> Value {
    json!({"description": "The signed note: `origin\\nsize\\nbase64(root)\\n\\n— origin base64(keyid || signature)\\n`", "content": {"text/plain": {"schema": {"type": "string"}}}})
}

fn post_events(limits: &Limits) -> Value {
    json!({
        "summary": "Append one envelope, or an array of envelopes each judged on its own, in order",
        "description": "An acknowledged event is durable (flushed to disk). A single envelope answers 201 or a problem. An array answers 200 with one result per envelope in request order (the Elasticsearch _bulk convention): `errors` tells whether any was refused. Nothing is stored for a refused event. 400 malformed or non-canonical, 401 bad signature, 403 wrong role, missing signature or revoked key, 409 seq/prev conflict or duplicate (with the contract's `head`), 413 too large, 422 a contract rule broken, 429 over a rate limit or quota (Retry-After), 503 unavailable (Retry-After). Rate limits and quotas are checked before anything is judged: envelopes per second per client (peer address) and per author key, failed signature verifications per client and key (an offender waits one period), envelope bytes per contract per period.",
        "requestBody": {
            "required": true,
            "description": format!("Content-Type: application/json (else 415). At most body_bytes_max ({}) bytes (else 413), sent within body_read_timeout_ms ({} ms, else 408).", limits.body_bytes_max(), limits.body_read_timeout_ms()),
            "x-body-bytes-max": limits.body_bytes_max(),
            "content": {"application/json": {"schema": {"oneOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {"type": "array", "minItems": 1, "maxItems": limits.events_per_request_max(), "items": {"$ref": "#/components/schemas/Envelope"}, "description": "At most events_per_request_max envelopes."}
            ]}}}
        },
        "responses": {
            "201": {
                "description": "The single envelope was accepted and is durable",
                "headers": {"Location": {"schema": {"type": "string"}, "description": "/v1/events/{id}"}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Appended"}}}
            },
            "200": json_response("An array was judged: one result per envelope", "BatchResult"),
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": problem_response("A signature does not verify"),
            "403": problem_response("Wrong role, a required signature missing or extra, an unknown, retired or revoked key"),
            "408": problem_response("The body did not arrive within body_read_timeout_ms (body-timeout)"),
            "409": problem_response("seq/prev conflict or duplicate; `head` gives the contract's next seq and last event id"),
            "415": problem_response("Not sent as Content-Type: application/json (unsupported-media-type)"),
            "431": problem_response("The request line and headers are over header_bytes_max, or hold more than headers_max fields (header-too-large)"),
            "413": problem_response("Body over body_bytes_max (body-too-large), more than events_per_request_max envelopes (too-many-events), an envelope over payload_bytes_max (envelope-too-large), more than signatures_per_request_max signatures in all (too-many-signatures, refused before any is verified), or a payload over a format bound (too-large)"),
            "429": {
                "description": "Over a rate limit or quota: this client's or author key's envelopes per second (rate-limited), too many failed signature verifications (too-many-bad-signatures), or the contract's bytes per period (contract-quota). In an array, a key's or contract's refusal is that envelope's result; a client's refuses the request.",
                "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds until the budget frees up"}},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            },
            "422": problem_response("A contract rule is broken"),
            "500": {"$ref": "#/components/responses/Internal"},
            "503": {"$ref": "#/components/responses/Unavailable"}
        }
    })
}

fn trail(limits: &Limits) -> Value {
    json!({
        "summary": "The audit trail: events matching every filter given, in global order, paginated with a cursor",
        "parameters": [
            query("contract", "Contract id.", json!({"$ref": "#/components/schemas/ContractId"})),
            query("party", "Key id of a party that authored or signed.", json!({"$ref": "#/components/schemas/Hex32"})),
            query("role", "Role of the author.", json!({"enum": ["commissioner", "provider", "investor", "intermediary", "verifier", "beneficiary_rep"]})),
            query("kind", "Event kind.", json!({"enum": proto::Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()})),
            query("outcome", "Outcome id the event is about.", json!({"$ref": "#/components/schemas/ContractId"})),
            query("since", "Events with `at` at or after this RFC 3339 UTC instant.", instant_schema()),
            query("until", "Events with `at` before this RFC 3339 UTC instant.", instant_schema()),
            query("cursor", "`next_cursor` of the previous page (a global index).", u64_schema()),
            limit_param(limits)
        ],
        "responses": with(read_errors(), json!({"200": json_response("A page of the trail", "TrailPage")}))
    })
}

fn responses() -> Value {
    json!({
        "BadRequest": problem_response("A malformed request: body, path or query parameter (bad-body, bad-path, bad-query, decode codes)"),
        "Internal": problem_response("A fault of the node (internal)"),
        "Unavailable": {
            "description": "The node cannot serve now (unavailable)",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        }
    })
}

fn event_list() -> Value {
    json!({"type": "array", "items": {"$ref": "#/components/schemas/Event"}})
}

fn schemas(limits: &Limits) -> Value {
    json!({
        "Hex32": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "ContractId": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
        "Envelope": {
            "type": "object",
            "description": format!("DSSE v1 envelope; payloadType application/vnd.outcome-ledger.event.v1+json; payload the RFC 8785 event payload (SPEC.md). At most payload_bytes_max ({}) bytes of JSON.", limits.payload_bytes_max()),
            "x-max-bytes": limits.payload_bytes_max(),
            "required": ["payload", "payloadType", "signatures"],
            "additionalProperties": false,
            "properties": {
                "payload": {"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN, "maxLength": limits.payload_bytes_max()},
                "payloadType": {"const": "application/vnd.outcome-ledger.event.v1+json"},
                "signatures": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["keyid", "sig"], "additionalProperties": false, "properties": {"keyid": {"$ref": "#/components/schemas/Hex32"}, "sig": {"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN}}}}
            }
        },
        "Appended": appended_schema(),
        "BatchResult": {
            "type": "object",
            "required": ["errors", "results"],
            "properties": {
                "errors": {"type": "boolean", "description": "Whether any envelope was refused"},
                "results": {"type": "array", "items": {"oneOf": [
                    {"allOf": [{"$ref": "#/components/schemas/Appended"}, {"type": "object", "required": ["status"], "properties": {"status": {"const": 201}}}]},
                    {"type": "object", "required": ["status", "problem"], "properties": {"status": {"type": "integer", "minimum": 400}, "problem": {"$ref": "#/components/schemas/Problem"}}}
                ]}}
            }
        },
        "Event": {
            "type": "object",
            "required": ["id", "index", "contract", "seq", "kind", "author", "at", "envelope"],
            "properties": {
                "id": {"$ref": "#/components/schemas/Hex32"},
                "index": u64_schema(),
                "contract": {"$ref": "#/components/schemas/ContractId"},
                "seq": u64_schema(),
                "kind": {"type": "string"},
                "author": {"$ref": "#/components/schemas/Hex32"},
                "at": {"type": "string", "format": "date-time"},
                "envelope": {"$ref": "#/components/schemas/Envelope", "description": "As stored: its RFC 8785 bytes are the Merkle leaf data"}
            }
        },
        "LogPage": {"type": "object", "required": ["from", "events", "next"], "properties": {"from": u64_schema(), "events": event_list(), "next": {"type": ["integer", "null"], "description": "`from` of the next page; null at the end"}}},
        "StreamPage": {"type": "object", "required": ["contract", "from", "events", "next"], "properties": {"contract": {"$ref": "#/components/schemas/ContractId"}, "from": u64_schema(), "events": event_list(), "next": {"type": ["integer", "null"]}}},
        "TrailPage": {"type": "object", "required": ["events", "next_cursor"], "properties": {"events": event_list(), "next_cursor": {"type": ["integer", "null"], "description": "Pass as `cursor` for the next page; null when the log is exhausted"}}},
        "ContractList": {"type": "object", "required": ["contracts", "next_cursor"], "properties": {"next_cursor": {"oneOf": [{"$ref": "#/components/schemas/ContractId"}, {"type": "null"}], "description": "Pass as `cursor` for the next page; null after the last contract"}, "contracts": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "title", "events", "head", "closed"],
            "properties": {"id": {"$ref": "#/components/schemas/ContractId"}, "title": {"type": "string"}, "events": u64_schema(), "head": {"$ref": "#/components/schemas/Hex32"}, "closed": {"type": "boolean"}}
        }}}},
        "ContractState": {"type": "object", "description": "The projection of ledger-core's ContractState: parties, rate card, claims, disputes, payments, distributions and totals"},
        "InclusionProof": {"type": "object", "required": ["index", "size", "hashes"], "properties": {"index": u64_schema(), "size": u64_schema(), "hashes": hash_list()}},
        "ConsistencyProof": {"type": "object", "required": ["from", "to", "hashes"], "properties": {"from": u64_schema(), "to": u64_schema(), "hashes": hash_list()}},
        "NodeInfo": {"type": "object", "required": ["origin", "verifier_key", "size", "root"], "properties": {
            "origin": {"type": "string"},
            "verifier_key": {"type": "string", "description": "C2SP signed-note verifier key: origin+keyhash+base64(0x01 || Ed25519 public key)"},
            "size": u64_schema(),
            "root": {"$ref": "#/components/schemas/Hex32"}
        }},
        "Problem": problem_schema()
    })
}

/// An RFC 3339 instant in UTC, as `proto::Timestamp` parses it (upper-case `T` and `Z`, at
/// most nine digits of fraction).
fn instant_schema() -> Value {
    json!({"type": "string", "format": "date-time", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$"})
}

/// Standard base64 with padding, as the envelope decoder takes it.
const BASE64_PATTERN: &str = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

fn hash_list() -> Value {
    json!({"type": "array", "items": {"$ref": "#/components/schemas/Hex32"}})
}

fn appended_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "index", "contract", "seq"],
        "properties": {"id": {"$ref": "#/components/schemas/Hex32"}, "index": u64_schema(), "contract": {"$ref": "#/components/schemas/ContractId"}, "seq": u64_schema()}
    })
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details with extension members",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "format": "uri", "description": "https://outcome-ledger.dev/problems/<code>"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": problem_types().into_iter().map(|(code, _)| code).collect::<Vec<_>>()},
            "path": {"type": "string", "description": "JSON pointer into the envelope or payload"},
            "item": {"type": "integer", "description": "0-based position of the envelope in the request array"},
            "event": {"$ref": "#/components/schemas/Hex32"},
            "index": {"type": "integer", "description": "Log index of the stored event (duplicate)"},
            "head": {"type": "object", "required": ["next_seq", "last"], "properties": {"next_seq": u64_schema(), "last": {"oneOf": [{"$ref": "#/components/schemas/Hex32"}, {"type": "null"}]}}},
            "retry_after": {"type": "integer", "minimum": 1, "description": "Seconds until a rate limit or quota frees up (429)"}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_code_has_one_problem_type() {
        let types = problem_types();
        for code in ledger_core::RuleViolation::CODES {
            assert_eq!(types.iter().filter(|(c, _)| c == code).count(), 1, "{code}");
        }
        assert!(types.contains(&("revoked-key", 403)));
        assert!(types.contains(&("over-outcome-cap", 422)));
        assert!(types.contains(&("invalid-signature", 401)));
        assert!(types.contains(&("seq-conflict", 409)));
    }

    #[test]
    fn every_reference_resolves() {
        let limits = crate::testkit::config(std::path::Path::new("unused"), 1_000).limits();
        let doc = document(&limits);
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "unresolved {reference}");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
