//! Messages between the actors, the actors' timers and when a timer may fire. The names are the
//! TLA+ twin's action and message names too.

use redlock_client::protocol::Reply;
use serde::Serialize;
use std::fmt;

/// Everything that travels between clients, lock servers and the resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Msg {
    // Client -> lock server (Redis commands, or the ZooKeeper-style service's).
    /// `SET key <client> NX PX ttl` (`ttl: None` is a bare `SETNX`); with `incr`, the acquire
    /// script also increments the node's fencing counter and returns it; with `wait: Some(n)`,
    /// `WAIT n` follows in the same pipeline and the reply comes once n replicas acknowledged the
    /// write (Redisson). For the ZooKeeper- and Chubby-style services: create the lock in the
    /// client's session.
    Acquire {
        round: u32,
        ttl: Option<u8>,
        incr: bool,
        wait: Option<u8>,
    },
    /// `EXPIRE key ttl`, the second half of `SETNX` then `EXPIRE`.
    Expire {
        ttl: u8,
    },
    /// Compare-and-pexpire: extend the key only if it still holds the client's value. For the
    /// ZooKeeper-style service: a session heartbeat.
    Extend {
        round: u32,
    },
    /// Compare-and-delete: delete the key only if it still holds the client's value.
    Release,
    /// A plain `DEL`.
    Delete,
    /// `GET key`.
    Get,
    // Lock server -> client.
    AcquireReply {
        round: u32,
        reply: Reply,
    },
    ExtendReply {
        round: u32,
        reply: Reply,
    },
    /// The value `GET` found: the owning client, if any.
    GetReply {
        owner: Option<u8>,
    },
    // Client -> etcd-style store, and back (see `etcd.rs`).
    /// Grant a lease of the TTL.
    GrantLease,
    LeaseGranted {
        lease: u8,
    },
    /// Create the lock key with `lease` only if it is absent (one transaction).
    CreateIfAbsent {
        lease: u8,
    },
    /// The key was created at `revision` (its fencing token).
    Created {
        revision: u64,
    },
    /// Another client's key exists; the store was at `revision`.
    Taken {
        revision: u64,
    },
    /// The transaction failed: its lease is gone.
    TxnFailed,
    /// Watch the key for its deletion after `after`.
    WatchDeletion {
        after: u64,
    },
    /// The watched key was deleted.
    Freed,
    /// Keep `lease` alive, and say whether the key is still the one created at `token`.
    KeepAlive {
        lease: u8,
        token: u64,
    },
    /// `alive` false: the store has no such lease any more.
    KeptAlive {
        alive: bool,
    },
    RevokeLease {
        lease: u8,
    },
    /// Delete the key if its create revision is `token`.
    DeleteKey {
        token: u64,
    },
    // Resource -> lock service, and back (Chubby's CheckSequencer).
    /// Is `token` the sequencer of the lock `client` holds now?
    CheckSequencer {
        client: u8,
        token: u64,
    },
    SequencerValid {
        client: u8,
        valid: bool,
    },
    // Client -> resource.
    /// Set the resource's check-and-set token to the client's (antirez's scheme).
    Claim {
        token: u64,
    },
    Read {
        token: Option<u64>,
    },
    Write {
        value: u8,
        token: Option<u64>,
    },
    // Resource -> client.
    ReadReply {
        value: u8,
    },
    WriteReply {
        applied: bool,
    },
}

impl Msg {
    /// The same message with every client id in it renamed (client symmetry). The match names
    /// every variant, so a new message with a client in it cannot be forgotten here. Lease ids
    /// are named after their client (id = client + 1, as the TLA+ twin has it) and are kept:
    /// an etcd-style store's clients are never renamed (`symmetry::for_setup`).
    pub fn rename_clients(&self, client: impl Fn(u8) -> u8) -> Msg {
        match *self {
            Msg::GetReply { owner } => Msg::GetReply { owner: owner.map(client) },
            Msg::CheckSequencer { client: c, token } => Msg::CheckSequencer { client: client(c), token },
            Msg::SequencerValid { client: c, valid } => Msg::SequencerValid { client: client(c), valid },
            Msg::Acquire { .. }
            | Msg::Expire { .. }
            | Msg::Extend { .. }
            | Msg::Release
            | Msg::Delete
            | Msg::Get
            | Msg::AcquireReply { .. }
            | Msg::ExtendReply { .. }
            | Msg::GrantLease
            | Msg::LeaseGranted { .. }
            | Msg::CreateIfAbsent { .. }
            | Msg::Created { .. }
            | Msg::Taken { .. }
            | Msg::TxnFailed
            | Msg::WatchDeletion { .. }
            | Msg::Freed
            | Msg::KeepAlive { .. }
            | Msg::KeptAlive { .. }
            | Msg::RevokeLease { .. }
            | Msg::DeleteKey { .. }
            | Msg::Claim { .. }
            | Msg::Read { .. }
            | Msg::Write { .. }
            | Msg::ReadReply { .. }
            | Msg::WriteReply { .. } => self.clone(),
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = |t: &Option<u64>| t.map(|t| format!(" token {t}")).unwrap_or_default();
        match self {
            Msg::Acquire { ttl: None, .. } => write!(f, "SETNX"),
            Msg::Acquire { ttl: Some(ttl), incr, wait, .. } => {
                write!(f, "SET NX PX {ttl}{}", if *incr { " + INCR" } else { "" })?;
                match wait {
                    Some(n) => write!(f, " + WAIT {n}"),
                    None => Ok(()),
                }
            }
            Msg::Expire { ttl } => write!(f, "EXPIRE {ttl}"),
            Msg::Extend { .. } => write!(f, "extend (compare-and-pexpire)"),
            Msg::Release => write!(f, "release (compare-and-delete)"),
            Msg::Delete => write!(f, "DEL"),
            Msg::Get => write!(f, "GET"),
            Msg::AcquireReply { reply, .. } | Msg::ExtendReply { reply, .. } => match reply {
                Reply::Ok { token: Some(t) } => write!(f, "OK (token {t})"),
                Reply::Ok { token: None } => write!(f, "OK"),
                Reply::Refused => write!(f, "refused (held)"),
                Reply::Error => write!(f, "error"),
            },
            Msg::GetReply { owner: Some(c) } => write!(f, "value of client {c}"),
            Msg::GetReply { owner: None } => write!(f, "nil"),
            Msg::CheckSequencer { client, token } => write!(f, "CheckSequencer(client {client}, sequencer {token})"),
            Msg::SequencerValid { client, valid } => {
                write!(f, "client {client}'s sequencer is {}", if *valid { "valid" } else { "stale" })
            }
            Msg::GrantLease => write!(f, "grant a lease"),
            Msg::LeaseGranted { lease } => write!(f, "lease {lease} granted"),
            Msg::CreateIfAbsent { lease } => write!(f, "create the key with lease {lease} if absent"),
            Msg::Created { revision } => write!(f, "created at revision {revision}"),
            Msg::Taken { revision } => write!(f, "taken (store at revision {revision})"),
            Msg::TxnFailed => write!(f, "failed: lease not found"),
            Msg::WatchDeletion { after } => write!(f, "watch the key's deletion after revision {after}"),
            Msg::Freed => write!(f, "the key was deleted"),
            Msg::KeepAlive { lease, .. } => write!(f, "keep lease {lease} alive"),
            Msg::KeptAlive { alive: true } => write!(f, "lease renewed"),
            Msg::KeptAlive { alive: false } => write!(f, "lease not found (TTL 0)"),
            Msg::RevokeLease { lease } => write!(f, "revoke lease {lease}"),
            Msg::DeleteKey { token } => write!(f, "delete the key if created at revision {token}"),
            Msg::Claim { token } => write!(f, "claim token {token}"),
            Msg::Read { token: t } => write!(f, "read{}", token(t)),
            Msg::Write { value, token: t } => write!(f, "write {value}{}", token(t)),
            Msg::ReadReply { value } => write!(f, "value {value}"),
            Msg::WriteReply { applied } => write!(f, "{}", if *applied { "applied" } else { "rejected" }),
        }
    }
}

/// When an actor's timer may fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Not yet.
    No,
    /// Now, and before time passes.
    Now,
    /// At any moment from now on, time passing or not.
    Whenever,
}

/// An actor's own steps that no message triggers. Stateright fires a timer at any moment; the
/// system model enables each only when the actor's clock says it is due (see `system.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Timer {
    // Client.
    /// Start acquiring (at any moment: clients start at different times).
    Start,
    /// The round in flight reached its per-node timeout.
    Deadline,
    /// The retry delay has passed.
    Retry,
    /// Start the work on the resource: claim (check-and-set) and read.
    Work,
    /// Write to the resource, once the validity check has passed.
    Write,
    /// Send `EXPIRE` after `SETNX` succeeded.
    SendExpire,
    /// Extend the held lock (watchdog).
    Extend,
    /// Done with the resource: release (the holder may take its time).
    Release,
    // Lock server.
    /// The key's expiry, measured on the server's clock.
    Expire,
    /// Replica `replica` catches up with the primary.
    Replicate { replica: u8 },
    /// Chubby's lock-delay is over.
    LockDelay,
    /// Client `client`'s lease expires, by the etcd-style store's clock.
    LeaseExpire { client: u8 },
    // Resource.
    /// Apply `client`'s write whose token was checked (check-then-write resource).
    Apply { client: u8 },
}

impl Timer {
    /// The same timer with its client renamed (client symmetry); every variant named, as in
    /// [`Msg::rename_clients`].
    pub fn rename_clients(self, client: impl Fn(u8) -> u8) -> Timer {
        match self {
            Timer::LeaseExpire { client: c } => Timer::LeaseExpire { client: client(c) },
            Timer::Apply { client: c } => Timer::Apply { client: client(c) },
            Timer::Start
            | Timer::Deadline
            | Timer::Retry
            | Timer::Work
            | Timer::Write
            | Timer::SendExpire
            | Timer::Extend
            | Timer::Release
            | Timer::Expire
            | Timer::Replicate { .. }
            | Timer::LockDelay => self,
        }
    }
}
