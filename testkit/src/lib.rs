//! Real servers for the client's tests, its bench and the conformance harness: `redis-server`,
//! PostgreSQL, etcd and ZooKeeper processes on ephemeral loopback ports, each in its own temporary directory,
//! stopped and cleaned up on success, failure, panic and Ctrl-C.
//!
//! # Layout
//! - [`process`]: child processes that die with their handle (and with this process), the
//!   per-process root directory, the Ctrl-C watcher, free ports;
//! - [`redis_server`]: one `redis-server`, with persistence, replication, password or TLS, that can
//!   be paused, killed and restarted;
//! - [`sentinel`]: three Redis Sentinels that detect a primary's death and promote its replica;
//! - [`postgres`]: one PostgreSQL server;
//! - [`ensemble`]: what the harness does to a replicated store's servers, whichever store;
//! - [`etcd`]: an etcd cluster (one member or three) that can lose, pause and regain members;
//! - [`zookeeper`]: a ZooKeeper ensemble (one server or three), likewise.

pub mod ensemble;
pub mod etcd;
pub mod postgres;
pub mod process;
pub mod redis_server;
pub mod sentinel;
pub mod zookeeper;

pub use ensemble::Ensemble;
pub use etcd::EtcdCluster;
pub use postgres::Postgres;
pub use redis_server::{Config, Persistence, RedisServer, Tls};
pub use sentinel::Sentinels;
pub use zookeeper::ZooKeeper;
