//! The resource side of fencing: a store that refuses writes from stale lock holders.
//!
//! A fencing token only protects a resource that checks it, atomically with the write: the
//! model's `Fenced` resource (scenario `pause-fenced`). A [`FencedResource`] is a `u64` register
//! that keeps the largest token it has seen:
//! - a write applies only if its token is at least the largest seen, and then stores it, in one
//!   atomic step (checking first and writing later is unsafe: `fence-check-then-write`);
//! - a read presents the token too and raises the largest seen to it, so that a holder that has
//!   read can no longer be overtaken by an older one.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The register's value (0 until the first write).
    pub value: u64,
    /// The largest token the resource has seen, after this read.
    pub fence: u64,
}

impl Read {
    /// A newer holder has used the resource since this token was issued: a write with it would
    /// be rejected.
    pub fn is_stale(&self, token: u64) -> bool {
        self.fence > token
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

/// A register that orders writes by fencing token. See the module docs.
pub trait FencedResource: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads the value, raising the largest token seen to `token` if it is larger.
    fn read(&self, token: u64) -> impl Future<Output = Result<Read, Self::Error>> + Send;

    /// Stores `value` and `token` if `token` is at least the largest seen, atomically.
    fn write(&self, token: u64, value: u64) -> impl Future<Output = Result<Write, Self::Error>> + Send;
}
