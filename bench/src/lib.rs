//! `sightline-bench` owns Sightline's benchmarks: the criterion micro-benchmarks under
//! `benches/` (sealing, key encoding and tokens, `Engine::apply` of a batch), the macro
//! benchmark `src/bin/macro/`, which starts a real `sightline serve` process, ingests and
//! searches over HTTP, checks every answer, and measures the plain single-threaded RocksDB
//! loop of the design notes on the same reads in the same run, `src/bin/replicated.rs`
//! (one node against a three-node cluster), `src/bin/sightline-bench.rs` (`compare`, against
//! PostgreSQL), `src/bin/series.rs` (the series query in
//! process over a day of 1-second samples) and `src/bin/alerts.rs` (hotlist alert delay
//! under ingest).
//!
//! It measures the other crates from the outside and must not be depended on by anything:
//! nothing in here is part of the product. `docs/benchmarks.md` records what it measured,
//! on which machine, and how to reproduce it.
//!
//! The shared pieces live here so the benchmarks and their tests agree on them:
//!
//! - [`synth`]: a deterministic synthetic camera fleet, plate pool and read stream (the
//!   JSON a camera sends, as in the end-to-end tests), with the exact number of reads of
//!   every plate so search answers can be checked;
//! - [`stats`]: latency percentiles;
//! - [`baseline`]: the plain loop (seal, three HMAC tokens, four column families,
//!   2,000-read `WriteBatch`es) Sightline is compared with;
//! - [`phases`]: Sightline's own write path timed phase by phase in-process, to explain
//!   where ingest time goes;
//! - [`search_mix`]: the macro benchmark's mix of investigator searches (exact, wildcard,
//!   fuzzy, area, co-location, convoy, frequency) over HTTP, each answer checked against
//!   the workload;
//! - [`server`]: a `sightline serve` child process that is always stopped;
//! - [`load`]: NDJSON ingest from several client threads, each batch once;
//! - [`sys`]: machine, load, per-process CPU and I/O, and on-disk sizes;
//! - [`compare`]: `sightline-bench compare`, Sightline against PostgreSQL + PostGIS +
//!   pg_trgm on the same reads and requests, every answer pair checked for agreement.

pub mod baseline;
pub mod compare;
pub mod load;
pub mod phases;
pub mod search_mix;
pub mod server;
pub mod stats;
pub mod synth;
pub mod sys;

pub use stats::{percentile, Summary};
pub use synth::{read_json, Workload, WorkloadParams};
