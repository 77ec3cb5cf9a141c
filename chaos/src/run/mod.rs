//! `sightline-chaos run` (being built).
