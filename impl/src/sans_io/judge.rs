//! The invariants, written once, as one fold over [`Event`]s.
//!
//! The [`Judge`] observes one event at a time, in real-time order, and keeps only what later
//! events can still contradict: who holds a belief window now, who is acquiring, the keys the
//! servers hold, the rank of each holder, the newest holder whose write the resource applied,
//! the value each client last read. Its state is small, deterministic and hashable, so the model
//! keeps it in its state and reads its verdicts in `Always` properties; the conformance runs and
//! the history auditor fold the very same judge over recorded events.
//!
//! It knows nothing of time. Events that only time produces (a validity window ending, a key
//! expiring) are events too: the model emits them when its clocks say so, and
//! [`crate::history`] derives them from the stamps of a recorded history.

use crate::event::{ClientId, Event, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The invariants of the debate, and the one that keeps a lost lock from being believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// At no instant of real time do two clients each believe they hold an unexpired lock on
    /// the same resource. A belief window opens when a client learns it was granted the lock
    /// and closes when its validity runs out on its own clock, when it starts releasing, when it
    /// reports the lock lost, or when it crashes.
    ///
    /// This is Redlock's central claim, and what Kleppmann disputes: it holds if clocks drift
    /// within the allowance, and fails once a clock jumps, a node forgets a key, or a replica is
    /// promoted before it has the key (Kleppmann, *How to do distributed locking*,
    /// Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 2).
    MutualExclusion,
    /// A release never removes a key written by another client.
    ///
    /// The single-node pitfalls: deleting with a plain `DEL` or a fixed value, or as `GET` then
    /// `DEL`, lets a late client delete the lock of the next one
    /// (Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 1).
    OwnerOnlyRelease,
    /// Once the resource has applied a write from a newer holder, it never applies one from an
    /// older holder. Holders are ranked by the real-time order of their grants, not by token
    /// values. A grant happens when the lock service gives the lock away: when a majority of
    /// servers has set the client's key within one attempt (one server: when it set the key);
    /// where a history records no server-side step, when the client learns it was granted. This
    /// is what separates monotonic fencing tokens, which keep that order, from unique random
    /// tokens, which cannot
    /// (Kleppmann's fencing tokens 33 and 34; antirez's check-and-set; reza_n's case on Hacker
    /// News, Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 2).
    OrderedFencedWrites,
    /// Read-modify-write increments on the resource are never lost: every applied write was
    /// computed from the value the resource held when it was applied. A holder paused between
    /// its read and its write (a GC pause) breaks it unless the resource refuses stale writes.
    NoLostUpdate,
    /// Bounded liveness: once no client holds or is acquiring, every key that carries an expiry
    /// has expired or been deleted, and a majority of servers is up, then a majority of the up
    /// servers is free, so the next client that reaches them is granted. `SETNX` followed by an
    /// `EXPIRE` that never comes (the client crashed in between) leaves a key that never
    /// expires (Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 1).
    EventuallyAcquirable,
    /// A holder that so many servers have told "the key is not yours" that no majority can
    /// hold its key stops believing it holds the lock before it does anything else: it reports
    /// the loss, releases or dies, rather than extending, touching the resource or waiting for
    /// its validity to run out. Another client may hold the lock already; a client that
    /// believes its old validity instead is the lost-lock report that comes seconds late.
    LostLockReported,
}

impl Invariant {
    pub const ALL: [Invariant; 6] = [
        Invariant::MutualExclusion,
        Invariant::OwnerOnlyRelease,
        Invariant::OrderedFencedWrites,
        Invariant::NoLostUpdate,
        Invariant::EventuallyAcquirable,
        Invariant::LostLockReported,
    ];

    /// The snake_case name used in Rust, JSON and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::MutualExclusion => "mutual_exclusion",
            Invariant::OwnerOnlyRelease => "owner_only_release",
            Invariant::OrderedFencedWrites => "ordered_fenced_writes",
            Invariant::NoLostUpdate => "no_lost_update",
            Invariant::EventuallyAcquirable => "eventually_acquirable",
            Invariant::LostLockReported => "lost_lock_reported",
        }
    }

    /// Looks a property up by its snake_case name.
    pub fn from_name(name: &str) -> Option<Invariant> {
        Invariant::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first violation of one property, in words a reader can check against the history.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    pub property: Invariant,
    pub explanation: String,
}

/// What the judge remembers of one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientView {
    /// Its belief window is open.
    holding: bool,
    /// An acquire attempt is in flight.
    acquiring: bool,
    /// Where its latest grant stands in the order of grants. Only the order matters, so the
    /// numbers are kept dense (0, 1, ...): absolute counts would make every history distinct.
    rank: Option<u32>,
    /// Keys set for it in the attempt in flight, until the attempt is ranked.
    sets: u32,
    /// The attempt in flight has been ranked (a quorum of its keys was set).
    ranked: bool,
    /// The value it last read from the resource.
    read: Option<u64>,
    /// Servers (below 32) that refused its key since its latest grant or extension.
    refused: u32,
}

/// The judge of one lock (one resource). See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Judge {
    nodes: u32,
    clients: BTreeMap<ClientId, ClientView>,
    /// Which client's key each node holds, and whether that key expires.
    keys: BTreeMap<NodeId, (ClientId, bool)>,
    down: BTreeMap<NodeId, ()>,
    /// Grants seen, counted up to two: all a witness needs (counting on would split states).
    grants: u32,
    /// Whether some holder reported a loss that a majority's refusals had told it of (a
    /// witness of [`Invariant::LostLockReported`]).
    refusal_reported: bool,
    /// The rank of the newest holder whose write the resource applied.
    newest_applied: Option<u32>,
    /// The resource's value, where known: a lock's model starts at 0; an auditor that starts
    /// reading a history in the middle (or meets a lock again after forgetting it) learns the
    /// value from the next read or write.
    value: Option<u64>,
    violations: Vec<Violation>,
}

impl Judge {
    /// A judge for a lock on `nodes` servers whose resource starts at 0 (the model's).
    pub fn new(nodes: u32) -> Judge {
        Judge { nodes, value: Some(0), ..Judge::default() }
    }

    /// A judge that joins a lock's life in the middle, as an auditor of a recorded history
    /// does: it does not know the resource's value until a read or a write shows it.
    pub fn joining(nodes: u32) -> Judge {
        Judge { nodes, ..Judge::default() }
    }

    /// Folds one event in. Returns the properties this event violated for the first time.
    pub fn observe(&mut self, event: &Event) -> Vec<Invariant> {
        let before = self.violations.len();
        self.apply(event);
        self.check_acquirable();
        self.violations[before..].iter().map(|v| v.property).collect()
    }

    /// The first violation of `property`, if any.
    pub fn violation(&self, property: Invariant) -> Option<&Violation> {
        self.violations.iter().find(|v| v.property == property)
    }

    /// Every first violation, in the order they happened.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Clients whose belief window is open now.
    pub fn holders(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.clients.iter().filter(|(_, v)| v.holding).map(|(c, _)| *c)
    }

    /// Clients with an acquire attempt in flight now.
    pub fn acquirers(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.clients.iter().filter(|(_, v)| v.acquiring).map(|(c, _)| *c)
    }

    /// Nothing is left that later events could contradict, except what a joining judge learns
    /// again: no holder, no acquirer, no key, no node down, no client with a rank (every
    /// holder released or crashed) or a read in flight. An auditor may forget such a judge and
    /// start a [`Judge::joining`] one when the lock comes back; what that forgets is the
    /// resource's value (learned again from the next read or write) and which holder wrote
    /// last, so that a write from a client that holds no grant is then compared only with the
    /// writes that follow.
    pub fn at_rest(&self) -> bool {
        self.keys.is_empty()
            && self.down.is_empty()
            && self.clients.values().all(|v| !v.holding && !v.acquiring && v.rank.is_none() && v.read.is_none())
    }

    /// The premise of [`Invariant::EventuallyAcquirable`] holds now.
    pub fn acquirable_premise(&self) -> bool {
        let up = (self.nodes as usize).saturating_sub(self.down.len());
        self.holders().next().is_none()
            && self.acquirers().next().is_none()
            && self.live_keys().all(|(_, expires)| !expires)
            && up >= self.quorum()
    }

    /// The resource's value as the judge saw it applied (0 while unknown).
    pub fn value(&self) -> u64 {
        self.value.unwrap_or(0)
    }

    /// Forgets the clients it knows nothing about any more (no window, no attempt, no rank, no
    /// read): an auditor calls it so that memory follows the clients with live state. The
    /// model keeps them, so that its states stay in step with the TLA+ twin's.
    pub fn forget_idle_clients(&mut self) {
        self.clients.retain(|_, v| *v != ClientView::default());
    }

    /// How many grants the judge has seen, counted up to two.
    pub fn grants(&self) -> u32 {
        self.grants
    }

    /// Whether a holder has reported a loss that a majority's refusals told it of.
    pub fn refusal_reported(&self) -> bool {
        self.refusal_reported
    }

    /// What the judge knows of one node: whose key it holds (and whether it expires), and
    /// whether it is down.
    pub fn node_view(&self, node: NodeId) -> (Option<(ClientId, bool)>, bool) {
        (self.keys.get(&node).copied(), self.down.contains_key(&node))
    }

    /// The highest node the judge knows of (holding a key or down), if any.
    pub fn highest_node(&self) -> Option<NodeId> {
        self.keys.keys().chain(self.down.keys()).max().copied()
    }

    /// What the judge knows of one client (comparable, for a model's symmetry reduction).
    pub fn client_view(&self, client: ClientId) -> Option<ClientView> {
        self.clients.get(&client).copied()
    }

    /// The same judge with every client and every node renamed (for a model's symmetry
    /// reduction), built once.
    pub fn renamed(&self, client: impl Fn(ClientId) -> ClientId, node: impl Fn(NodeId) -> NodeId) -> Judge {
        Judge {
            clients: self.clients.iter().map(|(c, v)| (client(*c), *v)).collect(),
            keys: self.keys.iter().map(|(n, (owner, expires))| (node(*n), (client(*owner), *expires))).collect(),
            down: self.down.keys().map(|n| (node(*n), ())).collect(),
            ..self.clone()
        }
    }

    fn quorum(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    fn live_keys(&self) -> impl Iterator<Item = (NodeId, bool)> + '_ {
        self.keys.iter().filter(|(n, _)| !self.down.contains_key(n)).map(|(n, (_, expires))| (*n, *expires))
    }

    fn violate(&mut self, property: Invariant, explanation: String) {
        if self.violation(property).is_none() {
            self.violations.push(Violation { property, explanation });
        }
    }

    fn client(&mut self, client: ClientId) -> &mut ClientView {
        self.clients.entry(client).or_default()
    }

    fn open_window(&mut self, client: ClientId, how: &str) {
        let others: Vec<ClientId> = self.holders().filter(|&c| c != client).collect();
        if let Some(other) = others.first() {
            self.violate(Invariant::MutualExclusion, format!("{client} {how} while {other} still believes it holds the lock"));
        }
        self.client(client).holding = true;
    }

    fn apply(&mut self, event: &Event) {
        // A history may name nodes before (or without) saying how many there are.
        if let Event::KeySet { node, .. }
        | Event::KeyDeleted { node, .. }
        | Event::KeyExpired { node, .. }
        | Event::KeyLost { node, .. }
        | Event::NodeDown { node }
        | Event::NodeUp { node } = *event
        {
            self.nodes = self.nodes.max(node.0.saturating_add(1));
        }
        match *event {
            Event::Setup { nodes } => self.nodes = nodes,
            Event::AcquireStarted { client } => {
                self.check_reported(client, "started another attempt");
                let view = self.client(client);
                view.acquiring = true;
                view.sets = 0;
                view.ranked = false;
                view.refused = 0;
            }
            Event::KeySet { node, owner, ttl_ms } => {
                self.keys.insert(node, (owner, ttl_ms.is_some()));
                let quorum = self.quorum() as u32;
                let view = self.client(owner);
                if view.acquiring && !view.ranked {
                    view.sets = view.sets.saturating_add(1);
                    if view.sets >= quorum {
                        self.rank(owner);
                    }
                }
            }
            Event::Granted { client, .. } => {
                self.check_reported(client, "was granted the lock again");
                self.client(client).refused = 0;
                self.open_window(client, "was granted the lock");
                if !self.client(client).ranked {
                    self.rank(client);
                }
                self.grants = (self.grants + 1).min(2);
                self.end_attempt(client);
            }
            Event::AcquireFailed { client } => {
                // A quorum the client could not use (its validity ran out) is no hold.
                if self.client(client).ranked {
                    self.client(client).rank = None;
                    self.normalize_ranks();
                }
                self.end_attempt(client);
            }
            Event::Extended { client, .. } => {
                self.check_reported(client, "extended it");
                self.client(client).refused = 0;
                if !self.client(client).holding {
                    self.open_window(client, "extended a lock it no longer held");
                }
            }
            Event::ValidityEnded { client } => {
                self.check_reported(client, "believed it held the lock until its validity ran out");
                self.client(client).holding = false
            }
            Event::LockLost { client } => {
                let threshold = (self.nodes as usize).saturating_sub(self.quorum());
                let view = self.client(client);
                if view.holding && view.refused.count_ones() as usize > threshold {
                    self.refusal_reported = true;
                }
                self.client(client).holding = false
            }
            Event::Refused { client, node } => {
                let view = self.client(client);
                if view.holding {
                    view.refused |= 1u32.checked_shl(node.0).unwrap_or(0);
                }
            }
            Event::ReleaseStarted { client } | Event::ClientCrashed { client } => {
                // It holds nothing any more: a later write of its own ranks below every holder.
                self.end_attempt(client);
                let view = self.client(client);
                view.holding = false;
                view.rank = None;
                self.normalize_ranks();
            }
            Event::KeyDeleted { node, owner, by } => {
                if owner != by {
                    self.violate(Invariant::OwnerOnlyRelease, format!("{by}'s release deleted {owner}'s key on {node}"));
                }
                self.keys.remove(&node);
            }
            Event::KeyExpired { node, owner } | Event::KeyLost { node, owner } => {
                if self.keys.get(&node).map(|k| k.0) == Some(owner) {
                    self.keys.remove(&node);
                }
            }
            Event::NodeDown { node } => {
                self.down.insert(node, ());
            }
            Event::NodeUp { node } => {
                self.down.remove(&node);
            }
            Event::Fault { .. } => {}
            Event::WriteRejected { client, .. } => self.check_reported(client, "wrote to the resource"),
            Event::ResourceRead { client, value, .. } => {
                self.check_reported(client, "read the resource");
                // A judge that joined late learns the value here.
                self.value.get_or_insert(value);
                self.client(client).read = Some(value);
            }
            Event::WriteApplied { client, value, .. } => {
                self.check_reported(client, "wrote to the resource");
                self.write_applied(client, value)
            }
        }
    }

    /// A holder that a majority cannot hold the key of any more must have reported the loss
    /// before it takes another step (`step` says which).
    fn check_reported(&mut self, client: ClientId, step: &str) {
        let Some(view) = self.clients.get(&client) else { return };
        let refused = view.refused.count_ones() as usize;
        if view.holding && refused > (self.nodes as usize).saturating_sub(self.quorum()) {
            self.violate(
                Invariant::LostLockReported,
                format!(
                    "{client} {step} after {refused} of {} nodes had refused its key, so that no \
                     majority could hold it: it should have reported the lock lost at once",
                    self.nodes
                ),
            );
        }
    }

    /// The lock service gave the lock to `client`: it is the newest holder.
    fn rank(&mut self, client: ClientId) {
        let newest = self.clients.values().filter_map(|v| v.rank).chain(self.newest_applied).max();
        let view = self.client(client);
        view.ranked = true;
        view.sets = 0;
        view.rank = Some(newest.map_or(0, |n| n.saturating_add(1)));
        self.normalize_ranks();
    }

    fn end_attempt(&mut self, client: ClientId) {
        let view = self.client(client);
        view.acquiring = false;
        view.ranked = false;
        view.sets = 0;
    }

    /// Renumbers ranks 0, 1, ... in the same order.
    fn normalize_ranks(&mut self) {
        let mut used: Vec<u32> = self.clients.values().filter_map(|v| v.rank).chain(self.newest_applied).collect();
        used.sort_unstable();
        used.dedup();
        let dense = |r: u32| used.binary_search(&r).map(|i| i as u32).unwrap_or(r);
        for view in self.clients.values_mut() {
            view.rank = view.rank.map(dense);
        }
        self.newest_applied = self.newest_applied.map(dense);
    }

    fn write_applied(&mut self, client: ClientId, value: u64) {
        let view = *self.client(client);
        if let Some(newest) = self.newest_applied {
            // A write from a client that holds no grant ranks below every holder.
            if view.rank.is_none_or(|r| r < newest) {
                let later = self
                    .clients
                    .iter()
                    .find(|(_, v)| v.rank == Some(newest))
                    .map_or("a later holder".to_string(), |(c, _)| format!("{c}, a later holder"));
                let whose = if view.rank.is_some() { "an older holder" } else { "a client that holds no grant" };
                self.violate(
                    Invariant::OrderedFencedWrites,
                    format!("the resource applied {client}'s write ({whose}) after a write from {later}"),
                );
            }
        }
        if let Some(r) = view.rank {
            self.newest_applied = Some(self.newest_applied.map_or(r, |n| n.max(r)));
        }
        if let (Some(read), Some(current)) = (view.read, self.value) {
            if read != current {
                self.violate(
                    Invariant::NoLostUpdate,
                    format!(
                        "{client} wrote {value}, computed from the value {read} it had read, \
                         over the value {current} that another write had left: an increment was lost"
                    ),
                );
            }
        }
        self.value = Some(value);
        self.client(client).read = None;
    }

    fn check_acquirable(&mut self) {
        if !self.acquirable_premise() {
            return;
        }
        let up = (self.nodes as usize).saturating_sub(self.down.len());
        let taken: Vec<NodeId> = self.live_keys().map(|(n, _)| n).collect();
        if up.saturating_sub(taken.len()) < self.quorum() {
            let owners: Vec<String> = taken.iter().map(|n| format!("{n} ({})", self.keys[n].0)).collect();
            self.violate(
                Invariant::EventuallyAcquirable,
                format!(
                    "no client holds or is acquiring and every expiring key is gone, yet keys \
                     that never expire block a majority: {}",
                    owners.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event::*;

    const A: ClientId = ClientId(1);
    const B: ClientId = ClientId(2);
    const N0: NodeId = NodeId(0);

    fn judge(nodes: u32, events: &[Event]) -> Judge {
        let mut j = Judge::new(nodes);
        for e in events {
            j.observe(e);
        }
        j
    }

    fn granted(client: ClientId) -> Event {
        Granted { client, validity_ms: 10, token: None }
    }

    #[test]
    fn two_open_windows_break_mutual_exclusion() {
        let j = judge(1, &[granted(A), granted(B)]);
        let v = j.violation(Invariant::MutualExclusion).expect("violated");
        assert!(v.explanation.contains("client 2") && v.explanation.contains("client 1"));
    }

    #[test]
    fn a_window_closed_by_validity_release_loss_or_crash_allows_the_next_grant() {
        for end in [ValidityEnded { client: A }, ReleaseStarted { client: A }, LockLost { client: A }, ClientCrashed { client: A }] {
            let j = judge(1, &[granted(A), end.clone(), granted(B)]);
            assert!(j.violations().is_empty(), "{end:?}");
        }
    }

    #[test]
    fn extending_after_the_window_closed_reopens_it_and_is_checked() {
        let j = judge(1, &[granted(A), ValidityEnded { client: A }, granted(B), Extended { client: A, validity_ms: 5 }]);
        assert!(j.violation(Invariant::MutualExclusion).is_some());
    }

    #[test]
    fn deleting_someone_elses_key_breaks_owner_only_release() {
        let ok = judge(1, &[KeySet { node: N0, owner: A, ttl_ms: Some(5) }, KeyDeleted { node: N0, owner: A, by: A }]);
        assert!(ok.violations().is_empty());
        let bad = judge(1, &[KeySet { node: N0, owner: B, ttl_ms: Some(5) }, KeyDeleted { node: N0, owner: B, by: A }]);
        assert_eq!(bad.violations()[0].property, Invariant::OwnerOnlyRelease);
    }

    #[test]
    fn an_older_holders_write_after_a_newer_holders_breaks_ordered_fenced_writes() {
        // Kleppmann's figure: client 1 (token 33) pauses, client 2 (token 34) writes, client 1
        // wakes and writes.
        let base = [granted(A), ValidityEnded { client: A }, granted(B)];
        let in_order =
            [&base[..], &[WriteApplied { client: A, value: 1, token: None }, WriteApplied { client: B, value: 2, token: None }]].concat();
        assert!(judge(1, &in_order).violation(Invariant::OrderedFencedWrites).is_none());
        let reversed =
            [&base[..], &[WriteApplied { client: B, value: 1, token: None }, WriteApplied { client: A, value: 2, token: None }]].concat();
        assert!(judge(1, &reversed).violation(Invariant::OrderedFencedWrites).is_some());
    }

    #[test]
    fn holders_rank_by_when_the_service_granted_not_by_when_the_reply_arrived() {
        // A's key is set first, but A learns of it after B was granted: A is still the older
        // holder, so B's write after A's is in order.
        let events = [
            AcquireStarted { client: A },
            KeySet { node: N0, owner: A, ttl_ms: Some(5) },
            KeyExpired { node: N0, owner: A },
            AcquireStarted { client: B },
            KeySet { node: N0, owner: B, ttl_ms: Some(5) },
            granted(B),
            granted(A),
            WriteApplied { client: A, value: 1, token: Some(1) },
            WriteApplied { client: B, value: 2, token: Some(2) },
        ];
        let j = judge(1, &events);
        assert!(j.violation(Invariant::OrderedFencedWrites).is_none());
        assert!(j.violation(Invariant::MutualExclusion).is_some(), "both believed they held");
        assert_eq!(j.grants(), 2);
    }

    #[test]
    fn a_majority_of_keys_in_one_attempt_is_a_grant_a_minority_is_not() {
        let set = |n: u32, owner| KeySet { node: NodeId(n), owner, ttl_ms: Some(5) };
        let j = judge(5, &[AcquireStarted { client: A }, set(0, A), set(1, A)]);
        assert_eq!(j.grants(), 0);
        let j = judge(5, &[AcquireStarted { client: A }, set(0, A), set(1, A), set(2, A), granted(A)]);
        assert_eq!(j.grants(), 1, "the quorum and the reply are one grant");
    }

    #[test]
    fn a_write_computed_from_an_overwritten_read_is_a_lost_update() {
        let read = |client| ResourceRead { client, value: 0, token: None };
        let lost = judge(
            1,
            &[read(A), read(B), WriteApplied { client: B, value: 1, token: None }, WriteApplied { client: A, value: 1, token: None }],
        );
        let v = lost.violation(Invariant::NoLostUpdate).expect("lost");
        assert!(v.explanation.contains("increment was lost"));
        let serial = judge(
            1,
            &[
                read(A),
                WriteApplied { client: A, value: 1, token: None },
                ResourceRead { client: B, value: 1, token: None },
                WriteApplied { client: B, value: 2, token: None },
            ],
        );
        assert!(serial.violations().is_empty());
        assert_eq!(serial.value(), 2);
    }

    #[test]
    fn a_key_that_never_expires_makes_the_lock_unacquirable_once_everyone_stopped() {
        let stuck = [AcquireStarted { client: A }, KeySet { node: N0, owner: A, ttl_ms: None }, ClientCrashed { client: A }];
        let j = judge(1, &stuck);
        assert_eq!(j.violations()[0].property, Invariant::EventuallyAcquirable);
        // The same with an expiring key is only a premise not yet met.
        let fine = judge(1, &[AcquireStarted { client: A }, KeySet { node: N0, owner: A, ttl_ms: Some(3) }, ClientCrashed { client: A }]);
        assert!(fine.violations().is_empty());
        assert!(!fine.acquirable_premise());
        let expired = judge(1, &[KeySet { node: N0, owner: A, ttl_ms: Some(3) }, KeyExpired { node: N0, owner: A }]);
        assert!(expired.acquirable_premise());
    }

    #[test]
    fn acquirability_needs_a_majority_up_and_ignores_keys_on_down_nodes() {
        let j = judge(3, &[KeySet { node: N0, owner: A, ttl_ms: None }, NodeDown { node: N0 }]);
        assert!(j.violations().is_empty(), "two free nodes out of three up is a majority");
        let j = judge(3, &[NodeDown { node: NodeId(1) }, NodeDown { node: NodeId(2) }]);
        assert!(!j.acquirable_premise(), "no majority up: nothing is promised");
    }

    #[test]
    fn an_expiry_of_an_old_key_does_not_remove_a_newer_owners_key() {
        let j = judge(1, &[KeySet { node: N0, owner: B, ttl_ms: None }, KeyExpired { node: N0, owner: A }]);
        assert_eq!(j.keys.get(&N0), Some(&(B, false)));
    }

    #[test]
    fn a_holder_refused_by_a_majority_must_report_the_loss_before_its_next_step() {
        let refused = |n| Refused { client: A, node: NodeId(n) };
        let reported = judge(3, &[granted(A), refused(0), refused(1), LockLost { client: A }, ValidityEnded { client: A }]);
        assert!(reported.violations().is_empty());
        assert!(reported.refusal_reported());
        // A minority refused: the old validity stands.
        let minority = judge(3, &[granted(A), refused(0), ValidityEnded { client: A }]);
        assert!(minority.violations().is_empty());
        for next in [ValidityEnded { client: A }, Extended { client: A, validity_ms: 5 }, WriteApplied { client: A, value: 1, token: None }]
        {
            let j = judge(3, &[granted(A), refused(0), refused(1), next.clone()]);
            let v = j.violation(Invariant::LostLockReported).unwrap_or_else(|| panic!("{next:?}"));
            assert!(v.explanation.contains("2 of 3 nodes"), "{}", v.explanation);
        }
        // Other clients' steps in between are no step of its own.
        let interleaved = judge(3, &[granted(A), refused(0), refused(1), AcquireStarted { client: B }, LockLost { client: A }]);
        assert!(interleaved.violations().is_empty());
    }

    #[test]
    fn only_the_first_violation_of_each_property_is_kept() {
        let mut j = judge(1, &[granted(A), granted(B)]);
        assert_eq!(j.observe(&granted(ClientId(3))), vec![]);
        assert_eq!(j.violations().len(), 1);
    }
}
