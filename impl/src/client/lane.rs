//! Lanes: the requests of one lock to each node, each node's sent one after the other.
//!
//! Each lock has one lane per node. A lane sends its requests in the order the protocol core
//! issued them and waits for each answer (or for the I/O timeout) before sending the next. So a
//! release is always sent after the acquire it undoes has been answered or abandoned on the
//! same connection, and the server processes it after that acquire: a release that overtook its
//! acquire would leave an orphan key behind (`docs/design.md`, *Cancellation*).
//!
//! The lanes are futures polled in place by whoever drives the lock (the acquiring task, the
//! releasing task, the extender), like a hand-written `join` of the nodes' requests: no task
//! and no channel per lock or per node. Work that must go on while nobody drives the lock is
//! handed to a task of its own: when an acquire returns while some lane still has a request
//! that may not be on the wire yet (its connection was still being opened) or requests queued
//! behind one ([`Lanes::hand_off`], a task per such lane, which the lane's next request waits
//! for), and when a lock is dropped with requests queued or not yet on the wire (the releases
//! of a dropped guard or a cancelled acquire, and those a release returned before:
//! [`Lanes::finish_in_background`], one task for the whole lock). A request on an open
//! connection that has been polled once needs no driver while its future lives: redis-rs's
//! connection task writes it and reads its answer, and the lane reads that answer the next time
//! it is polled, before sending the lane's next request. Its future must not be dropped,
//! though: redis-rs skips a queued request whose receiver is gone.
//!
//! A lane records what the server did (`key_set`, `key_deleted`) and traces each answer with
//! its latency, when it reads the answer.

use crate::client::commands::{Job, Outcome};
use crate::client::error::NodeOutcome;
use crate::client::ident::Ident;
use crate::client::node::Node;
use crate::event::{Event, NodeId};
use crate::protocol::{Output, Reply};
use redis::RedisResult;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// What a lane tells the lock's driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A node answered an acquire or extension of round `round`; `outcome` says how, in detail.
    Round { round: u32, node: usize, reply: Reply, outcome: NodeOutcome },
    /// A node answered a release: `Ok` (deleted our key), `Refused` (nothing of ours was
    /// there), or why it did not answer.
    Released { node: usize, outcome: NodeOutcome },
}

type Request = Pin<Box<dyn Future<Output = RedisResult<Outcome>> + Send>>;

/// The request a lane is waiting on.
enum InFlight {
    /// A request of this lane, polled here. `connected`: a connection was open when it was
    /// made, so that its first poll puts it on the connection's queue; once `polled`, it then
    /// completes even while nobody polls it. `started` is read only for tracing, when its
    /// `debug` level is on.
    Request { job: Job, started: Option<Instant>, request: Request, connected: bool, polled: bool },
    /// Earlier requests of this lane, handed to a task of their own; they answer there.
    HandedOff(tokio::task::JoinHandle<()>),
}

struct Lane {
    node: Arc<Node>,
    in_flight: Option<InFlight>,
    queue: VecDeque<Job>,
}

/// The lanes of one lock, one per node.
pub(crate) struct Lanes {
    lanes: Vec<Lane>,
    /// The lock's identity (its key and value, recorder and span).
    ident: Arc<Ident>,
}

impl Lanes {
    pub(crate) fn new(nodes: &[Arc<Node>], ident: Arc<Ident>) -> Lanes {
        let lanes = nodes.iter().map(|node| Lane { node: node.clone(), in_flight: None, queue: VecDeque::new() }).collect();
        Lanes { lanes, ident }
    }

    /// Queues a request to node `node` behind every earlier one. It goes out when the lanes are
    /// next polled (or handed off).
    pub(crate) fn push(&mut self, node: usize, job: Job) {
        let lane = &mut self.lanes[node];
        if lane.in_flight.is_none() && lane.queue.is_empty() {
            lane.start(job, &self.ident);
        } else {
            lane.queue.push_back(job);
        }
    }

    /// Queues the requests among the core's `outputs`.
    pub(crate) fn send(&mut self, outputs: &[Output]) {
        for output in outputs {
            match *output {
                Output::SendAcquire { node, round } => self.push(node, Job::Acquire { round }),
                Output::SendExtend { node, round } => self.push(node, Job::Extend { round }),
                Output::SendRelease { node } => self.push(node, Job::Release),
                _ => {}
            }
        }
    }

    /// Sends what can be sent and collects every answer that has come, in `out`. `all`: poll
    /// every lane; otherwise only lanes with a request not polled yet (the others have been
    /// polled in this same task poll, and wake the task when their answer comes).
    pub(crate) fn poll_answers(&mut self, cx: &mut Context<'_>, out: &mut Vec<Answer>, all: bool) {
        let ident = &self.ident;
        let _span = ident.span.enter();
        for (index, lane) in self.lanes.iter_mut().enumerate() {
            if !all && !matches!(lane.in_flight, Some(InFlight::Request { polled: false, .. })) {
                continue;
            }
            lane.poll(index, ident, cx, out);
        }
    }

    /// Hands every lane's work that needs a driver to a task of its own, keeping each lane's
    /// order: a request that may not be on the wire yet, with the requests queued behind it, or
    /// requests queued behind one on the wire. The lane's next request waits for that task.
    pub(crate) fn hand_off(&mut self, handle: &tokio::runtime::Handle) {
        for (index, lane) in self.lanes.iter_mut().enumerate() {
            if !lane.needs_driver(false) {
                continue;
            }
            let task = spawn_driver(handle, &self.ident, vec![(index, lane.take())]);
            lane.in_flight = Some(InFlight::HandedOff(task));
        }
    }

    /// The lock is dropped: hands what is left of every lane to one task, which sends what is
    /// queued in each lane's order and reads every answer. Even a request already on a
    /// connection's queue needs it: redis-rs skips a queued request whose future was dropped.
    pub(crate) fn finish_in_background(&mut self, handle: &tokio::runtime::Handle) {
        let rest: Vec<(usize, Lane)> = self
            .lanes
            .iter_mut()
            .enumerate()
            .filter(|(_, lane)| lane.needs_driver(true))
            .map(|(index, lane)| (index, lane.take()))
            .collect();
        if !rest.is_empty() {
            spawn_driver(handle, &self.ident, rest);
        }
    }
}

/// A task that drives `lanes` (with their indices) until each has nothing left.
fn spawn_driver(handle: &tokio::runtime::Handle, ident: &Arc<Ident>, mut lanes: Vec<(usize, Lane)>) -> tokio::task::JoinHandle<()> {
    let ident = ident.clone();
    handle.spawn(async move {
        let mut sink = Vec::new();
        poll_fn(|cx| {
            let _span = ident.span.enter();
            for (index, lane) in lanes.iter_mut() {
                lane.poll(*index, &ident, cx, &mut sink);
            }
            sink.clear();
            if lanes.iter().all(|(_, lane)| lane.in_flight.is_none() && lane.queue.is_empty()) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    })
}

impl Lane {
    /// Whether this lane's work needs someone to poll it: requests queued, or one in flight
    /// that may not be on the wire yet, or (`any_in_flight`) any request in flight.
    fn needs_driver(&self, any_in_flight: bool) -> bool {
        match &self.in_flight {
            None => !self.queue.is_empty(),
            Some(InFlight::Request { connected, polled, .. }) => any_in_flight || !(*connected && *polled) || !self.queue.is_empty(),
            Some(InFlight::HandedOff(_)) => !self.queue.is_empty(),
        }
    }

    /// Moves this lane's work out, leaving it idle.
    fn take(&mut self) -> Lane {
        Lane { node: self.node.clone(), in_flight: self.in_flight.take(), queue: std::mem::take(&mut self.queue) }
    }

    fn start(&mut self, job: Job, ident: &Arc<Ident>) {
        let (node, owner) = (self.node.clone(), ident.clone());
        let open = node.open();
        let connected = open.is_some();
        let request: Request = Box::pin(async move { node.send(open, job, &owner.key).await });
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        self.in_flight = Some(InFlight::Request { job, started, request, connected, polled: false });
    }

    /// Sends this lane's requests in order and collects their answers in `out`, until one is
    /// pending or none is left: for the lock's own polling ([`Lanes::poll_answers`]) and for a
    /// task that drives the lane alone.
    fn poll(&mut self, index: usize, ident: &Arc<Ident>, cx: &mut Context<'_>, out: &mut Vec<Answer>) {
        loop {
            if self.in_flight.is_none() {
                let Some(job) = self.queue.pop_front() else {
                    return;
                };
                self.start(job, ident);
            }
            match self.in_flight.as_mut().expect("a request in flight") {
                InFlight::Request { job, started, request, polled, .. } => {
                    *polled = true;
                    match request.as_mut().poll(cx) {
                        Poll::Pending => return,
                        Poll::Ready(result) => {
                            out.push(answer(ident, index, *job, *started, result));
                            self.in_flight = None;
                        }
                    }
                }
                InFlight::HandedOff(handle) => match Pin::new(handle).poll(cx) {
                    Poll::Pending => return,
                    Poll::Ready(_) => self.in_flight = None,
                },
            }
        }
    }
}

/// Reads one node's answer: traces it, records what the server did, and tells the driver.
fn answer(ident: &Ident, index: usize, job: Job, started: Option<Instant>, result: RedisResult<Outcome>) -> Answer {
    if let Some(started) = started {
        let latency_us = started.elapsed().as_micros() as u64;
        match &result {
            Ok(outcome) => {
                tracing::debug!(node = index, ?job, ?outcome, latency_us, "node answered")
            }
            Err(error) => tracing::debug!(node = index, ?job, %error, latency_us, "node failed"),
        }
    }
    let node_id = NodeId(index as u32);
    let client = ident.client;
    match (job, result) {
        (Job::Acquire { round } | Job::Extend { round }, Ok(Outcome::Round(reply))) => {
            if let Reply::Ok { .. } = reply {
                ident.record(Event::KeySet { node: node_id, owner: client, ttl_ms: Some(ident.key.ttl_ms) });
            }
            let outcome = if reply == Reply::Refused { NodeOutcome::Refused } else { NodeOutcome::Ok };
            Answer::Round { round, node: index, reply, outcome }
        }
        (Job::Acquire { round } | Job::Extend { round }, Ok(Outcome::Released { .. })) => {
            Answer::Round { round, node: index, reply: Reply::Error, outcome: NodeOutcome::ServerError("an unexpected answer".into()) }
        }
        (Job::Acquire { round } | Job::Extend { round }, Err(e)) => {
            Answer::Round { round, node: index, reply: Reply::Error, outcome: classify(&e) }
        }
        (Job::Release, Ok(Outcome::Released { deleted: true })) => {
            ident.record(Event::KeyDeleted { node: node_id, owner: client, by: client });
            Answer::Released { node: index, outcome: NodeOutcome::Ok }
        }
        // Recorded by the user's release that reads it, if any: the release after a failed
        // attempt finds another client's key, which says nothing about a later hold.
        (Job::Release, Ok(Outcome::Released { deleted: false })) => Answer::Released { node: index, outcome: NodeOutcome::Refused },
        (Job::Release, Ok(Outcome::Round(_))) => {
            Answer::Released { node: index, outcome: NodeOutcome::ServerError("an unexpected answer".into()) }
        }
        (Job::Release, Err(e)) => Answer::Released { node: index, outcome: classify(&e) },
    }
}

/// What a failed request says about its node, for errors a user can act on.
pub(crate) fn classify(e: &redis::RedisError) -> NodeOutcome {
    use redis::ErrorKind;
    let text = e.to_string();
    if e.kind() == ErrorKind::AuthenticationFailed {
        return NodeOutcome::AuthenticationFailed(text);
    }
    if e.is_connection_refusal() {
        return NodeOutcome::ConnectionRefused;
    }
    if e.is_timeout() {
        return NodeOutcome::TimedOut;
    }
    // rustls's errors travel inside I/O errors; so do the server's answers to a client that
    // sent a TLS handshake to a plain port.
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.downcast_ref::<rustls::Error>().is_some() {
            return NodeOutcome::TlsFailed(inner.to_string());
        }
        source = inner.source();
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return NodeOutcome::TlsFailed(text);
    }
    if lower.contains("noauth") || lower.contains("wrongpass") || lower.contains("invalid password") {
        return NodeOutcome::AuthenticationFailed(text);
    }
    if e.is_io_error() || e.is_connection_dropped() {
        return NodeOutcome::ConnectionFailed(text);
    }
    NodeOutcome::ServerError(text)
}
