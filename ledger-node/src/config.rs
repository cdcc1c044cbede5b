//! Node configuration: command-line flags, a TOML file (`--config`) and `LEDGER_*` environment
//! variables, resolved into one validated [`Config`].
//!
//! Precedence: a flag or its environment variable, then the TOML file, then the built-in
//! default. [`Settings`] is the raw, unvalidated input (one struct for both clap and TOML, so
//! the two can never name a setting differently); [`Config`] is what the node runs with and
//! has no `Default`: every value in it went through [`Config::resolve`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::replication::connect::{NatsAuth, NatsFiles};
use crate::replication::{LedgerName, ReplicationConfig, ReplicationConfigError};

/// Default data directory.
pub const DATA_DIR_DEFAULT: &str = "./ledger-data";
/// Default listen address.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:7878";

const CHECKPOINT_INTERVAL_MS_DEFAULT: u64 = 1_000;
const SNAPSHOT_INTERVAL_EVENTS_DEFAULT: u64 = 100_000;
const QUEUE_REQUESTS_MAX_DEFAULT: usize = 1_024;
const GROUP_EVENTS_MAX_DEFAULT: usize = 1_024;
const BODY_BYTES_MAX_DEFAULT: usize = 8 * 1024 * 1024;
const EVENTS_PER_REQUEST_MAX_DEFAULT: usize = 256;
const PAYLOAD_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
const PAGE_SIZE_DEFAULT_DEFAULT: usize = 100;
const PAGE_SIZE_MAX_DEFAULT: usize = 1_000;
const TRAIL_SCAN_EVENTS_MAX_DEFAULT: usize = 10_000;
/// Default bound on a shutdown, from the stop signal to the exit: 10 s.
const SHUTDOWN_TIMEOUT_MS_DEFAULT: u64 = 10_000;
const SIGNATURES_PER_REQUEST_MAX_DEFAULT: usize = 2_048;
const CLIENT_EVENTS_PER_PERIOD_DEFAULT: u32 = 10_000;
const KEY_EVENTS_PER_PERIOD_DEFAULT: u32 = 10_000;
const WRITE_PERIOD_MS_DEFAULT: u64 = 1_000;
const FAILED_VERIFICATIONS_MAX_DEFAULT: u32 = 64;
const KEY_FAILED_VERIFICATIONS_MAX_DEFAULT: u32 = 1_024;
const FAILED_VERIFICATIONS_PERIOD_MS_DEFAULT: u64 = 60_000;
const CONTRACT_BYTES_PER_PERIOD_DEFAULT: u64 = 256 * 1024 * 1024;
const CONTRACT_QUOTA_PERIOD_MS_DEFAULT: u64 = 3_600_000;
const PAGE_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
const BODY_READ_TIMEOUT_MS_DEFAULT: u64 = 30_000;
const IDLE_TIMEOUT_MS_DEFAULT: u64 = 60_000;
const CONNECTIONS_MAX_DEFAULT: usize = 512;
const BODIES_IN_FLIGHT_MAX_DEFAULT: usize = 16;
const HEADER_BYTES_MAX_DEFAULT: usize = 32 * 1024;
const HEADERS_MAX_DEFAULT: usize = 100;
/// The longest any HTTP timeout may be configured: one hour.
const TIMEOUT_MS_MAX: u64 = 3_600_000;
/// The largest request head a node may be configured to take (hyper's read buffer is sized
/// from it, see `http::serve`).
pub const HEADER_BYTES_MAX_MAX: usize = 1024 * 1024;
/// Default bound of the store's page cache: 64 MiB. With sled's own default (1 GiB) a node
/// of 10^6 events grew past 2 GiB of memory (BENCHMARKS.md, "Node at 10^6 events").
pub const CACHE_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;

/// Raw settings as given by flags, environment variables or the TOML file. Every field is
/// optional: an absent one falls back to the next source.
#[derive(Clone, Debug, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Data directory (sled store and node key).
    #[arg(long = "data", env = "LEDGER_DATA", value_name = "DIR")]
    #[serde(rename = "data")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "LEDGER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Origin line of the node's checkpoints [default: outcome-ledger/<first 8 hex of key id>].
    #[arg(long, env = "LEDGER_ORIGIN")]
    pub origin: Option<String>,
    /// Least time between two signed checkpoints, in milliseconds [default: 1000].
    #[arg(long, env = "LEDGER_CHECKPOINT_INTERVAL_MS", value_name = "MS")]
    pub checkpoint_interval_ms: Option<u64>,
    /// Least events between two stored snapshots of the projections; a restart after a crash
    /// replays at most about this many events [default: 100000].
    #[arg(long, env = "LEDGER_SNAPSHOT_INTERVAL_EVENTS", value_name = "N")]
    pub snapshot_interval_events: Option<u64>,
    /// Append requests that may wait for the writer before callers are held back [default: 1024].
    #[arg(long, env = "LEDGER_QUEUE_REQUESTS_MAX", value_name = "N")]
    pub queue_requests_max: Option<usize>,
    /// Most events in one commit group (one flush) [default: 1024].
    #[arg(long, env = "LEDGER_GROUP_EVENTS_MAX", value_name = "N")]
    pub group_events_max: Option<usize>,
    /// Largest HTTP request body, in bytes [default: 8388608].
    #[arg(long, env = "LEDGER_BODY_BYTES_MAX", value_name = "BYTES")]
    pub body_bytes_max: Option<usize>,
    /// Most events in one POST /v1/events [default: 256].
    #[arg(long, env = "LEDGER_EVENTS_PER_REQUEST_MAX", value_name = "N")]
    pub events_per_request_max: Option<usize>,
    /// Largest envelope, in bytes of its JSON [default: 1048576].
    #[arg(long, env = "LEDGER_PAYLOAD_BYTES_MAX", value_name = "BYTES")]
    pub payload_bytes_max: Option<usize>,
    /// Page size when a request names none [default: 100].
    #[arg(long, env = "LEDGER_PAGE_SIZE_DEFAULT", value_name = "N")]
    pub page_size_default: Option<usize>,
    /// Largest page a request may ask for [default: 1000].
    #[arg(long, env = "LEDGER_PAGE_SIZE_MAX", value_name = "N")]
    pub page_size_max: Option<usize>,
    /// Most log entries one trail page examines before it returns a cursor [default: 10000].
    #[arg(long, env = "LEDGER_TRAIL_SCAN_EVENTS_MAX", value_name = "N")]
    pub trail_scan_events_max: Option<usize>,
    /// Most bytes the store keeps in its page cache [default: 67108864].
    #[arg(long, env = "LEDGER_CACHE_BYTES_MAX", value_name = "BYTES")]
    pub cache_bytes_max: Option<u64>,
    /// Most signatures in one POST /v1/events, all envelopes together; a request over it is
    /// refused (413) before any is verified [default: 2048].
    #[arg(long, env = "LEDGER_SIGNATURES_PER_REQUEST_MAX", value_name = "N")]
    pub signatures_per_request_max: Option<usize>,
    /// Envelopes one client (peer IP address) may post per --write-period-ms, in bursts of
    /// as many; past it its requests answer 429 with Retry-After [default: 10000].
    #[arg(long, env = "LEDGER_CLIENT_EVENTS_PER_PERIOD", value_name = "N")]
    pub client_events_per_period: Option<u32>,
    /// Events one author key may have admitted per --write-period-ms; past it its envelopes
    /// answer 429 until its budget refills [default: 10000].
    #[arg(long, env = "LEDGER_KEY_EVENTS_PER_PERIOD", value_name = "N")]
    pub key_events_per_period: Option<u32>,
    /// The period of --client-events-per-period and --key-events-per-period, in milliseconds
    /// [default: 1000].
    #[arg(long, env = "LEDGER_WRITE_PERIOD_MS", value_name = "MS")]
    pub write_period_ms: Option<u64>,
    /// Envelopes with a wrong signature one client may send per
    /// --failed-verifications-period-ms; past it the client gets 429 for one period
    /// [default: 64].
    #[arg(long, env = "LEDGER_FAILED_VERIFICATIONS_MAX", value_name = "N")]
    pub failed_verifications_max: Option<u32>,
    /// Envelopes with a wrong signature naming one author key (from any client) per
    /// --failed-verifications-period-ms; past it that key's envelopes get 429 for one period.
    /// Higher than the client's: anyone can name a key they do not hold [default: 1024].
    #[arg(long, env = "LEDGER_KEY_FAILED_VERIFICATIONS_MAX", value_name = "N")]
    pub key_failed_verifications_max: Option<u32>,
    /// The period of --failed-verifications-max, in milliseconds [default: 60000].
    #[arg(long, env = "LEDGER_FAILED_VERIFICATIONS_PERIOD_MS", value_name = "MS")]
    pub failed_verifications_period_ms: Option<u64>,
    /// Envelope bytes one contract may add per --contract-quota-period-ms (refilled
    /// continuously); an append past it answers 429 [default: 268435456].
    #[arg(long, env = "LEDGER_CONTRACT_BYTES_PER_PERIOD", value_name = "BYTES")]
    pub contract_bytes_per_period: Option<u64>,
    /// The period of --contract-bytes-per-period, in milliseconds [default: 3600000].
    #[arg(long, env = "LEDGER_CONTRACT_QUOTA_PERIOD_MS", value_name = "MS")]
    pub contract_quota_period_ms: Option<u64>,
    /// NATS server URL(s), comma-separated, of a replicated ledger (with --ledger); without
    /// it the node is standalone.
    #[arg(long, env = "LEDGER_NATS", value_name = "URL")]
    pub nats: Option<String>,
    /// Name of the replicated ledger to join: its JetStream streams and subjects (with --nats).
    #[arg(long, env = "LEDGER_NAME", value_name = "NAME")]
    pub ledger: Option<String>,
    /// Replicas of the ledger's streams if this node creates them: 1 on one server, 3 on a
    /// cluster [default: 1].
    #[arg(long, env = "LEDGER_STREAM_REPLICAS", value_name = "N")]
    pub stream_replicas: Option<usize>,
    /// How long an append waits for this node to apply its event from the stream before it
    /// answers 503 (a retry is safe), in milliseconds (with --nats) [default: 10000].
    #[arg(long, env = "LEDGER_APPLY_WAIT_MS", value_name = "MS")]
    pub apply_wait_ms: Option<u64>,
    /// Sign under --origin although the data directory records another origin (DATA/origin).
    /// The log is then renamed: checkpoints already given out keep the old origin, new ones
    /// carry the new one, and auditors must be given the new verifier key (`ledger audit`
    /// with the old key reports the new checkpoints as unverifiable).
    #[arg(long, env = "LEDGER_FORCE_ORIGIN")]
    #[serde(default)]
    pub force_origin: bool,
    /// A replicated node whose store lost events (shorter than the checkpoint it signed,
    /// DATA/signed-head) re-applies the stream instead of refusing to start; it signs nothing
    /// at or below the signed size until its store holds the signed tree again, and stops if
    /// the stream's tree differs from it (with --nats).
    #[arg(long, env = "LEDGER_RESYNC_FROM_STREAM")]
    #[serde(default)]
    pub resync_from_stream: bool,
    /// Longest a shutdown may take, from the stop signal to the exit, in milliseconds: past it
    /// (a store that cannot flush, a request that does not end) the node logs an error and
    /// exits with status 1 without closing the store, which the next start checks
    /// [default: 10000].
    #[arg(long, env = "LEDGER_SHUTDOWN_TIMEOUT_MS", value_name = "MS")]
    pub shutdown_timeout_ms: Option<u64>,
    /// NATS credentials file (a user JWT and its NKey seed) to connect with (with --nats).
    #[arg(long, env = "LEDGER_NATS_CREDS", value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// File holding the NKey user seed to connect with (with --nats); never logged.
    #[arg(long, env = "LEDGER_NATS_NKEY", value_name = "FILE")]
    pub nats_nkey: Option<PathBuf>,
    /// CA certificates (PEM) the NATS server's certificate must chain to; implies TLS.
    #[arg(long, env = "LEDGER_NATS_TLS_CA", value_name = "FILE")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for NATS servers that verify clients (with --nats-tls-key).
    #[arg(long, env = "LEDGER_NATS_TLS_CERT", value_name = "FILE")]
    pub nats_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --nats-tls-cert.
    #[arg(long, env = "LEDGER_NATS_TLS_KEY", value_name = "FILE")]
    pub nats_tls_key: Option<PathBuf>,
    /// Refuse a NATS connection without TLS [default: false; true with any --nats-tls-* file].
    #[arg(
        long,
        env = "LEDGER_NATS_TLS_REQUIRED",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub nats_tls_required: Option<bool>,
    /// Most bytes of events (their JSON) in one page of a list; a page holds at least one
    /// item, and stops before it would exceed this [default: 1048576].
    #[arg(long, env = "LEDGER_PAGE_BYTES_MAX", value_name = "BYTES")]
    pub page_bytes_max: Option<usize>,
    /// Time a client has to send a whole request head (request line and headers) once it has
    /// sent its first byte, in milliseconds [default: 10000].
    #[arg(long, env = "LEDGER_HEADER_READ_TIMEOUT_MS", value_name = "MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Time a client has to send a whole request body, in milliseconds; a 408 problem after
    /// it [default: 30000].
    #[arg(long, env = "LEDGER_BODY_READ_TIMEOUT_MS", value_name = "MS")]
    pub body_read_timeout_ms: Option<u64>,
    /// A connection with no request in progress and no byte read or written for this long is
    /// closed, in milliseconds (also a response its client stopped reading) [default: 60000].
    #[arg(long, env = "LEDGER_IDLE_TIMEOUT_MS", value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Most open HTTP connections; further ones wait in the listen backlog until one closes
    /// [default: 512].
    #[arg(long, env = "LEDGER_CONNECTIONS_MAX", value_name = "N")]
    pub connections_max: Option<usize>,
    /// Most request bodies read or held at once; a write beyond it is refused at once with a
    /// 503 problem and Retry-After [default: 16].
    #[arg(long, env = "LEDGER_BODIES_IN_FLIGHT_MAX", value_name = "N")]
    pub bodies_in_flight_max: Option<usize>,
    /// Largest request head (request line and headers), in bytes; a 431 problem above it
    /// [default: 32768].
    #[arg(long, env = "LEDGER_HEADER_BYTES_MAX", value_name = "BYTES")]
    pub header_bytes_max: Option<usize>,
    /// Most header fields in one request; a 431 problem above it [default: 100].
    #[arg(long, env = "LEDGER_HEADERS_MAX", value_name = "N")]
    pub headers_max: Option<usize>,
}

impl Settings {
    /// Reads settings from a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::File`] if the file cannot be read or is not valid TOML of these settings.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            detail: e.to_string(),
        })
    }

    /// These settings, with each absent one taken from `fallback`.
    pub fn or(self, fallback: Settings) -> Settings {
        Settings {
            data_dir: self.data_dir.or(fallback.data_dir),
            listen: self.listen.or(fallback.listen),
            origin: self.origin.or(fallback.origin),
            force_origin: self.force_origin || fallback.force_origin,
            resync_from_stream: self.resync_from_stream || fallback.resync_from_stream,
            checkpoint_interval_ms: self
                .checkpoint_interval_ms
                .or(fallback.checkpoint_interval_ms),
            snapshot_interval_events: self
                .snapshot_interval_events
                .or(fallback.snapshot_interval_events),
            queue_requests_max: self.queue_requests_max.or(fallback.queue_requests_max),
            group_events_max: self.group_events_max.or(fallback.group_events_max),
            body_bytes_max: self.body_bytes_max.or(fallback.body_bytes_max),
            events_per_request_max: self
                .events_per_request_max
                .or(fallback.events_per_request_max),
            payload_bytes_max: self.payload_bytes_max.or(fallback.payload_bytes_max),
            page_size_default: self.page_size_default.or(fallback.page_size_default),
            page_size_max: self.page_size_max.or(fallback.page_size_max),
            trail_scan_events_max: self
                .trail_scan_events_max
                .or(fallback.trail_scan_events_max),
            cache_bytes_max: self.cache_bytes_max.or(fallback.cache_bytes_max),
            signatures_per_request_max: self
                .signatures_per_request_max
                .or(fallback.signatures_per_request_max),
            client_events_per_period: self
                .client_events_per_period
                .or(fallback.client_events_per_period),
            key_events_per_period: self
                .key_events_per_period
                .or(fallback.key_events_per_period),
            write_period_ms: self.write_period_ms.or(fallback.write_period_ms),
            failed_verifications_max: self
                .failed_verifications_max
                .or(fallback.failed_verifications_max),
            key_failed_verifications_max: self
                .key_failed_verifications_max
                .or(fallback.key_failed_verifications_max),
            failed_verifications_period_ms: self
                .failed_verifications_period_ms
                .or(fallback.failed_verifications_period_ms),
            contract_bytes_per_period: self
                .contract_bytes_per_period
                .or(fallback.contract_bytes_per_period),
            contract_quota_period_ms: self
                .contract_quota_period_ms
                .or(fallback.contract_quota_period_ms),
            nats: self.nats.or(fallback.nats),
            ledger: self.ledger.or(fallback.ledger),
            stream_replicas: self.stream_replicas.or(fallback.stream_replicas),
            apply_wait_ms: self.apply_wait_ms.or(fallback.apply_wait_ms),
            shutdown_timeout_ms: self.shutdown_timeout_ms.or(fallback.shutdown_timeout_ms),
            nats_creds: self.nats_creds.or(fallback.nats_creds),
            nats_nkey: self.nats_nkey.or(fallback.nats_nkey),
            nats_tls_ca: self.nats_tls_ca.or(fallback.nats_tls_ca),
            nats_tls_cert: self.nats_tls_cert.or(fallback.nats_tls_cert),
            nats_tls_key: self.nats_tls_key.or(fallback.nats_tls_key),
            nats_tls_required: self.nats_tls_required.or(fallback.nats_tls_required),
            page_bytes_max: self.page_bytes_max.or(fallback.page_bytes_max),
            header_read_timeout_ms: self
                .header_read_timeout_ms
                .or(fallback.header_read_timeout_ms),
            body_read_timeout_ms: self.body_read_timeout_ms.or(fallback.body_read_timeout_ms),
            idle_timeout_ms: self.idle_timeout_ms.or(fallback.idle_timeout_ms),
            connections_max: self.connections_max.or(fallback.connections_max),
            bodies_in_flight_max: self.bodies_in_flight_max.or(fallback.bodies_in_flight_max),
            header_bytes_max: self.header_bytes_max.or(fallback.header_bytes_max),
            headers_max: self.headers_max.or(fallback.headers_max),
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read or parsed.
    #[error("config file {}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A setting out of its range.
    #[error("setting {name} = {value} is invalid: {rule}")]
    Invalid {
        /// The setting's name (as in the TOML file).
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        rule: &'static str,
    },
    /// The replication settings do not fit together.
    #[error(transparent)]
    Replication(#[from] ReplicationConfigError),
}

impl ConfigError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::File { .. } => "config-file",
            Self::Invalid { .. } => "config-invalid",
            Self::Replication(e) => e.code(),
        }
    }
}

/// Limits on requests, all enforced before any work is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    body_bytes_max: usize,
    events_per_request_max: usize,
    payload_bytes_max: usize,
    page_size_default: usize,
    page_size_max: usize,
    trail_scan_events_max: usize,
    signatures_per_request_max: usize,
    rates: Rates,
    http: HttpLimits,
}

/// Rate limits and quotas on writes, applied at the node that receives a request, before it
/// judges or publishes anything (`http/ratelimit.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    client_events_per_period: u32,
    key_events_per_period: u32,
    write_period_ms: u64,
    failed_verifications_max: u32,
    key_failed_verifications_max: u32,
    failed_verifications_period_ms: u64,
    contract_bytes_per_period: u32,
    contract_quota_period_ms: u64,
}

impl Rates {
    /// Envelopes one client (peer IP) may post per write period (and in one burst).
    pub fn client_events_per_period(&self) -> u32 {
        self.client_events_per_period
    }
    /// Events of one author key admitted per write period.
    pub fn key_events_per_period(&self) -> u32 {
        self.key_events_per_period
    }
    /// The period of the two write rates.
    pub fn write_period_ms(&self) -> u64 {
        self.write_period_ms
    }
    /// Envelopes naming one author key refused for a wrong signature per period.
    pub fn key_failed_verifications_max(&self) -> u32 {
        self.key_failed_verifications_max
    }
    /// Envelopes with a wrong signature one client may send per period.
    pub fn failed_verifications_max(&self) -> u32 {
        self.failed_verifications_max
    }
    /// The period of [`Rates::failed_verifications_max`], and how long an offender waits.
    pub fn failed_verifications_period_ms(&self) -> u64 {
        self.failed_verifications_period_ms
    }
    /// Envelope bytes one contract may add per quota period.
    pub fn contract_bytes_per_period(&self) -> u32 {
        self.contract_bytes_per_period
    }
    /// The period of [`Rates::contract_bytes_per_period`].
    pub fn contract_quota_period_ms(&self) -> u64 {
        self.contract_quota_period_ms
    }
}

/// The HTTP layer's own bounds on a request (see [`Limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HttpLimits {
    page_bytes_max: usize,
    body_read_timeout_ms: u64,
    bodies_in_flight_max: usize,
    header_bytes_max: usize,
    headers_max: usize,
}

impl Limits {
    /// Largest HTTP request body, in bytes.
    pub fn body_bytes_max(&self) -> usize {
        self.body_bytes_max
    }
    /// Most events in one append request.
    pub fn events_per_request_max(&self) -> usize {
        self.events_per_request_max
    }
    /// Largest envelope, in bytes of its JSON.
    pub fn payload_bytes_max(&self) -> usize {
        self.payload_bytes_max
    }
    /// Page size when a request names none.
    pub fn page_size_default(&self) -> usize {
        self.page_size_default
    }
    /// Largest page a request may ask for.
    pub fn page_size_max(&self) -> usize {
        self.page_size_max
    }
    /// Most log entries one trail page examines.
    pub fn trail_scan_events_max(&self) -> usize {
        self.trail_scan_events_max
    }
    /// Most signatures in one append request, all envelopes together.
    pub fn signatures_per_request_max(&self) -> usize {
        self.signatures_per_request_max
    }
    /// Rate limits and quotas on writes.
    pub fn rates(&self) -> Rates {
        self.rates
    }
    /// Most bytes of items in one page of a list (a page holds at least one item).
    pub fn page_bytes_max(&self) -> usize {
        self.http.page_bytes_max
    }
    /// Time a client has to send a whole request body, in milliseconds.
    pub fn body_read_timeout_ms(&self) -> u64 {
        self.http.body_read_timeout_ms
    }
    /// Most request bodies read or held at once.
    pub fn bodies_in_flight_max(&self) -> usize {
        self.http.bodies_in_flight_max
    }
    /// Largest request head, in bytes.
    pub fn header_bytes_max(&self) -> usize {
        self.http.header_bytes_max
    }
    /// Most header fields in one request.
    pub fn headers_max(&self) -> usize {
        self.http.headers_max
    }
}

/// How the HTTP server treats connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Serving {
    header_read_timeout_ms: u64,
    idle_timeout_ms: u64,
    connections_max: usize,
    header_bytes_max: usize,
}

impl Serving {
    /// Time a client has to send a whole request head once it sent its first byte, in ms.
    pub fn header_read_timeout_ms(&self) -> u64 {
        self.header_read_timeout_ms
    }
    /// A connection with no request in progress and no traffic for this long is closed, in ms.
    pub fn idle_timeout_ms(&self) -> u64 {
        self.idle_timeout_ms
    }
    /// Most open connections.
    pub fn connections_max(&self) -> usize {
        self.connections_max
    }
    /// Largest request head the node answers itself (with a 431 problem above it), in bytes.
    pub fn header_bytes_max(&self) -> usize {
        self.header_bytes_max
    }
}

/// Group-commit settings of the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupCommit {
    queue_requests_max: usize,
    group_events_max: usize,
}

impl GroupCommit {
    /// Bound of the writer's request queue.
    pub fn queue_requests_max(&self) -> usize {
        self.queue_requests_max
    }
    /// Most events one commit group takes (a single request larger than this is one group).
    pub fn group_events_max(&self) -> usize {
        self.group_events_max
    }
}

/// The validated configuration of a node.
#[derive(Clone, Debug)]
pub struct Config {
    data_dir: PathBuf,
    listen: SocketAddr,
    origin: Option<String>,
    checkpoint_interval_ms: u64,
    snapshot_interval_events: u64,
    group_commit: GroupCommit,
    limits: Limits,
    serving: Serving,
    cache_bytes_max: u64,
    replication: Option<ReplicationConfig>,
    force_origin: bool,
    resync_from_stream: bool,
    shutdown_timeout_ms: u64,
}

impl Config {
    /// Resolves settings (already merged from their sources, see [`Settings::or`]) against the
    /// defaults and validates them.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad setting.
    pub fn resolve(settings: Settings) -> Result<Self, ConfigError> {
        let listen = match settings.listen {
            Some(addr) => addr,
            None => LISTEN_DEFAULT
                .parse()
                .map_err(|_| invalid("listen", LISTEN_DEFAULT, "an address"))?,
        };
        let limits = Limits {
            body_bytes_max: positive(
                "body_bytes_max",
                settings.body_bytes_max,
                BODY_BYTES_MAX_DEFAULT,
            )?,
            events_per_request_max: positive(
                "events_per_request_max",
                settings.events_per_request_max,
                EVENTS_PER_REQUEST_MAX_DEFAULT,
            )?,
            payload_bytes_max: positive(
                "payload_bytes_max",
                settings.payload_bytes_max,
                PAYLOAD_BYTES_MAX_DEFAULT,
            )?,
            // The default page is never larger than a configured maximum page.
            page_size_default: positive(
                "page_size_default",
                settings.page_size_default,
                PAGE_SIZE_DEFAULT_DEFAULT.min(
                    settings
                        .page_size_max
                        .unwrap_or(PAGE_SIZE_MAX_DEFAULT)
                        .max(1),
                ),
            )?,
            page_size_max: positive(
                "page_size_max",
                settings.page_size_max,
                PAGE_SIZE_MAX_DEFAULT,
            )?,
            trail_scan_events_max: positive(
                "trail_scan_events_max",
                settings.trail_scan_events_max,
                TRAIL_SCAN_EVENTS_MAX_DEFAULT,
            )?,
            signatures_per_request_max: positive(
                "signatures_per_request_max",
                settings.signatures_per_request_max,
                SIGNATURES_PER_REQUEST_MAX_DEFAULT,
            )?,
            rates: rates(&settings)?,
            http: http_limits(&settings)?,
        };
        if limits.page_size_default > limits.page_size_max {
            return Err(invalid(
                "page_size_default",
                limits.page_size_default,
                "at most page_size_max",
            ));
        }
        let group_commit = GroupCommit {
            queue_requests_max: positive(
                "queue_requests_max",
                settings.queue_requests_max,
                QUEUE_REQUESTS_MAX_DEFAULT,
            )?,
            group_events_max: positive(
                "group_events_max",
                settings.group_events_max,
                GROUP_EVENTS_MAX_DEFAULT,
            )?,
        };
        let checkpoint_interval_ms = settings
            .checkpoint_interval_ms
            .unwrap_or(CHECKPOINT_INTERVAL_MS_DEFAULT);
        let replication = replication(&settings)?;
        let serving = serving(&settings, limits)?;
        // The nodes of a ledger cosign one checkpoint body, so they share its origin.
        let origin = settings
            .origin
            .or_else(|| replication.as_ref().map(ReplicationConfig::default_origin));
        if let Some(origin) = &origin {
            check_origin(origin)?;
        }
        if settings.resync_from_stream && replication.is_none() {
            return Err(invalid(
                "resync_from_stream",
                true,
                "given only with --nats and --ledger (a standalone node has no stream)",
            ));
        }
        Ok(Self {
            data_dir: settings
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT)),
            listen,
            origin,
            checkpoint_interval_ms,
            snapshot_interval_events: settings
                .snapshot_interval_events
                .unwrap_or(SNAPSHOT_INTERVAL_EVENTS_DEFAULT),
            group_commit,
            limits,
            serving,
            cache_bytes_max: cache_bytes_max(settings.cache_bytes_max)?,
            replication,
            force_origin: settings.force_origin,
            resync_from_stream: settings.resync_from_stream,
            shutdown_timeout_ms: shutdown_timeout_ms(settings.shutdown_timeout_ms)?,
        })
    }

    /// Whether `--force-origin` was given: sign under the configured origin even if the data
    /// directory records another.
    pub fn force_origin(&self) -> bool {
        self.force_origin
    }

    /// Whether `--resync-from-stream` was given (it is refused without `--nats`).
    pub fn resync_from_stream(&self) -> bool {
        self.resync_from_stream
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    /// The listen address.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }
    /// The configured checkpoint origin, if one was given (else the node derives it from its key).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }
    /// Least time between two signed checkpoints, in milliseconds.
    pub fn checkpoint_interval_ms(&self) -> u64 {
        self.checkpoint_interval_ms
    }
    /// Least events between two stored snapshots of the projections (0: with every
    /// checkpoint).
    pub fn snapshot_interval_events(&self) -> u64 {
        self.snapshot_interval_events
    }
    /// Group-commit settings.
    pub fn group_commit(&self) -> GroupCommit {
        self.group_commit
    }
    /// Request limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }
    /// How the HTTP server treats connections.
    pub fn serving(&self) -> Serving {
        self.serving
    }
    /// Most bytes the store keeps in its page cache.
    pub fn cache_bytes_max(&self) -> u64 {
        self.cache_bytes_max
    }
    /// The replicated ledger this node joins, if any (standalone otherwise).
    pub fn replication(&self) -> Option<&ReplicationConfig> {
        self.replication.as_ref()
    }
    /// Longest a shutdown may take, from the stop signal to the exit, in milliseconds.
    pub fn shutdown_timeout_ms(&self) -> u64 {
        self.shutdown_timeout_ms
    }
}

/// The shutdown bound: at least 1 ms.
fn shutdown_timeout_ms(value: Option<u64>) -> Result<u64, ConfigError> {
    match value {
        None => Ok(SHUTDOWN_TIMEOUT_MS_DEFAULT),
        Some(0) => Err(invalid("shutdown_timeout_ms", 0, "at least 1")),
        Some(ms) => Ok(ms),
    }
}

/// The HTTP layer's bounds on one request.
fn http_limits(settings: &Settings) -> Result<HttpLimits, ConfigError> {
    let page_bytes_max = positive(
        "page_bytes_max",
        settings.page_bytes_max,
        PAGE_BYTES_MAX_DEFAULT,
    )?;
    let header_bytes_max = positive(
        "header_bytes_max",
        settings.header_bytes_max,
        HEADER_BYTES_MAX_DEFAULT,
    )?;
    if !(1024..=HEADER_BYTES_MAX_MAX).contains(&header_bytes_max) {
        return Err(invalid(
            "header_bytes_max",
            header_bytes_max,
            "between 1024 and 1048576",
        ));
    }
    Ok(HttpLimits {
        page_bytes_max,
        body_read_timeout_ms: timeout_ms(
            "body_read_timeout_ms",
            settings.body_read_timeout_ms,
            BODY_READ_TIMEOUT_MS_DEFAULT,
        )?,
        bodies_in_flight_max: positive(
            "bodies_in_flight_max",
            settings.bodies_in_flight_max,
            BODIES_IN_FLIGHT_MAX_DEFAULT,
        )?,
        header_bytes_max,
        headers_max: positive("headers_max", settings.headers_max, HEADERS_MAX_DEFAULT)?,
    })
}

/// The connection settings of the HTTP server.
fn serving(settings: &Settings, limits: Limits) -> Result<Serving, ConfigError> {
    Ok(Serving {
        header_read_timeout_ms: timeout_ms(
            "header_read_timeout_ms",
            settings.header_read_timeout_ms,
            HEADER_READ_TIMEOUT_MS_DEFAULT,
        )?,
        idle_timeout_ms: timeout_ms(
            "idle_timeout_ms",
            settings.idle_timeout_ms,
            IDLE_TIMEOUT_MS_DEFAULT,
        )?,
        connections_max: positive(
            "connections_max",
            settings.connections_max,
            CONNECTIONS_MAX_DEFAULT,
        )?,
        header_bytes_max: limits.header_bytes_max(),
    })
}

/// A timeout between 1 ms and an hour.
fn timeout_ms(name: &'static str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(ms) if (1..=TIMEOUT_MS_MAX).contains(&ms) => Ok(ms),
        Some(ms) => Err(invalid(name, ms, "between 1 and 3600000 (one hour)")),
    }
}

/// The store's cache bound: at least 1 MiB (sled needs room for the pages it is writing).
fn cache_bytes_max(value: Option<u64>) -> Result<u64, ConfigError> {
    match value {
        None => Ok(CACHE_BYTES_MAX_DEFAULT),
        Some(bytes) if bytes < 1024 * 1024 => Err(invalid(
            "cache_bytes_max",
            bytes,
            "at least 1048576 (1 MiB)",
        )),
        Some(bytes) => Ok(bytes),
    }
}

/// The replication settings: `--nats` and `--ledger` together, or neither.
/// The rate limits and quotas: every count at least 1, every period at least 1 ms.
fn rates(settings: &Settings) -> Result<Rates, ConfigError> {
    let at_least_one = |name: &'static str, value: Option<u32>, default: u32| {
        let value = value.unwrap_or(default);
        if value == 0 {
            return Err(invalid(name, value, "at least 1"));
        }
        Ok(value)
    };
    let period = |name: &'static str, value: Option<u64>, default: u64| {
        let value = value.unwrap_or(default);
        if value == 0 {
            return Err(invalid(name, value, "at least 1 (milliseconds)"));
        }
        Ok(value)
    };
    let contract_bytes = settings
        .contract_bytes_per_period
        .unwrap_or(CONTRACT_BYTES_PER_PERIOD_DEFAULT);
    let contract_bytes_per_period = u32::try_from(contract_bytes)
        .ok()
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| {
            invalid(
                "contract_bytes_per_period",
                contract_bytes,
                "between 1 and 4294967295",
            )
        })?;
    Ok(Rates {
        client_events_per_period: at_least_one(
            "client_events_per_period",
            settings.client_events_per_period,
            CLIENT_EVENTS_PER_PERIOD_DEFAULT,
        )?,
        key_events_per_period: at_least_one(
            "key_events_per_period",
            settings.key_events_per_period,
            KEY_EVENTS_PER_PERIOD_DEFAULT,
        )?,
        write_period_ms: period(
            "write_period_ms",
            settings.write_period_ms,
            WRITE_PERIOD_MS_DEFAULT,
        )?,
        failed_verifications_max: at_least_one(
            "failed_verifications_max",
            settings.failed_verifications_max,
            FAILED_VERIFICATIONS_MAX_DEFAULT,
        )?,
        key_failed_verifications_max: at_least_one(
            "key_failed_verifications_max",
            settings.key_failed_verifications_max,
            KEY_FAILED_VERIFICATIONS_MAX_DEFAULT,
        )?,
        failed_verifications_period_ms: period(
            "failed_verifications_period_ms",
            settings.failed_verifications_period_ms,
            FAILED_VERIFICATIONS_PERIOD_MS_DEFAULT,
        )?,
        contract_bytes_per_period,
        contract_quota_period_ms: period(
            "contract_quota_period_ms",
            settings.contract_quota_period_ms,
            CONTRACT_QUOTA_PERIOD_MS_DEFAULT,
        )?,
    })
}

fn replication(settings: &Settings) -> Result<Option<ReplicationConfig>, ConfigError> {
    let (url, name) = match (&settings.nats, &settings.ledger) {
        (None, None) => return Ok(None),
        (Some(url), Some(name)) => (url, name),
        _ => return Err(ReplicationConfigError::Incomplete.into()),
    };
    let ledger: LedgerName = name.parse()?;
    let replicas = settings.stream_replicas.unwrap_or(1);
    let config = ReplicationConfig::new(url.clone(), ledger, replicas)?;
    let auth = NatsAuth::from_files(&nats_files(settings)).map_err(ReplicationConfigError::from)?;
    Ok(Some(
        config
            .with_apply_wait_ms(settings.apply_wait_ms)?
            .with_auth(auth),
    ))
}

/// The NATS credential and TLS files given.
fn nats_files(settings: &Settings) -> NatsFiles {
    NatsFiles {
        creds: settings.nats_creds.clone(),
        nkey: settings.nats_nkey.clone(),
        tls_ca: settings.nats_tls_ca.clone(),
        tls_cert: settings.nats_tls_cert.clone(),
        tls_key: settings.nats_tls_key.clone(),
        tls_required: settings.nats_tls_required.unwrap_or(false),
    }
}

/// A checkpoint origin is the first line of a note: non-empty printable text without
/// newlines or `+` (C2SP signed-note key names must not contain `+` or whitespace).
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let ok = !origin.is_empty()
        && origin.len() <= 200
        && origin.chars().all(|c| c.is_ascii_graphic() && c != '+');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "origin",
            origin,
            "printable ASCII without spaces or '+', at most 200 bytes",
        ))
    }
}

fn positive(
    name: &'static str,
    value: Option<usize>,
    default: usize,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(invalid(name, 0, "at least 1")),
        Some(v) => Ok(v),
    }
}

fn invalid(name: &'static str, value: impl ToString, rule: &'static str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let config = Config::resolve(Settings::default()).unwrap();
        assert_eq!(config.data_dir(), Path::new("./ledger-data"));
        assert_eq!(config.listen().to_string(), "127.0.0.1:7878");
        assert_eq!(config.checkpoint_interval_ms(), 1000);
        assert_eq!(config.origin(), None);
        assert_eq!(config.cache_bytes_max(), 64 * 1024 * 1024);
        assert_eq!(config.snapshot_interval_events(), 100_000);
        assert_eq!(config.shutdown_timeout_ms(), 10_000);
        let serving = config.serving();
        assert_eq!(
            (
                serving.header_read_timeout_ms(),
                serving.idle_timeout_ms(),
                serving.connections_max()
            ),
            (10_000, 60_000, 512)
        );
        let limits = config.limits();
        assert_eq!(
            (
                limits.page_bytes_max(),
                limits.body_read_timeout_ms(),
                limits.bodies_in_flight_max(),
                limits.header_bytes_max(),
                limits.headers_max()
            ),
            (1 << 20, 30_000, 16, 32 * 1024, 100)
        );
    }

    #[test]
    fn the_shutdown_bound_comes_from_toml_and_is_at_least_one_millisecond() {
        let file: Settings = toml::from_str("shutdown_timeout_ms = 2500").unwrap();
        assert_eq!(Config::resolve(file).unwrap().shutdown_timeout_ms(), 2500);
        let zero = Settings {
            shutdown_timeout_ms: Some(0),
            ..Settings::default()
        };
        let error = Config::resolve(zero).unwrap_err();
        assert_eq!(error.code(), "config-invalid");
        assert!(
            error
                .to_string()
                .starts_with("setting shutdown_timeout_ms = 0"),
            "{error}"
        );
    }

    #[test]
    fn http_bounds_come_from_toml_and_are_checked() {
        let file: Settings = toml::from_str(
            "idle_timeout_ms = 250\nconnections_max = 8\npage_bytes_max = 4096\n\
             bodies_in_flight_max = 2\nheader_read_timeout_ms = 300\nbody_read_timeout_ms = 400",
        )
        .unwrap();
        let config = Config::resolve(file).unwrap();
        assert_eq!(config.serving().idle_timeout_ms(), 250);
        assert_eq!(config.serving().header_read_timeout_ms(), 300);
        assert_eq!(config.serving().connections_max(), 8);
        assert_eq!(config.limits().page_bytes_max(), 4096);
        assert_eq!(config.limits().bodies_in_flight_max(), 2);
        assert_eq!(config.limits().body_read_timeout_ms(), 400);
        for bad in [
            "idle_timeout_ms = 0",
            "header_read_timeout_ms = 3600001",
            "connections_max = 0",
            "header_bytes_max = 100",
            "page_bytes_max = 0",
        ] {
            let settings: Settings = toml::from_str(bad).unwrap();
            let error = Config::resolve(settings).unwrap_err();
            assert_eq!(error.code(), "config-invalid", "{bad}");
        }
    }

    #[test]
    fn flags_win_over_the_file() {
        let flags = Settings {
            page_size_max: Some(50),
            ..Settings::default()
        };
        let file: Settings =
            toml::from_str("page_size_max = 70\npage_size_default = 20\ndata = \"/d\"").unwrap();
        let config = Config::resolve(flags.or(file)).unwrap();
        assert_eq!(config.limits().page_size_max(), 50);
        assert_eq!(config.limits().page_size_default(), 20);
        assert_eq!(config.data_dir(), Path::new("/d"));
    }

    #[test]
    fn a_small_page_size_max_lowers_the_default_page() {
        let small = Settings {
            page_size_max: Some(5),
            ..Settings::default()
        };
        let limits = Config::resolve(small).unwrap().limits();
        assert_eq!((limits.page_size_default(), limits.page_size_max()), (5, 5));
    }

    #[test]
    fn unknown_toml_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Settings>("page_size = 3").is_err());
        let zero = Settings {
            group_events_max: Some(0),
            ..Settings::default()
        };
        assert_eq!(Config::resolve(zero).unwrap_err().code(), "config-invalid");
        let pages = Settings {
            page_size_default: Some(10),
            page_size_max: Some(5),
            ..Settings::default()
        };
        assert!(Config::resolve(pages).is_err());
        let origin = Settings {
            origin: Some("has space".into()),
            ..Settings::default()
        };
        assert!(Config::resolve(origin).is_err());
    }

    #[test]
    fn the_cache_bound_comes_from_toml_and_is_at_least_one_mebibyte() {
        let file: Settings = toml::from_str("cache_bytes_max = 134217728").unwrap();
        assert_eq!(Config::resolve(file).unwrap().cache_bytes_max(), 128 << 20);
        let tiny = Settings {
            cache_bytes_max: Some(4096),
            ..Settings::default()
        };
        let error = Config::resolve(tiny).unwrap_err();
        assert_eq!(error.code(), "config-invalid");
        assert!(
            error
                .to_string()
                .starts_with("setting cache_bytes_max = 4096"),
            "{error}"
        );
    }

    #[test]
    fn replication_needs_a_url_and_a_ledger_and_shares_the_origin() {
        let standalone = Config::resolve(Settings::default()).unwrap();
        assert!(standalone.replication().is_none());
        let half = Settings {
            nats: Some("nats://127.0.0.1:4222".into()),
            ..Settings::default()
        };
        assert_eq!(
            Config::resolve(half).unwrap_err().code(),
            "replication-incomplete"
        );
        let joined = Settings {
            nats: Some("nats://127.0.0.1:4222".into()),
            ledger: Some("northtown".into()),
            stream_replicas: Some(3),
            ..Settings::default()
        };
        let config = Config::resolve(joined).unwrap();
        let replication = config.replication().unwrap();
        assert_eq!(
            (replication.ledger().as_str(), replication.stream_replicas()),
            ("northtown", 3)
        );
        assert_eq!(config.origin(), Some("outcome-ledger/northtown"));
        let bad = Settings {
            nats: Some("nats://127.0.0.1:4222".into()),
            ledger: Some("North.Town".into()),
            ..Settings::default()
        };
        assert_eq!(Config::resolve(bad).unwrap_err().code(), "ledger-name");
    }

    #[test]
    fn nats_files_come_from_toml_and_a_bad_one_is_named() {
        let file: Settings = toml::from_str(
            "nats = \"tls://127.0.0.1:4222\"\nledger = \"l\"\nnats_nkey = \"/nonexistent/seed\"",
        )
        .unwrap();
        let error = Config::resolve(file).unwrap_err();
        assert_eq!(error.code(), "nats-file");
        assert!(
            error
                .to_string()
                .starts_with("--nats-nkey /nonexistent/seed: cannot read it"),
            "{error}"
        );
        let file: Settings = toml::from_str(
            "nats = \"nats://127.0.0.1:4222\"\nledger = \"l\"\nnats_tls_required = true",
        )
        .unwrap();
        let config = Config::resolve(file).unwrap();
        let auth = config.replication().unwrap().auth();
        assert_eq!(auth.tls(), crate::replication::connect::Tls::Required);
    }
}
