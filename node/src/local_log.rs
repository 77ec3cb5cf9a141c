//! The single-node command log: orders commands by a local counter and applies each with a
//! synchronous (fsync'd) write, so an acknowledged command survives a crash. The Raft issue
//! replaces this with openraft in front of the same `Engine::apply`.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use sightline_api::{ProposeError, Proposer};
use sightline_storage::{ApplyOutcome, Command, Engine, LogPosition};

/// Orders commands on one node.
pub struct LocalLog {
    engine: Arc<Engine>,
    node_id: u64,
    /// The last index handed out; the lock also serializes applies so indexes are applied
    /// in order.
    last_index: Arc<Mutex<u64>>,
}

impl LocalLog {
    /// Resumes after the engine's last applied index.
    pub fn new(engine: Arc<Engine>, node_id: u64) -> anyhow::Result<Self> {
        let last = engine.applied()?.map(|p| p.index).unwrap_or(0);
        Ok(LocalLog {
            engine,
            node_id,
            last_index: Arc::new(Mutex::new(last)),
        })
    }
}

impl Proposer for LocalLog {
    fn propose(&self, command: Command) -> BoxFuture<'static, Result<ApplyOutcome, ProposeError>> {
        let engine = self.engine.clone();
        let last_index = self.last_index.clone();
        let leader = self.node_id;
        async move {
            tokio::task::spawn_blocking(move || {
                let mut last = last_index.lock().map_err(|_| {
                    ProposeError::Unavailable("command log poisoned by an earlier panic".into())
                })?;
                let pos = LogPosition {
                    term: 1,
                    leader,
                    index: *last + 1,
                };
                let outcome = engine.apply(pos, &command)?;
                *last = pos.index;
                Ok(outcome)
            })
            .await
            .map_err(|e| ProposeError::Unavailable(format!("apply task failed: {e}")))?
        }
        .boxed()
    }

    fn read_barrier(&self) -> BoxFuture<'static, Result<(), ProposeError>> {
        // One node applies every command before acknowledging it: its state is current.
        futures::future::ready(Ok(())).boxed()
    }
}
