//! A lock held as a key attached to a lease in a linearizable store (etcd), as a sans-IO state
//! machine: the second protocol of the core, beside [`crate::protocol`]'s Redlock.
//!
//! The rules:
//! - acquiring grants a lease of the TTL, then creates the lock key with it only if the key is
//!   absent (one transaction: `create_revision(key) == 0`); the key's create revision is the
//!   fencing token: the store's revision only grows, so later holders get larger tokens, and a
//!   lost leader or a restarted member never hands one out twice (the store is replicated by
//!   consensus, unlike a single Redis counter);
//! - if another holder's key exists, the lease is revoked and the client waits for that key's
//!   deletion (a watch from the revision it saw), then tries again, up to its deadline: no busy
//!   loop, and no lease kept alive while nothing is held;
//! - the lock is held until `start + ttl - drift` of the client's clock, where `start` is when
//!   the lease was asked for (the store's lease cannot start earlier); a keep-alive, sent every
//!   TTL/3, renews it to `sent + ttl - drift`;
//! - a keep-alive that the store answers with TTL 0 says the lease is gone (expired by the
//!   store's clock, or revoked): the lock is lost at once, whatever the client's validity says;
//!   a keep-alive that times out or fails says nothing definite and leaves the validity
//!   standing; once the validity runs out, the lock is lost;
//! - a release deletes the key only if it is still ours (`create_revision == token`) and
//!   revokes the lease.
//!
//! Like [`crate::protocol`], it never reads a clock or touches a socket: the async etcd client
//! and the model's etcd clients drive the same code.

use crate::time::LocalMillis;
use serde::{Deserialize, Serialize};

/// The parameters of a lease lock, in milliseconds of the client's clock.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseParams {
    /// The lease's time to live (the store may round it up to its minimum).
    pub ttl_ms: u64,
    /// Subtracted from every validity: the store's clock may run faster than the client's.
    pub drift_ms: u64,
    /// How long one request may stay unanswered before it counts as failed.
    pub request_timeout_ms: u64,
    /// How long an acquire may wait for other holders before it gives up.
    pub acquire_timeout_ms: u64,
}

/// Why a set of lease-lock parameters was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseParamsError {
    /// The drift allowance (plus a request's timeout) leaves no validity.
    TtlTooShort { ttl_ms: u64, drift_ms: u64, request_timeout_ms: u64 },
    /// A timeout of zero: nothing could ever be answered in time.
    ZeroTimeout,
    /// A duration beyond [`crate::params::MAX_DURATION_MS`].
    TooLong { what: &'static str, ms: u64 },
}

impl std::fmt::Display for LeaseParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseParamsError::TtlTooShort { ttl_ms, drift_ms, request_timeout_ms } => write!(
                f,
                "the lease TTL ({ttl_ms} ms) must be longer than the drift allowance ({drift_ms} ms) plus the \
                 request timeout ({request_timeout_ms} ms), or no acquisition could be valid"
            ),
            LeaseParamsError::ZeroTimeout => write!(f, "a request timeout of 0 ms: no answer could ever count"),
            LeaseParamsError::TooLong { what, ms } => write!(
                f,
                "the {what} of {ms} ms is longer than a year ({} ms), the most this client accepts",
                crate::params::MAX_DURATION_MS
            ),
        }
    }
}

impl std::error::Error for LeaseParamsError {}

impl LeaseParams {
    /// Checks every parameter and returns them unchanged when they make sense.
    pub fn validate(self) -> Result<LeaseParams, LeaseParamsError> {
        for (what, ms) in [
            ("lease TTL", self.ttl_ms),
            ("drift allowance", self.drift_ms),
            ("request timeout", self.request_timeout_ms),
            ("acquire timeout", self.acquire_timeout_ms),
        ] {
            if ms > crate::params::MAX_DURATION_MS {
                return Err(LeaseParamsError::TooLong { what, ms });
            }
        }
        if self.request_timeout_ms == 0 {
            return Err(LeaseParamsError::ZeroTimeout);
        }
        if self.ttl_ms <= self.drift_ms + self.request_timeout_ms {
            return Err(LeaseParamsError::TtlTooShort {
                ttl_ms: self.ttl_ms,
                drift_ms: self.drift_ms,
                request_timeout_ms: self.request_timeout_ms,
            });
        }
        Ok(self)
    }

    /// How often a holder keeps its lease alive: TTL/3.
    pub fn keep_alive_interval_ms(&self) -> u64 {
        (self.ttl_ms / 3).max(1)
    }
}

/// A lease, by the store's id for it.
pub type LeaseId = i64;

/// What the store answered, as the driver observed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaseInput {
    /// Start acquiring.
    Acquire,
    /// The lease asked for was granted.
    LeaseGranted { lease: LeaseId },
    /// The key was created with our lease; `revision` is its create revision.
    Created { revision: i64 },
    /// Another holder's key exists; the store was at `revision` when it said so.
    Taken { revision: i64 },
    /// The key we waited for was deleted (its lease expired or was revoked, or it was released).
    Freed,
    /// A keep-alive was answered: `alive` false means the store has no such lease any more, or
    /// the key is not ours any more (deleted, by its lease or by hand, and maybe another's).
    KeptAlive { alive: bool },
    /// The request in flight failed (an error, a broken connection).
    Failed,
    /// The time asked for in [`LeaseOutput::WakeAt`] has come.
    Timeout,
    /// Renew the lease now (the driver's keep-alive tick).
    KeepAlive,
    /// Give the lock up (also: the user dropped the guard or cancelled the acquire).
    Release,
}

/// What the driver must do, or report to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaseOutput {
    /// Ask the store for a lease of the TTL; feed `LeaseGranted` or `Failed`.
    GrantLease,
    /// Create the key with `lease` if it is absent; feed `Created`, `Taken` or `Failed`.
    CreateIfAbsent { lease: LeaseId },
    /// Revoke `lease` (no answer is fed back).
    RevokeLease { lease: LeaseId },
    /// Watch the key for its deletion after `revision`; feed `Freed` (or `Failed`).
    WatchDeletion { after: i64 },
    /// Keep `lease` alive, and check that the key is still ours (its create revision is
    /// `token`); feed `KeptAlive` (alive only if both hold) or `Failed`.
    SendKeepAlive { lease: LeaseId, token: i64 },
    /// Delete the key if its create revision is still `token` (no answer is fed back).
    DeleteKey { token: i64 },
    /// Feed `Timeout` once the local clock reads `at` or later.
    WakeAt { at: LocalMillis },
    /// The lock is held until local time `until` (`validity_ms` from now), with this token.
    Acquired { validity_ms: u64, until: LocalMillis, token: i64 },
    /// The acquire gave up (its deadline passed, or the store failed it); nothing is held.
    NotAcquired,
    /// The lease was renewed: the lock is held until `until`.
    Extended { validity_ms: u64, until: LocalMillis },
    /// The keep-alive failed without saying the lease is gone: valid until `until` still.
    ExtendFailed { until: LocalMillis },
    /// The lock was lost while it was held.
    Lost { gone: bool },
}

/// Where the lock is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LeasePhase {
    Idle,
    /// A lease was asked for at `asked` (local time).
    Granting {
        asked: LocalMillis,
    },
    /// The key is being created with `lease`, granted after `asked`.
    Creating {
        lease: LeaseId,
        asked: LocalMillis,
    },
    /// Another holder's key exists: waiting for its deletion.
    Waiting,
    /// Held until `until`, with `lease` and `token`.
    Held {
        lease: LeaseId,
        until: LocalMillis,
        token: i64,
    },
    /// Held, a keep-alive sent at `sent` in flight.
    KeepingAlive {
        lease: LeaseId,
        until: LocalMillis,
        token: i64,
        sent: LocalMillis,
    },
    Released,
    NotAcquired,
    /// Lost while held; its key may still be in the store (the validity ran out while the
    /// store kept the lease), so a release still deletes it.
    Lost {
        lease: LeaseId,
        token: i64,
    },
}

/// The whole state of one lease lock: small, deterministic and hashable, so that the model can
/// keep one per client in its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeaseLockState {
    pub phase: LeasePhase,
    /// When the acquire began (its deadline counts from here).
    pub started: LocalMillis,
}

impl Default for LeaseLockState {
    fn default() -> Self {
        LeaseLockState { phase: LeasePhase::Idle, started: LocalMillis(0) }
    }
}

impl LeaseLockState {
    pub fn new() -> LeaseLockState {
        LeaseLockState::default()
    }

    /// Feeds one input observed at local time `now`; pushes what the driver must do to `out`.
    pub fn handle(&mut self, p: &LeaseParams, now: LocalMillis, input: LeaseInput, out: &mut Vec<LeaseOutput>) {
        let deadline = self.started.plus(p.acquire_timeout_ms);
        let answer_due = |since: LocalMillis| since.plus(p.request_timeout_ms);
        match (self.phase, input) {
            (LeasePhase::Idle, LeaseInput::Acquire) => {
                self.started = now;
                self.grant(p, now, out);
            }
            (LeasePhase::Granting { asked }, LeaseInput::LeaseGranted { lease }) => {
                self.phase = LeasePhase::Creating { lease, asked };
                out.push(LeaseOutput::CreateIfAbsent { lease });
                out.push(LeaseOutput::WakeAt { at: answer_due(now) });
            }
            (LeasePhase::Creating { lease, asked }, LeaseInput::Created { revision }) => {
                let until = asked.plus(p.ttl_ms - p.drift_ms);
                if now >= until {
                    // Created so late that the lease may be gone already: no hold.
                    return self.give_up(Some(lease), Some(revision), out);
                }
                self.phase = LeasePhase::Held { lease, until, token: revision };
                out.push(LeaseOutput::Acquired { validity_ms: until.since(now), until, token: revision });
                out.push(LeaseOutput::WakeAt { at: until });
            }
            (LeasePhase::Creating { lease, .. }, LeaseInput::Taken { revision }) => {
                out.push(LeaseOutput::RevokeLease { lease });
                if now >= deadline {
                    return self.give_up(None, None, out);
                }
                self.phase = LeasePhase::Waiting;
                out.push(LeaseOutput::WatchDeletion { after: revision });
                out.push(LeaseOutput::WakeAt { at: deadline });
            }
            (LeasePhase::Waiting, LeaseInput::Freed) if now < deadline => self.grant(p, now, out),
            (LeasePhase::Waiting, LeaseInput::Freed) => self.give_up(None, None, out),
            (LeasePhase::Waiting, LeaseInput::Timeout) if now >= deadline => self.give_up(None, None, out),
            (LeasePhase::Granting { .. } | LeasePhase::Waiting, LeaseInput::Failed) => self.give_up(None, None, out),
            (LeasePhase::Granting { asked }, LeaseInput::Timeout) if now >= answer_due(asked) => self.give_up(None, None, out),
            // The create may still land, or may have: revoking the lease deletes what it made.
            (LeasePhase::Creating { lease, .. }, LeaseInput::Failed) => self.give_up(Some(lease), None, out),
            (LeasePhase::Creating { lease, asked }, LeaseInput::Timeout) if now >= answer_due(asked) => {
                self.give_up(Some(lease), None, out)
            }
            (LeasePhase::Held { lease, until, token }, LeaseInput::KeepAlive) => {
                if now >= until {
                    return self.lose(lease, token, false, out);
                }
                self.phase = LeasePhase::KeepingAlive { lease, until, token, sent: now };
                out.push(LeaseOutput::SendKeepAlive { lease, token });
                out.push(LeaseOutput::WakeAt { at: answer_due(now).min(until) });
            }
            (LeasePhase::Held { lease, until, token }, LeaseInput::Timeout) if now >= until => self.lose(lease, token, false, out),
            (LeasePhase::KeepingAlive { lease, until, token, sent }, LeaseInput::KeptAlive { alive }) => {
                if !alive {
                    // The store says the lease is gone: the key went with it.
                    return self.lose(lease, token, true, out);
                }
                if now >= until {
                    return self.lose(lease, token, false, out);
                }
                let renewed = sent.plus(p.ttl_ms - p.drift_ms).max(until);
                self.phase = LeasePhase::Held { lease, until: renewed, token };
                out.push(LeaseOutput::Extended { validity_ms: renewed.since(now), until: renewed });
                out.push(LeaseOutput::WakeAt { at: renewed });
            }
            (LeasePhase::KeepingAlive { lease, until, token, sent }, LeaseInput::Failed | LeaseInput::Timeout)
                if input == LeaseInput::Failed || now >= answer_due(sent) || now >= until =>
            {
                if now >= until {
                    return self.lose(lease, token, false, out);
                }
                self.phase = LeasePhase::Held { lease, until, token };
                out.push(LeaseOutput::ExtendFailed { until });
                out.push(LeaseOutput::WakeAt { at: until });
            }
            (
                LeasePhase::Held { lease, token, .. } | LeasePhase::KeepingAlive { lease, token, .. } | LeasePhase::Lost { lease, token },
                LeaseInput::Release,
            ) => {
                out.push(LeaseOutput::DeleteKey { token });
                out.push(LeaseOutput::RevokeLease { lease });
                self.phase = LeasePhase::Released;
            }
            (LeasePhase::Creating { lease, .. }, LeaseInput::Release) => {
                out.push(LeaseOutput::RevokeLease { lease });
                self.phase = LeasePhase::Released;
            }
            (LeasePhase::Idle | LeasePhase::Granting { .. } | LeasePhase::Waiting, LeaseInput::Release) => {
                self.phase = LeasePhase::Released;
            }
            // Anything else is stale (a late answer, a timer that lost a race) and changes nothing.
            _ => {}
        }
    }

    /// The local time until which the lock is held, if it is held.
    pub fn held_until(&self) -> Option<LocalMillis> {
        match self.phase {
            LeasePhase::Held { until, .. } | LeasePhase::KeepingAlive { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Milliseconds of validity left at local time `now`, if the lock is held and valid.
    pub fn remaining_ms(&self, now: LocalMillis) -> Option<u64> {
        self.held_until().filter(|&until| now < until).map(|until| until.since(now))
    }

    /// The fencing token (the key's create revision) of the current hold.
    pub fn token(&self) -> Option<i64> {
        match self.phase {
            LeasePhase::Held { token, .. } | LeasePhase::KeepingAlive { token, .. } => Some(token),
            _ => None,
        }
    }

    fn grant(&mut self, p: &LeaseParams, now: LocalMillis, out: &mut Vec<LeaseOutput>) {
        self.phase = LeasePhase::Granting { asked: now };
        out.push(LeaseOutput::GrantLease);
        out.push(LeaseOutput::WakeAt { at: now.plus(p.request_timeout_ms) });
    }

    /// The acquire failed: undo what may exist (a lease, a key created too late).
    fn give_up(&mut self, lease: Option<LeaseId>, created: Option<i64>, out: &mut Vec<LeaseOutput>) {
        if let Some(token) = created {
            out.push(LeaseOutput::DeleteKey { token });
        }
        if let Some(lease) = lease {
            out.push(LeaseOutput::RevokeLease { lease });
        }
        self.phase = LeasePhase::NotAcquired;
        out.push(LeaseOutput::NotAcquired);
    }

    fn lose(&mut self, lease: LeaseId, token: i64, gone: bool, out: &mut Vec<LeaseOutput>) {
        self.phase = LeasePhase::Lost { lease, token };
        out.push(LeaseOutput::Lost { gone });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LeaseOutput::*;

    fn params() -> LeaseParams {
        LeaseParams { ttl_ms: 3000, drift_ms: 32, request_timeout_ms: 100, acquire_timeout_ms: 1000 }.validate().unwrap()
    }

    fn feed(s: &mut LeaseLockState, now: u64, input: LeaseInput) -> Vec<LeaseOutput> {
        let mut out = Vec::new();
        s.handle(&params(), LocalMillis(now), input, &mut out);
        out
    }

    fn held(s: &mut LeaseLockState) {
        feed(s, 0, LeaseInput::Acquire);
        feed(s, 5, LeaseInput::LeaseGranted { lease: 7 });
        feed(s, 10, LeaseInput::Created { revision: 42 });
    }

    #[test]
    fn a_free_key_is_held_from_the_lease_request_for_ttl_minus_drift_with_its_revision_as_token() {
        let mut s = LeaseLockState::new();
        assert_eq!(feed(&mut s, 0, LeaseInput::Acquire), [GrantLease, WakeAt { at: LocalMillis(100) }]);
        assert_eq!(feed(&mut s, 5, LeaseInput::LeaseGranted { lease: 7 }), [CreateIfAbsent { lease: 7 }, WakeAt { at: LocalMillis(105) }]);
        let out = feed(&mut s, 10, LeaseInput::Created { revision: 42 });
        assert_eq!(out, [Acquired { validity_ms: 2958, until: LocalMillis(2968), token: 42 }, WakeAt { at: LocalMillis(2968) }]);
        assert_eq!(s.token(), Some(42));
    }

    #[test]
    fn a_taken_key_is_waited_for_without_a_lease_then_tried_again() {
        let mut s = LeaseLockState::new();
        feed(&mut s, 0, LeaseInput::Acquire);
        feed(&mut s, 5, LeaseInput::LeaseGranted { lease: 7 });
        let out = feed(&mut s, 10, LeaseInput::Taken { revision: 40 });
        assert_eq!(out, [RevokeLease { lease: 7 }, WatchDeletion { after: 40 }, WakeAt { at: LocalMillis(1000) }]);
        assert_eq!(feed(&mut s, 500, LeaseInput::Freed), [GrantLease, WakeAt { at: LocalMillis(600) }]);
        feed(&mut s, 505, LeaseInput::LeaseGranted { lease: 8 });
        let out = feed(&mut s, 510, LeaseInput::Created { revision: 45 });
        assert!(matches!(out[0], Acquired { token: 45, until: LocalMillis(3468), .. }), "{out:?}");
    }

    #[test]
    fn waiting_past_the_deadline_gives_up() {
        let mut s = LeaseLockState::new();
        feed(&mut s, 0, LeaseInput::Acquire);
        feed(&mut s, 5, LeaseInput::LeaseGranted { lease: 7 });
        feed(&mut s, 10, LeaseInput::Taken { revision: 40 });
        assert!(feed(&mut s, 999, LeaseInput::Timeout).is_empty(), "not yet");
        assert_eq!(feed(&mut s, 1000, LeaseInput::Timeout), [NotAcquired]);
    }

    #[test]
    fn a_keep_alive_renews_from_when_it_was_sent_and_a_dead_lease_is_lost_at_once() {
        let mut s = LeaseLockState::new();
        held(&mut s);
        assert_eq!(feed(&mut s, 1000, LeaseInput::KeepAlive), [SendKeepAlive { lease: 7, token: 42 }, WakeAt { at: LocalMillis(1100) }]);
        let out = feed(&mut s, 1010, LeaseInput::KeptAlive { alive: true });
        assert_eq!(out, [Extended { validity_ms: 2958, until: LocalMillis(3968) }, WakeAt { at: LocalMillis(3968) }]);
        feed(&mut s, 2000, LeaseInput::KeepAlive);
        assert_eq!(feed(&mut s, 2005, LeaseInput::KeptAlive { alive: false }), [Lost { gone: true }]);
        assert_eq!(s.held_until(), None, "lost well before its validity's end");
        // The release still deletes the key, if it is still ours, and revokes the lease.
        assert_eq!(feed(&mut s, 2010, LeaseInput::Release), [DeleteKey { token: 42 }, RevokeLease { lease: 7 }]);
    }

    #[test]
    fn a_keep_alive_that_fails_keeps_the_validity_and_the_end_of_validity_is_a_loss() {
        let mut s = LeaseLockState::new();
        held(&mut s);
        feed(&mut s, 1000, LeaseInput::KeepAlive);
        assert_eq!(feed(&mut s, 1100, LeaseInput::Timeout), [ExtendFailed { until: LocalMillis(2968) }, WakeAt { at: LocalMillis(2968) }]);
        assert!(feed(&mut s, 2967, LeaseInput::Timeout).is_empty());
        assert_eq!(feed(&mut s, 2968, LeaseInput::Timeout), [Lost { gone: false }]);
    }

    #[test]
    fn a_create_that_answers_after_the_lease_could_have_run_out_is_no_hold() {
        let mut s = LeaseLockState::new();
        feed(&mut s, 0, LeaseInput::Acquire);
        feed(&mut s, 5, LeaseInput::LeaseGranted { lease: 7 });
        assert_eq!(
            feed(&mut s, 2968, LeaseInput::Created { revision: 42 }),
            [DeleteKey { token: 42 }, RevokeLease { lease: 7 }, NotAcquired]
        );
    }

    #[test]
    fn releasing_while_creating_revokes_the_lease_so_a_late_create_leaves_nothing() {
        let mut s = LeaseLockState::new();
        feed(&mut s, 0, LeaseInput::Acquire);
        feed(&mut s, 5, LeaseInput::LeaseGranted { lease: 7 });
        assert_eq!(feed(&mut s, 6, LeaseInput::Release), [RevokeLease { lease: 7 }]);
        assert!(feed(&mut s, 7, LeaseInput::Created { revision: 42 }).is_empty(), "stale");
    }

    #[test]
    fn impossible_parameters_are_refused() {
        let ok = params();
        assert!(LeaseParams { ttl_ms: 100, ..ok.clone() }.validate().is_err());
        assert!(LeaseParams { request_timeout_ms: 0, ..ok.clone() }.validate().is_err());
        assert!(LeaseParams { ttl_ms: u64::MAX, ..ok }.validate().is_err());
    }
}
