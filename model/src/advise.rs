//! `check advise`: is my deployment safe? The model's verdicts and the proofs' bounds, put
//! together for a deployment described in real units.
//!
//! A scenario of the matrix is a scaled-down cell: ticks, not milliseconds. What connects it to
//! a deployment is which hazards the deployment leaves beyond the lock's tolerance, in the
//! debate's three letters:
//!
//! - **C**, clocks: the client's drift allowance covers clocks whose rates stay within `1 ± ρ`
//!   exactly when `drift (1 + ρ) ≥ 2 ρ ttl` (theorem 1 in `proofs/`, tight). A clock that steps
//!   (an NTP step, a manual change) is beyond any allowance.
//! - **P** and **N**, a pause and a message delay *after the validity check*: a holder that
//!   checks that more than the write margin is left, then pauses and sends its write, has the
//!   write land in time only while pause + delay stay below the margin. Before the grant, delays
//!   do not matter: the elapsed-time check catches them (`redlock-slow-replies`).
//!
//! The answer for a property is the verdict of the scenario that matches the deployment (its
//! service, persistence, fencing and resource) with the hazards the deployment exceeds lifted,
//! `check run <scenario> --lift <hazards>`: the evidence a user can run. Where a property rests
//! on a number the user did not declare (the clock error, the longest pause), the answer is
//! `holds-if`, with the bound that would make it hold. `tests/advise.rs` checks every cell an
//! answer cites against the model, and `proofs/tests/advise.rs` the clock and restart bounds
//! against z3 on a grid of parameters.

mod bounds;
mod deployment;

pub use bounds::{allowance_covers, largest_covered_ppm, smallest_allowance_ms, smallest_restart_delay_ms};
pub use deployment::{config_flags, parse_duration_ms, Deployment, Fencing, Persistence, Resource, Service};

use crate::check::Verdict;
use crate::setup::Hazards;
use redlock_client::judge::Invariant;
use serde::Serialize;
use std::fmt::Write;

/// `holds`, `violated`, or `holds-if` (holds only under an assumption the deployment does not
/// guarantee, stated in `because`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Advice {
    Holds,
    Violated,
    HoldsIf,
}

impl std::fmt::Display for Advice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Advice::Holds => "holds",
            Advice::Violated => "violated",
            Advice::HoldsIf => "holds-if",
        })
    }
}

/// A model cell an answer rests on: the scenario with `lifted` hazards unbounded, and the
/// verdict the model gives `property` there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub scenario: &'static str,
    /// The hazards the command lifts.
    pub lifted: Hazards,
    /// The hazards the cell leaves unbounded: those lifted, and any the scenario leaves
    /// unbounded in both modes (`etcd-slow-replies` always has unbounded delays).
    pub unbounded: Hazards,
    #[serde(serialize_with = "serialize_invariant")]
    pub property: Invariant,
    pub verdict: Verdict,
    /// A cell cited for contrast: what breaks without what the deployment has.
    pub contrast: bool,
    pub command: String,
}

fn serialize_invariant<S: serde::Serializer>(i: &Invariant, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(i.name())
}

fn cell(scenario: &'static str, lifted: Hazards, property: Invariant, verdict: Verdict) -> Cell {
    let lift = if lifted == Hazards::NONE { "none".to_string() } else { lifted.letters().join(",") };
    let unbounded = crate::scenario::find(scenario).map_or(lifted, |s| s.setup_lifted(lifted).unbounded());
    Cell {
        scenario,
        lifted,
        unbounded,
        property,
        verdict,
        contrast: false,
        command: format!("cargo run --bin check -- run {scenario} --lift {lift}"),
    }
}

/// A cell cited to show what breaks without what the deployment has (or beyond its bounds).
fn contrast(scenario: &'static str, lifted: Hazards, property: Invariant) -> Cell {
    Cell { contrast: true, ..cell(scenario, lifted, property, Verdict::Violated) }
}

/// One answer: a property, its verdict for the deployment, why, what it rests on, and what would
/// make it hold.
#[derive(Clone, Debug, Serialize)]
pub struct Answer {
    #[serde(serialize_with = "serialize_invariant")]
    pub property: Invariant,
    pub verdict: Advice,
    pub because: String,
    /// What the verdict assumes of the deployment beyond what it declared.
    pub assumptions: Vec<String>,
    /// The theorems, with the deployment's numbers, and the model cells that decide it.
    pub theorems: Vec<String>,
    pub cells: Vec<Cell>,
    /// What would make it hold, for `violated` and `holds-if`.
    pub fix: Option<String>,
}

impl Answer {
    /// `holds`, for `because`; the rules add what it rests on, or overturn it.
    fn holds(property: Invariant, because: String) -> Answer {
        Answer { property, verdict: Advice::Holds, because, assumptions: Vec::new(), theorems: Vec::new(), cells: Vec::new(), fix: None }
    }
}

const N: Hazards = Hazards::EACH[0];
const P: Hazards = Hazards::EACH[1];
const C: Hazards = Hazards::EACH[2];

/// The advice: one answer per property the deployment's lock is judged on.
pub fn advise(d: &Deployment) -> Vec<Answer> {
    // The model judges ZooKeeper's lock on its resource only (`zookeeper-session`): what a paused
    // client outlives is its session, and the resource is where that shows.
    let mut answers: Vec<Answer> = (d.service != Service::Zookeeper).then(|| mutual_exclusion_answer(d)).into_iter().collect();
    if d.redis() {
        answers.extend(redis_lock_properties());
    }
    if d.resource != Resource::None {
        answers.push(resource_answer(d, Invariant::NoLostUpdate));
        if d.fencing != Fencing::None {
            answers.push(resource_answer(d, Invariant::OrderedFencedWrites));
        }
    }
    answers
}

/// The Redis scenario of the deployment's size, for the clock cells.
fn redis_scenario(d: &Deployment) -> &'static str {
    match d.service {
        Service::Redlock { servers: 2.. } if d.clock_steps => "redlock-clock-jump",
        Service::Redlock { servers: 2..=3 } => "redlock-n3",
        Service::Redlock { servers: 4.. } => "redlock",
        _ => "single-node",
    }
}

fn clock_theorem(d: &Deployment) -> String {
    let ppm = d.clock_error_ppm.map_or("you declared no clock error".to_string(), |p| format!("you declared {p} ppm"));
    format!(
        "theorem 1 (proofs/src/timing.rs): an allowance of {} ms on a TTL of {} ms covers clock rates within {} ppm \
         of real time (drift (1 + ρ) ≥ 2 ρ ttl); {ppm}{}",
        d.drift_allowance_ms,
        d.ttl_ms,
        largest_covered_ppm(d.drift_allowance_ms, d.ttl_ms),
        if d.clock_steps { " and clocks that may step" } else { "" }
    )
}

fn clock_fix(d: &Deployment) -> String {
    let allowance = match d.clock_error_ppm {
        Some(ppm) if !allowance_covers(d.drift_allowance_ms, d.ttl_ms, ppm) => {
            format!("a drift allowance of at least {} ms for {ppm} ppm (`ClientBuilder::drift`)", smallest_allowance_ms(d.ttl_ms, ppm))
        }
        _ => format!("clocks within {} ppm", largest_covered_ppm(d.drift_allowance_ms, d.ttl_ms)),
    };
    if d.clock_steps {
        format!("{allowance}, and no clock steps on clients or lock servers (slew only: chrony's makestep off after boot)")
    } else {
        allowance
    }
}

/// The answer for mutual exclusion (the judge decides the invariant; this only cites it).
fn mutual_exclusion_answer(d: &Deployment) -> Answer {
    let me = Invariant::MutualExclusion;
    let mut a = Answer::holds(me, String::new());
    // Faults that break it with no hazard at all.
    if d.service == Service::Postgres {
        a.verdict = Advice::Violated;
        a.because = "the server releases a session-level advisory lock when it sees the session end (a cut connection \
                     it notices, pg_terminate_backend, idle_session_timeout) and tells no one: another session takes \
                     the lock while the holder still believes it has it, with no timing hazard at all"
            .into();
        a.cells.push(cell("postgres-advisory", Hazards::NONE, me, Verdict::Violated));
        a.fix = Some(
            "for work in the same database, pg_advisory_xact_lock and the writes in one transaction (they commit or abort \
             together); for anything else, a fencing token from a sequence checked by the resource (--fencing counter)"
                .into(),
        );
        return a;
    }
    if let Service::Replicas { replicas, wait } = d.service {
        if wait.is_none_or(|w| w < replicas) {
            a.verdict = Advice::Violated;
            a.because = match wait {
                None => "a failover promotes an asynchronous replica that has not received the lock key yet: two holders \
                         with no hazard at all"
                    .into(),
                Some(w) => format!(
                    "WAIT {w} of {replicas} replicas: the failover may promote a replica that did not acknowledge the key \
                     (Redisson's WAIT-based lock)"
                ),
            };
            a.cells.push(match wait {
                None => cell("failover-async-replica", Hazards::NONE, me, Verdict::Violated),
                Some(_) => cell("redisson-wait-1", Hazards::NONE, me, Verdict::Violated),
            });
            a.fix = Some("independent servers (Redlock), WAIT for every replica, or a consensus store (etcd)".into());
            return a;
        }
    }
    if matches!(d.service, Service::Single | Service::Redlock { .. }) && d.persistence != Persistence::Always {
        let needed = d.clock_error_ppm.map(|ppm| smallest_restart_delay_ms(d.ttl_ms, d.drift_allowance_ms, ppm));
        let delayed = needed.is_some_and(|n| d.restart_delay_ms >= n) || (d.clock_error_ppm.is_none() && d.restart_delay_ms >= d.ttl_ms);
        let persistence = if d.persistence == Persistence::None { "no AOF" } else { "appendfsync everysec" };
        if !delayed {
            a.verdict = Advice::Violated;
            a.because = format!(
                "with {persistence} a server that crashes forgets the lock key, and one that serves again {} ms after \
                 it restarts lets a second client take the lock while the first still holds it",
                d.restart_delay_ms
            );
            a.cells.push(cell("redlock-restart-no-fsync", Hazards::NONE, me, Verdict::Violated));
            a.fix = Some(format!(
                "appendfsync always, or keep a restarted server out for at least {} ms (theorem 2)",
                needed.unwrap_or(d.ttl_ms)
            ));
            return a;
        }
        a.assumptions.push(format!("a crashed server stays away for at least {} ms after it restarts", d.restart_delay_ms));
        a.theorems.push(format!(
            "theorem 2 (proofs/src/restart.rs): a server that restarts empty keeps mutual exclusion when it waits (ttl − drift)(1 + ρ)/(1 − ρ) = {} ms",
            needed.unwrap_or(d.ttl_ms)
        ));
        a.cells.push(cell("redlock-delayed-restart", Hazards::NONE, me, Verdict::Holds));
    }
    // Clocks: the hazard it rests on.
    // The cell of the deployment's service (etcd's leaves delays unbounded in both modes).
    let scenario = match d.service {
        Service::Etcd => "etcd-slow-replies",
        Service::Replicas { .. } => "redisson-wait-2",
        _ => redis_scenario(d),
    };
    a.theorems.push(clock_theorem(d));
    match d.clocks_beyond_allowance() {
        Some(true) => {
            a.verdict = Advice::Violated;
            a.because = if d.clock_steps {
                "a clock that steps (an NTP step, a manual change) makes a key expire early or a client believe longer: \
                 two holders (Kleppmann's clock jump)"
                    .into()
            } else {
                "the clocks may drift more than the allowance covers: a key expires on a fast server clock while a slow client \
                 still believes it holds the lock"
                    .into()
            };
            a.cells.push(cell(scenario, C, me, Verdict::Violated));
            a.fix = Some(clock_fix(d));
            return a;
        }
        None => {
            a.verdict = Advice::HoldsIf;
            a.because = format!(
                "holds only while every clock's rate stays within {} ppm of real time and no clock steps: you declared no \
                 clock error (--clock-error-ppm)",
                largest_covered_ppm(d.drift_allowance_ms, d.ttl_ms)
            );
            a.cells.push(contrast(scenario, C, me));
            a.fix = Some(clock_fix(d));
        }
        Some(false) => {
            a.because = "the drift allowance covers the declared clock error, and neither a message delay nor a pause \
                         breaks it: the validity is counted on the client's clock from before the first request, so a \
                         slow reply or a pause only shortens it"
                .into();
            a.assumptions.push("clock rates stay within the declared error, and no clock steps".into());
        }
    }
    a.cells.push(cell(scenario, Hazards::NONE, me, Verdict::Holds));
    if d.redis() {
        a.cells.push(cell("redlock-slow-replies", N, me, Verdict::Holds));
        a.cells.push(cell(scenario, P, me, Verdict::Holds));
    }
    if d.redis() {
        a.assumptions.push("the lock servers never evict keys (maxmemory-policy noeviction)".into());
    }
    if let Service::Redlock { servers } = d.service {
        a.assumptions.push(format!("the {servers} servers are independent (no replication between them)"));
        a.theorems.push(format!("theorem 3 (proofs/src/quorum.rs): any two majorities of {servers} servers share a server"));
    }
    a
}

/// What the Redis lock of this crate guarantees whatever the timing.
fn redis_lock_properties() -> Vec<Answer> {
    let answer = |property, because: &str, cells| Answer { cells, ..Answer::holds(property, because.into()) };
    let all = Hazards::ALL;
    vec![
        answer(
            Invariant::OwnerOnlyRelease,
            "a release is a Lua compare-and-delete of the client's own random value: it never deletes another client's key",
            vec![
                cell("single-node", all, Invariant::OwnerOnlyRelease, Verdict::Holds),
                contrast("single-plain-del", Hazards::NONE, Invariant::OwnerOnlyRelease),
            ],
        ),
        answer(
            Invariant::EventuallyAcquirable,
            "the key is set with its TTL in one command (SET NX PX): no crash leaves a key that never expires",
            vec![
                cell("single-node", all, Invariant::EventuallyAcquirable, Verdict::Holds),
                contrast("single-setnx-then-expire", Hazards::NONE, Invariant::EventuallyAcquirable),
            ],
        ),
        answer(
            Invariant::LostLockReported,
            "a holder that a majority tells \"the key is not yours\" reports the loss before its next step",
            vec![cell("single-eviction", all, Invariant::LostLockReported, Verdict::Holds)],
        ),
    ]
}

/// The resource's properties: no lost update, and writes in token order.
fn resource_answer(d: &Deployment, property: Invariant) -> Answer {
    let mut a = Answer::holds(property, String::new());
    let fence = "a fencing token checked by the resource atomically with the write: --fencing counter on one Redis \
                 server, or --fencing revision with etcd or ZooKeeper";
    let trusting = match d.service {
        Service::Etcd => "etcd-lease",
        Service::Zookeeper => "zookeeper-session",
        Service::Postgres => "postgres-advisory",
        _ => "pause-unfenced",
    };
    match (d.fencing, d.resource) {
        (Fencing::None, _) | (_, Resource::Unfenced) if d.service == Service::Postgres => {
            a.verdict = Advice::Violated;
            a.because = "the server ends the holder's session and releases its lock without telling it: the next holder \
                         writes while the old one still does, with no timing hazard at all"
                .into();
            a.cells.push(cell("postgres-advisory", Hazards::NONE, property, Verdict::Violated));
            a.fix = Some(
                "pg_advisory_xact_lock with the writes in the same transaction, or a token from a sequence checked by the \
                 resource (--fencing counter)"
                    .into(),
            );
        }
        (Fencing::None, _) | (_, Resource::Unfenced) => {
            let lifted = pause_or_delay(d);
            match d.late_write_possible() {
                Some(false) if d.clocks_beyond_allowance() != Some(true) => {
                    a.verdict = Advice::HoldsIf;
                    a.because = format!(
                        "holds only while no pause exceeds {} ms and no write takes longer than {} ms{}: the holder writes \
                         with more than {} ms of validity left, which a longer pause (GC, swapping, a stopped VM) outlasts",
                        d.max_pause_ms.unwrap_or(0),
                        d.max_delay_ms.unwrap_or(0),
                        if d.clock_error_ppm.is_none() { ", and the clocks stay within the allowance (see mutual_exclusion)" } else { "" },
                        d.write_margin_ms
                    );
                    a.cells.push(cell(trusting, Hazards::NONE, property, Verdict::Holds));
                    a.cells.push(contrast(trusting, P, property));
                    a.fix = Some(fence.into());
                }
                Some(false) => {
                    a.verdict = Advice::Violated;
                    a.because = "the clocks may leave the drift allowance behind: two clients hold the lock at once (see \
                                 mutual_exclusion) and the resource applies both holders' writes"
                        .into();
                    a.cells.push(cell("watchdog-pause", C, property, Verdict::Violated));
                    a.fix = Some(format!("{}; or {fence}", clock_fix(d)));
                }
                None | Some(true) => {
                    a.verdict = Advice::Violated;
                    a.because = format!(
                        "a holder can check its validity, then pause or have its write delayed past its lease ({}); another \
                         client takes the lock and the late write overwrites its work (Kleppmann's GC pause)",
                        describe_late_write(d)
                    );
                    a.cells.push(cell(trusting, lifted, property, Verdict::Violated));
                    a.fix = Some(fence.into());
                }
            }
        }
        (Fencing::Counter, _) if matches!(d.service, Service::Redlock { servers: 2.. }) => {
            a.verdict = Advice::Violated;
            a.because = "per-node INCR counters give Redlock no honest token: two holders can get equal tokens, and a \
                         later holder a smaller one (the crate refuses --fencing counter with more than one server)"
                .into();
            a.cells.push(cell("redlock-incr-tokens", C, property, Verdict::Violated));
            a.fix = Some("--fencing counter on a single Redis server, or --fencing revision with etcd".into());
        }
        (Fencing::Counter, _) if matches!(d.service, Service::Replicas { .. }) => {
            a.verdict = Advice::Violated;
            a.because = "a failover promotes a replica whose counter lags the primary's: it hands out tokens again".into();
            a.cells.push(cell("redisson-fenced-failover", Hazards::NONE, property, Verdict::Violated));
            a.fix = Some("a counter that never fails over (one server with appendfsync always), or --fencing revision with etcd".into());
        }
        (_, Resource::CheckThenWrite) => {
            a.verdict = Advice::Violated;
            a.because = "the resource checks the token, then writes in a second step: a newer holder's write can land in \
                         between, and the gap is itself a lease that a pause or a delay outlasts"
                .into();
            a.cells.push(cell("fence-check-then-write", pause_or_delay(d), property, Verdict::Violated));
            a.fix = Some("check the token and write in one atomic step (a Lua script, a conditional UPDATE)".into());
        }
        (Fencing::Counter, Resource::Atomic) if d.service == Service::Postgres => {
            a.because = "the sequence only grows (it is durable: a crash does not rewind it) and the resource refuses any \
                         token below the largest it has seen, in the same step as the write: the holder whose session \
                         ended has its write refused"
                .into();
            a.cells.push(cell("postgres-advisory-fenced", Hazards::ALL, property, Verdict::Holds));
            a.cells.push(contrast("postgres-advisory", Hazards::NONE, property));
        }
        (Fencing::Counter, Resource::Atomic) => {
            a.because = "the counter only grows and the resource refuses any token below the largest it has seen, in the \
                         same step as the write: a stale holder's write is refused however long it paused"
                .into();
            if d.persistence != Persistence::Always {
                a.because.push_str(
                    "; a restart that loses the counter hands out tokens again, which the resource lets through only from \
                     the holder that set its fence",
                );
                a.cells.push(cell("fence-counter-restart-holder", P, property, Verdict::Holds));
                a.cells.push(contrast("fence-counter-restart", P, property));
            }
            a.cells.push(cell("pause-fenced", P, property, Verdict::Holds));
            a.theorems.push("the atomic fence's invariant (proofs/src/fencing.rs): accepted writes are in token order".into());
        }
        (Fencing::Revision, Resource::Atomic) => {
            a.because = "the revision is replicated by consensus and only grows: no crash, restart or leader change repeats \
                         it, and the resource refuses a stale one in the same step as the write"
                .into();
            let scenario = if d.service == Service::Etcd { "etcd-lease-revision" } else { "zookeeper-session-zxid" };
            a.cells.push(cell(scenario, P, property, Verdict::Holds));
            a.theorems.push("the atomic fence's invariant (proofs/src/fencing.rs): accepted writes are in token order".into());
        }
        (_, Resource::None) => unreachable!("advise() asks about the resource only when there is one"),
    }
    a
}

/// The hazard that brings a write late: a pause unless only the delay is undeclared or long.
fn pause_or_delay(d: &Deployment) -> Hazards {
    match (d.max_pause_ms, d.max_delay_ms) {
        (Some(p), Some(n)) if p < d.write_margin_ms && n >= d.write_margin_ms => N,
        (Some(p), None) if p < d.write_margin_ms => N,
        _ => P,
    }
}

fn describe_late_write(d: &Deployment) -> String {
    let ms = |v: Option<u64>| v.map_or("unbounded".to_string(), |v| format!("up to {v} ms"));
    format!("pauses {}, delays {}, against a write margin of {} ms", ms(d.max_pause_ms), ms(d.max_delay_ms), d.write_margin_ms)
}

/// The advice as text: one paragraph per property.
pub fn render(d: &Deployment, answers: &[Answer]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", describe(d));
    for a in answers {
        let _ = writeln!(out, "\n{}: {}", a.property.name(), a.verdict);
        let _ = writeln!(out, "  why: {}", a.because);
        for assumption in &a.assumptions {
            let _ = writeln!(out, "  assumes: {assumption}");
        }
        for theorem in &a.theorems {
            let _ = writeln!(out, "  by: {theorem}");
        }
        for c in &a.cells {
            let role = if c.contrast { "for contrast" } else { "model" };
            let _ = writeln!(out, "  {role}: {} {} ({}): {}", c.scenario, unbounded_name(c.unbounded), c.property.name(), c.verdict);
            let _ = writeln!(out, "         {}", c.command);
        }
        if let Some(fix) = &a.fix {
            let _ = writeln!(out, "  to make it hold: {fix}");
        }
    }
    out
}

fn unbounded_name(h: Hazards) -> String {
    if h == Hazards::NONE {
        "with every hazard bounded".into()
    } else {
        format!("with {} unbounded", h.letters().join(", "))
    }
}

/// The deployment in one line, as the advice understood it.
fn describe(d: &Deployment) -> String {
    let service = match d.service {
        Service::Single => "one Redis server".to_string(),
        Service::Redlock { servers } => format!("Redlock on {servers} Redis servers"),
        Service::Replicas { replicas, wait: None } => format!("a Redis primary with {replicas} asynchronous replica(s) and failover"),
        Service::Replicas { replicas, wait: Some(w) } => format!("a Redis primary with {replicas} replica(s), WAIT {w}, and failover"),
        Service::Etcd => "the etcd lease lock".into(),
        Service::Zookeeper => "a ZooKeeper session lock".into(),
        Service::Postgres => "a PostgreSQL session-level advisory lock".into(),
    };
    let fencing = match d.fencing {
        Fencing::None => "no fencing token",
        Fencing::Counter if d.service == Service::Postgres => "tokens from a sequence",
        Fencing::Counter => "tokens from the server's counter",
        Fencing::Revision => "the store's revision as token",
    };
    let resource = match d.resource {
        Resource::None => "no resource judged",
        Resource::Unfenced => "a resource that applies every write",
        Resource::Atomic => "a resource that checks tokens atomically",
        Resource::CheckThenWrite => "a resource that checks tokens, then writes",
    };
    let timing = match d.service {
        Service::Postgres => "no TTL: the lock lives as long as its session".to_string(),
        _ => format!("TTL {} ms, drift allowance {} ms", d.ttl_ms, d.drift_allowance_ms),
    };
    format!("Deployment: {service}; {timing}; {fencing}; {resource}.")
}
