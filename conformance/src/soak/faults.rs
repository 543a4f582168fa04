//! Carries out a run's fault schedule on the real servers, links and clients, and undoes what
//! must end (a paused server resumes, a crashed one restarts, a degraded link heals). Every
//! fault is recorded in the run's history by the part that carries it out.

use super::config::{FaultKind, PlannedFault, RunConfig, Target, Trigger, Workload};
use crate::client_thread::{PauseGate, PauseLength};
use crate::cluster::LockServers;
use crate::history::History;
use crate::proxy::{Direction, Flow};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use redlock_client::event::{Event, Fault};
use redlock_client::fault::FencedOp;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What must end, and when.
#[derive(Clone, Copy, Debug)]
enum Undo {
    ResumeServer(usize),
    Restart(usize),
    Heal { client: usize, node: usize },
}

/// Something the injector waits to do.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Fault(PlannedFault),
    Undo {
        at: Instant,
        undo: Undo,
    },
    /// The failover strikes once the run has seen this many grants.
    FailoverAfter {
        grants: usize,
    },
}

/// The schedule's executor for one run.
pub struct Injector<'a, S: LockServers> {
    pub cluster: &'a mut S,
    pub history: &'a History,
    pub gates: &'a [Arc<PauseGate>],
    pub config: &'a RunConfig,
}

/// How often the injector looks at the clock and the history.
const POLL: Duration = Duration::from_millis(2);

impl<S: LockServers> Injector<'_, S> {
    /// Runs the schedule until `until`, then undoes what is still in force. Returns the faults
    /// it carried out (client pauses and crashes are the clients' to take: see the history).
    pub async fn run(self, start: Instant, until: Instant) -> Result<Vec<FaultKind>, String> {
        let Injector { cluster, history, gates, config } = self;
        let mut pending: Vec<Pending> =
            config.faults.iter().filter(|f| !matches!(f.fault, FaultKind::ClientCrash { .. })).map(|&f| Pending::Fault(f)).collect();
        let mut state = State {
            cluster,
            history,
            gates,
            config,
            rng: StdRng::seed_from_u64(super::config::run_seed(config.seed, config.run).rotate_left(17)),
            paused: BTreeSet::new(),
            struck: Vec::new(),
            crashed: std::collections::BTreeMap::new(),
        };
        while Instant::now() < until {
            let now = Instant::now();
            let grants = history.grants();
            let (due, later): (Vec<Pending>, Vec<Pending>) = pending.into_iter().partition(|p| match *p {
                Pending::Fault(PlannedFault { trigger: Trigger::AtMs(ms), .. }) => now >= start + Duration::from_millis(ms),
                Pending::Fault(PlannedFault { trigger: Trigger::AfterGrant(n), .. }) => grants >= n,
                Pending::Undo { at, .. } => now >= at,
                Pending::FailoverAfter { grants: g } => grants >= g,
            });
            pending = later;
            for item in due {
                match item {
                    Pending::Fault(planned) => pending.extend(state.strike(planned.fault).await?),
                    Pending::Undo { undo, .. } => state.undo(undo).await?,
                    Pending::FailoverAfter { .. } => {
                        if state.cluster.is_up(0) {
                            state.redis()?.failover(0, 0).await?;
                            state.struck.push(FaultKind::Failover);
                        }
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
        // The run's end strikes nothing new, and heals nothing early: a fault ends when it was
        // planned to end, because the run is placed against the model by the faults as they
        // were carried out (a node restarted before its delay ran out would be a restart
        // without delay). The clients' grace period covers the longest fault.
        let mut undos: Vec<(Instant, Undo)> =
            pending.into_iter().filter_map(|p| if let Pending::Undo { at, undo } = p { Some((at, undo)) } else { None }).collect();
        undos.sort_by_key(|(at, _)| *at);
        for (at, undo) in undos {
            tokio::time::sleep_until(at.into()).await;
            state.undo(undo).await?;
        }
        Ok(state.struck)
    }
}

/// The injector at work: what it acts on and what it has done so far.
struct State<'a, S: LockServers> {
    cluster: &'a mut S,
    history: &'a History,
    gates: &'a [Arc<PauseGate>],
    config: &'a RunConfig,
    rng: StdRng,
    paused: BTreeSet<usize>,
    struck: Vec<FaultKind>,
    /// Crashed nodes: when, and which entry of `struck` their crash is.
    crashed: std::collections::BTreeMap<usize, (Instant, usize)>,
}

impl<S: LockServers> State<'_, S> {
    /// A node that is up and not paused.
    fn usable(&self, node: usize) -> bool {
        self.cluster.is_up(node) && !self.paused.contains(&node)
    }

    fn target(&mut self, target: Target) -> usize {
        if target == Target::Leader {
            let usable = |node| self.usable(node);
            return self.cluster.leader(&usable).unwrap_or(0);
        }
        resolve(target, self.history, self.config.servers, &mut self.rng)
    }

    /// The Redis nodes, for a fault only they take.
    fn redis(&mut self) -> Result<&mut crate::cluster::Cluster, String> {
        self.cluster.redis().ok_or_else(|| "this fault needs Redis lock servers".to_string())
    }

    /// Carries out one fault; returns what must follow it.
    async fn strike(&mut self, fault: FaultKind) -> Result<Vec<Pending>, String> {
        let now = Instant::now();
        let after = |ms: u64| now + Duration::from_millis(ms);
        let mut follow = Vec::new();
        match fault {
            FaultKind::ServerPause { node, ms } => {
                let node = self.target(node);
                if !self.usable(node) {
                    return Ok(follow);
                }
                self.cluster.pause_server(node).map_err(|e| e.to_string())?;
                self.paused.insert(node);
                follow.push(Pending::Undo { at: after(ms), undo: Undo::ResumeServer(node) });
            }
            FaultKind::Crash { node, restart_after_ms } => {
                let node = self.target(node);
                if !self.usable(node) {
                    return Ok(follow);
                }
                self.cluster.crash(node);
                self.crashed.insert(node, (now, self.struck.len()));
                follow.push(Pending::Undo { at: after(restart_after_ms.unwrap_or(0)), undo: Undo::Restart(node) });
            }
            FaultKind::ClockJump { node, by_ms } => {
                let node = self.target(node);
                if !self.usable(node) {
                    return Ok(follow);
                }
                self.redis()?.clock_jump(node, Duration::from_millis(by_ms)).await.map_err(|e| e.to_string())?;
            }
            FaultKind::ClientPause { client, ms } => {
                // Where the model pauses: after the read and the validity check, before the
                // write; a `with_lock` client as its work starts.
                let at = match self.config.workload {
                    Workload::Writes { .. } => Some(FencedOp::Write),
                    _ => None,
                };
                self.gates[client].arm(at, PauseLength::For(Duration::from_millis(ms)));
                // Struck when the client takes it: the history says so.
                return Ok(follow);
            }
            FaultKind::NetDelay { client, node, ms, for_ms } => {
                let link = self.cluster.link(client, node);
                link.set_flow(Direction::ToServer, Flow::Delay(Duration::from_millis(ms)));
                link.set_flow(Direction::ToClient, Flow::Delay(Duration::from_millis(ms)));
                self.history.record(Event::Fault { fault: Fault::Delay { ms } });
                follow.push(Pending::Undo { at: after(for_ms), undo: Undo::Heal { client, node } });
            }
            FaultKind::NetDrop { client, node } => {
                self.cluster.link(client, node).reset();
                self.history.record(Event::Fault { fault: Fault::MessageLost });
            }
            FaultKind::OneWayLoss { client, node, to_server, for_ms } => {
                let direction = if to_server { Direction::ToServer } else { Direction::ToClient };
                self.cluster.link(client, node).set_flow(direction, Flow::Blackhole);
                self.history.record(Event::Fault { fault: Fault::MessageLost });
                follow.push(Pending::Undo { at: after(for_ms), undo: Undo::Heal { client, node } });
            }
            FaultKind::Failover => {
                self.redis()?.stall_replication();
                // It strikes with the next grant, and counts then.
                follow.push(Pending::FailoverAfter { grants: self.history.grants() + 1 });
                return Ok(follow);
            }
            FaultKind::ClientCrash { .. } => return Ok(follow),
            FaultKind::Evict { node } => {
                let node = self.target(node);
                if !self.usable(node) {
                    return Ok(follow);
                }
                self.redis()?.evict(node).await?;
            }
        }
        self.struck.push(fault);
        Ok(follow)
    }

    async fn undo(&mut self, undo: Undo) -> Result<(), String> {
        match undo {
            Undo::ResumeServer(node) => {
                if self.paused.remove(&node) {
                    self.cluster.resume_server(node).map_err(|e| e.to_string())?;
                }
            }
            Undo::Restart(node) => {
                if !self.cluster.is_up(node) {
                    self.cluster.restart(node).await.map_err(|e| e.to_string())?;
                }
                // What was carried out: a node that was down for less than a TTL restarted
                // without the delay, whatever the plan said.
                if let Some((since, entry)) = self.crashed.remove(&node) {
                    if let Some(FaultKind::Crash { restart_after_ms: planned @ Some(_), .. }) = self.struck.get_mut(entry) {
                        let down_ms = since.elapsed().as_millis() as u64;
                        *planned = (down_ms > self.config.ttl_ms).then_some(down_ms);
                    }
                }
            }
            Undo::Heal { client, node } => {
                let link = self.cluster.link(client, node);
                link.set_flow(Direction::ToServer, Flow::Pass);
                link.set_flow(Direction::ToClient, Flow::Pass);
            }
        }
        Ok(())
    }
}

/// The node a target names now: a node where the latest holder set its key, for `Holders`.
fn resolve(target: Target, history: &History, servers: usize, rng: &mut StdRng) -> usize {
    match target {
        Target::Node(node) => node,
        // Resolved by the cluster itself (see `State::target`).
        Target::Leader => 0,
        Target::Holders => {
            let records = history.records();
            let holder = records.iter().rev().find_map(|r| match r.event {
                Event::Granted { client, .. } => Some(client),
                _ => None,
            });
            let Some(holder) = holder else { return 0 };
            let attempt_start = records.iter().rposition(|r| r.event == Event::AcquireStarted { client: holder }).unwrap_or(0);
            let nodes: Vec<usize> = records[attempt_start..]
                .iter()
                .filter_map(|r| match r.event {
                    Event::KeySet { node, owner, .. } if owner == holder => Some(node.0 as usize),
                    _ => None,
                })
                .filter(|&n| n < servers)
                .collect();
            nodes.choose(rng).copied().unwrap_or(0)
        }
    }
}
