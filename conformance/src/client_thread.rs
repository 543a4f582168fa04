//! One client of a run: an OS thread of its own with a current-thread tokio runtime, so that
//! pausing the thread in the client's pause hook stops everything the client does (its
//! background extension, its connections, its timers), as a stop-the-world GC pause or a
//! SIGSTOP of a client process would. Its clock keeps running meanwhile: when it resumes, its
//! overdue timers fire at once.

use crate::history::History;
use redlock_client::event::{ClientId, Event, Fault};
use redlock_client::fault::{FencedOp, PauseHook, PausePoint};
use std::future::Future;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A client's thread; the future it runs ends the thread.
pub struct ClientThread {
    handle: Option<JoinHandle<()>>,
}

impl ClientThread {
    /// Starts a thread that builds a current-thread runtime and runs `make()` on it.
    pub fn spawn<F, Fut>(name: String, make: F) -> io::Result<ClientThread>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            runtime.block_on(make());
        })?;
        Ok(ClientThread { handle: Some(handle) })
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits up to `within` for the thread to end; false if it still runs (it is then left
    /// to end on its own).
    pub fn join(mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let Some(handle) = self.handle.take() else { return true };
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        handle.join().is_ok()
    }
}

/// How long an armed pause lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseLength {
    /// Until [`PauseGate::resume`].
    UntilResumed,
    /// This long.
    For(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Open,
    /// The next fenced operation (of this kind, or any) pauses the client.
    Armed {
        op: Option<FencedOp>,
        length: PauseLength,
    },
    Paused {
        length: PauseLength,
    },
    Resumed,
}

/// The pause a harness arms for one client, taken at the client's pause hook, recorded as
/// `client_paused` and `client_resumed` faults.
pub struct PauseGate {
    gate: Mutex<Gate>,
    changed: Condvar,
    client: ClientId,
    history: History,
}

impl PauseGate {
    pub fn new(client: ClientId, history: History) -> Arc<PauseGate> {
        Arc::new(PauseGate { gate: Mutex::new(Gate::Open), changed: Condvar::new(), client, history })
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The hook to give the client's builder: the client pauses before a fenced read or write.
    pub fn hook(self: &Arc<Self>) -> PauseHook {
        let gate = self.clone();
        PauseHook::new(move |point: &PausePoint<'_>| gate.pause_point(Some(point.op)))
    }

    /// A pause point in the work a client does under its lock (a GC pause strikes anywhere):
    /// takes a pause armed for any operation.
    pub fn in_work(&self) {
        self.pause_point(None);
    }

    /// A pause point before a fenced operation of kind `op`, for a client that calls its gate
    /// itself (the harness's own lock recipes) rather than through the crate's pause hook.
    pub fn before(&self, op: FencedOp) {
        self.pause_point(Some(op));
    }

    /// Pauses the client at its next fenced operation of kind `op` (any kind: `None`).
    pub fn arm(&self, op: Option<FencedOp>, length: PauseLength) {
        *self.gate() = Gate::Armed { op, length };
    }

    /// Whether the client is paused now.
    pub fn is_paused(&self) -> bool {
        matches!(*self.gate(), Gate::Paused { .. })
    }

    /// Lets a paused client run again (and disarms a pause not taken yet).
    pub fn resume(&self) {
        let mut gate = self.gate();
        *gate = match *gate {
            Gate::Paused { .. } => Gate::Resumed,
            _ => Gate::Open,
        };
        self.changed.notify_all();
    }

    /// Runs on the client's thread (in its pause hook, or in its work: `op` is `None`): blocks
    /// it while paused.
    fn pause_point(&self, at: Option<FencedOp>) {
        let mut gate = self.gate();
        let length = match *gate {
            Gate::Armed { op: None, length } => length,
            Gate::Armed { op: Some(op), length } if at == Some(op) => length,
            _ => return,
        };
        *gate = Gate::Paused { length };
        self.history.record(Event::Fault { fault: Fault::ClientPaused { client: self.client } });
        self.changed.notify_all();
        gate = match length {
            PauseLength::UntilResumed => {
                self.changed.wait_while(gate, |g| matches!(g, Gate::Paused { .. })).unwrap_or_else(|p| p.into_inner())
            }
            PauseLength::For(d) => {
                self.changed.wait_timeout_while(gate, d, |g| matches!(g, Gate::Paused { .. })).unwrap_or_else(|p| p.into_inner()).0
            }
        };
        *gate = Gate::Open;
        self.history.record(Event::Fault { fault: Fault::ClientResumed { client: self.client } });
    }
}
