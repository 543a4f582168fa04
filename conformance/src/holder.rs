//! What the holder of a harness lock (ZooKeeper's recipe, PostgreSQL's advisory lock) does at
//! the resource, as the crate's guards do: it presents its token, and its client id as the
//! holder; it stops at its pause gate before each fenced operation; it records the read and
//! the write's outcome.

use crate::client_thread::PauseGate;
use crate::history::History;
use redlock_client::event::{ClientId, Event};
use redlock_client::fault::FencedOp;
use redlock_client::fence::{FencedResource, Read, Write};
use std::sync::Arc;

/// A holder's identity at the resource.
#[derive(Clone)]
pub struct Holder {
    pub client: ClientId,
    pub token: u64,
    history: History,
    gate: Option<Arc<PauseGate>>,
}

impl Holder {
    pub fn new(client: ClientId, token: u64, history: &History, gate: Option<Arc<PauseGate>>) -> Holder {
        Holder { client, token, history: history.clone(), gate }
    }

    fn pause_point(&self, op: FencedOp) {
        if let Some(gate) = &self.gate {
            gate.before(op);
        }
    }

    /// Reads `resource` presenting the token; records `resource_read`.
    pub async fn read<R: FencedResource>(&self, resource: &R) -> Result<Read, R::Error> {
        self.pause_point(FencedOp::Read);
        let read = resource.read(self.token, &self.client.0.to_string()).await?;
        self.history.record(Event::ResourceRead { client: self.client, value: read.value, token: Some(self.token) });
        Ok(read)
    }

    /// Writes `value` to `resource` with the token; records the outcome.
    pub async fn write<R: FencedResource>(&self, resource: &R, value: u64) -> Result<Write, R::Error> {
        self.pause_point(FencedOp::Write);
        let write = resource.write(self.token, &self.client.0.to_string(), value).await?;
        let (client, token) = (self.client, Some(self.token));
        self.history.record(match write {
            Write::Applied => Event::WriteApplied { client, value, token },
            Write::Rejected { .. } => Event::WriteRejected { client, token },
        });
        Ok(write)
    }
}
