//! What can go wrong when acquiring, extending, releasing or using a lock, down to what each
//! node answered: a quorum that was not reached is contention, a wrong password, a TLS
//! failure, a dead server or a server error, and the error says which.

use std::fmt;
use std::time::Duration;

/// What one node answered to one request, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    /// It did what was asked.
    Ok,
    /// The key is held by another client (acquire), or is not ours any more (extend, release:
    /// it expired, was evicted or deleted).
    Refused,
    /// No answer within the per-node timeout.
    TimedOut,
    /// Nothing listens at the server's address.
    ConnectionRefused,
    /// The server refused the credentials (AUTH).
    AuthenticationFailed(String),
    /// The TLS handshake failed (an untrusted certificate, a server that does not speak TLS).
    TlsFailed(String),
    /// The connection failed otherwise (reset, closed, unreachable).
    ConnectionFailed(String),
    /// The server answered with an error (its text).
    ServerError(String),
}

impl NodeOutcome {
    /// A short phrase for summaries: "refused the credentials".
    fn phrase(&self) -> &'static str {
        match self {
            NodeOutcome::Ok => "said yes",
            NodeOutcome::Refused => "held the key for another client",
            NodeOutcome::TimedOut => "timed out",
            NodeOutcome::ConnectionRefused => "refused the connection",
            NodeOutcome::AuthenticationFailed(_) => "refused the credentials",
            NodeOutcome::TlsFailed(_) => "failed the TLS handshake",
            NodeOutcome::ConnectionFailed(_) => "lost the connection",
            NodeOutcome::ServerError(_) => "answered with an error",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            NodeOutcome::AuthenticationFailed(d)
            | NodeOutcome::TlsFailed(d)
            | NodeOutcome::ConnectionFailed(d)
            | NodeOutcome::ServerError(d) => Some(d),
            _ => None,
        }
    }

    fn same_kind(&self, other: &NodeOutcome) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl fmt::Display for NodeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            Some(detail) => write!(f, "{} ({detail})", self.phrase()),
            None => f.write_str(self.phrase()),
        }
    }
}

/// What every node answered to the last round of requests, by node index (`None`: the round
/// ended before it was asked or answered, as when a quorum had already decided).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeOutcomes(pub Vec<Option<NodeOutcome>>);

impl NodeOutcomes {
    /// Each node's outcome with its index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &NodeOutcome)> {
        self.0.iter().enumerate().filter_map(|(i, o)| o.as_ref().map(|o| (i, o)))
    }

    /// The nodes whose outcome is of the same kind as `kind` (details aside).
    pub fn nodes_where(&self, kind: &NodeOutcome) -> Vec<usize> {
        self.iter().filter(|(_, o)| o.same_kind(kind)).map(|(i, _)| i).collect()
    }

    /// One line naming the most common outcome other than success first, then the others:
    /// "2 of 3 nodes refused the credentials (WRONGPASS ...), 1 timed out".
    pub fn summary(&self) -> String {
        let total = self.0.len();
        let mut kinds: Vec<(&NodeOutcome, usize)> = Vec::new();
        for (_, o) in self.iter().filter(|(_, o)| **o != NodeOutcome::Ok) {
            match kinds.iter_mut().find(|(k, _)| k.same_kind(o)) {
                Some((_, n)) => *n += 1,
                None => kinds.push((o, 1)),
            }
        }
        // Stable: equal counts keep the order of the nodes.
        kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
        let ok = self.iter().filter(|(_, o)| **o == NodeOutcome::Ok).count();
        let mut parts: Vec<String> = kinds
            .iter()
            .enumerate()
            .map(|(i, (o, n))| if i == 0 { format!("{n} of {total} nodes {o}") } else { format!("{n} {o}") })
            .collect();
        if ok > 0 {
            parts.push(format!("{ok} said yes"));
        }
        if parts.is_empty() {
            return format!("no answer from any of {total} nodes");
        }
        parts.join(", ")
    }
}

/// Why [`Client::acquire`](crate::Client::acquire) gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The resource name is empty.
    EmptyResource,
    /// Called outside a tokio runtime.
    NoRuntime,
    /// No attempt reached a quorum within its validity; every key was released. `nodes` is
    /// what each node answered to the last attempt.
    NotAcquired { attempts: u32, nodes: NodeOutcomes },
    /// The lease lock (etcd) was not acquired: `outcome` is what the store said last
    /// (`Refused`: another client's key stayed until the acquire timeout).
    LeaseNotAcquired { outcome: NodeOutcome },
}

impl AcquireError {
    /// Whether the lock was simply held by others (every node that answered refused because
    /// another client held the key), as opposed to nodes that failed.
    pub fn is_contention(&self) -> bool {
        match self {
            AcquireError::NotAcquired { nodes, .. } => {
                nodes.iter().all(|(_, o)| matches!(o, NodeOutcome::Refused | NodeOutcome::Ok))
                    && nodes.iter().any(|(_, o)| *o == NodeOutcome::Refused)
            }
            AcquireError::LeaseNotAcquired { outcome } => *outcome == NodeOutcome::Refused,
            _ => false,
        }
    }
}

/// Why [`Guard::extend`](crate::Guard::extend) did not extend the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtendError {
    /// The lock's validity had ended (before or while extending): it is lost, and extending
    /// never re-acquires it.
    Expired,
    /// So many nodes answered that the key is no longer ours (it expired early, was evicted or
    /// deleted, or another client's key is there) that no majority holds it: the lock is lost
    /// now, whatever its validity said, and another client may hold it.
    Refused { nodes: Vec<usize> },
    /// No quorum renewed the key, but no majority refused it either (timeouts, errors): the
    /// old validity stands, for `remaining`. `nodes` is what each node answered.
    NoQuorum { remaining: Duration, nodes: NodeOutcomes },
}

/// How a release went: the lock is released either way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Nodes that answered, before the release returned, that the key was not ours any more
    /// (expired, evicted, deleted, or another client's): nothing of ours was there to delete.
    /// The release waits for enough answers to tell whether a majority still held the key.
    pub gone: Vec<usize>,
    /// How many nodes there are.
    pub nodes: usize,
}

impl Released {
    /// Whether so many nodes had lost the key that no majority held it when it was released:
    /// the lock had been lost before the release, and another client may have held it.
    pub fn was_lost(&self) -> bool {
        self.gone.len() > self.nodes - (self.nodes / 2 + 1)
    }
}

/// What [`Guard::release`](crate::Guard::release) could not confirm. The compare-and-delete
/// went out on every node in both cases, and never removes another holder's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseError {
    /// The lock's validity had ended before the release: the critical section overran it, and
    /// another client may have held the lock meanwhile.
    Expired,
    /// Within the per-node timeout, too few nodes confirmed for a majority to be free of the
    /// key: while the others keep it, other clients may be kept out until it expires (TTL).
    /// Their releases still go out, in the background. `nodes` is what each node answered.
    Unconfirmed { nodes: NodeOutcomes },
}

/// Why a held lock was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LossReason {
    /// Its validity ran out before an extension succeeded (a pause, unreachable nodes).
    Expired,
    /// A majority of nodes answered that the key is not ours any more; these did.
    Refused { nodes: Vec<usize> },
}

/// Why [`Client::with_lock`](crate::Client::with_lock) did not return the closure's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockError {
    /// The lock was not acquired; the closure did not run.
    Acquire(AcquireError),
    /// The lock was lost while the closure ran: its future was dropped at the moment the loss
    /// was known.
    Lost(LossReason),
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
            AcquireError::NotAcquired { attempts, nodes } => write!(
                f,
                "the lock was not acquired: none of {attempts} attempt(s) reached a quorum within its \
                 validity; in the last, {}",
                nodes.summary()
            ),
            AcquireError::LeaseNotAcquired { outcome: NodeOutcome::Refused } => {
                write!(f, "the lock was not acquired: another client held it until the acquire timeout")
            }
            AcquireError::LeaseNotAcquired { outcome } => write!(f, "the lock was not acquired: the store {outcome}"),
        }
    }
}

fn node_list(nodes: &[usize]) -> String {
    nodes.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for ExtendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtendError::Expired => write!(f, "the lock had expired: it is lost, not extended"),
            ExtendError::Refused { nodes } => {
                write!(f, "the lock is lost: nodes {} said the key is no longer ours, so no majority holds it", node_list(nodes))
            }
            ExtendError::NoQuorum { remaining, nodes } => write!(
                f,
                "no quorum renewed the lock ({}); no majority refused it, so it stays valid for {} ms",
                nodes.summary(),
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
                write!(f, "no majority confirmed the release in time ({}): the lock may stay taken until its keys expire", nodes.summary())
            }
        }
    }
}

impl fmt::Display for LossReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossReason::Expired => write!(f, "its validity ran out before an extension succeeded"),
            LossReason::Refused { nodes } => {
                write!(f, "nodes {} said the key is no longer ours, so no majority holds it", node_list(nodes))
            }
        }
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Acquire(e) => e.fmt(f),
            LockError::Lost(reason) => write!(f, "the lock was lost while the critical section ran: {reason}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_the_dominant_cause_first() {
        let nodes = NodeOutcomes(vec![
            Some(NodeOutcome::TimedOut),
            Some(NodeOutcome::AuthenticationFailed("WRONGPASS".into())),
            Some(NodeOutcome::AuthenticationFailed("WRONGPASS".into())),
            None,
            Some(NodeOutcome::Ok),
        ]);
        assert_eq!(nodes.summary(), "2 of 5 nodes refused the credentials (WRONGPASS), 1 timed out, 1 said yes");
        let e = AcquireError::NotAcquired { attempts: 4, nodes };
        assert!(!e.is_contention());
        assert!(e.to_string().contains("none of 4 attempt(s)"), "{e}");
    }

    #[test]
    fn contention_is_told_apart_from_failure() {
        let busy = NodeOutcomes(vec![Some(NodeOutcome::Refused), Some(NodeOutcome::Refused), Some(NodeOutcome::Ok)]);
        assert!(AcquireError::NotAcquired { attempts: 1, nodes: busy }.is_contention());
        let down = NodeOutcomes(vec![Some(NodeOutcome::ConnectionRefused); 3]);
        let e = AcquireError::NotAcquired { attempts: 1, nodes: down };
        assert!(!e.is_contention());
        assert!(e.to_string().ends_with("3 of 3 nodes refused the connection"), "{e}");
    }

    #[test]
    fn a_lease_lock_says_whether_it_waited_in_vain_or_the_store_failed() {
        let busy = AcquireError::LeaseNotAcquired { outcome: NodeOutcome::Refused };
        assert!(busy.is_contention());
        assert_eq!(busy.to_string(), "the lock was not acquired: another client held it until the acquire timeout");
        let down = AcquireError::LeaseNotAcquired { outcome: NodeOutcome::ConnectionFailed("tcp connect error".into()) };
        assert!(!down.is_contention());
        assert_eq!(down.to_string(), "the lock was not acquired: the store lost the connection (tcp connect error)");
    }

    #[test]
    fn a_release_that_found_a_majority_gone_tells_that_the_lock_was_lost() {
        assert!(Released { gone: vec![0, 2], nodes: 3 }.was_lost());
        assert!(!Released { gone: vec![2], nodes: 3 }.was_lost());
        assert!(!Released { gone: vec![], nodes: 1 }.was_lost());
        assert!(Released { gone: vec![0], nodes: 1 }.was_lost());
    }
}
