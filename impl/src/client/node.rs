//! One lock server: its address and one lazily opened multiplexed connection, shared by every
//! lock of a client.
//!
//! The connection opens on first use and is kept while it works; a request that times out
//! leaves it open (its answer is read and dropped when it comes), so a later request on the
//! same connection is still processed after it. Only an error that breaks the connection
//! (reset, closed, refused) makes the next request reconnect.

use crate::client::commands::{self, Job, LockKey, Outcome};
use crate::client::config::Warning;
use crate::client::config::Warnings;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Requests that may wait in a connection's queue before its task takes them: far more than a
/// client has in flight in practice, so that a request goes on the queue when first polled.
const PIPELINE_BUFFER: usize = 4096;

/// An open connection with its generation.
pub(crate) type Open = (u64, MultiplexedConnection);

pub(crate) struct Node {
    client: redis::Client,
    config: AsyncConnectionConfig,
    /// The connection with its generation, so that a failure seen on an old connection does
    /// not throw away a newer one. Read on every request, held only to clone or replace it.
    conn: Mutex<(u64, Option<MultiplexedConnection>)>,
    /// Held while connecting, so that one connection is opened at a time.
    connecting: tokio::sync::Mutex<()>,
    /// This node's index, and where to say what it showed (its eviction policy, once).
    index: usize,
    warnings: Arc<Warnings>,
    eviction_checked: AtomicBool,
}

impl Node {
    pub(crate) fn new(client: redis::Client, io_timeout: Duration, index: usize, warnings: Arc<Warnings>) -> Node {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(io_timeout))
            .set_response_timeout(Some(io_timeout))
            .set_pipeline_buffer_size(PIPELINE_BUFFER);
        Node {
            client,
            config,
            conn: Mutex::new((0, None)),
            connecting: tokio::sync::Mutex::new(()),
            index,
            warnings,
            eviction_checked: AtomicBool::new(false),
        }
    }

    fn slot(&self) -> MutexGuard<'_, (u64, Option<MultiplexedConnection>)> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends one request on `open` (the connection [`Node::open`] returned when the request
    /// was made), or on a new connection if there was none.
    pub(crate) async fn send(&self, open: Option<Open>, job: Job, key: &LockKey) -> RedisResult<Outcome> {
        let (generation, mut conn) = match open {
            Some(open) => open,
            // Boxed: opening a connection (TCP, TLS, handshake) is rare and its future is large;
            // inline, it would make the future of every request as large.
            None => Box::pin(self.connect()).await?,
        };
        let result = commands::send(&mut conn, job, key).await;
        if let Err(e) = &result {
            if e.is_unrecoverable_error() {
                let mut slot = self.slot();
                if slot.0 == generation {
                    slot.1 = None;
                }
            }
        }
        result
    }

    /// The open connection, if any: a request on it goes on its queue when first polled.
    pub(crate) fn open(&self) -> Option<Open> {
        let slot = self.slot();
        slot.1.as_ref().map(|conn| (slot.0, conn.clone()))
    }

    async fn connect(&self) -> RedisResult<Open> {
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(open) = self.open() {
            return Ok(open);
        }
        let conn = self.client.get_multiplexed_async_connection_with_config(&self.config).await?;
        if !self.eviction_checked.swap(true, Ordering::Relaxed) {
            self.check_eviction(conn.clone());
        }
        let mut slot = self.slot();
        slot.0 += 1;
        slot.1 = Some(conn.clone());
        Ok((slot.0, conn))
    }

    /// Asks the server, once and in the background, whether it may evict lock keys: keys with
    /// a TTL go under `volatile-*` and `allkeys-*` policies once `maxmemory` is reached. One
    /// command on the connection just opened, before the lock's first request.
    fn check_eviction(&self, mut conn: MultiplexedConnection) {
        let (node, warnings) = (self.index, self.warnings.clone());
        tokio::spawn(async move {
            let config: RedisResult<Vec<String>> = redis::cmd("CONFIG").arg("GET").arg("maxmemory*").query_async(&mut conn).await;
            match config {
                Ok(pairs) => {
                    let value = |name: &str| pairs.chunks(2).find(|p| p[0] == name).map(|p| p[1].clone());
                    let policy = value("maxmemory-policy").unwrap_or_default();
                    let maxmemory = value("maxmemory").and_then(|v| v.parse().ok()).unwrap_or(0);
                    if maxmemory > 0 && policy != "noeviction" && !policy.is_empty() {
                        warnings.add(Warning::EvictionPossible { node, policy, maxmemory });
                    }
                }
                // A server that cannot be reached says nothing of its policy; one that refuses
                // CONFIG (renamed, or an ACL without it) is said so once.
                Err(e) if e.kind() == redis::ErrorKind::Io || e.is_timeout() || e.is_connection_refusal() => {}
                Err(e) => warnings.add(Warning::EvictionUnknown { node, reason: e.to_string() }),
            }
        });
    }
}
