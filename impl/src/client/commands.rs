//! What the client asks a lock server, and how it reads the answers: `SET key value NX PX ttl`
//! and the three Lua scripts of [`scripts`]. Keys and values always travel as
//! `KEYS` and `ARGV`, never inside the script text; scripts run by `EVALSHA`, loaded on the first
//! `NOSCRIPT`.

use crate::client::value::LockValue;
use crate::protocol::Reply;
use crate::scripts;
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Script};
use std::sync::LazyLock;

static ACQUIRE_FENCED: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::ACQUIRE_FENCED));
static EXTEND: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::EXTEND));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::RELEASE));

/// What the requests of one lock carry.
#[derive(Debug)]
pub(crate) struct LockKey {
    pub(crate) resource: String,
    /// The counter's key, where the acquire script increments one.
    pub(crate) fence_key: Option<String>,
    pub(crate) value: LockValue,
    pub(crate) ttl_ms: u64,
}

/// One request to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Job {
    Acquire { round: u32 },
    Extend { round: u32 },
    Release,
}

/// A node's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The answer to an acquire or an extension.
    Round(Reply),
    /// The answer to a release: whether our key was there to delete.
    Released { deleted: bool },
}

/// Sends `job` on `conn` and reads the answer.
pub(crate) async fn send(conn: &mut MultiplexedConnection, job: Job, key: &LockKey) -> RedisResult<Outcome> {
    let value = key.value.as_str();
    match job {
        Job::Acquire { .. } => match &key.fence_key {
            None => {
                let set: Option<String> =
                    redis::cmd("SET").arg(&key.resource).arg(value).arg("NX").arg("PX").arg(key.ttl_ms).query_async(conn).await?;
                Ok(Outcome::Round(match set {
                    Some(_) => Reply::Ok { token: None },
                    None => Reply::Refused,
                }))
            }
            Some(fence_key) => {
                let token: Option<u64> =
                    ACQUIRE_FENCED.key(&key.resource).key(fence_key).arg(value).arg(key.ttl_ms).invoke_async(conn).await?;
                Ok(Outcome::Round(match token {
                    Some(token) => Reply::Ok { token: Some(token) },
                    None => Reply::Refused,
                }))
            }
        },
        Job::Extend { .. } => {
            let renewed: i64 = EXTEND.key(&key.resource).arg(value).arg(key.ttl_ms).invoke_async(conn).await?;
            Ok(Outcome::Round(if renewed == 1 { Reply::Ok { token: None } } else { Reply::Refused }))
        }
        Job::Release => {
            let deleted: i64 = RELEASE.key(&key.resource).arg(value).invoke_async(conn).await?;
            Ok(Outcome::Released { deleted: deleted == 1 })
        }
    }
}
