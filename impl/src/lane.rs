//! A lane: the requests of one lock to one node, sent one after the other.
//!
//! Each lock has one lane per node, a small task that sends its requests in the order the
//! protocol core issued them and waits for each answer (or for the I/O timeout) before sending
//! the next. So a release is always sent after the acquire it undoes has been answered or
//! abandoned on the same connection, and the server processes it after that acquire: a release
//! that overtook its acquire would leave an orphan key behind (decision 15). Pushing a job never
//! blocks and needs no runtime, so a lock can be released from `Drop`.
//!
//! A lane records what the server did (`key_set`, `key_deleted`) and traces each answer with
//! its latency.

use crate::commands::{Job, Outcome};
use crate::event::{Event, NodeId};
use crate::lock::Ident;
use crate::node::Node;
use crate::protocol::Reply;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::Instrument;

/// What a lane tells the lock's driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A node answered an acquire or extension of round `round`.
    Round { round: u32, node: usize, reply: Reply },
    /// A node answered a release (`confirmed`: it answered at all).
    Released { node: usize, confirmed: bool },
}

/// The sending end of one lane.
pub(crate) struct Lane {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Lane {
    /// Starts the lane of `ident`'s lock to node `index`.
    pub(crate) fn spawn(
        index: usize,
        node: Arc<Node>,
        ident: Arc<Ident>,
        answers: mpsc::UnboundedSender<Answer>,
    ) -> Lane {
        let (jobs, rx) = mpsc::unbounded_channel();
        let span = ident.span.clone();
        tokio::spawn(run(index, node, ident, rx, answers).instrument(span));
        Lane { jobs }
    }

    /// Queues a request behind every earlier one.
    pub(crate) fn push(&self, job: Job) {
        // The lane ends only when the runtime shuts down; the request is then lost with it.
        let _ = self.jobs.send(job);
    }
}

async fn run(
    index: usize,
    node: Arc<Node>,
    ident: Arc<Ident>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    answers: mpsc::UnboundedSender<Answer>,
) {
    let node_id = NodeId(index as u32);
    while let Some(job) = jobs.recv().await {
        let started = Instant::now();
        let result = node.send(job, &ident.key).await;
        let latency_us = started.elapsed().as_micros() as u64;
        match &result {
            Ok(outcome) => tracing::debug!(node = index, ?job, ?outcome, latency_us, "node answered"),
            Err(error) => tracing::debug!(node = index, ?job, %error, latency_us, "node failed"),
        }
        let answer = match (job, result) {
            (Job::Acquire { round } | Job::Extend { round }, Ok(Outcome::Round(reply))) => {
                if let Reply::Ok { .. } = reply {
                    ident.record(Event::KeySet {
                        node: node_id,
                        owner: ident.client,
                        ttl_ms: Some(ident.key.ttl_ms),
                    });
                }
                Answer::Round { round, node: index, reply }
            }
            (Job::Acquire { round } | Job::Extend { round }, _) => {
                Answer::Round { round, node: index, reply: Reply::Error }
            }
            (Job::Release, Ok(Outcome::Released { deleted })) => {
                if deleted {
                    ident.record(Event::KeyDeleted {
                        node: node_id,
                        owner: ident.client,
                        by: ident.client,
                    });
                }
                Answer::Released { node: index, confirmed: true }
            }
            (Job::Release, _) => Answer::Released { node: index, confirmed: false },
        };
        // The driver may be gone (a dropped guard): the server's work is done all the same.
        let _ = answers.send(answer);
    }
}
