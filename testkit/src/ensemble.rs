//! What the harness does to a replicated store's servers, whichever store it is: etcd members
//! and ZooKeeper servers are paused, killed, restarted and asked who leads in the same way.

use std::io;

/// A replicated store's servers, numbered from 0.
pub trait Ensemble: Send + 'static {
    /// How many servers it has.
    fn size(&self) -> usize;
    /// The loopback port on which server `i` serves clients.
    fn client_port(&self, i: usize) -> u16;
    /// Whether server `i` runs (it may be paused).
    fn is_running(&self, i: usize) -> bool;
    /// SIGSTOPs server `i`: it keeps its sockets and answers nothing.
    fn pause(&self, i: usize) -> io::Result<()>;
    /// Lets a paused server run again.
    fn resume(&self, i: usize) -> io::Result<()>;
    /// SIGKILLs server `i`.
    fn kill(&mut self, i: usize);
    /// Starts a killed server again from its data directory and waits until the store serves.
    fn restart(&mut self, i: usize) -> io::Result<()>;
    /// Whether server `i` runs and says it leads. A paused server does not answer: this waits
    /// for it up to a request's timeout, so ask only servers known to run.
    fn is_leader(&self, i: usize) -> bool;
}
