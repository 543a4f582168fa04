//! Settled states and dead messages: where nothing that is left of a run, or of a message, can
//! change a verdict, a search that only decides verdicts stops there, or drops it.
//!
//! Once every client is done for good, the rest of a run is the servers and the resource
//! working off what is still in flight, keys expiring, and faults striking servers. With delays
//! unbounded that tail is most of the space (on `redlock-n3` with delays lifted, 2.3M of its
//! 2.7M states have both clients done): every order of late releases, stale requests and
//! expiries, none of which any client will ever see. Whether it matters depends on the
//! property:
//!
//! - mutual exclusion, a lost lock reported, and the witnesses `clients_contend`,
//!   `lock_passed_on` and `loss_reported` change only with the clients' own events (a belief
//!   window, a grant, a report, an attempt): they are settled as soon as the clients are done;
//! - the resource's properties (`ordered_fenced_writes`, `no_lost_update`,
//!   `writes_from_two_holders`) change only when the resource applies or refuses something:
//!   settled once, besides, nothing is in flight to or from the resource and it waits on no
//!   timer;
//! - owner-only release and eventual acquirability change with the servers' own events (a late
//!   `DEL`, a key that never expires): never settled here.
//!
//! A client is done for good when it crashed, or when its run is over (`Done`, its protocol
//! core released, failed or lost), none of its timers can fire (a done client's clock stands
//! still, so a timer that is not due now never is), and the lock is Redis's correct one
//! (`SET NX PX`, compare-and-delete): the core ignores every late reply in those phases and
//! such a client sends nothing more. The other encodings, services and repeating clients react
//! to late replies (`GET` then `DEL`, `SETNX` then `EXPIRE`, a lease core) or start again, and
//! are never settled.
//!
//! With delays unbounded the same reasoning applies to single messages (`drop_dead_messages`):
//! a late reply to a client that is done for good or to a round its client no longer waits
//! for, or a release that can no longer delete a key (nor an extension of a client that is
//! done), changes nothing whenever it arrives, so it is dropped when it becomes dead rather
//! than delivered in every order with everything else. A counterexample found this way replays
//! step for step on the whole model, where such a message is simply never delivered.
//!
//! Stopping there keeps every verdict, counterexample and witness: a settled state is still
//! checked, and no state after it could violate an invariant or meet a witness that it does
//! not already. A shortest path to a violation never passes through a settled state. The
//! search counts change, so the state counts that the TLA+ twin must equal (and the bench's
//! whole spaces) are counted without it.

use crate::client::Stage;
use crate::msg::Due;
use crate::msg::Msg;
use crate::properties::{witnesses, Witness, CLIENTS_CONTEND, LOCK_PASSED_ON, LOSS_REPORTED, WRITES_FROM_TWO_HOLDERS};
use crate::server::Key;
use crate::setup::{Encoding, Service, Setup};
use crate::system::{LockSystem, SystemState};
use redlock_client::judge::Invariant;
use redlock_client::protocol::{LockState, Phase};
use stateright::actor::{Id, Network};

/// What can still change a property once every client is done for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChangesWith {
    /// Nothing: only clients' events move it.
    Clients,
    /// The resource's steps.
    Resource,
    /// The servers' own steps (expiries, late commands).
    Servers,
}

fn invariant_changes_with(invariant: Invariant) -> ChangesWith {
    match invariant {
        Invariant::MutualExclusion | Invariant::LostLockReported => ChangesWith::Clients,
        Invariant::OrderedFencedWrites | Invariant::NoLostUpdate => ChangesWith::Resource,
        Invariant::OwnerOnlyRelease | Invariant::EventuallyAcquirable => ChangesWith::Servers,
    }
}

/// A witness not named here is taken to change with the servers: never settled.
fn witness_changes_with(witness: &Witness) -> ChangesWith {
    match witness.name {
        n if [CLIENTS_CONTEND.name, LOCK_PASSED_ON.name, LOSS_REPORTED.name].contains(&n) => ChangesWith::Clients,
        n if n == WRITES_FROM_TWO_HOLDERS.name => ChangesWith::Resource,
        _ => ChangesWith::Servers,
    }
}

/// Redis's correct lock (`SET NX PX`, compare-and-delete) with clients that run once: a
/// client in a final phase ignores every reply and sends nothing more. The other encodings,
/// services and repeating clients react to late replies or start again.
fn plain_redis_lock(setup: &Setup) -> bool {
    !setup.repeat && setup.service == Service::Redis && setup.encoding == Encoding::Correct
}

/// Whether `client` will never take another step that sends a message or that the judge sees.
fn done_for_good(sys: &LockSystem, s: &SystemState, client: u8) -> bool {
    let setup = &sys.setup;
    if !plain_redis_lock(setup) {
        return false;
    }
    let index = setup.client_actor(client);
    if s.actors.crashed[index] {
        return true;
    }
    let Some(c) = s.actors.actor_states[index].as_client() else { return false };
    c.stage == Stage::Done
        && matches!(c.lock.phase, Phase::Released | Phase::Failed | Phase::Lost)
        && s.actors.timers_set[index].iter().all(|t| sys.timer_due(s, index, *t) == Due::No)
}

/// Removes, with delays unbounded, the messages that can no longer change anything: those to
/// a client that is done for good (it ignores every late reply), the replies its client's core
/// will ignore (`stale_reply`), and the releases that can no
/// longer delete a key: no acquire of their client is ahead of them on their way to the server
/// (what comes behind arrives after them), and the server neither holds that client's key nor
/// can come to before they arrive (none of its replicas has the key, which a failover would
/// promote; a restart brings back the key the server has); the same for extensions whose
/// client is done for good (a refused extension's reply goes to its client). Such a message
/// changes nothing whenever it arrives, but left in flight it doubles the states that follow,
/// with and without it, and its delivery is one more step from each of them. (With delays
/// bounded it must arrive within the bound, and holds time back until it does: it stays.)
pub fn drop_dead_messages(sys: &LockSystem, s: &mut SystemState) {
    let setup = &sys.setup;
    if setup.bounds.delay.is_some() {
        return;
    }
    let done: Vec<bool> = (0..setup.clients).map(|c| done_for_good(sys, s, c)).collect();
    let done_client = |actor: usize| setup.client_at(actor).is_some_and(|c| done[c as usize]);
    // Each flow with which of its messages are dead.
    let dead: Vec<((Id, Id), Vec<bool>)> = {
        let Network::Ordered(flows) = &s.actors.network else { return };
        flows
            .iter()
            .filter_map(|(&(src, dst), q)| {
                let (src_i, dst_i) = (usize::from(src), usize::from(dst));
                if done_client(dst_i) {
                    return Some(((src, dst), vec![true; q.len()]));
                }
                if let (Some(node), Some(c)) = (setup.server_at(src_i), s.actors.actor_states[dst_i].as_client()) {
                    let marks: Vec<bool> = q.iter().map(|m| stale_reply(setup, &c.lock, node as usize, m)).collect();
                    return marks.contains(&true).then_some(((src, dst), marks));
                }
                let server = s.actors.actor_states[dst_i].as_server()?;
                let client = setup.client_at(src_i)?;
                let theirs = |k: Option<Key>| k.is_some_and(|k| k.owner == client);
                if theirs(server.key) || server.replicas.iter().any(|r| theirs(r.key)) || !q.iter().any(owner_only) {
                    return None;
                }
                let mut acquire_ahead = false;
                let marks: Vec<bool> = q
                    .iter()
                    .map(|m| {
                        acquire_ahead |= matches!(m, Msg::Acquire { .. });
                        !acquire_ahead && (*m == Msg::Release || (owner_only(m) && done_client(src_i)))
                    })
                    .collect();
                marks.contains(&true).then_some(((src, dst), marks))
            })
            .collect()
    };
    let Network::Ordered(flows) = &mut s.actors.network else { return };
    for (key, marks) in dead {
        if let Some(q) = flows.get_mut(&key) {
            let mut marks = marks.into_iter();
            q.retain(|_| !marks.next().unwrap_or(false));
            if q.is_empty() {
                flows.remove(&key);
            }
        }
    }
}

/// A reply that the client's protocol core will ignore whenever it arrives: it answers a round
/// other than the one in flight, or a node the round no longer waits for. Rounds are numbered
/// upwards and a round's pending nodes only shrink, so what is ignored now is ignored for
/// good; with Redis's correct encoding the client does nothing else with a reply.
fn stale_reply(setup: &Setup, lock: &LockState, node: usize, m: &Msg) -> bool {
    if !plain_redis_lock(setup) {
        return false;
    }
    let (Msg::AcquireReply { round, .. } | Msg::ExtendReply { round, .. }) = *m else { return false };
    match lock.phase {
        Phase::Acquiring(r) | Phase::Extending { round: r, .. } => r.number != round || !r.pending.contains(node),
        _ => true,
    }
}

/// A command that does something only where the key is its client's (a release, an extension;
/// a refused extension's reply goes to its client).
fn owner_only(m: &Msg) -> bool {
    matches!(m, Msg::Release | Msg::Extend { .. })
}

/// Whether nothing the run can still do changes a verdict of `sys`'s properties.
pub fn settled(sys: &LockSystem, s: &SystemState) -> bool {
    let setup = &sys.setup;
    if !(0..setup.clients).all(|client| done_for_good(sys, s, client)) {
        return false;
    }
    let resource_quiet = || match setup.resource_actor() {
        None => true,
        Some(r) => {
            let Network::Ordered(flows) = &s.actors.network else { return false };
            s.actors.timers_set[r].iter().next().is_none()
                && !flows.iter().any(|((src, dst), q)| !q.is_empty() && (usize::from(*src) == r || usize::from(*dst) == r))
        }
    };
    let reaches = setup
        .judged
        .iter()
        .map(|i| invariant_changes_with(*i))
        .chain(setup.judged.iter().flat_map(|i| witnesses(*i)).map(witness_changes_with));
    let mut resource_needed = false;
    for reach in reaches {
        match reach {
            ChangesWith::Clients => {}
            ChangesWith::Resource => resource_needed = true,
            ChangesWith::Servers => return false,
        }
    }
    !resource_needed || resource_quiet()
}
