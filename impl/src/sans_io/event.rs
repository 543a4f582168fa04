//! One vocabulary of observable steps, shared by the model, the conformance runs and the
//! history recorder (`docs/design.md`: one vocabulary, one judge).
//!
//! An [`Event`] carries no time: the order in which events are fed to the
//! [`Judge`](crate::judge::Judge) is real-time order. In a recorded history each event travels
//! in a [`Record`] that adds the schema version, the recorder's real-time stamp and the lock's
//! resource name; [`crate::history`] turns stamps back into order and into the events that only
//! time produces (a validity window ending, a key expiring).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A client (a lock holder or contender), by a number its recorder chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ClientId(pub u32);

/// A lock server, by its index in the lock's server list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

/// Every observable step of a lock's life, of its servers and of the resource it protects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The lock spans `nodes` servers (its quorum is `nodes / 2 + 1`).
    Setup { nodes: u32 },
    /// A client starts an acquire attempt.
    AcquireStarted { client: ClientId },
    /// A server stored `owner`'s value, to expire after `ttl_ms` of its own clock (`None`: never,
    /// as after a `SETNX` whose `EXPIRE` never came).
    KeySet { node: NodeId, owner: ClientId, ttl_ms: Option<u64> },
    /// A client learns it holds the lock: its belief window opens, for `validity_ms` of its own
    /// clock.
    Granted { client: ClientId, validity_ms: u64, token: Option<u64> },
    /// An acquire attempt failed.
    AcquireFailed { client: ClientId },
    /// A holder extended its belief window by `validity_ms` from now.
    Extended { client: ClientId, validity_ms: u64 },
    /// A holder's validity ran out on its own clock: its belief window closes.
    ValidityEnded { client: ClientId },
    /// A holder starts releasing: from now on it no longer believes it holds the lock.
    ReleaseStarted { client: ClientId },
    /// The client told its user that the lock was lost.
    LockLost { client: ClientId },
    /// A server answered the client definitively that the key is not the client's (gone, or
    /// holding another value) when the client asked to extend or release it.
    Refused { client: ClientId, node: NodeId },
    /// A server deleted `owner`'s key because `by` asked it to.
    KeyDeleted { node: NodeId, owner: ClientId, by: ClientId },
    /// A server's clock passed the key's expiry.
    KeyExpired { node: NodeId, owner: ClientId },
    /// A key vanished without a release or an expiry: a restart without persistence, or a
    /// failover to a replica that never received it.
    KeyLost { node: NodeId, owner: ClientId },
    /// A server stopped answering (crash, kill, pause of the process).
    NodeDown { node: NodeId },
    /// A server answers again.
    NodeUp { node: NodeId },
    /// A client process died: whatever it believed dies with it.
    ClientCrashed { client: ClientId },
    /// A fault was injected; informational, for the reader of a history.
    Fault { fault: Fault },
    /// The resource served a read of `value` to a client (with the client's fencing token).
    ResourceRead { client: ClientId, value: u64, token: Option<u64> },
    /// The resource applied a client's write of `value` (a read-modify-write increment).
    WriteApplied { client: ClientId, value: u64, token: Option<u64> },
    /// The resource refused a client's write (a stale token, a changed check-and-set token).
    WriteRejected { client: ClientId, token: Option<u64> },
}

/// The faults a run can suffer, for the record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fault {
    /// A client process stopped taking steps (a GC pause, SIGSTOP).
    ClientPaused { client: ClientId },
    /// It runs again.
    ClientResumed { client: ClientId },
    /// A server's clock jumped by `by_ms` (negative: backwards).
    ClockJump { node: NodeId, by_ms: i64 },
    /// A server crashed; it restarts with its keys (`persisted`) or empty.
    Crash { node: NodeId, persisted: bool },
    /// A replica of a server was promoted to primary.
    Failover { node: NodeId },
    /// A message was lost in the network.
    MessageLost,
    /// Messages between a client and a node are delayed by `ms` (conformance proxy).
    Delay { ms: u64 },
    /// A member of a replicated store (etcd) stopped answering (SIGSTOP) or died (SIGKILL).
    /// The store stays one linearizable node to the lock: to its clients a member fault is a
    /// delayed or lost reply, which is how the judge and the model see it.
    MemberDown { member: u32, killed: bool },
    /// It answers again (SIGCONT), or was restarted from its data directory.
    MemberUp { member: u32 },
}

/// The NDJSON schema version of [`Record`].
pub const HISTORY_VERSION: u32 = 1;

/// One line of a recorded history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version: [`HISTORY_VERSION`].
    pub v: u32,
    /// The recorder's monotonic clock, in nanoseconds.
    pub t_ns: u64,
    /// The name of the lock (the key) the event is about.
    pub resource: String,
    #[serde(flatten)]
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_flat_json_object() {
        let r = Record {
            v: HISTORY_VERSION,
            t_ns: 42,
            resource: "orders".into(),
            event: Event::Granted { client: ClientId(3), validity_ms: 950, token: Some(7) },
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(line, r#"{"v":1,"t_ns":42,"resource":"orders","kind":"granted","client":3,"validity_ms":950,"token":7}"#);
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), r);
    }

    #[test]
    fn faults_nest_under_their_own_tag() {
        let e = Event::Fault { fault: Fault::ClockJump { node: NodeId(2), by_ms: 500 } };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"kind":"fault","fault":{"type":"clock_jump","node":2,"by_ms":500}}"#);
    }
}
