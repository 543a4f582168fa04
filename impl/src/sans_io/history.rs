//! Auditing a recorded history: the judge folded over NDJSON [`Record`]s, streaming.
//!
//! A history is what [`Recorder`](crate::Recorder) writes (one [`Record`] a line) or any file in
//! that format. The [`Auditor`] reads it line by line and keeps only what the judge needs: one
//! [`Judge`] per lock with live state, and the deadlines that only time produces and no client
//! records, namely a belief window ending (grant stamp + validity) and a key expiring (the
//! stamp of the `SET` reply + its TTL, a conservative bound).
//!
//! **Memory follows live state, not the file.** A lock whose judge is at rest
//! ([`Judge::at_rest`]: no holder, acquirer, key, ranked client or read in flight) and that has
//! no deadline pending is forgotten, clients with nothing left are forgotten within a lock, each
//! window and key has at most one pending deadline however often it is extended, and deadlines
//! left behind by forgotten locks are swept out once they outnumber the live ones. Distinct lock
//! names are counted exactly up to [`EXACT_LOCK_COUNT`] and estimated beyond it, in a few
//! kilobytes. A line longer than [`MAX_LINE_BYTES`] is an error, not an allocation.
//!
//! **One clock.** Stamps are read as real time: the auditor assumes every record of a history
//! was stamped by one monotonic clock (one machine's `CLOCK_MONOTONIC`, which all its processes
//! share). Histories from several hosts would need each host's clock offset and drift bound,
//! and windows widened by them; that is not supported yet.
//!
//! Errors name the line: malformed JSON, an unknown event kind, an unsupported schema version,
//! a node outside the lock's setup, time going backwards, a line too long, a file that ends
//! mid-line. None of them panics, and every value the schema allows is representable
//! (deadlines are computed in 128 bits, so a window that ends after the last `u64` nanosecond
//! still ends after every record).

use crate::event::{ClientId, Event, NodeId, Record, HISTORY_VERSION};
use crate::judge::{Invariant, Judge};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::BufRead;
use std::sync::Arc;

/// The longest line the auditor reads (1 MiB): a record is a few hundred bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Distinct lock names are counted exactly up to this many, then estimated.
pub const EXACT_LOCK_COUNT: usize = 100_000;

/// Why a history could not be audited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    /// 1-based line number.
    pub line: u64,
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for HistoryError {}

/// The first violation of one property, with where it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub property: Invariant,
    pub resource: String,
    /// The line whose event revealed it (or the last line before a derived event).
    pub line: u64,
    pub t_ns: u64,
    pub explanation: String,
}

/// The outcome of an audit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    pub records: u64,
    /// Distinct lock names: exact while `locks_exact`, otherwise an estimate (about 0.8% standard error).
    pub locks: u64,
    pub locks_exact: bool,
    pub grants: u64,
    /// The first violation of each property, in the order they happened.
    pub findings: Vec<Finding>,
    /// The most locks the auditor kept at once (its memory bound).
    pub peak_live_locks: u64,
}

impl Audit {
    /// The first violation of `property`, if any.
    pub fn finding(&self, property: Invariant) -> Option<&Finding> {
        self.findings.iter().find(|f| f.property == property)
    }
}

/// What a deadline brings about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Deadline {
    /// A client's belief window ends.
    Window(ClientId),
    /// A key expires on a node.
    Key(NodeId, ClientId),
}

impl Deadline {
    fn event(self) -> Event {
        match self {
            Deadline::Window(client) => Event::ValidityEnded { client },
            Deadline::Key(node, owner) => Event::KeyExpired { node, owner },
        }
    }
}

/// A deadline in the queue: when (ns, 128 bits wide), in scheduling order, of which lock.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: u128,
    seq: u64,
    lock: Arc<str>,
    deadline: Deadline,
}

/// When a deadline comes, and when the queue will next look at it (at most once per deadline,
/// however often an extension moves it later).
#[derive(Clone, Copy, Debug)]
struct Pending {
    at: u128,
    queued: u128,
}

/// Everything kept for one lock with live state.
struct LiveLock {
    judge: Judge,
    deadlines: BTreeMap<Deadline, Pending>,
    /// The node count its latest `setup` gave, and that record's line.
    setup: Option<(u32, u64)>,
}

/// The streaming auditor. Feed it lines with [`Auditor::line`] (or records with
/// [`Auditor::record`]), then call [`Auditor::finish`].
#[derive(Default)]
pub struct Auditor {
    locks: HashMap<Arc<str>, LiveLock>,
    due: BinaryHeap<Reverse<Due>>,
    /// Deadlines pending in all live locks: the queue is swept once it is far longer.
    pending: usize,
    seq: u64,
    last_t: u64,
    line: u64,
    audit: Audit,
    names: LockCounter,
    /// The lock whose `setup` came last: kept (with its node count) until its next record, even
    /// at rest, because its attempt follows.
    announced: Option<Arc<str>>,
}

impl Auditor {
    pub fn new() -> Auditor {
        Auditor::default()
    }

    /// Reads a whole history.
    pub fn audit(reader: impl BufRead) -> Result<Audit, HistoryError> {
        let mut auditor = Auditor::new();
        let mut lines = Lines::new(reader);
        while let Some(line) = lines.next_line()? {
            auditor.line(line)?;
        }
        Ok(auditor.finish())
    }

    /// Feeds the next line (without its newline). A line that ends before its JSON object does
    /// (a file cut off mid-line) is an error that says the record is truncated.
    pub fn line(&mut self, bytes: &[u8]) -> Result<(), HistoryError> {
        self.line += 1;
        let line = self.line;
        match parse_line(bytes, line).map_err(|message| HistoryError { line, message })? {
            Some(record) => self.record(record, line),
            None => Ok(()),
        }
    }

    /// The first violations found so far.
    pub fn findings(&self) -> &[Finding] {
        &self.audit.findings
    }

    /// Feeds one parsed record, read from line `line` (stamps must not go backwards).
    pub fn record(&mut self, record: Record, line: u64) -> Result<(), HistoryError> {
        self.line = line;
        if record.t_ns < self.last_t {
            return Err(self.error(format!(
                "time goes backwards: t_ns {} comes after {} (a history must be in stamp order; merge recordings by t_ns)",
                record.t_ns, self.last_t
            )));
        }
        self.last_t = record.t_ns;
        if let Some(announced) = self.announced.take() {
            if *announced != *record.resource {
                self.forget_if_idle(&announced);
            }
        }
        self.fire_due(record.t_ns as u128);
        let lock: Arc<str> = match self.locks.get_key_value(record.resource.as_str()) {
            Some((name, _)) => name.clone(),
            None => {
                // A lock that comes (back) to life: count its name.
                self.names.insert(&record.resource);
                Arc::from(record.resource.as_str())
            }
        };
        let live = self.locks.entry(lock.clone()).or_insert_with(|| LiveLock {
            judge: Judge::joining(0),
            deadlines: BTreeMap::new(),
            setup: None,
        });
        if let Err(message) = check_nodes(live, &record.event) {
            // Drop a lock this very record created, so that the error leaves nothing behind.
            if live.judge.at_rest() && live.deadlines.is_empty() {
                self.locks.remove(&lock);
            }
            return Err(self.error(message));
        }
        if let Event::Setup { nodes } = record.event {
            live.setup = Some((nodes, line));
        }
        if matches!(record.event, Event::Granted { .. }) {
            self.audit.grants += 1;
        }
        self.audit.records += 1;
        self.schedule(&lock, &record);
        self.observe(&lock, &record.event, record.t_ns);
        Ok(())
    }

    /// Ends the audit: every deadline still pending comes to pass.
    pub fn finish(mut self) -> Audit {
        self.fire_due(u128::MAX);
        self.audit.locks = self.names.count();
        self.audit.locks_exact = self.names.exact();
        self.audit
    }

    fn error(&self, message: String) -> HistoryError {
        HistoryError { line: self.line, message }
    }

    /// Sets, moves or drops the deadlines this record implies.
    fn schedule(&mut self, lock: &Arc<str>, record: &Record) {
        let at = |ms: u64| record.t_ns as u128 + ms as u128 * 1_000_000;
        match record.event {
            Event::Granted { client, validity_ms, .. } | Event::Extended { client, validity_ms } => {
                self.set_deadline(lock, Deadline::Window(client), at(validity_ms))
            }
            Event::ReleaseStarted { client } | Event::LockLost { client } | Event::ClientCrashed { client } => {
                self.drop_deadline(lock, Deadline::Window(client))
            }
            Event::KeySet { node, owner, ttl_ms: Some(ttl) } => self.set_deadline(lock, Deadline::Key(node, owner), at(ttl)),
            Event::KeyDeleted { node, owner, .. } | Event::KeyLost { node, owner } => self.drop_deadline(lock, Deadline::Key(node, owner)),
            _ => {}
        }
    }

    fn set_deadline(&mut self, lock: &Arc<str>, deadline: Deadline, at: u128) {
        let Some(live) = self.locks.get_mut(lock) else { return };
        match live.deadlines.get_mut(&deadline) {
            // Already queued no later than the new time: the queue looks again then.
            Some(pending) if pending.queued <= at => pending.at = at,
            Some(pending) => {
                *pending = Pending { at, queued: at };
                Self::enqueue(&mut self.due, &mut self.seq, lock, deadline, at);
            }
            None => {
                live.deadlines.insert(deadline, Pending { at, queued: at });
                self.pending += 1;
                Self::enqueue(&mut self.due, &mut self.seq, lock, deadline, at);
            }
        }
        self.sweep_if_stale();
    }

    fn drop_deadline(&mut self, lock: &Arc<str>, deadline: Deadline) {
        if let Some(live) = self.locks.get_mut(lock) {
            if live.deadlines.remove(&deadline).is_some() {
                self.pending -= 1;
            }
        }
    }

    fn enqueue(due: &mut BinaryHeap<Reverse<Due>>, seq: &mut u64, lock: &Arc<str>, deadline: Deadline, at: u128) {
        *seq += 1;
        due.push(Reverse(Due { at, seq: *seq, lock: lock.clone(), deadline }));
    }

    /// Entries whose lock or deadline is gone, or that a later entry replaced, stay in the queue
    /// until their time; once they outnumber the live ones, they are swept out at once.
    fn sweep_if_stale(&mut self) {
        if self.due.len() <= 2 * self.pending + 1024 {
            return;
        }
        let locks = &self.locks;
        self.due.retain(|Reverse(d)| locks.get(&d.lock).and_then(|l| l.deadlines.get(&d.deadline)).is_some_and(|p| p.queued == d.at));
    }

    /// Brings about every deadline at or before `t` (a window is half-open: it has ended by its
    /// end instant). A deadline that an extension moved later is queued again for its new time.
    fn fire_due(&mut self, t: u128) {
        while let Some(Reverse(next)) = self.due.peek() {
            if next.at > t {
                break;
            }
            let Some(Reverse(due)) = self.due.pop() else { break };
            let Some(live) = self.locks.get_mut(&due.lock) else { continue };
            let Some(pending) = live.deadlines.get_mut(&due.deadline).filter(|p| p.queued == due.at) else { continue };
            if pending.at > due.at {
                pending.queued = pending.at;
                let at = pending.at;
                Self::enqueue(&mut self.due, &mut self.seq, &due.lock, due.deadline, at);
                continue;
            }
            live.deadlines.remove(&due.deadline);
            self.pending -= 1;
            let t_ns = u64::try_from(due.at).unwrap_or(u64::MAX);
            self.observe(&due.lock, &due.deadline.event(), t_ns);
        }
    }

    fn observe(&mut self, lock: &Arc<str>, event: &Event, t_ns: u64) {
        let Some(live) = self.locks.get_mut(lock) else { return };
        let judge = &mut live.judge;
        for property in judge.observe(event) {
            let explanation = judge.violation(property).map(|v| v.explanation.clone()).unwrap_or_default();
            if self.audit.finding(property).is_none() {
                let finding = Finding { property, resource: lock.to_string(), line: self.line, t_ns, explanation };
                self.audit.findings.push(finding);
            }
        }
        // Only these events can leave a client with nothing to remember.
        if matches!(
            event,
            Event::ReleaseStarted { .. }
                | Event::ClientCrashed { .. }
                | Event::AcquireFailed { .. }
                | Event::LockLost { .. }
                | Event::ValidityEnded { .. }
                | Event::WriteApplied { .. }
        ) {
            judge.forget_idle_clients();
        }
        self.audit.peak_live_locks = self.audit.peak_live_locks.max(self.locks.len() as u64);
        if matches!(event, Event::Setup { .. }) {
            self.announced = Some(lock.clone());
        } else {
            self.forget_if_idle(lock);
        }
    }

    fn forget_if_idle(&mut self, lock: &Arc<str>) {
        if self.locks.get(lock).is_some_and(|live| live.deadlines.is_empty() && live.judge.at_rest()) {
            self.locks.remove(lock);
        }
    }
}

/// Node ids must fit the lock's latest setup: the judge's quorum comes from it.
fn check_nodes(live: &LiveLock, event: &Event) -> Result<(), String> {
    let named = match *event {
        Event::KeySet { node, .. }
        | Event::KeyDeleted { node, .. }
        | Event::KeyExpired { node, .. }
        | Event::KeyLost { node, .. }
        | Event::NodeDown { node }
        | Event::NodeUp { node } => Some(node),
        _ => None,
    };
    match (event, named, live.setup) {
        (_, Some(node), Some((nodes, setup_line))) if node.0 >= nodes => {
            Err(format!("{node} is outside the lock's {nodes} node(s) (nodes are numbered from 0; setup on line {setup_line})"))
        }
        (&Event::Setup { nodes: 0 }, _, _) => Err("a setup with 0 nodes: a lock needs at least one server".into()),
        (&Event::Setup { nodes }, _, _) => match live.judge.highest_node() {
            Some(node) if node.0 >= nodes => Err(format!("the setup says the lock spans {nodes} node(s), but {node} was named before it")),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Parses one line into a record (`None` for a blank line), with messages a user can act on. A
/// UTF-8 byte-order mark on the first line is skipped.
pub fn parse_line(bytes: &[u8], line: u64) -> Result<Option<Record>, String> {
    let bytes = if line == 1 { bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes) } else { bytes };
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (invalid byte at column {})", e.valid_up_to() + 1))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_record(text).map(Some)
}

/// Parses one record, with messages a user can act on.
pub fn parse_record(text: &str) -> Result<Record, String> {
    // The common case straight into a record; what fails is read again, to say why.
    if let Ok(record) = serde_json::from_str::<Record>(text) {
        if record.v == HISTORY_VERSION {
            return Ok(record);
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            "truncated record (the line ends before the JSON object does)".to_string()
        } else if text.starts_with('\u{feff}') {
            "the line starts with a UTF-8 byte-order mark (allowed only at the start of the file)".to_string()
        } else {
            format!("malformed JSON: {e}")
        }
    })?;
    if !value.is_object() {
        return Err(format!("not a history record: a record is a JSON object, not {}", json_kind(&value)));
    }
    match value.get("v") {
        Some(v) if v.as_u64() == Some(HISTORY_VERSION as u64) => {}
        Some(v) if v.as_u64().is_some() => {
            return Err(format!("history schema version {v} is not supported (this auditor reads version {HISTORY_VERSION})"))
        }
        Some(v) => return Err(format!("the schema version \"v\" must be the integer {HISTORY_VERSION}, not {v}")),
        None => return Err("no schema version \"v\": not a history record".into()),
    }
    let kind = match value.get("kind") {
        Some(serde_json::Value::String(kind)) => kind.clone(),
        Some(other) => return Err(format!("\"kind\" must be a string, not {other}")),
        None => return Err("no \"kind\": a record names its event".into()),
    };
    serde_json::from_value::<Record>(value).map_err(|e| {
        let message = e.to_string();
        match message.strip_prefix("unknown variant `").and_then(|rest| rest.split_once('`')) {
            Some((variant, _)) if variant == kind => format!("unknown event kind {kind:?}"),
            _ => format!("bad {kind:?} record: {message}"),
        }
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Lines of at most [`MAX_LINE_BYTES`] from a reader, without their newline.
pub struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    line: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R) -> Lines<R> {
        Lines { reader, buffer: Vec::new(), line: 0 }
    }

    /// The number of the line last returned (1-based).
    pub fn number(&self) -> u64 {
        self.line
    }

    /// The next line, or `None` at the end. A last line without a newline is a line.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, HistoryError> {
        self.buffer.clear();
        self.line += 1;
        let line = self.line;
        let too_long = || HistoryError { line, message: format!("the line is longer than {MAX_LINE_BYTES} bytes: not a history record") };
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(HistoryError { line, message: format!("cannot read: {e}") }),
            };
            if available.is_empty() {
                return Ok((!self.buffer.is_empty()).then_some(&self.buffer[..]));
            }
            let (chunk, newline) = match available.iter().position(|&b| b == b'\n') {
                Some(end) => (&available[..end], true),
                None => (available, false),
            };
            if self.buffer.len() + chunk.len() > MAX_LINE_BYTES {
                return Err(too_long());
            }
            self.buffer.extend_from_slice(chunk);
            let used = chunk.len() + newline as usize;
            self.reader.consume(used);
            if newline {
                return Ok(Some(&self.buffer[..]));
            }
        }
    }
}

/// Distinct lock names: exact up to [`EXACT_LOCK_COUNT`] (a set of 64-bit hashes), then a
/// HyperLogLog estimate (2^14 registers: about 0.8% standard error, 16 KiB).
#[derive(Default)]
struct LockCounter {
    exact: Option<HashSet<u64>>,
    registers: Vec<u8>,
    started: bool,
}

const HLL_BITS: u32 = 14;

impl LockCounter {
    fn hash(name: &str) -> u64 {
        // SipHash with fixed keys: the same count on every run.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        h.finish()
    }

    fn insert(&mut self, name: &str) {
        if !self.started {
            self.started = true;
            self.exact = Some(HashSet::new());
            self.registers = vec![0; 1 << HLL_BITS];
        }
        let hash = Self::hash(name);
        let index = (hash >> (64 - HLL_BITS)) as usize;
        let rank = ((hash << HLL_BITS) | (1 << (HLL_BITS - 1))).leading_zeros() as u8 + 1;
        self.registers[index] = self.registers[index].max(rank);
        if let Some(set) = &mut self.exact {
            set.insert(hash);
            if set.len() > EXACT_LOCK_COUNT {
                self.exact = None;
            }
        }
    }

    fn exact(&self) -> bool {
        !self.started || self.exact.is_some()
    }

    fn count(&self) -> u64 {
        if let Some(set) = &self.exact {
            return set.len() as u64;
        }
        if !self.started {
            return 0;
        }
        let m = self.registers.len() as f64;
        let sum: f64 = self.registers.iter().map(|&r| 2f64.powi(-(r as i32))).sum();
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let estimate = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let estimate = if estimate <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { estimate };
        estimate.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t_ns: u64, event: Event) -> String {
        serde_json::to_string(&Record { v: HISTORY_VERSION, t_ns, resource: "r".into(), event }).unwrap()
    }

    fn audit(lines: &[String]) -> Result<Audit, HistoryError> {
        Auditor::audit(lines.join("\n").as_bytes())
    }

    const A: ClientId = ClientId(1);
    const B: ClientId = ClientId(2);
    const MS: u64 = 1_000_000;

    #[test]
    fn windows_end_with_their_validity_so_a_later_grant_is_fine() {
        let h = [
            line(0, Event::Setup { nodes: 1 }),
            line(0, Event::Granted { client: A, validity_ms: 10, token: None }),
            line(10 * MS, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        assert!(audit(&h).unwrap().findings.is_empty());
    }

    #[test]
    fn an_overlap_is_found_with_its_line_and_time() {
        let h = [
            line(0, Event::Granted { client: A, validity_ms: 10, token: None }),
            line(9 * MS, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        let a = audit(&h).unwrap();
        let f = a.finding(Invariant::MutualExclusion).expect("violated");
        assert_eq!((f.line, f.t_ns, f.resource.as_str()), (2, 9 * MS, "r"));
    }

    #[test]
    fn an_overlap_at_the_end_of_time_is_still_an_overlap() {
        // The window ends after the last representable nanosecond: it must not end at it.
        let h = [
            line(u64::MAX, Event::Granted { client: A, validity_ms: 10, token: None }),
            line(u64::MAX, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        assert!(audit(&h).unwrap().finding(Invariant::MutualExclusion).is_some());
        let longest = [
            line(0, Event::Granted { client: A, validity_ms: u64::MAX, token: None }),
            line(u64::MAX, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        assert!(audit(&longest).unwrap().finding(Invariant::MutualExclusion).is_some());
    }

    #[test]
    fn an_extension_moves_the_window_end() {
        let h = [
            line(0, Event::Granted { client: A, validity_ms: 10, token: None }),
            line(5 * MS, Event::Extended { client: A, validity_ms: 10 }),
            line(12 * MS, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        assert!(audit(&h).unwrap().finding(Invariant::MutualExclusion).is_some());
        // ... and an extension to an earlier end moves it earlier.
        let h = [
            line(0, Event::Granted { client: A, validity_ms: 100, token: None }),
            line(5 * MS, Event::Extended { client: A, validity_ms: 1 }),
            line(7 * MS, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        assert!(audit(&h).unwrap().findings.is_empty());
    }

    #[test]
    fn malformed_lines_get_errors_naming_the_line() {
        // An attempt in flight keeps the lock, and its setup, live on line 3.
        let ok = [line(0, Event::Setup { nodes: 1 }), line(0, Event::AcquireStarted { client: A })].join("\n");
        let cases = [
            ("{\"v\":1,", "truncated record"),
            ("not json", "malformed JSON"),
            ("[1,2]", "a record is a JSON object, not an array"),
            ("{\"v\":2,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"setup\",\"nodes\":1}", "schema version 2 is not supported"),
            ("{\"v\":1.0,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"setup\",\"nodes\":1}", "must be the integer 1, not 1.0"),
            ("{\"v\":\"1\",\"t_ns\":0,\"resource\":\"r\",\"kind\":\"setup\",\"nodes\":1}", "must be the integer 1, not \"1\""),
            ("{\"v\":1,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"teleported\"}", "unknown event kind \"teleported\""),
            (
                "{\"v\":1,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"fault\",\"fault\":{\"type\":\"meteor\"}}",
                "bad \"fault\" record: unknown variant `meteor`",
            ),
            ("{\"v\":1,\"t_ns\":0,\"resource\":\"r\"}", "no \"kind\""),
            ("{\"t_ns\":0}", "no schema version"),
            (
                "{\"v\":1,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"key_set\",\"node\":4,\"owner\":1,\"ttl_ms\":null}",
                "node 4 is outside the lock's 1 node(s)",
            ),
            ("\u{feff}{\"v\":1}", "byte-order mark"),
        ];
        for (bad, message) in cases {
            let err = audit(&[ok.clone(), bad.to_string()]).expect_err(bad);
            assert_eq!(err.line, 3, "{bad}");
            assert!(err.message.contains(message), "{bad}: {err}");
        }
    }

    #[test]
    fn a_byte_order_mark_at_the_start_of_the_file_is_skipped() {
        let h = format!("\u{feff}{}", line(0, Event::Setup { nodes: 1 }));
        assert_eq!(Auditor::audit(h.as_bytes()).unwrap().records, 1);
    }

    #[test]
    fn a_setup_that_contradicts_a_key_it_holds_is_an_error() {
        let h = [line(0, Event::KeySet { node: NodeId(3), owner: A, ttl_ms: None }), line(1, Event::Setup { nodes: 1 })];
        let err = audit(&h).unwrap_err();
        assert!(err.message.contains("spans 1 node(s), but node 3 was named before it"), "{err}");
    }

    #[test]
    fn the_largest_node_id_is_judged_without_overflow() {
        let h = [
            line(0, Event::KeySet { node: NodeId(u32::MAX), owner: A, ttl_ms: Some(1) }),
            line(1, Event::NodeDown { node: NodeId(u32::MAX) }),
        ];
        assert!(audit(&h).unwrap().findings.is_empty());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused_without_reading_it_whole() {
        let mut h = line(0, Event::Setup { nodes: 1 }).into_bytes();
        h.push(b'\n');
        h.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES + 1));
        let err = Auditor::audit(&h[..]).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("longer than"), "{err}");
    }

    #[test]
    fn time_going_backwards_is_an_error() {
        let h = [line(5, Event::Setup { nodes: 1 }), line(4, Event::Setup { nodes: 1 })];
        let err = audit(&h).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("time goes backwards"));
    }

    #[test]
    fn a_history_that_starts_mid_stream_learns_the_value_from_its_first_read() {
        let h = [
            line(0, Event::ResourceRead { client: A, value: 41, token: None }),
            line(1, Event::WriteApplied { client: A, value: 42, token: None }),
        ];
        assert!(audit(&h).unwrap().findings.is_empty());
        let lost = [
            line(0, Event::ResourceRead { client: A, value: 41, token: None }),
            line(1, Event::ResourceRead { client: B, value: 41, token: None }),
            line(2, Event::WriteApplied { client: B, value: 42, token: None }),
            line(3, Event::WriteApplied { client: A, value: 42, token: None }),
        ];
        assert!(audit(&lost).unwrap().finding(Invariant::NoLostUpdate).is_some());
    }

    fn cycle(auditor: &mut Auditor, resource: &str, t: u64, client: ClientId) {
        for (dt, event) in [
            (0, Event::Setup { nodes: 1 }),
            (1, Event::AcquireStarted { client }),
            (2, Event::KeySet { node: NodeId(0), owner: client, ttl_ms: Some(10_000) }),
            (3, Event::Granted { client, validity_ms: 9_000, token: None }),
            (4, Event::ReleaseStarted { client }),
            (5, Event::KeyDeleted { node: NodeId(0), owner: client, by: client }),
        ] {
            auditor.record(Record { v: HISTORY_VERSION, t_ns: t + dt, resource: resource.into(), event }, 0).unwrap();
        }
    }

    #[test]
    fn idle_locks_are_forgotten_so_memory_follows_live_locks() {
        let mut auditor = Auditor::new();
        for i in 0..1000u64 {
            cycle(&mut auditor, &format!("lock-{i}"), i * 100, A);
        }
        assert!(auditor.due.len() <= 2 * auditor.pending + 1024 + 1, "stale deadlines are swept: {}", auditor.due.len());
        let a = auditor.finish();
        assert_eq!((a.locks, a.locks_exact, a.grants), (1000, true, 1000));
        assert!(a.findings.is_empty());
        assert!(a.peak_live_locks <= 1, "{}", a.peak_live_locks);
    }

    #[test]
    fn many_clients_of_one_lock_are_forgotten_once_idle() {
        let mut auditor = Auditor::new();
        for i in 0..1000u32 {
            cycle(&mut auditor, "one", i as u64 * 100, ClientId(i));
        }
        assert!(auditor.locks.is_empty());
    }

    #[test]
    fn an_extended_window_keeps_one_deadline_in_the_queue() {
        let mut auditor = Auditor::new();
        let rec = |t, event| Record { v: HISTORY_VERSION, t_ns: t, resource: "r".into(), event };
        auditor.record(rec(0, Event::Granted { client: A, validity_ms: 1_000_000, token: None }), 1).unwrap();
        for i in 1..10_000u64 {
            auditor.record(rec(i, Event::Extended { client: A, validity_ms: 1_000_000 }), i + 1).unwrap();
        }
        assert_eq!(auditor.due.len(), 1);
        let a = auditor.finish();
        assert!(a.findings.is_empty());
    }

    #[test]
    fn distinct_locks_are_estimated_beyond_the_exact_count() {
        let mut counter = LockCounter::default();
        for i in 0..300_000 {
            counter.insert(&format!("lock-{i}"));
        }
        assert!(!counter.exact());
        let n = counter.count() as f64;
        assert!((n - 300_000.0).abs() / 300_000.0 < 0.05, "{n}");
    }
}
