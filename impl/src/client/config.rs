//! The client's configuration, checked once, up front, with a typed error for every mistake.
//!
//! [`ClientBuilder::build`] parses every server URL, refuses duplicates, validates the protocol
//! [`Params`] and the timing knobs that only the async client has (extension interval, I/O
//! timeout), and refuses fencing where the model shows no honest token exists. It does no I/O:
//! connections open lazily, per node, on first use, so a node that is down when the client is
//! built costs nothing but its share of the quorum.

use crate::client::recorder::Recorder;
use crate::event::ClientId;
use crate::params::{Params, ParamsError};
use redis::{ConnectionAddr, IntoConnectionInfo};
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

/// Where fencing tokens come from. See the crate docs' guarantees table for each verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fencing {
    /// No token: [`Guard::token`](crate::Guard::token) is `None`.
    #[default]
    Off,
    /// One linearizable counter: the acquire script on the single lock server does
    /// `SET key value NX PX ttl` and, when it succeeds, `INCR key:fence`, and returns the
    /// counter as the token (model scenario `pause-fenced`: safe). Only for a single server:
    /// with N > 1 the per-node counters can hand two holders equal tokens and can go backwards
    /// (`redlock-incr-tokens`), so [`ClientBuilder::build`] refuses it. A failover to an
    /// asynchronous replica can lose the latest increments and repeat tokens
    /// (`failover-async-replica`): the server must not fail over, or must persist with
    /// `appendfsync always` and restart as the same primary.
    Counter,
}

/// The suffix of the key that holds a resource's fencing counter (`<resource>:fence`).
pub const FENCE_KEY_SUFFIX: &str = ":fence";

/// Builds a [`Client`](crate::Client). Every setter has a default; [`build`](ClientBuilder::build) checks
/// them all.
#[derive(Debug)]
pub struct ClientBuilder {
    servers: Vec<String>,
    ttl: Duration,
    drift_factor_ppm: u64,
    drift_fixed: Duration,
    node_timeout: Duration,
    retries: u32,
    retry_delay: RangeInclusive<Duration>,
    extend_interval: Option<Duration>,
    io_timeout: Option<Duration>,
    fencing: Fencing,
    tls_root_certificate: Option<Vec<u8>>,
    client_id: ClientId,
    recorder: Option<Recorder>,
    #[cfg(feature = "fault-injection")]
    pause_hook: Option<crate::client::fault::PauseHook>,
}

/// The checked configuration: what [`ClientBuilder::build`] found sound, the one copy every
/// lock of the client reads (the builder holds the user's unchecked inputs).
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) params: Params,
    pub(crate) servers: Vec<redis::Client>,
    pub(crate) extend_interval: Duration,
    pub(crate) io_timeout: Duration,
    pub(crate) fencing: Fencing,
    pub(crate) client_id: ClientId,
    pub(crate) recorder: Option<Arc<Recorder>>,
    /// What weakens the client's promises, known before any connection.
    pub(crate) warnings: Vec<Warning>,
    #[cfg(feature = "fault-injection")]
    pub(crate) pause_hook: Option<crate::client::fault::PauseHook>,
}

/// Something about the configuration or the servers that the client accepts, but that weakens
/// what it can promise. Read them with [`Client::warnings`](crate::Client::warnings); each is also traced at `warn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// An even number of servers tolerates no more failures than one server fewer.
    EvenServers { servers: usize, quorum: usize },
    /// The server may evict keys that carry a TTL, lock keys among them, under memory pressure
    /// (`maxmemory` is set and `maxmemory-policy` is `volatile-*` or `allkeys-*`): an evicted lock
    /// key is a lock the server forgot, as after a restart without persistence (model scenario
    /// `redlock-eviction`).
    EvictionPossible { node: usize, policy: String, maxmemory: u64 },
    /// `CONFIG GET` is disabled or denied on the server, so the client cannot tell whether it
    /// may evict lock keys.
    EvictionUnknown { node: usize, reason: String },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::EvenServers { servers, quorum } => {
                write!(f, "{servers} lock servers (quorum {quorum}) tolerate no more failures than {}: use an odd number", servers - 1)
            }
            Warning::EvictionPossible { node, policy, maxmemory } => write!(
                f,
                "server {node} may evict lock keys under memory pressure (maxmemory {maxmemory} bytes, \
                 maxmemory-policy {policy}): an evicted key is a lock the server forgot; use noeviction \
                 on lock servers"
            ),
            Warning::EvictionUnknown { node, reason } => {
                write!(f, "cannot tell whether server {node} may evict lock keys (CONFIG GET maxmemory-policy: {reason})")
            }
        }
    }
}

impl ClientBuilder {
    /// A builder for a lock spread over `servers` (`redis://`, `rediss://` or `unix://` URLs,
    /// with `user:password@` for AUTH). The defaults are those of the reference algorithm:
    /// TTL 10 s, drift allowance 1% of the TTL + 2 ms, 50 ms per node, 3 retries after 100 to
    /// 300 ms, extension every TTL/3.
    pub fn new<I, S>(servers: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let defaults = Params::new(0, 10_000);
        ClientBuilder {
            servers: servers.into_iter().map(Into::into).collect(),
            ttl: Duration::from_millis(defaults.ttl_ms),
            drift_factor_ppm: defaults.drift_factor_ppm,
            drift_fixed: Duration::from_millis(defaults.drift_fixed_ms),
            node_timeout: Duration::from_millis(defaults.node_timeout_ms),
            retries: defaults.retries,
            retry_delay: Duration::from_millis(defaults.retry_delay_min_ms)..=Duration::from_millis(defaults.retry_delay_max_ms),
            extend_interval: None,
            io_timeout: None,
            fencing: Fencing::Off,
            tls_root_certificate: None,
            client_id: ClientId(std::process::id()),
            recorder: None,
            #[cfg(feature = "fault-injection")]
            pause_hook: None,
        }
    }

    /// The time to live of each key (whole milliseconds).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The drift allowance: `ttl x factor_ppm / 1_000_000 + fixed`, subtracted from every
    /// validity. The default (1% + 2 ms) is safe while every clock's rate stays within about
    /// 0.5% of real time.
    pub fn drift(mut self, factor_ppm: u64, fixed: Duration) -> Self {
        self.drift_factor_ppm = factor_ppm;
        self.drift_fixed = fixed;
        self
    }

    /// How long one attempt waits for a node's answer before counting it as failed.
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = timeout;
        self
    }

    /// Attempts after the first one when an attempt fails.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The range from which the delay before each retry is drawn, uniformly.
    pub fn retry_delay(mut self, range: RangeInclusive<Duration>) -> Self {
        self.retry_delay = range;
        self
    }

    /// How often [`Client::with_lock`](crate::Client::with_lock) extends the lock (default: TTL/3).
    pub fn extend_interval(mut self, interval: Duration) -> Self {
        self.extend_interval = Some(interval);
        self
    }

    /// How long a request may stay unanswered on its connection (default: the TTL) and how
    /// long connecting may take. The per-node timeout decides for the protocol; this one only
    /// bounds how long a late answer is still awaited, so that a later request of the same lock
    /// goes out after it.
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.io_timeout = Some(timeout);
        self
    }

    /// Where fencing tokens come from (default: none).
    pub fn fencing(mut self, fencing: Fencing) -> Self {
        self.fencing = fencing;
        self
    }

    /// Trusts this PEM root certificate (instead of the system's) for `rediss://` servers.
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_certificate = Some(pem.into());
        self
    }

    /// The id this client carries in its history records (default: the process id).
    pub fn client_id(mut self, id: ClientId) -> Self {
        self.client_id = id;
        self
    }

    /// Records the client's history (off by default). See [`Recorder`].
    pub fn recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Calls `hook` before each fenced read and write (feature `fault-injection`; see
    /// [`fault`](crate::fault)).
    #[cfg(feature = "fault-injection")]
    pub fn pause_hook(mut self, hook: crate::client::fault::PauseHook) -> Self {
        self.pause_hook = Some(hook);
        self
    }

    /// Checks everything; [`build`](ClientBuilder::build) (in `client.rs`, so that this file
    /// needs nothing from the client) makes the client of the result.
    pub(crate) fn check(self) -> Result<Config, ConfigError> {
        let servers = self.parse_servers()?;
        let params = Params {
            nodes: servers.len(),
            ttl_ms: millis(self.ttl),
            drift_factor_ppm: self.drift_factor_ppm,
            drift_fixed_ms: millis(self.drift_fixed),
            node_timeout_ms: millis(self.node_timeout),
            retries: self.retries,
            retry_delay_min_ms: millis(*self.retry_delay.start()),
            retry_delay_max_ms: millis(*self.retry_delay.end()),
        }
        .validate()?;
        let budget_ms = params.ttl_ms - params.drift_ms();
        if params.node_timeout_ms >= budget_ms {
            return Err(ConfigError::NodeTimeoutBeyondValidity { node_timeout_ms: params.node_timeout_ms, budget_ms });
        }
        let extend_interval_ms = match self.extend_interval {
            Some(interval) => {
                let interval_ms = millis(interval);
                if interval_ms == 0 || interval_ms >= budget_ms {
                    return Err(ConfigError::ExtendInterval { interval_ms, budget_ms });
                }
                if params.node_timeout_ms >= interval_ms {
                    return Err(ConfigError::NodeTimeoutTooLong {
                        node_timeout_ms: params.node_timeout_ms,
                        extend_interval_ms: interval_ms,
                    });
                }
                interval_ms
            }
            None => {
                // The default interval, TTL/3: the user chose only the TTL, so the message speaks of it.
                let interval_ms = params.ttl_ms / 3;
                if params.node_timeout_ms >= interval_ms {
                    return Err(ConfigError::TtlTooShortToExtend { ttl_ms: params.ttl_ms, node_timeout_ms: params.node_timeout_ms });
                }
                interval_ms
            }
        };
        let io_timeout = self.io_timeout.unwrap_or(self.ttl);
        if millis(io_timeout) > crate::params::MAX_DURATION_MS {
            return Err(ConfigError::Params(ParamsError::TooLong { what: "I/O timeout", ms: millis(io_timeout) }));
        }
        if millis(io_timeout) < params.node_timeout_ms {
            return Err(ConfigError::IoTimeoutBelowNodeTimeout {
                io_timeout_ms: millis(io_timeout),
                node_timeout_ms: params.node_timeout_ms,
            });
        }
        if self.fencing == Fencing::Counter && params.nodes > 1 {
            return Err(ConfigError::FencingNeedsOneServer { servers: params.nodes });
        }
        let mut warnings = Vec::new();
        if params.nodes % 2 == 0 {
            let warning = Warning::EvenServers { servers: params.nodes, quorum: params.quorum() };
            tracing::warn!(servers = params.nodes, quorum = params.quorum(), "{warning}");
            warnings.push(warning);
        }
        Ok(Config {
            params,
            servers,
            extend_interval: Duration::from_millis(extend_interval_ms),
            io_timeout,
            fencing: self.fencing,
            client_id: self.client_id,
            recorder: self.recorder.map(Arc::new),
            warnings,
            #[cfg(feature = "fault-injection")]
            pause_hook: self.pause_hook,
        })
    }

    fn parse_servers(&self) -> Result<Vec<redis::Client>, ConfigError> {
        let mut seen: Vec<(String, usize)> = Vec::new();
        let mut clients = Vec::with_capacity(self.servers.len());
        for (index, url) in self.servers.iter().enumerate() {
            let bad = |reason: String| ConfigError::BadUrl { index, url: redact(url), reason };
            let info = url.as_str().into_connection_info().map_err(|e| bad(e.to_string()))?;
            let address = address_of(info.addr());
            if let Some((_, first)) = seen.iter().find(|(a, _)| *a == address) {
                return Err(ConfigError::DuplicateServer { first: *first, second: index, address });
            }
            seen.push((address, index));
            let client = match (&self.tls_root_certificate, info.addr()) {
                (Some(pem), ConnectionAddr::TcpTls { .. }) => {
                    redis::Client::build_with_tls(info, redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) })
                }
                _ => redis::Client::open(info),
            };
            clients.push(client.map_err(|e| bad(e.to_string()))?);
        }
        Ok(clients)
    }
}

/// Whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// The server a URL names, for duplicate detection: host (case-insensitive) and port, or the
/// socket path. Two names for one host (`localhost` and `127.0.0.1`) are not detected.
fn address_of(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{}:{port}", host.to_ascii_lowercase())
        }
        ConnectionAddr::Unix(path) => format!("unix:{}", path.display()),
        other => format!("{other}"),
    }
}

/// The URL with its credentials masked, for error messages and logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The protocol parameters are impossible (empty server list, more than 32 servers, TTL 0
    /// or too small for the drift allowance, node timeout 0, empty retry delay range).
    Params(ParamsError),
    /// A server URL did not parse (credentials are masked in `url`).
    BadUrl { index: usize, url: String, reason: String },
    /// Two entries name the same server: it would count twice towards the quorum.
    DuplicateServer { first: usize, second: usize, address: String },
    /// The extension interval is 0, or so long that the lock would expire before it.
    ExtendInterval { interval_ms: u64, budget_ms: u64 },
    /// An extension round could not settle within one extension interval.
    NodeTimeoutTooLong { node_timeout_ms: u64, extend_interval_ms: u64 },
    /// The per-node timeout is not below the validity of a fresh lock: an acquire that waits
    /// for a slow node could never be valid.
    NodeTimeoutBeyondValidity { node_timeout_ms: u64, budget_ms: u64 },
    /// With the default extension every TTL/3, an extension round (up to the per-node timeout)
    /// could not settle before the next one is due: the TTL is too short for the node timeout.
    TtlTooShortToExtend { ttl_ms: u64, node_timeout_ms: u64 },
    /// Answers would be abandoned before the protocol stops waiting for them.
    IoTimeoutBelowNodeTimeout { io_timeout_ms: u64, node_timeout_ms: u64 },
    /// [`Fencing::Counter`] needs a single server: with more, the model finds no honest token.
    FencingNeedsOneServer { servers: usize },
}

impl From<ParamsError> for ConfigError {
    fn from(e: ParamsError) -> Self {
        ConfigError::Params(e)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Params(e) => e.fmt(f),
            ConfigError::BadUrl { index, url, reason } => {
                write!(f, "server {index} ({url:?}) is not a valid Redis URL: {reason}")
            }
            ConfigError::DuplicateServer { first, second, address } => write!(
                f,
                "servers {first} and {second} are the same server ({address}): it would count \
                 twice towards the quorum"
            ),
            ConfigError::ExtendInterval { interval_ms, budget_ms } => write!(
                f,
                "the extension interval ({interval_ms} ms) must be above 0 and below the \
                 validity of a fresh lock (TTL minus drift: {budget_ms} ms)"
            ),
            ConfigError::NodeTimeoutTooLong { node_timeout_ms, extend_interval_ms } => write!(
                f,
                "the per-node timeout ({node_timeout_ms} ms) must be below the extension \
                 interval ({extend_interval_ms} ms), or a lost lock could be reported late"
            ),
            ConfigError::NodeTimeoutBeyondValidity { node_timeout_ms, budget_ms } => write!(
                f,
                "the per-node timeout ({node_timeout_ms} ms) is not below the validity of a fresh lock \
                 (TTL minus drift: {budget_ms} ms): raise the TTL or lower the node timeout"
            ),
            ConfigError::TtlTooShortToExtend { ttl_ms, node_timeout_ms } => write!(
                f,
                "the TTL ({ttl_ms} ms) is too short for the per-node timeout ({node_timeout_ms} ms): a lock \
                 must be extendable every TTL/3, and one round may take the node timeout; use a TTL above \
                 {} ms or a shorter node timeout",
                node_timeout_ms.saturating_mul(3)
            ),
            ConfigError::IoTimeoutBelowNodeTimeout { io_timeout_ms, node_timeout_ms } => write!(
                f,
                "the I/O timeout ({io_timeout_ms} ms) is below the per-node timeout \
                 ({node_timeout_ms} ms): answers would be dropped before they could count"
            ),
            ConfigError::FencingNeedsOneServer { servers } => write!(
                f,
                "fencing tokens need a single lock server, not {servers}: per-node counters \
                 can give two holders equal tokens (model scenario redlock-incr-tokens)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        assert_eq!(redact("redis://user:secret@host:1/0"), "redis://***@host:1/0");
        assert_eq!(redact("redis://host:1"), "redis://host:1");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn addresses_ignore_case_scheme_and_database() {
        let addr = |url: &str| address_of(url.into_connection_info().unwrap().addr());
        assert_eq!(addr("redis://LocalHost:7000/1"), addr("rediss://localhost:7000/2"));
        assert_ne!(addr("redis://localhost:7000"), addr("redis://localhost:7001"));
    }
}

/// The warnings of a client: from its configuration, and from its servers as it meets them.
#[derive(Default)]
pub(crate) struct Warnings(std::sync::Mutex<Vec<Warning>>);

impl Warnings {
    pub(crate) fn new(known: Vec<Warning>) -> Warnings {
        Warnings(std::sync::Mutex::new(known))
    }

    pub(crate) fn add(&self, warning: Warning) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !list.contains(&warning) {
            tracing::warn!("{warning}");
            list.push(warning);
        }
    }

    pub(crate) fn list(&self) -> Vec<Warning> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
