//! A forward jump of one server's clock, emulated openly.
//!
//! libfaketime crashes Debian's (jemalloc) `redis-server`, so the jump is emulated: one Lua
//! script, atomic on the server, shortens every key's remaining time to live by the jump,
//! deleting the keys whose time runs out. That is exactly what a forward jump of the server's
//! clock does to its keys: each expires at the same reading of its clock, which the clock now
//! reaches `by` earlier in real time.
//!
//! What the emulation covers: the expiry of every key that carries a TTL at the instant of the
//! jump (lock keys). Keys without a TTL (fencing counters) are untouched, as by a real jump.
//!
//! What it does not cover: the server's other uses of its clock. `TIME`, `EXPIRETIME` and
//! `PEXPIRETIME` still read the unjumped clock, and so do the replication and latency
//! bookkeeping and client idle times. A key set after the jump expires after its full TTL,
//! which a real one-time forward jump would do too (its deadline is computed from the jumped
//! clock); the emulation cannot show a clock that keeps running fast, nor a backward jump,
//! nor a jump in the middle of a command.

use redlock_client::redis::{self, aio::MultiplexedConnection};
use std::sync::LazyLock;
use std::time::Duration;

static JUMP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "local shortened = 0 \
         for _, key in ipairs(redis.call('KEYS', '*')) do \
             local left = redis.call('PTTL', key) \
             if left > 0 then \
                 if left <= tonumber(ARGV[1]) then \
                     redis.call('DEL', key) \
                 else \
                     redis.call('PEXPIRE', key, left - tonumber(ARGV[1])) \
                 end \
                 shortened = shortened + 1 \
             end \
         end \
         return shortened",
    )
});

/// Jumps the clock of the server behind `conn` forward by `by`; returns how many keys' lives
/// were shortened.
pub async fn jump_forward(conn: &mut MultiplexedConnection, by: Duration) -> redis::RedisResult<u64> {
    JUMP.arg(by.as_millis() as u64).invoke_async(conn).await
}
