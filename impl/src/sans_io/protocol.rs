//! The Redlock protocol as a sans-IO state machine: the one place where its rules live.
//!
//! A [`LockState`] is fed [`Input`]s (start acquiring, a node's reply, a deadline passed, the
//! retry delay passed, extend, release), each with a reading of the client's own clock, and
//! answers with [`Output`]s (send this request to node i, wake me at local time t, report
//! acquired / failed / extended / lost). It never reads a clock, draws a random number or
//! touches a socket: the async client drives it with tokio and redis-rs, and the model's client
//! actors drive the very same code with model messages and model clocks, so what the model
//! checks is what ships.
//!
//! The rules (the Redlock description in antirez's *Distributed locks with Redis*, with the
//! additions this crate's docs give reasons for in `docs/design.md`):
//! - one attempt sends `SET key value NX PX ttl` to all N nodes at once;
//! - it succeeds when a quorum of N/2 + 1 nodes said OK *and* the validity
//!   `ttl - elapsed - drift` is still positive, where `elapsed` is measured on the client's
//!   clock from before the first request and `drift = ttl x factor + fixed`;
//! - the lock is then held until local time `start + ttl - drift`, whatever the replies' delay;
//! - a failed attempt releases on *every* node, including those that seemed to fail (a lost
//!   reply may hide a success), then retries after a delay the driver draws, a bounded number
//!   of times;
//! - an extension follows the same quorum and validity rules, only while the lock is still
//!   valid; extending an expired lock is reported as a loss, never turned into a re-acquire;
//! - a node that answers an extension *definitively* that the key is not ours (it is gone, or
//!   holds another value) keeps saying so for the rest of the hold; once so many nodes have
//!   said it that no majority can hold our key, the lock is lost at once, whatever its validity
//!   says: another client may hold it already. Timeouts and errors say nothing definite, so they
//!   leave the validity standing;
//! - replies carry the round they answer, so a late reply to an earlier attempt never counts
//!   for a later one.

use crate::params::Params;
use crate::time::LocalMillis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A set of node indices, bit i standing for node i.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeSet(u32);

impl NodeSet {
    /// Nodes `0..n`.
    pub fn all(n: usize) -> NodeSet {
        NodeSet(if n >= 32 { u32::MAX } else { (1u32 << n) - 1 })
    }
    pub fn contains(self, node: usize) -> bool {
        node < 32 && self.0 & (1 << node) != 0
    }
    pub fn insert(&mut self, node: usize) {
        self.0 |= 1 << node;
    }
    pub fn remove(&mut self, node: usize) {
        self.0 &= !(1 << node);
    }
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..32).filter(move |&i| self.contains(i))
    }
    /// The same set with every node `i` renamed to `rename(i)` (used for symmetry reduction).
    pub fn renamed(self, rename: impl Fn(usize) -> usize) -> NodeSet {
        let mut out = NodeSet::default();
        for i in self.iter() {
            out.insert(rename(i));
        }
        out
    }
}

impl std::ops::BitOr for NodeSet {
    type Output = NodeSet;
    fn bitor(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 | other.0)
    }
}

impl fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What one node answered to an acquire or extend request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reply {
    /// The key was set (or extended) with this client's value; `token` is the fencing counter
    /// the node returned, where the acquire script increments one.
    Ok { token: Option<u64> },
    /// The key is held by another value (acquire) or is no longer ours (extend).
    Refused,
    /// The node answered with an error, or the connection failed.
    Error,
}

/// Something that happened to the lock, as its driver observed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Input {
    /// Start acquiring.
    Acquire,
    /// A node answered the request of round `round`.
    Reply { round: u32, node: usize, reply: Reply },
    /// The time asked for in [`Output::WakeAt`] has come.
    Timeout,
    /// The retry delay asked for in [`Output::RetryAfter`] has passed.
    Retry,
    /// Extend the held lock by a fresh TTL.
    Extend,
    /// Give the lock up (also: the user dropped the guard or cancelled the acquire).
    Release,
}

/// What the driver must do, or report to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Output {
    /// Send `SET key value NX PX ttl` (with the token script where configured) to `node`, and
    /// feed its answer back as `Input::Reply { round, node, .. }`.
    SendAcquire { node: usize, round: u32 },
    /// Send compare-and-pexpire (extend only if the key still holds our value) to `node`.
    SendExtend { node: usize, round: u32 },
    /// Send compare-and-delete (delete only if the key still holds our value) to `node`, after
    /// every request already sent to that node.
    SendRelease { node: usize },
    /// Feed `Input::Timeout` once the local clock reads `at` or later.
    WakeAt { at: LocalMillis },
    /// Feed `Input::Retry` after a delay drawn uniformly from `min_ms..=max_ms`.
    RetryAfter { min_ms: u64, max_ms: u64 },
    /// The lock is held until local time `until` (`validity_ms` from now).
    Acquired { validity_ms: u64, until: LocalMillis, token: Option<u64> },
    /// Every attempt failed; the keys have been released everywhere.
    Failed,
    /// The lock is now held until local time `until`.
    Extended { validity_ms: u64, until: LocalMillis },
    /// The extension failed (timeouts, errors, too few answers), but no majority refused it:
    /// the lock stays valid until local time `until`.
    ExtendFailed { until: LocalMillis },
    /// The lock was lost while it was held: report it to the user now.
    Lost { loss: Loss },
}

/// Why a held lock was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Loss {
    /// Its validity ran out on the client's clock before an extension succeeded.
    Expired,
    /// So many nodes answered definitively that the key is not ours (expired early, evicted,
    /// deleted, or another client's) that no majority can hold it: another client may hold
    /// the lock now.
    Refused { nodes: NodeSet },
}

/// One round of requests (an acquire attempt or an extension) in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Round {
    /// Its number, echoed by the replies.
    pub number: u32,
    /// Local time before the first request was sent: elapsed time is measured from here.
    pub started: LocalMillis,
    /// Nodes that have not answered yet.
    pub pending: NodeSet,
    /// Nodes that answered OK.
    pub ok: NodeSet,
    /// The largest fencing token among the OK replies.
    pub token: Option<u64>,
}

/// Where the lock is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Not yet asked to acquire.
    Idle,
    /// An acquire attempt is in flight.
    Acquiring(Round),
    /// An attempt failed; waiting for the retry delay.
    Backoff,
    /// Held until local time `until`; the nodes in `gone` have said the key is not ours.
    Held { until: LocalMillis, token: Option<u64>, gone: NodeSet },
    /// Held until `until` while an extension is in flight.
    Extending { round: Round, until: LocalMillis, token: Option<u64>, gone: NodeSet },
    /// Released by its owner.
    Released,
    /// Every attempt failed.
    Failed,
    /// Its validity ended while it was held (an extension failed or came too late).
    Lost,
}

/// The whole state of one lock handle: small, deterministic and hashable, so that the model can
/// keep one per client in its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LockState {
    pub phase: Phase,
    /// Acquire attempts made so far.
    pub attempts: u32,
    /// Rounds started so far (acquire attempts and extensions).
    pub rounds: u32,
}

impl Default for LockState {
    fn default() -> Self {
        LockState { phase: Phase::Idle, attempts: 0, rounds: 0 }
    }
}

impl LockState {
    pub fn new() -> LockState {
        LockState::default()
    }

    /// Feeds one input observed at local time `now`; pushes what the driver must do to `out`.
    pub fn handle(&mut self, p: &Params, now: LocalMillis, input: Input, out: &mut Vec<Output>) {
        match (self.phase, input) {
            (Phase::Idle, Input::Acquire) | (Phase::Backoff, Input::Retry) => {
                self.attempts = self.attempts.saturating_add(1);
                let round = self.start_round(p, now, out, |node, round| Output::SendAcquire { node, round });
                self.phase = Phase::Acquiring(round);
            }
            (Phase::Acquiring(mut round), Input::Reply { round: r, node, reply }) if r == round.number && round.pending.contains(node) => {
                round.record(node, reply);
                self.phase = Phase::Acquiring(round);
                self.settle_acquire(p, now, out);
            }
            (Phase::Acquiring(mut round), Input::Timeout) if now >= round.started.plus(p.node_timeout_ms) => {
                round.pending = NodeSet::default();
                self.phase = Phase::Acquiring(round);
                self.settle_acquire(p, now, out);
            }
            (Phase::Held { until, token, gone }, Input::Extend) => {
                if now >= until {
                    self.lose(Loss::Expired, out);
                } else {
                    let round = self.start_round(p, now, out, |node, round| Output::SendExtend { node, round });
                    self.phase = Phase::Extending { round, until, token, gone };
                }
            }
            (Phase::Held { until, .. }, Input::Timeout) if now >= until => self.lose(Loss::Expired, out),
            (Phase::Extending { mut round, until, token, mut gone }, Input::Reply { round: r, node, reply })
                if r == round.number && round.pending.contains(node) =>
            {
                round.record(node, reply);
                if reply == Reply::Refused {
                    gone.insert(node);
                }
                self.phase = Phase::Extending { round, until, token, gone };
                self.settle_extend(p, now, out);
            }
            (Phase::Extending { mut round, until, token, gone }, Input::Timeout) if now >= round.started.plus(p.node_timeout_ms) => {
                round.pending = NodeSet::default();
                self.phase = Phase::Extending { round, until, token, gone };
                self.settle_extend(p, now, out);
            }
            // After a loss too: an extension that settled too late may have renewed the key on
            // some nodes, and the holder's release must still reach them.
            (Phase::Acquiring(_) | Phase::Backoff | Phase::Held { .. } | Phase::Extending { .. } | Phase::Lost, Input::Release) => {
                release_everywhere(p, out);
                self.phase = Phase::Released;
            }
            // Anything else is stale (a late reply, a timer that lost a race) and changes nothing.
            _ => {}
        }
    }

    /// The local time until which the lock is held, if it is held.
    pub fn held_until(&self) -> Option<LocalMillis> {
        match self.phase {
            Phase::Held { until, .. } | Phase::Extending { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Milliseconds of validity left at local time `now`, if the lock is held and still valid.
    pub fn remaining_ms(&self, now: LocalMillis) -> Option<u64> {
        self.held_until().filter(|&until| now < until).map(|until| until.since(now))
    }

    /// The fencing token of the current hold, where the nodes returned one.
    pub fn token(&self) -> Option<u64> {
        match self.phase {
            Phase::Held { token, .. } | Phase::Extending { token, .. } => token,
            _ => None,
        }
    }

    /// The deadline of the round in flight, if any: when `Input::Timeout` is due.
    pub fn round_deadline(&self, p: &Params) -> Option<LocalMillis> {
        match self.phase {
            Phase::Acquiring(round) | Phase::Extending { round, .. } => Some(round.started.plus(p.node_timeout_ms)),
            _ => None,
        }
    }

    /// The same state with every node index renamed (for the model's symmetry reduction).
    pub fn renamed(&self, rename: impl Fn(usize) -> usize + Copy) -> LockState {
        let rename_round = |r: Round| Round { pending: r.pending.renamed(rename), ok: r.ok.renamed(rename), ..r };
        let phase = match self.phase {
            Phase::Acquiring(r) => Phase::Acquiring(rename_round(r)),
            Phase::Held { until, token, gone } => Phase::Held { until, token, gone: gone.renamed(rename) },
            Phase::Extending { round, until, token, gone } => {
                Phase::Extending { round: rename_round(round), until, token, gone: gone.renamed(rename) }
            }
            other => other,
        };
        LockState { phase, ..*self }
    }

    fn start_round(&mut self, p: &Params, now: LocalMillis, out: &mut Vec<Output>, request: impl Fn(usize, u32) -> Output) -> Round {
        // Round numbers only tell the current round from earlier ones: wrapping after 2^32
        // rounds (a lock extended every millisecond for 49 days) confuses nothing.
        self.rounds = self.rounds.wrapping_add(1);
        let round = Round { number: self.rounds, started: now, pending: NodeSet::all(p.nodes), ok: NodeSet::default(), token: None };
        out.extend((0..p.nodes).map(|node| request(node, round.number)));
        out.push(Output::WakeAt { at: now.plus(p.node_timeout_ms) });
        round
    }

    fn settle_acquire(&mut self, p: &Params, now: LocalMillis, out: &mut Vec<Output>) {
        let Phase::Acquiring(round) = self.phase else { return };
        match round.outcome(p, now) {
            RoundOutcome::Pending => {}
            RoundOutcome::Valid { validity_ms, until } => {
                self.phase = Phase::Held { until, token: round.token, gone: NodeSet::default() };
                out.push(Output::Acquired { validity_ms, until, token: round.token });
            }
            RoundOutcome::Failed => {
                release_everywhere(p, out);
                if self.attempts <= p.retries {
                    self.phase = Phase::Backoff;
                    out.push(Output::RetryAfter { min_ms: p.retry_delay_min_ms, max_ms: p.retry_delay_max_ms });
                } else {
                    self.phase = Phase::Failed;
                    out.push(Output::Failed);
                }
            }
        }
    }

    fn settle_extend(&mut self, p: &Params, now: LocalMillis, out: &mut Vec<Output>) {
        let Phase::Extending { round, until, token, gone } = self.phase else { return };
        // At most this many nodes may lack our key while a majority can still hold it.
        let may_lack = p.nodes - p.quorum();
        if gone.len() > may_lack {
            return self.lose(Loss::Refused { nodes: gone }, out);
        }
        let outcome = round.outcome(p, now);
        // A failed round whose missing answers could still make a majority refuse waits for
        // them: a loss is to be reported as a loss, not as a failed extension.
        let loss_possible = round.ok.len() < p.quorum() && (gone | round.pending).len() > may_lack;
        if outcome == RoundOutcome::Pending || (outcome == RoundOutcome::Failed && loss_possible) {
            return;
        }
        if now >= until {
            // The old validity ran out before the extension settled: the lock was not held in
            // between, so even a successful extension cannot be trusted.
            return self.lose(Loss::Expired, out);
        }
        match outcome {
            RoundOutcome::Valid { validity_ms, until } => {
                self.phase = Phase::Held { until, token, gone };
                out.push(Output::Extended { validity_ms, until });
            }
            _ => {
                self.phase = Phase::Held { until, token, gone };
                out.push(Output::ExtendFailed { until });
            }
        }
    }

    fn lose(&mut self, loss: Loss, out: &mut Vec<Output>) {
        self.phase = Phase::Lost;
        out.push(Output::Lost { loss });
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RoundOutcome {
    Pending,
    Valid { validity_ms: u64, until: LocalMillis },
    Failed,
}

impl Round {
    fn record(&mut self, node: usize, reply: Reply) {
        self.pending.remove(node);
        if let Reply::Ok { token } = reply {
            self.ok.insert(node);
            self.token = self.token.max(token);
        }
    }

    /// Decides as early as possible: success as soon as a quorum said OK, failure as soon as a
    /// quorum can no longer be reached.
    fn outcome(&self, p: &Params, now: LocalMillis) -> RoundOutcome {
        if self.ok.len() >= p.quorum() {
            let elapsed = now.since(self.started);
            let budget = p.ttl_ms.saturating_sub(p.drift_ms());
            match budget.checked_sub(elapsed).filter(|&v| v > 0) {
                Some(validity_ms) => RoundOutcome::Valid { validity_ms, until: self.started.plus(budget) },
                None => RoundOutcome::Failed,
            }
        } else if self.ok.len() + self.pending.len() < p.quorum() {
            RoundOutcome::Failed
        } else {
            RoundOutcome::Pending
        }
    }
}

fn release_everywhere(p: &Params, out: &mut Vec<Output>) {
    out.extend((0..p.nodes).map(|node| Output::SendRelease { node }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(nodes: usize) -> Params {
        Params { retries: 1, ..Params::new(nodes, 1000) }.validate().unwrap()
    }

    fn feed(s: &mut LockState, p: &Params, now: u64, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        s.handle(p, LocalMillis(now), input, &mut out);
        out
    }

    fn ok(round: u32, node: usize) -> Input {
        Input::Reply { round, node, reply: Reply::Ok { token: Some(node as u64 + 10) } }
    }

    fn refused(round: u32, node: usize) -> Input {
        Input::Reply { round, node, reply: Reply::Refused }
    }

    #[test]
    fn an_attempt_sends_to_every_node_and_asks_to_be_woken_at_the_node_timeout() {
        let p = params(5);
        let mut s = LockState::new();
        let out = feed(&mut s, &p, 100, Input::Acquire);
        let sends: Vec<_> = (0..5).map(|node| Output::SendAcquire { node, round: 1 }).collect();
        assert_eq!(out[..5], sends[..]);
        assert_eq!(out[5], Output::WakeAt { at: LocalMillis(150) });
    }

    #[test]
    fn a_quorum_grants_with_validity_ttl_minus_elapsed_minus_drift() {
        let p = params(5); // drift = 10 + 2 = 12 ms
        let mut s = LockState::new();
        feed(&mut s, &p, 100, Input::Acquire);
        assert!(feed(&mut s, &p, 103, ok(1, 0)).is_empty());
        assert!(feed(&mut s, &p, 104, ok(1, 3)).is_empty());
        let out = feed(&mut s, &p, 110, ok(1, 4));
        // Held until start + ttl - drift, whatever the replies' delay: 100 + 1000 - 12.
        assert_eq!(out, vec![Output::Acquired { validity_ms: 978, until: LocalMillis(1088), token: Some(14) }]);
        assert_eq!(s.remaining_ms(LocalMillis(1000)), Some(88));
        assert_eq!(s.remaining_ms(LocalMillis(1088)), None);
    }

    #[test]
    fn a_quorum_that_arrives_after_the_validity_is_a_failure_and_releases_everywhere() {
        // Kleppmann's "GC pause before the replies are processed": the elapsed-time check
        // catches it (antirez, Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 2).
        let p = params(3);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 5, ok(1, 0));
        let out = feed(&mut s, &p, 988, ok(1, 1));
        let mut expected: Vec<_> = (0..3).map(|node| Output::SendRelease { node }).collect();
        expected.push(Output::RetryAfter { min_ms: 100, max_ms: 300 });
        assert_eq!(out, expected);
        assert_eq!(s.phase, Phase::Backoff);
    }

    #[test]
    fn failure_is_decided_as_soon_as_a_quorum_is_out_of_reach() {
        let p = params(5);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, refused(1, 0));
        feed(&mut s, &p, 1, refused(1, 1));
        assert!(matches!(s.phase, Phase::Acquiring(_)));
        let out = feed(&mut s, &p, 2, Input::Reply { round: 1, node: 2, reply: Reply::Error });
        assert_eq!(out.len(), 6, "five releases and a retry: {out:?}");
    }

    #[test]
    fn retries_are_bounded_and_a_late_reply_never_counts_for_a_later_round() {
        let p = params(1);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 50, Input::Timeout); // round 1 timed out
        feed(&mut s, &p, 200, Input::Retry);
        assert!(feed(&mut s, &p, 201, ok(1, 0)).is_empty(), "a reply to round 1 is stale");
        let out = feed(&mut s, &p, 250, Input::Timeout);
        assert_eq!(out, vec![Output::SendRelease { node: 0 }, Output::Failed]);
        assert_eq!((s.phase, s.attempts), (Phase::Failed, 2));
    }

    #[test]
    fn a_timeout_before_the_deadline_is_ignored() {
        let p = params(1);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        assert!(feed(&mut s, &p, 49, Input::Timeout).is_empty());
        assert!(matches!(s.phase, Phase::Acquiring(_)));
    }

    #[test]
    fn extension_needs_a_quorum_and_a_still_valid_lock() {
        let p = params(3);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        feed(&mut s, &p, 1, ok(1, 1)); // held until 988
        let out = feed(&mut s, &p, 500, Input::Extend);
        assert_eq!(out[0], Output::SendExtend { node: 0, round: 2 });
        feed(&mut s, &p, 501, ok(2, 2));
        let out = feed(&mut s, &p, 502, ok(2, 0));
        assert_eq!(out, vec![Output::Extended { validity_ms: 986, until: LocalMillis(1488) }]);

        // An extension that times out or errs keeps the old validity and says so.
        feed(&mut s, &p, 600, Input::Extend);
        feed(&mut s, &p, 601, Input::Reply { round: 3, node: 0, reply: Reply::Error });
        let out = feed(&mut s, &p, 650, Input::Timeout);
        assert_eq!(out, vec![Output::ExtendFailed { until: LocalMillis(1488) }]);
        assert_eq!(s.held_until(), Some(LocalMillis(1488)));
    }

    #[test]
    fn a_majority_that_says_the_key_is_not_ours_loses_the_lock_at_once() {
        let p = params(5);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        for node in 0..3 {
            feed(&mut s, &p, 1, ok(1, node));
        }
        feed(&mut s, &p, 100, Input::Extend);
        // Two refusals and an error: the round has failed, but the two nodes still to answer
        // could make a majority refuse, so it waits for them.
        assert!(feed(&mut s, &p, 101, refused(2, 0)).is_empty());
        assert!(feed(&mut s, &p, 101, refused(2, 1)).is_empty());
        assert!(feed(&mut s, &p, 102, Input::Reply { round: 2, node: 2, reply: Reply::Error }).is_empty());
        let out = feed(&mut s, &p, 103, refused(2, 3));
        assert_eq!(out, vec![Output::Lost { loss: Loss::Refused { nodes: NodeSet(0b1011) } }]);
        assert_eq!((s.phase, s.held_until()), (Phase::Lost, None), "well before the validity's end");
    }

    #[test]
    fn refusals_add_up_across_the_extensions_of_one_hold() {
        // A node that said the key is gone keeps saying so: two failed rounds with one refusal
        // each are two nodes without our key, a majority of three.
        let p = params(3);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        feed(&mut s, &p, 1, ok(1, 1));
        feed(&mut s, &p, 100, Input::Extend);
        feed(&mut s, &p, 101, refused(2, 0));
        assert_eq!(feed(&mut s, &p, 150, Input::Timeout), vec![Output::ExtendFailed { until: LocalMillis(988) }]);
        feed(&mut s, &p, 400, Input::Extend);
        assert_eq!(feed(&mut s, &p, 401, refused(3, 2)), vec![Output::Lost { loss: Loss::Refused { nodes: NodeSet(0b101) } }]);
    }

    #[test]
    fn a_quorum_renews_the_lock_even_when_a_minority_refuses() {
        let p = params(3);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        feed(&mut s, &p, 1, ok(1, 1));
        feed(&mut s, &p, 100, Input::Extend);
        feed(&mut s, &p, 101, refused(2, 2));
        feed(&mut s, &p, 101, ok(2, 0));
        let out = feed(&mut s, &p, 102, ok(2, 1));
        assert_eq!(out, vec![Output::Extended { validity_ms: 986, until: LocalMillis(1088) }]);
    }

    #[test]
    fn extending_an_expired_lock_is_a_loss_not_a_reacquire() {
        let p = params(1);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0)); // held until 988
        assert_eq!(feed(&mut s, &p, 988, Input::Extend), vec![Output::Lost { loss: Loss::Expired }]);
        assert_eq!(s.phase, Phase::Lost);
    }

    #[test]
    fn an_extension_that_settles_after_the_old_validity_is_a_loss() {
        let p = params(1);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        feed(&mut s, &p, 980, Input::Extend);
        assert_eq!(feed(&mut s, &p, 990, ok(2, 0)), vec![Output::Lost { loss: Loss::Expired }]);
    }

    #[test]
    fn the_held_timeout_reports_the_loss_at_the_end_of_validity() {
        let p = params(1);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        assert!(feed(&mut s, &p, 987, Input::Timeout).is_empty());
        assert_eq!(feed(&mut s, &p, 988, Input::Timeout), vec![Output::Lost { loss: Loss::Expired }]);
    }

    #[test]
    fn release_reaches_every_node_from_any_live_phase() {
        let p = params(3);
        let all: Vec<_> = (0..3).map(|node| Output::SendRelease { node }).collect();
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        assert_eq!(feed(&mut s, &p, 1, Input::Release), all, "cancelled while acquiring");
        assert_eq!(s.phase, Phase::Released);
        assert!(feed(&mut s, &p, 2, Input::Release).is_empty(), "released once");
    }

    #[test]
    fn a_lost_lock_is_still_released_everywhere() {
        let p = params(3);
        let all: Vec<_> = (0..3).map(|node| Output::SendRelease { node }).collect();
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        feed(&mut s, &p, 1, ok(1, 1));
        feed(&mut s, &p, 980, Input::Extend);
        feed(&mut s, &p, 990, ok(2, 0));
        assert_eq!(feed(&mut s, &p, 991, ok(2, 1)), vec![Output::Lost { loss: Loss::Expired }], "settled too late");
        assert_eq!(s.phase, Phase::Lost);
        assert_eq!(feed(&mut s, &p, 992, Input::Release), all, "node 0 and 1 renewed the key");
        assert_eq!(s.phase, Phase::Released);
    }

    #[test]
    fn renaming_nodes_renames_the_round() {
        let p = params(3);
        let mut s = LockState::new();
        feed(&mut s, &p, 0, Input::Acquire);
        feed(&mut s, &p, 1, ok(1, 0));
        let swapped = s.renamed(|i| [2, 1, 0][i]);
        let Phase::Acquiring(r) = swapped.phase else { panic!() };
        assert_eq!((r.ok, r.pending), (NodeSet(0b100), NodeSet(0b011)));
    }
}
