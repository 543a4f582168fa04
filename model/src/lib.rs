//! A Stateright model of the Redlock debate.
//!
//! In February 2016 Martin Kleppmann argued that Redlock, the Redis distributed lock, is
//! unsafe: it assumes that clocks run at about the right rate, that network delays are short
//! and that processes do not pause, and a lock that rests on timing assumptions cannot give
//! correctness without fencing tokens (Kleppmann, *How to do distributed locking*).
//! antirez answered that the assumptions are reasonable, that the elapsed-time check catches
//! slow replies, and that a unique random token can fence as well
//! (Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 2). Both are right about something; this model says exactly
//! what, by exploring every interleaving of small systems.
//!
//! The system is an actor model ([`actor`]): lock clients that drive the shipped Redlock core
//! (`redlock_client::protocol`, the very code of the async client), Redis lock servers that
//! expire keys by their own clocks ([`server`], with replicas, persistence and restarts), a
//! ZooKeeper- or Chubby-style session service, and a resource that may check fencing tokens
//! ([`resource`]). Around Stateright's `ActorModel`, a thin wrapper ([`system`]) owns what
//! touches every actor at once: real time (a tick lowers relative countdowns, so the search
//! ends without any horizon), the faults (pauses, clock jumps, crashes, restarts, failovers),
//! and the judge (`redlock_client::judge`), fed every event of every step and kept in the
//! state, whose verdicts the properties read ([`properties`]).
//!
//! Two timing modes bound what may happen ([`setup`]): `sync` bounds message delay, clock drift
//! and pauses; `async` bounds nothing. Each named scenario ([`scenario`]) is a claim of the
//! debate plus the faults that test it, with the verdict the literature predicts; [`check`]
//! decides every property of a cell (random walks, then an exhaustive depth-first search with
//! server and client symmetry ([`symmetry`])) and finds the shortest counterexample by
//! breadth-first search, which [`trace`] renders as a timeline and [`view`] as the Explorer's
//! state panel and sequence diagram.
//!
//! # Layout
//!
//! - [`setup`]: timing modes, bounds, the parameters of a run; the `Window` encoding of drift.
//! - [`scenario`]: the named scenarios, their claims, sources and expected verdicts.
//! - [`msg`]: messages and timers (the TLA+ twin's names too).
//! - [`actor`], [`client`], [`server`], [`resource`]: the actors; [`etcd`]: the etcd-style
//!   store a server is for `Service::Etcd`.
//! - [`system`]: the wrapper model: time, faults, the judge; [`lock_model`]: it as
//!   Stateright's `Model`, with the properties and the Explorer's views.
//! - [`properties`]: invariants and their `Sometimes` witnesses.
//! - [`symmetry`]: representatives for server and client symmetry.
//! - [`check`]: deciding a cell; counting states; shortest counterexamples.
//! - [`npc`]: the default matrix with each hazard lifted alone, and the NPC table.
//! - [`trace`], [`view`], [`report`]: timelines, the Explorer's views, the matrix and JSON.
//! - [`cli`]: the `check` command line, parsed and checked apart from running it.
//! - [`advise`]: `check advise`, a deployment in real units judged by the proofs and the model.
//! - [`explore`]: serving the Explorer on a counterexample.
//! - [`audit`]: `check history`, the judge over recorded histories.
//! - [`bench`](mod@bench): `check bench`, the checker's own performance.
//! - [`walk`]: random walks that find the same paths on every run.
//! - [`output`]: writing to stdout without panicking.

pub mod actor;
pub mod advise;
pub mod audit;
pub mod bench;
pub mod check;
pub mod cli;
pub mod client;
pub mod etcd;
pub mod explore;
pub mod lock_model;
pub mod msg;
pub mod npc;
pub mod output;
pub mod properties;
pub mod report;
pub mod resource;
pub mod scenario;
pub mod server;
pub mod settled;
pub mod setup;
pub mod symmetry;
pub mod system;
pub mod trace;
pub mod validate;
pub mod view;
pub mod walk;
