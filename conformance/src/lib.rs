//! Conformance of the real `redlock-client` under real faults.
//!
//! The model (`redlock-model`) claims which properties hold under which timing assumptions and
//! shows counterexamples; this crate checks those claims against the real crate, real
//! `redis-server`, etcd and PostgreSQL processes, and real faults, with the very judge the model uses
//! (`redlock_client::history::Auditor`):
//! - [`replay`]: a model counterexample, translated into a real schedule of operations and
//!   faults, driven step by step through proxies that deliver each message when the model
//!   does; the real history must violate the same property;
//! - [`soak`]: random configurations and fault schedules, each run judged, each violation
//!   sorted by whether the model calls that configuration safe or unsafe, and every lost lock
//!   checked for a timely report.
//!
//! The harness's parts, one concern each:
//! - [`process`], [`redis_server`], [`postgres`]: the real servers, stopped and cleaned up
//!   on success, failure, panic and Ctrl-C (from `redlock-testkit`, which the client's own
//!   tests and bench use too);
//! - [`resp`], [`proxy`]: the loopback proxy through which every client reaches every node;
//! - [`cluster`]: a run's Redis lock servers, its clients' links, and the faults on them;
//!   [`ensemble`]: the same for a replicated store's servers (etcd, ZooKeeper);
//!   [`postgres_links`]: the clients' links to the soak's PostgreSQL server;
//! - [`zookeeper_lock`], [`postgres_lock`]: ZooKeeper's lock recipe and PostgreSQL's advisory
//!   lock (test tooling: the crate ships neither), recorded in the judge's vocabulary, their
//!   holders at the resource in [`holder`];
//! - [`clock_jump`]: the emulated forward clock jump;
//! - [`client_thread`]: one client per OS thread, and the pause gate behind its pause hook;
//! - [`pitfall`], [`registers`]: the pitfall clients and the unfenced and check-then-write
//!   resources that the shipped crate leaves out on purpose (test tooling);
//! - [`history`]: a run's records, merged by stamp, saved and audited;
//! - [`safety_matrix`]: the README's lock safety matrix, each lock's model verdicts beside its
//!   real runs.
//!
//! None of this is a dependency of the shipped crate: it only enables the crate's
//! `fault-injection` feature (a pause hook) for itself.

pub mod client_thread;
pub mod clock_jump;
pub mod cluster;
pub mod ensemble;
pub mod history;
pub mod holder;
pub mod pitfall;
pub mod postgres_links;
pub mod postgres_lock;
pub mod proxy;
pub mod registers;
pub mod replay;
pub mod resp;
pub mod safety_matrix;
pub mod soak;
pub mod zookeeper_lock;

pub use redlock_testkit::{postgres, process, redis_server, zookeeper};
