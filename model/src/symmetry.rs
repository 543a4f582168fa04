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
use crate::msg::Msg;
use crate::system::SystemState;
use redlock_client::event::{ClientId, NodeId};
use stateright::actor::{Id, Network};
use std::collections::BTreeMap;
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
    match canonical_clients(s) {
        Some(renamed) => canonical_servers(&renamed).unwrap_or(renamed),
        None => canonical_servers(s).unwrap_or_else(|| s.clone()),
    }
}

/// The representative up to renaming of servers.
pub fn servers_only(s: &SystemState) -> SystemState {
    canonical_servers(s).unwrap_or_else(|| s.clone())
}

/// The state with its servers in canonical order, or `None` when they are in it already.
fn canonical_servers(s: &SystemState) -> Option<SystemState> {
    let states = &s.actors.actor_states;
    let servers = server_count(s);
    if servers < 2 {
        return None;
    }
    let Network::Ordered(flows) = &s.actors.network else { return None };
    // A server's signature is a hash of everything about it; equal hashes of different servers
    // (a collision) only cost canonicity, never soundness.
    let signature = |i: usize| {
        let id = Id::from(i);
        let mut h = hasher();
        states[i].as_server().map(|srv| srv.signature()).hash(&mut h);
        s.actors.crashed[i].hash(&mut h);
        let mut timers: Vec<_> = s.actors.timers_set[i].iter().copied().collect();
        timers.sort();
        timers.hash(&mut h);
        for ((src, dst), q) in flows.iter() {
            let ages = s.ages.get(&(usize::from(*src), usize::from(*dst)));
            if *src == id {
                (0u8, *dst, q, ages).hash(&mut h);
            } else if *dst == id {
                (1u8, *src, q, ages).hash(&mut h);
            }
        }
        for c in states[servers..].iter().filter_map(|a| a.as_client()) {
            let round = match c.lock.phase {
                redlock_client::protocol::Phase::Acquiring(r) | redlock_client::protocol::Phase::Extending { round: r, .. } => Some(r),
                _ => None,
            };
            (round.map(|r| (r.pending.contains(i), r.ok.contains(i))), c.expire_pending.contains(i)).hash(&mut h);
        }
        s.judge.node_view(NodeId(i as u32)).hash(&mut h);
        h.finish()
    };
    let (order, rename) = canonical_order(servers, signature)?;
    let node = |i: usize| if i < servers { rename[i] } else { i };
    let network = rename_flows(flows, |id| Id::from(node(usize::from(id))), |m| m.clone());
    let ages = s.ages.iter().map(|((a, b), q)| ((node(*a), node(*b)), q.clone())).collect();
    let judge = s.judge.renamed_nodes(|n| NodeId(node(n.0 as usize) as u32));
    let mut out = permuted(s, 0, &order, network, ages, judge);
    for a in out.actors.actor_states[servers..].iter_mut() {
        if let ActorState::Client(c) = &**a {
            let mut c = c.clone();
            c.lock = c.lock.renamed(node);
            c.expire_pending = c.expire_pending.renamed(node);
            *a = Arc::new(ActorState::Client(c));
        }
    }
    Some(out)
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

/// `s` with the actors `first + order[new]` moved to `first + new` (with their timers and crash
/// flags), and the network, message ages and judge left to the caller, who renames them: they
/// are not cloned only to be replaced.
fn permuted(
    s: &SystemState,
    first: usize,
    order: &[usize],
    network: Network<Msg>,
    ages: BTreeMap<(usize, usize), std::collections::VecDeque<u8>>,
    judge: redlock_client::judge::Judge,
) -> SystemState {
    let at = |i: usize| if (first..first + order.len()).contains(&i) { first + order[i - first] } else { i };
    let n = s.actors.actor_states.len();
    SystemState {
        actors: stateright::actor::ActorModelState {
            actor_states: (0..n).map(|i| s.actors.actor_states[at(i)].clone()).collect(),
            network,
            timers_set: (0..n).map(|i| s.actors.timers_set[at(i)].clone()).collect(),
            random_choices: s.actors.random_choices.clone(),
            crashed: (0..n).map(|i| s.actors.crashed[at(i)]).collect(),
            history: s.actors.history,
            actor_storages: s.actors.actor_storages.clone(),
        },
        judge,
        budget: s.budget,
        ages,
    }
}

fn hasher() -> impl Hasher {
    ahash::RandomState::with_seeds(7, 11, 13, 17).build_hasher()
}

fn server_count(s: &SystemState) -> usize {
    s.actors.actor_states.iter().take_while(|a| matches!(***a, ActorState::Server(_))).count()
}

fn rename_flows(
    flows: &BTreeMap<(Id, Id), std::collections::VecDeque<Msg>>,
    id: impl Fn(Id) -> Id,
    msg: impl Fn(&Msg) -> Msg,
) -> Network<Msg> {
    Network::Ordered(flows.iter().map(|((src, dst), q)| ((id(*src), id(*dst)), q.iter().map(&msg).collect())).collect())
}

/// The same state with clients in a canonical order, or `None` when they are in it already.
fn canonical_clients(s: &SystemState) -> Option<SystemState> {
    let states = &s.actors.actor_states;
    let servers = server_count(s);
    let clients = states[servers..].iter().take_while(|a| matches!(***a, ActorState::Client(_))).count();
    if clients < 2 {
        return None;
    }
    let signature = |c: usize| {
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
        let mut relations: Vec<u64> = (0..servers)
            .map(|n| {
                let mut r = hasher();
                let srv = states[n].as_server();
                srv.map(|x| {
                    let mine = |k: Option<crate::server::Key>| k.map(|k| k.owner == c as u8);
                    (mine(x.key), x.replicas.iter().map(|r| mine(r.key)).collect::<Vec<_>>(), x.waits.iter().any(|w| w.client == c as u8))
                })
                .hash(&mut r);
                if let Network::Ordered(flows) = &s.actors.network {
                    flows.get(&(Id::from(i), Id::from(n))).hash(&mut r);
                    flows.get(&(Id::from(n), Id::from(i))).hash(&mut r);
                }
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
    };
    let (order, rename) = canonical_order(clients, signature)?;
    let client = |c: u8| rename.get(c as usize).map_or(c, |&r| r as u8);
    let actor = |id: Id| {
        let i = usize::from(id);
        if (servers..servers + clients).contains(&i) {
            Id::from(servers + client((i - servers) as u8) as usize)
        } else {
            id
        }
    };
    let index = |i: usize| usize::from(actor(Id::from(i)));
    let ages = s.ages.iter().map(|((a, b), q)| ((index(*a), index(*b)), q.clone())).collect();
    let network = match &s.actors.network {
        Network::Ordered(flows) => rename_flows(flows, actor, |m| m.rename_clients(client)),
        other => other.clone(),
    };
    let judge = s.judge.renamed_clients(|c| ClientId(client(c.0 as u8) as u32));
    let mut out = permuted(s, servers, &order, network, ages, judge);
    for a in out.actors.actor_states.iter_mut() {
        match &**a {
            ActorState::Server(srv) => {
                let mut srv = srv.clone();
                srv.rename_clients(client);
                *a = Arc::new(ActorState::Server(srv));
            }
            ActorState::Resource(r) => {
                let mut r = r.clone();
                r.rename_clients(client);
                *a = Arc::new(ActorState::Resource(r));
            }
            ActorState::Client(_) => {}
        }
    }
    // Every actor's timers that name a client (a resource's pending apply, a store's lease).
    for timers in out.actors.timers_set.iter_mut() {
        if timers.iter().any(|t| t.rename_clients(client) != *t) {
            let mut renamed = stateright::actor::Timers::new();
            for t in timers.iter() {
                renamed.set(t.rename_clients(client));
            }
            *timers = renamed;
        }
    }
    Some(out)
}
