//! The system model: Stateright's [`ActorModel`] of clients, lock servers and the resource,
//! wrapped in a thin [`Model`] that owns what touches every actor at once.
//!
//! `ActorModel` has no clock: its timers fire at any moment and nothing makes a message older
//! than a bound arrive before time moves on. The wrapper adds
//! - real time: a [`Action::Tick`] lowers every countdown by one (key expiry windows, restart
//!   delays, bounded pauses) and advances every running client's clock; it is enabled only
//!   while some countdown is running, so the search ends without any horizon, and disabled
//!   while something is due that must happen first (an overdue expiry, a client's due timer,
//!   and, with bounded delay, a message in flight);
//! - gating of the actors' timers by their own clocks (`Due`);
//! - the faults: pause and resume of a client, a server's clock jump, crash and restart of a
//!   server (with or without its keys), failover to the replica, a client crash;
//! - the judge: every event of every step, time passing included, is folded into the shipped
//!   [`Judge`] kept in the state, and each `Always` property reads its verdict.

use crate::actor::{ActorState, LockActor, Role};
use crate::client::{Client, ClientState, Pause};
use crate::msg::Due;
use crate::msg::{Msg, Timer};
use crate::server::{Server, ServerState};
use crate::setup::{Restart, Setup, Window};
use redlock_client::event::{ClientId, Event, Fault, NodeId};
use redlock_client::judge::Judge;
use redlock_client::protocol::Reply;
use serde::Serialize;
use stateright::actor::{ActorModel, ActorModelAction, ActorModelState, Id, LossyNetwork, Network};
use stateright::Model;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The faults a run may still inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Budget {
    pub pauses: u8,
    pub jumps: u8,
    pub crashes: u8,
    pub failovers: u8,
    pub client_crashes: u8,
    pub evictions: u8,
    /// Messages the network may lose (trace validation only: a scenario's lost message is one
    /// delayed past the end of the run, see [`crate::setup::Bounds`]).
    pub losses: u8,
}

/// The whole system: actors, network, timers (Stateright's), the judge and the fault budget.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SystemState {
    pub actors: ActorModelState<LockActor>,
    pub judge: Judge,
    pub budget: Budget,
    /// With a delay bound above 0: how many ticks each message in flight has waited, flow by
    /// flow, oldest first (empty otherwise: a bound of 0 needs no ages).
    pub ages: BTreeMap<(usize, usize), VecDeque<u8>>,
}

/// A client's first step, starting to acquire, and its return from a pause are taken together
/// with a tick, at the very beginning of the new tick, before anything else happens in it. Both
/// are enabled from the beginning of a tick on, so this loses no behaviour the judge can see:
/// such a step changes nothing but its own client's state and outgoing messages, so it commutes
/// with everything else in the tick, and its clock reads the same anywhere within one tick;
/// taking it later in a tick is the same as taking it at the beginning and having its messages
/// arrive later. Steps that become enabled in the middle of a tick, such as starting the work
/// after a grant or releasing after it, stay ordinary steps: moving them to the next tick would
/// delay them. It cuts the state space manyfold, with no flag in the state.
fn is_quiet_timer(timer: Timer) -> bool {
    matches!(timer, Timer::Start)
}

/// One step of the system. Actor steps are Stateright's; the rest are the wrapper's.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// A message arrives.
    Deliver { src: usize, dst: usize, msg: Msg },
    /// An actor's own step.
    Timeout { actor: usize, timer: Timer },
    /// One tick of real time passes; then each client in `then` (a bit each) takes its quiet
    /// step: start acquiring, or resume after a pause.
    Tick { then: u8 },
    /// A client stops taking steps (GC pause).
    Pause { client: u8 },
    /// A server's clock jumps forward.
    ClockJump { server: u8, by: u8 },
    /// A server crashes.
    Crash { server: u8 },
    /// It restarts.
    Restart { server: u8 },
    /// A replica is promoted to primary.
    Failover { server: u8, replica: u8 },
    /// A client process dies.
    ClientCrash { client: u8 },
    /// A server evicts the lock key before its expiry (memory pressure).
    Evict { server: u8 },
    /// The oldest message from `src` to `dst` is lost, and the connection goes on with the next
    /// (a client that reconnects after a reset).
    Lose { src: usize, dst: usize },
}

/// A lock system built from a [`Setup`].
pub struct LockSystem {
    pub setup: Arc<Setup>,
    pub actors: ActorModel<LockActor>,
    /// Keep the judge's state in the model's state (always, except to measure what it costs:
    /// without it no property can be decided).
    pub judge_in_state: bool,
    /// Expand every reachable state, for counting and measuring spaces. Stateright does not
    /// expand a state where every property is already decided (each `Always` broken, each
    /// `Sometimes` met); with this on, a [`WHOLE_SPACE`] witness that no state meets keeps every
    /// state open, and a checker told to finish on it never finishes early.
    pub whole_space: bool,
    /// Stop at settled states, where nothing left of the run can change a verdict, and drop
    /// dead messages (`settled.rs`): on for the searches that decide verdicts, off where whole
    /// spaces are counted (the TLA+ twin's state counts, the bench) and shown (the Explorer).
    pub reduce_settled: bool,
}

/// The name of the witness that [`LockSystem::whole_space`] adds.
pub const WHOLE_SPACE: &str = "(explore the whole space)";

impl LockSystem {
    pub fn new(setup: Setup) -> LockSystem {
        let setup = Arc::new(setup);
        let servers = setup.servers as usize;
        let clients = setup.clients as usize;
        // Where the clients' writes go; no message is sent to it when the setup has no resource.
        let resource = Id::from(setup.client_actor(setup.clients));
        let mut actors = ActorModel::new((), ()).init_network(Network::new_ordered([])).lossy_network(LossyNetwork::No);
        for index in 0..servers {
            let server = Server { index: index as u8 };
            actors = actors.actor(LockActor { setup: setup.clone(), role: Role::Server(server) });
        }
        for index in 0..clients {
            let client = Client { index: index as u8, resource };
            actors = actors.actor(LockActor { setup: setup.clone(), role: Role::Client(client) });
        }
        if setup.resource.is_some() {
            actors = actors.actor(LockActor { setup: setup.clone(), role: Role::Resource });
        }
        LockSystem { setup, actors, judge_in_state: true, whole_space: false, reduce_settled: false }
    }

    /// Whether the actor at `index` takes no step now (crashed, or a paused client).
    fn stopped(&self, s: &SystemState, index: usize) -> bool {
        s.actors.crashed[index] || self.paused(s, index)
    }

    fn paused(&self, s: &SystemState, index: usize) -> bool {
        s.actors.actor_states[index].as_client().is_some_and(|c| c.paused.is_some())
    }

    /// The server at `index` died: every connection to it breaks, so the requests still on their
    /// way to it fail now.
    fn break_connections(s: &mut SystemState, index: usize) -> Option<()> {
        while let Some((src, msg)) = Self::first_request_to(s, index) {
            Self::refuse(s, src, index, &msg)?;
        }
        Some(())
    }

    /// The first message of some flow into actor `index`, with its sender.
    fn first_request_to(s: &SystemState, index: usize) -> Option<(usize, Msg)> {
        let Network::Ordered(flows) = &s.actors.network else { return None };
        flows
            .iter()
            .find(|((_, dst), q)| usize::from(*dst) == index && !q.is_empty())
            .and_then(|((src, _), q)| q.front().map(|m| (usize::from(*src), m.clone())))
    }

    /// A request reaches a crashed server: the connection is refused, so the client gets an
    /// error at once (for a command that expects a reply) instead of waiting out its timeout.
    fn refuse(s: &mut SystemState, src: usize, dst: usize, msg: &Msg) -> Option<()> {
        let Network::Ordered(flows) = &mut s.actors.network else { return None };
        let key = (Id::from(src), Id::from(dst));
        let flow = flows.get_mut(&key)?;
        if flow.front() != Some(msg) {
            return None;
        }
        flow.pop_front();
        if flow.is_empty() {
            flows.remove(&key);
        }
        let reply = match *msg {
            Msg::Acquire { round, .. } => Msg::AcquireReply { round, reply: Reply::Error },
            Msg::Extend { round } => Msg::ExtendReply { round, reply: Reply::Error },
            _ => return Some(()),
        };
        flows.entry((Id::from(dst), Id::from(src))).or_default().push_back(reply);
        Some(())
    }

    pub fn timer_due(&self, s: &SystemState, index: usize, timer: Timer) -> Due {
        self.actors.actors[index].due(&s.actors.actor_states[index], timer)
    }

    /// Some countdown runs: a tick would change something.
    fn counting(&self, s: &SystemState) -> bool {
        s.actors.actor_states.iter().enumerate().any(|(i, a)| match &**a {
            ActorState::Server(server) => server.counts_time(),
            ActorState::Client(client) => !s.actors.crashed[i] && client.counts_time(&self.setup),
            ActorState::Resource(_) => false,
        })
    }

    /// Clients ready for a quiet step (a bit each): idle ones may start, paused ones may resume.
    fn quiet_ready(&self, s: &SystemState) -> u8 {
        let mut ready = 0;
        for client in 0..self.setup.clients {
            let index = self.setup.client_actor(client);
            if s.actors.crashed[index] {
                continue;
            }
            let paused = self.client_state(s, client).paused.is_some();
            let quiet_due = s.actors.timers_set[index].iter().any(|t| is_quiet_timer(*t) && self.timer_due(s, index, *t) != Due::No);
            if paused || quiet_due {
                ready |= 1 << client;
            }
        }
        ready
    }

    /// Paused clients whose pause bound runs out with the next tick (a bit each).
    fn pause_ending(&self, s: &SystemState) -> u8 {
        (0..self.setup.clients)
            .filter(|&c| self.client_state(s, c).paused.is_some_and(|p| p.left.is_some_and(|l| l <= 1)))
            .fold(0, |m, c| m | 1 << c)
    }

    /// Real time may pass: some countdown runs or a client is ready for a quiet step, and
    /// nothing is due that must come first.
    fn time_may_pass(&self, s: &SystemState) -> bool {
        if !self.counting(s) && self.quiet_ready(s) == 0 {
            return false;
        }
        let urgent_timer = s
            .actors
            .timers_set
            .iter()
            .enumerate()
            .any(|(i, timers)| !self.stopped(s, i) && timers.iter().any(|t| self.timer_due(s, i, *t) == Due::Now));
        let message_due = self.message_due(s);
        !(urgent_timer || message_due)
    }

    fn client_state<'a>(&self, s: &'a SystemState, client: u8) -> &'a ClientState {
        s.actors.actor_states[self.setup.client_actor(client)].as_client().expect("a client")
    }

    fn server_state<'a>(&self, s: &'a SystemState, server: u8) -> &'a ServerState {
        s.actors.actor_states[server as usize].as_server().expect("a server")
    }

    fn update_client(&self, s: &mut SystemState, client: u8, f: impl FnOnce(&mut ClientState)) {
        let index = self.setup.client_actor(client);
        if let ActorState::Client(c) = Arc::make_mut(&mut s.actors.actor_states[index]) {
            f(c);
        }
    }

    fn set_server(&self, s: &mut SystemState, server: u8, state: ServerState) {
        s.actors.actor_states[server as usize] = Arc::new(ActorState::Server(state));
    }

    /// Collects the events that the last step left in actor states, and forgets what no longer
    /// matters (finished clients' clocks).
    fn settle(&self, s: &mut SystemState, events: &mut Vec<Event>) {
        for i in 0..s.actors.actor_states.len() {
            let a = &s.actors.actor_states[i];
            let needs_normalizing = a.as_client().is_some_and(|c| c.stage == crate::client::Stage::Done && c.clock != 0);
            if a.has_events() || needs_normalizing {
                let a = Arc::make_mut(&mut s.actors.actor_states[i]);
                events.extend(a.take_events());
                if let ActorState::Client(c) = a {
                    c.normalize();
                }
            }
        }
    }

    /// Takes one step and returns the next state with the events it produced, in order; the
    /// judge in the returned state has observed them.
    pub fn step(&self, last: &SystemState, action: &Action) -> Option<(SystemState, Vec<Event>)> {
        let mut events = Vec::new();
        let mut next = match inner_action(action) {
            Some(_) if matches!(action, Action::Deliver { dst, .. } if last.actors.crashed[*dst]) => {
                let Action::Deliver { src, dst, msg } = action else { unreachable!() };
                let mut next = last.clone();
                Self::refuse(&mut next, *src, *dst, msg)?;
                next
            }
            Some(inner) => SystemState {
                actors: self.actors.next_state(&last.actors, inner)?,
                judge: last.judge.clone(),
                budget: last.budget,
                ages: last.ages.clone(),
            },
            None => self.apply_environment(last, action, &mut events)?,
        };
        self.follow_ages(&mut next);
        self.settle(&mut next, &mut events);
        if self.judge_in_state {
            for e in &events {
                next.judge.observe(e);
            }
        }
        Some((next, events))
    }

    /// Keeps the ages in step with the network: a step only takes messages from the front of a
    /// flow or adds them at its back (never both to one flow), so a flow that shrank lost its
    /// oldest ages and one that grew gained new messages of age 0.
    fn follow_ages(&self, s: &mut SystemState) {
        if !matches!(self.setup.bounds.delay, Some(d) if d > 0) {
            return;
        }
        let Network::Ordered(flows) = &s.actors.network else { return };
        s.ages.retain(|flow, _| flows.contains_key(&(Id::from(flow.0), Id::from(flow.1))));
        for ((src, dst), q) in flows {
            let ages = s.ages.entry((usize::from(*src), usize::from(*dst))).or_default();
            while ages.len() > q.len() {
                ages.pop_front();
            }
            while ages.len() < q.len() {
                ages.push_back(0);
            }
        }
    }

    /// A message to a running actor has waited as long as the delay bound allows.
    fn message_due(&self, s: &SystemState) -> bool {
        let Some(bound) = self.setup.bounds.delay else { return false };
        let Network::Ordered(flows) = &s.actors.network else { return false };
        flows.iter().any(|((src, dst), q)| {
            let dst = usize::from(*dst);
            !q.is_empty()
                && !self.paused(s, dst)
                && s.ages.get(&(usize::from(*src), dst)).and_then(|a| a.front()).copied().unwrap_or(0) >= bound
        })
    }

    /// Removes every message in flight to actor `index` (it crashed: they are lost).
    fn purge_messages_to(s: &mut SystemState, index: usize) {
        if let Network::Ordered(flows) = &mut s.actors.network {
            flows.retain(|(_, dst), _| usize::from(*dst) != index);
        }
    }

    fn tick(&self, s: &mut SystemState, events: &mut Vec<Event>) {
        // Messages to running actors wait one more tick (those to a paused client sit in its
        // socket buffer: delivered, not yet read).
        let paused: Vec<bool> = (0..s.actors.actor_states.len()).map(|i| self.paused(s, i)).collect();
        for ((_, dst), ages) in s.ages.iter_mut() {
            if !paused[*dst] {
                ages.iter_mut().for_each(|a| *a = a.saturating_add(1));
            }
        }
        for i in 0..s.actors.actor_states.len() {
            let a = Arc::make_mut(&mut s.actors.actor_states[i]);
            match a {
                ActorState::Server(server) => server.tick(),
                ActorState::Client(c) => {
                    c.tick(&self.setup);
                    let expired = c.held_until().is_some_and(|u| u.0 <= c.clock as u64);
                    let client = ClientId(u32::from(self.setup.client_at(i).expect("a client actor")));
                    if expired && s.judge.holders().any(|h| h == client) {
                        events.push(Event::ValidityEnded { client });
                    }
                }
                ActorState::Resource(_) => {}
            }
        }
    }

    fn fault_actions(&self, s: &SystemState, actions: &mut Vec<Action>) {
        let setup = &self.setup;
        let has_resource = setup.resource.is_some();
        for client in 0..setup.clients {
            let index = self.setup.client_actor(client);
            if s.actors.crashed[index] {
                continue;
            }
            let c = self.client_state(s, client);
            if c.paused.is_none() && s.budget.pauses > 0 && setup.bounds.pause != Some(0) && c.at_pause_point(has_resource) {
                actions.push(Action::Pause { client });
            }
            if setup.client_crash && s.budget.client_crashes > 0 && !c.expire_pending.is_empty() {
                actions.push(Action::ClientCrash { client });
            }
        }
        for server in 0..setup.servers {
            let down = s.actors.crashed[server as usize];
            if down {
                if self.server_state(s, server).down.is_some_and(|w| w.due()) {
                    actions.push(Action::Restart { server });
                }
                continue;
            }
            if let Some(by) = setup.clock_jump {
                if s.budget.jumps > 0 {
                    actions.push(Action::ClockJump { server, by });
                }
            }
            if setup.restart.is_some() && s.budget.crashes > 0 {
                actions.push(Action::Crash { server });
            }
            // Redis evicts keys with a TTL (`volatile-*`); PostgreSQL ends a session whatever its lock.
            let evictable = |k: &crate::server::Key| k.life.is_some() || setup.service == crate::setup::Service::Postgres;
            if setup.eviction && s.budget.evictions > 0 && self.server_state(s, server).key.as_ref().is_some_and(evictable) {
                actions.push(Action::Evict { server });
            }
            if setup.failover && s.budget.failovers > 0 {
                for replica in 0..setup.replicas {
                    actions.push(Action::Failover { server, replica });
                }
            }
        }
        if s.budget.losses > 0 {
            if let Network::Ordered(flows) = &s.actors.network {
                for ((src, dst), q) in flows {
                    if !q.is_empty() {
                        actions.push(Action::Lose { src: usize::from(*src), dst: usize::from(*dst) });
                    }
                }
            }
        }
    }

    /// The steps no actor takes: time passing, pauses, clock jumps, crashes, restarts, lost
    /// messages (the actors' own steps go through Stateright's actor model).
    fn apply_environment(&self, last: &SystemState, action: &Action, events: &mut Vec<Event>) -> Option<SystemState> {
        let setup = &self.setup;
        let mut s = last.clone();
        match *action {
            Action::Tick { then } => {
                self.tick(&mut s, events);
                for client in (0..setup.clients).filter(|c| then & (1 << c) != 0) {
                    let index = self.setup.client_actor(client);
                    if self.client_state(&s, client).paused.is_some() {
                        self.update_client(&mut s, client, |c| c.paused = None);
                        events.push(Event::Fault { fault: Fault::ClientResumed { client: ClientId(client as u32) } });
                    } else {
                        let timer = *s.actors.timers_set[index].iter().find(|t| is_quiet_timer(**t))?;
                        s.actors = self.actors.next_state(&s.actors, ActorModelAction::Timeout(Id::from(index), timer))?;
                        self.settle(&mut s, events);
                    }
                }
            }
            Action::Pause { client } => {
                s.budget.pauses -= 1;
                self.update_client(&mut s, client, |c| c.paused = Some(Pause { left: setup.bounds.pause }));
                events.push(Event::Fault { fault: Fault::ClientPaused { client: ClientId(client as u32) } });
            }
            Action::ClockJump { server, by } => {
                s.budget.jumps -= 1;
                let mut state = self.server_state(&s, server).clone();
                state.jump(by, !setup.lifted.clock);
                self.set_server(&mut s, server, state);
                events.push(Event::Fault { fault: Fault::ClockJump { node: NodeId(server as u32), by_ms: by as i64 } });
            }
            Action::Crash { server } => {
                s.budget.crashes -= 1;
                let restart = setup.restart.expect("crashes need a restart mode");
                let index = server as usize;
                s.actors.crashed[index] = true;
                s.actors.timers_set[index].cancel_all();
                Self::break_connections(&mut s, index)?;
                let down = match restart {
                    Restart::Delayed => setup.window(setup.ttl),
                    Restart::Empty | Restart::Fsync => Window { earliest: 0, latest: None },
                };
                let state = ServerState { down: Some(down), ..self.server_state(&s, server).clone() };
                self.set_server(&mut s, server, state);
                let node = NodeId(server as u32);
                events.push(Event::Fault { fault: Fault::Crash { node, persisted: restart == Restart::Fsync } });
                events.push(Event::NodeDown { node });
            }
            Action::Restart { server } => {
                let index = server as usize;
                let fresh = match &self.actors.actors[index].role {
                    Role::Server(srv) => srv.start(setup),
                    _ => unreachable!("only servers restart"),
                };
                let (state, lost) = self.server_state(&s, server).restarted(setup.restart?, fresh);
                s.actors.crashed[index] = false;
                self.restore(&mut s, server, state, lost, events);
                events.push(Event::NodeUp { node: NodeId(server as u32) });
            }
            Action::Failover { server, replica } => {
                s.budget.failovers -= 1;
                // The old primary is gone: requests on their way to it, and SETs waiting for
                // their WAIT, fail as after a crash.
                Self::break_connections(&mut s, server as usize)?;
                for w in self.server_state(&s, server).waits.clone() {
                    let reply = Msg::AcquireReply { round: w.round, reply: Reply::Error };
                    if let Network::Ordered(flows) = &mut s.actors.network {
                        let to = Id::from(self.setup.client_actor(w.client));
                        flows.entry((Id::from(server as usize), to)).or_default().push_back(reply);
                    }
                }
                let (state, lost) = self.server_state(&s, server).failed_over(replica as usize);
                s.actors.timers_set[server as usize].cancel_all();
                events.push(Event::Fault { fault: Fault::Failover { node: NodeId(server as u32) } });
                self.restore(&mut s, server, state, lost, events);
            }
            Action::ClientCrash { client } => {
                s.budget.client_crashes -= 1;
                let index = self.setup.client_actor(client);
                s.actors.crashed[index] = true;
                s.actors.timers_set[index].cancel_all();
                Self::purge_messages_to(&mut s, index);
                events.push(Event::ClientCrashed { client: ClientId(client as u32) });
            }
            Action::Evict { server } => {
                s.budget.evictions -= 1;
                let mut state = self.server_state(&s, server).clone();
                let key = state.key.take()?;
                s.actors.timers_set[server as usize].cancel(&Timer::Expire);
                self.set_server(&mut s, server, state);
                events.push(Event::KeyLost { node: NodeId(server as u32), owner: ClientId(key.owner as u32) });
            }
            Action::Lose { src, dst } => {
                s.budget.losses -= 1;
                let Network::Ordered(flows) = &mut s.actors.network else { return None };
                let key = (Id::from(src), Id::from(dst));
                let flow = flows.get_mut(&key)?;
                flow.pop_front()?;
                if flow.is_empty() {
                    flows.remove(&key);
                }
                events.push(Event::Fault { fault: Fault::MessageLost });
            }
            Action::Deliver { .. } | Action::Timeout { .. } => unreachable!(),
        }
        Some(s)
    }

    /// Installs a server's state after a restart or failover; `lost` is the key it no longer has.
    fn restore(&self, s: &mut SystemState, server: u8, state: ServerState, lost: Option<crate::server::Key>, events: &mut Vec<Event>) {
        let index = server as usize;
        if state.key.is_some_and(|k| k.life.is_some()) {
            s.actors.timers_set[index].set(Timer::Expire);
        }
        self.set_server(s, server, state);
        if let Some(key) = lost {
            events.push(Event::KeyLost { node: NodeId(server as u32), owner: ClientId(key.owner as u32) });
        }
    }
}

fn inner_action(action: &Action) -> Option<ActorModelAction<Msg, Timer, ()>> {
    Some(match action.clone() {
        Action::Deliver { src, dst, msg } => ActorModelAction::Deliver { src: Id::from(src), dst: Id::from(dst), msg },
        Action::Timeout { actor, timer } => ActorModelAction::Timeout(Id::from(actor), timer),
        _ => return None,
    })
}

impl LockSystem {
    /// The initial states (Stateright's `Model::init_states`, in `lock_model.rs`).
    pub fn initial_states(&self) -> Vec<SystemState> {
        let setup = &self.setup;
        self.actors
            .init_states()
            .into_iter()
            .map(|actors| {
                let mut s = SystemState {
                    actors,
                    judge: Judge::new(setup.servers as u32),
                    ages: BTreeMap::new(),
                    budget: Budget {
                        pauses: setup.pauses,
                        jumps: setup.clock_jump.map_or(0, |_| 1),
                        crashes: setup.restart.map_or(0, |_| 1),
                        failovers: setup.failover as u8,
                        client_crashes: setup.client_crash as u8,
                        evictions: setup.eviction as u8,
                        losses: 0,
                    },
                };
                let mut events = Vec::new();
                self.settle(&mut s, &mut events);
                for e in &events {
                    s.judge.observe(e);
                }
                s
            })
            .collect()
    }

    /// The actions enabled in `s` (Stateright's `Model::actions`, in `lock_model.rs`).
    pub fn enabled_actions(&self, s: &SystemState, actions: &mut Vec<Action>) {
        let mut inner = Vec::new();
        self.actors.actions(&s.actors, &mut inner);
        for a in inner {
            match a {
                ActorModelAction::Deliver { src, dst, msg } => {
                    if !self.paused(s, usize::from(dst)) {
                        actions.push(Action::Deliver { src: src.into(), dst: dst.into(), msg });
                    }
                }
                ActorModelAction::Timeout(id, timer) => {
                    let i = usize::from(id);
                    if is_quiet_timer(timer) {
                        continue;
                    }
                    if !self.stopped(s, i) && self.timer_due(s, i, timer) != Due::No {
                        actions.push(Action::Timeout { actor: i, timer });
                    }
                }
                _ => {}
            }
        }
        if self.time_may_pass(s) {
            // Every subset of the clients ready for a quiet step; the empty one only when some
            // countdown runs (a tick that changes nothing is no step).
            // A bounded pause that this tick ends must end with it.
            let ready = self.quiet_ready(s);
            let must = self.pause_ending(s);
            let counting = self.counting(s);
            let mut then = ready;
            loop {
                if then & must == must && (then != 0 || counting) {
                    actions.push(Action::Tick { then });
                }
                if then == 0 {
                    break;
                }
                then = (then - 1) & ready;
            }
        }
        self.fault_actions(s, actions);
    }
}
