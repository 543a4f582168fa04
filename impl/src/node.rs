//! One lock server: its address and one lazily opened multiplexed connection, shared by every
//! lock of a client.
//!
//! The connection opens on first use and is kept while it works; a request that times out
//! leaves it open (its answer is read and dropped when it comes), so a later request on the
//! same connection is still processed after it. Only an error that breaks the connection
//! (reset, closed, refused) makes the next request reconnect.

use crate::commands::{self, Job, LockKey, Outcome};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use std::time::Duration;
use tokio::sync::Mutex;

pub(crate) struct Node {
    client: redis::Client,
    config: AsyncConnectionConfig,
    /// The connection with its generation, so that a failure seen on an old connection does
    /// not throw away a newer one.
    conn: Mutex<(u64, Option<MultiplexedConnection>)>,
}

impl Node {
    pub(crate) fn new(client: redis::Client, io_timeout: Duration) -> Node {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(io_timeout))
            .set_response_timeout(Some(io_timeout));
        Node { client, config, conn: Mutex::new((0, None)) }
    }

    /// Sends one request, connecting first if needed.
    pub(crate) async fn send(&self, job: Job, key: &LockKey) -> RedisResult<Outcome> {
        let (generation, mut conn) = self.connection().await?;
        let result = commands::send(&mut conn, job, key).await;
        if let Err(e) = &result {
            if e.is_unrecoverable_error() {
                let mut slot = self.conn.lock().await;
                if slot.0 == generation {
                    slot.1 = None;
                }
            }
        }
        result
    }

    async fn connection(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = &slot.1 {
            return Ok((slot.0, conn.clone()));
        }
        let conn = self.client.get_multiplexed_async_connection_with_config(&self.config).await?;
        slot.0 += 1;
        slot.1 = Some(conn.clone());
        Ok((slot.0, conn))
    }
}
