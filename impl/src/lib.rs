//! A Redlock client whose protocol is model-checked, with fencing and a checked contract.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // Three throwaway redis-servers on free loopback ports, killed at the end.
//! # struct Server(std::process::Child, u16);
//! # impl Drop for Server { fn drop(&mut self) { let _ = self.0.kill(); let _ = self.0.wait(); } }
//! # let start = || -> std::io::Result<Server> {
//! #     let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
//! #     let child = std::process::Command::new("redis-server")
//! #         .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
//! #         .stdout(std::process::Stdio::null()).spawn()?;
//! #     while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
//! #         std::thread::sleep(std::time::Duration::from_millis(5));
//! #     }
//! #     Ok(Server(child, port))
//! # };
//! # let servers = [start()?, start()?, start()?];
//! # let urls: Vec<String> = servers.iter().map(|s| format!("redis://127.0.0.1:{}", s.1)).collect();
//! use redlock_client::Client;
//! use std::time::Duration;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! // Three independent Redis servers (no replication between them); `urls` are redis:// or
//! // rediss:// URLs, with `:password@` for AUTH.
//! let client = Client::builder(urls).ttl(Duration::from_secs(5)).build()?;
//!
//! // A guard: held until released, dropped, or its validity runs out.
//! let guard = client.acquire("invoice-42").await?;
//! assert!(guard.remaining() <= guard.validity());
//! guard.release().await?;
//!
//! // Or let the client extend it every TTL/3 while the work runs; if the lock is lost, the
//! // work is stopped at once and the result says so.
//! let total = client
//!     .with_lock("invoice-42", |lock| async move {
//!         assert!(!lock.is_lost());
//!         40 + 2
//!     })
//!     .await?;
//! assert_eq!(total, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! Two folders, and the import between them goes one way: `client/` uses `sans_io/`, never
//! the reverse. The core's modules are re-exported at the crate root (`redlock_client::protocol`).
//!
//! The sans-IO core, `sans_io/` (no feature needed):
//! - [`time`]: the two kinds of time, real time and a node's local clock, as distinct types.
//! - [`params`]: the protocol's parameters, validated up front.
//! - [`protocol`]: the sans-IO Redlock state machine: the only place where the rules live.
//!   The async client and the model's client actors both drive it.
//! - [`lease_lock`]: the sans-IO lock on a lease in a linearizable store (etcd), its token the
//!   key's create revision.
//! - [`event`]: one vocabulary of observable steps, and the NDJSON history record.
//! - [`observe`]: the one observer that turns a core step into events, for every driver.
//! - [`judge`]: the invariants, written once, as a fold over events.
//! - [`history`]: the streaming auditor of recorded histories (`check history` runs it).
//! - [`scripts`]: the Lua the client runs on the lock servers, as text.
//!
//! The async client, `client/` (feature `client`, on by default: tokio, redis-rs, rustls,
//! tracing):
//! - [`Client`] (`redlock.rs`), [`ClientBuilder`] (`config.rs`): configuration checked up
//!   front into one `Config` that every lock of the client reads, one [`ConfigError`] per
//!   mistake.
//! - `lock.rs`: the driver of one lock, and the only one that feeds its core: with the client's
//!   monotonic clock; it carries out the outputs, draws the retry jitter, records and traces.
//! - `lane.rs`: the requests of one lock to each node, sent in order (see *Cancellation*) and
//!   polled in place by the task that drives the lock (no task or channel per lock or node);
//!   pure I/O, knowing of the lock only its identity (`ident.rs`: key, value, recorder, span),
//!   so a request goes one way, lock → core → lanes → nodes, and answers come back to the lock;
//!   `node.rs`: one lazily opened multiplexed connection per server; `commands.rs`: `SET NX PX`
//!   and the Lua scripts, with keys and values as `KEYS`/`ARGV`, called by `EVALSHA`.
//! - [`Guard`] (`guard.rs`) and [`Client::with_lock`] with its [`LockContext`]
//!   (`keep_alive.rs`): the two ways to hold a lock; `holding.rs`: what a held lock offers
//!   whatever the service (its token, its validity, fenced reads and writes), so keep-alive and
//!   fencing are written once for Redis and etcd.
//! - `etcd` (feature `etcd`: etcd-client): the lease lock on etcd, its token the key's create
//!   revision; `etcd::EtcdClient`, `etcd::EtcdGuard`.
//! - [`fence`]: the [`FencedResource`](fence::FencedResource) trait and its Redis and
//!   PostgreSQL (feature `postgres`) adapters.
//! - `fault` (feature `fault-injection`, off by default): a pause hook before each fenced read
//!   and write, for the conformance harness.
//! - [`recorder`]: the optional NDJSON history recorder; [`clock`]: the clocks it and the driver
//!   read; `value.rs`: lock values, 20 bytes from a CSPRNG seeded by the OS, hex encoded.
//!
//! With default features off, the core, the events and the judge need nothing but `std`,
//! `serde` and `rand`, and the crate compiles without tokio or redis (the model depends on it
//! that way).
//!
//! # Guarantees
//!
//! Every claim below is a cell of the model's matrix (`cargo run --bin check`), named by its
//! scenario. *Sync* timing bounds message delay, process pauses and clock rates (within the
//! drift allowance) and allows no clock jump; *async* lifts every bound.
//!
//! | claim | sync | async | scenarios |
//! |---|---|---|---|
//! | At most one holder at a time (N independent servers, majority quorum, validity = TTL − elapsed − drift) | holds | violated | `redlock`, `redlock-n3` |
//! | … when a server's clock jumps (sync: the jump is bounded by the drift) | holds | violated | `redlock-clock-jump` |
//! | … when replies arrive after the keys expired (the elapsed-time check, measured from before the first request) | holds | violated | `redlock-slow-replies` |
//! | … when a server restarts without persistence | violated | violated | `redlock-restart-no-fsync` |
//! | … when it restarts empty but stays away for a TTL, or persists with `appendfsync always` | holds | violated | `redlock-delayed-restart`, `redlock-fsync-restart` |
//! | … with one primary and an asynchronous replica that is promoted | violated | violated | `failover-async-replica` |
//! | … when a server evicts the lock key under memory pressure (`maxmemory` with a `volatile-*` or `allkeys-*` policy; [`Client::warnings`] says so on connect) | violated | violated | `redlock-eviction`, `single-eviction` |
//! | … while [`Client::with_lock`] extends the lock every TTL/3 | holds | violated | `redlock-extend`, `redlock-extend-n3` |
//! | A holder that a majority tells "the key is not yours" (expired early, evicted, deleted, another's) reports the loss at once, before any further step | holds | holds | `single-eviction` (and the core's tests) |
//! | A release never deletes another client's key (Lua compare-and-delete; never `DEL`, never `GET` then `DEL`) | holds | holds | `single-node` (vs `single-plain-del`, `single-get-then-del`) |
//! | A lock never stays stuck (the TTL is set atomically with the key; never `SETNX` then `EXPIRE`) | holds | holds | `single-node` (vs `single-setnx-then-expire`) |
//! | A paused holder never overwrites a newer holder's work, **without** fencing | holds | violated | `pause-unfenced`, `watchdog-pause` |
//! | … **with** a single-counter token checked atomically by the resource ([`Fencing::Counter`] + [`fence`]) | holds | holds | `pause-fenced` |
//! | … with a resource that checks the token, then writes in a second step | holds | violated | `fence-check-then-write` |
//! | … with the lock's random value as a check-and-set token (no increment lost, but order not kept) | holds | violated | `unique-token-cas` |
//! | … with per-node `INCR` tokens, the client taking the largest (Redlock, N > 1) | not offered | not offered | `redlock-incr-tokens` |
//! | … with a single counter that restarts empty (no fsync) or fails over, the resource letting an equal token through | violated | violated | `fence-counter-restart` |
//! | … the same, the resource letting an equal token through only from the holder that set it | holds | holds | `fence-counter-restart-holder` |
//! | etcd (`etcd`): at most one holder while no holder outlives its lease | holds | violated | `etcd-lease` |
//! | etcd: a paused holder never overwrites a newer holder's work, the key's create revision as the token | holds | holds | `etcd-lease-revision` |
//!
//! What follows for you:
//! - Mutual exclusion rests on timing. The default drift allowance (1% of the TTL + 2 ms) is
//!   safe while every clock's rate stays within about 0.5% of real time: the client's window
//!   ends at most `(ttl − drift) / (1 − ρ)` of real time after it started, a key lives at least
//!   `ttl / (1 + ρ)` after it was set, which was after the start; so `drift ≥ 2ρ·ttl / (1 + ρ)`
//!   suffices, and `2ρ / (1 + ρ) ≤ 0.01` gives `ρ ≤ 0.5%` (see `proofs/`). Clock jumps (NTP
//!   steps, manual changes), servers that restart without persistence, and failovers break it:
//!   run the lock servers without replicas, with `appendfsync always` or a restart delay of a
//!   TTL.
//! - A process pause (GC, SIGSTOP, a swapped-out VM) can outlast any validity. Only a fencing
//!   token checked by the resource protects against it, and only a single linearizable counter
//!   gives honest tokens. Redlock with N > 1 has none: per-node counters can hand two holders
//!   equal tokens and can go backwards (`redlock-incr-tokens`; Kleppmann: "Redlock has no way to
//!   generate fencing tokens"). So [`Fencing::Counter`] needs a single server, and a failover of
//!   that server can repeat tokens (`failover-async-replica`).
//! - Background extension does not help against pauses (a pause stops the extender too,
//!   `watchdog-pause`), but it never loses a lock silently. When a majority of servers answers
//!   an extension definitively that the key is not ours (it expired early, was evicted or
//!   deleted, or another client's key is there), the lock is lost at once, whatever its validity
//!   says: [`ExtendError::Refused`], [`LockError::Lost`] with [`LossReason::Refused`], and the
//!   `lost()` signal, within one round trip of the refusals. Timeouts and connection errors say
//!   nothing definite, so they leave the validity standing; then the loss signal fires no later
//!   than one extension interval after the client runs past its validity (a pause during which
//!   nothing runs delays it only until the process runs again). `docs/design.md` gives the
//!   reasons.
//! - For a fence that no single failure breaks, take the token from etcd (`etcd`): the create
//!   revision is replicated by Raft and only grows, so no member's crash, restart or a leader
//!   change repeats it. The etcd lock itself is a lease and rests on timing like any other
//!   (Jepsen's etcd 3.4.3 analysis shows a paused holder outliving its lease); its token is what
//!   makes the resource safe.
//! - Errors say what each node answered ([`NodeOutcomes`]: refused, timed out, connection
//!   refused, authentication or TLS failed, a server error with its text), and their `Display`
//!   names the dominant cause; [`AcquireError::is_contention`] tells a busy lock from failing
//!   servers.
//! - An even number of servers is allowed, but tolerates no more failures than one server
//!   fewer (4 servers: quorum 3, one failure): [`Client::warnings`] says so, as it says when a
//!   server's `maxmemory-policy` may evict lock keys (read on the first connection; where
//!   `CONFIG GET` is disabled, it says that it cannot tell).
//!
//! # Cancellation and shutdown
//!
//! Dropping an acquire future, a [`Guard`] or a `with_lock` future releases the lock on every
//! server that may hold the key, including those that have not answered yet (a lost reply may
//! hide a success). Each lock sends its requests to one server in order, one after the other,
//! on one connection: the release of a server goes out only after that server's acquire was
//! answered or abandoned (after the I/O timeout, which defaults to the TTL), so the server
//! processes it after the acquire and no orphan key is left behind (`docs/design.md`). Releases
//! from `Drop` run on a task spawned on the runtime the lock was acquired on; if the runtime
//! shuts down before they run, they are lost and the keys expire after their TTL. Before
//! shutting down, release explicitly with [`Guard::release`] (which returns once a majority
//! has confirmed; a late node's release then runs in the background like a drop's) or let
//! `with_lock` return.
//! One case is not covered: a request whose connection breaks (reset or closed) while a server
//! is paused may be read by that server after a release sent on a new connection; the key then
//! expires after its TTL.
//!
//! # Observability
//!
//! `tracing` spans (`lock`, with the resource and the client id) and events: each attempt,
//! each node's answer and latency (`debug`), the grant with its validity and token (`info`),
//! each extension, a failed extension and a loss (`warn`). The optional [`Recorder`] writes the
//! same steps as the shared NDJSON history, for `cargo run --bin check -- history <file>`.
//!
//! # Compared with other clients
//!
//! The peers' defaults, from their documentation and source at the time of writing:
//!
//! | | this crate | go-redsync v4 | node-redlock v5 | Redisson `RLock` | rslock | redlock (crate) |
//! |---|---|---|---|---|---|---|
//! | algorithm | Redlock, N ≥ 1 | Redlock | Redlock | one primary (+ replicas) | Redlock | Redlock |
//! | TTL | 10 s | 8 s | per call | 30 s lease (watchdog) | per call | per call |
//! | drift allowance | 1% + 2 ms | 1% + 2 ms | 1% + 2 ms | — | 1% + 2 ms | 1% + 2 ms |
//! | per-node timeout | 50 ms | 5% of TTL | the connection's | the connection's | the connection's | the connection's |
//! | attempts | `retries` 3 (4 attempts), 100–300 ms apart | `tries` 32, 50–250 ms apart | `retryCount` 10, 200 ms + up to 100 ms | waits on pub/sub | `retry_count` 3, 200 ms | `retry_count` 3, 200 ms |
//! | lock value | 20 B, CSPRNG (ChaCha12, OS-seeded), hex | 16 B, crypto/rand, base64 | 16 B, crypto, hex | UUID + thread id | 20 random bytes | 20 random bytes |
//! | auto-extension | `with_lock`, every TTL/3 | manual `Extend` | `using`, 500 ms before expiry | watchdog, every 10 s | manual `extend` | none |
//! | a lost lock is reported | at once when a majority says the key is gone; else one interval after validity: `lost()`, work dropped, `LockError::Lost(reason)` | on the next call | `AbortSignal` in `using` | never (silent) | on the next call | on the next call |
//! | why an acquire failed | each node's outcome (contention, timeout, refused connection, AUTH, TLS, server error) | per-node errors | the last error | an exception | "no quorum" | "no quorum" |
//! | extending an expired lock | error | error | error | — | error | — |
//! | fencing token | single-server counter, and resource adapters that check it | none | none | `RFencedLock` (one primary's counter) | none | none |
//! | a release returns | once a majority confirmed (a slow node does not delay it) | after every node answered | at a quorum | after the primary answered | after every node answered | after each node in turn |
//! | dropped future or guard | releases everywhere, after each node's acquire | — | — | — | — | — |
//! | audit of production runs | NDJSON history + the model's judge | — | — | — | — | — |
//!
//! Every default can be changed with [`ClientBuilder`]; [`ClientBuilder::build`] refuses the
//! combinations that cannot work.

mod sans_io;
pub use sans_io::{event, history, judge, lease_lock, observe, params, protocol, scripts, time};

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "etcd")]
pub use client::etcd;
#[cfg(feature = "fault-injection")]
pub use client::fault;
#[cfg(feature = "client")]
pub use client::{clock, fence, recorder};

#[cfg(feature = "client")]
pub use crate::{
    client::{
        config::{ClientBuilder, ConfigError, Fencing, Warning, FENCE_KEY_SUFFIX},
        error::{AcquireError, ExtendError, FencedError, LockError, LossReason, NodeOutcome, NodeOutcomes, ReleaseError, Released},
        guard::Guard,
        keep_alive::LockContext,
        recorder::Recorder,
        redlock::Client,
    },
    event::ClientId,
};
/// The etcd-client version this crate is built with (for a raw connection beside the lock).
#[cfg(feature = "etcd")]
pub use etcd_client;
/// The redis-rs version this crate is built with (for [`fence::RedisFenced`] connections).
#[cfg(feature = "client")]
pub use redis;
/// The tokio-postgres version this crate is built with (for [`fence::PostgresFenced`]).
#[cfg(feature = "postgres")]
pub use tokio_postgres;
/// The cancellation token type of [`LockContext::lost_token`].
#[cfg(feature = "client")]
pub use tokio_util::sync::CancellationToken;
