//! The node's side of the API's [`Cluster`] seam, over a [`RaftNode`]: writes commit
//! wherever they arrive (forwarded to the leader over the Raft transport), reads take a
//! read barrier, and membership changes run on the leader (a follower relays them to the
//! leader's HTTP API).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use openraft::ServerState;
use serde_json::{json, Value};
use sightline_api::faults::OutgoingFaults;
use sightline_api::{Cluster, ProposeError};
use sightline_raft::error::ErrorClass;
use sightline_raft::faults::FaultRules;
use sightline_raft::{Error as RaftError, Node, RaftNode};
use sightline_storage::time::format_rfc3339_ms;
use sightline_storage::{ApplyOutcome, Command};

/// How long a write or a read barrier waits through elections before answering 503.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(10);
/// How long adding a node may take (it may need a whole snapshot).
pub const JOIN_DEADLINE: Duration = Duration::from_secs(600);

/// A [`Cluster`] backed by openraft.
pub struct RaftCluster {
    raft: Arc<RaftNode>,
}

impl RaftCluster {
    pub fn new(raft: Arc<RaftNode>) -> Self {
        RaftCluster { raft }
    }
}

/// Maps a replication error to the API's seam by its one classification
/// ([`RaftError::class`]): retryable → 503, outcome unknown → 504, refused → 4xx, internal →
/// 500 with the details only in the log (never a retryable 503 with file paths).
fn propose_error(e: RaftError) -> ProposeError {
    match e.class() {
        ErrorClass::Retryable => ProposeError::Unavailable(e.to_string()),
        ErrorClass::OutcomeUnknown => ProposeError::OutcomeUnknown(e.to_string()),
        ErrorClass::Refused => match e {
            RaftError::Membership(why)
            | RaftError::NotAClientCommand(why)
            | RaftError::Config(why) => ProposeError::Refused(why),
            e => ProposeError::TooLarge(e.to_string()),
        },
        ErrorClass::Internal => match e {
            RaftError::Storage(e) => ProposeError::Storage(e),
            e => ProposeError::Internal(e.to_string()),
        },
    }
}

fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

/// api.md's cluster status, from this node's view.
pub fn status_json(raft: &RaftNode) -> Value {
    let metrics = raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let last_index = metrics.last_log_index.unwrap_or(0);
    let members: Vec<Value> = membership
        .nodes()
        .map(|(id, node)| {
            let role = if Some(*id) == metrics.current_leader {
                "leader"
            } else if voters.contains(id) {
                "voter"
            } else {
                "learner"
            };
            let matched = metrics
                .replication
                .as_ref()
                .and_then(|r| r.get(id).cloned())
                .map(|m| m.map(|l| l.index).unwrap_or(0));
            let matched = if *id == metrics.id {
                Some(metrics.last_applied.map(|l| l.index).unwrap_or(0))
            } else {
                matched
            };
            json!({
                "id": id, "addr": node.raft_addr, "http_addr": node.http_addr, "role": role,
                "matched_index": matched,
                "lag": matched.map(|m| last_index.saturating_sub(m)),
            })
        })
        .collect();
    json!({
        "node_id": metrics.id,
        "state": role_name(metrics.state),
        "leader": metrics.current_leader,
        "term": metrics.current_term,
        "commit_index": metrics.last_applied.map(|l| l.index).unwrap_or(0),
        "last_log_index": last_index,
        // The replicated clock retention lives by (null until the leader's first tick).
        "cluster_time": raft.engine().load().cluster_clock().map(format_rfc3339_ms),
        "members": members,
    })
}

/// Relays an admin request to the leader's HTTP API, as this node: the caller was already
/// authorized here as a cluster admin, so the relay carries a one-minute cluster admin
/// token this node signs with the replicated key (subject `node-{id}-relay`).
async fn relay(
    raft: &RaftNode,
    method: &'static str,
    url: String,
    body: Option<Value>,
) -> Result<Value, ProposeError> {
    let key = raft
        .engine()
        .load()
        .signing_key()
        .ok_or_else(|| ProposeError::Unavailable("no signing key yet; retry".into()))?;
    let (token, _) = sightline_api::auth::issue(
        &key,
        &format!("node-{}-relay", raft.id()),
        "*",
        sightline_api::auth::Role::Admin,
        Some(60_000),
    );
    tokio::task::spawn_blocking(move || {
        let request = ureq::request(method, &url)
            .timeout(JOIN_DEADLINE)
            .set("Authorization", &format!("Bearer {token}"));
        let answer = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let response = match answer {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                return Err(ProposeError::Unavailable(format!(
                    "relaying to the leader: {e}"
                )))
            }
        };
        let status = response.status();
        let text = response
            .into_string()
            .map_err(|e| ProposeError::Unavailable(e.to_string()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| ProposeError::Unavailable(e.to_string()))?;
        if status >= 400 {
            let why = value["error"]["message"]
                .as_str()
                .unwrap_or("the leader refused")
                .to_string();
            return Err(if status < 500 {
                ProposeError::Refused(why)
            } else {
                ProposeError::Unavailable(why)
            });
        }
        Ok(value)
    })
    .await
    .map_err(|e| ProposeError::Unavailable(e.to_string()))?
}

impl Cluster for RaftCluster {
    fn outgoing_faults(&self) -> OutgoingFaults {
        let rules = self.raft.faults().rules();
        OutgoingFaults {
            drop_to: rules.drop_to.into_iter().collect(),
            delay_to: rules.delay_to.into_iter().collect(),
            delay_ms: rules.delay_ms,
            bytes_per_s: rules.bytes_per_sec,
        }
    }

    fn set_outgoing_faults(&self, faults: OutgoingFaults) -> Result<(), ProposeError> {
        self.raft.faults().set(FaultRules {
            drop_to: faults.drop_to.into_iter().collect(),
            delay_to: faults.delay_to.into_iter().collect(),
            delay_ms: faults.delay_ms,
            bytes_per_sec: faults.bytes_per_s,
        });
        Ok(())
    }

    fn propose(&self, command: Command) -> BoxFuture<'static, Result<ApplyOutcome, ProposeError>> {
        let raft = self.raft.clone();
        async move {
            raft.propose_anywhere(command, CLIENT_DEADLINE)
                .await
                .map_err(propose_error)
        }
        .boxed()
    }

    fn raft_figures(&self) -> Option<sightline_api::metrics::RaftFigures> {
        Some(crate::raft_metrics::figures(&self.raft))
    }

    fn read_barrier(&self) -> BoxFuture<'static, Result<(), ProposeError>> {
        let raft = self.raft.clone();
        async move {
            raft.read_barrier(CLIENT_DEADLINE)
                .await
                .map_err(propose_error)
        }
        .boxed()
    }

    fn status(&self) -> BoxFuture<'static, Result<Value, ProposeError>> {
        let raft = self.raft.clone();
        async move { Ok(status_json(&raft)) }.boxed()
    }

    fn add_node(
        &self,
        id: u64,
        raft_addr: String,
        http_addr: String,
    ) -> BoxFuture<'static, Result<Value, ProposeError>> {
        let raft = self.raft.clone();
        async move {
            match raft.leader() {
                Some((leader, node)) if leader != raft.id() => {
                    let body = json!({"id": id, "addr": raft_addr, "http_addr": http_addr});
                    return relay(
                        &raft,
                        "POST",
                        format!("http://{}/v1/admin/cluster/nodes", node.http_addr),
                        Some(body),
                    )
                    .await;
                }
                None => return Err(ProposeError::Unavailable("no leader; retry".into())),
                _ => {}
            }
            let members: BTreeSet<u64> = raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .voter_ids()
                .collect();
            if members.contains(&id) {
                return Err(ProposeError::Refused(format!(
                    "node {id} is already a voter"
                )));
            }
            let node = Node::new(raft_addr, http_addr);
            tokio::time::timeout(JOIN_DEADLINE, raft.add_learner(id, node, true))
                .await
                .map_err(|_| {
                    ProposeError::Unavailable(format!("node {id} did not catch up in time"))
                })?
                .map_err(propose_error)?;
            let mut voters = members;
            voters.insert(id);
            raft.change_membership(voters, false)
                .await
                .map_err(propose_error)?;
            Ok(status_json(&raft))
        }
        .boxed()
    }

    fn remove_node(&self, id: u64) -> BoxFuture<'static, Result<Value, ProposeError>> {
        let raft = self.raft.clone();
        async move {
            match raft.leader() {
                Some((leader, node)) if leader != raft.id() => {
                    return relay(
                        &raft,
                        "DELETE",
                        format!("http://{}/v1/admin/cluster/nodes/{id}", node.http_addr),
                        None,
                    )
                    .await;
                }
                None => return Err(ProposeError::Unavailable("no leader; retry".into())),
                _ => {}
            }
            let metrics = raft.metrics().borrow().clone();
            let membership = metrics.membership_config.membership();
            if membership.get_node(&id).is_none() {
                return Err(ProposeError::Refused(format!("node {id} is not a member")));
            }
            let mut voters: BTreeSet<u64> = membership.voter_ids().collect();
            if voters.remove(&id) {
                if voters.is_empty() {
                    return Err(ProposeError::Refused("cannot remove the last voter".into()));
                }
                raft.change_membership(voters, false)
                    .await
                    .map_err(propose_error)?;
            } else {
                raft.raft()
                    .change_membership(openraft::ChangeMembers::RemoveNodes([id].into()), false)
                    .await
                    .map_err(|e| ProposeError::Refused(e.to_string()))?;
            }
            Ok(status_json(&raft))
        }
        .boxed()
    }

    fn ready(&self) -> BoxFuture<'static, bool> {
        let raft = self.raft.clone();
        async move { raft.read_barrier(Duration::from_secs(1)).await.is_ok() }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use sightline_api::ApiError;

    fn answer(e: RaftError) -> (StatusCode, String) {
        let api = ApiError::from(propose_error(e));
        (api.code.status(), api.message)
    }

    #[test]
    fn each_class_of_replication_error_gets_its_own_answer() {
        let io = RaftError::Io {
            path: "/var/lib/sightline/secret/raft-log/000012.sst".into(),
            source: std::io::Error::other("disk on fire"),
        };
        let (status, message) = answer(io);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("/var/lib"), "{message}");
        let corrupt = RaftError::Corrupt {
            what: "log entry",
            reason: "bad checksum in /data/x".into(),
        };
        let (status, message) = answer(corrupt);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("/data"), "{message}");
        assert_eq!(
            answer(RaftError::NoQuorum("2 of 3 unreachable".into())).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            answer(RaftError::OutcomeUnknown("timeout".into())).0,
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            answer(RaftError::EntryTooLarge { size: 9, limit: 8 }).0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            answer(RaftError::Membership("a change is in progress".into())).0,
            StatusCode::BAD_REQUEST
        );
    }
}
