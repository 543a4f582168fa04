//! Writes a synthetic history in the recorder's NDJSON format to stdout, for auditing at scale:
//! `cargo run --release -p redlock-model --example generate_history -- 10000000 | cargo run --release --bin check -- history -`
//!
//! Arguments: the number of records (default 1,000,000), then optionally `--violate` to make
//! two clients hold one lock at once in the middle of the history. Clients take 64 locks in
//! turn on 5 nodes (quorum 3), read and write a fenced resource, release; many locks are live at
//! once, none for long.

use redlock_client::event::{ClientId, Event, NodeId, Record, HISTORY_VERSION};
use std::io::{BufWriter, Write};

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map(|n| n.replace('_', "").parse().expect("a number of records")).unwrap_or(1_000_000);
    let violate = args.any(|a| a == "--violate");
    let out = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, out.lock());
    let mut t: u64 = 0;
    let mut written: u64 = 0;
    let emit = |out: &mut BufWriter<_>, t: u64, resource: &str, event: Event| {
        let record = Record { v: HISTORY_VERSION, t_ns: t, resource: resource.to_string(), event };
        serde_json::to_writer(&mut *out, &record).unwrap();
        out.write_all(b"\n").unwrap();
    };
    let locks = 64u64;
    let mut round = 0u64;
    let mut token = vec![0u64; locks as usize];
    let mut value = vec![0u64; locks as usize];
    'outer: loop {
        for lock in 0..locks {
            let resource = format!("lock-{lock}");
            let client = ClientId(((round * 7 + lock) % 16) as u32);
            let next = ClientId((client.0 + 1) % 16);
            let i = lock as usize;
            token[i] += 1;
            let mut events = vec![Event::Setup { nodes: 5 }, Event::AcquireStarted { client }];
            events.extend((0..3).map(|n| Event::KeySet { node: NodeId(n), owner: client, ttl_ms: Some(100) }));
            events.push(Event::Granted { client, validity_ms: 90, token: Some(token[i]) });
            if violate && written >= total / 2 {
                // A second holder while the first still believes it holds the lock.
                events.push(Event::Granted { client: next, validity_ms: 90, token: Some(token[i]) });
                events.push(Event::ReleaseStarted { client: next });
            }
            events.push(Event::ResourceRead { client, value: value[i], token: Some(token[i]) });
            value[i] += 1;
            events.push(Event::WriteApplied { client, value: value[i], token: Some(token[i]) });
            events.push(Event::ReleaseStarted { client });
            events.extend((0..3).map(|n| Event::KeyDeleted { node: NodeId(n), owner: client, by: client }));
            for event in events {
                if written == total {
                    break 'outer;
                }
                t += 1_000; // one microsecond between records
                emit(&mut out, t, &resource, event);
                written += 1;
            }
        }
        round += 1;
    }
    out.flush().unwrap();
}
