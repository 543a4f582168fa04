//! Trace validation: is a recorded history a behaviour of the model?
//!
//! The model's verdicts are only as good as the model: if the real client can do something the
//! model cannot, a cell can say `holds` where reality breaks. This module checks the other
//! direction than the replays: it searches the model, built for the history's system (its
//! nodes, its clients, the scenario's service, encoding, tokens and resource), for a path whose
//! events are the history's, in order. The idea is tlaplus/Examples' `ewd998` trace
//! specification and CCF's and etcd-io/raft's trace validation: the history constrains the
//! specification, and every variable the history does not show is chosen by the search.
//!
//! **What is compared.** The events that both sides record in the same way: the clients'
//! protocol events (acquire started, granted with its token, failed, extended, released, lost,
//! refused), the servers' keys set and deleted, the resource's reads and writes with their
//! values and tokens, a client's crash, a server's crash, restart and failover, an eviction.
//! Not compared: durations (validity, TTL: timing is checked in the unbounded mode, see below),
//! `setup` records, faults the model takes as timing (pauses, delays, lost messages, clock
//! jumps, a paused server), and the events that only time produces (a window ending, a key
//! expiring): the search may place those wherever the model allows. Tokens are compared up to
//! an order-preserving renaming (a real etcd revision is a large number, the model's a small
//! one; a counter's order is what fencing uses).
//!
//! **Timing.** The history is checked against the model with every hazard lifted (`async`):
//! messages, pauses and clocks take any time, so what is checked is the protocol's decisions and
//! their order, not its timing. Checking a history against a bounded (`sync`) cell would need
//! the real delays, pauses and clock rates measured and mapped onto ticks; that is not done.
//!
//! **Order.** Events of one client keep the order the history gives them. Events of different
//! clients may be taken out of order within [`REORDER_WINDOW`] records: a client records what a
//! server did when its thread reads the server's answer, not when the server acted, so two
//! threads' records can come in the opposite order of what the servers did. Narrower windows
//! are tried first ([`TRIES`]).
//!
//! **Not compared**, besides durations: a node's refusal of a release (the model's release is a
//! command without an answer).
//!
//! **Reading a failure.** With the environment variable `VALIDATE_TRACE` set, the path that got
//! furthest (or the accepted one) is printed step by step on standard error.
//!
//! **The model's clients** start a new acquisition each time one ends (`Setup::repeat`), retry
//! without limit and extend without limit, as the real workloads do; the search budget is in
//! states, so the answer is the same on every machine.

use crate::actor::ActorState;
use crate::msg::Timer;
use crate::scenario::{find, Scenario};
use crate::setup::{Bounds, Fencing, Hazards, Resource, Restart, Service, Setup, Timing};
use crate::system::{Action, LockSystem, SystemState};
use redlock_client::event::{ClientId, Event, Fault, Record};
use redlock_client::history::{parse_line, Lines};
use serde::Serialize;
use stateright::Model;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// Records of different clients may be matched out of order within this many records.
pub const REORDER_WINDOW: usize = 8;

/// The tries, in order: (reorder window, seed, sixteenths of the budget). A narrow window
/// leaves the search fewer ways to go wrong and finds most paths soonest. A seed above 0 breaks
/// ties between silent steps of one rank by a seeded shuffle: a restart, since a depth-first
/// search that took a wrong turn early does not back out of it within its budget, and another
/// order may not take it (the seeds are fixed: the same answer on every machine). The widest
/// window comes last with the largest share: its exhaustion is the one a rejection needs.
pub const TRIES: [(usize, u64, u64); 8] =
    [(2, 0, 1), (3, 0, 1), (5, 0, 1), (2, 1, 1), (3, 1, 1), (3, 2, 1), (5, 1, 1), (REORDER_WINDOW, 0, 9)];

/// Silent steps (steps that show nothing the history records) the search takes between two
/// matched records at most.
pub const MAX_SILENT_STEPS: u8 = 14;

/// The priority of a request reaching its server: explored before any matching step.
const EAGER: u8 = 0;

/// States the search may visit by default.
pub const DEFAULT_MAX_STATES: u64 = 2_000_000;

/// The largest budget `check validate --states` takes (the search keeps every state it visits).
pub const MAX_STATES: u64 = 100_000_000;

/// The model's TTL in ticks: room for a round to span several ticks of other clients' steps.
/// The numbers matter only through their ratios, and in async the search chooses every
/// duration.
const MODEL_TTL: u8 = 12;

/// Messages one recorded loss fault may have lost (a reset loses what was in flight on the
/// connection: a request and its answer at most, or a few queued behind them).
const LOSSES_PER_FAULT: u8 = 4;

/// At most this many clients: the model's tick carries one bit per client.
const MAX_CLIENTS: usize = 8;

/// What the search found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A path of the model produces every compared record, in order.
    Accepted,
    /// No path within the search's bounds produces record `number` (1-based, blank lines not
    /// counted) after the ones before it: `states` are some of the model states reached just
    /// before it.
    Rejected { number: u64, record: String, states: Vec<String> },
    /// The budget ran out first; `number` is the furthest record any path reached.
    Undecided { number: u64, record: String, states: Vec<String> },
    /// The history is outside what the model can follow (more clients than it has bits for, a
    /// value beyond its range).
    Unsupported { reason: String },
}

/// The answer for one history.
#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    /// The scenario whose system the model was built from.
    pub scenario: &'static str,
    /// Records compared, of the history's records.
    pub compared: usize,
    pub records: usize,
    pub states: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Validation {
    pub fn accepted(&self) -> bool {
        self.outcome == Outcome::Accepted
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!(
            "against {} (async, every hazard lifted): {} of {} records compared, {} states",
            self.scenario, self.compared, self.records, self.states
        );
        match &self.outcome {
            Outcome::Accepted => write!(f, "accepted {head}"),
            Outcome::Rejected { number, record, states } => {
                writeln!(f, "rejected {head}")?;
                writeln!(f, "  no path of the model produces record {number} after the records before it: {record}")?;
                write_states(f, states)
            }
            Outcome::Undecided { number, record, states } => {
                writeln!(f, "undecided {head}: the budget ran out; the furthest path reached record {number}: {record}")?;
                write_states(f, states)
            }
            Outcome::Unsupported { reason } => write!(f, "unsupported: {reason}"),
        }
    }
}

fn write_states(f: &mut fmt::Formatter<'_>, states: &[String]) -> fmt::Result {
    for (i, s) in states.iter().enumerate() {
        writeln!(f, "  a model state just before it ({} of {}):", i + 1, states.len())?;
        for l in s.lines() {
            writeln!(f, "    {l}")?;
        }
    }
    Ok(())
}

/// Who an event is about: its order is kept against the same lane's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Lane {
    Client(u32),
    Faults,
}

/// One compared record: its event with the history's client ids renamed to the model's, and
/// its line.
#[derive(Clone, Debug)]
struct Expected {
    event: Event,
    lane: Lane,
    number: u64,
    /// The record as the history has it (its own client ids).
    original: Event,
    /// Its stamp, in model ticks since the first record at the history's own TTL scale: a
    /// guide for the search, which tries timings close to the real ones first.
    tick: u64,
}

/// What the history says about the system it ran on.
#[derive(Debug, Default)]
struct Facts {
    nodes: u32,
    /// The history's client ids, in the model's order.
    clients: Vec<ClientId>,
    tokens: bool,
    resource_events: bool,
    rejected_writes: bool,
    extended: bool,
    crashes: u8,
    persisted: Option<bool>,
    failovers: u8,
    evictions: u8,
    client_crashes: u8,
    /// Messages the harness made the network lose (a dropped connection, a one-way loss).
    losses: u8,
    /// The lock's TTL as the history shows it (its first key's), in milliseconds.
    ttl_ms: u64,
    /// Faults of a consensus group's members: the lock ran on etcd.
    members: bool,
    /// A key set with no TTL (`SETNX`, the pitfall that sets the TTL in a second command).
    setnx: bool,
    /// A key deleted by a client that does not own it (a release without an owner check).
    foreign_delete: bool,
}

/// Validates the records of one lock against `scenario`'s system (inferred from the history
/// when `None`), visiting at most `max_states` states.
pub fn validate(records: &[Record], scenario: Option<&str>, max_states: u64) -> Result<Validation, String> {
    let resources: BTreeSet<&str> = records.iter().map(|r| r.resource.as_str()).collect();
    if resources.len() > 1 {
        return Err(format!("the history has {} locks ({}); validate one at a time", resources.len(), join(resources.iter())));
    }
    let facts = facts(records)?;
    let scenario = match scenario {
        Some(name) => find(name).ok_or_else(|| format!("no scenario {name:?} (see `check list`)"))?,
        None => infer(&facts),
    };
    let unsupported = |reason: String| Validation {
        scenario: scenario.name,
        compared: 0,
        records: records.len(),
        states: 0,
        outcome: Outcome::Unsupported { reason },
    };
    if facts.clients.len() > MAX_CLIENTS {
        return Ok(unsupported(format!("{} clients; the model follows at most {MAX_CLIENTS}", facts.clients.len())));
    }
    if scenario.setup(Timing::Async).service == Service::ZooKeeper {
        return Ok(unsupported(
            "a ZooKeeper history: real zxids count every transaction of the ensemble (each queued node, delete and \
             session), the model's count grants"
                .into(),
        ));
    }
    let expected = expected(records, &facts);
    if let Some(e) =
        expected.iter().find(|e| matches!(e.event, Event::ResourceRead { value, .. } | Event::WriteApplied { value, .. } if value > 250))
    {
        return Ok(unsupported(format!("record {}: a resource value above 250 (the model's values are bytes)", e.number)));
    }
    let setup = setup_for(scenario.setup(Timing::Async), &facts)?;
    let done = |states, outcome| Validation { scenario: scenario.name, compared: expected.len(), records: records.len(), states, outcome };
    let (mut states, mut furthest) = (0, None::<(u64, String, Vec<String>)>);
    for (window, seed, sixteenths) in TRIES {
        let share = (max_states / 16 * sixteenths).max(1);
        let mut search = Search::new(setup.clone(), &facts, expected.clone(), share, window, seed);
        let outcome = search.run();
        states += search.states;
        match outcome {
            Outcome::Accepted => return Ok(done(states, outcome)),
            // Only the widest window's exhaustion covers every order the validation allows.
            Outcome::Rejected { .. } if window == REORDER_WINDOW => return Ok(done(states, outcome)),
            Outcome::Rejected { number, record, states: before } | Outcome::Undecided { number, record, states: before } => {
                if furthest.as_ref().is_none_or(|(reached, _, _)| number > *reached) {
                    furthest = Some((number, record, before));
                }
            }
            Outcome::Unsupported { .. } => return Ok(done(states, outcome)),
        }
    }
    let (number, record, before) = furthest.expect("a try that answered");
    Ok(done(states, Outcome::Undecided { number, record, states: before }))
}

fn join<'a>(names: impl Iterator<Item = &'a &'a str>) -> String {
    names.copied().collect::<Vec<_>>().join(", ")
}

fn facts(records: &[Record]) -> Result<Facts, String> {
    let mut f = Facts::default();
    let mut clients = BTreeSet::new();
    for r in records {
        if let Some(c) = client_of(&r.event) {
            clients.insert(c);
        }
        match r.event {
            Event::Setup { nodes } => {
                if f.nodes != 0 && f.nodes != nodes {
                    return Err(format!("the history's lock spans {} nodes and then {nodes}", f.nodes));
                }
                f.nodes = nodes;
            }
            Event::Granted { token: Some(_), .. } => f.tokens = true,
            Event::KeySet { ttl_ms: Some(ttl), .. } if f.ttl_ms == 0 => f.ttl_ms = ttl,
            Event::KeySet { ttl_ms: None, .. } => f.setnx = true,
            Event::KeyDeleted { owner, by, .. } if owner != by => f.foreign_delete = true,
            Event::Extended { .. } => f.extended = true,
            Event::ResourceRead { .. } | Event::WriteApplied { .. } => f.resource_events = true,
            Event::WriteRejected { .. } => {
                f.resource_events = true;
                f.rejected_writes = true;
            }
            Event::Fault { fault: Fault::Crash { persisted, .. } } => {
                f.crashes = f.crashes.saturating_add(1);
                f.persisted = Some(persisted);
            }
            Event::Fault { fault: Fault::Failover { .. } } => f.failovers = f.failovers.saturating_add(1),
            Event::Fault { fault: Fault::MemberDown { .. } | Fault::MemberUp { .. } } => f.members = true,
            Event::KeyLost { .. } => f.evictions = f.evictions.saturating_add(1),
            Event::ClientCrashed { .. } => f.client_crashes = f.client_crashes.saturating_add(1),
            // A lost connection or a one-way loss can lose every message in flight on it.
            Event::Fault { fault: Fault::MessageLost } => f.losses = f.losses.saturating_add(LOSSES_PER_FAULT),
            _ => {}
        }
    }
    if f.nodes == 0 {
        return Err("the history has no setup record: how many nodes the lock spans is unknown".into());
    }
    if f.nodes > 9 {
        return Err(format!("the history's lock spans {} nodes; the model has at most 9", f.nodes));
    }
    f.clients = clients.into_iter().collect();
    Ok(f)
}

/// The client an event is about, if any.
fn client_of(e: &Event) -> Option<ClientId> {
    match *e {
        Event::AcquireStarted { client }
        | Event::Granted { client, .. }
        | Event::AcquireFailed { client }
        | Event::Extended { client, .. }
        | Event::ValidityEnded { client }
        | Event::ReleaseStarted { client }
        | Event::LockLost { client }
        | Event::Refused { client, .. }
        | Event::ClientCrashed { client }
        | Event::ResourceRead { client, .. }
        | Event::WriteApplied { client, .. }
        | Event::WriteRejected { client, .. } => Some(client),
        Event::KeySet { owner, .. } => Some(owner),
        Event::KeyDeleted { by, .. } => Some(by),
        _ => None,
    }
}

/// The scenario whose system a history describes, when the caller names none: the lock on its
/// nodes, with the resource its records show, and the pitfall encodings their records show (a
/// key set with no TTL, a key deleted by another client). Only member faults tell an etcd
/// history from a single Redis node's; name the etcd scenario for one without them.
fn infer(f: &Facts) -> &'static Scenario {
    let name = match (f.resource_events, f.tokens, f.failovers > 0, f.nodes) {
        _ if f.members && f.tokens => "etcd-lease-revision",
        _ if f.members => "etcd-lease",
        // The pitfalls' own records (a `GET` then `DEL` release deletes like a plain `DEL`).
        (_, _, _, 1) if f.setnx => "single-setnx-then-expire",
        (_, _, _, 1) if f.foreign_delete => "single-plain-del",
        (true, true, _, _) => "pause-fenced",
        (true, false, _, _) => "pause-unfenced",
        (false, _, true, _) => "failover-async-replica",
        (false, _, false, 1) => "single-node",
        (false, _, false, 3) => "redlock-n3",
        _ => "redlock",
    };
    find(name).expect("a scenario of the table")
}

/// The scenario's system, sized and equipped for the history: its nodes and clients, clients
/// that acquire again and again, retry and extend without limit, and the faults it shows.
fn setup_for(template: Setup, f: &Facts) -> Result<Setup, String> {
    let service = template.service;
    if service != Service::Redis && f.nodes != 1 {
        return Err(format!("{} runs on one server; the history's lock spans {}", template.scenario, f.nodes));
    }
    let fencing = match (f.tokens, template.fencing, service) {
        (false, _, _) => Fencing::Off,
        (true, Fencing::Off | Fencing::Unique, Service::Etcd) => Fencing::Revision,
        (true, Fencing::Off | Fencing::Unique, _) => Fencing::Counter,
        (true, t, _) => t,
    };
    let resource = match (f.resource_events, template.resource) {
        (false, _) => None,
        (true, Some(r)) => Some(r),
        (true, None) if f.tokens || f.rejected_writes => Some(Resource::FencedByHolder),
        (true, None) => Some(Resource::Unfenced),
    };
    let restart = match (f.crashes, template.restart) {
        (0, _) => None,
        (_, Some(Restart::Delayed)) => Some(Restart::Delayed),
        (_, _) if f.persisted == Some(true) => Some(Restart::Fsync),
        _ => Some(Restart::Empty),
    };
    Ok(Setup {
        timing: Timing::Async,
        lifted: Hazards::ALL,
        bounds: Bounds { delay: None, skew: None, pause: None },
        servers: f.nodes as u8,
        clients: f.clients.len() as u8,
        attempts: u8::MAX,
        ttl: MODEL_TTL,
        drift: 0,
        node_timeout: 6,
        retry_delay: 1,
        write_margin: 0,
        encoding: template.encoding,
        fencing,
        resource,
        watchdog: template.watchdog || f.extended,
        max_extensions: u8::MAX,
        repeat: true,
        restart,
        failover: f.failovers > 0,
        replicas: if f.failovers > 0 { template.replicas.max(1) } else { template.replicas },
        clock_jump: None,
        client_crash: f.client_crashes > 0,
        eviction: f.evictions > 0,
        pauses: 0,
        ..template
    })
}

/// The compared records, with the history's client ids renamed to the model's (by their order).
fn expected(records: &[Record], f: &Facts) -> Vec<Expected> {
    let rename = |c: ClientId| ClientId(f.clients.iter().position(|x| *x == c).unwrap_or(0) as u32);
    let start = records.first().map_or(0, |r| r.t_ns);
    let ns_per_tick = (f.ttl_ms.max(1) as u128 * 1_000_000 / MODEL_TTL as u128).max(1);
    let tick = |t_ns: u64| (t_ns.saturating_sub(start) as u128 / ns_per_tick) as u64;
    let mut crashed = BTreeSet::new();
    let mut releasing = BTreeSet::new();
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let number = i as u64 + 1;
        match r.event {
            Event::ReleaseStarted { client } => {
                releasing.insert(client);
            }
            Event::AcquireStarted { client } | Event::LockLost { client } => {
                releasing.remove(&client);
            }
            // The model's release is a command without an answer: a node's refusal of a
            // release is not in its vocabulary.
            Event::Refused { client, .. } if releasing.contains(&client) => continue,
            _ => {}
        }
        let event = match r.event.clone() {
            Event::Fault { fault: Fault::Crash { node, persisted } } => {
                crashed.insert(node);
                Event::Fault { fault: Fault::Crash { node, persisted } }
            }
            // A node that answers again after a crash restarted; after a pause it only resumed.
            Event::NodeUp { node } if crashed.remove(&node) => Event::NodeUp { node },
            e => match compared(e) {
                Some(e) => e,
                None => continue,
            },
        };
        let event = rename_clients(event, rename);
        let lane = lane(&event);
        out.push(Expected { event, lane, number, original: r.event.clone(), tick: tick(r.t_ns) });
    }
    out
}

/// The part of an event that is compared (durations dropped), or `None` for events that are
/// not compared at all.
fn compared(e: Event) -> Option<Event> {
    Some(match e {
        Event::Granted { client, token, .. } => Event::Granted { client, validity_ms: 0, token },
        Event::Extended { client, .. } => Event::Extended { client, validity_ms: 0 },
        Event::KeySet { node, owner, ttl_ms } => Event::KeySet { node, owner, ttl_ms: ttl_ms.map(|_| 0) },
        Event::Fault { fault: Fault::Failover { node } } => Event::Fault { fault: Fault::Failover { node } },
        Event::Setup { .. }
        | Event::ValidityEnded { .. }
        | Event::KeyExpired { .. }
        | Event::NodeDown { .. }
        | Event::NodeUp { .. }
        | Event::Fault { .. } => return None,
        e => e,
    })
}

/// What a model step shows, compared as the history's records are: a crash keeps its marker and
/// a restart its `NodeUp`; the key a restart or failover loses is not compared (the harness
/// records the fault, not each key).
fn shown(events: Vec<Event>) -> Vec<Event> {
    let restarts = events.iter().any(|e| matches!(e, Event::NodeUp { .. } | Event::Fault { fault: Fault::Failover { .. } }));
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Fault { fault: Fault::Crash { node, persisted } } => Some(Event::Fault { fault: Fault::Crash { node, persisted } }),
            Event::NodeUp { node } => Some(Event::NodeUp { node }),
            Event::KeyLost { .. } if restarts => None,
            e => compared(e),
        })
        .collect()
}

fn rename_clients(e: Event, rename: impl Fn(ClientId) -> ClientId) -> Event {
    match e {
        Event::AcquireStarted { client } => Event::AcquireStarted { client: rename(client) },
        Event::Granted { client, validity_ms, token } => Event::Granted { client: rename(client), validity_ms, token },
        Event::AcquireFailed { client } => Event::AcquireFailed { client: rename(client) },
        Event::Extended { client, validity_ms } => Event::Extended { client: rename(client), validity_ms },
        Event::ValidityEnded { client } => Event::ValidityEnded { client: rename(client) },
        Event::ReleaseStarted { client } => Event::ReleaseStarted { client: rename(client) },
        Event::LockLost { client } => Event::LockLost { client: rename(client) },
        Event::Refused { client, node } => Event::Refused { client: rename(client), node },
        Event::KeySet { node, owner, ttl_ms } => Event::KeySet { node, owner: rename(owner), ttl_ms },
        Event::KeyDeleted { node, owner, by } => Event::KeyDeleted { node, owner: rename(owner), by: rename(by) },
        Event::KeyExpired { node, owner } => Event::KeyExpired { node, owner: rename(owner) },
        Event::KeyLost { node, owner } => Event::KeyLost { node, owner: rename(owner) },
        Event::ClientCrashed { client } => Event::ClientCrashed { client: rename(client) },
        Event::ResourceRead { client, value, token } => Event::ResourceRead { client: rename(client), value, token },
        Event::WriteApplied { client, value, token } => Event::WriteApplied { client: rename(client), value, token },
        Event::WriteRejected { client, token } => Event::WriteRejected { client: rename(client), token },
        e @ (Event::Setup { .. } | Event::NodeDown { .. } | Event::NodeUp { .. } | Event::Fault { .. }) => e,
    }
}

fn lane(e: &Event) -> Lane {
    match e {
        Event::KeyLost { .. } | Event::Fault { .. } | Event::NodeUp { .. } | Event::NodeDown { .. } => Lane::Faults,
        e => client_of(e).map_or(Lane::Faults, |c| Lane::Client(c.0)),
    }
}

/// Tokens seen so far: the history's value and the model's, one for one, in the same order.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
struct TokenMap(BTreeMap<u64, u64>);

impl TokenMap {
    /// Pairs `real` with `model` if that keeps the renaming one-to-one and order-preserving.
    fn pair(&mut self, real: u64, model: u64) -> bool {
        if let Some(&m) = self.0.get(&real) {
            return m == model;
        }
        let below = self.0.range(..real).next_back().map(|(_, m)| *m);
        let above = self.0.range(real..).next().map(|(_, m)| *m);
        if below.is_some_and(|b| b >= model) || above.is_some_and(|a| a <= model) {
            return false;
        }
        self.0.insert(real, model);
        true
    }

    fn same(&mut self, real: Option<u64>, model: Option<u64>) -> bool {
        match (real, model) {
            (None, None) => true,
            (Some(r), Some(m)) => self.pair(r, m),
            _ => false,
        }
    }
}

/// Whether the model's event is the history's, pairing their tokens.
fn matches(real: &Event, model: &Event, tokens: &mut TokenMap) -> bool {
    match (real, model) {
        (Event::Granted { client: a, token: t, .. }, Event::Granted { client: b, token: u, .. }) => a == b && tokens.same(*t, *u),
        (Event::ResourceRead { client: a, value: v, token: t }, Event::ResourceRead { client: b, value: w, token: u })
        | (Event::WriteApplied { client: a, value: v, token: t }, Event::WriteApplied { client: b, value: w, token: u }) => {
            a == b && v == w && tokens.same(*t, *u)
        }
        (Event::WriteRejected { client: a, token: t }, Event::WriteRejected { client: b, token: u }) => a == b && tokens.same(*t, *u),
        (a, b) => a == b,
    }
}

/// A point of the search: a model state and how far the history is matched.
#[derive(Clone)]
struct Node {
    state: SystemState,
    /// Every record before `pos` is matched, and those in `later` (offsets from `pos`).
    pos: usize,
    later: u32,
    tokens: TokenMap,
    silent: u8,
    /// Ticks taken so far (a guide only: not part of what makes two points the same).
    now: u64,
    /// The steps that led here, newest first.
    trail: Option<Rc<Trail>>,
}

/// A path of the search, as a list that shares its beginnings.
struct Trail {
    action: Action,
    parent: Option<Rc<Trail>>,
}

struct Search {
    sys: LockSystem,
    expected: Vec<Expected>,
    /// Records of different clients may be matched out of order within this many.
    window: usize,
    /// 0: silent steps of one rank in the order the model lists them; otherwise shuffled by a
    /// generator seeded with this.
    seed: u64,
    random: u64,
    max_states: u64,
    states: u64,
    /// The fewest silent steps each (state, progress) was reached with.
    seen: HashMap<u64, u8>,
    furthest: usize,
    furthest_states: Vec<SystemState>,
    furthest_trail: Option<Rc<Trail>>,
    /// The faults the history shows, each for the model to take once.
    faults: crate::system::Budget,
}

impl Search {
    fn new(setup: Setup, f: &Facts, expected: Vec<Expected>, max_states: u64, window: usize, seed: u64) -> Search {
        let mut sys = LockSystem::new(setup);
        sys.judge_in_state = false;
        let faults = crate::system::Budget {
            pauses: 0,
            jumps: 0,
            crashes: f.crashes,
            failovers: f.failovers,
            client_crashes: f.client_crashes,
            evictions: f.evictions,
            losses: f.losses,
        };
        Search {
            sys,
            expected,
            window,
            seed,
            random: 0,
            max_states,
            states: 0,
            seen: HashMap::new(),
            furthest: 0,
            furthest_states: Vec::new(),
            furthest_trail: None,
            faults,
        }
    }

    fn run(&mut self) -> Outcome {
        let mut stack: Vec<Node> = self
            .sys
            .init_states()
            .into_iter()
            .map(|state| Node {
                state: SystemState { budget: self.faults, ..state },
                pos: 0,
                later: 0,
                tokens: TokenMap::default(),
                silent: 0,
                now: 0,
                trail: None,
            })
            .collect();
        let mut actions = Vec::new();
        while let Some(node) = stack.pop() {
            if node.pos == self.expected.len() {
                self.furthest_trail = node.trail.clone();
                self.print_trail_if_asked();
                return Outcome::Accepted;
            }
            if !self.first_visit(&node) {
                continue;
            }
            self.states += 1;
            if node.pos > self.furthest {
                self.furthest = node.pos;
                self.furthest_states.clear();
                self.furthest_trail = node.trail.clone();
            }
            if node.pos == self.furthest && self.furthest_states.len() < 3 {
                self.furthest_states.push(node.state.clone());
            }
            if self.states >= self.max_states {
                self.print_trail_if_asked();
                let e = &self.expected[self.furthest];
                let states = self.furthest_states.iter().map(|s| self.render(s)).collect();
                return Outcome::Undecided { number: e.number, record: describe(&e.original), states };
            }
            actions.clear();
            self.sys.actions(&node.state, &mut actions);
            let mut silent: Vec<(u8, Node)> = Vec::new();
            let mut matched: Vec<Node> = Vec::new();
            for action in &actions {
                let Some((state, events)) = self.sys.step(&node.state, action) else { continue };
                let now = node.now + matches!(action, Action::Tick { .. }) as u64;
                let trail = Some(Rc::new(Trail { action: action.clone(), parent: node.trail.clone() }));
                let shown = shown(events);
                if shown.is_empty() {
                    if node.silent < MAX_SILENT_STEPS {
                        let priority = self.priority(&node, action);
                        silent.push((priority, Node { state, silent: node.silent + 1, now, trail, ..node.clone() }));
                    }
                } else if let Some((pos, later, tokens)) = self.advance(&node, &shown) {
                    matched.push(Node { state, pos, later, tokens, silent: 0, now, trail });
                }
            }
            // Explored first: requests reaching their servers and refused there (on loopback a
            // request is served within a millisecond, long before most later records); then
            // what matches; then the other silent steps, those that bear on the next record
            // first.
            let mut tiebreak: Vec<(u8, u64, Node)> = silent.into_iter().map(|(p, n)| (p, self.next_random(), n)).collect();
            tiebreak.sort_by_key(|(p, r, _)| (std::cmp::Reverse(*p), *r));
            let mut silent: Vec<(u8, Node)> = tiebreak.into_iter().map(|(p, _, n)| (p, n)).collect();
            let eager = silent.iter().position(|(p, _)| *p == EAGER).unwrap_or(silent.len());
            let first = silent.split_off(eager);
            stack.extend(silent.into_iter().map(|(_, n)| n));
            stack.extend(matched.into_iter().rev());
            stack.extend(first.into_iter().map(|(_, n)| n));
        }
        self.print_trail_if_asked();
        let e = &self.expected[self.furthest];
        let states = self.furthest_states.iter().map(|s| self.render(s)).collect();
        Outcome::Rejected { number: e.number, record: describe(&e.original), states }
    }

    /// A tiebreak: 0 without a seed, else the next number of a SplitMix64 sequence.
    fn next_random(&mut self) -> u64 {
        if self.seed == 0 {
            return 0;
        }
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15 ^ self.seed);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Prints the path that got furthest when `VALIDATE_TRACE` is set.
    fn print_trail_if_asked(&self) {
        if std::env::var_os("VALIDATE_TRACE").is_some() {
            eprintln!("{}", self.furthest_path().join("\n"));
        }
    }

    /// The first path that got furthest, step by step.
    fn furthest_path(&self) -> Vec<String> {
        let mut steps = Vec::new();
        let mut at = self.furthest_trail.clone();
        while let Some(t) = at {
            steps.push(crate::trace::action_label(&self.sys, &t.action));
            at = t.parent.clone();
        }
        steps.reverse();
        steps
    }

    fn first_visit(&mut self, node: &Node) -> bool {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        node.state.hash(&mut h);
        node.pos.hash(&mut h);
        node.later.hash(&mut h);
        node.tokens.hash(&mut h);
        match self.seen.entry(h.finish()) {
            std::collections::hash_map::Entry::Occupied(mut o) if *o.get() > node.silent => {
                o.insert(node.silent);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(node.silent);
                true
            }
        }
    }

    /// Lower is explored sooner: steps of the next record's client, then other deliveries,
    /// then other actors' own steps, then time while the model's clock is not ahead of the
    /// next record's stamp, then faults, then time running ahead of the history; last what a
    /// real run seldom does early: a client giving up on a node, a key or lease expiring, a
    /// message lost.
    fn priority(&self, node: &Node, action: &Action) -> u8 {
        let lane_client = match self.expected[node.pos].lane {
            Lane::Client(c) => Some(c),
            Lane::Faults => None,
        };
        let client_actor = lane_client.map(|c| self.sys.setup.client_actor(c as u8));
        match *action {
            Action::Timeout { timer: Timer::Deadline, .. } => 7,
            Action::Timeout { timer: Timer::Expire | Timer::LeaseExpire { .. }, .. } => 8,
            Action::Lose { .. } => 9,
            // A request reaches its server at once, as on loopback: what it does there shows
            // (a key set) or it was refused, and a refusal is better taken early than late.
            Action::Deliver { dst, .. } if self.sys.setup.server_at(dst).is_some() => EAGER,
            Action::Deliver { src, dst, .. } if Some(src) == client_actor || Some(dst) == client_actor => 1,
            Action::Timeout { actor, .. } if Some(actor) == client_actor => 1,
            // The tick that starts (or resumes) the next record's client.
            Action::Tick { then } if lane_client.is_some_and(|c| then & (1 << c) != 0) => 1,
            Action::Deliver { .. } => 2,
            Action::Timeout { .. } => 3,
            Action::Tick { .. } if node.now <= self.expected[node.pos].tick => 4,
            Action::Tick { .. } => 6,
            _ => 5,
        }
    }

    /// The progress after the model shows `shown`, if each of its events is the next unmatched
    /// record of its lane within the reorder window.
    fn advance(&self, node: &Node, shown: &[Event]) -> Option<(usize, u32, TokenMap)> {
        let mut later = node.later;
        let mut tokens = node.tokens.clone();
        let end = (node.pos + self.window).min(self.expected.len());
        for event in shown {
            let lane = lane(event);
            let offset =
                (node.pos..end).map(|i| i - node.pos).find(|&o| later & (1 << o) == 0 && self.expected[node.pos + o].lane == lane)?;
            if !matches(&self.expected[node.pos + offset].event, event, &mut tokens) {
                return None;
            }
            later |= 1 << offset;
        }
        let mut pos = node.pos;
        while later & 1 == 1 {
            later >>= 1;
            pos += 1;
        }
        Some((pos, later, tokens))
    }

    fn render(&self, s: &SystemState) -> String {
        s.actors
            .actor_states
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let name = crate::trace::actor_name(&self.sys, i);
                let down = if s.actors.crashed[i] { " (down)" } else { "" };
                match &**a {
                    ActorState::Client(c) => format!("{name}{down}: {c}"),
                    other => format!("{name}{down}: {other}"),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A record, as its line reads.
fn describe(e: &Event) -> String {
    serde_json::to_string(e).unwrap_or_else(|_| format!("{e:?}"))
}

/// Reads a history file (NDJSON records; `-` reads stdin), skipping blank lines.
pub fn read_history(path: &str) -> Result<Vec<Record>, String> {
    let reader: Box<dyn std::io::BufRead> = if path == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?))
    };
    let mut lines = Lines::new(reader);
    let mut records = Vec::new();
    loop {
        let number = lines.number() + 1;
        let Some(bytes) = lines.next_line().map_err(|e| format!("{path}: {e}"))? else { break };
        if let Some(record) = parse_line(bytes, number).map_err(|e| format!("{path}: line {number}: {e}"))? {
            records.push(record);
        }
    }
    if records.is_empty() {
        return Err(format!("{path}: no records"));
    }
    Ok(records)
}
