//! A lock server with Redis semantics, or a lock service in the style of ZooKeeper or Chubby
//! (which behave the same way for one lock: see [`crate::setup::Service`]).
//!
//! One key (the lock), a fencing counter (`INCR` in the acquire script; a zxid or a Chubby
//! sequencer), asynchronous replicas that `WAIT` can count and one of which a failover
//! promotes, and Chubby's lock-delay. The key expires by the server's own clock: its lifetime
//! is a [`Window`] of real ticks (see `setup.rs`). Crash, restart and failover are faults
//! applied by the system model; the server only says what they leave of it.

use crate::msg::Due;
use crate::msg::{Msg, Timer};
use crate::setup::{Restart, Setup, Window};
use redlock_client::event::{ClientId, Event, NodeId};
use redlock_client::protocol::Reply;
use serde::Serialize;
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

/// The lock key: whose value it holds and when it expires (`None`: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Key {
    pub owner: u8,
    pub life: Option<Window>,
}

/// What a replica has received so far: the data, and the replication offset it acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Replica {
    pub key: Option<Key>,
    pub counter: u64,
    pub offset: u32,
}

/// A successful `SET` whose reply waits until its `WAIT` is satisfied: `replicas` replicas
/// acknowledged `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Wait {
    pub client: u8,
    pub round: u32,
    pub replicas: u8,
    pub offset: u32,
    pub token: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ServerState {
    pub key: Option<Key>,
    /// The fencing counter: incremented by each grant whose acquire script asks for it.
    pub counter: u64,
    /// The replication offset: one more for every write.
    pub offset: u32,
    pub replicas: Vec<Replica>,
    pub waits: Vec<Wait>,
    /// Chubby's lock-delay: the lock was lost with its holder, and is not granted again until
    /// this window is over.
    pub lock_delay: Option<Window>,
    /// Crashed, restarting once this window is due.
    pub down: Option<Window>,
    /// The etcd-style store, for `Service::Etcd` (the fields above then stay unused).
    pub etcd: Option<crate::etcd::EtcdStore>,
    /// Events of the step in progress, drained by the system model.
    pub events: Vec<Event>,
}

/// Server `index` (its actor index too: the servers come first).
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
            offset: 0,
            replicas: vec![Replica { key: None, counter: 0, offset: 0 }; setup.replicas as usize],
            waits: Vec::new(),
            lock_delay: None,
            down: None,
            etcd: (setup.service == crate::setup::Service::Etcd).then(crate::etcd::EtcdStore::default),
            events: Vec::new(),
        }
    }

    /// A command from client `client`.
    pub fn on_msg(
        &self,
        setup: &Setup,
        s: &mut ServerState,
        client: u8,
        src: Id,
        msg: Msg,
        o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>,
    ) {
        let node = self.node();
        let owner = ClientId(client as u32);
        if let Some(store) = &mut s.etcd {
            return store.on_msg(setup, client, src, msg, &mut s.events, o);
        }
        match msg {
            Msg::Acquire { round, ttl, incr, wait } => {
                let reply = if s.key.is_none() && s.lock_delay.is_none() {
                    let life = ttl.map(|t| setup.window(t));
                    s.key = Some(Key { owner: client, life });
                    s.events.push(Event::KeySet { node, owner, ttl_ms: ttl.map(u64::from) });
                    if life.is_some() {
                        o.set_timer(Timer::Expire, model_timeout());
                    }
                    let token = incr.then(|| {
                        s.counter += 1;
                        s.counter
                    });
                    s.offset += 1;
                    Reply::Ok { token }
                } else {
                    Reply::Refused
                };
                match (reply, wait) {
                    (Reply::Ok { token }, Some(replicas)) => {
                        s.waits.push(Wait { client, round, replicas, offset: s.offset, token });
                        s.waits.sort();
                        self.answer_waits(setup, s, o);
                    }
                    _ => o.send(src, Msg::AcquireReply { round, reply }),
                }
            }
            Msg::Expire { ttl } => {
                // EXPIRE sets the TTL of whatever key is there: it checks no owner.
                if let Some(key) = &mut s.key {
                    key.life = Some(setup.window(ttl));
                    s.offset += 1;
                    s.events.push(Event::KeySet { node, owner: ClientId(key.owner as u32), ttl_ms: Some(ttl as u64) });
                    o.set_timer(Timer::Expire, model_timeout());
                }
            }
            Msg::Extend { round } => {
                let reply = match &mut s.key {
                    Some(key) if key.owner == client => {
                        key.life = Some(setup.window(setup.ttl));
                        s.offset += 1;
                        // The key is set again, with a new TTL: the shipped client records this
                        // for every extension a node accepts (found by trace validation).
                        s.events.push(Event::KeySet { node, owner, ttl_ms: Some(setup.ttl as u64) });
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
        self.schedule_replication(s, o);
    }

    /// Chubby's `CheckSequencer`, asked by the resource: is `token` the sequencer of the lock
    /// `client` holds right now?
    pub fn check_sequencer(&self, s: &ServerState, client: u8, token: u64, src: Id, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        let valid = s.key.is_some_and(|k| k.owner == client) && s.counter == token;
        o.send(src, Msg::SequencerValid { client, valid });
    }

    pub fn on_timeout(&self, setup: &Setup, s: &mut ServerState, timer: Timer, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        match timer {
            Timer::Expire => {
                if let Some(key) = s.key.take() {
                    s.offset += 1;
                    s.events.push(Event::KeyExpired { node: self.node(), owner: ClientId(key.owner as u32) });
                    // The holder vanished (its lease or session ran out): Chubby's lock-delay.
                    if let Some(delay) = setup.lock_delay {
                        s.lock_delay = Some(setup.window(delay));
                        o.set_timer(Timer::LockDelay, model_timeout());
                    }
                }
                self.schedule_replication(s, o);
            }
            Timer::Replicate { replica } => {
                if let Some(r) = s.replicas.get_mut(replica as usize) {
                    *r = Replica { key: s.key, counter: s.counter, offset: s.offset };
                }
                self.answer_waits(setup, s, o);
            }
            Timer::LockDelay => s.lock_delay = None,
            Timer::LeaseExpire { client } => {
                if let Some(store) = &mut s.etcd {
                    store.expire(client, setup, &mut s.events, o);
                }
            }
            _ => {}
        }
    }

    fn schedule_replication(&self, s: &ServerState, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        for (i, r) in s.replicas.iter().enumerate() {
            if r.offset < s.offset {
                o.set_timer(Timer::Replicate { replica: i as u8 }, model_timeout());
            }
        }
    }

    /// Answers every parked `SET` + `WAIT` that enough replicas have acknowledged.
    fn answer_waits(&self, setup: &Setup, s: &mut ServerState, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        let replicas = s.replicas.clone();
        s.waits.retain(|w| {
            let acked = replicas.iter().filter(|r| r.offset >= w.offset).count() as u8;
            let done = acked >= w.replicas;
            if done {
                let reply = Reply::Ok { token: w.token };
                o.send(Id::from(setup.client_actor(w.client)), Msg::AcquireReply { round: w.round, reply });
            }
            !done
        });
    }

    fn delete(&self, s: &mut ServerState, by: ClientId, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        if let Some(key) = s.key.take() {
            s.offset += 1;
            s.events.push(Event::KeyDeleted { node: self.node(), owner: ClientId(key.owner as u32), by });
            o.cancel_timer(Timer::Expire);
        }
    }

    /// Whether `timer` may fire now, and whether it must fire before time passes.
    pub fn due(&self, setup: &Setup, s: &ServerState, timer: Timer) -> Due {
        let window = |w: Option<Window>| match w {
            Some(w) if w.overdue() => Due::Now,
            Some(w) if w.due() => Due::Whenever,
            _ => Due::No,
        };
        match timer {
            Timer::LeaseExpire { client } => s.etcd.as_ref().map_or(Due::No, |store| store.due(client)),
            Timer::Expire => window(s.key.and_then(|k| k.life)),
            Timer::LockDelay => window(s.lock_delay),
            // Replication is part of the bounded message delay in sync runs.
            Timer::Replicate { replica } if s.replicas.get(replica as usize).is_some_and(|r| r.offset < s.offset) => {
                if setup.bounds.delay.is_some() {
                    Due::Now
                } else {
                    Due::Whenever
                }
            }
            _ => Due::No,
        }
    }
}

impl ServerState {
    /// Renames the clients that own its keys or wait on it (for symmetry reduction).
    pub fn rename_clients(&mut self, rename: impl Fn(u8) -> u8) {
        let keys = std::iter::once(self.key.as_mut()).chain(self.replicas.iter_mut().map(|r| r.key.as_mut()));
        for key in keys.flatten() {
            key.owner = rename(key.owner);
        }
        for w in &mut self.waits {
            w.client = rename(w.client);
        }
        self.waits.sort();
        if let Some(store) = &mut self.etcd {
            store.rename_clients(&rename);
        }
    }

    /// Whether renaming clients changes this state: a key, a replica's key, a `WAIT` or a store
    /// names one.
    pub fn names_clients(&self) -> bool {
        self.key.is_some() || self.replicas.iter().any(|r| r.key.is_some()) || !self.waits.is_empty() || self.etcd.is_some()
    }

    /// A hash of everything about this state (key, counter, replication offset, replicas,
    /// waits, lock-delay and down windows) with its clients renamed, without
    /// building the renamed state (symmetry reduction computes one for every server of every
    /// state it meets).
    pub fn signature_renamed(&self, rename: impl Fn(u8) -> u8) -> u64 {
        let mut h = ahash::RandomState::with_seeds(3, 5, 7, 9).build_hasher();
        let key = |k: Option<Key>| k.map(|k| Key { owner: rename(k.owner), ..k });
        key(self.key).hash(&mut h);
        (self.counter, self.offset).hash(&mut h);
        self.replicas.len().hash(&mut h);
        for r in &self.replicas {
            Replica { key: key(r.key), ..*r }.hash(&mut h);
        }
        if !self.waits.is_empty() {
            let mut waits: Vec<Wait> = self.waits.iter().map(|w| Wait { client: rename(w.client), ..*w }).collect();
            waits.sort();
            waits.hash(&mut h);
        }
        (self.lock_delay, self.down).hash(&mut h);
        h.finish()
    }

    /// Time passing would change something here: a key's expiry, a lock-delay or a restart
    /// delay runs.
    pub fn counts_time(&self) -> bool {
        let key = |k: Option<Key>| k.and_then(|k| k.life).is_some_and(|w| w.counting());
        key(self.key)
            || self.etcd.as_ref().is_some_and(|e| e.counts_time())
            || self.replicas.iter().any(|r| key(r.key))
            || self.lock_delay.is_some_and(|w| w.counting())
            || self.down.is_some_and(|w| w.counting())
    }

    pub fn tick(&mut self) {
        let tick_key = |k: &mut Option<Key>| {
            if let Some(w) = k.as_mut().and_then(|k| k.life.as_mut()) {
                w.tick();
            }
        };
        tick_key(&mut self.key);
        for r in &mut self.replicas {
            tick_key(&mut r.key);
        }
        for w in [self.lock_delay.as_mut(), self.down.as_mut()].into_iter().flatten() {
            w.tick();
        }
        if let Some(store) = &mut self.etcd {
            store.tick();
        }
    }

    /// The server's clock jumps forward by `by` ticks.
    pub fn jump(&mut self, by: u8, bounded: bool) {
        for w in [self.key.as_mut().and_then(|k| k.life.as_mut()), self.lock_delay.as_mut()].into_iter().flatten() {
            w.jump(by, bounded);
        }
        if let Some(store) = &mut self.etcd {
            store.jump(by, bounded);
        }
    }

    /// What a restart leaves of this server, and the key it lost.
    pub fn restarted(&self, restart: Restart, fresh: ServerState) -> (ServerState, Option<Key>) {
        match restart {
            Restart::Fsync => (ServerState { down: None, events: Vec::new(), ..self.clone() }, None),
            Restart::Empty | Restart::Delayed => (fresh, self.key),
        }
    }

    /// Replica `r` is promoted: the primary's unreplicated writes are lost; the other replicas
    /// resynchronise from the new primary; parked `WAIT`s die with the old primary's
    /// connections.
    pub fn failed_over(&self, r: usize) -> (ServerState, Option<Key>) {
        let promoted = self.replicas[r];
        let lost = match (self.key, promoted.key) {
            (Some(k), Some(p)) if k.owner == p.owner => None,
            (k, _) => k,
        };
        let replicas = (0..self.replicas.len())
            .filter(|&i| i != r)
            .map(|_| Replica { key: promoted.key, counter: promoted.counter, offset: promoted.offset })
            .collect();
        let state = ServerState {
            key: promoted.key,
            counter: promoted.counter,
            offset: promoted.offset,
            replicas,
            waits: Vec::new(),
            lock_delay: None,
            down: None,
            etcd: None,
            events: Vec::new(),
        };
        (state, lost)
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(store) = &self.etcd {
            return store.fmt(f);
        }
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
        if let Some(w) = self.lock_delay {
            write!(f, ", lock-delay ends {w}")?;
        }
        for (i, r) in self.replicas.iter().enumerate() {
            let has = r.key.map_or("no key".to_string(), |k| format!("client {}'s key", k.owner));
            let lag = if r.offset < self.offset { " (behind)" } else { "" };
            write!(f, "; replica {i} has {has}{lag}")?;
        }
        for w in &self.waits {
            write!(f, "; client {}'s SET waits for {} replica(s)", w.client, w.replicas)?;
        }
        Ok(())
    }
}
