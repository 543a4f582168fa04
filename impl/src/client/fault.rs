//! Fault injection for conformance tests (feature `fault-injection`, off by default): a hook
//! that the client calls after it acquired a lock and before each fenced read and write, so a
//! test can stop the client exactly where Kleppmann's GC pause strikes.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use redlock_client::fault::{FencedOp, PauseHook};
//! use redlock_client::Client;
//! use std::time::Duration;
//!
//! // Freeze the writing thread for 2 s before every fenced write, like a stop-the-world GC.
//! let hook = PauseHook::new(|point| {
//!     if point.op == FencedOp::Write {
//!         std::thread::sleep(Duration::from_secs(2));
//!     }
//! });
//! let client = Client::builder(["redis://127.0.0.1:6379"]).pause_hook(hook).build()?;
//! # drop(client);
//! # Ok(()) }
//! ```
//!
//! The hook runs synchronously on the task that reads or writes, after the lock's token is
//! known and before the request goes out. Blocking in it blocks that thread: on a
//! current-thread runtime that is the whole client (its background extension and its
//! connections too), which is what a process pause does; on a multi-thread runtime only that
//! worker stops. Production builds have no such hook: the feature exists for the conformance
//! harness (`conformance/`).

use crate::event::ClientId;
use std::sync::Arc;

/// Which fenced operation is about to go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FencedOp {
    Read,
    Write,
}

/// Where the client stands when it calls the hook.
#[derive(Clone, Copy, Debug)]
pub struct PausePoint<'a> {
    /// The client's id (as in its history records).
    pub client: ClientId,
    /// The lock's name.
    pub resource: &'a str,
    pub op: FencedOp,
}

/// Called before each fenced read and write; see the module docs.
#[derive(Clone)]
pub struct PauseHook(Arc<dyn Fn(&PausePoint<'_>) + Send + Sync>);

impl PauseHook {
    pub fn new(hook: impl Fn(&PausePoint<'_>) + Send + Sync + 'static) -> PauseHook {
        PauseHook(Arc::new(hook))
    }

    pub(crate) fn call(&self, point: &PausePoint<'_>) {
        (self.0)(point)
    }
}

impl std::fmt::Debug for PauseHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PauseHook")
    }
}
