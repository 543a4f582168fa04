//! The driver of one lock: it feeds the protocol core with the client's clock, carries out the
//! core's outputs through the lanes, and records and traces what happened. No protocol rule is
//! written here: quorum, validity, retries, release after failure and loss are the core's.

use crate::client::commands::LockKey;
use crate::client::config::{Fencing, FENCE_KEY_SUFFIX};
use crate::client::error::{AcquireError, LossReason, NodeOutcome, NodeOutcomes, ReleaseError, Released};
use crate::client::holding::{Holding, Renewable};
use crate::client::ident::Ident;
use crate::client::inner::ClientInner;
use crate::client::lane::{Answer, Lanes};
use crate::client::value::LockValue;
use crate::event::{ClientId, Event, NodeId};
use crate::protocol::{Input, LockState, Loss, NodeSet, Output};
use crate::time::LocalMillis;
use rand::Rng;
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;

/// The protocol state of one lock.
struct Core {
    state: LockState,
    /// The validity of the latest grant or extension, when it was decided.
    validity_ms: u64,
    /// The token of the grant; it stays with the holder after a loss, for the resource to judge.
    token: Option<u64>,
    /// Why the lock was lost, once it was.
    loss: Option<LossReason>,
}

/// Feeds one input observed before local time `now` to the lock's core, appends its outputs to
/// `outputs`, and queues the requests among them on the lanes: the one path from the lock to
/// the core and on to the servers.
fn feed(shared: &Shared, lanes: &mut Lanes, input: Input, now: LocalMillis, outputs: &mut Vec<Output>) {
    let first = outputs.len();
    shared.feed(input, now, outputs);
    lanes.send(&outputs[first..]);
}

/// What the guard, the extender and the user's [`LockContext`](crate::LockContext) share.
pub(crate) struct Shared {
    client: Arc<ClientInner>,
    pub(crate) ident: Arc<Ident>,
    core: Mutex<Core>,
}

impl Shared {
    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Feeds one input to the core at local time `now`, a reading of the client's clock taken
    /// after the input happened; records and traces what the core decided, and appends every
    /// output to `all` (the requests for [`Lanes::send`] to queue).
    pub(crate) fn feed(&self, input: Input, now: LocalMillis, all: &mut Vec<Output>) {
        let mut core = self.core();
        let first = all.len();
        let before = core.state;
        core.state.handle(&self.client.config.params, now, input, all);
        let out = &all[first..];
        let ident = &self.ident;
        let _span = ident.span.enter();
        // Record before sending, so that a server's step is never stamped before its cause.
        if ident.recorder.is_some() {
            let mut events = Vec::new();
            crate::observe::observe(ident.client, &self.client.config.params, &before, input, out, None, &mut events);
            for event in events {
                ident.record(event);
            }
        }
        if input == Input::Release && !out.is_empty() {
            tracing::debug!("releasing on every node");
        }
        if out.iter().any(|o| matches!(o, Output::SendAcquire { .. })) {
            tracing::debug!(attempt = core.state.attempts, "acquire attempt");
        }
        for output in out {
            match *output {
                Output::SendAcquire { .. } | Output::SendExtend { .. } | Output::SendRelease { .. } | Output::WakeAt { .. } => {}
                Output::RetryAfter { .. } | Output::Failed => {
                    tracing::debug!(attempt = core.state.attempts, "attempt failed");
                }
                Output::Acquired { validity_ms, token, .. } => {
                    tracing::info!(validity_ms, ?token, attempt = core.state.attempts, "acquired");
                    (core.validity_ms, core.token) = (validity_ms, token);
                }
                Output::Extended { validity_ms, .. } => {
                    tracing::debug!(validity_ms, "extended");
                    core.validity_ms = validity_ms;
                }
                Output::ExtendFailed { until } => {
                    let remaining_ms = until.since(self.client.clock.now());
                    tracing::warn!(remaining_ms, "extension failed (no majority refused it); the lock stays valid until then");
                }
                Output::Lost { loss } => {
                    let reason = match loss {
                        Loss::Expired => LossReason::Expired,
                        Loss::Refused { nodes } => LossReason::Refused { nodes: nodes.iter().collect() },
                    };
                    tracing::warn!(%reason, "lock lost");
                    core.loss = Some(reason);
                }
            }
        }
    }

    /// The number of the core's latest round.
    pub(crate) fn round(&self) -> u32 {
        self.core().state.rounds
    }
}

impl Holding for Shared {
    fn resource(&self) -> &str {
        &self.ident.key.resource
    }

    fn token(&self) -> Option<u64> {
        self.core().token
    }

    fn holder(&self) -> &str {
        self.ident.key.value.as_str()
    }

    fn valid_until(&self) -> Option<Instant> {
        self.core().state.held_until().map(|until| self.client.clock.instant(until))
    }

    fn validity(&self) -> Duration {
        Duration::from_millis(self.core().validity_ms)
    }

    fn loss(&self) -> Option<LossReason> {
        self.core().loss.clone()
    }

    fn client(&self) -> ClientId {
        self.ident.client
    }

    fn record(&self, event: Event) {
        self.ident.record(event)
    }

    #[cfg(feature = "fault-injection")]
    fn pause_point(&self, op: crate::client::fault::FencedOp) {
        if let Some(hook) = &self.client.config.pause_hook {
            hook.call(&crate::client::fault::PausePoint { client: self.ident.client, resource: self.resource(), op });
        }
    }
}

/// One lock being acquired or held. Dropping it releases on every node that may hold the key.
pub(crate) struct Lock {
    shared: Arc<Shared>,
    /// Only ever used through `&mut self` (`Mutex::get_mut`, no locking): the mutex only makes
    /// the lock `Sync`, as a guard shared by reference across an `await` must be.
    lanes: Mutex<Lanes>,
    /// The runtime the lock was made on: work left when the driver returns or the lock is
    /// dropped goes on there.
    runtime: tokio::runtime::Handle,
    /// Buffers for the core's outputs and the lanes' answers, reused by every round.
    outputs: Vec<Output>,
    answers: Vec<crate::client::lane::Answer>,
    /// What each node answered in the latest round (acquire attempt or extension).
    outcomes: NodeOutcomes,
}

impl Lock {
    /// Acquires `resource`: the whole of the protocol's attempts and retries.
    pub(crate) async fn acquire(client: Arc<ClientInner>, resource: &str) -> Result<Lock, AcquireError> {
        if resource.is_empty() {
            return Err(AcquireError::EmptyResource);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(AcquireError::NoRuntime);
        };
        let mut lock = Lock::start(client, resource, runtime);
        let outputs = lock.feed(Input::Acquire);
        match lock.settle(outputs).await {
            Output::Acquired { .. } => Ok(lock),
            _ => Err(AcquireError::NotAcquired { attempts: lock.shared.core().state.attempts, nodes: lock.outcomes.clone() }),
        }
    }

    fn start(client: Arc<ClientInner>, resource: &str, runtime: tokio::runtime::Handle) -> Lock {
        let fence_key = (client.config.fencing == Fencing::Counter).then(|| format!("{resource}{FENCE_KEY_SUFFIX}"));
        let span = tracing::info_span!("lock", resource, client = client.config.client_id.0);
        let ident = Arc::new(Ident {
            key: LockKey { resource: resource.to_string(), fence_key, value: LockValue::random(), ttl_ms: client.config.params.ttl_ms },
            client: client.config.client_id,
            recorder: client.config.recorder.clone(),
            span,
        });
        let core = Core { state: LockState::new(), validity_ms: 0, token: None, loss: None };
        let nodes = client.nodes.len();
        let lanes = Lanes::new(&client.nodes, ident.clone());
        let shared = Arc::new(Shared { client, ident, core: Mutex::new(core) });
        // Room for every output of one input (a request per node, a deadline, a decision), and
        // an answer per node, so that neither grows while the lock lives.
        let (outputs, answers) = (Vec::with_capacity(nodes + 4), Vec::with_capacity(nodes));
        Lock { shared, lanes: Mutex::new(lanes), runtime, outputs, answers, outcomes: NodeOutcomes(vec![None; nodes]) }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn lanes(&mut self) -> &mut Lanes {
        self.lanes.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Feeds one input to the core now and queues the requests it asks for on the lanes.
    fn feed(&mut self, input: Input) -> Vec<Output> {
        let mut outputs = std::mem::take(&mut self.outputs);
        outputs.clear();
        let now = self.shared.client.clock.now();
        let shared = self.shared.clone();
        feed(&shared, self.lanes(), input, now, &mut outputs);
        outputs
    }

    /// Gives a buffer taken by [`feed`](Lock::feed) back for the next input.
    fn recycle(&mut self, mut outputs: Vec<Output>) {
        outputs.clear();
        self.outputs = outputs;
    }

    /// Carries out `outputs` and feeds the answers, deadlines and retries back until the core
    /// decides: acquired, failed, extended, extension failed, or lost. The lanes are polled
    /// here, in this task; what is left of their work when the core has decided and still needs
    /// a driver is handed to a task of its own.
    async fn settle(&mut self, mut outputs: Vec<Output>) -> Output {
        let clock = self.shared.client.clock;
        // One timer for the whole call, moved as the deadline moves.
        let mut deadline = Instant::now();
        let timer = sleep_until(deadline.into());
        tokio::pin!(timer);
        let mut retry_at = None;
        let mut answers = std::mem::take(&mut self.answers);
        let mut outcomes = std::mem::take(&mut self.outcomes);
        let shared = self.shared.clone();
        let lanes = self.lanes.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        let decided = poll_fn(|cx| {
            // A wake polls every lane; after that, in the same poll, only requests not polled
            // yet: the others have our waker already.
            let mut all = true;
            loop {
                if outputs.iter().any(|o| matches!(o, Output::SendAcquire { .. } | Output::SendExtend { .. })) {
                    // A new round: forget what the nodes answered to the last one.
                    outcomes.0.iter_mut().for_each(|o| *o = None);
                }
                for output in outputs.drain(..) {
                    match output {
                        Output::WakeAt { at } => deadline = clock.instant(at),
                        Output::RetryAfter { min_ms, max_ms } => {
                            let ms = rand::thread_rng().gen_range(min_ms..=max_ms);
                            retry_at = Some(Instant::now() + Duration::from_millis(ms));
                        }
                        Output::SendAcquire { .. } | Output::SendExtend { .. } | Output::SendRelease { .. } => {}
                        decided => return Poll::Ready(decided),
                    }
                }
                let wake = retry_at.unwrap_or(deadline);
                if timer.deadline() != wake.into() {
                    timer.as_mut().reset(wake.into());
                }
                lanes.poll_answers(cx, &mut answers, all);
                all = false;
                // One reading of the clock, taken after every answer of the batch came in.
                let input = if retry_at.is_some() {
                    // Answers are stale during a retry delay: the core ignores them.
                    answers.clear();
                    timer.as_mut().poll(cx).is_ready().then_some(Input::Retry)
                } else if !answers.is_empty() {
                    let now = clock.now();
                    for answer in answers.drain(..) {
                        if let Answer::Round { round, node, reply, outcome } = answer {
                            if round == shared.round() {
                                outcomes.0[node] = Some(outcome);
                            }
                            feed(&shared, lanes, Input::Reply { round, node, reply }, now, &mut outputs);
                        }
                    }
                    continue;
                } else {
                    timer.as_mut().poll(cx).is_ready().then_some(Input::Timeout)
                };
                let Some(input) = input else {
                    return Poll::Pending;
                };
                if input == Input::Timeout {
                    // Whoever has not answered the round by its deadline timed out.
                    outcomes.0.iter_mut().filter(|o| o.is_none()).for_each(|o| *o = Some(NodeOutcome::TimedOut));
                }
                retry_at = None;
                feed(&shared, lanes, input, clock.now(), &mut outputs);
            }
        })
        .await;
        let runtime = self.runtime.clone();
        self.lanes().hand_off(&runtime);
        self.answers = answers;
        self.outcomes = outcomes;
        self.recycle(outputs);
        decided
    }

    /// What each node answered in the latest round.
    pub(crate) fn outcomes(&self) -> &NodeOutcomes {
        &self.outcomes
    }

    /// One extension round: `Extended`, `ExtendFailed` or `Lost`.
    pub(crate) async fn extend(&mut self) -> Output {
        let outputs = self.feed(Input::Extend);
        if outputs.is_empty() {
            // The core ignores it: the lock was already lost.
            return Output::Lost { loss: Loss::Expired };
        }
        self.settle(outputs).await
    }

    /// Tells the core that its validity deadline has come: it reports the loss.
    pub(crate) fn expire_if_due(&mut self) {
        let outputs = self.feed(Input::Timeout);
        self.recycle(outputs);
    }

    /// Releases on every node that may hold the key, and returns once at most `N - quorum`
    /// nodes may still hold it (no other client can be kept out by them), or when the per-node
    /// timeout has passed. Releases not answered by then still go out and are read (and
    /// recorded) in the background.
    pub(crate) async fn release(mut self) -> Result<Released, ReleaseError> {
        let was_valid = self.shared.remaining() > Duration::ZERO;
        let mut waiting = NodeSet::default();
        let outputs = self.feed(Input::Release);
        for output in &outputs {
            if let Output::SendRelease { node } = *output {
                waiting.insert(node);
            }
        }
        self.recycle(outputs);
        let params = &self.shared.client.config.params;
        let (nodes, quorum) = (params.nodes, params.quorum());
        let may_remain = nodes - quorum;
        let deadline = Instant::now() + Duration::from_millis(params.node_timeout_ms);
        let timer = sleep_until(deadline.into());
        tokio::pin!(timer);
        let mut answers = std::mem::take(&mut self.answers);
        let mut outcomes = NodeOutcomes(vec![None; nodes]);
        let (mut deleted, mut gone) = (0, 0);
        let shared = self.shared.clone();
        let lanes = self.lanes();
        poll_fn(|cx| {
            lanes.poll_answers(cx, &mut answers, true);
            for answer in answers.drain(..) {
                if let Answer::Released { node, outcome } = answer {
                    // A node that says nothing of ours was there is free of the key too.
                    match outcome {
                        NodeOutcome::Ok => deleted += 1,
                        NodeOutcome::Refused => {
                            gone += 1;
                            shared.ident.record(Event::Refused { client: shared.ident.client, node: NodeId(node as u32) });
                        }
                        _ => {}
                    }
                    if matches!(outcome, NodeOutcome::Ok | NodeOutcome::Refused) {
                        waiting.remove(node);
                    }
                    outcomes.0[node] = Some(outcome);
                }
            }
            // Done once a majority is free of the key and the answers tell whether the lock was
            // still held then (a majority deleted our key) or lost before (a majority had none).
            let free = waiting.len() <= may_remain;
            let told = deleted >= quorum || gone > may_remain || waiting.is_empty();
            if (free && told) || timer.as_mut().poll(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        for node in waiting.iter() {
            outcomes.0[node].get_or_insert(NodeOutcome::TimedOut);
        }
        if !was_valid {
            Err(ReleaseError::Expired)
        } else if waiting.len() > may_remain {
            Err(ReleaseError::Unconfirmed { nodes: outcomes })
        } else {
            Ok(Released { gone: outcomes.nodes_where(&NodeOutcome::Refused), nodes })
        }
    }
}

impl Renewable for Lock {
    fn holding(&self) -> Arc<dyn Holding> {
        self.shared.clone()
    }

    async fn renew(&mut self) {
        self.extend().await;
    }

    fn expire_if_due(&mut self) {
        Lock::expire_if_due(self)
    }

    async fn release(self) {
        if let Err(e) = Lock::release(self).await {
            tracing::warn!(error = %e, "release after the critical section");
        }
    }
}

impl Drop for Lock {
    /// A dropped acquire future, guard or extender releases on every node that may hold the
    /// key. The releases are queued on the lanes behind the requests already sent, and go out
    /// as long as the runtime runs (see the crate docs on shutdown).
    fn drop(&mut self) {
        let outputs = self.feed(Input::Release);
        self.recycle(outputs);
        let runtime = self.runtime.clone();
        let lanes = self.lanes();
        lanes.finish_in_background(&runtime);
    }
}
