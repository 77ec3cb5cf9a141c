//! `sightline-chaos` will own the multi-process cluster harness, fault injection (through
//! `POST /v1/admin/faults`), and the history checker that proves no acknowledged write is
//! lost. It drives real `sightline` processes and must not link their internals.
