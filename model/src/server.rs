//! A lock server with Redis semantics (or the ZooKeeper-style session service, which behaves
//! the same way for one lock: see [`crate::setup::Service`]).
//!
//! One key (the lock), an optional fencing counter, an optional asynchronous replica. The key
//! expires by the server's own clock: its lifetime is a [`Window`] of real ticks (see
//! `setup.rs`). Crash, restart and failover are faults applied by the system model; the server
//! only says what restarting does to it.

use crate::client::Due;
use crate::msg::{Msg, Timer};
use crate::setup::{Restart, Service, Setup, Window};
use redlock_client::event::{ClientId, Event, NodeId};
use redlock_client::protocol::Reply;
use serde::Serialize;
use stateright::actor::{Id, Out};
use std::fmt;

/// The lock key: whose value it holds and when it expires (`None`: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Key {
    pub owner: u8,
    pub life: Option<Window>,
}

/// The data a replica has received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Replica {
    pub key: Option<Key>,
    pub counter: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ServerState {
    pub key: Option<Key>,
    /// The fencing counter (`INCR` in the acquire script; the zxid for the session service).
    pub counter: u64,
    pub replica: Option<Replica>,
    /// Crashed, restarting once this window is due.
    pub down: Option<Window>,
    /// Events of the step in progress, drained by the system model.
    pub events: Vec<Event>,
}

/// Server `index` of a setup.
#[derive(Clone, Debug)]
pub struct Server {
    pub index: u8,
}

impl Server {
    pub fn node(&self) -> NodeId {
        NodeId(self.index as u32)
    }

    pub fn start(&self, setup: &Setup) -> ServerState {
        ServerState {
            key: None,
            counter: 0,
            replica: (setup.service == Service::RedisWithReplica)
                .then_some(Replica { key: None, counter: 0 }),
            down: None,
            events: Vec::new(),
        }
    }

    pub fn on_msg(&self, setup: &Setup, s: &mut ServerState, client: u8, src: Id, msg: Msg, o: &mut Out<crate::actor::LockActor>) {
        let node = self.node();
        let owner = ClientId(client as u32);
        match msg {
            Msg::Acquire { round, ttl, incr } => {
                let reply = if s.key.is_none() {
                    let life = ttl.map(|t| setup.window(t));
                    s.key = Some(Key { owner: client, life });
                    s.events.push(Event::KeySet { node, owner, ttl_ms: ttl.map(u64::from) });
                    if life.is_some() {
                        o.set_timer(Timer::Expire, stateright::actor::model_timeout());
                    }
                    let token = incr.then(|| {
                        s.counter += 1;
                        s.counter
                    });
                    Reply::Ok { token }
                } else {
                    Reply::Refused
                };
                o.send(src, Msg::AcquireReply { round, reply });
            }
            Msg::Expire { ttl } => {
                // EXPIRE sets the TTL of whatever key is there: it checks no owner.
                if let Some(key) = &mut s.key {
                    key.life = Some(setup.window(ttl));
                    s.events.push(Event::KeySet { node, owner: ClientId(key.owner as u32), ttl_ms: Some(ttl as u64) });
                    o.set_timer(Timer::Expire, stateright::actor::model_timeout());
                }
            }
            Msg::Extend { round } => {
                let reply = match &mut s.key {
                    Some(key) if key.owner == client => {
                        key.life = Some(setup.window(setup.ttl));
                        Reply::Ok { token: None }
                    }
                    _ => Reply::Refused,
                };
                o.send(src, Msg::ExtendReply { round, reply });
            }
            Msg::Release => {
                if s.key.is_some_and(|k| k.owner == client) {
                    self.delete(s, owner, o);
                }
            }
            Msg::Delete => {
                if s.key.is_some() {
                    self.delete(s, owner, o);
                }
            }
            Msg::Get => o.send(src, Msg::GetReply { owner: s.key.map(|k| k.owner) }),
            _ => {}
        }
        if s.replica.is_some_and(|r| !r.matches(s)) {
            o.set_timer(Timer::Replicate, stateright::actor::model_timeout());
        }
    }

    pub fn on_timeout(&self, s: &mut ServerState, timer: Timer, o: &mut Out<crate::actor::LockActor>) {
        match timer {
            Timer::Expire => {
                if let Some(key) = s.key.take() {
                    s.events.push(Event::KeyExpired { node: self.node(), owner: ClientId(key.owner as u32) });
                }
                if s.replica.is_some_and(|r| !r.matches(s)) {
                    o.set_timer(Timer::Replicate, stateright::actor::model_timeout());
                }
            }
            Timer::Replicate => {
                s.replica = Some(Replica { key: s.key, counter: s.counter });
            }
            _ => {}
        }
    }

    fn delete(&self, s: &mut ServerState, by: ClientId, o: &mut Out<crate::actor::LockActor>) {
        if let Some(key) = s.key.take() {
            s.events.push(Event::KeyDeleted { node: self.node(), owner: ClientId(key.owner as u32), by });
            o.cancel_timer(Timer::Expire);
        }
    }

    /// Whether `timer` may fire now, and whether it must fire before time passes.
    pub fn due(&self, setup: &Setup, s: &ServerState, timer: Timer) -> Due {
        match timer {
            Timer::Expire => match s.key.and_then(|k| k.life) {
                Some(w) if w.overdue() => Due::Now,
                Some(w) if w.due() => Due::Whenever,
                _ => Due::No,
            },
            // Replication is part of the bounded message delay in sync runs.
            Timer::Replicate if s.replica.is_some_and(|r| !r.matches(s)) => {
                if setup.bounds.bounded_delay { Due::Now } else { Due::Whenever }
            }
            _ => Due::No,
        }
    }
}

impl Replica {
    fn matches(&self, s: &ServerState) -> bool {
        self.key == s.key && self.counter == s.counter
    }
}

impl ServerState {
    /// Renames the clients that own its keys (for symmetry reduction).
    pub fn rename_clients(&mut self, rename: impl Fn(u8) -> u8) {
        for key in [self.key.as_mut(), self.replica.as_mut().and_then(|r| r.key.as_mut())].into_iter().flatten() {
            key.owner = rename(key.owner);
        }
    }

    /// Everything about this server, comparable (for symmetry reduction).
    pub fn signature(&self) -> (Option<Key>, u64, Option<Replica>, Option<Window>) {
        (self.key, self.counter, self.replica, self.down)
    }

    /// Time passing would change something here: a key's expiry or a restart delay runs.
    pub fn counts_time(&self) -> bool {
        let key = |k: Option<Key>| k.and_then(|k| k.life).is_some_and(|w| w.counting());
        key(self.key) || key(self.replica.and_then(|r| r.key)) || self.down.is_some_and(|w| w.counting())
    }

    pub fn tick(&mut self) {
        let tick_key = |k: &mut Option<Key>| {
            if let Some(w) = k.as_mut().and_then(|k| k.life.as_mut()) {
                w.tick();
            }
        };
        tick_key(&mut self.key);
        if let Some(r) = self.replica.as_mut() {
            tick_key(&mut r.key);
        }
        if let Some(w) = self.down.as_mut() {
            w.tick();
        }
    }

    /// The server's clock jumps forward by `by` ticks.
    pub fn jump(&mut self, by: u8, bounded: bool) {
        if let Some(w) = self.key.as_mut().and_then(|k| k.life.as_mut()) {
            w.jump(by, bounded);
        }
    }

    /// What a restart leaves of this server, and the keys it lost.
    pub fn restarted(&self, restart: Restart, fresh: ServerState) -> (ServerState, Option<Key>) {
        match restart {
            Restart::Fsync => (ServerState { down: None, events: Vec::new(), ..self.clone() }, None),
            Restart::Empty | Restart::Delayed => (fresh, self.key),
        }
    }

    /// The replica is promoted: the primary's unreplicated writes are lost.
    pub fn failed_over(&self) -> (ServerState, Option<Key>) {
        let replica = self.replica.expect("failover needs a replica");
        let lost = match (self.key, replica.key) {
            (Some(k), Some(r)) if k.owner == r.owner => None,
            (k, _) => k,
        };
        let promoted = ServerState {
            key: replica.key,
            counter: replica.counter,
            replica: None,
            down: None,
            events: Vec::new(),
        };
        (promoted, lost)
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(down) = self.down {
            return write!(f, "down (restart {down})");
        }
        match self.key {
            Some(Key { owner, life: Some(w) }) => write!(f, "key = client {owner}, expires {w}")?,
            Some(Key { owner, life: None }) => write!(f, "key = client {owner}, never expires")?,
            None => write!(f, "no key")?,
        }
        if self.counter > 0 {
            write!(f, ", counter {}", self.counter)?;
        }
        if let Some(r) = self.replica {
            match r.key {
                Some(k) => write!(f, "; replica has client {}'s key", k.owner)?,
                None => write!(f, "; replica has no key")?,
            }
        }
        Ok(())
    }
}
