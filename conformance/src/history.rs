//! One run's history: what every client's recorder wrote, what the harness recorded (faults,
//! and the steps of its own pitfall clients), merged by stamp, in the shared NDJSON format, and
//! judged by the library's auditor, the very judge the model uses.
//!
//! Every recorder of a run writes into one in-memory buffer; each record is one write, so
//! lines never interleave. Recorders stamp independently, so the buffer's order is not quite
//! the stamps' order: [`History::records`] sorts by stamp (stably), which is the merge
//! `check history` does for several files. Stamps are `CLOCK_MONOTONIC`, one real time for
//! every thread and process of the machine.

use redlock_client::clock::monotonic_now;
use redlock_client::event::{Event, Record};
use redlock_client::history::{parse_record, Audit, Auditor};
use redlock_client::Recorder;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How a grant's record reads in NDJSON.
const GRANTED: &[u8] = br#""kind":"granted""#;

/// How the records of a resource operation read in NDJSON: each ends a [`ResourceTurn`].
const RESOURCE_RECORDS: [&[u8]; 3] = [br#""kind":"resource_read""#, br#""kind":"write_applied""#, br#""kind":"write_rejected""#];

/// One resource operation at a time, from its request until its record is written.
///
/// The judge orders a register's reads and writes by their records, which the client makes
/// when the reply arrives. Two clients whose operations fall within one reply's latency could
/// be recorded in the other order than the register applied them: a write applied before
/// another client's read, but recorded after it, reads as a lost update. The soak's atomic
/// registers take a turn for each operation and the history gives it back when the operation's
/// record is written, so the records' order is the register's (the client records right after
/// the reply, with no await in between). The check-then-write register takes no turn: its
/// point is a write that lands between another's check and write.
#[derive(Clone)]
pub struct ResourceTurn(Arc<tokio::sync::Semaphore>);

impl ResourceTurn {
    fn new() -> ResourceTurn {
        ResourceTurn(Arc::new(tokio::sync::Semaphore::new(1)))
    }

    /// Waits for the turn. Dropping the ticket gives the turn back (an operation that failed
    /// or was abandoned records nothing); [`TurnTicket::until_recorded`] leaves it to the record.
    pub async fn take(&self) -> TurnTicket {
        self.0.acquire().await.expect("the turn is never closed").forget();
        TurnTicket(Some(self.clone()))
    }

    fn give_back(&self) {
        // Only the holder of the turn records resource operations, so this never adds a second
        // permit.
        if self.0.available_permits() == 0 {
            self.0.add_permits(1);
        }
    }
}

/// A turn taken; see [`ResourceTurn`].
pub struct TurnTicket(Option<ResourceTurn>);

impl TurnTicket {
    /// The operation succeeded: its record, written next, gives the turn back.
    pub fn until_recorded(mut self) {
        self.0 = None;
    }
}

impl Drop for TurnTicket {
    fn drop(&mut self) {
        if let Some(turn) = self.0.take() {
            turn.give_back();
        }
    }
}

/// Where a run's records go.
#[derive(Clone)]
pub struct History {
    buffer: Buffer,
    harness: Arc<Recorder>,
    lock: String,
}

#[derive(Clone)]
struct Buffer {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// `granted` records so far: a fault schedule polls it without parsing the history.
    grants: Arc<AtomicUsize>,
    turn: ResourceTurn,
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // Each write is one whole record (the recorder's contract).
        let has = |pattern: &[u8]| bytes.windows(pattern.len()).any(|w| w == pattern);
        if has(GRANTED) {
            self.grants.fetch_add(1, Ordering::Relaxed);
        }
        if RESOURCE_RECORDS.iter().any(|p| has(p)) {
            self.turn.give_back();
        }
        self.bytes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl History {
    /// The name of the lock the run is about (its key on every node).
    pub fn resource(&self) -> &str {
        &self.lock
    }

    /// The history of a run about the lock named `lock`.
    pub fn new(lock: impl Into<String>) -> History {
        let buffer = Buffer { bytes: Arc::default(), grants: Arc::default(), turn: ResourceTurn::new() };
        let harness = Arc::new(Recorder::to_writer(buffer.clone()));
        History { buffer, harness, lock: lock.into() }
    }

    /// The lock's name (its key on the servers).
    pub fn lock(&self) -> &str {
        &self.lock
    }

    /// A recorder for one client of the run.
    pub fn recorder(&self) -> Recorder {
        Recorder::to_writer(self.buffer.clone())
    }

    /// Records what the harness did or saw (a fault, a pitfall client's step), stamped now.
    pub fn record(&self, event: Event) {
        self.harness.record(&self.lock, event);
    }

    /// The turn the run's atomic registers take for each operation (see [`ResourceTurn`]).
    pub fn resource_turn(&self) -> ResourceTurn {
        self.buffer.turn.clone()
    }

    /// How many grants were recorded so far.
    pub fn grants(&self) -> usize {
        self.buffer.grants.load(Ordering::Relaxed)
    }

    /// Every record so far, in stamp order.
    pub fn records(&self) -> Vec<Record> {
        let bytes = self.buffer.bytes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let mut records: Vec<Record> = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| parse_record(line).expect("our own recorders write valid records"))
            .collect();
        records.sort_by_key(|r| r.t_ns);
        records
    }

    /// The records stamped up to `until_ns`.
    pub fn records_until(&self, until_ns: u64) -> Vec<Record> {
        let mut records = self.records();
        records.retain(|r| r.t_ns <= until_ns);
        records
    }
}

/// The machine's monotonic clock now, as the recorders stamp.
pub fn now_ns() -> u64 {
    monotonic_now().0
}

/// Judges `records` with the library's auditor (what `check history` runs).
pub fn audit(records: &[Record]) -> Audit {
    let mut auditor = Auditor::new();
    for (i, record) in records.iter().enumerate() {
        auditor.record(record.clone(), i as u64 + 1).expect("records are in stamp order");
    }
    auditor.finish()
}

/// Writes `records` as an NDJSON file that `check history` reads.
pub fn save(records: &[Record], path: &Path) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    for record in records {
        serde_json::to_writer(&mut out, record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Where runs keep their histories: `$CARGO_TARGET_DIR/conformance` (or the workspace's
/// `target/conformance`), under `kind` (`replays`, `soak-<seed>`).
pub fn histories_dir(kind: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("target"));
    target.join("conformance").join(kind)
}
