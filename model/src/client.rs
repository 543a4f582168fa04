//! A lock client: it drives the shipped protocol core ([`LockState`]) with model messages and
//! its own clock, then does its work on the resource (read, check, write) and releases.
//!
//! The protocol's rules are all in the core. What lives here is what a driver owns: turning
//! the core's commands into messages (correctly, or with one of the single-node pitfalls the
//! scenario asks for), its clock, and the holder's work.

use crate::msg::{Due, Msg, Timer};
use crate::setup::{Encoding, Fencing, Resource, Setup};
use redlock_client::event::{ClientId, Event};
use redlock_client::lease_lock::{LeaseInput, LeaseLockState, LeaseOutput, LeaseParams};
use redlock_client::observe::{observe, observe_lease};
use redlock_client::protocol::{Input, LockState, NodeSet, Output, Reply};
use redlock_client::time::LocalMillis;
use serde::Serialize;
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::fmt;

/// Where the client is in its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Stage {
    /// Not started yet.
    Idle,
    /// Acquiring (or waiting to retry).
    Acquiring,
    /// Just granted; about to start its work on the resource (a pause point).
    Granted,
    /// Holding: waiting for the resource's current value.
    Reading,
    /// Read the value and found the lock still valid; about to write (the pause point).
    ReadyToWrite,
    /// The write is on its way.
    Writing,
    /// Done with the resource, or has none: still holding, releasing whenever it likes.
    Holding,
    /// Released, failed for good, or lost the lock.
    Done,
}

/// A client's pause: `left` ticks at most (sync), or unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Pause {
    pub left: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ClientState {
    /// The client's clock reading, counted from the start of its run (only differences
    /// matter; it reads 0 before the start and after the end).
    pub clock: u8,
    /// The shipped protocol core (Redlock).
    pub lock: LockState,
    /// The shipped lease-lock core, for an etcd-style store.
    pub lease: LeaseLockState,
    /// When the lease-lock core asked to be woken.
    pub wake_at: Option<u8>,
    pub stage: Stage,
    pub paused: Option<Pause>,
    pub retry_at: Option<u8>,
    pub extend_at: Option<u8>,
    pub extensions: u8,
    /// The value read from the resource.
    pub read: Option<u8>,
    /// Nodes where `SETNX` succeeded and `EXPIRE` is still to be sent.
    pub expire_pending: NodeSet,
    pub events: Vec<Event>,
}

/// Client `index` of a setup.
#[derive(Clone, Debug)]
pub struct Client {
    pub index: u8,
    pub resource: Id,
}

impl Client {
    pub fn id(&self) -> ClientId {
        ClientId(self.index as u32)
    }

    pub fn start(&self, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) -> ClientState {
        o.set_timer(Timer::Start, model_timeout());
        ClientState {
            clock: 0,
            lock: LockState::new(),
            lease: LeaseLockState::new(),
            wake_at: None,
            stage: Stage::Idle,
            paused: None,
            retry_at: None,
            extend_at: None,
            extensions: 0,
            read: None,
            expire_pending: NodeSet::default(),
            events: Vec::new(),
        }
    }

    /// A message from server `from_server` (or from the resource when `None`).
    pub fn on_msg(
        &self,
        setup: &Setup,
        s: &mut ClientState,
        from_server: Option<u8>,
        msg: Msg,
        o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>,
    ) {
        match (msg, from_server) {
            (Msg::AcquireReply { round, reply }, Some(node)) => {
                let current = s.lock.rounds == round;
                if setup.encoding == Encoding::SetnxThenExpire && matches!(reply, Reply::Ok { .. }) && current {
                    s.expire_pending.insert(node as usize);
                    o.set_timer(Timer::SendExpire, model_timeout());
                }
                self.feed(setup, s, Input::Reply { round, node: node as usize, reply }, o);
            }
            (Msg::ExtendReply { round, reply }, Some(node)) => self.feed(setup, s, Input::Reply { round, node: node as usize, reply }, o),
            (Msg::LeaseGranted { lease }, Some(_)) => self.feed_lease(setup, s, LeaseInput::LeaseGranted { lease: lease as i64 }, o),
            (Msg::Created { revision }, Some(_)) => self.feed_lease(setup, s, LeaseInput::Created { revision: revision as i64 }, o),
            (Msg::Taken { revision }, Some(_)) => self.feed_lease(setup, s, LeaseInput::Taken { revision: revision as i64 }, o),
            (Msg::TxnFailed, Some(_)) => self.feed_lease(setup, s, LeaseInput::Failed, o),
            (Msg::Freed, Some(_)) => self.feed_lease(setup, s, LeaseInput::Freed, o),
            (Msg::KeptAlive { alive }, Some(_)) => self.feed_lease(setup, s, LeaseInput::KeptAlive { alive }, o),
            (Msg::GetReply { owner }, Some(node)) => {
                // The second half of GET-then-DEL: the key was ours a moment ago.
                if owner == Some(self.index) {
                    o.send(Id::from(node as usize), Msg::Delete);
                }
            }
            (Msg::ReadReply { value }, None) if s.stage == Stage::Reading => {
                s.read = Some(value);
                s.events.push(Event::ResourceRead { client: self.id(), value: value as u64, token: self.token(setup, s) });
                // The validity check, with a margin for the pause the write may suffer.
                let left = s.held_until().filter(|u| u.0 > s.clock as u64).map_or(0, |u| u.0 - s.clock as u64);
                if left > setup.write_margin as u64 {
                    s.stage = Stage::ReadyToWrite;
                    o.set_timer(Timer::Write, model_timeout());
                } else {
                    self.finish_work(s, o);
                }
            }
            (Msg::WriteReply { .. }, None) if s.stage == Stage::Writing => self.finish_work(s, o),
            _ => {}
        }
    }

    pub fn on_timeout(&self, setup: &Setup, s: &mut ClientState, timer: Timer, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        if timer == Timer::Start {
            Self::begin_again(s);
        }
        if setup.service == crate::setup::Service::Etcd {
            let input = match timer {
                Timer::Start => LeaseInput::Acquire,
                Timer::Deadline => {
                    s.wake_at = None;
                    LeaseInput::Timeout
                }
                Timer::Extend => {
                    s.extend_at = None;
                    LeaseInput::KeepAlive
                }
                Timer::Release => {
                    s.extend_at = None;
                    self.feed_lease(setup, s, LeaseInput::Release, o);
                    return self.end(setup, s, o);
                }
                _ => return self.work(setup, s, timer, o),
            };
            return self.feed_lease(setup, s, input, o);
        }
        match timer {
            Timer::Start => self.feed(setup, s, Input::Acquire, o),
            Timer::Deadline => self.feed(setup, s, Input::Timeout, o),
            Timer::Retry => {
                s.retry_at = None;
                self.feed(setup, s, Input::Retry, o);
            }
            Timer::Extend => {
                s.extend_at = None;
                self.feed(setup, s, Input::Extend, o);
            }
            Timer::SendExpire => {
                for node in s.expire_pending.iter() {
                    o.send(Id::from(node), Msg::Expire { ttl: setup.ttl });
                }
                s.expire_pending = NodeSet::default();
            }
            Timer::Work | Timer::Write => self.work(setup, s, timer, o),
            Timer::Release => {
                s.extend_at = None;
                self.feed(setup, s, Input::Release, o);
                self.end(setup, s, o);
            }
            _ => {}
        }
    }

    /// The holder's work on the resource: its read, then its write.
    fn work(&self, setup: &Setup, s: &mut ClientState, timer: Timer, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        match timer {
            Timer::Work => {
                if setup.resource == Some(Resource::UniqueTokenCas) {
                    o.send(self.resource, Msg::Claim { token: self.token(setup, s).unwrap_or_default() });
                }
                o.send(self.resource, Msg::Read { token: self.token(setup, s) });
                s.stage = Stage::Reading;
            }
            Timer::Write => {
                let value = s.read.unwrap_or_default() + 1;
                o.send(self.resource, Msg::Write { value, token: self.token(setup, s) });
                s.stage = Stage::Writing;
            }
            _ => {}
        }
    }

    /// Whether `timer` may fire now, and whether it must fire before time passes. A repeating
    /// client (trace validation) is a process of the asynchronous model: it may take a due step
    /// at any later moment, as a slow or descheduled process does.
    pub fn due(&self, setup: &Setup, s: &ClientState, timer: Timer) -> Due {
        match self.due_on_clock(setup, s, timer) {
            Due::Now if setup.repeat => Due::Whenever,
            due => due,
        }
    }

    fn due_on_clock(&self, setup: &Setup, s: &ClientState, timer: Timer) -> Due {
        let at = |t: Option<u8>| match t {
            Some(t) if t <= s.clock => Due::Now,
            _ => Due::No,
        };
        match timer {
            // Clients start, holders begin their work (a critical section may compute for a
            // while before it touches the resource) and release whenever they like.
            Timer::Start => Due::Whenever,
            Timer::Work if s.stage == Stage::Granted => Due::Whenever,
            Timer::Release if s.stage == Stage::Holding => Due::Whenever,
            Timer::Write if s.stage == Stage::ReadyToWrite => Due::Now,
            Timer::Deadline if setup.service == crate::setup::Service::Etcd => at(s.wake_at),
            Timer::Deadline => match s.lock.round_deadline(&setup.params()) {
                Some(d) if d <= self.now(s) => Due::Now,
                _ => Due::No,
            },
            Timer::Retry => at(s.retry_at),
            Timer::Extend => at(s.extend_at),
            Timer::SendExpire => Due::Now,
            _ => Due::No,
        }
    }

    fn now(&self, s: &ClientState) -> LocalMillis {
        LocalMillis(s.clock as u64)
    }

    fn token(&self, setup: &Setup, s: &ClientState) -> Option<u64> {
        match setup.fencing {
            Fencing::Off => None,
            // antirez's unique token: the lock's random value, here the client's own number.
            Fencing::Unique => Some(self.index as u64 + 1),
            Fencing::Counter | Fencing::Zxid | Fencing::Sequencer => s.lock.token(),
            Fencing::Revision => s.lease.token().and_then(|t| u64::try_from(t).ok()),
        }
    }

    fn finish_work(&self, s: &mut ClientState, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        s.stage = Stage::Holding;
        o.set_timer(Timer::Release, model_timeout());
    }

    /// Feeds the core, records what the step showed (the one observer's events) and carries
    /// out what the core says.
    fn feed(&self, setup: &Setup, s: &mut ClientState, input: Input, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        let params = setup.params();
        let mut outputs = Vec::new();
        if matches!(input, Input::Acquire | Input::Retry) {
            s.stage = Stage::Acquiring;
        }
        let before = s.lock;
        s.lock.handle(&params, self.now(s), input, &mut outputs);
        let token = matches!(setup.fencing, Fencing::Unique).then(|| self.index as u64 + 1);
        observe(self.id(), &params, &before, input, &outputs, token, &mut s.events);
        for output in outputs {
            self.carry_out(setup, s, output, o);
        }
        if s.lock.round_deadline(&params).is_none() {
            o.cancel_timer(Timer::Deadline);
        }
    }

    /// Feeds the lease-lock core, records what the step showed and carries out what it says.
    fn feed_lease(&self, setup: &Setup, s: &mut ClientState, input: LeaseInput, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        let params = lease_params(setup);
        let mut outputs = Vec::new();
        if input == LeaseInput::Acquire {
            s.stage = Stage::Acquiring;
        }
        let before = s.lease;
        s.lease.handle(&params, self.now(s), input, &mut outputs);
        observe_lease(self.id(), &before, input, &outputs, &mut s.events);
        let store = Id::from(0);
        let lease = |id: i64| u8::try_from(id).unwrap_or_default();
        for output in outputs {
            match output {
                LeaseOutput::GrantLease => o.send(store, Msg::GrantLease),
                LeaseOutput::CreateIfAbsent { lease: l } => o.send(store, Msg::CreateIfAbsent { lease: lease(l) }),
                LeaseOutput::RevokeLease { lease: l } => o.send(store, Msg::RevokeLease { lease: lease(l) }),
                LeaseOutput::WatchDeletion { after } => o.send(store, Msg::WatchDeletion { after: after as u64 }),
                LeaseOutput::SendKeepAlive { lease: l, token } => o.send(store, Msg::KeepAlive { lease: lease(l), token: token as u64 }),
                LeaseOutput::DeleteKey { token } => o.send(store, Msg::DeleteKey { token: token as u64 }),
                LeaseOutput::WakeAt { at } => {
                    s.wake_at = Some(u8::try_from(at.0).unwrap_or(u8::MAX));
                    o.set_timer(Timer::Deadline, model_timeout());
                }
                LeaseOutput::Acquired { .. } => {
                    s.extensions = 0;
                    self.schedule_extension(setup, s, o);
                    match setup.resource {
                        None => self.finish_work(s, o),
                        Some(_) => {
                            s.stage = Stage::Granted;
                            o.set_timer(Timer::Work, model_timeout());
                        }
                    }
                }
                LeaseOutput::Extended { .. } => {
                    s.extensions += 1;
                    self.schedule_extension(setup, s, o);
                }
                LeaseOutput::ExtendFailed { .. } => {}
                LeaseOutput::NotAcquired | LeaseOutput::Lost { .. } => self.end(setup, s, o),
            }
        }
        if s.lease.held_until().is_none()
            && !matches!(
                s.lease.phase,
                redlock_client::lease_lock::LeasePhase::Granting { .. }
                    | redlock_client::lease_lock::LeasePhase::Creating { .. }
                    | redlock_client::lease_lock::LeasePhase::Waiting
            )
        {
            s.wake_at = None;
            o.cancel_timer(Timer::Deadline);
        }
    }

    /// The run is over: no timer of it may fire any more.
    fn end(&self, setup: &Setup, s: &mut ClientState, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        s.stage = Stage::Done;
        for timer in [Timer::Deadline, Timer::Retry, Timer::Work, Timer::Write, Timer::Extend, Timer::Release] {
            o.cancel_timer(timer);
        }
        if setup.repeat {
            o.set_timer(Timer::Start, model_timeout());
        }
    }

    /// A repeating client's next acquisition starts from a fresh core; the round numbers go on,
    /// so that a late reply to the last acquisition is not taken for one to this.
    fn begin_again(s: &mut ClientState) {
        if s.stage == Stage::Done {
            s.lock = LockState { rounds: s.lock.rounds, ..LockState::new() };
            s.lease = LeaseLockState::new();
            s.extensions = 0;
            s.read = None;
            s.expire_pending = NodeSet::default();
        }
    }

    fn carry_out(&self, setup: &Setup, s: &mut ClientState, output: Output, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        let node_id = |node: usize| Id::from(node);
        match output {
            Output::SendAcquire { node, round } => {
                // An advisory lock has no TTL; SETNX (the pitfall) sets none either.
                let ttl =
                    (setup.encoding != Encoding::SetnxThenExpire && setup.service != crate::setup::Service::Postgres).then_some(setup.ttl);
                let incr = matches!(setup.fencing, Fencing::Counter | Fencing::Zxid | Fencing::Sequencer);
                o.send(node_id(node), Msg::Acquire { round, ttl, incr, wait: setup.wait_replicas });
            }
            Output::SendExtend { node, round } => o.send(node_id(node), Msg::Extend { round }),
            Output::SendRelease { node } => {
                let msg = match setup.encoding {
                    Encoding::Correct | Encoding::SetnxThenExpire => Msg::Release,
                    Encoding::PlainDel => Msg::Delete,
                    Encoding::GetThenDel => Msg::Get,
                };
                o.send(node_id(node), msg);
            }
            Output::WakeAt { .. } => o.set_timer(Timer::Deadline, model_timeout()),
            Output::RetryAfter { min_ms, .. } => {
                s.retry_at = Some(s.clock.saturating_add(min_ms as u8));
                o.set_timer(Timer::Retry, model_timeout());
            }
            Output::Failed => self.end(setup, s, o),
            Output::Acquired { .. } => {
                s.extensions = 0;
                self.schedule_extension(setup, s, o);
                match setup.resource {
                    None => self.finish_work(s, o),
                    Some(_) => {
                        s.stage = Stage::Granted;
                        o.set_timer(Timer::Work, model_timeout());
                    }
                }
            }
            Output::Extended { .. } => {
                s.extensions += 1;
                self.schedule_extension(setup, s, o);
            }
            Output::ExtendFailed { .. } => {}
            Output::Lost { .. } => self.end(setup, s, o),
        }
    }

    /// The watchdog extends every TTL/3, a bounded number of times per hold.
    fn schedule_extension(&self, setup: &Setup, s: &mut ClientState, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        if setup.watchdog && s.extensions < setup.max_extensions {
            s.extend_at = Some(s.clock.saturating_add((setup.ttl / 3).max(1)));
            o.set_timer(Timer::Extend, model_timeout());
        }
    }
}

/// The lease-lock core's parameters for a setup: one tick is one millisecond; an acquire may
/// wait for other holders up to a TTL.
pub fn lease_params(setup: &Setup) -> LeaseParams {
    LeaseParams {
        ttl_ms: setup.ttl as u64,
        drift_ms: setup.drift as u64,
        request_timeout_ms: setup.node_timeout as u64,
        acquire_timeout_ms: setup.ttl as u64,
    }
}

impl ClientState {
    /// The local time until which the client believes it holds the lock, by whichever core it
    /// drives.
    pub fn held_until(&self) -> Option<LocalMillis> {
        self.lock.held_until().or(self.lease.held_until())
    }

    /// Whether the client's run has started and not ended, so its clock runs.
    pub fn active(&self) -> bool {
        !matches!(self.stage, Stage::Idle | Stage::Done)
    }

    /// The client may be paused here (Kleppmann's GC pause): right after it was granted the
    /// lock, and after its validity check, before its write; with no resource, while it holds
    /// the lock.
    pub fn at_pause_point(&self, has_resource: bool) -> bool {
        self.paused.is_none()
            && if has_resource { matches!(self.stage, Stage::Granted | Stage::ReadyToWrite) } else { self.stage == Stage::Holding }
    }

    /// Something this client waits for lies ahead on its clock: a round's deadline, the end of
    /// its validity, a retry or an extension.
    fn waits_on_clock(&self, setup: &Setup) -> bool {
        let ahead = |t: Option<u64>| t.is_some_and(|t| t > self.clock as u64);
        self.active()
            && (ahead(self.lock.round_deadline(&setup.params()).map(|d| d.0))
                || ahead(self.lock.held_until().map(|u| u.0))
                || ahead(self.lease.held_until().map(|u| u.0))
                || ahead(self.wake_at.map(u64::from))
                || ahead(self.retry_at.map(u64::from))
                || ahead(self.extend_at.map(u64::from)))
    }

    /// Time passing would change something here: a deadline, a validity or a pause is running.
    pub fn counts_time(&self, setup: &Setup) -> bool {
        self.waits_on_clock(setup) || self.paused.is_some_and(|p| p.left.is_some_and(|l| l > 0))
    }

    /// One tick of real time. The clock only moves while the client waits on it: once nothing
    /// lies ahead, every comparison it will make comes out the same whatever it reads, so
    /// stopping it merges states that differ only in an unused reading.
    pub fn tick(&mut self, setup: &Setup) {
        if self.waits_on_clock(setup) {
            self.clock = self.clock.saturating_add(1);
        }
        if let Some(Pause { left: Some(l) }) = &mut self.paused {
            *l = l.saturating_sub(1);
        }
    }

    /// Forgets the clock once the run is over (only differences ever mattered).
    pub fn normalize(&mut self) {
        if self.stage == Stage::Done {
            self.clock = 0;
            self.retry_at = None;
            self.extend_at = None;
            self.wake_at = None;
        }
    }
}

impl fmt::Display for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "clock {}: ", self.clock)?;
        match self.stage {
            Stage::Idle => write!(f, "not started")?,
            Stage::Done => write!(f, "done")?,
            _ => match self.held_until() {
                Some(until) if until.0 > self.clock as u64 => {
                    write!(f, "believes it holds until local {until}")?;
                    if let Some(t) = self.lock.token() {
                        write!(f, " (token {t})")?;
                    }
                    if let Some(t) = self.lease.token() {
                        write!(f, " (revision {t})")?;
                    }
                }
                Some(_) => write!(f, "validity over")?,
                None => write!(f, "acquiring")?,
            },
        }
        match self.stage {
            Stage::Reading => write!(f, ", reading")?,
            Stage::ReadyToWrite => write!(f, ", read {}, about to write", self.read.unwrap_or_default())?,
            Stage::Writing => write!(f, ", writing")?,
            _ => {}
        }
        match self.paused {
            Some(Pause { left: Some(l) }) => write!(f, ", PAUSED (at most {l} more)"),
            Some(Pause { left: None }) => write!(f, ", PAUSED"),
            None => Ok(()),
        }
    }
}
