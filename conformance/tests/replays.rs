//! Directed replays of the model's counterexamples against real Redis: each must violate, in
//! the real history, the property the model's counterexample violates, judged by the same
//! judge.

use redlock_client::event::Event;
use redlock_client::judge::Invariant;
use redlock_conformance::replay::{replay, replay_schedule_on, Options};
use redlock_model::setup::Timing;
use std::time::Duration;

/// Each replay runs on real time: on a busy machine an operation of a tick can outlast the
/// margin its timers leave (a quarter of a tick), and the real run leaves the model's path. That
/// is the machine's speed, not a verdict: the replay is run again with ticks twice as long, up to
/// 1.6 s. A run that stays on the path decides.
async fn reproduces(scenario: &str) {
    reproduces_cell(scenario, None, Options::default()).await
}

/// Replays the counterexample of `cell` (a property and a timing; by default the scenario's
/// first violated property, in the timing whose counterexample shows its fault).
async fn reproduces_cell(scenario: &str, cell: Option<(Invariant, Timing)>, mut options: Options) {
    let (property, timing) = cell.unzip();
    let mut outcome = replay(scenario, property, timing, &options).await.unwrap_or_else(|e| panic!("{scenario}: {e}"));
    while outcome.diverged.is_some() && options.tick < Duration::from_millis(1600) {
        eprintln!("{}\nleft the model's path with {:?} ticks: again with ticks twice as long", outcome.report(), options.tick);
        options.tick *= 2;
        outcome = replay(scenario, property, timing, &options).await.unwrap_or_else(|e| panic!("{scenario}: {e}"));
    }
    let report = outcome.report();
    eprintln!("{report}");
    assert!(outcome.diverged.is_none(), "{report}");
    assert!(outcome.model_violations.contains(&outcome.property), "{report}");
    assert!(outcome.reproduced(), "{report}");
    let real: Vec<_> = outcome.audit.findings.iter().map(|f| f.property).collect();
    assert_eq!(real, outcome.model_violations, "the real history violates what the model's trace violates, no more\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_after_acquire_without_fencing() {
    reproduces("pause-unfenced").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_jump() {
    reproduces("redlock-clock-jump").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_without_fsync() {
    reproduces("redlock-restart-no-fsync").await;
}

/// The failover is Redis Sentinel's: three sentinels see the primary gone (after 1 s without
/// an answer), elect a leader and promote the replica, about 2 s in all. A tick of 3 s gives the
/// first holder a validity of 9 s, so that the second is granted while the first still believes,
/// as in the model's path, whatever the election takes within that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_before_replication() {
    reproduces_cell("failover-async-replica", None, Options { tick: Duration::from_secs(3), ..Options::default() }).await;
}

/// Redisson's `WAIT 1` on a primary with two replicas (the literature leaves the cell open; the
/// model finds mutual exclusion violated in sync): the grant waits until replica 0 has
/// acknowledged the key; the primary dies and the sentinels promote replica 1, which never got
/// it (Sentinel prefers the lowest `replica-priority`, set so here as the model's failover
/// chooses); the next client is granted on the new primary while the first still believes.
/// Ticks of 3 s, as for the other failover: the sentinels take about 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_one_replica_then_failover_to_the_other() {
    let options = Options { tick: Duration::from_secs(3), ..Options::default() };
    reproduces_cell("redisson-wait-1", Some((Invariant::MutualExclusion, Timing::Sync)), options).await;
}

/// Redisson's `WAIT 2` of two replicas, which holds in sync, breaks when the primary's clock runs
/// fast (async): the key expires early (emulated as a forward jump), a second client's `SET`
/// lands, both writes reach both replicas, and both clients are granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_every_replica_with_a_fast_clock() {
    reproduces_cell("redisson-wait-2", Some((Invariant::MutualExclusion, Timing::Async)), Options::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fence_check_then_write() {
    reproduces("fence-check-then-write").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_then_del_release() {
    reproduces("single-get-then-del").await;
}

/// Kleppmann's pause on the crate's etcd lock (a 1-member etcd, a whole-second lease): the
/// paused holder's write lands after the next holder's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_lease_pause_without_fencing() {
    reproduces("etcd-lease").await;
}

/// The same schedule with the key's create revision as the token, checked by the crate's
/// Redis fence: the paused holder's write is refused, and the history breaks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_lease_pause_fenced_by_the_revision() {
    refuses_the_stale_write("etcd-lease", "etcd-lease-revision").await;
}

/// Kleppmann's pause (`pause-unfenced`'s schedule) on a Redis lock whose token, from the lock
/// server's counter, the crate's Redis fence checks atomically (`pause-fenced`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_fenced_by_the_counter() {
    refuses_the_stale_write("pause-unfenced", "pause-fenced").await;
}

/// `name`'s counterexample schedule run on `on`'s system: the paused holder's write is refused
/// (exactly one write rejected), and the history breaks nothing.
async fn refuses_the_stale_write(name: &str, on: &str) {
    let outcome = replay_schedule_on(name, on, &Options::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let report = outcome.report();
    eprintln!("{report}");
    assert!(outcome.diverged.is_none(), "{report}");
    assert!(outcome.audit.findings.is_empty(), "{report}");
    let records = std::fs::read_to_string(&outcome.history).expect("the replay's history");
    let rejected = records
        .lines()
        .filter_map(|l| redlock_client::history::parse_record(l).ok())
        .filter(|r| matches!(r.event, Event::WriteRejected { .. }))
        .count();
    assert_eq!(rejected, 1, "the paused holder's write is refused\n{report}");
}
