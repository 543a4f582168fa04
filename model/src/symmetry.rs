//! Server symmetry: Redis nodes of one setup are interchangeable, so a state and the same
//! state with servers renamed are the same situation. The representative sorts the servers by
//! everything that can be said about each one (its state, its timers, whether it is down, the
//! messages on its connections, the clients' view of it, the judge's view of it) and renames
//! every server index accordingly. Servers with equal signatures are indistinguishable, so ties
//! cannot make two representatives of one class differ.
//!
//! Only the depth-first search uses it (Stateright's breadth-first search ignores symmetry).

use crate::actor::ActorState;
use crate::system::SystemState;
use stateright::actor::{Id, Network};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The representative of `s`'s symmetry class.
pub fn representative(s: &SystemState) -> SystemState {
    let states = &s.actors.actor_states;
    let servers = states.iter().take_while(|a| matches!(***a, ActorState::Server(_))).count();
    if servers < 2 {
        return s.clone();
    }
    let Network::Ordered(flows) = &s.actors.network else { return s.clone() };
    let signature = |i: usize| {
        let id = Id::from(i);
        let channels: Vec<_> = flows
            .iter()
            .filter(|((src, dst), _)| *src == id || *dst == id)
            .map(|((src, dst), q)| (*src == id, if *src == id { *dst } else { *src }, q))
            .collect();
        let views: Vec<_> = states[servers..]
            .iter()
            .filter_map(|a| a.as_client())
            .map(|c| {
                let phase_bits = match c.lock.phase {
                    redlock_client::protocol::Phase::Acquiring(r) | redlock_client::protocol::Phase::Extending { round: r, .. } => {
                        (r.pending.contains(i), r.ok.contains(i))
                    }
                    _ => (false, false),
                };
                (phase_bits, c.expire_pending.contains(i))
            })
            .collect();
        let mut timers: Vec<_> = s.actors.timers_set[i].iter().copied().collect();
        timers.sort();
        (
            states[i].as_server().map(|srv| srv.signature()),
            s.actors.crashed[i],
            timers,
            channels,
            views,
            s.judge.node_view(redlock_client::event::NodeId(i as u32)),
        )
    };
    let mut order: Vec<usize> = (0..servers).collect();
    let signatures: Vec<_> = order.iter().map(|&i| signature(i)).collect();
    order.sort_by(|&a, &b| signatures[a].cmp(&signatures[b]));
    if order.iter().enumerate().all(|(new, &old)| new == old) {
        return s.clone();
    }
    // old index -> new index
    let mut rename = vec![0; servers];
    for (new, &old) in order.iter().enumerate() {
        rename[old] = new;
    }
    let rename_id = |id: Id| {
        let i = usize::from(id);
        if i < servers { Id::from(rename[i]) } else { id }
    };
    let mut out = s.clone();
    for (new, &old) in order.iter().enumerate() {
        out.actors.actor_states[new] = s.actors.actor_states[old].clone();
        out.actors.timers_set[new] = s.actors.timers_set[old].clone();
        out.actors.crashed[new] = s.actors.crashed[old];
    }
    for a in out.actors.actor_states[servers..].iter_mut() {
        if let ActorState::Client(c) = &**a {
            let mut c = c.clone();
            c.lock = c.lock.renamed(|i| if i < servers { rename[i] } else { i });
            c.expire_pending = c.expire_pending.renamed(|i| if i < servers { rename[i] } else { i });
            *a = Arc::new(ActorState::Client(c));
        }
    }
    let renamed: BTreeMap<_, _> = flows.iter().map(|((src, dst), q)| ((rename_id(*src), rename_id(*dst)), q.clone())).collect();
    out.actors.network = Network::Ordered(renamed);
    out.judge = s.judge.renamed_nodes(|n| if (n.0 as usize) < servers { redlock_client::event::NodeId(rename[n.0 as usize] as u32) } else { n });
    out
}
