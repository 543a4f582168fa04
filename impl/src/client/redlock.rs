//! The client: a set of lock servers and the settings every lock on them shares.

use crate::client::config::{ClientBuilder, Config, ConfigError, Warning};
use crate::client::error::{AcquireError, LockError};
use crate::client::guard::Guard;
use crate::client::inner::ClientInner;
use crate::client::keep_alive::{self, LockContext};
use crate::client::lock::Lock;
use crate::event::ClientId;
use crate::params::Params;
use std::future::Future;
use std::sync::Arc;

/// A Redlock client. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
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

    fn from_config(config: Config) -> Client {
        Client { inner: Arc::new(ClientInner::new(config)) }
    }

    /// What weakens this client's promises: its configuration's warnings (an even number of
    /// servers), and what its servers showed once it connected to them (a `maxmemory-policy`
    /// that may evict lock keys). Each is also traced at `warn` when it is found.
    pub fn warnings(&self) -> Vec<Warning> {
        self.inner.warnings.list()
    }

    /// The protocol parameters in force.
    pub fn params(&self) -> &Params {
        &self.inner.config.params
    }

    /// This client's id in history records.
    pub fn client_id(&self) -> ClientId {
        self.inner.config.client_id
    }

    /// The same client (same connections, same recorder) under another id: give each task that
    /// contends for a lock its own id, so that an audit of the history tells them apart.
    pub fn with_client_id(&self, id: ClientId) -> Client {
        let mut inner = ClientInner::clone(&self.inner);
        inner.config.client_id = id;
        Client { inner: Arc::new(inner) }
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
        keep_alive::with_lock(lock, self.inner.config.extend_interval, work).await
    }
}

impl ClientBuilder {
    /// Checks everything and builds the client. No connection is opened yet.
    ///
    /// ```
    /// use redlock_client::{params::ParamsError, Client, ConfigError, Fencing};
    /// use std::time::Duration;
    ///
    /// let servers = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379"];
    /// let client = Client::builder(servers)
    ///     .ttl(Duration::from_secs(30))
    ///     .node_timeout(Duration::from_millis(20))
    ///     .retries(5)
    ///     .build()?;
    /// assert_eq!(client.params().quorum(), 2);
    ///
    /// let e = Client::builder(servers).ttl(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(e, ConfigError::Params(ParamsError::ZeroTtl));
    /// let e = Client::builder(servers).fencing(Fencing::Counter).build().unwrap_err();
    /// assert_eq!(e, ConfigError::FencingNeedsOneServer { servers: 3 });
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn build(self) -> Result<Client, ConfigError> {
        self.check().map(Client::from_config)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("params", &self.inner.config.params)
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}
