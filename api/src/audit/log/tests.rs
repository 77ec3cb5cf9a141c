//! The appender against a cluster that can be switched off: group commit, awaited entries
//! fail, background ones wait (bounded) and are written once the cluster is back, with the
//! count of those lost.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::future::BoxFuture;
use serde_json::Value;

use super::*;

#[derive(Default)]
struct Switch {
    down: AtomicBool,
    proposals: AtomicUsize,
    written: Mutex<Vec<SealedAuditEntry>>,
}

impl Cluster for Switch {
    fn propose(&self, command: Command) -> BoxFuture<'static, Result<ApplyOutcome, ProposeError>> {
        self.proposals.fetch_add(1, Ordering::SeqCst);
        let result = match (self.down.load(Ordering::SeqCst), command) {
            (true, _) => Err(ProposeError::Unavailable("no leader".into())),
            (false, Command::AppendAudit { entries }) => {
                let mut written = self.written.lock().unwrap();
                let seqs = (0..entries.len())
                    .map(|i| Some((written.len() + i) as u64))
                    .collect();
                written.extend(entries);
                Ok(ApplyOutcome::Audited { seqs })
            }
            (false, other) => panic!("{other:?}"),
        };
        Box::pin(async move { result })
    }
    fn read_barrier(&self) -> BoxFuture<'static, Result<(), ProposeError>> {
        Box::pin(async { Ok(()) })
    }
    fn status(&self) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Ok(Value::Null) })
    }
    fn add_node(
        &self,
        _: u64,
        _: String,
        _: String,
    ) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Ok(Value::Null) })
    }
    fn remove_node(&self, _: u64) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Ok(Value::Null) })
    }
    fn ready(&self) -> BoxFuture<'static, bool> {
        Box::pin(async { true })
    }
}

fn entry(id: u128) -> SealedAuditEntry {
    SealedAuditEntry {
        log: 1,
        at: 0,
        id,
        value: vec![0; 100],
    }
}

fn log_over(cluster: &Arc<Switch>, capacity: usize) -> Arc<AuditLog> {
    AuditLog::with_capacity(cluster.clone(), capacity, |n| {
        Some(SealedAuditEntry {
            log: 0,
            at: 0,
            id: u128::MAX - u128::from(n),
            value: Vec::new(),
        })
    })
}

#[tokio::test]
async fn concurrent_appends_share_one_proposal() {
    let cluster = Arc::new(Switch::default());
    let log = log_over(&cluster, 10);
    let results = futures::future::join_all((0..50).map(|i| log.append(entry(i)))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(cluster.written.lock().unwrap().len(), 50);
    let proposals = cluster.proposals.load(Ordering::SeqCst);
    assert!(
        proposals <= 2,
        "{proposals} proposals for 50 concurrent appends"
    );
    // In order of arrival.
    let ids: Vec<u128> = cluster
        .written
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, (0..50).collect::<Vec<_>>());
}

#[tokio::test]
async fn while_the_cluster_is_down_searches_fail_and_requests_wait_bounded() {
    let cluster = Arc::new(Switch::default());
    cluster.down.store(true, Ordering::SeqCst);
    let log = log_over(&cluster, 3);
    let err = log.append(entry(1)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable);
    for i in 10..15 {
        let started = std::time::Instant::now();
        log.record(entry(i), format!("request {i}")).await;
        assert!(started.elapsed() <= RECORD_WAIT + Duration::from_millis(500));
    }
    // Three kept (the newest), two dropped and counted.
    assert_eq!(log.dropped(), 2);
    assert!(cluster.written.lock().unwrap().is_empty());
    cluster.down.store(false, Ordering::SeqCst);
    log.append(entry(99)).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let ids: Vec<u128> = cluster
            .written
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        if ids.len() >= 5 && log.dropped() == 0 {
            // The three kept, the search, then the record of the two lost.
            assert_eq!(ids, vec![12, 13, 14, 99, u128::MAX - 2], "{ids:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{ids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log.dropped(), 0);
}
