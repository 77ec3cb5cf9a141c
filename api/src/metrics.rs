//! `GET /metrics`: the node's figures in the Prometheus text format, through the `prometheus`
//! crate (TiKV's: a registry, typed metric families and the text encoder; no hand-written
//! exposition).
//!
//! Two kinds of figures:
//!
//! - **events**, counted where they happen, in one process-wide [`METRICS`] (one node per
//!   process, as TiKV's metrics are process-wide): requests and their latency per route
//!   (the route's template, never its concrete path), ingested records and bytes, rate-limit
//!   refusals, SSE alert events sent, audit entries appended, Raft leader changes and
//!   snapshots;
//! - **state**, read when scraped: Raft term, indexes, leadership and each follower's lag
//!   ([`RaftFigures`], from the [`crate::Cluster`]), RocksDB's sizes, compactions and write
//!   stalls ([`sightline_storage::engine::RocksFigures`]).
//!
//! No label carries a tenant's data: not a plate, a token, a case number, nor a tenant name
//! (labels are the route template, method, status, record kind, limit kind and follower id).
//! The route is public like `/healthz`, because a scraper's long-lived credential would have
//! to outlive the longest token a cluster issues (docs/security.md says why this is safe).

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error::ApiError;
use crate::AppState;

/// Raft's state on this node, read when `/metrics` is scraped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftFigures {
    /// The current term.
    pub term: u64,
    /// Whether this node is the leader.
    pub is_leader: bool,
    /// The last index in this node's log.
    pub last_log_index: u64,
    /// The last index applied to this node's state machine.
    pub applied_index: u64,
    /// On the leader, the highest index a majority of voters holds; elsewhere the applied
    /// index (a follower learns the commit index only with the leader's next append).
    pub commit_index: u64,
    /// The index of this node's latest snapshot, if any.
    pub snapshot_index: Option<u64>,
    /// The index up to which this node's log was purged, if any.
    pub purged_index: Option<u64>,
    /// On the leader: (follower id, entries behind the leader's last log index).
    pub replication_lag: Vec<(u64, u64)>,
}

/// The process's metric families.
pub struct Metrics {
    registry: Registry,
    /// `sightline_http_request_duration_seconds{method, route, status}`.
    pub requests: HistogramVec,
    /// `sightline_ingest_records_total{kind}`: records acknowledged (reads, manifests,
    /// samples).
    pub ingest_records: IntCounterVec,
    /// `sightline_ingest_bytes_total{kind}`: request bytes of acknowledged ingest batches.
    pub ingest_bytes: IntCounterVec,
    /// `sightline_rate_limited_requests_total{limit}`: 429 answers (ingest, search).
    pub rate_limited: IntCounterVec,
    /// `sightline_alert_events_sent_total`: hotlist alert events written to SSE streams.
    pub alert_events: IntCounter,
    /// `sightline_audit_entries_appended_total`: audit entries this node committed.
    pub audit_appends: IntCounter,
    /// `sightline_raft_leader_changes_total`: times this node saw a new leader.
    pub leader_changes: IntCounter,
    /// `sightline_raft_snapshots_total`: snapshots this node built or installed.
    pub snapshots: IntCounter,
    raft: RaftGauges,
    engine: EngineGauges,
}

struct RaftGauges {
    term: IntGauge,
    is_leader: IntGauge,
    last_log_index: IntGauge,
    applied_index: IntGauge,
    commit_index: IntGauge,
    snapshot_index: IntGauge,
    purged_index: IntGauge,
    lag: IntGaugeVec,
}

struct EngineGauges {
    sst_bytes: IntGauge,
    live_data_bytes: IntGauge,
    memtable_bytes: IntGauge,
    pending_compaction_bytes: IntGauge,
    families_pending_compaction: IntGauge,
    running_compactions: IntGauge,
    running_flushes: IntGauge,
    write_stopped: IntGauge,
    delayed_write_rate: IntGauge,
}

/// Request latency buckets, seconds: 0.25 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

// Metric names and labels are constants of this file, so building and registering them
// cannot fail on anything a user or the network controls: an `expect` here is a programming
// error, caught by the unit test below.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric name is registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(
        registry,
        IntGauge::new(name, help).expect("a valid metric name"),
    )
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric name");
    register(registry, metric)
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    register(
        registry,
        IntCounter::new(name, help).expect("a valid metric name"),
    )
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "sightline_http_request_duration_seconds",
                "HTTP requests by route template, method and status, and how long they took",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("a valid metric name");
        let requests = register(&r, requests);
        let lag = IntGaugeVec::new(
            Opts::new(
                "sightline_raft_replication_lag_entries",
                "On the leader: entries each follower is behind the leader's last log index",
            ),
            &["follower"],
        )
        .expect("a valid metric name");
        let lag = register(&r, lag);
        Metrics {
            requests,
            ingest_records: counter_vec(
                &r,
                "sightline_ingest_records_total",
                "Records acknowledged by ingest, by kind (reads, manifests, samples)",
                &["kind"],
            ),
            ingest_bytes: counter_vec(
                &r,
                "sightline_ingest_bytes_total",
                "Request body bytes of acknowledged ingest batches, by kind",
                &["kind"],
            ),
            rate_limited: counter_vec(
                &r,
                "sightline_rate_limited_requests_total",
                "Requests refused with 429 by a per-token rate limit, by limit (ingest, search)",
                &["limit"],
            ),
            alert_events: counter(
                &r,
                "sightline_alert_events_sent_total",
                "Hotlist alert events written to SSE streams",
            ),
            audit_appends: counter(
                &r,
                "sightline_audit_entries_appended_total",
                "Audit entries this node committed through Raft",
            ),
            leader_changes: counter(
                &r,
                "sightline_raft_leader_changes_total",
                "Times this node saw the cluster's leader change (elections that produced one)",
            ),
            snapshots: counter(
                &r,
                "sightline_raft_snapshots_total",
                "Snapshots this node built or installed",
            ),
            raft: RaftGauges {
                term: gauge(&r, "sightline_raft_term", "The current Raft term"),
                is_leader: gauge(&r, "sightline_raft_is_leader", "1 on the leader, else 0"),
                last_log_index: gauge(
                    &r,
                    "sightline_raft_last_log_index",
                    "The last index in this node's Raft log",
                ),
                applied_index: gauge(
                    &r,
                    "sightline_raft_applied_index",
                    "The last Raft index applied to this node's state machine",
                ),
                commit_index: gauge(
                    &r,
                    "sightline_raft_commit_index",
                    "Leader: the highest index a majority holds; followers: the applied index",
                ),
                snapshot_index: gauge(
                    &r,
                    "sightline_raft_snapshot_index",
                    "The index of this node's latest snapshot (0: none)",
                ),
                purged_index: gauge(
                    &r,
                    "sightline_raft_purged_index",
                    "The index up to which this node's Raft log is purged (0: none)",
                ),
                lag,
            },
            engine: EngineGauges {
                sst_bytes: gauge(
                    &r,
                    "sightline_engine_sst_bytes",
                    "Bytes of the storage engine's SST files",
                ),
                live_data_bytes: gauge(
                    &r,
                    "sightline_engine_live_data_bytes",
                    "Estimated bytes of live data in the storage engine",
                ),
                memtable_bytes: gauge(
                    &r,
                    "sightline_engine_memtable_bytes",
                    "Bytes in the storage engine's memtables",
                ),
                pending_compaction_bytes: gauge(
                    &r,
                    "sightline_engine_pending_compaction_bytes",
                    "Estimated bytes compaction still has to rewrite",
                ),
                families_pending_compaction: gauge(
                    &r,
                    "sightline_engine_column_families_pending_compaction",
                    "Column families that need a compaction",
                ),
                running_compactions: gauge(
                    &r,
                    "sightline_engine_running_compactions",
                    "Compactions running now",
                ),
                running_flushes: gauge(
                    &r,
                    "sightline_engine_running_flushes",
                    "Memtable flushes running now",
                ),
                write_stopped: gauge(
                    &r,
                    "sightline_engine_write_stopped",
                    "1 while the storage engine stops writes (a write stall), else 0",
                ),
                delayed_write_rate: gauge(
                    &r,
                    "sightline_engine_delayed_write_rate_bytes_per_second",
                    "The rate writes are slowed to (0: not slowed)",
                ),
            },
            registry: r,
        }
    }

    /// Sets the state gauges from `raft` (none on a node without Raft) and `engine`.
    fn observe(&self, raft: Option<RaftFigures>, engine: &sightline_storage::Engine) {
        let as_gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if let Some(raft) = raft {
            let g = &self.raft;
            g.term.set(as_gauge(raft.term));
            g.is_leader.set(i64::from(raft.is_leader));
            g.last_log_index.set(as_gauge(raft.last_log_index));
            g.applied_index.set(as_gauge(raft.applied_index));
            g.commit_index.set(as_gauge(raft.commit_index));
            g.snapshot_index
                .set(as_gauge(raft.snapshot_index.unwrap_or(0)));
            g.purged_index.set(as_gauge(raft.purged_index.unwrap_or(0)));
            g.lag.reset();
            for (follower, lag) in raft.replication_lag {
                g.lag
                    .with_label_values(&[&follower.to_string()])
                    .set(as_gauge(lag));
            }
        }
        match engine.rocks_figures() {
            Ok(f) => {
                let g = &self.engine;
                g.sst_bytes.set(as_gauge(f.sst_bytes));
                g.live_data_bytes.set(as_gauge(f.live_data_bytes));
                g.memtable_bytes.set(as_gauge(f.memtable_bytes));
                g.pending_compaction_bytes
                    .set(as_gauge(f.pending_compaction_bytes));
                g.families_pending_compaction
                    .set(as_gauge(f.families_pending_compaction));
                g.running_compactions.set(as_gauge(f.running_compactions));
                g.running_flushes.set(as_gauge(f.running_flushes));
                g.write_stopped.set(i64::from(f.write_stopped));
                g.delayed_write_rate.set(as_gauge(f.delayed_write_rate));
            }
            Err(e) => tracing::warn!(error = %e, "reading RocksDB's figures for /metrics"),
        }
    }

    /// The text exposition of every family.
    fn render(&self) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::with_capacity(16 << 10);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| ApiError::internal(format!("encoding metrics: {e}")))?;
        Ok(out)
    }
}

/// `GET /metrics`.
pub async fn get_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let raft = state.cluster.raft_figures();
    let engine = state.engine();
    let body = tokio::task::spawn_blocking(move || {
        METRICS.observe(raft, &engine);
        METRICS.render()
    })
    .await
    .map_err(|e| ApiError::internal(format!("metrics task: {e}")))??;
    Ok((
        [(
            header::CONTENT_TYPE,
            TextEncoder::new().format_type().to_string(),
        )],
        body,
    )
        .into_response())
}

/// Times every routed request into [`Metrics::requests`], labelled by its route template
/// (a `route_layer`, so unknown paths, which have no template, are not counted).
pub async fn track(matched: MatchedPath, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    METRICS
        .requests
        .with_label_values(&[&method, matched.as_str(), response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_registers_and_renders() {
        let metrics = Metrics::new();
        metrics
            .ingest_records
            .with_label_values(&["reads"])
            .inc_by(3);
        metrics
            .requests
            .with_label_values(&["GET", "/healthz", "200"])
            .observe(0.001);
        let text = String::from_utf8(metrics.render().unwrap()).unwrap();
        assert!(
            text.contains("sightline_ingest_records_total{kind=\"reads\"} 3"),
            "{text}"
        );
        assert!(text.contains("sightline_raft_term 0"), "{text}");
        assert!(text.contains("sightline_engine_write_stopped 0"), "{text}");
        assert!(text.contains(
            "sightline_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.0025\"} 1"
        ));
        // Raft: 7 gauges and 2 counters (the lag vector has no follower yet); engine: 9.
        assert_eq!(text.matches("# TYPE sightline_raft_").count(), 9, "{text}");
        assert_eq!(
            text.matches("# TYPE sightline_engine_").count(),
            9,
            "{text}"
        );
    }
}
