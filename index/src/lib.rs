//! `sightline-index` owns the in-memory search structures that sit over applied data: the
//! OCR confusion classes (`ocr`), wildcard and fuzzy plate patterns (`pattern`), the
//! per-tenant plate dictionary that expands a pattern to concrete plates (`dictionary`), the
//! hotlist matcher that tells which exact and fuzzy hotlist entries a read hits (`hotlist`),
//! and the geometry of area search: shapes, their covering H3 cells and the exact
//! point-in-shape check (`area`).
//!
//! Everything here is plain data structures and arithmetic: no RocksDB, no keys, no HTTP,
//! no Raft. The storage engine feeds the dictionary from applied data and rebuilds it on
//! open; the query crate uses the area geometry.

pub mod area;
pub mod dictionary;
pub mod hotlist;
pub mod ocr;
pub mod pattern;
