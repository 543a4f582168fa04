//! The etcd lock (feature `etcd`): a key attached to a lease, created only if absent, its
//! create revision the fencing token. The rules are the core's ([`crate::lease_lock`]); this
//! driver carries out its requests on etcd-client, records and traces.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use redlock_client::etcd::EtcdClient;
//! use std::time::Duration;
//!
//! let locks = EtcdClient::builder(["http://127.0.0.1:2379", "http://127.0.0.1:22379"])
//!     .ttl(Duration::from_secs(10))
//!     .build()?;
//! let guard = locks.acquire("invoice-42").await?;   // waits for another holder's key to go
//! let token = guard.token();                          // the key's create revision
//! guard.release().await?;
//! let total = locks.with_lock("invoice-42", |lock| async move { 40 + 2 }).await?;
//! # Ok(()) }
//! ```
//!
//! Why this lock is the honest fence: etcd's revision only grows, and it is replicated by Raft,
//! so no member failure or leader change hands a token out twice (a single Redis counter does,
//! when it restarts without fsync or fails over: `fence-counter-restart`). The lock alone still
//! rests on timing, as any lease does: a holder paused past its lease keeps believing
//! (`etcd-lease`, violated in async; Jepsen's etcd 3.4.3 analysis). With the token checked by
//! the resource atomically with the write, stale writes are refused (`etcd-lease-revision`
//! holds in both modes).
//!
//! What etcd adds to the contract: leases are whole seconds (the TTL is rounded up, and etcd
//! raises a lease below its own minimum, 1.5 election timeouts rounded up to a second, 2 s by
//! default, silently); the validity counts the TTL you set, from before the lease was asked for,
//! so a longer lease only makes others wait longer. A leader change renews every lease to its
//! full TTL: again longer, never shorter.

use crate::client::clock::LocalClock;
use crate::client::error::{
    AcquireError, ExtendError, FencedError, LockError, LossReason, NodeOutcome, NodeOutcomes, ReleaseError, Released,
};
use crate::client::fence::{FencedResource, Read, Write};
use crate::client::holding::{fenced_read, fenced_write, Holding, Renewable};
use crate::client::keep_alive::LockContext;
use crate::client::recorder::Recorder;
use crate::client::value::LockValue;
use crate::event::{ClientId, Event, NodeId};
use crate::lease_lock::{LeaseInput, LeaseLockState, LeaseOutput, LeaseParams, LeaseParamsError};
use etcd_client::{Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Why an etcd lock client could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtcdConfigError {
    /// No endpoint was given.
    NoEndpoints,
    /// A TTL under one second: etcd's leases are whole seconds, and none is shorter than its
    /// minimum (1.5 election timeouts, 2 s by default).
    TtlBelowEtcdMinimum { ttl_ms: u64 },
    /// The timing parameters are impossible.
    Params(LeaseParamsError),
}

impl fmt::Display for EtcdConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtcdConfigError::NoEndpoints => write!(f, "no etcd endpoint given"),
            EtcdConfigError::TtlBelowEtcdMinimum { ttl_ms } => write!(
                f,
                "a lease TTL of {ttl_ms} ms is below etcd's minimum: leases are whole seconds (at least 1 s, and \
                 etcd raises any below 1.5 election timeouts, 2 s by default)"
            ),
            EtcdConfigError::Params(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EtcdConfigError {}

/// Builds an [`EtcdClient`]. Defaults: TTL 10 s, drift allowance 1% + 2 ms, 2 s per request
/// (a fifth of the TTL if that is shorter),
/// acquires wait up to 10 s for another holder, keep-alive every TTL/3.
#[derive(Debug)]
pub struct EtcdClientBuilder {
    endpoints: Vec<String>,
    ttl: Duration,
    request_timeout: Option<Duration>,
    acquire_timeout: Duration,
    client_id: ClientId,
    recorder: Option<Recorder>,
    #[cfg(feature = "fault-injection")]
    pause_hook: Option<crate::client::fault::PauseHook>,
}

impl EtcdClientBuilder {
    /// The lease's time to live (rounded up to whole seconds in etcd).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long one request to etcd may take before it counts as failed (default: 2 s, or a
    /// fifth of the TTL if that is shorter).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// How long an acquire waits for another holder's key to go before it gives up.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// The id this client carries in its history records (default: the process id).
    pub fn client_id(mut self, id: ClientId) -> Self {
        self.client_id = id;
        self
    }

    /// Records the client's history (off by default).
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

    /// Checks everything and builds the client. No connection is opened yet (etcd-client dials
    /// lazily): an unreachable cluster shows on the first acquire, as an error that says so.
    pub fn build(self) -> Result<EtcdClient, EtcdConfigError> {
        if self.endpoints.is_empty() {
            return Err(EtcdConfigError::NoEndpoints);
        }
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let ttl_ms = millis(self.ttl);
        if ttl_ms < 1000 {
            return Err(EtcdConfigError::TtlBelowEtcdMinimum { ttl_ms });
        }
        let drift_ms = ttl_ms.div_ceil(100).saturating_add(2);
        let params = LeaseParams {
            ttl_ms,
            drift_ms,
            request_timeout_ms: millis(self.request_timeout.unwrap_or(Duration::from_secs(2).min(self.ttl / 5))),
            acquire_timeout_ms: millis(self.acquire_timeout),
        }
        .validate()
        .map_err(EtcdConfigError::Params)?;
        Ok(EtcdClient {
            inner: Arc::new(EtcdInner {
                endpoints: self.endpoints,
                connection: Arc::new(tokio::sync::OnceCell::new()),
                params,
                clock: LocalClock::new(),
                client_id: self.client_id,
                recorder: self.recorder.map(Arc::new),
                #[cfg(feature = "fault-injection")]
                pause_hook: self.pause_hook,
            }),
        })
    }
}

/// An etcd lock client. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct EtcdClient {
    inner: Arc<EtcdInner>,
}

/// The checked configuration and the connection; cloned (cheaply) for another client id.
#[derive(Clone)]
struct EtcdInner {
    endpoints: Vec<String>,
    /// Shared by the clones of a client, whatever their ids.
    connection: Arc<tokio::sync::OnceCell<etcd_client::Client>>,
    params: LeaseParams,
    clock: LocalClock,
    client_id: ClientId,
    recorder: Option<Arc<Recorder>>,
    #[cfg(feature = "fault-injection")]
    pause_hook: Option<crate::client::fault::PauseHook>,
}

impl EtcdInner {
    /// The connection, opened on first use (etcd-client dials lazily, per request).
    async fn connection(&self) -> Result<etcd_client::Client, etcd_client::Error> {
        let timeout = Duration::from_millis(self.params.request_timeout_ms);
        self.connection
            .get_or_try_init(|| async {
                let options = etcd_client::ConnectOptions::new().with_connect_timeout(timeout).with_timeout(timeout);
                etcd_client::Client::connect(&self.endpoints, Some(options)).await
            })
            .await
            .cloned()
    }
}

impl EtcdClient {
    /// Starts configuring a client for the etcd cluster at `endpoints` (`http://host:port`).
    pub fn builder<I, S>(endpoints: I) -> EtcdClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EtcdClientBuilder {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ttl: Duration::from_secs(10),
            request_timeout: None,
            acquire_timeout: Duration::from_secs(10),
            client_id: ClientId(std::process::id()),
            recorder: None,
            #[cfg(feature = "fault-injection")]
            pause_hook: None,
        }
    }

    /// The lock's parameters in force.
    pub fn params(&self) -> &LeaseParams {
        &self.inner.params
    }

    /// This client's id in history records.
    pub fn client_id(&self) -> ClientId {
        self.inner.client_id
    }

    /// The same client (same connection and recorder) under another id.
    pub fn with_client_id(&self, id: ClientId) -> EtcdClient {
        let mut inner = EtcdInner::clone(&self.inner);
        inner.client_id = id;
        EtcdClient { inner: Arc::new(inner) }
    }

    /// Acquires the lock named `resource`: a lease, then the key with it if it is absent;
    /// otherwise waits for the holder's key to go, up to the acquire timeout. If this future is
    /// dropped, what it made (a lease, a key) is revoked.
    pub async fn acquire(&self, resource: &str) -> Result<EtcdGuard, AcquireError> {
        EtcdLock::acquire(self.inner.clone(), resource).await.map(|lock| EtcdGuard { lock })
    }

    /// Acquires `resource`, runs `work` while keeping the lease alive every TTL/3, and releases
    /// it. If the lease is lost (etcd says it is gone, or the validity runs out), `work`'s
    /// future is dropped at once and the result is [`LockError::Lost`].
    pub async fn with_lock<F, Fut, T>(&self, resource: &str, work: F) -> Result<T, LockError>
    where
        F: FnOnce(LockContext) -> Fut,
        Fut: Future<Output = T>,
    {
        let lock = EtcdLock::acquire(self.inner.clone(), resource).await?;
        let interval = Duration::from_millis(self.inner.params.keep_alive_interval_ms());
        crate::client::keep_alive::with_lock(lock, interval, work).await
    }
}

impl fmt::Debug for EtcdClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdClient").field("params", &self.inner.params).field("client_id", &self.inner.client_id).finish_non_exhaustive()
    }
}

/// What the guard, the keeper and the user's context share.
struct EtcdShared {
    inner: Arc<EtcdInner>,
    resource: String,
    value: LockValue,
    core: Mutex<Core>,
}

struct Core {
    state: LeaseLockState,
    validity_ms: u64,
    token: Option<u64>,
    loss: Option<LossReason>,
    /// What etcd answered last.
    outcome: Option<NodeOutcome>,
}

impl EtcdShared {
    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, event: Event) {
        if let Some(recorder) = &self.inner.recorder {
            recorder.record(&self.resource, event);
        }
    }

    /// Feeds the core at the client's clock now, records what the step showed (the crate's one
    /// observer) and traces its decisions.
    fn feed(&self, input: LeaseInput) -> Vec<LeaseOutput> {
        let now = self.inner.clock.now();
        let mut core = self.core();
        let before = core.state;
        let mut out = Vec::new();
        core.state.handle(&self.inner.params, now, input, &mut out);
        let client = self.inner.client_id;
        if self.inner.recorder.is_some() {
            let mut events = Vec::new();
            crate::observe::observe_lease(client, &before, input, &out, &mut events);
            // What the store did, as its answer shows: the key set (or renewed) with the lease.
            let ttl_ms = Some(self.inner.params.ttl_ms);
            match input {
                LeaseInput::Created { .. } if matches!(before.phase, crate::lease_lock::LeasePhase::Creating { .. }) => {
                    events.insert(0, Event::KeySet { node: NodeId(0), owner: client, ttl_ms })
                }
                LeaseInput::KeptAlive { alive: true } => events.insert(0, Event::KeySet { node: NodeId(0), owner: client, ttl_ms }),
                _ => {}
            }
            for event in events {
                self.record(event);
            }
        }
        for output in &out {
            match *output {
                LeaseOutput::Acquired { validity_ms, token, .. } => {
                    tracing::info!(resource = %self.resource, validity_ms, token, "acquired (etcd)");
                    core.validity_ms = validity_ms;
                    core.token = u64::try_from(token).ok();
                }
                LeaseOutput::Extended { validity_ms, .. } => core.validity_ms = validity_ms,
                LeaseOutput::ExtendFailed { until } => {
                    tracing::warn!(remaining_ms = until.since(now), "keep-alive failed; the lock stays valid until then")
                }
                LeaseOutput::Lost { gone } => {
                    let reason = if gone { LossReason::Refused { nodes: vec![0] } } else { LossReason::Expired };
                    tracing::warn!(%reason, "lock lost (etcd)");
                    core.loss = Some(reason);
                }
                _ => {}
            }
        }
        out
    }
}

impl Holding for EtcdShared {
    fn resource(&self) -> &str {
        &self.resource
    }

    fn token(&self) -> Option<u64> {
        self.core().token
    }

    fn holder(&self) -> &str {
        self.value.as_str()
    }

    fn valid_until(&self) -> Option<Instant> {
        self.core().state.held_until().map(|until| self.inner.clock.instant(until))
    }

    fn validity(&self) -> Duration {
        Duration::from_millis(self.core().validity_ms)
    }

    fn loss(&self) -> Option<LossReason> {
        self.core().loss.clone()
    }

    fn client(&self) -> ClientId {
        self.inner.client_id
    }

    fn record(&self, event: Event) {
        EtcdShared::record(self, event)
    }

    #[cfg(feature = "fault-injection")]
    fn pause_point(&self, op: crate::client::fault::FencedOp) {
        if let Some(hook) = &self.inner.pause_hook {
            hook.call(&crate::client::fault::PausePoint { client: self.inner.client_id, resource: &self.resource, op });
        }
    }
}

type Request = Pin<Box<dyn Future<Output = (LeaseInput, NodeOutcome)> + Send>>;

/// One etcd lock being acquired or held. Dropping it revokes its lease (and deletes its key).
struct EtcdLock {
    shared: Arc<EtcdShared>,
    runtime: tokio::runtime::Handle,
}

impl EtcdLock {
    async fn acquire(inner: Arc<EtcdInner>, resource: &str) -> Result<EtcdLock, AcquireError> {
        if resource.is_empty() {
            return Err(AcquireError::EmptyResource);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(AcquireError::NoRuntime);
        };
        let core = Core { state: LeaseLockState::new(), validity_ms: 0, token: None, loss: None, outcome: None };
        let shared = Arc::new(EtcdShared { inner, resource: resource.to_string(), value: LockValue::random(), core: Mutex::new(core) });
        let lock = EtcdLock { shared, runtime };
        let outputs = lock.shared.feed(LeaseInput::Acquire);
        match lock.settle(outputs).await {
            LeaseOutput::Acquired { .. } => Ok(lock),
            _ => {
                let core = lock.shared.core();
                Err(AcquireError::LeaseNotAcquired { outcome: core.outcome.clone().unwrap_or(NodeOutcome::TimedOut) })
            }
        }
    }

    /// Carries out the core's requests and feeds the answers and deadlines back until it
    /// decides (acquired, not acquired, extended, extension failed, lost).
    async fn settle(&self, mut outputs: Vec<LeaseOutput>) -> LeaseOutput {
        let clock = self.shared.inner.clock;
        let mut request: Option<Request> = None;
        // A watch that outlasts the acquire's deadline timed nothing out: the key stayed taken.
        let mut watching = false;
        let mut deadline = Instant::now() + Duration::from_millis(self.shared.inner.params.request_timeout_ms);
        loop {
            for output in outputs.drain(..) {
                match output {
                    LeaseOutput::WakeAt { at } => deadline = clock.instant(at),
                    LeaseOutput::RevokeLease { .. } | LeaseOutput::DeleteKey { .. } => self.spawn_cleanup(output),
                    LeaseOutput::GrantLease
                    | LeaseOutput::CreateIfAbsent { .. }
                    | LeaseOutput::WatchDeletion { .. }
                    | LeaseOutput::SendKeepAlive { .. } => {
                        watching = matches!(output, LeaseOutput::WatchDeletion { .. });
                        if !watching {
                            // A watch keeps the refusal that sent the client to wait.
                            self.shared.core().outcome = None;
                        }
                        request = Some(self.request(output));
                    }
                    decided => return decided,
                }
            }
            let input = match request.as_mut() {
                Some(pending) => tokio::select! {
                    (input, outcome) = pending => {
                        request = None;
                        self.shared.core().outcome = Some(outcome);
                        input
                    }
                    () = tokio::time::sleep_until(deadline.into()) => LeaseInput::Timeout,
                },
                None => {
                    tokio::time::sleep_until(deadline.into()).await;
                    LeaseInput::Timeout
                }
            };
            if input == LeaseInput::Timeout && request.is_some() && !watching {
                self.shared.core().outcome.get_or_insert(NodeOutcome::TimedOut);
            }
            outputs = self.shared.feed(input);
            if outputs.is_empty() && input == LeaseInput::Timeout {
                // A wake that changed nothing (a timer ahead of its deadline): wait on.
                deadline = deadline.max(Instant::now() + Duration::from_millis(1));
            }
        }
    }

    /// One request to etcd, answered as the core's input with what etcd said.
    fn request(&self, output: LeaseOutput) -> Request {
        let shared = self.shared.clone();
        Box::pin(async move {
            let inner = &shared.inner;
            let client = match inner.connection().await {
                Ok(client) => client,
                Err(e) => return (LeaseInput::Failed, classify(&e)),
            };
            let key = shared.resource.as_str();
            match output {
                LeaseOutput::GrantLease => {
                    let seconds = i64::try_from(inner.params.ttl_ms.div_ceil(1000)).unwrap_or(i64::MAX);
                    match resend(&shared, || {
                        let mut c = client.clone();
                        async move { c.lease_grant(seconds, None).await }
                    })
                    .await
                    {
                        Ok(grant) => (LeaseInput::LeaseGranted { lease: grant.id() }, NodeOutcome::Ok),
                        Err(e) => (LeaseInput::Failed, classify(&e)),
                    }
                }
                LeaseOutput::CreateIfAbsent { lease } => {
                    let txn = Txn::new()
                        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(key, shared.value.as_str(), Some(PutOptions::new().with_lease(lease)))])
                        .or_else([TxnOp::get(key, None)]);
                    match resend(&shared, || {
                        let (mut c, txn) = (client.clone(), txn.clone());
                        async move { c.txn(txn).await }
                    })
                    .await
                    {
                        Ok(r) => {
                            let revision = r.header().map_or(0, |h| h.revision());
                            if r.succeeded() {
                                (LeaseInput::Created { revision }, NodeOutcome::Ok)
                            } else {
                                let taken = r.op_responses().into_iter().find_map(|op| match op {
                                    TxnOpResponse::Get(g) => g.header().map(|h| h.revision()),
                                    _ => None,
                                });
                                (LeaseInput::Taken { revision: taken.unwrap_or(revision) }, NodeOutcome::Refused)
                            }
                        }
                        Err(e) => (LeaseInput::Failed, classify(&e)),
                    }
                }
                LeaseOutput::WatchDeletion { after } => {
                    let options = WatchOptions::new().with_start_revision(after.saturating_add(1));
                    let mut stream = match resend(&shared, || {
                        let (mut c, options) = (client.clone(), options.clone());
                        async move { c.watch(key, Some(options)).await }
                    })
                    .await
                    {
                        Ok(stream) => stream,
                        Err(e) => return (LeaseInput::Failed, classify(&e)),
                    };
                    loop {
                        match stream.message().await {
                            Ok(Some(r)) if r.canceled() => {
                                // Compacted past our start: look again (the core retries the create).
                                return (LeaseInput::Freed, NodeOutcome::Ok);
                            }
                            Ok(Some(r)) if r.events().iter().any(|e| e.event_type() == EventType::Delete) => {
                                return (LeaseInput::Freed, NodeOutcome::Ok)
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => return (LeaseInput::Failed, NodeOutcome::ConnectionFailed("the watch ended".into())),
                            Err(e) => return (LeaseInput::Failed, classify(&e)),
                        }
                    }
                }
                LeaseOutput::SendKeepAlive { lease, token } => {
                    match resend(&shared, || {
                        let mut c = client.clone();
                        async move { c.lease_keep_alive(lease).await }
                    })
                    .await
                    {
                        Ok(_) => {}
                        Err(etcd_client::Error::LeaseKeepAliveError(_)) => {
                            return (LeaseInput::KeptAlive { alive: false }, NodeOutcome::Refused)
                        }
                        Err(e) => return (LeaseInput::Failed, classify(&e)),
                    }
                    // A live lease is not enough: the key may have been deleted by hand (and
                    // taken by another client) while the lease lived on.
                    let ours = Txn::new().when([Compare::create_revision(key, CompareOp::Equal, token)]);
                    match resend(&shared, || {
                        let (mut c, ours) = (client.clone(), ours.clone());
                        async move { c.txn(ours).await }
                    })
                    .await
                    {
                        Ok(r) if r.succeeded() => (LeaseInput::KeptAlive { alive: true }, NodeOutcome::Ok),
                        Ok(_) => (LeaseInput::KeptAlive { alive: false }, NodeOutcome::Refused),
                        Err(e) => (LeaseInput::Failed, classify(&e)),
                    }
                }
                _ => (LeaseInput::Failed, NodeOutcome::ServerError("not a request".into())),
            }
        })
    }

    /// A delete or revoke that nothing waits for: it goes out on the runtime, and what it did
    /// is recorded.
    fn spawn_cleanup(&self, output: LeaseOutput) {
        let shared = self.shared.clone();
        self.runtime.spawn(async move { cleanup(&shared, output).await });
    }

    /// One keep-alive round: `Extended`, `ExtendFailed` or `Lost`.
    async fn keep_alive(&mut self) -> LeaseOutput {
        let outputs = self.shared.feed(LeaseInput::KeepAlive);
        if outputs.is_empty() {
            return LeaseOutput::Lost { gone: false };
        }
        self.settle(outputs).await
    }

    /// Deletes the key (if still ours) and revokes the lease, waiting for both.
    async fn release(self) -> Result<Released, ReleaseError> {
        let was_valid = self.shared.remaining() > Duration::ZERO;
        let outputs = self.shared.feed(LeaseInput::Release);
        let mut outcomes = NodeOutcomes(vec![Some(NodeOutcome::Ok)]);
        let mut gone = Vec::new();
        for output in outputs {
            match cleanup(&self.shared, output).await {
                Some(NodeOutcome::Refused) => gone = vec![0],
                Some(NodeOutcome::Ok) | None => {}
                Some(other) => outcomes.0[0] = Some(other),
            }
        }
        // The guard's drop finds the lock released: it has nothing left to do.
        if !was_valid {
            Err(ReleaseError::Expired)
        } else if outcomes.0[0] != Some(NodeOutcome::Ok) {
            Err(ReleaseError::Unconfirmed { nodes: outcomes })
        } else {
            Ok(Released { gone, nodes: 1 })
        }
    }
}

/// Carries out a delete or a revoke; `Some(Refused)` when the key was not ours any more.
async fn cleanup(shared: &EtcdShared, output: LeaseOutput) -> Option<NodeOutcome> {
    let timeout = Duration::from_millis(shared.inner.params.request_timeout_ms);
    let work = async {
        let client = match shared.inner.connection().await {
            Ok(client) => client,
            Err(e) => return Some(classify(&e)),
        };
        let client_id = shared.inner.client_id;
        match output {
            LeaseOutput::DeleteKey { token } => {
                let key = shared.resource.as_str();
                let txn = Txn::new().when([Compare::create_revision(key, CompareOp::Equal, token)]).and_then([TxnOp::delete(key, None)]);
                match resend(shared, || {
                    let (mut c, txn) = (client.clone(), txn.clone());
                    async move { c.txn(txn).await }
                })
                .await
                {
                    Ok(r) if r.succeeded() => {
                        shared.record(Event::KeyDeleted { node: NodeId(0), owner: client_id, by: client_id });
                        Some(NodeOutcome::Ok)
                    }
                    Ok(_) => {
                        shared.record(Event::Refused { client: client_id, node: NodeId(0) });
                        Some(NodeOutcome::Refused)
                    }
                    Err(e) => Some(classify(&e)),
                }
            }
            LeaseOutput::RevokeLease { lease } => match resend(shared, || {
                let mut c = client.clone();
                async move { c.lease_revoke(lease).await }
            })
            .await
            {
                Ok(_) => Some(NodeOutcome::Ok),
                // Gone already (expired): nothing left to revoke.
                Err(etcd_client::Error::GRpcStatus(s)) if s.code() == tonic::Code::NotFound => None,
                Err(e) => Some(classify(&e)),
            },
            _ => None,
        }
    };
    tokio::time::timeout(timeout, work).await.unwrap_or(Some(NodeOutcome::TimedOut))
}

/// Whether a failed request surely never reached a member (its connection could not be
/// opened): then it can go again, to another member, without being carried out twice.
fn unsent(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            s.code() == tonic::Code::Unavailable && (s.message().contains("connect") || s.message().contains("refused"))
        }
        etcd_client::Error::TransportError(_) => true,
        _ => false,
    }
}

/// Runs `request` again while it fails before reaching a member (a killed member stays in
/// etcd-client's endpoint list until its connection is retried); the caller's deadline bounds it.
/// Each such failure is kept as the last outcome, so a deadline that ends the tries reports
/// the unreachable cluster rather than a bare timeout.
async fn resend<T, F, Fut>(shared: &EtcdShared, mut request: F) -> Result<T, etcd_client::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    loop {
        match request().await {
            Err(e) if unsent(&e) => {
                shared.core().outcome = Some(classify(&e));
                tokio::time::sleep(RESEND_PAUSE).await
            }
            done => return done,
        }
    }
}

/// The pause before a request that never left goes again.
const RESEND_PAUSE: Duration = Duration::from_millis(20);

/// What an etcd-client error says about the cluster, for errors a user can act on.
fn classify(e: &etcd_client::Error) -> NodeOutcome {
    use tonic::Code as code;
    match e {
        etcd_client::Error::GRpcStatus(s) => match s.code() {
            code::Cancelled | code::DeadlineExceeded => NodeOutcome::TimedOut,
            code::Unauthenticated | code::PermissionDenied => NodeOutcome::AuthenticationFailed(s.message().to_string()),
            code::Unavailable if s.message().contains("refused") => NodeOutcome::ConnectionRefused,
            code::Unavailable => NodeOutcome::ConnectionFailed(s.message().to_string()),
            _ => NodeOutcome::ServerError(s.message().to_string()),
        },
        etcd_client::Error::TransportError(t) => NodeOutcome::ConnectionFailed(t.to_string()),
        other => NodeOutcome::ServerError(other.to_string()),
    }
}

impl Renewable for EtcdLock {
    fn holding(&self) -> Arc<dyn Holding> {
        self.shared.clone()
    }

    async fn renew(&mut self) {
        self.keep_alive().await;
    }

    fn expire_if_due(&mut self) {
        let outputs = self.shared.feed(LeaseInput::Timeout);
        for output in outputs {
            if matches!(output, LeaseOutput::RevokeLease { .. } | LeaseOutput::DeleteKey { .. }) {
                self.spawn_cleanup(output);
            }
        }
    }

    async fn release(self) {
        if let Err(e) = EtcdLock::release(self).await {
            tracing::warn!(error = %e, "release after the critical section");
        }
    }
}

impl Drop for EtcdLock {
    /// A dropped acquire or guard revokes its lease, which deletes its key.
    fn drop(&mut self) {
        for output in self.shared.feed(LeaseInput::Release) {
            self.spawn_cleanup(output);
        }
    }
}

/// A held etcd lock. Dropping it revokes the lease in the background; [`release`](Self::release)
/// does the same and waits for etcd.
pub struct EtcdGuard {
    lock: EtcdLock,
}

impl EtcdGuard {
    /// The lock's name (its key).
    pub fn resource(&self) -> &str {
        &self.lock.shared.resource
    }

    /// The fencing token: the key's create revision (etcd's revisions only grow).
    pub fn token(&self) -> Option<u64> {
        Holding::token(&*self.lock.shared)
    }

    /// The validity of the latest grant or keep-alive, as measured then.
    pub fn validity(&self) -> Duration {
        Holding::validity(&*self.lock.shared)
    }

    /// The validity left now; zero once it has ended.
    pub fn remaining(&self) -> Duration {
        Holding::remaining(&*self.lock.shared)
    }

    /// Keeps the lease alive: the new validity. A lease that etcd says is gone is lost at once
    /// ([`ExtendError::Refused`]); a keep-alive that fails keeps the old validity.
    pub async fn extend(&mut self) -> Result<Duration, ExtendError> {
        match self.lock.keep_alive().await {
            LeaseOutput::Extended { validity_ms, .. } => Ok(Duration::from_millis(validity_ms)),
            LeaseOutput::ExtendFailed { .. } => Err(ExtendError::NoQuorum {
                remaining: self.remaining(),
                nodes: NodeOutcomes(vec![self.lock.shared.core().outcome.clone()]),
            }),
            LeaseOutput::Lost { gone: true } => Err(ExtendError::Refused { nodes: vec![0] }),
            _ => Err(ExtendError::Expired),
        }
    }

    /// Deletes the key (if still ours) and revokes the lease.
    pub async fn release(self) -> Result<Released, ReleaseError> {
        self.lock.release().await
    }

    /// Reads a fenced resource presenting this lock's token (and records it).
    pub async fn read<R: FencedResource>(&self, resource: &R) -> Result<Read, FencedError<R::Error>> {
        fenced_read(&*self.lock.shared, resource).await
    }

    /// Writes a fenced resource with this lock's token (and records the outcome).
    pub async fn write<R: FencedResource>(&self, resource: &R, value: u64) -> Result<Write, FencedError<R::Error>> {
        fenced_write(&*self.lock.shared, resource, value).await
    }
}

impl fmt::Debug for EtcdGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdGuard")
            .field("resource", &self.resource())
            .field("remaining", &self.remaining())
            .field("token", &self.token())
            .finish()
    }
}
