//! The one translator from a model counterexample to a real schedule: the model's setup becomes
//! a real configuration (ticks become milliseconds), and each model step becomes the real
//! operations that make the same thing happen, followed by waits for what the model says the
//! step decided (a grant, a failed attempt, a validity running out), so that the real run
//! follows the model's path or stops saying where it left it.
//!
//! | model step | real operation |
//! |---|---|
//! | `tick` | one tick of real time passes (the schedule sleeps until the next tick mark) |
//! | a client starts acquiring (with a tick) | `acquire` on the real client (or the pitfall client) |
//! | a request reaches a server | the client's proxy link releases the request it holds, and waits until the server has answered it |
//! | a release (or `DEL`, `EXPIRE`) reaches a server | the same, and its reply, which the model does not have, goes straight back |
//! | a reply reaches a client | the link releases the reply it holds |
//! | a request reaches a crashed server | the link resets the connection: the client sees the error |
//! | the resource receives a read / a write | the client reads / writes the register (a fenced read or write of the real client) |
//! | the resource applies a checked write | the check-then-write register lets that client's write land |
//! | a client releases | `release` on the guard (or the pitfall client's release commands) |
//! | a client pauses | the client's pause hook blocks its thread at its next fenced read or write |
//! | a paused client resumes | the thread runs again, at the client's next step |
//! | a server expires a key by its clock | wait until the key is gone on the real server; if it has much longer to live (the model's server clock ran fast), the fast clock is emulated as a forward jump by the time the key had left |
//! | a server's clock jumps | the emulated jump ([`crate::clock_jump`]) |
//! | a server crashes / restarts | SIGKILL / a new process on the same port and directory |
//! | a replica catches up | replication to it is let through until it has the primary's offset |
//! | failover | the primary is killed; three Redis Sentinels see it gone and promote the model's replica (given the best `replica-priority`); the links moved |
//! | `SET NX PX` + `WAIT n` reaches the server / its reply the client | both requests go through and `SET`'s reply is awaited / both replies go through |
//! | a client crashes | its thread stops and its connections are reset |
//!
//! On etcd (`etcd-lease`, `etcd-lease-revision`) the client's requests and the store's replies
//! are not held one by one (the proxy cannot cut gRPC's HTTP/2 frames into messages): they go
//! through as they come, and the schedule awaits the client's decisions (an attempt, a grant,
//! a wait). A tick is a quarter of a second there, so that the model's TTL of 4 ticks is one
//! of etcd's whole-second leases; the store expiring a lease is a wait until the real key is
//! gone; a keep-alive timer is the guard's `extend`.
//!
//! Steps without a real counterpart say so ([`Op::Nothing`]); `conformance/README.md` lists
//! them.

use crate::pitfall::{Commands, Pitfall};
use crate::proxy::Direction;
use crate::redis_server::Persistence;
use redlock_client::event::Event;
use redlock_client::fault::FencedOp;
use redlock_client::params::Params;
use redlock_client::protocol::Reply;
use redlock_model::msg::{Msg, Timer};
use redlock_model::setup::{Encoding, Fencing, Resource, Restart, Service, Setup};
use redlock_model::system::Action;
use redlock_model::trace::Trace;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// Which client code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCode {
    /// The shipped client, with a single-server fencing counter where there is a resource.
    Shipped { fenced: bool },
    /// A harness client on the crate's core: a pitfall's commands, or Redisson's `WAIT n`
    /// after `SET NX PX` (neither of which the crate ships).
    Harness(Commands),
    /// The shipped etcd lock (its token the key's create revision).
    Etcd,
}

/// The register the clients write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterKind {
    Unfenced,
    /// The crate's atomic Redis adapter.
    Fenced,
    CheckThenWrite,
}

/// The real configuration of a replay.
#[derive(Clone, Debug)]
pub struct RealConfig {
    pub servers: usize,
    pub clients: usize,
    /// One model tick of real time.
    pub tick: Duration,
    pub persistence: Persistence,
    /// Node 0's replicas.
    pub replicas: usize,
    /// The replica the model's failover promotes (Sentinel is configured to prefer it).
    pub promoted: usize,
    pub code: ClientCode,
    pub register: Option<RegisterKind>,
    /// The protocol's parameters, in milliseconds.
    pub params: Params,
    pub extend_interval: Duration,
    /// How long an etcd acquire waits for another holder's key to go.
    pub acquire_timeout: Duration,
}

/// A decision a client records, which the model's step also made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    AcquireStarted,
    Granted,
    AcquireFailed,
    ReleaseStarted,
}

impl Decision {
    fn of(event: &Event) -> Option<(usize, Decision)> {
        Some(match event {
            Event::AcquireStarted { client } => (client.0 as usize, Decision::AcquireStarted),
            Event::Granted { client, .. } => (client.0 as usize, Decision::Granted),
            Event::AcquireFailed { client } => (client.0 as usize, Decision::AcquireFailed),
            Event::ReleaseStarted { client } => (client.0 as usize, Decision::ReleaseStarted),
            _ => return None,
        })
    }

    /// Whether a recorded event is this decision.
    pub fn matches(self, event: &Event) -> bool {
        Decision::of(event).is_some_and(|(_, d)| d == self)
    }
}

/// One real operation of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Tick,
    Start(usize),
    Deliver {
        client: usize,
        node: usize,
        direction: Direction,
    },
    /// `SET` and its `WAIT` in one pipeline: both requests go through, and the request's step
    /// awaits only the `SET`'s reply (the `WAIT`'s comes once replicas acknowledged); the reply's
    /// step lets both replies through.
    DeliverWithWait {
        client: usize,
        node: usize,
        direction: Direction,
    },
    /// A request whose reply the model leaves out: request and reply go through at once.
    Exchange {
        client: usize,
        node: usize,
    },
    Refuse {
        client: usize,
        node: usize,
    },
    Read(usize),
    Write(usize),
    Apply(usize),
    Release(usize),
    /// The etcd lock keeps its lease alive.
    KeepAlive(usize),
    Pause {
        client: usize,
        before: FencedOp,
    },
    Resume(usize),
    AwaitDecision {
        client: usize,
        decision: Decision,
    },
    AwaitValidityEnd(usize),
    Expire(usize),
    Replicate {
        node: usize,
        replica: usize,
    },
    ClockJump {
        node: usize,
        by: Duration,
    },
    Crash(usize),
    Restart(usize),
    Failover {
        node: usize,
        replica: usize,
    },
    ClientCrash(usize),
    Evict(usize),
    /// A model step with no real counterpart, and why.
    Nothing(&'static str),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Tick => write!(f, "wait for the next tick"),
            Op::Start(c) => write!(f, "client {c} acquires"),
            Op::Deliver { client, node, direction: Direction::ToServer } => {
                write!(f, "link client {client} -> node {node} lets the request through")
            }
            Op::Deliver { client, node, direction: Direction::ToClient } => {
                write!(f, "link client {client} -> node {node} lets the reply through")
            }
            Op::DeliverWithWait { client, node, direction: Direction::ToServer } => {
                write!(f, "link client {client} -> node {node} lets SET and WAIT through, and awaits SET's reply")
            }
            Op::DeliverWithWait { client, node, direction: Direction::ToClient } => {
                write!(f, "link client {client} -> node {node} lets the replies to SET and WAIT through")
            }
            Op::Exchange { client, node } => write!(f, "link client {client} -> node {node} lets the request and its reply through"),
            Op::Refuse { client, node } => write!(f, "node {node} is down: link client {client} -> node {node} resets the connection"),
            Op::Read(c) => write!(f, "client {c} reads the register"),
            Op::Write(c) => write!(f, "client {c} writes the register"),
            Op::Apply(c) => write!(f, "the register applies client {c}'s checked write"),
            Op::Release(c) => write!(f, "client {c} releases"),
            Op::KeepAlive(c) => write!(f, "client {c} keeps its lease alive"),
            Op::Pause { client, before } => write!(f, "client {client}'s thread blocks in its pause hook before its {before:?}"),
            Op::Resume(c) => write!(f, "client {c}'s thread runs again"),
            Op::AwaitDecision { client, decision } => write!(f, "await client {client}'s {decision:?}"),
            Op::AwaitValidityEnd(c) => write!(f, "await the end of client {c}'s validity"),
            Op::Expire(n) => write!(f, "the key expires on node {n} (on etcd: its lease expires, and the key goes with it)"),
            Op::Replicate { node, replica } => write!(f, "node {node}'s replica {replica} catches up"),
            Op::ClockJump { node, by } => write!(f, "node {node}'s clock jumps +{by:?} (emulated)"),
            Op::Crash(n) => write!(f, "SIGKILL node {n}"),
            Op::Restart(n) => write!(f, "restart node {n}"),
            Op::Failover { node, replica } => {
                write!(f, "kill node {node}'s primary; three Sentinels promote replica {replica} (its replica-priority preferred)")
            }
            Op::ClientCrash(c) => write!(f, "client {c} crashes"),
            Op::Evict(node) => write!(f, "node {node} evicts the lock key (emulated: DEL from outside)"),
            Op::Nothing(why) => write!(f, "nothing: {why}"),
        }
    }
}

/// One model step and its real operations.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    /// 1-based, as in the model's timeline.
    pub number: usize,
    /// The model's line for it.
    pub model: String,
    pub ops: Vec<Op>,
}

/// A real schedule.
#[derive(Clone, Debug)]
pub struct Plan {
    pub config: RealConfig,
    pub steps: Vec<PlannedStep>,
}

/// Real timers fire this fraction of a tick after the tick mark they fall on, so that the
/// operations the model places before them in that tick happen first in real time too.
pub const TIMER_LAG_PER_TICK: u32 = 4;

/// The real configuration of a model setup, or why it has none.
pub fn real_config(setup: &Setup, tick: Duration) -> Result<RealConfig, String> {
    let unsupported = |what: &str| Err(format!("{}: {what} has no real counterpart in this harness", setup.scenario));
    let etcd = setup.service == Service::Etcd;
    if !matches!(setup.service, Service::Redis | Service::Etcd) {
        return unsupported("a ZooKeeper- or Chubby-style lock service");
    }
    // etcd's leases are whole seconds: the model's TTL becomes one second.
    let tick = if etcd { Duration::from_millis(1000_u64.div_ceil(setup.ttl.max(1) as u64)) } else { tick };
    if setup.wait_replicas.is_some() && (setup.servers != 1 || setup.resource.is_some()) {
        return unsupported("WAIT on several servers or with a resource");
    }
    if setup.watchdog && !etcd {
        return unsupported("the model's bounded watchdog");
    }
    if !matches!((setup.fencing, etcd), (Fencing::Off | Fencing::Counter, false) | (Fencing::Off | Fencing::Revision, true)) {
        return unsupported("unique, zxid or sequencer tokens");
    }
    if setup.fencing == Fencing::Counter && setup.servers > 1 {
        return unsupported("per-node INCR tokens (the shipped client offers tokens for one server only)");
    }
    let register = match setup.resource {
        None => None,
        Some(Resource::Unfenced) => Some(RegisterKind::Unfenced),
        Some(Resource::Fenced) => Some(RegisterKind::Fenced),
        Some(Resource::FencedCheckThenWrite) => Some(RegisterKind::CheckThenWrite),
        Some(_) => return unsupported("a CheckSequencer or check-and-set resource"),
    };
    let code = match setup.encoding {
        Encoding::Correct if etcd => ClientCode::Etcd,
        Encoding::Correct if let Some(n) = setup.wait_replicas => ClientCode::Harness(Commands::WaitReplicas(n.into())),
        Encoding::Correct => ClientCode::Shipped { fenced: register.is_some() },
        Encoding::PlainDel => ClientCode::Harness(Commands::Pitfall(Pitfall::PlainDel)),
        Encoding::GetThenDel => ClientCode::Harness(Commands::Pitfall(Pitfall::GetThenDel)),
        Encoding::SetnxThenExpire => ClientCode::Harness(Commands::Pitfall(Pitfall::SetnxThenExpire)),
    };
    if register.is_some() && setup.servers != 1 {
        return unsupported("a resource behind a lock on several servers");
    }
    let ms = |ticks: u8| tick.as_millis() as u64 * ticks as u64;
    let lag = tick.as_millis() as u64 / TIMER_LAG_PER_TICK as u64;
    let params = Params {
        nodes: setup.servers as usize,
        ttl_ms: ms(setup.ttl),
        drift_factor_ppm: 0,
        drift_fixed_ms: ms(setup.drift),
        node_timeout_ms: ms(setup.node_timeout) + lag,
        retries: setup.attempts.saturating_sub(1) as u32,
        retry_delay_min_ms: ms(setup.retry_delay) + lag,
        retry_delay_max_ms: ms(setup.retry_delay) + lag,
    };
    let budget = params.ttl_ms - params.drift_ms();
    if params.node_timeout_ms >= budget {
        return unsupported("a node timeout longer than the validity (the shipped client refuses it: ConfigError::NodeTimeoutTooLong)");
    }
    let extend_interval = Duration::from_millis(params.node_timeout_ms + (budget - params.node_timeout_ms) / 2);
    Ok(RealConfig {
        servers: setup.servers as usize,
        clients: setup.clients as usize,
        tick,
        persistence: match setup.restart {
            Some(Restart::Fsync) => Persistence::AofAlways,
            _ => Persistence::None,
        },
        replicas: setup.replicas as usize,
        promoted: 0,
        code,
        register,
        params,
        extend_interval,
        // etcd's lessor looks for expired leases twice a second: a key outlives its lease by up
        // to that, which the model's exact expiry does not have.
        acquire_timeout: tick * setup.ttl as u32 + Duration::from_secs(2),
    })
}

/// What the translator tracks of the model's path.
#[derive(Default)]
struct PathState {
    crashed: BTreeSet<usize>,
    paused: BTreeSet<usize>,
    /// Paused clients that the model resumed; their threads run again at their next step.
    resuming: BTreeSet<usize>,
    /// Clients that have read and not written yet.
    read: BTreeSet<usize>,
}

/// Whether the model has a reply to this request (it has none for a release, a `DEL` or an
/// `EXPIRE`, whose real replies nobody acts on).
fn has_reply(msg: &Msg) -> bool {
    matches!(msg, Msg::Acquire { .. } | Msg::Extend { .. } | Msg::Get)
}

/// An error reply, which the model makes up for a request to a crashed server.
fn is_error_reply(msg: &Msg) -> bool {
    matches!(msg, Msg::AcquireReply { reply: Reply::Error, .. } | Msg::ExtendReply { reply: Reply::Error, .. })
}

/// Translates a counterexample into a real schedule.
pub fn translate(setup: &Setup, trace: &Trace, tick: Duration) -> Result<Plan, String> {
    let mut config = real_config(setup, tick)?;
    config.promoted = trace
        .steps
        .iter()
        .find_map(|s| match s.params {
            Action::Failover { replica, .. } => Some(replica as usize),
            _ => None,
        })
        .unwrap_or(0);
    let waits = setup.wait_replicas.is_some();
    let etcd = setup.service == Service::Etcd;
    let client_of = |actor: usize| setup.client_at(actor).map(usize::from);
    let is_server = |actor: usize| setup.server_at(actor).is_some();
    let is_resource = |actor: usize| setup.resource_actor() == Some(actor);
    let model_lines = trace.lines.iter().filter(|l| !l.trim_start().starts_with("VIOLATION"));
    let mut path = PathState::default();
    let mut steps = Vec::with_capacity(trace.steps.len());
    for (i, (step, line)) in trace.steps.iter().zip(model_lines).enumerate() {
        let mut ops = Vec::new();
        // The client that acts in this step, whose pending resume comes first.
        let actor = match &step.params {
            Action::Deliver { src, dst, .. } => client_of(*src).or(client_of(*dst)),
            Action::Timeout { actor, .. } => client_of(*actor),
            _ => None,
        };
        if let Some(c) = actor.filter(|c| path.resuming.remove(c)) {
            path.paused.remove(&c);
            ops.push(Op::Resume(c));
        }
        let on_store = |node: usize| etcd && is_server(node);
        match &step.params {
            Action::Tick { then } => {
                ops.push(Op::Tick);
                for event in &step.events {
                    if let Event::ValidityEnded { client } = event {
                        ops.push(Op::AwaitValidityEnd(client.0 as usize));
                    }
                }
                for c in (0..setup.clients as usize).filter(|c| then & (1 << c) != 0) {
                    if path.paused.contains(&c) {
                        path.resuming.insert(c);
                        ops.push(Op::Nothing("a resumed client runs at once: its thread resumes at its next step"));
                    } else {
                        ops.push(Op::Start(c));
                    }
                }
            }
            Action::Deliver { src, dst, .. } if on_store(*src) || on_store(*dst) => {
                ops.push(Op::Nothing("etcd's requests and replies go through as they come; the client's decision is awaited"))
            }
            Action::Deliver { src, dst, msg } => {
                let (src, dst) = (*src, *dst);
                ops.push(match (client_of(src), client_of(dst)) {
                    (Some(c), None) if is_server(dst) && path.crashed.contains(&dst) => Op::Refuse { client: c, node: dst },
                    (Some(c), None) if is_server(dst) && waits && matches!(msg, Msg::Acquire { .. }) => {
                        Op::DeliverWithWait { client: c, node: dst, direction: Direction::ToServer }
                    }
                    (Some(c), None) if is_server(dst) && has_reply(msg) => {
                        Op::Deliver { client: c, node: dst, direction: Direction::ToServer }
                    }
                    (Some(c), None) if is_server(dst) => Op::Exchange { client: c, node: dst },
                    (None, Some(_)) if is_server(src) && is_error_reply(msg) => {
                        Op::Nothing("the client learned of the error when its connection to the server broke")
                    }
                    (None, Some(c)) if is_server(src) && waits && matches!(msg, Msg::AcquireReply { .. }) => {
                        Op::DeliverWithWait { client: c, node: src, direction: Direction::ToClient }
                    }
                    (None, Some(c)) if is_server(src) => Op::Deliver { client: c, node: src, direction: Direction::ToClient },
                    (Some(c), None) if is_resource(dst) => match msg {
                        Msg::Read { .. } => {
                            path.read.insert(c);
                            Op::Read(c)
                        }
                        Msg::Write { .. } => {
                            path.read.remove(&c);
                            Op::Write(c)
                        }
                        other => return Err(format!("step {}: {other} to the resource has no real counterpart in this harness", i + 1)),
                    },
                    (None, Some(_)) if is_resource(src) => Op::Nothing("a resource's reply comes back within its request's round trip"),
                    _ => return Err(format!("step {}: a message between {src} and {dst} has no real counterpart in this harness", i + 1)),
                });
            }
            Action::Timeout { actor, timer } => ops.push(match (client_of(*actor), timer) {
                (Some(c), Timer::Release) => Op::Release(c),
                (Some(_), Timer::Deadline) => Op::Nothing("the node timeout fires on the client's own clock; its decision is awaited"),
                (Some(_), Timer::Retry) => Op::Nothing("the retry fires on the client's own clock; its attempt is awaited"),
                (Some(_), Timer::Work) => Op::Nothing("the work starts with its read"),
                (Some(_), Timer::Write) => Op::Nothing("the write goes out when the resource receives it"),
                (Some(_), Timer::SendExpire) => Op::Nothing("the pitfall client sends PEXPIRE as soon as SETNX's reply arrives"),
                (Some(c), Timer::Extend) if etcd => Op::KeepAlive(c),
                (None, Timer::LeaseExpire { .. }) if on_store(*actor) => Op::Expire(*actor),
                (None, Timer::Expire) if is_server(*actor) => Op::Expire(*actor),
                (None, Timer::Replicate { replica }) if is_server(*actor) => Op::Replicate { node: *actor, replica: *replica as usize },
                (None, Timer::Apply { client }) if is_resource(*actor) => Op::Apply(*client as usize),
                (_, other) => return Err(format!("step {}: {other:?} has no real counterpart in this harness", i + 1)),
            }),
            Action::Pause { client } => {
                let c = *client as usize;
                path.paused.insert(c);
                let before = if path.read.contains(&c) { FencedOp::Write } else { FencedOp::Read };
                ops.push(Op::Pause { client: c, before });
            }
            Action::ClockJump { server, by } => ops.push(Op::ClockJump { node: *server as usize, by: tick * *by as u32 }),
            Action::Crash { server } => {
                path.crashed.insert(*server as usize);
                ops.push(Op::Crash(*server as usize));
            }
            Action::Restart { server } => {
                path.crashed.remove(&(*server as usize));
                ops.push(Op::Restart(*server as usize));
            }
            Action::Failover { server, replica } => ops.push(Op::Failover { node: *server as usize, replica: *replica as usize }),
            Action::ClientCrash { client } => ops.push(Op::ClientCrash(*client as usize)),
            Action::Evict { server } => ops.push(Op::Evict(*server as usize)),
            // Only trace validation loses messages; no scenario's counterexample does.
            Action::Lose { .. } => return Err(format!("step {}: a lost message has no replay", i + 1)),
        }
        ops.extend(step.events.iter().filter_map(Decision::of).map(|(client, decision)| Op::AwaitDecision { client, decision }));
        steps.push(PlannedStep { number: i + 1, model: line.trim().to_string(), ops });
    }
    Ok(Plan { config, steps })
}
