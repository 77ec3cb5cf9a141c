//! `sightline-index` will own the derived search indexes: the H3 cell index helpers, the
//! per-tenant plate dictionary with wildcard and OCR-aware fuzzy matching, roaring postings
//! for co-location and convoy analysis, and the Tantivy text index over an encrypting
//! `Directory`. Everything here is rebuilt from applied data in `sightline-storage`.
//!
//! It must not know about HTTP, Raft, or how records reach the engine. Empty until the
//! search milestone.
