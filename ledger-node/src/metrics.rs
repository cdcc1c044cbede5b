//! Prometheus metrics of the node, served as text at `GET /metrics`.
//!
//! The append path records into a [`Metrics`] it shares with the HTTP layer; nothing here does
//! IO. Names follow the Prometheus conventions: `_total` for counters, base units (seconds) in
//! histogram names.

use std::fmt;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::service::Observer;

/// The label of a refusal: the stable `code()` of the rule or error that refused the event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    code: String,
}

/// The labels of an HTTP response: its method and status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    method: String,
    status: u16,
}

/// Commit latencies from 100 µs to about 6.5 s, doubling.
const COMMIT_SECONDS_BUCKETS: (f64, f64, u16) = (0.0001, 2.0, 17);
/// Commit group sizes from 1 to 4096 events, doubling.
const GROUP_EVENTS_BUCKETS: (f64, f64, u16) = (1.0, 2.0, 13);

/// Every metric of the node, with the registry that encodes them.
///
/// Cheap to share behind an `Arc`; every method takes `&self` and is lock-free except
/// [`Metrics::encode`] and the first use of a new label value.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    appends: Counter,
    refusals: Family<RefusalLabels, Counter>,
    commit_seconds: Histogram,
    commit_group_events: Histogram,
    log_size: Gauge<u64, AtomicU64>,
    responses: Family<ResponseLabels, Counter>,
    /// 1 while the writer takes appends, 0 once it stopped (`/healthz` fails then).
    writer_up: Gauge<u64, AtomicU64>,
}

impl Metrics {
    /// A fresh set of metrics, all zero.
    pub fn new() -> Self {
        let (start, factor, count) = COMMIT_SECONDS_BUCKETS;
        let commit_seconds = Histogram::new(exponential_buckets(start, factor, count));
        let (start, factor, count) = GROUP_EVENTS_BUCKETS;
        let commit_group_events = Histogram::new(exponential_buckets(start, factor, count));
        let mut metrics = Self {
            registry: Registry::with_prefix("ledger"),
            appends: Counter::default(),
            refusals: Family::default(),
            commit_seconds,
            commit_group_events,
            log_size: Gauge::default(),
            responses: Family::default(),
            writer_up: Gauge::default(),
        };
        metrics.writer_up.set(1);
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "appends",
            "Events accepted and durably committed",
            self.appends.clone(),
        );
        registry.register(
            "refusals",
            "Events refused, by the stable code of the rule or error",
            self.refusals.clone(),
        );
        registry.register(
            "commit_seconds",
            "Latency of one commit group: atomic write and flush to disk",
            self.commit_seconds.clone(),
        );
        registry.register(
            "commit_group_events",
            "Events written by one commit group",
            self.commit_group_events.clone(),
        );
        registry.register(
            "log_size",
            "Events in the log (the Merkle tree size)",
            self.log_size.clone(),
        );
        registry.register(
            "http_responses",
            "HTTP responses by method and status code",
            self.responses.clone(),
        );
        registry.register(
            "writer_up",
            "1 while the writer takes appends, 0 once it stopped (a store write failed): restart",
            self.writer_up.clone(),
        );
    }

    /// Counts `events` accepted events, after their commit is durable.
    pub fn record_appends(&self, events: u64) {
        self.appends.inc_by(events);
    }

    /// Counts one refused event under the stable `code` of the reason.
    pub fn record_refusal(&self, code: &str) {
        self.refusals
            .get_or_create(&RefusalLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// Records one commit group: how long its write and flush took and how many events it held.
    pub fn observe_commit(&self, elapsed: Duration, events: u64) {
        self.commit_seconds.observe(elapsed.as_secs_f64());
        // Precision loss above 2^53 events in one group cannot happen in practice.
        #[allow(clippy::cast_precision_loss)]
        self.commit_group_events.observe(events as f64);
    }

    /// Sets the log size (the Merkle tree size) after a commit or on open.
    pub fn set_log_size(&self, size: u64) {
        self.log_size.set(size);
    }

    /// Sets whether the writer takes appends.
    pub fn set_writer_up(&self, up: bool) {
        self.writer_up.set(u64::from(up));
    }

    /// Counts one HTTP response.
    pub fn record_response(&self, method: &str, status: u16) {
        self.responses
            .get_or_create(&ResponseLabels {
                method: method.to_owned(),
                status,
            })
            .inc();
    }

    /// The Prometheus text exposition (format 0.0.4 / OpenMetrics text) of every metric.
    ///
    /// # Errors
    /// Only if formatting into a `String` fails, which it does not in practice.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Observer for Metrics {
    fn appended(&self, count: u64) {
        self.record_appends(count);
    }

    fn refused(&self, code: &'static str) {
        self.record_refusal(code);
    }

    fn flushed(&self, events: usize, flush: Duration) {
        self.observe_commit(flush, u64::try_from(events).unwrap_or(u64::MAX));
    }

    fn log_size(&self, size: u64) {
        self.set_log_size(size);
    }

    fn writer_stopped(&self, _failure: &str) {
        self.set_writer_up(false);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_metric_with_its_recorded_value() {
        let metrics = Metrics::new();
        metrics.record_appends(3);
        metrics.record_refusal("over-outcome-cap");
        metrics.record_refusal("over-outcome-cap");
        metrics.observe_commit(Duration::from_millis(3), 3);
        metrics.set_log_size(42);
        metrics.record_response("POST", 201);
        let text = metrics.encode().unwrap_or_default();
        assert!(text.contains("ledger_appends_total 3\n"), "{text}");
        assert!(
            text.contains("ledger_refusals_total{code=\"over-outcome-cap\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("ledger_commit_seconds_count 1\n"), "{text}");
        assert!(
            text.contains("ledger_commit_group_events_sum 3.0\n"),
            "{text}"
        );
        assert!(text.contains("ledger_log_size 42\n"), "{text}");
        assert!(
            text.contains("ledger_http_responses_total{method=\"POST\",status=\"201\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("ledger_writer_up 1\n"), "{text}");
        metrics.writer_stopped("the store failed");
        let text = metrics.encode().unwrap_or_default();
        assert!(text.contains("ledger_writer_up 0\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
