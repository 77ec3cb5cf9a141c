//! The fault schedule of a chaos run: drawn from the seed before the run starts (so a seed
//! replays the same faults in the same order on the same targets), then inflicted one at a
//! time by the main thread, each held for a while, healed, and followed by a quiet gap.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;

use crate::cluster::Cluster;

/// The kinds of fault, each inflicted on a running 3+ node cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL one node, restart it after the hold.
    Kill,
    /// SIGKILL whichever node leads, restart it after the hold.
    KillLeader,
    /// SIGSTOP one node for longer than an election timeout, then SIGCONT.
    Pause,
    /// Cut one node off from every other, both ways.
    Partition,
    /// One node's messages to the others are dropped; theirs still reach it.
    OneWayDrop,
    /// One node's messages to the others wait 100–400 ms each.
    Delay,
    /// One node's wall clock runs an hour fast or slow.
    ClockSkew,
    /// Every node SIGKILLed at the same instant, then all restarted.
    PowerLoss,
    /// A follower removed from the voters, stopped, restarted and added back.
    Membership,
}

impl FaultKind {
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Kill,
        FaultKind::KillLeader,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::OneWayDrop,
        FaultKind::Delay,
        FaultKind::ClockSkew,
        FaultKind::PowerLoss,
        FaultKind::Membership,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::KillLeader => "kill-leader",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::OneWayDrop => "one-way-drop",
            FaultKind::Delay => "delay",
            FaultKind::ClockSkew => "clock-skew",
            FaultKind::PowerLoss => "power-loss",
            FaultKind::Membership => "membership",
        }
    }
}

/// One fault as the schedule drew it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub kind: FaultKind,
    /// The target node (a leader-targeted fault resolves its target when inflicted).
    pub target: u64,
    pub hold_ms: u64,
    pub gap_ms: u64,
    /// Delay per message, or clock skew (signed), where the kind has one.
    pub amount: i64,
}

/// One fault as it was inflicted.
#[derive(Debug, Clone, Serialize)]
pub struct Inflicted {
    pub kind: FaultKind,
    pub target: u64,
    pub at_ms: u64,
    pub hold_ms: u64,
    /// Whether the fault and its healing went as planned (a refused membership change,
    /// say, is not a violation, but the fault did not happen).
    pub ok: bool,
    pub note: String,
}

/// The seeded schedule: kinds in rounds, each round every kind once in shuffled order, so
/// any run of `ALL.len()` faults covers every kind.
pub struct Schedule {
    rng: StdRng,
    nodes: u64,
    round: Vec<FaultKind>,
}

impl Schedule {
    pub fn new(seed: u64, nodes: u64) -> Schedule {
        Schedule {
            rng: StdRng::seed_from_u64(seed),
            nodes,
            round: Vec::new(),
        }
    }
}

impl Iterator for Schedule {
    type Item = Planned;

    fn next(&mut self) -> Option<Planned> {
        if self.round.is_empty() {
            self.round = FaultKind::ALL.to_vec();
            self.round.shuffle(&mut self.rng);
        }
        let kind = self.round.pop()?;
        let target = self.rng.random_range(1..=self.nodes);
        let hold_ms = match kind {
            // Longer than the longest election timeout, so the others elect a new leader.
            FaultKind::Pause => self.rng.random_range(1_500..3_000),
            FaultKind::PowerLoss => self.rng.random_range(200..1_000),
            _ => self.rng.random_range(1_000..3_000),
        };
        let amount = match kind {
            FaultKind::Delay => self.rng.random_range(100..400),
            FaultKind::ClockSkew => match self.rng.random_bool(0.5) {
                true => 3_600_000,
                false => -3_600_000,
            },
            _ => 0,
        };
        Some(Planned {
            kind,
            target,
            hold_ms,
            gap_ms: self.rng.random_range(300..1_200),
            amount,
        })
    }
}

/// Inflicts `planned` on `cluster`, holds it, heals it. `Err` only for what the harness
/// itself cannot survive; a node that will not start again is a violation and comes back
/// as `Ok` with `ok: false` and the reason in `problems`.
pub fn inflict(
    cluster: &mut Cluster,
    planned: &Planned,
    started: Instant,
    problems: &mut Vec<String>,
) -> Result<Inflicted> {
    let at_ms = started.elapsed().as_millis() as u64;
    let hold = Duration::from_millis(planned.hold_ms);
    let ids: Vec<u64> = cluster.members.iter().map(|m| m.id).collect();
    let others = |id: u64| -> Vec<u64> { ids.iter().copied().filter(|i| *i != id).collect() };
    let mut target = planned.target;
    let mut note = String::new();
    let result: Result<()> = (|| match planned.kind {
        FaultKind::Kill | FaultKind::KillLeader => {
            if planned.kind == FaultKind::KillLeader {
                target = cluster.majority_leader(Duration::from_secs(10))?;
            }
            cluster.node_mut(target)?.kill();
            std::thread::sleep(hold);
            restart(cluster, target, problems)
        }
        FaultKind::Pause => {
            cluster.node_mut(target)?.pause()?;
            std::thread::sleep(hold);
            cluster.node_mut(target)?.resume()
        }
        FaultKind::Partition => {
            faults(cluster, target, json!({"drop_to": others(target)}))?;
            for other in others(target) {
                faults(cluster, other, json!({"drop_to": [target]}))?;
            }
            std::thread::sleep(hold);
            for id in &ids {
                faults(cluster, *id, json!({"clear": true}))?;
            }
            Ok(())
        }
        FaultKind::OneWayDrop => {
            faults(cluster, target, json!({"drop_to": others(target)}))?;
            std::thread::sleep(hold);
            faults(cluster, target, json!({"clear": true}))
        }
        FaultKind::Delay => {
            faults(
                cluster,
                target,
                json!({"delay_ms": planned.amount, "to": others(target)}),
            )?;
            std::thread::sleep(hold);
            faults(cluster, target, json!({"clear": true}))
        }
        FaultKind::ClockSkew => {
            faults(cluster, target, json!({"clock_skew_ms": planned.amount}))?;
            note = format!("{:+} ms", planned.amount);
            std::thread::sleep(hold);
            faults(cluster, target, json!({"clock_skew_ms": 0}))
        }
        FaultKind::PowerLoss => {
            for id in &ids {
                if let Ok(node) = cluster.node_mut(*id) {
                    node.kill();
                }
            }
            std::thread::sleep(hold);
            for id in &ids {
                restart(cluster, *id, problems)?;
            }
            Ok(())
        }
        FaultKind::Membership => {
            let leader = cluster.majority_leader(Duration::from_secs(10))?;
            if target == leader {
                target = others(leader)[0];
            }
            let (status, answer) = cluster.remove_node(leader, target)?;
            if status != 200 {
                bail!("removing node {target} answered {status}: {answer}");
            }
            cluster.node_mut(target)?.stop()?;
            std::thread::sleep(hold);
            restart(cluster, target, problems)?;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let via = cluster.majority_leader(Duration::from_secs(10))?;
                let (status, answer) = cluster.add_node(via, target)?;
                if status == 200 {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("adding node {target} back answered {status}: {answer}");
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Ok(())
        }
    })();
    let ok = match result {
        Ok(()) => true,
        Err(e) => {
            note = format!("{note} {e:#}").trim().to_string();
            false
        }
    };
    Ok(Inflicted {
        kind: planned.kind,
        target,
        at_ms,
        hold_ms: planned.hold_ms,
        ok,
        note,
    })
}

/// POSTs a fault rule to node `id`.
fn faults(cluster: &Cluster, id: u64, body: serde_json::Value) -> Result<()> {
    let (status, answer) = cluster
        .node(id)?
        .post_json("/v1/admin/faults", &body)
        .with_context(|| format!("fault rule for node {id}"))?;
    if status != 200 {
        bail!("node {id} refused fault rule {body}: {status} {answer}");
    }
    Ok(())
}

/// Restarts node `id` (if it is not running), recording a node that cannot start as a
/// problem: a crash must never leave a node that cannot come back.
pub fn restart(cluster: &mut Cluster, id: u64, problems: &mut Vec<String>) -> Result<()> {
    if cluster.node(id).is_ok() {
        return Ok(());
    }
    if let Err(e) = cluster.restart(id) {
        problems.push(format!("node {id} did not start again: {e:#}"));
        bail!("node {id} did not start again");
    }
    Ok(())
}

/// Undoes everything: resumes paused nodes, clears every rule and skew, restarts stopped
/// nodes, and adds back any member that is not a voter.
pub fn heal(cluster: &mut Cluster, problems: &mut Vec<String>) -> Result<()> {
    let ids: Vec<u64> = cluster.members.iter().map(|m| m.id).collect();
    for id in &ids {
        if let Ok(node) = cluster.node_mut(*id) {
            if node.is_paused() {
                node.resume()?;
            }
            if node.exited().is_some() {
                problems.push(format!("node {id} exited on its own"));
            }
        }
        let _ = restart(cluster, *id, problems);
    }
    for id in &ids {
        if let Ok(node) = cluster.node(*id) {
            let _ = node.post_json("/v1/admin/faults", &json!({"clear": true}));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let leader = cluster.majority_leader(Duration::from_secs(30))?;
        let voters = cluster.voters(leader)?;
        let missing: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|i| !voters.contains(i))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for id in missing {
            let _ = cluster.add_node(leader, id);
        }
        if Instant::now() > deadline {
            bail!("members did not all become voters again: {voters:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_schedule_and_every_round_covers_every_kind() {
        let a: Vec<_> = Schedule::new(7, 3)
            .take(27)
            .map(|p| (p.kind, p.target, p.hold_ms))
            .collect();
        let b: Vec<_> = Schedule::new(7, 3)
            .take(27)
            .map(|p| (p.kind, p.target, p.hold_ms))
            .collect();
        assert_eq!(a, b);
        let c: Vec<_> = Schedule::new(8, 3)
            .take(27)
            .map(|p| (p.kind, p.target, p.hold_ms))
            .collect();
        assert_ne!(a, c);
        for round in a.chunks(FaultKind::ALL.len()) {
            let mut kinds: Vec<_> = round.iter().map(|p| p.0).collect();
            kinds.sort();
            assert_eq!(kinds, FaultKind::ALL.to_vec());
        }
    }
}
