//! Auditing a recorded history: the judge folded over NDJSON [`Record`]s, streaming.
//!
//! A history is what [`Recorder`](crate::Recorder) writes (one [`Record`] a line) or any file in
//! that format. The [`Auditor`] reads it line by line and keeps only what the judge needs: one
//! [`Judge`] per lock with live state, and the deadlines that only time produces and no client
//! records, namely a belief window ending (grant stamp + validity) and a key expiring (the
//! stamp of the `SET` reply + its TTL, a conservative bound). Memory is bounded by the locks
//! with live state, not by the length of the history: a lock whose judge holds nothing (no
//! holder, no acquirer, no key, no value written to its resource) is forgotten.
//!
//! **One clock.** Stamps are read as real time: the auditor assumes every record of a history
//! was stamped by one monotonic clock (one machine's `CLOCK_MONOTONIC`, which all its processes
//! share). Histories from several hosts would need each host's clock offset and drift bound,
//! and windows widened by them; that is not supported yet.
//!
//! Errors name the line: malformed JSON, an unknown event kind, an unsupported schema version,
//! time going backwards, a file that ends mid-line. None of them panics.

use crate::event::{ClientId, Event, NodeId, Record, HISTORY_VERSION};
use crate::judge::{Judge, Property};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io::BufRead;

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
    pub property: Property,
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
    pub locks: u64,
    pub grants: u64,
    /// The first violation of each property, in the order they happened.
    pub findings: Vec<Finding>,
    /// The most locks the auditor kept at once (its memory bound).
    pub peak_live_locks: u64,
}

impl Audit {
    /// The first violation of `property`, if any.
    pub fn finding(&self, property: Property) -> Option<&Finding> {
        self.findings.iter().find(|f| f.property == property)
    }
}

/// A deadline that only time produces, ordered by time, then by scheduling order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Due {
    t_ns: u64,
    /// Order of scheduling, to keep equal deadlines in order.
    seq: u64,
    resource: String,
    event: Event,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.t_ns, self.seq).cmp(&(other.t_ns, other.seq))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The streaming auditor. Feed it lines with [`Auditor::line`], then call [`Auditor::finish`].
#[derive(Default)]
pub struct Auditor {
    judges: HashMap<String, Judge>,
    due: BinaryHeap<Reverse<Due>>,
    /// The latest window end scheduled for each (lock, client): earlier ones are stale.
    window_end: HashMap<(String, ClientId), u64>,
    /// The latest expiry scheduled for each (lock, node, owner).
    key_expiry: HashMap<(String, NodeId, ClientId), u64>,
    /// Live deadlines per lock (entries of the two maps above): a lock with none and an idle
    /// judge is forgotten.
    live: HashMap<String, u32>,
    seq: u64,
    last_t: u64,
    line: u64,
    audit: Audit,
    seen: std::collections::HashSet<String>,
}

impl Auditor {
    pub fn new() -> Auditor {
        Auditor::default()
    }

    /// Reads a whole history.
    pub fn audit(reader: impl BufRead) -> Result<Audit, HistoryError> {
        let mut auditor = Auditor::new();
        for line in reader.split(b'\n') {
            let line = line.map_err(|e| auditor.error(format!("cannot read: {e}")))?;
            auditor.line(&line)?;
        }
        Ok(auditor.finish())
    }

    /// Feeds the next line (without its newline). A line that ends before its JSON object does
    /// (a file cut off mid-line) is an error that says the record is truncated.
    pub fn line(&mut self, bytes: &[u8]) -> Result<(), HistoryError> {
        self.line += 1;
        let text = std::str::from_utf8(bytes).map_err(|_| self.error("not UTF-8 text".into()))?;
        if text.trim().is_empty() {
            return Ok(());
        }
        let record = parse_record(text).map_err(|message| self.error(message))?;
        let line = self.line;
        self.record(record, line)
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
        self.fire_due(record.t_ns, false);
        self.schedule(&record);
        if self.seen.insert(record.resource.clone()) {
            self.audit.locks += 1;
        }
        if matches!(record.event, Event::Granted { .. }) {
            self.audit.grants += 1;
        }
        self.audit.records += 1;
        self.observe(&record.resource, &record.event, record.t_ns);
        Ok(())
    }

    /// Ends the audit: every deadline still pending comes to pass.
    pub fn finish(mut self) -> Audit {
        self.fire_due(u64::MAX, true);
        self.audit
    }

    fn error(&self, message: String) -> HistoryError {
        HistoryError { line: self.line, message }
    }

    fn schedule(&mut self, record: &Record) {
        let at = |ms: u64| record.t_ns.saturating_add(ms.saturating_mul(1_000_000));
        let resource = &record.resource;
        match record.event {
            Event::Granted { client, validity_ms, .. } | Event::Extended { client, validity_ms } => {
                let end = at(validity_ms);
                if self.window_end.insert((resource.clone(), client), end).is_none() {
                    *self.live.entry(resource.clone()).or_default() += 1;
                }
                self.push(end, resource, Event::ValidityEnded { client });
            }
            Event::ReleaseStarted { client } | Event::LockLost { client } | Event::ClientCrashed { client } => {
                if self.window_end.remove(&(resource.clone(), client)).is_some() {
                    self.unlive(resource);
                }
            }
            Event::KeySet { node, owner, ttl_ms: Some(ttl) } => {
                let end = at(ttl);
                if self.key_expiry.insert((resource.clone(), node, owner), end).is_none() {
                    *self.live.entry(resource.clone()).or_default() += 1;
                }
                self.push(end, resource, Event::KeyExpired { node, owner });
            }
            Event::KeyDeleted { node, owner, .. } | Event::KeyLost { node, owner } => {
                if self.key_expiry.remove(&(resource.clone(), node, owner)).is_some() {
                    self.unlive(resource);
                }
            }
            _ => {}
        }
    }

    fn unlive(&mut self, resource: &str) {
        if let Some(n) = self.live.get_mut(resource) {
            *n -= 1;
            if *n == 0 {
                self.live.remove(resource);
            }
        }
    }

    fn push(&mut self, t_ns: u64, resource: &str, event: Event) {
        self.seq += 1;
        self.due.push(Reverse(Due { t_ns, seq: self.seq, resource: resource.to_string(), event }));
    }

    /// Brings about every deadline at or before `t` (a window is half-open: it has ended by its
    /// end instant). Stale deadlines (superseded by an extension, a release, a new key) are
    /// skipped.
    fn fire_due(&mut self, t: u64, all: bool) {
        while let Some(Reverse(next)) = self.due.peek() {
            if !all && next.t_ns > t {
                break;
            }
            let Reverse(due) = self.due.pop().expect("peeked");
            let current = match due.event {
                Event::ValidityEnded { client } => {
                    let key = (due.resource.clone(), client);
                    let live = self.window_end.get(&key) == Some(&due.t_ns);
                    if live {
                        self.window_end.remove(&key);
                        self.unlive(&due.resource);
                    }
                    live
                }
                Event::KeyExpired { node, owner } => {
                    let key = (due.resource.clone(), node, owner);
                    let live = self.key_expiry.get(&key) == Some(&due.t_ns);
                    if live {
                        self.key_expiry.remove(&key);
                        self.unlive(&due.resource);
                    }
                    live
                }
                _ => true,
            };
            if current {
                self.observe(&due.resource, &due.event, due.t_ns);
            }
        }
    }

    fn observe(&mut self, resource: &str, event: &Event, t_ns: u64) {
        let judge = self.judges.entry(resource.to_string()).or_insert_with(|| Judge::new(0));
        for property in judge.observe(event) {
            let explanation = judge.violation(property).map(|v| v.explanation.clone()).unwrap_or_default();
            if self.audit.finding(property).is_none() {
                self.audit.findings.push(Finding { property, resource: resource.to_string(), line: self.line, t_ns, explanation });
            }
        }
        let at_rest = judge.at_rest();
        self.audit.peak_live_locks = self.audit.peak_live_locks.max(self.judges.len() as u64);
        if at_rest && !self.live.contains_key(resource) {
            self.judges.remove(resource);
        }
    }
}

/// Parses one line into a record, with messages a user can act on.
pub fn parse_record(text: &str) -> Result<Record, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            "truncated record (the line ends before the JSON object does)".to_string()
        } else {
            format!("malformed JSON: {e}")
        }
    })?;
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == HISTORY_VERSION as u64 => {}
        Some(v) => return Err(format!("history schema version {v} is not supported (this auditor reads version {HISTORY_VERSION})")),
        None => return Err("no schema version \"v\": not a history record".into()),
    }
    if let Some(kind) = value.get("kind").and_then(|k| k.as_str()) {
        let known = serde_json::from_value::<Record>(value.clone());
        if let Err(e) = known {
            if e.to_string().contains("unknown variant") {
                return Err(format!("unknown event kind {kind:?}"));
            }
            return Err(format!("bad {kind:?} record: {e}"));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("not a history record: {e}"))
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
        let f = a.finding(Property::MutualExclusion).expect("violated");
        assert_eq!((f.line, f.t_ns, f.resource.as_str()), (2, 9 * MS, "r"));
    }

    #[test]
    fn an_extension_moves_the_window_end() {
        let h = [
            line(0, Event::Granted { client: A, validity_ms: 10, token: None }),
            line(5 * MS, Event::Extended { client: A, validity_ms: 10 }),
            line(12 * MS, Event::Granted { client: B, validity_ms: 10, token: None }),
        ];
        assert!(audit(&h).unwrap().finding(Property::MutualExclusion).is_some());
    }

    #[test]
    fn malformed_lines_get_errors_naming_the_line() {
        let ok = line(0, Event::Setup { nodes: 1 });
        let cases = [
            ("{\"v\":1,", "truncated record"),
            ("not json", "malformed JSON"),
            ("{\"v\":2,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"setup\",\"nodes\":1}", "schema version 2 is not supported"),
            ("{\"v\":1,\"t_ns\":0,\"resource\":\"r\",\"kind\":\"teleported\"}", "unknown event kind \"teleported\""),
            ("{\"t_ns\":0}", "no schema version"),
        ];
        for (bad, message) in cases {
            let err = audit(&[ok.clone(), bad.to_string()]).unwrap_err();
            assert_eq!(err.line, 2, "{bad}");
            assert!(err.message.contains(message), "{bad}: {err}");
        }
    }

    #[test]
    fn time_going_backwards_is_an_error() {
        let h = [line(5, Event::Setup { nodes: 1 }), line(4, Event::Setup { nodes: 1 })];
        let err = audit(&h).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("time goes backwards"));
    }

    #[test]
    fn idle_locks_are_forgotten_so_memory_follows_live_locks() {
        let mut auditor = Auditor::new();
        for i in 0..1000u64 {
            let resource = format!("lock-{i}");
            for (t, event) in [
                (i * 100, Event::Setup { nodes: 1 }),
                (i * 100 + 1, Event::AcquireStarted { client: A }),
                (i * 100 + 2, Event::KeySet { node: NodeId(0), owner: A, ttl_ms: Some(1) }),
                (i * 100 + 3, Event::Granted { client: A, validity_ms: 1, token: None }),
                (i * 100 + 4, Event::ReleaseStarted { client: A }),
                (i * 100 + 5, Event::KeyDeleted { node: NodeId(0), owner: A, by: A }),
            ] {
                auditor.record(Record { v: HISTORY_VERSION, t_ns: t, resource: resource.clone(), event }, 0).unwrap();
            }
        }
        let a = auditor.finish();
        assert_eq!((a.locks, a.grants), (1000, 1000));
        assert!(a.findings.is_empty());
        assert!(a.peak_live_locks <= 2, "{}", a.peak_live_locks);
    }
}
