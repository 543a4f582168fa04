//! The client: a set of lock servers and the settings every lock on them shares.

use crate::clock::LocalClock;
use crate::config::{ClientBuilder, Config, Fencing, Warning};
use crate::error::{AcquireError, LockError};
use crate::event::ClientId;
use crate::guard::Guard;
use crate::keep_alive::{self, LockContext};
use crate::lock::Lock;
use crate::node::Node;
use crate::params::Params;
use crate::recorder::Recorder;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A Redlock client. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) params: Params,
    pub(crate) nodes: Vec<Arc<Node>>,
    pub(crate) clock: LocalClock,
    pub(crate) extend_interval: Duration,
    pub(crate) fencing: Fencing,
    pub(crate) client_id: ClientId,
    pub(crate) recorder: Option<Arc<Recorder>>,
    pub(crate) warnings: Arc<Warnings>,
    #[cfg(feature = "fault-injection")]
    pub(crate) pause_hook: Option<crate::fault::PauseHook>,
}

/// The warnings of a client: from its configuration, and from its servers as it meets them.
#[derive(Default)]
pub(crate) struct Warnings(std::sync::Mutex<Vec<Warning>>);

impl Warnings {
    pub(crate) fn add(&self, warning: Warning) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !list.contains(&warning) {
            tracing::warn!("{warning}");
            list.push(warning);
        }
    }

    fn list(&self) -> Vec<Warning> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Client {
    /// Starts configuring a client for the lock servers at `servers` (see [`ClientBuilder`]).
    pub fn builder<I, S>(servers: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClientBuilder::new(servers)
    }

    pub(crate) fn from_config(config: Config) -> Client {
        let warnings = Arc::new(Warnings(std::sync::Mutex::new(config.warnings)));
        let nodes = config
            .servers
            .into_iter()
            .enumerate()
            .map(|(index, s)| Arc::new(Node::new(s, config.io_timeout, index, warnings.clone())))
            .collect();
        Client {
            inner: Arc::new(ClientInner {
                params: config.params,
                nodes,
                clock: LocalClock::new(),
                extend_interval: Duration::from_millis(config.extend_interval_ms),
                fencing: config.fencing,
                client_id: config.client_id,
                recorder: config.recorder.map(Arc::new),
                warnings,
                #[cfg(feature = "fault-injection")]
                pause_hook: config.pause_hook,
            }),
        }
    }

    /// What weakens this client's promises: its configuration's warnings (an even number of
    /// servers), and what its servers showed once it connected to them (a `maxmemory-policy`
    /// that may evict lock keys). Each is also traced at `warn` when it is found.
    pub fn warnings(&self) -> Vec<Warning> {
        self.inner.warnings.list()
    }

    /// The protocol parameters in force.
    pub fn params(&self) -> &Params {
        &self.inner.params
    }

    /// This client's id in history records.
    pub fn client_id(&self) -> ClientId {
        self.inner.client_id
    }

    /// The same client (same connections, same recorder) under another id: give each task that
    /// contends for a lock its own id, so that an audit of the history tells them apart.
    pub fn with_client_id(&self, id: ClientId) -> Client {
        let i = &self.inner;
        Client {
            inner: Arc::new(ClientInner {
                params: i.params.clone(),
                nodes: i.nodes.clone(),
                clock: i.clock,
                extend_interval: i.extend_interval,
                fencing: i.fencing,
                client_id: id,
                recorder: i.recorder.clone(),
                warnings: i.warnings.clone(),
                #[cfg(feature = "fault-injection")]
                pause_hook: i.pause_hook.clone(),
            }),
        }
    }

    /// Acquires the lock named `resource`: `SET resource value NX PX ttl` on every server at
    /// once, granted when a quorum said OK with validity left, retried with jitter otherwise.
    ///
    /// If this future is dropped before it completes, the key is released on every server.
    pub async fn acquire(&self, resource: &str) -> Result<Guard, AcquireError> {
        Lock::acquire(self.inner.clone(), resource).await.map(Guard::new)
    }

    /// Acquires `resource`, runs `work` while extending the lock in the background, and
    /// releases it. If the lock is lost, `work`'s future is dropped at once and the result is
    /// [`LockError::Lost`]; `work` can also watch [`LockContext::lost`].
    pub async fn with_lock<F, Fut, T>(&self, resource: &str, work: F) -> Result<T, LockError>
    where
        F: FnOnce(LockContext) -> Fut,
        Fut: Future<Output = T>,
    {
        let lock = Lock::acquire(self.inner.clone(), resource).await?;
        keep_alive::with_lock(lock, self.inner.extend_interval, work).await
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("params", &self.inner.params).field("client_id", &self.inner.client_id).finish_non_exhaustive()
    }
}
