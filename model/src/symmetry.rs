//! Symmetry reduction: the Redis nodes of one setup are interchangeable, and so are its
//! clients (they run the same program; only their names differ), so a state and the same state
//! with servers or clients renamed are the same situation.
//!
//! The representative first sorts the clients by what can be said of each one without naming a
//! server (its state, timers, whether it crashed, the judge's view of it), then sorts the servers
//! by everything that can be said of each one (its state, timers, whether it is down, the
//! messages on its connections, the clients' view of it, the judge's view of it), renaming every
//! index accordingly. Equal signatures among servers mean indistinguishable servers, so the
//! server order is canonical; ties among clients may leave two representatives of one class,
//! which costs states but never soundness (a representative is always a renaming of the state).
//!
//! Clients are interchangeable unless their fencing tokens derive from their names (antirez's
//! unique tokens) or their leases do (the etcd-style store): then [`servers_only`] applies.
//! Every client id in a message or a timer is renamed by `Msg::rename_clients` and
//! `Timer::rename_clients`. Only the depth-first search and our own
//! breadth-first counterexample search use symmetry (Stateright's breadth-first search ignores
//! it).

use crate::actor::ActorState;
use crate::system::SystemState;
use redlock_client::event::{ClientId, NodeId};
use stateright::actor::{Id, Network};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// The representative function that is sound for `setup`.
pub fn for_setup(setup: &crate::setup::Setup) -> fn(&SystemState) -> SystemState {
    // An etcd-style store names each lease after its client (in the store, the messages and
    // the client's core): renaming clients would have to rename those too, and its spaces are
    // small enough without (under 100k states).
    if setup.fencing == crate::setup::Fencing::Unique || setup.service == crate::setup::Service::Etcd {
        servers_only
    } else {
        servers_and_clients
    }
}

/// The representative up to renaming of servers and of clients. A state already in canonical
/// order is cloned once, and only then: the checker calls this for every state it generates.
pub fn servers_and_clients(s: &SystemState) -> SystemState {
    canonical(s, true)
}

/// The representative up to renaming of servers.
pub fn servers_only(s: &SystemState) -> SystemState {
    canonical(s, false)
}

/// The clients put in canonical order (when `clients_too`), then the servers, as they stand once
/// the clients are renamed, and the state built once with both renamings: the servers'
/// signatures read the clients' new names without building the renamed state first.
fn canonical(s: &SystemState, clients_too: bool) -> SystemState {
    let servers = server_count(s);
    let clients = s.actors.actor_states[servers..].iter().take_while(|a| matches!(***a, ActorState::Client(_))).count();
    let client_order = if clients_too && clients >= 2 { canonical_order(clients, |c| client_signature(s, servers, c)) } else { None };
    let renamed =
        Renamed { servers, clients, client_order: client_order.as_ref().map(|(order, rename)| (order.as_slice(), rename.as_slice())) };
    let server_order = if servers >= 2 { canonical_order(servers, |i| renamed.server_signature(s, i)) } else { None };
    if client_order.is_none() && server_order.is_none() {
        return s.clone();
    }
    renamed.build(s, server_order.as_ref().map(|(order, rename)| (order.as_slice(), rename.as_slice())))
}

/// The clients' renaming of a state (`order[new] = old`, `rename[old] = new`), if any.
struct Renamed<'a> {
    servers: usize,
    clients: usize,
    client_order: Option<(&'a [usize], &'a [usize])>,
}

impl Renamed<'_> {
    fn client(&self, c: u8) -> u8 {
        self.client_order.and_then(|(_, rename)| rename.get(c as usize)).map_or(c, |&r| r as u8)
    }

    /// The new index of the actor at `i` under the clients' renaming.
    fn actor(&self, i: usize) -> usize {
        if (self.servers..self.servers + self.clients).contains(&i) {
            self.servers + self.client((i - self.servers) as u8) as usize
        } else {
            i
        }
    }

    /// A hash of everything about server `i` in the state with its clients renamed: its state,
    /// timers, whether it is down, the messages on its connections, the clients' view of it, the
    /// judge's view of it. Equal signatures of different servers (a collision) only cost
    /// canonicity, never soundness.
    fn server_signature(&self, s: &SystemState, i: usize) -> u64 {
        let states = &s.actors.actor_states;
        let renaming = self.client_order.is_some();
        let client = |c: u8| self.client(c);
        let mut h = hasher();
        states[i].as_server().map(|srv| srv.signature_renamed(client)).hash(&mut h);
        s.actors.crashed[i].hash(&mut h);
        let mut timers: Vec<_> = s.actors.timers_set[i].iter().map(|t| t.rename_clients(client)).collect();
        timers.sort();
        timers.hash(&mut h);
        if let Network::Ordered(flows) = &s.actors.network {
            // Its connections in the order of the renamed network.
            let mut touching: Vec<_> = flows
                .iter()
                .filter(|((src, dst), _)| usize::from(*src) == i || usize::from(*dst) == i)
                .map(|((src, dst), q)| {
                    let (src, dst) = (usize::from(*src), usize::from(*dst));
                    ((self.actor(src), self.actor(dst)), q, s.ages.get(&(src, dst)))
                })
                .collect();
            touching.sort_unstable_by_key(|t| t.0);
            for ((src, dst), q, ages) in touching {
                if src == i {
                    (0u8, dst).hash(&mut h);
                } else {
                    (1u8, src).hash(&mut h);
                }
                q.len().hash(&mut h);
                for m in q {
                    if renaming { m.rename_clients(client) } else { m.clone() }.hash(&mut h);
                }
                ages.hash(&mut h);
            }
        }
        for new in 0..self.clients {
            let old = self.client_order.map_or(new, |(order, _)| order[new]);
            let Some(c) = states[self.servers + old].as_client() else { continue };
            let round = match c.lock.phase {
                redlock_client::protocol::Phase::Acquiring(r) | redlock_client::protocol::Phase::Extending { round: r, .. } => Some(r),
                _ => None,
            };
            (round.map(|r| (r.pending.contains(i), r.ok.contains(i))), c.expire_pending.contains(i)).hash(&mut h);
        }
        let (key, down) = s.judge.node_view(NodeId(i as u32));
        (key.map(|(owner, expires)| (client(owner.0 as u8), expires)), down).hash(&mut h);
        h.finish()
    }

    /// `s` with its clients renamed and its servers in `server_order`, every index and id renamed
    /// with them: actors with their timers and crash flags, messages, ages, the judge, the
    /// clients' per-server state and the servers' per-client state.
    fn build(&self, s: &SystemState, server_order: Option<(&[usize], &[usize])>) -> SystemState {
        let n = s.actors.actor_states.len();
        let servers = self.servers;
        let renaming = self.client_order.is_some();
        let client = |c: u8| self.client(c);
        let node = |i: usize| server_order.and_then(|(_, rename)| rename.get(i)).copied().unwrap_or(i);
        // new index -> old index, and old -> new.
        let to = |old: usize| if old < servers { node(old) } else { self.actor(old) };
        let mut at: Vec<usize> = (0..n).collect();
        for old in 0..n {
            at[to(old)] = old;
        }
        let actor_states = at
            .iter()
            .map(|&old| {
                let a = &s.actors.actor_states[old];
                match &**a {
                    ActorState::Server(srv) if renaming && srv.names_clients() => {
                        let mut srv = srv.clone();
                        srv.rename_clients(client);
                        Arc::new(ActorState::Server(srv))
                    }
                    ActorState::Resource(r) if renaming => {
                        let mut r = r.clone();
                        r.rename_clients(client);
                        Arc::new(ActorState::Resource(r))
                    }
                    ActorState::Client(c)
                        if server_order.is_some()
                            && (c.lock.renamed(node) != c.lock || c.expire_pending.renamed(node) != c.expire_pending) =>
                    {
                        let mut c = c.clone();
                        c.lock = c.lock.renamed(node);
                        c.expire_pending = c.expire_pending.renamed(node);
                        Arc::new(ActorState::Client(c))
                    }
                    _ => a.clone(),
                }
            })
            .collect();
        let network = match &s.actors.network {
            Network::Ordered(flows) => Network::Ordered(
                flows
                    .iter()
                    .map(|((src, dst), q)| {
                        let q = if renaming { q.iter().map(|m| m.rename_clients(client)).collect() } else { q.clone() };
                        ((Id::from(to(usize::from(*src))), Id::from(to(usize::from(*dst)))), q)
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        // Every actor's timers that name a client (a resource's pending apply, a store's lease).
        let timers_set = at
            .iter()
            .map(|&old| {
                let timers = &s.actors.timers_set[old];
                if renaming && timers.iter().any(|t| t.rename_clients(client) != *t) {
                    let mut renamed = stateright::actor::Timers::new();
                    for t in timers.iter() {
                        renamed.set(t.rename_clients(client));
                    }
                    renamed
                } else {
                    timers.clone()
                }
            })
            .collect();
        let judge = s.judge.renamed(|c| ClientId(client(c.0 as u8) as u32), |n| NodeId(node(n.0 as usize) as u32));
        SystemState {
            actors: stateright::actor::ActorModelState {
                actor_states,
                network,
                timers_set,
                random_choices: s.actors.random_choices.clone(),
                crashed: at.iter().map(|&old| s.actors.crashed[old]).collect(),
                history: s.actors.history,
                actor_storages: s.actors.actor_storages.clone(),
            },
            judge,
            budget: s.budget,
            ages: s.ages.iter().map(|((a, b), q)| ((to(*a), to(*b)), q.clone())).collect(),
        }
    }
}

/// The order that sorts `n` actors by their signatures (`order[new] = old`) and the renaming it
/// implies (`rename[old] = new`), or `None` when they are in that order already.
fn canonical_order(n: usize, signature: impl Fn(usize) -> u64) -> Option<(Vec<usize>, Vec<usize>)> {
    let signatures: Vec<u64> = (0..n).map(signature).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| signatures[i]);
    if order.iter().enumerate().all(|(new, &old)| new == old) {
        return None;
    }
    let mut rename = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        rename[old] = new;
    }
    Some((order, rename))
}

fn hasher() -> impl Hasher {
    ahash::RandomState::with_seeds(7, 11, 13, 17).build_hasher()
}

fn server_count(s: &SystemState) -> usize {
    s.actors.actor_states.iter().take_while(|a| matches!(***a, ActorState::Server(_))).count()
}

/// A hash of what can be said of client `c` without naming a server: its state, timers, whether
/// it crashed, the judge's view of it, and how it stands with each server as a multiset.
fn client_signature(s: &SystemState, servers: usize, c: usize) -> u64 {
    let states = &s.actors.actor_states;
    let i = servers + c;
    let mut h = hasher();
    states[i].hash(&mut h);
    s.actors.crashed[i].hash(&mut h);
    let mut timers: Vec<_> = s.actors.timers_set[i].iter().copied().collect();
    timers.sort();
    timers.hash(&mut h);
    s.judge.client_view(ClientId(c as u32)).hash(&mut h);
    // How the client stands with each server, as a multiset (no server named): whose key
    // it holds, the messages between them, the client's view of that server.
    let client = states[i].as_client();
    // The client's flows to and from each server, found in one pass.
    let mut to_server = vec![None; servers];
    let mut from_server = vec![None; servers];
    if let Network::Ordered(flows) = &s.actors.network {
        for ((src, dst), q) in flows {
            let (src, dst) = (usize::from(*src), usize::from(*dst));
            if src == i && dst < servers {
                to_server[dst] = Some(q);
            } else if dst == i && src < servers {
                from_server[src] = Some(q);
            }
        }
    }
    let mut relations: Vec<u64> = (0..servers)
        .map(|n| {
            let mut r = hasher();
            let srv = states[n].as_server();
            srv.map(|x| {
                let mine = |k: Option<crate::server::Key>| k.map(|k| k.owner == c as u8);
                (mine(x.key), x.replicas.iter().map(|r| mine(r.key)).collect::<Vec<_>>(), x.waits.iter().any(|w| w.client == c as u8))
            })
            .hash(&mut r);
            to_server[n].hash(&mut r);
            from_server[n].hash(&mut r);
            s.ages.get(&(i, n)).hash(&mut r);
            s.ages.get(&(n, i)).hash(&mut r);
            client
                .map(|cl| match cl.lock.phase {
                    redlock_client::protocol::Phase::Acquiring(r) | redlock_client::protocol::Phase::Extending { round: r, .. } => {
                        (r.pending.contains(n), r.ok.contains(n))
                    }
                    _ => (false, false),
                })
                .hash(&mut r);
            r.finish()
        })
        .collect();
    relations.sort_unstable();
    relations.hash(&mut h);
    h.finish()
}
