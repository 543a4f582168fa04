//! Runs a real schedule: starts the servers, links and clients of its configuration, carries out
//! each operation in order, and stops at the first one that does not happen as the model says.

use super::translate::{ClientCode, Decision, Op, Plan, RealConfig, RegisterKind, TIMER_LAG_PER_TICK};
use super::worker::Worker;
use crate::client_thread::PauseLength;
use crate::cluster::{Cluster, ClusterSpec, LockServers};
use crate::ensemble::EtcdServers;
use crate::history::{now_ns, History};
use crate::proxy::{Direction, Flow};
use crate::redis_server::{Persistence, RedisServer};
use crate::registers::{ApplyGap, ApplyGate, RegisterSpec};
use redlock_client::event::{ClientId, Event};
use redlock_client::fault::FencedOp;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long an operation may wait for what it expects (a held message, a client's decision).
const PATIENCE: Duration = Duration::from_secs(2);

/// The lock servers of a replay.
enum Servers {
    Redis(Cluster),
    Etcd(EtcdServers),
}

/// A schedule being run.
pub struct Execution {
    config: RealConfig,
    history: History,
    servers: Servers,
    workers: Vec<Worker>,
    apply_gates: Vec<Arc<ApplyGate>>,
    _resource_server: Option<RedisServer>,
    /// The real instant of the latest tick.
    mark: Option<Instant>,
    /// Decisions awaited so far, per client.
    awaited: HashMap<(usize, Decision), usize>,
}

impl Execution {
    /// Starts everything the schedule needs; every client's traffic is held until released.
    pub async fn start(plan: &Plan, history: History) -> Result<Execution, String> {
        let config = plan.config.clone();
        let spec = ClusterSpec {
            servers: config.servers,
            clients: config.clients,
            persistence: config.persistence,
            replicas: config.replicas,
            promoted: config.promoted,
            flow: Flow::Hold,
            // A request the model delivers after a restart waits for the server, as in the model.
            connect_wait: PATIENCE,
        };
        let servers = if config.code == ClientCode::Etcd {
            let members = EtcdServers::start_etcd(config.servers, config.clients, history.clone());
            Servers::Etcd(members.await.map_err(|e| format!("starting etcd: {e}"))?)
        } else {
            let cluster = Cluster::start(spec, history.clone()).await.map_err(|e| format!("starting the servers: {e}"))?;
            // Replication happens only where the model says so.
            cluster.stall_replication();
            Servers::Redis(cluster)
        };
        let apply_gates: Vec<Arc<ApplyGate>> = (0..config.clients).map(|_| Arc::new(ApplyGate::default())).collect();
        let resource_server = match config.register {
            Some(_) => Some(RedisServer::start(Persistence::None).await.map_err(|e| format!("starting the resource server: {e}"))?),
            None => None,
        };
        let mut workers = Vec::with_capacity(config.clients);
        for (client, apply_gate) in apply_gates.iter().enumerate() {
            let register = config.register.zip(resource_server.as_ref()).map(|(kind, server)| {
                let (url, key) = (server.url(), "register".to_string());
                match kind {
                    RegisterKind::Unfenced => RegisterSpec::Unfenced { url, key },
                    RegisterKind::Fenced => RegisterSpec::Redis { url, key },
                    RegisterKind::CheckThenWrite => RegisterSpec::CheckThenWrite { url, key, gap: ApplyGap::Gate(apply_gate.clone()) },
                }
            });
            let urls = match &servers {
                Servers::Redis(cluster) => cluster.urls(client),
                Servers::Etcd(members) => members.urls(client),
            };
            let worker = Worker::start(client, urls, &config, &history, register).map_err(|e| format!("starting client {client}: {e}"))?;
            workers.push(worker);
        }
        Ok(Execution {
            config,
            history,
            servers,
            workers,
            apply_gates,
            _resource_server: resource_server,
            mark: None,
            awaited: HashMap::new(),
        })
    }

    /// The Redis servers, for the operations that only they take.
    fn cluster(&mut self) -> Result<&mut Cluster, String> {
        match &mut self.servers {
            Servers::Redis(cluster) => Ok(cluster),
            Servers::Etcd(_) => Err("this step needs Redis servers, and the replay runs on etcd".into()),
        }
    }

    /// Carries out one operation; returns a note where the real system needed help to do what
    /// the model did.
    pub async fn run(&mut self, op: &Op) -> Result<Option<String>, String> {
        if let (Op::Expire(_), Servers::Etcd(members)) = (op, &self.servers) {
            let within = Duration::from_millis(self.config.params.ttl_ms) + PATIENCE;
            return members.wait_key_gone(self.history.lock(), within).await.map(|()| None);
        }
        match *op {
            Op::Tick => self.tick().await,
            Op::Start(c) => self.workers[c].acquire(),
            Op::Deliver { client, node, direction: Direction::ToServer } => self.deliver_request(client, node).await?,
            Op::Exchange { client, node } => {
                self.deliver_request(client, node).await?;
                self.cluster()?.link(client, node).release(Direction::ToClient, PATIENCE).await?
            }
            Op::Deliver { client, node, direction: Direction::ToClient } => {
                self.cluster()?.link(client, node).release(Direction::ToClient, PATIENCE).await?
            }
            Op::DeliverWithWait { client, node, direction: Direction::ToServer } => {
                let link = self.cluster()?.link(client, node);
                let answered = link.held(Direction::ToClient);
                link.release(Direction::ToServer, PATIENCE).await?;
                link.release(Direction::ToServer, PATIENCE).await?;
                link.wait_held(Direction::ToClient, answered + 1, PATIENCE).await?
            }
            Op::DeliverWithWait { client, node, direction: Direction::ToClient } => {
                let link = self.cluster()?.link(client, node);
                link.release(Direction::ToClient, PATIENCE).await?;
                link.release(Direction::ToClient, PATIENCE).await?
            }
            Op::Refuse { client, node } => self.cluster()?.link(client, node).reset(),
            Op::Read(c) => self.fenced(c, FencedOp::Read).await?,
            Op::Write(c) => self.fenced(c, FencedOp::Write).await?,
            Op::Apply(c) => {
                self.apply_gates[c].apply();
                self.workers[c].finish(PATIENCE).await?;
            }
            Op::Release(c) => self.workers[c].release(),
            Op::KeepAlive(c) => self.workers[c].keep_alive(),
            Op::Pause { client, before } => {
                self.workers[client].gate.arm(Some(before), PauseLength::UntilResumed);
                self.workers[client].send(before);
                let gate = self.workers[client].gate.clone();
                wait_for(PATIENCE, || gate.is_paused()).await.map_err(|_| format!("client {client} did not reach its pause hook"))?;
            }
            Op::Resume(c) => self.workers[c].gate.resume(),
            Op::AwaitDecision { client, decision } => self.await_decision(client, decision).await?,
            Op::AwaitValidityEnd(c) => self.await_validity_end(c).await?,
            Op::Expire(node) => return self.expire(node).await,
            Op::Replicate { replica, .. } => self.cluster()?.replicate(replica).await?,
            Op::ClockJump { node, by } => self.cluster()?.clock_jump(node, by).await.map_err(|e| e.to_string())?,
            Op::Crash(node) => self.cluster()?.crash(node),
            Op::Restart(node) => self.cluster()?.restart(node).await.map_err(|e| e.to_string())?,
            Op::Failover { node, replica } => self.cluster()?.failover(node, replica).await?,
            Op::Evict(node) => self.cluster()?.evict(node).await?,
            Op::ClientCrash(c) => {
                self.history.record(Event::ClientCrashed { client: ClientId(c as u32) });
                self.workers[c].stop();
                let cluster = self.cluster()?;
                for node in 0..cluster.nodes() {
                    cluster.link(c, node).reset();
                }
            }
            Op::Nothing(_) => {}
        }
        Ok(None)
    }

    /// The model's server expires the key by its own clock. The real key expires by the
    /// server's real clock: within the timer lag, the schedule waits for it; with longer to
    /// live, the model's server clock ran faster than real time, and that is emulated as a
    /// forward jump by the time the key had left (recorded as a clock jump).
    async fn expire(&mut self, node: usize) -> Result<Option<String>, String> {
        let (tick, ttl_ms) = (self.config.tick, self.config.params.ttl_ms);
        let lock = self.history.lock().to_string();
        let cluster = self.cluster()?;
        let left = cluster.key_ttl(node, &lock).await.map_err(|e| e.to_string())?;
        match left {
            Some(left) if left > tick / TIMER_LAG_PER_TICK => {
                cluster.clock_jump(node, left).await.map_err(|e| e.to_string())?;
                Ok(Some(format!("the model's node {node} clock ran fast: emulated as a forward jump of {left:?}")))
            }
            _ => {
                let within = Duration::from_millis(ttl_ms) + PATIENCE;
                cluster.wait_key_gone(node, &lock, within).await.map(|()| None)
            }
        }
    }

    /// Lets a held request reach its server, and waits until the server has processed it (its
    /// reply is held).
    async fn deliver_request(&mut self, client: usize, node: usize) -> Result<(), String> {
        let link = self.cluster()?.link(client, node);
        let answered = link.held(Direction::ToClient);
        link.release(Direction::ToServer, PATIENCE).await?;
        link.wait_held(Direction::ToClient, answered + 1, PATIENCE).await
    }

    /// Waits until the next tick mark (a full tick after the previous one, or from now if the
    /// schedule fell behind).
    async fn tick(&mut self) {
        let now = Instant::now();
        let next = match self.mark {
            None => now,
            Some(mark) => (mark + self.config.tick).max(now),
        };
        tokio::time::sleep_until(next).await;
        self.mark = Some(next);
    }

    /// A fenced read or write reaches the register: it goes out now, or, if a pause or the
    /// register held it back, it is let go; then it completes (a check-then-write register's
    /// write only passes its check: it lands at the model's `apply` step).
    async fn fenced(&mut self, c: usize, op: FencedOp) -> Result<(), String> {
        let worker = &mut self.workers[c];
        if !worker.has_in_flight(op) {
            worker.send(op);
        }
        let checked_only = op == FencedOp::Write && self.config.register == Some(RegisterKind::CheckThenWrite);
        if checked_only {
            return tokio::time::timeout(PATIENCE, self.apply_gates[c].checked())
                .await
                .map_err(|_| format!("client {c}'s write did not pass its check"));
        }
        worker.finish(PATIENCE).await
    }

    /// Waits until the real client has made as many such decisions as the model's has by now.
    async fn await_decision(&mut self, client: usize, decision: Decision) -> Result<(), String> {
        let wanted = {
            let n = self.awaited.entry((client, decision)).or_default();
            *n += 1;
            *n
        };
        let history = self.history.clone();
        let made = || history.records().iter().filter(|r| decision.matches(&r.event) && client_of(&r.event) == Some(client)).count();
        wait_for(PATIENCE, || made() >= wanted)
            .await
            .map_err(|_| format!("the model's client {client} made decision {decision:?} #{wanted}; the real one has made {}", made()))
    }

    /// Waits until the real client's latest grant or extension has run out (as the auditor
    /// derives it: the record's stamp plus its validity).
    async fn await_validity_end(&self, client: usize) -> Result<(), String> {
        let end_ns = self
            .history
            .records()
            .iter()
            .rev()
            .find_map(|r| match r.event {
                Event::Granted { client: c, validity_ms, .. } | Event::Extended { client: c, validity_ms } if c.0 as usize == client => {
                    Some(r.t_ns + validity_ms * 1_000_000)
                }
                _ => None,
            })
            .ok_or_else(|| format!("the real client {client} holds no lock whose validity could end"))?;
        let now = now_ns();
        if end_ns >= now {
            tokio::time::sleep(Duration::from_nanos(end_ns - now) + Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// Waits for the consequences of the last step to be recorded (a reply just delivered),
    /// then returns the stamp up to which the history is judged.
    pub async fn end(&self) -> u64 {
        tokio::time::sleep(self.config.tick / 4).await;
        now_ns()
    }

    /// Stops everything: messages flow again, clients stop, servers are killed (on drop).
    pub fn stop(mut self) {
        if let Servers::Redis(cluster) = &self.servers {
            for c in 0..self.config.clients {
                for node in 0..cluster.nodes() {
                    let link = cluster.link(c, node);
                    link.set_flow(Direction::ToServer, Flow::Pass);
                    link.set_flow(Direction::ToClient, Flow::Pass);
                }
            }
        }
        for worker in self.workers.drain(..) {
            worker.join();
        }
    }
}

fn client_of(event: &Event) -> Option<usize> {
    match event {
        Event::AcquireStarted { client }
        | Event::Granted { client, .. }
        | Event::AcquireFailed { client }
        | Event::ReleaseStarted { client } => Some(client.0 as usize),
        _ => None,
    }
}

/// Polls `done` every millisecond for up to `within`.
async fn wait_for(within: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}
