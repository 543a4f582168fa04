//! The guard of a held lock: its validity, its token, extension, release, fenced operations.

use crate::client::error::{ExtendError, FencedError, ReleaseError, Released};
use crate::client::fence::{FencedResource, Read, Write};
use crate::client::holding::{fenced_read, fenced_write, Holding};
use crate::client::lock::Lock;
use crate::protocol::{Loss, Output};
use std::time::Duration;

/// A held lock. Dropping it releases the lock in the background; [`release`](Guard::release)
/// does the same and waits for the answers.
///
/// Nothing extends a guard on its own: call [`extend`](Guard::extend) in time, or use
/// [`Client::with_lock`](crate::Client::with_lock), which extends in the background and reports
/// a loss at once.
pub struct Guard {
    lock: Lock,
}

impl Guard {
    pub(crate) fn new(lock: Lock) -> Guard {
        Guard { lock }
    }

    /// The lock's name (its key on every server).
    pub fn resource(&self) -> &str {
        self.lock.shared().resource()
    }

    /// The validity granted by the latest acquisition or extension, as measured then: TTL
    /// minus the time the round took minus the drift allowance.
    pub fn validity(&self) -> Duration {
        self.lock.shared().validity()
    }

    /// The validity left now; zero once it has ended. Work that needs the lock must finish
    /// (or be fenced) before then.
    pub fn remaining(&self) -> Duration {
        self.lock.shared().remaining()
    }

    /// The fencing token of this acquisition, where the client has one (see
    /// [`Fencing`](crate::Fencing)).
    pub fn token(&self) -> Option<u64> {
        self.lock.shared().token()
    }

    /// Renews the lock for a fresh TTL on a quorum, only while it is still valid. Returns the
    /// new validity. An expired lock is lost, never silently re-acquired; a lock that a
    /// majority of nodes no longer holds is lost at once ([`ExtendError::Refused`]).
    pub async fn extend(&mut self) -> Result<Duration, ExtendError> {
        match self.lock.extend().await {
            Output::Extended { validity_ms, .. } => Ok(Duration::from_millis(validity_ms)),
            Output::ExtendFailed { .. } => Err(ExtendError::NoQuorum { remaining: self.remaining(), nodes: self.lock.outcomes().clone() }),
            Output::Lost { loss: Loss::Refused { nodes } } => Err(ExtendError::Refused { nodes: nodes.iter().collect() }),
            _ => Err(ExtendError::Expired),
        }
    }

    /// Releases the lock on every node (compare-and-delete: never another holder's key) and
    /// returns once a majority has confirmed, so that the lock is free for others (a slow or
    /// dead node does not delay it), or after the per-node timeout; the other nodes' releases
    /// go on in the background. [`Released::was_lost`] tells whether a majority had already
    /// lost the key (the lock was lost before it was released).
    pub async fn release(self) -> Result<Released, ReleaseError> {
        self.lock.release().await
    }

    /// Reads a fenced resource presenting this lock's token (and records it).
    pub async fn read<R: FencedResource>(&self, resource: &R) -> Result<Read, FencedError<R::Error>> {
        fenced_read(&**self.lock.shared(), resource).await
    }

    /// Writes a fenced resource with this lock's token (and records the outcome).
    pub async fn write<R: FencedResource>(&self, resource: &R, value: u64) -> Result<Write, FencedError<R::Error>> {
        fenced_write(&**self.lock.shared(), resource, value).await
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("resource", &self.resource())
            .field("remaining", &self.remaining())
            .field("token", &self.token())
            .finish()
    }
}
