//! The optional history recorder: the client's observable steps as NDJSON [`Record`]s, the
//! format the shared judge audits.
//!
//! Turn it on with [`ClientBuilder::recorder`](crate::ClientBuilder::recorder):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use redlock_client::{event::ClientId, Client, Recorder};
//! let path = std::env::temp_dir().join(format!("locks-{}.ndjson", std::process::id()));
//! let client = Client::builder(["redis://127.0.0.1:6379"])
//!     .client_id(ClientId(7))
//!     .recorder(Recorder::append_to(&path)?)
//!     .build()?;
//! # std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```
//!
//! Every line is one [`Record`]: the schema version, a `CLOCK_MONOTONIC` stamp in nanoseconds
//! (one clock for every process on the machine, so several processes may append to one file,
//! or to separate files merged later), the resource, and the [`Event`]. The client records
//! `setup` (the number of servers, before each acquire), `acquire_started` and
//! `acquire_failed` (each attempt), `key_set` (each node that set or extended our key, with the
//! TTL), `granted` (validity and token), `extended`, `release_started`, `key_deleted` (each node
//! where our compare-and-delete removed our key), `lock_lost`; the fenced operations of a
//! [`Guard`](crate::Guard) record `resource_read`, `write_applied` and `write_rejected`.
//!
//! Audit a history offline with the same judge that the model uses:
//! `cargo run --bin check -- history locks.ndjson`.
//!
//! Each record is written with a single `write` call while a lock is held, so lines never
//! interleave within a process, and appends from several processes to one file stay whole.
//! Writes are synchronous (to the page cache); a write error is reported once through
//! `tracing` and the recorder goes on.

use crate::client::clock::monotonic_now;
use crate::event::{Event, Record, HISTORY_VERSION};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Writes history records. See the module docs.
pub struct Recorder {
    out: Mutex<Box<dyn Write + Send>>,
    failed: AtomicBool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Appends to the file at `path`, creating it if needed.
    pub fn append_to(path: impl AsRef<Path>) -> io::Result<Recorder> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Recorder::to_writer(file))
    }

    /// Writes to any writer (each record is one `write_all` call).
    pub fn to_writer(out: impl Write + Send + 'static) -> Recorder {
        Recorder { out: Mutex::new(Box::new(out)), failed: AtomicBool::new(false) }
    }

    /// Records `event` about `resource`, stamped now.
    pub fn record(&self, resource: &str, event: Event) {
        let mut out = self.out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Stamped under the lock: the file's order is the stamps' order.
        let record = Record { v: HISTORY_VERSION, t_ns: monotonic_now().0, resource: resource.into(), event };
        let mut line = serde_json::to_vec(&record).expect("a record always serializes");
        line.push(b'\n');
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::error!(error = %e, "the history recorder cannot write; records are lost");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ClientId;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn records_are_stamped_ndjson_lines_in_stamp_order() {
        let buf = Shared::default();
        let rec = Recorder::to_writer(buf.clone());
        rec.record("r", Event::AcquireStarted { client: ClientId(1) });
        rec.record("r", Event::AcquireFailed { client: ClientId(1) });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let records: Vec<Record> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), 2);
        assert!(records[0].t_ns <= records[1].t_ns);
        assert_eq!(records[1].event, Event::AcquireFailed { client: ClientId(1) });
        assert_eq!(records[0].v, HISTORY_VERSION);
    }
}
