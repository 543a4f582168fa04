//! `with_lock`: background extension; a loss reported within one extension interval of the end
//! of validity when nodes only time out, and at the next extension when a majority says the key
//! is gone.

use crate::harness::{audit, cluster, eventually, urls, Redis};
use redlock_client::event::{Event, Record};
use redlock_client::judge::Invariant;
use redlock_client::{Client, ClientId, LockError, LossReason, Recorder};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn client(servers: &[Redis], ttl_ms: u64) -> Client {
    Client::builder(urls(servers)).ttl(Duration::from_millis(ttl_ms)).retries(0).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_extended_while_the_work_runs_past_the_ttl_and_released_after() {
    let servers = cluster(3).await;
    let client = client(&servers, 900);
    let other = client.clone();
    let started = Instant::now();
    let out = client
        .with_lock("job", |ctx| async move {
            while started.elapsed() < Duration::from_millis(2000) {
                assert!(!ctx.is_lost());
                assert!(ctx.remaining() > Duration::ZERO);
                assert!(other.acquire("job").await.is_err(), "held by the work");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            42
        })
        .await;
    assert_eq!(out, Ok(42));
    // Released after the work: a majority at once, the last node just after.
    for s in &servers {
        assert!(eventually(|| async { s.get("job").await.is_none() }).await, "released after the work");
    }
}

/// Holds a lock in `with_lock` (TTL 3 s, extended every second), applies `fault`, and returns
/// how long after the fault the loss signal fired, the reason `with_lock` gave, and the
/// budget (the validity of a fresh lock).
async fn loss_after<F, Fut>(client: &Client, fault: F) -> (Duration, LockError, Duration)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let budget = Duration::from_millis(TTL_MS - client.params().drift_ms());
    let (context_tx, context_rx) = oneshot::channel();
    let work = client.with_lock("job", |ctx| async move {
        context_tx.send(ctx).ok();
        std::future::pending::<()>().await
    });
    let watch = async {
        let ctx = context_rx.await.unwrap();
        // Past the first extension.
        let extended = eventually(|| async { ctx.remaining() > budget - INTERVAL / 2 }).await;
        assert!(extended, "not extended: {:?}", ctx.remaining());
        tokio::time::sleep(INTERVAL / 2).await;
        let fault_at = Instant::now();
        fault().await;
        ctx.lost().await;
        let after = fault_at.elapsed();
        assert_eq!(ctx.remaining(), Duration::ZERO, "lost means no validity left");
        assert!(ctx.loss().is_some());
        after
    };
    let (result, after) = tokio::join!(work, watch);
    // The work's future was dropped at the loss and `with_lock` says why.
    (after, result.unwrap_err(), budget)
}

const TTL_MS: u64 = 3000;
const INTERVAL: Duration = Duration::from_millis(TTL_MS / 3);
/// What a busy machine may add to a timer's firing: timing contracts are checked up to it.
const SLACK: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_majority_makes_the_loss_known_within_one_extension_interval_of_the_validity() {
    let servers = cluster(3).await;
    let client = client(&servers, TTL_MS);
    let (after, error, budget) = loss_after(&client, || async {
        servers[1].pause();
        servers[2].pause();
    })
    .await;
    servers[1].resume();
    servers[2].resume();
    // Timeouts say nothing definite: the old validity stands, and the loss comes with its end.
    // The last extension that can succeed started before the fault, at most one interval
    // before it: validity ends within [fault + budget - interval, fault + budget].
    assert_eq!(error, LockError::Lost(LossReason::Expired));
    assert!(after <= budget + INTERVAL + SLACK, "reported {after:?} after the fault");
    assert!(after + INTERVAL + SLACK >= budget, "too early: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_majority_that_lost_the_key_makes_the_loss_known_at_the_next_extension() {
    let servers = cluster(5).await;
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.ndjson");
    let client = Client::builder(urls(&servers))
        .ttl(Duration::from_millis(TTL_MS))
        .retries(0)
        .recorder(Recorder::append_to(&history).unwrap())
        .build()
        .unwrap();
    let rival = client.with_client_id(ClientId(2));
    let (after, error, budget) = loss_after(&client, || async {
        // As an eviction, a FLUSHALL or a restart without persistence would: the key is gone
        // on three of five nodes, and another client takes the lock at once.
        for server in &servers[..3] {
            server.del("job").await;
        }
        let _ = rival.acquire("job").await.unwrap();
    })
    .await;
    // Reported at the next extension, not at the end of the old validity.
    match &error {
        LockError::Lost(LossReason::Refused { nodes }) => assert!(nodes.len() >= 3, "{nodes:?}"),
        other => panic!("{other:?}"),
    }
    assert!(after <= INTERVAL + SLACK, "reported {after:?} after the keys went");
    assert!(after < budget / 2);
    // In the history: the refusals, then the loss within one node timeout of the last of them
    // (the judge confirms the holder stopped believing at once; mutual exclusion did break).
    let audit = audit(&history);
    assert!(audit.finding(Invariant::LostLockReported).is_none(), "{:?}", audit.findings);
    assert!(audit.finding(Invariant::MutualExclusion).is_some(), "the rival held it while the holder believed");
    let records: Vec<Record> = std::fs::read_to_string(&history).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let holder = client.client_id();
    let lost = records.iter().find(|r| r.event == Event::LockLost { client: holder }).map(|r| r.t_ns).expect("the loss recorded");
    // The extension's refusals (the release after the loss finds the keys gone too).
    let last_refusal = records
        .iter()
        .filter(|r| matches!(r.event, Event::Refused { client, .. } if client == holder) && r.t_ns <= lost)
        .map(|r| r.t_ns)
        .max()
        .expect("refusals recorded");
    let delay = Duration::from_nanos(lost - last_refusal);
    assert!(delay < Duration::from_millis(client.params().node_timeout_ms), "loss recorded {delay:?} after the last refusal");
    println!("loss reported {after:?} after the keys went; {delay:?} after the last refusal arrived");
}
