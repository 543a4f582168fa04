//! What can go wrong when acquiring, extending, releasing or using a lock.

use std::fmt;
use std::time::Duration;

/// Why [`Client::acquire`](crate::Client::acquire) gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The resource name is empty.
    EmptyResource,
    /// Called outside a tokio runtime.
    NoRuntime,
    /// No attempt reached a quorum within its validity; every key was released.
    NotAcquired { attempts: u32 },
}

/// Why [`Guard::extend`](crate::Guard::extend) did not extend the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtendError {
    /// The lock's validity had ended (before or while extending): it is lost, and extending
    /// never re-acquires it.
    Expired,
    /// No quorum renewed the key; the lock stays valid for `remaining`.
    NoQuorum { remaining: Duration },
}

/// What [`Guard::release`](crate::Guard::release) could not confirm. The compare-and-delete
/// went out on every node in both cases, and never removes another holder's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseError {
    /// The lock's validity had ended before the release: the critical section overran it, and
    /// another client may have held the lock meanwhile.
    Expired,
    /// Within the per-node timeout, too few nodes confirmed for a majority to be free of the
    /// key: these nodes did not answer, and while they keep it, others may be kept out until it
    /// expires (TTL). Their releases still go out, in the background.
    Unconfirmed { nodes: Vec<usize> },
}

/// Why [`Client::with_lock`](crate::Client::with_lock) did not return the closure's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockError {
    /// The lock was not acquired; the closure did not run.
    Acquire(AcquireError),
    /// The lock was lost while the closure ran: its future was dropped at the moment the loss
    /// was known.
    Lost,
}

/// Why a fenced read or write through a lock did not happen.
#[derive(Debug)]
pub enum FencedError<E> {
    /// The lock carries no fencing token (see [`Fencing`](crate::Fencing)).
    NoToken,
    /// The resource failed.
    Resource(E),
}

impl From<AcquireError> for LockError {
    fn from(e: AcquireError) -> Self {
        LockError::Acquire(e)
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::EmptyResource => write!(f, "the resource name is empty"),
            AcquireError::NoRuntime => write!(f, "acquiring needs a tokio runtime"),
            AcquireError::NotAcquired { attempts } => write!(
                f,
                "the lock was not acquired: none of {attempts} attempts reached a quorum within \
                 its validity"
            ),
        }
    }
}

impl fmt::Display for ExtendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtendError::Expired => write!(f, "the lock had expired: it is lost, not extended"),
            ExtendError::NoQuorum { remaining } => write!(
                f,
                "no quorum renewed the lock; it stays valid for {} ms",
                remaining.as_millis()
            ),
        }
    }
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReleaseError::Expired => {
                write!(f, "the lock had expired before it was released: the critical section overran it")
            }
            ReleaseError::Unconfirmed { nodes } => {
                write!(f, "the release was not confirmed by nodes {nodes:?} in time: the lock may stay taken until its keys expire")
            }
        }
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Acquire(e) => e.fmt(f),
            LockError::Lost => write!(f, "the lock was lost while the critical section ran"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for FencedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FencedError::NoToken => write!(f, "the lock has no fencing token"),
            FencedError::Resource(e) => write!(f, "the fenced resource failed: {e}"),
        }
    }
}

impl std::error::Error for AcquireError {}
impl std::error::Error for ExtendError {}
impl std::error::Error for ReleaseError {}
impl std::error::Error for LockError {}
impl<E: std::error::Error + 'static> std::error::Error for FencedError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FencedError::NoToken => None,
            FencedError::Resource(e) => Some(e),
        }
    }
}
