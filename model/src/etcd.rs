//! An etcd-style store for one lock: leases that expire by the store's clock, the lock key
//! created with a lease only if it is absent, a revision that every write raises (the key's
//! create revision is the fencing token), watches on the key's deletion.
//!
//! What it abstracts, and why that is sound for the properties judged here:
//! - **One linearizable store.** etcd replicates by Raft; a member's crash or a leader change
//!   loses no committed write and never lowers the revision, so one store that applies each
//!   request atomically has the behaviours the client can see.
//! - **One lease clock.** A lease's TTL runs on the leader's clock. A leader change renews every
//!   lease to its full TTL (the new leader cannot know how long the old one had left), which only
//!   makes keys live *longer*; a longer life can delay the next holder but never lets two
//!   holders' keys exist at once, nor lower a token. So the model leaves leader changes out: they
//!   add no behaviour that breaks a safety property, only ones that wait longer.
//! - Clock drift is the usual window: the store measures a TTL of T ticks within T ± skew.

use crate::msg::Due;
use crate::msg::{Msg, Timer};
use crate::setup::{Setup, Window};
use redlock_client::event::{ClientId, Event, NodeId};
use serde::Serialize;
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::fmt;

/// The lock key: who created it, at which revision, with whose lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EtcdKey {
    pub owner: u8,
    pub create_revision: u64,
}

/// A client's lease (each client has one at most: its id is the client's number + 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EtcdLease {
    pub owner: u8,
    pub life: Window,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct EtcdStore {
    /// The store's revision: every write raises it.
    pub revision: u64,
    /// The lock key; it is attached to its owner's lease and dies with it.
    pub key: Option<EtcdKey>,
    /// Live leases, by owner.
    pub leases: Vec<EtcdLease>,
    /// Clients watching the key's deletion (a bit each).
    pub watchers: u8,
    /// The revision at which the key was last deleted: a watch from before it fires at once.
    pub deleted_at: u64,
}

/// The lease id of client `client`.
pub fn lease_of(client: u8) -> u8 {
    client + 1
}

impl EtcdStore {
    fn lease(&self, owner: u8) -> Option<&EtcdLease> {
        self.leases.iter().find(|l| l.owner == owner)
    }

    /// A request from client `client` (actor `src`).
    pub fn on_msg(
        &mut self,
        setup: &Setup,
        client: u8,
        src: Id,
        msg: Msg,
        events: &mut Vec<Event>,
        o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>,
    ) {
        match msg {
            Msg::GrantLease => {
                let life = setup.window(setup.ttl);
                self.leases.retain(|l| l.owner != client);
                self.leases.push(EtcdLease { owner: client, life });
                self.leases.sort();
                o.set_timer(Timer::LeaseExpire { client }, model_timeout());
                o.send(src, Msg::LeaseGranted { lease: lease_of(client) });
            }
            Msg::CreateIfAbsent { lease } => {
                let reply = match (self.key, self.lease(lease - 1)) {
                    // etcd fails the whole transaction when its put names a lease that is gone.
                    (_, None) => Msg::TxnFailed,
                    (None, Some(_)) => {
                        self.revision += 1;
                        self.key = Some(EtcdKey { owner: client, create_revision: self.revision });
                        events.push(Event::KeySet { node: NodeId(0), owner: ClientId(client as u32), ttl_ms: Some(setup.ttl as u64) });
                        Msg::Created { revision: self.revision }
                    }
                    (Some(_), Some(_)) => Msg::Taken { revision: self.revision },
                };
                o.send(src, reply);
            }
            Msg::WatchDeletion { after } => {
                if self.deleted_at > after {
                    // Deleted since the revision the client saw: the watch reports it at once.
                    o.send(src, Msg::Freed);
                } else {
                    self.watchers |= 1 << client;
                }
            }
            Msg::KeepAlive { lease, token } => {
                let life = setup.window(setup.ttl);
                let renewed = match self.leases.iter_mut().find(|l| l.owner == lease - 1) {
                    Some(l) => {
                        l.life = life;
                        true
                    }
                    None => false,
                };
                let ours = self.key.is_some_and(|k| k.create_revision == token);
                if renewed && ours {
                    // The key lives on with its lease: the shipped client records a key set for
                    // every keep-alive that finds its key (found by trace validation).
                    events.push(Event::KeySet { node: NodeId(0), owner: ClientId(client as u32), ttl_ms: Some(setup.ttl as u64) });
                }
                o.send(src, Msg::KeptAlive { alive: renewed && ours });
            }
            Msg::RevokeLease { lease } => {
                let owner = lease - 1;
                if self.lease(owner).is_some() {
                    self.leases.retain(|l| l.owner != owner);
                    o.cancel_timer(Timer::LeaseExpire { client: owner });
                    self.delete_if(|k| k.owner == owner, Some(client), setup, events, o);
                }
            }
            Msg::DeleteKey { token } => self.delete_if(|k| k.create_revision == token, Some(client), setup, events, o),
            _ => {}
        }
    }

    /// Client `client`'s lease expires by the store's clock; its key dies with it.
    pub fn expire(&mut self, client: u8, setup: &Setup, events: &mut Vec<Event>, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        if self.lease(client).is_some_and(|l| l.life.due()) {
            self.leases.retain(|l| l.owner != client);
            self.delete_if(|k| k.owner == client, None, setup, events, o);
        }
    }

    /// Deletes the key if `which` says so: by `by`'s request, or by its lease's expiry (`None`).
    fn delete_if(
        &mut self,
        which: impl Fn(&EtcdKey) -> bool,
        by: Option<u8>,
        setup: &Setup,
        events: &mut Vec<Event>,
        o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>,
    ) {
        let Some(key) = self.key.filter(which) else { return };
        self.key = None;
        self.revision += 1;
        self.deleted_at = self.revision;
        let (node, owner) = (NodeId(0), ClientId(key.owner as u32));
        events.push(match by {
            Some(by) => Event::KeyDeleted { node, owner, by: ClientId(by as u32) },
            None => Event::KeyExpired { node, owner },
        });
        for c in (0..8u8).filter(|c| self.watchers & (1 << c) != 0) {
            o.send(Id::from(setup.client_actor(c)), Msg::Freed);
        }
        self.watchers = 0;
    }

    /// Whether client `client`'s lease-expiry timer may fire now.
    pub fn due(&self, client: u8) -> Due {
        match self.lease(client).map(|l| l.life) {
            Some(w) if w.overdue() => Due::Now,
            Some(w) if w.due() => Due::Whenever,
            _ => Due::No,
        }
    }

    pub fn counts_time(&self) -> bool {
        self.leases.iter().any(|l| l.life.counting())
    }

    pub fn tick(&mut self) {
        for l in &mut self.leases {
            l.life.tick();
        }
    }

    pub fn jump(&mut self, by: u8, bounded: bool) {
        for l in &mut self.leases {
            l.life.jump(by, bounded);
        }
    }

    pub fn rename_clients(&mut self, rename: impl Fn(u8) -> u8) {
        if let Some(k) = &mut self.key {
            k.owner = rename(k.owner);
        }
        for l in &mut self.leases {
            l.owner = rename(l.owner);
        }
        self.leases.sort();
        let watchers = self.watchers;
        self.watchers = (0..8u8).filter(|c| watchers & (1 << c) != 0).fold(0, |w, c| w | 1 << rename(c));
    }
}

impl fmt::Display for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {}", self.revision)?;
        match self.key {
            Some(k) => write!(f, ", key = client {} (created at revision {})", k.owner, k.create_revision)?,
            None => write!(f, ", no key")?,
        }
        for l in &self.leases {
            write!(f, "; client {}'s lease expires {}", l.owner, l.life)?;
        }
        if self.watchers != 0 {
            let who: Vec<String> = (0..8u8).filter(|c| self.watchers & (1 << c) != 0).map(|c| c.to_string()).collect();
            write!(f, "; watched by client {}", who.join(", "))?;
        }
        Ok(())
    }
}
