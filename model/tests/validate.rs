//! Trace validation (`check validate`): a real history is a behaviour of the model, and a
//! doctored one is rejected at the record that no path can produce.
//!
//! `data/redlock-3-nodes-real.ndjson` is the beginning of a real soak run (seed 2024, run 11:
//! the crate's client with two clients on three real redis-servers): client 1 takes nodes 0 and
//! 2, client 0 takes node 1 three times, fails for want of a majority and releases it each time.

use redlock_client::event::{ClientId, Event, NodeId, Record};
use redlock_model::validate::{read_history, validate, Outcome};

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/redlock-3-nodes-real.ndjson");

fn real() -> Vec<Record> {
    read_history(REAL).expect("the fixture reads")
}

fn rejected_at(records: &[Record]) -> u64 {
    let v = validate(records, Some("redlock-n3"), 2_000_000).expect("validates");
    match v.outcome {
        Outcome::Rejected { number, ref states, .. } => {
            assert!(!states.is_empty(), "a rejection shows the states reached before it");
            number
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_real_history_is_a_behaviour_of_the_model() {
    let records = real();
    let v = validate(&records, None, 200_000).unwrap();
    assert_eq!(v.outcome, Outcome::Accepted, "{v}");
    assert_eq!(v.scenario, "redlock-n3", "three nodes and no resource: Redlock on three");
    // The three setup records are not compared.
    assert_eq!((v.compared, v.records), (16, 19));
}

#[test]
fn a_key_deleted_by_a_client_that_never_set_it_is_rejected_at_its_record() {
    // The history up to that record: a rejection is decided by exhausting every path, and the
    // records after it (matched out of order within the reorder window) would multiply them.
    let mut records = real();
    records.truncate(11);
    // Record 11: client 0 deletes its key on node 1; say client 1 deleted its own key there.
    records[10].event = Event::KeyDeleted { node: NodeId(1), owner: ClientId(1), by: ClientId(1) };
    assert_eq!(rejected_at(&records), 11);
}

#[test]
fn a_grant_before_its_majority_of_keys_is_rejected_at_the_grant() {
    let mut records = real();
    // Client 1's grant (record 9) moved before its two keys (records 7 and 8): one client's
    // records keep their order, and a grant needs a majority of keys.
    let grant = records.remove(8);
    records.insert(6, grant);
    assert_eq!(rejected_at(&records), 7);
}

/// `data/etcd-revision-real.ndjson`: a whole real soak run (seed 2024, run 305: the crate's etcd
/// lock, two clients on one real etcd member that is paused once for a quarter of a second);
/// each holder keeps its lease alive twice, releases, and the other takes the lock.
const ETCD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/etcd-revision-real.ndjson");

#[test]
fn a_real_etcd_history_with_keep_alives_is_a_behaviour_of_the_model() {
    let records = read_history(ETCD).unwrap();
    let v = validate(&records, None, 200_000).unwrap();
    assert_eq!(v.outcome, Outcome::Accepted, "{v}");
    assert_eq!(v.scenario, "etcd-lease-revision", "member faults and tokens: the etcd lock with its revision");
    // Every keep-alive's key set is compared (the setup records and the member's faults are not).
    assert_eq!((v.compared, v.records), (35, 40));
}

#[test]
fn a_pitfalls_records_name_its_scenario() {
    // One client on one server sets the key with SETNX (no TTL), as the SETNX-then-EXPIRE
    // pitfall does, and releases it: the correct encoding cannot produce that key set.
    let (c, node) = (ClientId(3), NodeId(0));
    let events = [
        Event::Setup { nodes: 1 },
        Event::AcquireStarted { client: c },
        Event::KeySet { node, owner: c, ttl_ms: None },
        Event::Granted { client: c, validity_ms: 95, token: None },
        Event::ReleaseStarted { client: c },
        Event::KeyDeleted { node, owner: c, by: c },
    ];
    let records: Vec<Record> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Record { v: redlock_client::event::HISTORY_VERSION, t_ns: 1_000_000 * i as u64, resource: "r".into(), event })
        .collect();
    let v = validate(&records, None, 200_000).unwrap();
    assert_eq!((v.scenario, &v.outcome), ("single-setnx-then-expire", &Outcome::Accepted), "{v}");
    assert!(matches!(validate(&records, Some("single-node"), 200_000).unwrap().outcome, Outcome::Rejected { number: 3, .. }));
}

#[test]
fn bad_histories_get_clear_errors() {
    let mut records = real();
    records.retain(|r| !matches!(r.event, Event::Setup { .. }));
    let e = validate(&records, None, 10_000).unwrap_err();
    assert!(e.contains("no setup record"), "{e}");
    let mut two_locks = real();
    two_locks[5].resource = "other".into();
    let e = validate(&two_locks, None, 10_000).unwrap_err();
    assert!(e.contains("2 locks"), "{e}");
    let e = validate(&real(), Some("no-such-scenario"), 10_000).unwrap_err();
    assert!(e.contains("no scenario"), "{e}");
}

#[test]
fn the_answer_does_not_depend_on_the_machine() {
    let a = validate(&real(), None, 200_000).unwrap();
    let b = validate(&real(), None, 200_000).unwrap();
    assert_eq!((a.states, &a.outcome), (b.states, &b.outcome));
}

/// The beginning of a real soak run of ZooKeeper's lock recipe (seed 8, run 12: three clients on
/// one real ZooKeeper server): its tokens are creation zxids (5, then 8: the queued nodes'
/// creates took the zxids between), which the model's lock service, counting grants, cannot
/// produce; validation says so instead of rejecting a correct run.
#[test]
fn a_zookeeper_history_is_not_validated_and_says_why() {
    let records = read_history(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/zookeeper-recipe-real.ndjson")).unwrap();
    let tokens: Vec<u64> = records
        .iter()
        .filter_map(|r| match r.event {
            Event::Granted { token, .. } => token,
            _ => None,
        })
        .collect();
    assert_eq!(tokens, [5, 8], "zxids skip the queued nodes' transactions");
    for scenario in ["zookeeper-session", "zookeeper-session-zxid"] {
        let v = validate(&records, Some(scenario), 10_000).unwrap();
        assert!(matches!(&v.outcome, Outcome::Unsupported { reason } if reason.contains("zxid")), "{v}");
    }
}
