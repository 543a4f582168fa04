//! Property tests of the judge and the auditor: no record the schema allows, no byte string and
//! no order of events makes them panic, overflow or wrap; an audit either judges a history or
//! names the line it cannot read. The suite runs a bounded number of cases; set
//! `PROPTEST_CASES` (for example 100000) for a longer run. The cases these tests (and the
//! hand-made fuzzing before them) ever found are kept below as regression tests, and proptest
//! keeps its own in `proptest-regressions/`.

use proptest::prelude::*;
use redlock_client::event::{ClientId, Event, Fault, NodeId, Record, HISTORY_VERSION};
use redlock_client::history::{Auditor, MAX_LINE_BYTES};
use redlock_client::judge::{Invariant, Judge};

/// Values that sit on the edges as often as in between.
fn edgy_u64() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![Just(0), Just(1), Just(u64::MAX), Just(u64::MAX - 1), Just(1 << 63), 0..10_000u64, any::<u64>()]
}

fn edgy_u32() -> impl Strategy<Value = u32> + Clone {
    prop_oneof![Just(0), Just(1), Just(u32::MAX), Just(u32::MAX - 1), 0..8u32, any::<u32>()]
}

fn client() -> impl Strategy<Value = ClientId> {
    prop_oneof![4 => (0..4u32).prop_map(ClientId), 1 => edgy_u32().prop_map(ClientId)]
}

fn node() -> impl Strategy<Value = NodeId> {
    prop_oneof![4 => (0..6u32).prop_map(NodeId), 1 => edgy_u32().prop_map(NodeId)]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        client().prop_map(|client| Fault::ClientPaused { client }),
        client().prop_map(|client| Fault::ClientResumed { client }),
        (node(), any::<i64>()).prop_map(|(node, by_ms)| Fault::ClockJump { node, by_ms }),
        (node(), any::<bool>()).prop_map(|(node, persisted)| Fault::Crash { node, persisted }),
        node().prop_map(|node| Fault::Failover { node }),
        Just(Fault::MessageLost),
        edgy_u64().prop_map(|ms| Fault::Delay { ms }),
        (any::<u32>(), any::<bool>()).prop_map(|(member, killed)| Fault::MemberDown { member, killed }),
        any::<u32>().prop_map(|member| Fault::MemberUp { member }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    let token = proptest::option::of(edgy_u64());
    prop_oneof![
        edgy_u32().prop_map(|nodes| Event::Setup { nodes }),
        prop_oneof![1..6u32, edgy_u32()].prop_map(|nodes| Event::Setup { nodes }),
        client().prop_map(|client| Event::AcquireStarted { client }),
        (node(), client(), proptest::option::of(edgy_u64())).prop_map(|(node, owner, ttl_ms)| Event::KeySet { node, owner, ttl_ms }),
        (client(), edgy_u64(), token.clone()).prop_map(|(client, validity_ms, token)| Event::Granted { client, validity_ms, token }),
        client().prop_map(|client| Event::AcquireFailed { client }),
        (client(), edgy_u64()).prop_map(|(client, validity_ms)| Event::Extended { client, validity_ms }),
        client().prop_map(|client| Event::ValidityEnded { client }),
        client().prop_map(|client| Event::ReleaseStarted { client }),
        client().prop_map(|client| Event::LockLost { client }),
        (node(), client(), client()).prop_map(|(node, owner, by)| Event::KeyDeleted { node, owner, by }),
        (node(), client()).prop_map(|(node, owner)| Event::KeyExpired { node, owner }),
        (node(), client()).prop_map(|(node, owner)| Event::KeyLost { node, owner }),
        node().prop_map(|node| Event::NodeDown { node }),
        node().prop_map(|node| Event::NodeUp { node }),
        client().prop_map(|client| Event::ClientCrashed { client }),
        fault().prop_map(|fault| Event::Fault { fault }),
        (client(), edgy_u64(), token.clone()).prop_map(|(client, value, token)| Event::ResourceRead { client, value, token }),
        (client(), edgy_u64(), token.clone()).prop_map(|(client, value, token)| Event::WriteApplied { client, value, token }),
        (client(), token).prop_map(|(client, token)| Event::WriteRejected { client, token }),
    ]
}

/// A history in stamp order: stamps grow by arbitrary steps (some huge), over a few locks.
fn history() -> impl Strategy<Value = Vec<Record>> {
    let step = prop_oneof![Just(0u64), 0..5_000_000u64, edgy_u64()];
    proptest::collection::vec((step, 0..3usize, event()), 0..60).prop_map(|items| {
        let mut t: u64 = 0;
        items
            .into_iter()
            .map(|(dt, lock, event)| {
                t = t.saturating_add(dt);
                Record { v: HISTORY_VERSION, t_ns: t, resource: ["a", "b", "lock-c"][lock].into(), event }
            })
            .collect()
    })
}

fn ndjson(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        serde_json::to_writer(&mut out, r).unwrap();
        out.push(b'\n');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The judge folds any sequence of events without panicking, and keeps one finding per
    /// property at most.
    #[test]
    fn the_judge_takes_any_events(nodes in edgy_u32(), events in proptest::collection::vec(event(), 0..80)) {
        let mut judge = Judge::joining(nodes);
        for e in &events {
            judge.observe(e);
            let _ = (judge.acquirable_premise(), judge.at_rest(), judge.highest_node());
            judge.forget_idle_clients();
        }
        for p in Invariant::ALL {
            prop_assert!(judge.violations().iter().filter(|v| v.property == p).count() <= 1);
        }
    }

    /// Any history in stamp order is either judged or refused with the line at fault.
    #[test]
    fn the_auditor_takes_any_history(records in history()) {
        let lines = records.len() as u64;
        match Auditor::audit(&ndjson(&records)[..]) {
            Ok(audit) => {
                prop_assert_eq!(audit.records, lines);
                prop_assert!(audit.peak_live_locks <= 3);
            }
            Err(e) => prop_assert!(e.line >= 1 && e.line <= lines && !e.message.is_empty(), "{e}"),
        }
    }

    /// Arbitrary bytes, and records with their JSON cut or mangled, never make it panic.
    #[test]
    fn the_auditor_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = Auditor::audit(&bytes[..]);
    }

    #[test]
    fn the_auditor_takes_mangled_records(records in history(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut text = ndjson(&records);
        if !text.is_empty() {
            let i = cut.index(text.len());
            text[i] = byte;
            let _ = Auditor::audit(&text[..]);
            text.truncate(i);
            let _ = Auditor::audit(&text[..]);
        }
    }
}

// Regression cases: each panicked (debug) or wrapped (release) before the auditor was hardened.

fn audit_text(lines: &[&str]) -> Result<redlock_client::history::Audit, redlock_client::history::HistoryError> {
    Auditor::audit(lines.join("\n").as_bytes())
}

#[test]
fn regression_the_largest_node_id_in_a_key_set_or_node_down() {
    for kind in [r#""kind":"key_set","node":4294967295,"owner":1,"ttl_ms":5"#, r#""kind":"node_down","node":4294967295"#] {
        let line = format!(r#"{{"v":1,"t_ns":0,"resource":"r",{kind}}}"#);
        assert!(audit_text(&[&line]).is_ok(), "{line}");
    }
}

#[test]
fn regression_a_key_that_never_expires_then_a_setup_with_fewer_nodes() {
    let err = audit_text(&[
        r#"{"v":1,"t_ns":0,"resource":"r","kind":"key_set","node":3,"owner":1,"ttl_ms":null}"#,
        r#"{"v":1,"t_ns":1,"resource":"r","kind":"setup","nodes":1}"#,
    ])
    .unwrap_err();
    assert_eq!(err.line, 2);
}

#[test]
fn regression_two_grants_at_the_last_nanosecond_overlap() {
    let a = audit_text(&[
        r#"{"v":1,"t_ns":18446744073709551615,"resource":"r","kind":"granted","client":1,"validity_ms":10,"token":null}"#,
        r#"{"v":1,"t_ns":18446744073709551615,"resource":"r","kind":"granted","client":2,"validity_ms":10,"token":null}"#,
    ])
    .unwrap();
    assert!(a.finding(Invariant::MutualExclusion).is_some());
}

#[test]
fn regression_a_hundred_megabyte_line_is_refused_early() {
    let long = vec![b'x'; MAX_LINE_BYTES * 100];
    let err = Auditor::audit(&long[..]).unwrap_err();
    assert!(err.message.contains("longer than"), "{err}");
}
