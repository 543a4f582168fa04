//! What the harness does to a replicated store's servers, whichever store it is: etcd members
//! and ZooKeeper servers are paused, killed, restarted and asked who leads in the same way.
//! A store says how to launch one server and how to wait until it serves; the rest is here.

use crate::process::Child;
use std::io;

/// A replicated store's servers, numbered from 0.
pub trait Ensemble: Send + 'static {
    /// How many servers it has.
    fn size(&self) -> usize;
    /// The loopback port on which server `i` serves clients.
    fn client_port(&self, i: usize) -> u16;
    /// Server `i`'s process, while it runs (it may be paused).
    fn process(&self, i: usize) -> Option<&Child>;
    /// Takes server `i`'s process out of the ensemble's hands (to kill it).
    fn take_process(&mut self, i: usize) -> Option<Child>;
    /// Starts server `i` from its data directory.
    fn launch(&mut self, i: usize) -> io::Result<()>;
    /// Waits until the store serves (an ensemble: has a leader).
    fn wait_serving(&mut self) -> io::Result<()>;
    /// Whether server `i` runs and says it leads. A paused server does not answer: this waits
    /// for it up to a request's timeout, so ask only servers known to run.
    fn is_leader(&self, i: usize) -> bool;

    /// Whether server `i` runs (it may be paused).
    fn is_running(&self, i: usize) -> bool {
        self.process(i).is_some()
    }

    /// SIGKILLs server `i`.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.take_process(i) {
            child.kill();
        }
    }

    /// Starts a killed server again from its data directory, and waits until the store serves.
    fn restart(&mut self, i: usize) -> io::Result<()> {
        self.kill(i);
        self.launch(i)?;
        self.wait_serving()
    }

    /// SIGSTOPs server `i`: it keeps its sockets and answers nothing.
    fn pause(&self, i: usize) -> io::Result<()> {
        running(self, i)?.signal(libc::SIGSTOP)
    }

    /// Lets a paused server run again.
    fn resume(&self, i: usize) -> io::Result<()> {
        running(self, i)?.signal(libc::SIGCONT)
    }

    /// The server that leads now, asking each running server; ask only when none is paused.
    fn leader(&self) -> Option<usize> {
        (0..self.size()).find(|&i| self.is_leader(i))
    }
}

fn running<E: Ensemble + ?Sized>(ensemble: &E, i: usize) -> io::Result<&Child> {
    ensemble.process(i).ok_or_else(|| io::Error::other(format!("server {i} of the ensemble is not running")))
}

/// Starts an ensemble with `start_once`, again on fresh ports after a failure, up to `tries`
/// times: a free port is only free until another process takes it (a busy machine runs other
/// tests' servers at the same time), and then a server exits at once.
pub fn start_with_retries<E>(store: &str, tries: usize, start_once: impl Fn() -> io::Result<E>) -> io::Result<E> {
    let mut failures = Vec::new();
    for _ in 0..tries {
        match start_once() {
            Ok(ensemble) => return Ok(ensemble),
            Err(e) => failures.push(e.to_string()),
        }
    }
    Err(io::Error::other(format!("{store} did not start in {tries} tries: {}", failures.join("; "))))
}
