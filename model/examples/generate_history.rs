//! Writes a synthetic history in the recorder's NDJSON format to stdout, for auditing at scale:
//! `cargo run --release -p redlock-model --example generate_history -- 10000000 | cargo run --release --bin check -- history -`
//!
//! Arguments: the number of records (default 1,000,000), then optionally
//! - `--violate`: two clients hold one lock at once in the middle of the history;
//! - `--shape rotating` (the default): clients take 64 locks in turn on 5 nodes (quorum 3),
//!   read and write a fenced resource, release; many locks are live at once, none for long;
//! - `--shape distinct`: every hold is on a lock name never seen before (acquire, keys, grant,
//!   release, deletes);
//! - `--shape extensions`: one lock, granted once and then extended over and over with a long
//!   validity.
//!
//! The three shapes are the memory targets of the README: the auditor's memory must follow the
//! locks with live state, not the number of names or of extensions.

use redlock_client::event::{ClientId, Event, NodeId, Record, HISTORY_VERSION};
use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: u64 = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(|n| n.replace('_', "").parse().unwrap_or_else(|_| fail(&format!("{n:?} is not a number of records"))))
        .unwrap_or(1_000_000);
    let violate = args.iter().any(|a| a == "--violate");
    let shape = match args.iter().position(|a| a == "--shape").map(|i| args.get(i + 1).map(String::as_str)) {
        None | Some(Some("rotating")) => Shape::Rotating,
        Some(Some("distinct")) => Shape::Distinct,
        Some(Some("extensions")) => Shape::Extensions,
        Some(other) => fail(&format!("--shape {other:?}: rotating, distinct or extensions")),
    };
    let out = std::io::stdout();
    let mut writer = Writer { out: BufWriter::with_capacity(1 << 20, out.lock()), t: 0, written: 0, total };
    match shape {
        Shape::Rotating => rotating(&mut writer, violate),
        Shape::Distinct => distinct(&mut writer),
        Shape::Extensions => extensions(&mut writer),
    }
    if let Err(e) = writer.out.flush() {
        fail(&format!("cannot write: {e}"));
    }
}

enum Shape {
    Rotating,
    Distinct,
    Extensions,
}

fn fail(message: &str) -> ! {
    eprintln!("generate_history: {message}");
    std::process::exit(2)
}

struct Writer<W: Write> {
    out: W,
    t: u64,
    written: u64,
    total: u64,
}

impl<W: Write> Writer<W> {
    /// Writes one record a microsecond after the last; false once the total is written.
    fn emit(&mut self, resource: &str, event: Event) -> bool {
        if self.written == self.total {
            return false;
        }
        self.t += 1_000;
        let record = Record { v: HISTORY_VERSION, t_ns: self.t, resource: resource.to_string(), event };
        let line = serde_json::to_vec(&record).unwrap_or_else(|e| fail(&e.to_string()));
        if let Err(e) = self.out.write_all(&line).and_then(|()| self.out.write_all(b"\n")) {
            // A reader that went away ends the generator quietly.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            fail(&format!("cannot write: {e}"));
        }
        self.written += 1;
        true
    }
}

/// One hold on 5 nodes: setup, attempt, a quorum of keys, grant, then `during`, release, deletes.
fn hold(events: &mut Vec<Event>, client: ClientId, token: Option<u64>, during: impl FnOnce(&mut Vec<Event>)) {
    events.extend([Event::Setup { nodes: 5 }, Event::AcquireStarted { client }]);
    events.extend((0..3).map(|n| Event::KeySet { node: NodeId(n), owner: client, ttl_ms: Some(100) }));
    events.push(Event::Granted { client, validity_ms: 90, token });
    during(events);
    events.push(Event::ReleaseStarted { client });
    events.extend((0..3).map(|n| Event::KeyDeleted { node: NodeId(n), owner: client, by: client }));
}

fn rotating<W: Write>(w: &mut Writer<W>, violate: bool) {
    let locks = 64u64;
    let mut round = 0u64;
    let mut token = vec![0u64; locks as usize];
    let mut value = vec![0u64; locks as usize];
    let mut events = Vec::new();
    loop {
        for lock in 0..locks {
            let resource = format!("lock-{lock}");
            let client = ClientId(((round * 7 + lock) % 16) as u32);
            let next = ClientId((client.0 + 1) % 16);
            let i = lock as usize;
            token[i] += 1;
            let (t, v) = (token[i], value[i]);
            let second = violate && w.written >= w.total / 2;
            events.clear();
            hold(&mut events, client, Some(t), |e| {
                if second {
                    // A second holder while the first still believes it holds the lock.
                    e.push(Event::Granted { client: next, validity_ms: 90, token: Some(t) });
                    e.push(Event::ReleaseStarted { client: next });
                }
                e.push(Event::ResourceRead { client, value: v, token: Some(t) });
                e.push(Event::WriteApplied { client, value: v + 1, token: Some(t) });
            });
            value[i] += 1;
            for event in events.drain(..) {
                if !w.emit(&resource, event) {
                    return;
                }
            }
        }
        round += 1;
    }
}

fn distinct<W: Write>(w: &mut Writer<W>) {
    let mut events = Vec::new();
    for lock in 0u64.. {
        let resource = format!("job-{lock:012}");
        events.clear();
        hold(&mut events, ClientId((lock % 16) as u32), None, |_| {});
        for event in events.drain(..) {
            if !w.emit(&resource, event) {
                return;
            }
        }
    }
}

fn extensions<W: Write>(w: &mut Writer<W>) {
    let client = ClientId(1);
    let validity_ms = 3_600_000; // an hour: every extension outlives the whole history
    let start = [
        Event::Setup { nodes: 5 },
        Event::AcquireStarted { client },
        Event::KeySet { node: NodeId(0), owner: client, ttl_ms: Some(validity_ms) },
        Event::KeySet { node: NodeId(1), owner: client, ttl_ms: Some(validity_ms) },
        Event::KeySet { node: NodeId(2), owner: client, ttl_ms: Some(validity_ms) },
        Event::Granted { client, validity_ms, token: None },
    ];
    for event in start {
        if !w.emit("the-lock", event) {
            return;
        }
    }
    while w.emit("the-lock", Event::Extended { client, validity_ms }) {}
}
