//! Per-token rate limits (api.md: `rate_limited`, 429 with `Retry-After`): ingest in records
//! per second, searches (record searches, series queries, read statistics) in requests per
//! second, each token (by its id) with its own budget, so one caller over its rate slows
//! nobody else, in this tenant or another. GCRA from the `governor` crate (a token bucket
//! without a refill timer: a limiter per token id, allowing a burst of two seconds' worth);
//! limits are per node, as in most gateways (a client spreading over three nodes gets up to
//! three times its rate). A batch larger than the burst can never pass and answers 413.
//!
//! Open alert streams (SSE) are capped per token ([`Limits::open_stream`]): each holds a
//! connection and a subscription for as long as the client keeps it, so one token cannot
//! hold a node's connections; past the cap the next subscription answers 429.
//!
//! Body size (413 `payload_too_large`, nothing written) is bounded by the router's body
//! limit ([`crate::MAX_BODY_BYTES`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};

/// Records per second a token may ingest unless configured (0: unlimited).
pub const DEFAULT_INGEST_RECORDS_PER_S: u32 = 200_000;
/// Searches per second a token may run unless configured (0: unlimited).
pub const DEFAULT_SEARCHES_PER_S: u32 = 1_000;
/// Alert streams a token may hold open at once on one node unless configured (0:
/// unlimited).
pub const DEFAULT_ALERT_STREAMS_PER_TOKEN: u32 = 8;

/// How many checks pass between sweeps of idle tokens' state.
const SWEEP_EVERY: u64 = 10_000;

/// The configured rates (config `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// Records per second per token on the ingest routes (0: unlimited).
    pub ingest_records_per_s: u32,
    /// Requests per second per token on the search routes (0: unlimited).
    pub searches_per_s: u32,
    /// Alert (SSE) streams a token may hold open at once (0: unlimited).
    pub alert_streams_per_token: u32,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            ingest_records_per_s: DEFAULT_INGEST_RECORDS_PER_S,
            searches_per_s: DEFAULT_SEARCHES_PER_S,
            alert_streams_per_token: DEFAULT_ALERT_STREAMS_PER_TOKEN,
        }
    }
}

struct Limiter {
    limiter: DefaultKeyedRateLimiter<[u8; 16]>,
    per_s: u32,
    burst: u32,
    what: &'static str,
    /// The `limit` label of its refusals in `/metrics`.
    kind: &'static str,
}

impl Limiter {
    /// `None` for an unlimited rate (0).
    fn new(per_s: u32, what: &'static str) -> Option<Limiter> {
        let rate = NonZeroU32::new(per_s)?;
        let burst = rate.saturating_mul(NonZeroU32::new(2)?);
        Some(Limiter {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            per_s,
            burst: burst.get(),
            what,
            kind: if what == "records" {
                "ingest"
            } else {
                "search"
            },
        })
    }

    fn check(&self, id: &[u8; 16], n: u32) -> Result<(), ApiError> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.limiter.check_key_n(id, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut error = ApiError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "this token is over its rate of {} {} a second; retry in {seconds} s",
                        self.per_s, self.what
                    ),
                );
                error.retry_after_s = Some(seconds.max(1));
                crate::metrics::METRICS
                    .rate_limited
                    .with_label_values(&[self.kind])
                    .inc();
                Err(error)
            }
            Err(_) => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "{n} {} is more than this token may send at once ({}); split the batch",
                    self.what, self.burst
                ),
            )),
        }
    }
}

/// The node's limiters.
pub struct Limits {
    ingest: Option<Limiter>,
    search: Option<Limiter>,
    checks: AtomicU64,
    streams: Arc<OpenStreams>,
}

/// The alert streams each token holds open.
struct OpenStreams {
    cap: u32,
    open: Mutex<HashMap<[u8; 16], u32>>,
}

/// One open alert stream, counted against its token until dropped (when the client goes).
pub struct StreamSlot {
    streams: Arc<OpenStreams>,
    id: [u8; 16],
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.streams.open.lock() {
            if let Some(n) = open.get_mut(&self.id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.id);
                }
            }
        }
    }
}

impl Limits {
    /// Limiters for `config`.
    pub fn new(config: LimitConfig) -> Limits {
        Limits {
            ingest: Limiter::new(config.ingest_records_per_s, "records"),
            search: Limiter::new(config.searches_per_s, "searches"),
            checks: AtomicU64::new(0),
            streams: Arc::new(OpenStreams {
                cap: config.alert_streams_per_token,
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for limiter in [&self.ingest, &self.search].into_iter().flatten() {
                limiter.limiter.retain_recent();
            }
        }
    }

    /// Admits `records` records from `caller`, or answers 429 (413 past the burst).
    pub fn ingest(&self, caller: &Principal, records: usize) -> Result<(), ApiError> {
        self.sweep();
        match &self.ingest {
            Some(limiter) => limiter.check(&caller.id, u32::try_from(records).unwrap_or(u32::MAX)),
            None => Ok(()),
        }
    }

    /// Admits one more open alert stream for `caller`, held until the slot is dropped, or
    /// answers 429 when the token already holds its cap.
    pub fn open_stream(&self, caller: &Principal) -> Result<StreamSlot, ApiError> {
        let mut open = self
            .streams
            .open
            .lock()
            .map_err(|_| ApiError::internal("the stream count lock is poisoned"))?;
        let n = open.entry(caller.id).or_insert(0);
        if self.streams.cap > 0 && *n >= self.streams.cap {
            crate::metrics::METRICS
                .rate_limited
                .with_label_values(&["alert_streams"])
                .inc();
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "this token holds {} open alert streams on this node, its most; close one first",
                    self.streams.cap
                ),
            );
            error.retry_after_s = Some(1);
            return Err(error);
        }
        *n += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            id: caller.id,
        })
    }

    /// Admits one search from `caller`, or answers 429.
    pub fn search(&self, caller: &Principal) -> Result<(), ApiError> {
        self.sweep();
        match &self.search {
            Some(limiter) => limiter.check(&caller.id, 1),
            None => Ok(()),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(LimitConfig::default())
    }
}
