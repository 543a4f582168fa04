//! `with_lock`: background extension, and loss reported within one extension interval of the
//! end of validity (decision 16) when the loss is real.

use crate::harness::{cluster, eventually, urls, Redis};
use redlock_client::{Client, LockError};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn client(servers: &[Redis], ttl_ms: u64) -> Client {
    Client::builder(urls(servers))
        .ttl(Duration::from_millis(ttl_ms))
        .retries(0)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_extended_while_the_work_runs_past_the_ttl_and_released_after() {
    let servers = cluster(3).await;
    let client = client(&servers, 400);
    let other = client.clone();
    let started = Instant::now();
    let out = client
        .with_lock("job", |ctx| async move {
            while started.elapsed() < Duration::from_millis(1000) {
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
        assert!(eventually(Duration::from_secs(1), || async { s.get("job").await.is_none() }).await, "released after the work");
    }
}

/// Holds a lock in `with_lock`, then applies `fault`, which makes the lock impossible to keep,
/// and checks that the loss signal fires within one extension interval (TTL/3) of the latest
/// possible end of validity, and not before the earliest.
async fn loss_is_reported_in_time<F, Fut>(servers: &[Redis], fault: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let ttl_ms = 600;
    let client = client(servers, ttl_ms);
    let budget = Duration::from_millis(ttl_ms - client.params().drift_ms());
    let interval = Duration::from_millis(ttl_ms / 3);
    let (context_tx, context_rx) = oneshot::channel();
    let work = client.with_lock("job", |ctx| async move {
        context_tx.send(ctx).ok();
        std::future::pending::<()>().await
    });
    let watch = async {
        let ctx = context_rx.await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await; // past the first extension
        assert!(ctx.remaining() > Duration::from_millis(400), "extended: {:?}", ctx.remaining());
        let fault_at = Instant::now();
        fault().await;
        ctx.lost().await;
        let after = fault_at.elapsed();
        assert_eq!(ctx.remaining(), Duration::ZERO, "lost means no validity left");
        // The last extension that can succeed started before the fault, at most one interval
        // before it: validity ends within [fault + budget - interval, fault + budget].
        assert!(after <= budget + interval, "reported {after:?} after the fault");
        assert!(after + interval + Duration::from_millis(50) >= budget, "too early: {after:?}");
    };
    let (result, ()) = tokio::join!(work, watch);
    // The work's future was dropped at the loss and `with_lock` says why.
    assert_eq!(result, Err(LockError::Lost));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_majority_makes_the_loss_known_within_one_extension_interval() {
    let servers = cluster(3).await;
    loss_is_reported_in_time(&servers, || async {
        servers[1].pause();
        servers[2].pause();
    })
    .await;
    servers[1].resume();
    servers[2].resume();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_keys_makes_the_loss_known_within_one_extension_interval() {
    let servers = cluster(5).await;
    loss_is_reported_in_time(&servers, || async {
        for server in &servers {
            server.del("job").await;
        }
    })
    .await;
}
