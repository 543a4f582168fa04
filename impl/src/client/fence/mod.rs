//! The resource side of fencing: a store that refuses writes from stale lock holders.
//!
//! A fencing token only protects a resource that checks it, atomically with the write: the
//! model's fenced resource (scenario `pause-fenced`). A [`FencedResource`] is a `u64` register
//! that keeps the largest token it has seen, *and the holder that presented it* (the fence):
//! - a write applies only if its token is above the fence, or equal to it and from the fence's
//!   own holder, and then becomes the fence, in one atomic step (checking first and writing
//!   later is unsafe: `fence-check-then-write`);
//! - a read presents the token too and raises the fence to it when it is larger, so that a
//!   holder that has read can no longer be overtaken by an older one.
//!
//! Why the holder: a token source can repeat a token. A single counter that restarts without
//! fsync, or fails over to a replica that missed the latest increments, hands out 1, 2, 3 again
//! (`fence-counter-restart`, `redisson-fenced-failover`). A fence that let any equal token
//! write would then apply a paused older holder's write after a newer holder's write with the
//! same token (the model's counterexample, and a real run). A holder is the lock's own random
//! value, unique to one acquisition: with it, an equal token opens the fence only to the holder
//! that set it (`fence-counter-restart-holder` holds). The cost is liveness, not safety: new
//! holders whose repeated tokens sit below the fence are refused until tokens pass it again.
//!
//! Use it through a lock ([`Guard::read`](crate::Guard::read),
//! [`Guard::write`](crate::Guard::write), or the same on a
//! [`LockContext`](crate::LockContext)), which presents the lock's token and records the
//! outcome in the history. Adapters: [`RedisFenced`] and, with the `postgres` feature,
//! `PostgresFenced`.

mod redis;
pub use self::redis::{RedisFenceError, RedisFenced};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use self::postgres::{PostgresFenceError, PostgresFenced};

use std::future::Future;

/// What a fenced read returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The register's value (0 until the first write).
    pub value: u64,
    /// The largest token the resource has seen, after this read.
    pub fence: u64,
    /// The holder that presented it ("" before the first token).
    pub holder: String,
}

impl Read {
    /// A write with `token` from `holder` would be rejected: a newer token was seen, or this
    /// token from another holder.
    pub fn is_stale(&self, token: u64, holder: &str) -> bool {
        self.fence > token || (self.fence == token && !self.holder.is_empty() && self.holder != holder)
    }
}

/// What a fenced write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// The value was stored with its token.
    Applied,
    /// A newer token had been seen: nothing was written.
    Rejected { fence: u64 },
}

/// A register that orders writes by fencing token and holder. See the module docs.
///
/// Locks call it for you ([`Guard::read`](crate::Guard::read) and
/// [`Guard::write`](crate::Guard::write) pass the lock's token and value); the adapters also
/// have inherent methods, so a plain read needs no trait in scope.
pub trait FencedResource: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads the value, raising the fence to (`token`, `holder`) if `token` is larger.
    fn read(&self, token: u64, holder: &str) -> impl Future<Output = Result<Read, Self::Error>> + Send;

    /// Stores `value`, and (`token`, `holder`) as the fence, if `token` is above the fence or
    /// equal to it and `holder` is the fence's holder, atomically.
    fn write(&self, token: u64, holder: &str, value: u64) -> impl Future<Output = Result<Write, Self::Error>> + Send;
}
