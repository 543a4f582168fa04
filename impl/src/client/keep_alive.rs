//! [`Client::with_lock`](crate::Client::with_lock): run a future under a lock that extends
//! itself in the background, and learn at once when it is lost.
//!
//! A background task extends the lock every extension interval (TTL/3 by default). When an
//! extension fails it tries again at the next interval; when the validity ends without a
//! successful extension, or as soon as an extension finds that a majority of nodes no longer
//! holds the key (it expired early, was evicted or deleted: another client may hold the lock
//! already), the lock is lost: the [`LockContext::lost`] signal fires, the user's future is
//! dropped, and `with_lock` returns [`LockError::Lost`] with the reason. The signal fires at the end
//! of the validity, or at the latest one per-node timeout after it when an extension round is
//! still in flight; a whole-process pause delays it only until the process runs again, when the
//! overdue timer fires first (no later than one extension interval after the client runs past
//! its validity; `docs/design.md`). Work that finishes after its validity ended (before the
//! keeper's timer fired: timers are coarse) ran past its lock: `with_lock` waits for the
//! signal and returns [`LockError::Lost`] for it too.

use crate::client::error::{FencedError, LockError};
use crate::client::fence::{FencedResource, Read, Write};
use crate::client::holding::{fenced_read, fenced_write, Holding, Renewable};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

/// What the future run by [`Client::with_lock`](crate::Client::with_lock) knows of its lock.
#[derive(Clone)]
pub struct LockContext {
    shared: Arc<dyn Holding>,
    lost: CancellationToken,
}

impl LockContext {
    /// The lock's name.
    pub fn resource(&self) -> &str {
        self.shared.resource()
    }

    /// The fencing token of this acquisition, if the client has one.
    pub fn token(&self) -> Option<u64> {
        self.shared.token()
    }

    /// The validity left now (it grows with each extension); zero once lost.
    pub fn remaining(&self) -> Duration {
        self.shared.remaining()
    }

    /// Resolves when the lock is lost. Select on it in work that must stop at once.
    pub async fn lost(&self) {
        self.lost.cancelled().await
    }

    /// Whether the lock has been lost.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Why the lock was lost, once it was.
    pub fn loss(&self) -> Option<crate::client::error::LossReason> {
        self.shared.loss()
    }

    /// The loss signal as a cancellation token, to hand to spawned tasks.
    pub fn lost_token(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Reads a fenced resource presenting this lock's token (and records it).
    pub async fn read<R: FencedResource>(&self, resource: &R) -> Result<Read, FencedError<R::Error>> {
        fenced_read(&*self.shared, resource).await
    }

    /// Writes a fenced resource with this lock's token (and records the outcome).
    pub async fn write<R: FencedResource>(&self, resource: &R, value: u64) -> Result<Write, FencedError<R::Error>> {
        fenced_write(&*self.shared, resource, value).await
    }
}

/// Runs `work` under `lock`, renewing it every `interval`. See the module docs.
pub(crate) async fn with_lock<L, F, Fut, T>(lock: L, interval: Duration, work: F) -> Result<T, LockError>
where
    L: Renewable,
    F: FnOnce(LockContext) -> Fut,
    Fut: Future<Output = T>,
{
    let lost = CancellationToken::new();
    let done = CancellationToken::new();
    let shared = lock.holding();
    let context = LockContext { shared: shared.clone(), lost: lost.clone() };
    let keeper = tokio::spawn(keep_alive(lock, interval, lost.clone(), done.clone()));
    // If this future is dropped, the keeper stops extending and releases.
    let _done_on_drop = done.clone().drop_guard();
    let outcome = tokio::select! {
        biased;
        () = lost.cancelled() => None,
        out = work(context) => Some(out),
    };
    // Work that finished after the validity ended ran past its lock; the keeper, whose timer
    // may not have fired yet, declares the loss at once (or when its extension round settles).
    let outcome = match outcome {
        Some(_) if shared.remaining().is_zero() => {
            lost.cancelled().await;
            None
        }
        other => other,
    };
    done.cancel();
    let _ = keeper.await;
    outcome.ok_or_else(|| LockError::Lost(shared.loss().unwrap_or(crate::client::error::LossReason::Expired)))
}

/// Renews `lock` until `done`, reports a loss on `lost`, and releases at the end.
async fn keep_alive<L: Renewable>(mut lock: L, interval: Duration, lost: CancellationToken, done: CancellationToken) {
    let holding = lock.holding();
    loop {
        let Some(until) = holding.valid_until() else {
            lost.cancel();
            break;
        };
        let next = until.min(Instant::now() + interval);
        tokio::select! {
            biased;
            () = done.cancelled() => break,
            () = sleep_until(next.into()) => {}
        }
        if Instant::now() >= until {
            lock.expire_if_due();
        } else {
            lock.renew().await;
        }
    }
    lock.release().await
}
