//! The named scenarios: each is a claim of the debate plus the faults that test it, checked in
//! both timing modes. A scenario switches on its own faults and may override one timing bound
//! when its claim needs it; its doc says so.
//!
//! Sources (`docs/design.md` lists them): Martin Kleppmann's *How to do distributed locking*;
//! Zhang Tielei's *Is a Redis-based distributed lock safe?*, part 1 (the single-node pitfalls,
//! failover, Redlock, restarts, Kleppmann's examples) and part 2 (antirez's *Is Redlock safe?*,
//! the Hacker News discussion, ZooKeeper and Chubby); KKKZOZ's *Talk about Redlock* (network
//! delay, process pause, clock drift).

use crate::setup::{Bounds, Encoding, Fencing, Hazards, Resource, Restart, Service, Setup, Timing};
use redlock_client::judge::Invariant;
use serde::Serialize;
use std::fmt;

/// What the literature (or, where it is silent, our analysis) predicts for one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    Holds,
    Violated,
    /// The literature leaves it open: the model decides (exit status ignores it).
    Undecided,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Holds => "holds",
            Expected::Violated => "violated",
            Expected::Undecided => "undecided",
        })
    }
}

use Expected::{Holds, Undecided, Violated};

/// One named scenario.
pub struct Scenario {
    pub name: &'static str,
    /// The claim it tests, and where the claim comes from.
    pub claim: &'static str,
    /// The seed file it comes from.
    pub source: &'static str,
    /// Where the model's verdict departs from the literature's prediction, why.
    pub note: &'static str,
    /// Builds the setup for a timing mode (without its judged invariants: see [`Scenario::setup`]).
    pub build: fn(Timing) -> Setup,
    /// Expected verdicts: (invariant, sync, async).
    pub expected: &'static [(Invariant, Expected, Expected)],
}

impl Scenario {
    pub fn expected(&self, timing: Timing, invariant: Invariant) -> Expected {
        let (_, sync, asynchronous) =
            *self.expected.iter().find(|(i, _, _)| *i == invariant).expect("every judged invariant has an expectation");
        match timing {
            Timing::Sync => sync,
            Timing::Async => asynchronous,
        }
    }

    pub fn judged(&self) -> Vec<Invariant> {
        self.expected.iter().map(|(i, _, _)| *i).collect()
    }

    /// The scenario's setup for a timing mode, judging the invariants it has expectations for.
    pub fn setup(&self, timing: Timing) -> Setup {
        Setup { judged: self.judged(), ..(self.build)(timing) }
    }

    /// The hazards this scenario's async cell lifts: those whose bound differs between its
    /// sync and async setups. A scenario keeps a hazard bounded in both modes when its claim is
    /// about another (the pause scenarios keep delays and clocks exact), and a clock jump
    /// beyond the drift bound is a clock hazard.
    pub fn liftable(&self) -> Hazards {
        let (sync, unbounded) = (self.setup(Timing::Sync), self.setup(Timing::Async));
        Hazards {
            delay: sync.bounds.delay != unbounded.bounds.delay,
            pause: sync.bounds.pause != unbounded.bounds.pause,
            clock: sync.bounds.skew != unbounded.bounds.skew || sync.clock_jump.is_some(),
        }
    }

    /// The scenario's setup with the hazards `lifted` unbounded, as far as the scenario lifts
    /// them at all ([`Scenario::liftable`]): the sync setup with the async bound of each hazard
    /// lifted. What it lifts is the setup's `lifted`, so a request that lifts every liftable
    /// hazard is the async cell, and one that lifts none of them the sync cell.
    pub fn setup_lifted(&self, lifted: Hazards) -> Setup {
        let lifted = lifted.and(self.liftable());
        if lifted == Hazards::NONE {
            return self.setup(Timing::Sync);
        }
        if lifted == self.liftable() {
            return self.setup(Timing::Async);
        }
        let (sync, unbounded) = (self.setup(Timing::Sync), self.setup(Timing::Async).bounds);
        let bounds = Bounds {
            delay: if lifted.delay { unbounded.delay } else { sync.bounds.delay },
            pause: if lifted.pause { unbounded.pause } else { sync.bounds.pause },
            skew: if lifted.clock { unbounded.skew } else { sync.bounds.skew },
        };
        Setup { lifted, bounds, ..sync }
    }
}

const ME: Invariant = Invariant::MutualExclusion;
const OOR: Invariant = Invariant::OwnerOnlyRelease;
const OFW: Invariant = Invariant::OrderedFencedWrites;
const NLU: Invariant = Invariant::NoLostUpdate;
const EA: Invariant = Invariant::EventuallyAcquirable;
const LLR: Invariant = Invariant::LostLockReported;

/// The timing mode's bounds. Sync: a message arrives within the tick it was sent in, a server
/// measures a TTL within ±1 tick of real time, a pause lasts at most 1 tick. Async: none of it.
/// `--delay D` raises the sync delay bound (the state space grows with it).
pub fn bounds(timing: Timing) -> Bounds {
    match timing {
        Timing::Sync => Bounds { delay: Some(0), skew: Some(1), pause: Some(1) },
        Timing::Async => Bounds { delay: None, skew: None, pause: None },
    }
}

/// The defaults every scenario starts from: one Redis node, two clients with one attempt each,
/// TTL 4 ticks, drift allowance 1 tick (the sync skew bound), the correct encoding, no resource,
/// no faults.
fn base(scenario: &'static str, timing: Timing) -> Setup {
    Setup {
        scenario,
        judged: Vec::new(),
        timing,
        lifted: Hazards::of(timing),
        bounds: bounds(timing),
        servers: 1,
        clients: 2,
        attempts: 1,
        ttl: 4,
        drift: 1,
        node_timeout: 1,
        retry_delay: 1,
        write_margin: 1,
        service: Service::Redis,
        replicas: 0,
        wait_replicas: None,
        lock_delay: None,
        encoding: Encoding::Correct,
        fencing: Fencing::Off,
        resource: None,
        watchdog: false,
        max_extensions: 1,
        repeat: false,
        restart: None,
        failover: false,
        clock_jump: None,
        client_crash: false,
        eviction: false,
        pauses: 0,
    }
}

/// A perfect lease lock for the pause scenarios: one server whose clock is exact, and prompt
/// messages, in both modes. These scenarios override two bounds because their claim is about
/// process pauses: their async cell lifts only the pause bound, so that a counterexample shows
/// the pause (with unbounded delay, a delayed write would do as well).
fn lease(name: &'static str, timing: Timing) -> Setup {
    let mut s = base(name, timing);
    s.bounds.skew = Some(0);
    s.bounds.delay = Some(0);
    s.drift = 0;
    s.resource = Some(Resource::Unfenced);
    s.pauses = 1;
    s
}

fn redlock(name: &'static str, servers: u8, timing: Timing) -> Setup {
    Setup { servers, ..base(name, timing) }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "single-node",
        claim: "One Redis node, used correctly: SET key value NX PX ttl to acquire, a Lua \
                compare-and-delete to release. A release never removes another client's key and \
                the lock never stays stuck, whatever the timing; mutual exclusion holds while the \
                server's clock keeps its rate.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| base("single-node", t),
        expected: &[(ME, Holds, Violated), (OOR, Holds, Holds), (EA, Holds, Holds)],
    },
    Scenario {
        name: "single-plain-del",
        claim: "One Redis node, released with a plain DEL: a holder whose key expired while it \
                still worked deletes the next holder's key (pitfall 3 of the single-node lock).",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| Setup { encoding: Encoding::PlainDel, ..base("single-plain-del", t) },
        expected: &[(OOR, Violated, Violated), (ME, Holds, Violated)],
    },
    Scenario {
        name: "single-get-then-del",
        claim: "One Redis node, released as GET then DEL: the key can expire and be taken by \
                another client between the two commands (pitfall 4 of the single-node lock).",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "The literature places this under delays (async); the model finds it in sync too: \
               the expiry and the next client's SET fit between the GET and the DEL with no \
               delay at all. Bounded delays narrow the window, they never close it.",
        build: |t| Setup { encoding: Encoding::GetThenDel, ..base("single-get-then-del", t) },
        expected: &[(OOR, Violated, Violated), (ME, Holds, Violated)],
    },
    Scenario {
        name: "single-setnx-then-expire",
        claim: "One Redis node, acquired with SETNX then EXPIRE as two commands: a client that \
                crashes between them leaves a key that never expires (pitfall 2).",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| Setup {
            encoding: Encoding::SetnxThenExpire,
            client_crash: true,
            ..base("single-setnx-then-expire", t)
        },
        expected: &[(EA, Violated, Violated), (ME, Holds, Violated)],
    },
    Scenario {
        name: "failover-async-replica",
        claim: "One Redis primary with an asynchronous replica: the primary acknowledges the lock, \
                fails before replicating it, the replica is promoted and grants the lock again.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| Setup { replicas: 1, failover: true, ..base("failover-async-replica", t) },
        expected: &[(ME, Violated, Violated), (OOR, Holds, Holds)],
    },
    Scenario {
        name: "redlock",
        claim: "Redlock on N=5 independent nodes: majority quorum, validity = TTL - elapsed - \
                drift. antirez: safe if clocks drift within the allowance; Kleppmann: unsafe once \
                timing assumptions fail.",
        source: "Kleppmann, How to do distributed locking, Zhang, Is a Redis-based distributed lock safe? part 2",
        note: "",
        build: |t| redlock("redlock", 5, t),
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-n3",
        claim: "Redlock on N=3 nodes: the same claims as `redlock` on the smallest cluster that \
                tolerates a failure.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| redlock("redlock-n3", 3, t),
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-clock-jump",
        claim: "Kleppmann's first example: client 1 locks A, B, C; C's clock jumps forward and its \
                key expires; client 2 locks C, D, E. Both believe they hold the lock. The jump is \
                of a whole TTL; in sync it is limited by the drift bound, which shows what \
                bounded clocks buy. The async cell keeps clock rates bounded (override) so that \
                the jump is the only clock fault.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1 (Kleppmann's clock-jump example)",
        note: "",
        build: |t| {
            let mut s = redlock("redlock-clock-jump", 3, t);
            s.bounds.skew = Some(1);
            s.clock_jump = Some(s.ttl);
            s
        },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-restart-no-fsync",
        claim: "A node restarts without persistence right after granting: it forgets the key and \
                grants it again, handing a second client a majority. The second client needs a \
                retry: its first attempt lost the race for the majority.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| Setup { restart: Some(Restart::Empty), attempts: 2, ..redlock("redlock-restart-no-fsync", 3, t) },
        expected: &[(ME, Violated, Violated)],
    },
    Scenario {
        name: "redlock-delayed-restart",
        claim: "antirez's fix: a node that restarts empty stays unavailable for a TTL of its own \
                clock, so every key it forgot has expired anyway.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| Setup { restart: Some(Restart::Delayed), attempts: 2, ..redlock("redlock-delayed-restart", 3, t) },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-fsync-restart",
        claim: "A node restarts with AOF appendfsync always: it keeps its keys, and Redlock keeps \
                its guarantees.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "",
        build: |t| Setup { restart: Some(Restart::Fsync), attempts: 2, ..redlock("redlock-fsync-restart", 3, t) },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-slow-replies",
        claim: "Kleppmann's second example: the replies arrive after the keys expired (a GC pause \
                or a slow network before the replies are processed). antirez: the elapsed-time \
                check catches it. The sync cell lifts the delay bound (override): clocks stay \
                bounded, messages take any time, and the per-node timeout is longer than the TTL \
                so that late replies are counted. The elapsed-time check is the client's alone, \
                so two nodes (a quorum of both) show it: with unbounded delay the interleavings \
                explode (3 nodes: over 1.2M states, beyond the default budget).",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1, Zhang, Is a Redis-based distributed lock safe? part 2",
        note: "",
        build: |t| {
            let mut s = redlock("redlock-slow-replies", 2, t);
            s.bounds.delay = None;
            s.node_timeout = s.ttl + 2;
            s
        },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-extend",
        claim: "Redlock on N=5 nodes whose holders extend the lock every TTL/3 while they hold it, as \
                the crate's with_lock does. An extension renews the keys on a quorum within the old \
                validity: antirez's rules hold it as safe as a single acquisition; Kleppmann's \
                timing faults break it as they break the acquisition.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2 (extending a lock); the crate's with_lock",
        note: "",
        build: |t| Setup { watchdog: true, ..redlock("redlock-extend", 5, t) },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-extend-n3",
        claim: "The same on N=3 nodes.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2 (extending a lock); the crate's with_lock",
        note: "",
        build: |t| Setup { watchdog: true, ..redlock("redlock-extend-n3", 3, t) },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "redlock-eviction",
        claim: "Redlock on 3 nodes whose servers may evict the lock key before it expires (a \
                volatile-* or allkeys-* maxmemory-policy under memory pressure: lock keys carry a \
                TTL, so they are candidates). An eviction is a restart without persistence for one \
                key: another client can gather a majority while the holder still believes.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 1 (a node that forgets a key); Redis's eviction policies",
        note: "",
        build: |t| Setup { watchdog: true, eviction: true, ..redlock("redlock-eviction", 3, t) },
        expected: &[(ME, Violated, Violated)],
    },
    Scenario {
        name: "single-eviction",
        claim: "One Redis node that may evict the lock key before it expires; the holder extends \
                every TTL/3, as with_lock does. The next client is granted the evicted lock while \
                the holder believes; the holder's next extension hears that its key is gone and \
                must report the loss at once, not at the end of its old validity.",
        source: "Redis's eviction policies; the crate's with_lock",
        note: "",
        build: |t| Setup { watchdog: true, eviction: true, ..base("single-eviction", t) },
        expected: &[(ME, Violated, Violated), (LLR, Holds, Holds)],
    },
    Scenario {
        name: "pause-unfenced",
        claim: "A perfect lease lock; the holder pauses after its validity check and before its \
                write (Kleppmann's GC-pause figure); the resource applies every write.",
        source: "Kleppmann, How to do distributed locking, Zhang, Is a Redis-based distributed lock safe? part 1",
        note: "Kleppmann's point is about unbounded pauses: in sync a pause is bounded and the \
               holder writes only while more validity is left than the longest pause, so the \
               model finds it safe there, and unsafe in async.",
        build: |t| lease("pause-unfenced", t),
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "pause-fenced",
        claim: "The same, with monotonic fencing tokens (a counter incremented with each grant) \
                that the resource checks atomically with the write (Kleppmann's tokens 33/34).",
        source: "Kleppmann, How to do distributed locking",
        note: "",
        build: |t| Setup { fencing: Fencing::Counter, resource: Some(Resource::Fenced), ..lease("pause-fenced", t) },
        expected: &[(NLU, Holds, Holds), (OFW, Holds, Holds)],
    },
    Scenario {
        name: "fence-counter-restart",
        claim: "Fencing tokens from a single counter that restarts empty (no fsync) and hands out \
                tokens again; the resource accepts a token equal to the largest it has seen from \
                any holder. Does a repeated token let a stale holder's write through?",
        source: "Kleppmann, How to do distributed locking (fencing tokens); Redis persistence (appendfsync)",
        note: "The model decides: a newer holder's write with the repeated token applies, then the \
               paused older holder's write with the same token applies after it.",
        build: |t| Setup { fencing: Fencing::Counter, resource: Some(Resource::Fenced), restart: Some(Restart::Empty), ..lease("fence-counter-restart", t) },
        expected: &[(OFW, Undecided, Undecided), (NLU, Undecided, Undecided)],
    },
    Scenario {
        name: "fence-counter-restart-holder",
        claim: "The same with the crate's fence: an equal token passes only from the holder that \
                set the fence. The restarted counter's repeated tokens open nothing (new holders \
                are kept out until tokens pass the fence: a liveness cost, not a safety one).",
        source: "Kleppmann, How to do distributed locking (fencing tokens); the crate's fence adapters",
        note: "",
        build: |t| Setup { fencing: Fencing::Counter, resource: Some(Resource::FencedByHolder), restart: Some(Restart::Empty), ..lease("fence-counter-restart-holder", t) },
        expected: &[(OFW, Holds, Holds), (NLU, Holds, Holds)],
    },
    Scenario {
        name: "fence-check-then-write",
        claim: "Monotonic tokens, but the resource checks the token and applies the write as two \
                steps (reza_n on Hacker News): a newer holder's write can land in between.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2",
        note: "The race needs two holders writing at once, which the lease rules out in sync \
               (bounded pause, write margin); the model finds it in async only.",
        build: |t| {
            let mut s = lease("fence-check-then-write", t);
            s.fencing = Fencing::Counter;
            s.resource = Some(Resource::FencedCheckThenWrite);
            // The resource's own steps are what the claim is about: their delay stays the
            // timing mode's (bounded in sync, unbounded in async).
            s.bounds.delay = bounds(t).delay;
            s
        },
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "unique-token-cas",
        claim: "antirez's answer: the lock's unique random value as a token; the holder sets the \
                resource's token to its own, then writes only if it is still its own \
                (check-and-set). No increment is lost, but a stale holder can still write after \
                a newer one. Unlike the pause scenarios, the lock here is a real Redis node whose \
                clock is bounded only in sync: the point of a token is to protect the resource \
                when the lock fails.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2",
        note: "",
        build: |t| Setup {
            fencing: Fencing::Unique,
            resource: Some(Resource::UniqueTokenCas),
            bounds: bounds(t),
            drift: 1,
            ..lease("unique-token-cas", t)
        },
        expected: &[(NLU, Holds, Holds), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "redlock-incr-tokens",
        claim: "Fencing tokens for Redlock made by INCR on each node inside the acquire script, \
                the client taking the largest value of its quorum, checked atomically by the \
                resource. Does the order of tokens follow the order of holders?",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2 (Kleppmann: Redlock has no way to generate fencing tokens)",
        note: "",
        build: |t| {
            let mut s = redlock("redlock-incr-tokens", 3, t);
            s.fencing = Fencing::Counter;
            s.resource = Some(Resource::Fenced);
            s
        },
        expected: &[(OFW, Holds, Undecided), (NLU, Holds, Undecided)],
    },
    Scenario {
        name: "zookeeper-session",
        claim: "Flavio Junqueira: a ZooKeeper lock (an ephemeral node of the client's session) is \
                lost when the session expires during a pause, and the paused holder writes on.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2",
        note: "",
        build: |t| Setup {
            service: Service::ZooKeeper,
            watchdog: true,
            ..lease("zookeeper-session", t)
        },
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "zookeeper-session-zxid",
        claim: "The same, with the lock node's creation zxid as a fencing token that the resource \
                checks (\"marking the resource with increasing epochs\").",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2",
        note: "",
        build: |t| Setup {
            service: Service::ZooKeeper,
            watchdog: true,
            fencing: Fencing::Zxid,
            resource: Some(Resource::Fenced),
            ..lease("zookeeper-session-zxid", t)
        },
        expected: &[(NLU, Holds, Holds), (OFW, Holds, Holds)],
    },
    Scenario {
        name: "etcd-lease",
        claim: "A lock in etcd: a key attached to a lease, created only if absent; the holder keeps \
                the lease alive every TTL/3 (the crate's etcd lock, driving the same core). A \
                pause outlasts the lease, etcd deletes the key with it, the next client creates \
                it, and the paused holder writes on: the resource is unfenced.",
        source: "Kleppmann, How to do distributed locking; Jepsen, etcd 3.4.3 (2020): etcd locks cannot guarantee mutual exclusion without a fence",
        note: "",
        build: |t| Setup { service: Service::Etcd, watchdog: true, ..lease("etcd-lease", t) },
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "etcd-lease-revision",
        claim: "The same, with the lock key's create revision as the fencing token, checked by the \
                resource atomically with the write: etcd's revision only grows, so a later holder's \
                token is larger, and a repeated token is impossible.",
        source: "Jepsen, etcd 3.4.3 (2020) and etcd's documentation (use the revision as a fencing token); Kleppmann, How to do distributed locking",
        note: "",
        build: |t| Setup {
            service: Service::Etcd,
            watchdog: true,
            fencing: Fencing::Revision,
            resource: Some(Resource::Fenced),
            ..lease("etcd-lease-revision", t)
        },
        expected: &[(NLU, Holds, Holds), (OFW, Holds, Holds)],
    },
    Scenario {
        name: "etcd-slow-replies",
        claim: "The crate's etcd lock with keep-alives, no resource, and messages that take any \
                time: a member that is paused, killed or cut off is, to a client of a \
                linearizable store, a reply that comes late or never. The sync cell lifts the \
                delay bound (override) and keeps the store's clock within the drift allowance: \
                the validity counts from before each request, so a late reply only shortens it.",
        source: "Jepsen, etcd 3.4.3 (2020): etcd is linearizable and its leases rest on timing; Kleppmann, How to do distributed locking",
        note: "",
        build: |t| {
            let mut s = Setup { service: Service::Etcd, watchdog: true, resource: None, ..base("etcd-slow-replies", t) };
            s.bounds.delay = None;
            s
        },
        expected: &[(ME, Holds, Violated)],
    },
    Scenario {
        name: "postgres-advisory",
        claim: "A PostgreSQL session-level advisory lock (pg_try_advisory_lock, no TTL, released \
                by pg_advisory_unlock or when the server sees the session end) guarding a \
                resource that applies every write. The server ends the holder's session (a cut \
                connection it notices, pg_terminate_backend, idle_session_timeout) and releases \
                its lock; the holder is not told, another session takes the lock, and the old \
                holder writes on. No timing hazard is needed.",
        source: "PostgreSQL's documentation (advisory locks, session-level); Kleppmann, How to do distributed locking",
        note: "The model's client still counts a validity (the Redlock core's); a real one believes \
               until it next uses its connection, which only widens the window.",
        build: |t| Setup {
            service: Service::Postgres,
            eviction: true,
            resource: Some(Resource::Unfenced),
            ..base("postgres-advisory", t)
        },
        expected: &[(ME, Violated, Violated), (NLU, Violated, Violated), (OFW, Violated, Violated)],
    },
    Scenario {
        name: "postgres-advisory-fenced",
        claim: "The same, with a token taken with the lock from a sequence (nextval, in the same \
                session) that the resource checks atomically with the write, an equal token \
                only from its holder: the session's end still gives two holders, but the old \
                holder's write is refused.",
        source: "PostgreSQL's documentation (advisory locks, sequences); Kleppmann, How to do distributed locking (fencing tokens)",
        note: "",
        build: |t| Setup {
            service: Service::Postgres,
            eviction: true,
            fencing: Fencing::Counter,
            resource: Some(Resource::FencedByHolder),
            ..base("postgres-advisory-fenced", t)
        },
        expected: &[(ME, Violated, Violated), (NLU, Holds, Holds), (OFW, Holds, Holds)],
    },
    Scenario {
        name: "watchdog-pause",
        claim: "Redisson's watchdog extends the lease every TTL/3 while the holder lives; a pause \
                stops the watchdog too, the lease expires, and the holder writes on unfenced.",
        source: "Redisson's documentation (the lock watchdog, every internalLockLeaseTime / 3)",
        note: "",
        build: |t| {
            let mut s = lease("watchdog-pause", t);
            s.bounds.skew = bounds(t).skew;
            s.drift = 1;
            s.watchdog = true;
            s
        },
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "chubby-check-sequencer",
        claim: "Chubby's weakest defence: the holder sends its sequencer with the write, the \
                resource asks the lock service whether it is still valid (CheckSequencer), then \
                applies the write as a separate step: the lock can be lost between the check \
                and the write. KeepAlives hold the session while the client runs.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2 (Chubby's sequencers)",
        note: "",
        build: |t| {
            let mut s = chubby("chubby-check-sequencer", t);
            s.fencing = Fencing::Sequencer;
            s.resource = Some(Resource::CheckSequencer);
            // The resource's own steps are what the claim is about: their delay stays the
            // timing mode's.
            s.bounds.delay = bounds(t).delay;
            s
        },
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "chubby-latest-sequencer",
        claim: "Chubby's strongest defence: the resource keeps the latest sequencer (lock \
                generation) it has seen and rejects older ones, atomically with the write.",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2 (Chubby's sequencers)",
        note: "",
        build: |t| Setup { fencing: Fencing::Sequencer, resource: Some(Resource::Fenced), ..chubby("chubby-latest-sequencer", t) },
        expected: &[(NLU, Holds, Holds), (OFW, Holds, Holds)],
    },
    Scenario {
        name: "chubby-lock-delay",
        claim: "Chubby's defence for resources that check nothing: when a holder vanishes (its \
                session expires), the service grants the lock to no one for a lock-delay (2 \
                ticks, longer than message delay plus pause in sync). The client checks only \
                that its validity has not run out before it writes (no margin).",
        source: "Zhang, Is a Redis-based distributed lock safe? part 2 (Chubby's lock-delay)",
        note: "",
        build: |t| Setup { lock_delay: Some(2), write_margin: 0, ..chubby("chubby-lock-delay", t) },
        expected: &[(NLU, Holds, Violated), (OFW, Holds, Violated)],
    },
    Scenario {
        name: "redisson-wait-1",
        claim: "Redisson's lock after it deprecated RedLock (2020): one primary with two \
                asynchronous replicas; after SET NX PX the client runs WAIT 1 and counts the lock \
                only once a replica has it; the primary fails and a replica is promoted. Which \
                replica is promoted is the failover's choice.",
        source: "Redisson's documentation (RedissonRedLock deprecated in 2020; syncSlaves / WAIT); Zhang, Is a Redis-based distributed lock safe? part 1 (failover)",
        note: "The model decides: with WAIT 1 the replica that did not acknowledge can be the one \
               promoted, and it grants the lock again.",
        build: |t| Setup { replicas: 2, wait_replicas: Some(1), failover: true, ..base("redisson-wait-1", t) },
        expected: &[(ME, Undecided, Undecided)],
    },
    Scenario {
        name: "redisson-wait-2",
        claim: "The same with WAIT 2: every replica has the key before the client counts it.",
        source: "Redisson's documentation; Zhang, Is a Redis-based distributed lock safe? part 1 (failover)",
        note: "The model decides: in sync every replica that can be promoted has the key; in \
               async clocks alone break it, as for a single node.",
        build: |t| Setup { replicas: 2, wait_replicas: Some(2), failover: true, ..base("redisson-wait-2", t) },
        expected: &[(ME, Undecided, Undecided)],
    },
    Scenario {
        name: "redisson-fenced-failover",
        claim: "Redisson's RFencedLock: tokens from INCR on the primary, which replicates \
                asynchronously like the key; the primary fails before the counter reaches the \
                replica. Can a token repeat or go backwards, and what does that do to the \
                resource? The holder may pause (bounded in sync) before its write.",
        source: "Redisson's documentation (RFencedLock); Kleppmann, How to do distributed locking (fencing)",
        note: "The model decides: the promoted replica hands out the same token again, the fenced \
               resource accepts the equal token, and the older holder's write lands after the \
               newer one's.",
        build: |t| Setup {
            replicas: 1,
            failover: true,
            fencing: Fencing::Counter,
            resource: Some(Resource::Fenced),
            pauses: 1,
            ..base("redisson-fenced-failover", t)
        },
        expected: &[(OFW, Undecided, Undecided), (NLU, Undecided, Undecided)],
    },
];

/// A Chubby-style lock service for the Chubby scenarios: a perfect lease with prompt messages
/// (like [`lease`]), a session kept alive by KeepAlives every TTL/3 while the client runs.
fn chubby(name: &'static str, timing: Timing) -> Setup {
    Setup { service: Service::Chubby, watchdog: true, ..lease(name, timing) }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Looks a scenario up by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
