//! A fenced register in a Redis hash (`value`, `fence` and `holder` fields), checked by Lua
//! scripts.
//!
//! Tokens and values are decimal strings compared by length, then by digits, so that they are
//! exact over the whole `u64` range (Lua numbers are doubles).

use super::{FencedResource, Read, Write};
use redis::aio::MultiplexedConnection;
use redis::Script;
use std::fmt;
use std::sync::LazyLock;

const LESS: &str = "local function less(a, b) \
                        if #a ~= #b then return #a < #b end \
                        return a < b \
                    end ";

static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{LESS} \
         local fence = redis.call('HGET', KEYS[1], 'fence') or '0' \
         local holder = redis.call('HGET', KEYS[1], 'holder') or '' \
         if less(fence, ARGV[1]) then \
             redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'holder', ARGV[2]) \
             fence = ARGV[1] \
             holder = ARGV[2] \
         end \
         return {{redis.call('HGET', KEYS[1], 'value') or '0', fence, holder}}"
    ))
});

static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{LESS} \
         local fence = redis.call('HGET', KEYS[1], 'fence') or '0' \
         local holder = redis.call('HGET', KEYS[1], 'holder') or '' \
         if less(ARGV[1], fence) then return {{0, fence}} end \
         if ARGV[1] == fence and holder ~= '' and holder ~= ARGV[2] then return {{0, fence}} end \
         redis.call('HSET', KEYS[1], 'value', ARGV[3], 'fence', ARGV[1], 'holder', ARGV[2]) \
         return {{1, ARGV[1]}}"
    ))
});

/// A fenced `u64` register stored in the Redis hash at `key`.
#[derive(Clone)]
pub struct RedisFenced {
    conn: MultiplexedConnection,
    key: String,
}

impl RedisFenced {
    /// The register at `key`, reached through `conn` (any Redis: usually not a lock server).
    pub fn new(conn: MultiplexedConnection, key: impl Into<String>) -> RedisFenced {
        RedisFenced { conn, key: key.into() }
    }
}

/// A Redis failure, or a hash that does not hold decimal numbers.
#[derive(Debug)]
pub enum RedisFenceError {
    Redis(redis::RedisError),
    Corrupt { key: String, found: String },
}

impl fmt::Display for RedisFenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisFenceError::Redis(e) => e.fmt(f),
            RedisFenceError::Corrupt { key, found } => {
                write!(f, "the fenced register {key:?} holds {found:?}, not a number")
            }
        }
    }
}

impl std::error::Error for RedisFenceError {}

impl RedisFenced {
    fn number(&self, text: &str) -> Result<u64, RedisFenceError> {
        text.parse().map_err(|_| RedisFenceError::Corrupt { key: self.key.clone(), found: text.into() })
    }

    /// The register as it is, without presenting a token (the fence is left alone).
    pub async fn peek(&self) -> Result<Read, RedisFenceError> {
        self.read(0, "").await
    }

    /// Reads the value, raising the fence to (`token`, `holder`) if `token` is larger (see
    /// [`FencedResource::read`]).
    pub async fn read(&self, token: u64, holder: &str) -> Result<Read, RedisFenceError> {
        let (value, fence, holder): (String, String, String) = READ
            .key(&self.key)
            .arg(token.to_string())
            .arg(holder)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(RedisFenceError::Redis)?;
        Ok(Read { value: self.number(&value)?, fence: self.number(&fence)?, holder })
    }

    /// Writes `value` if the fence lets (`token`, `holder`) through (see
    /// [`FencedResource::write`]).
    pub async fn write(&self, token: u64, holder: &str, value: u64) -> Result<Write, RedisFenceError> {
        let (applied, fence): (i64, String) = WRITE
            .key(&self.key)
            .arg(token.to_string())
            .arg(holder)
            .arg(value.to_string())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(RedisFenceError::Redis)?;
        Ok(if applied == 1 { Write::Applied } else { Write::Rejected { fence: self.number(&fence)? } })
    }
}

impl FencedResource for RedisFenced {
    type Error = RedisFenceError;

    async fn read(&self, token: u64, holder: &str) -> Result<Read, RedisFenceError> {
        RedisFenced::read(self, token, holder).await
    }

    async fn write(&self, token: u64, holder: &str, value: u64) -> Result<Write, RedisFenceError> {
        RedisFenced::write(self, token, holder, value).await
    }
}
