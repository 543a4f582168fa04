//! The lock against real `redis-server` processes: quorum, faults, expiry, release, extension,
//! cancellation, contention, AUTH, TLS, and errors that say what each node answered.
//!
//! Timing contracts ("returns without waiting for the node timeout") are checked against a
//! node timeout long enough that a busy machine cannot blur the two outcomes.

use crate::harness::{audit, cluster, eventually, urls, Redis, Tls};
use redlock_client::{AcquireError, Client, ClientBuilder, ClientId, ExtendError, NodeOutcome, Recorder, ReleaseError, Released};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn builder(servers: &[Redis], ttl_ms: u64) -> ClientBuilder {
    Client::builder(urls(servers))
        .ttl(Duration::from_millis(ttl_ms))
        .retries(2)
        .retry_delay(Duration::from_millis(5)..=Duration::from_millis(20))
}

/// A node timeout that a busy machine never reaches by accident, and a TTL that allows it.
const LONG_NODE_TIMEOUT: Duration = Duration::from_secs(5);
const LONG_TTL_MS: u64 = 30_000;

async fn holders(servers: &[Redis], key: &str) -> usize {
    let mut n = 0;
    for s in servers {
        n += s.get(key).await.is_some() as usize;
    }
    n
}

async fn values(servers: &[Redis], key: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for s in servers {
        out.push(s.get(key).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_is_set_on_every_node_and_released_from_every_node() {
    let servers = cluster(3).await;
    let client = builder(&servers, LONG_TTL_MS).build().unwrap();
    let guard = client.acquire("orders").await.unwrap();
    assert!(guard.validity() > Duration::ZERO && guard.validity() <= Duration::from_millis(LONG_TTL_MS - 302));
    assert!(guard.remaining() <= guard.validity());
    assert_eq!(guard.token(), None);
    // The acquire returns on a quorum; the last node's SET lands just after.
    assert!(eventually(|| async { holders(&servers, "orders").await == 3 }).await);
    let values = values(&servers, "orders").await;
    assert!(values.iter().all(|v| v.as_deref() == values[0].as_deref() && v.as_ref().unwrap().len() == 40));
    for s in &servers {
        let pttl = s.pttl("orders").await;
        assert!(pttl > 0 && pttl <= LONG_TTL_MS as i64, "{pttl}");
    }
    let released = guard.release().await.unwrap();
    assert_eq!(released, Released { gone: vec![], nodes: 3 });
    // It returns once a majority is free of the key; the last node's release lands just after.
    assert!(holders(&servers, "orders").await <= 1);
    assert!(eventually(|| async { holders(&servers, "orders").await == 0 }).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_is_refused_to_others_as_contention_until_released() {
    let servers = cluster(3).await;
    let client = builder(&servers, LONG_TTL_MS).node_timeout(LONG_NODE_TIMEOUT).build().unwrap();
    let guard = client.acquire("r").await.unwrap();
    assert!(eventually(|| async { holders(&servers, "r").await == 3 }).await);
    let started = Instant::now();
    let e = client.with_client_id(ClientId(2)).acquire("r").await.unwrap_err();
    assert!(started.elapsed() < LONG_NODE_TIMEOUT / 2, "refusals decide at once");
    let AcquireError::NotAcquired { attempts, nodes } = &e else { panic!("{e:?}") };
    assert_eq!(*attempts, 3);
    // Failure is decided once a quorum is out of reach: two refusals of three.
    assert!(nodes.nodes_where(&NodeOutcome::Refused).len() >= 2, "{e}");
    assert!(e.is_contention());
    assert!(e.to_string().contains("of 3 nodes held the key for another client"), "{e}");
    assert_eq!(holders(&servers, "r").await, 3, "the loser's releases left the holder's keys");
    guard.release().await.unwrap();
    client.acquire("r").await.unwrap().release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_down_does_not_fail_the_acquire() {
    for n in [3, 5] {
        let mut servers = cluster(n).await;
        servers[0].kill();
        if n == 5 {
            servers[3].kill();
        }
        let client = builder(&servers, LONG_TTL_MS).build().unwrap();
        let guard = client.acquire("r").await.unwrap();
        assert_eq!(holders(&servers[1..3], "r").await, 2);
        // Every live node confirms: a majority, so the dead ones do not make it an error.
        guard.release().await.unwrap();
        assert_eq!(holders(&servers[1..3], "r").await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_costs_no_wait_and_its_keys_are_released_after_it_resumes() {
    let servers = cluster(3).await;
    let client = builder(&servers, LONG_TTL_MS).node_timeout(LONG_NODE_TIMEOUT).build().unwrap();
    // Connect to every node first, so that the paused node's request waits on a live socket.
    client.acquire("warm").await.unwrap().release().await.unwrap();
    servers[2].pause();
    let started = Instant::now();
    let guard = client.acquire("r").await.unwrap();
    assert!(started.elapsed() < LONG_NODE_TIMEOUT / 2, "a quorum answered: no need to wait");
    let started = Instant::now();
    assert!(guard.release().await.is_ok());
    assert!(started.elapsed() < LONG_NODE_TIMEOUT / 2, "a majority confirmed: no need to wait");
    assert_eq!(holders(&servers[..2], "r").await, 0);
    servers[2].resume();
    // The paused node now processes the SET, then the release queued behind it (each node's
    // release goes out after that node's acquire): no orphan key.
    let released = eventually(|| async { servers[2].get("r").await.is_none() }).await;
    assert!(released, "the release reached the resumed node after its acquire");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(servers[2].get("r").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_that_no_majority_confirms_names_the_silent_nodes_after_the_node_timeout() {
    let servers = cluster(3).await;
    let node_timeout = Duration::from_millis(300);
    let client = builder(&servers, LONG_TTL_MS).node_timeout(node_timeout).build().unwrap();
    client.acquire("warm").await.unwrap().release().await.unwrap();
    let guard = client.acquire("r").await.unwrap();
    assert!(eventually(|| async { holders(&servers, "r").await == 3 }).await);
    servers[1].pause();
    servers[2].pause();
    let started = Instant::now();
    let e = guard.release().await.unwrap_err();
    assert!(started.elapsed() >= node_timeout, "{:?}", started.elapsed());
    let ReleaseError::Unconfirmed { nodes } = &e else { panic!("{e:?}") };
    assert_eq!(nodes.0, vec![Some(NodeOutcome::Ok), Some(NodeOutcome::TimedOut), Some(NodeOutcome::TimedOut)]);
    assert!(e.to_string().contains("2 of 3 nodes timed out"), "{e}");
    servers[1].resume();
    servers[2].resume();
    let clean = eventually(|| async { holders(&servers, "r").await == 0 }).await;
    assert!(clean, "the releases reach the resumed nodes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_the_acquire_fails_names_the_silent_nodes_and_leaves_no_key() {
    let servers = cluster(3).await;
    let node_timeout = Duration::from_millis(300);
    let client = builder(&servers, LONG_TTL_MS).node_timeout(node_timeout).build().unwrap();
    client.acquire("warm").await.unwrap().release().await.unwrap();
    servers[1].pause();
    servers[2].pause();
    let e = client.acquire("r").await.unwrap_err();
    let AcquireError::NotAcquired { attempts: 3, nodes } = &e else { panic!("{e:?}") };
    assert_eq!(nodes.nodes_where(&NodeOutcome::TimedOut), vec![1, 2]);
    assert!(!e.is_contention());
    let released = eventually(|| async { servers[0].get("r").await.is_none() });
    assert!(released.await, "the reachable node was released");
    servers[1].resume();
    servers[2].resume();
    let clean = eventually(|| async { holders(&servers, "r").await == 0 }).await;
    assert!(clean, "the releases follow the late SETs on the resumed nodes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_expires_after_its_validity_and_its_release_is_then_reported_and_harmless() {
    let servers = cluster(3).await;
    let first = builder(&servers, 300).build().unwrap();
    let second = first.with_client_id(ClientId(2));
    let old = first.acquire("r").await.unwrap();
    // Past the validity, and past the keys' TTL on every server.
    assert!(eventually(|| async { old.remaining() == Duration::ZERO && holders(&servers, "r").await == 0 }).await);
    let new = second.acquire("r").await.unwrap();
    assert!(eventually(|| async { holders(&servers, "r").await == 3 }).await);
    assert_eq!(old.release().await, Err(ReleaseError::Expired));
    assert_eq!(holders(&servers, "r").await, 3, "the expired holder's release left the new keys");
    new.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_renews_the_keys_and_extending_after_expiry_is_rejected() {
    let servers = cluster(3).await;
    let client = builder(&servers, 1_500).build().unwrap();
    let mut guard = client.acquire("r").await.unwrap();
    assert!(eventually(|| async { holders(&servers, "r").await == 3 }).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut before = Vec::new();
    for s in &servers {
        before.push(s.pttl("r").await);
    }
    match guard.extend().await {
        Ok(validity) => assert!(validity > Duration::ZERO && guard.remaining() > Duration::ZERO),
        // A machine so busy that the round outlived the old validity: reported as a loss.
        Err(e) => assert_eq!(e, ExtendError::Expired),
    }
    let mut renewed = 0;
    for (s, before) in servers.iter().zip(before) {
        renewed += (s.pttl("r").await > before) as usize;
    }
    assert!(renewed >= 2, "a quorum renewed the TTL");
    // Past the validity, and past the keys' TTL on every server.
    assert!(eventually(|| async { guard.remaining() == Duration::ZERO && holders(&servers, "r").await == 0 }).await);
    assert_eq!(guard.extend().await, Err(ExtendError::Expired));
    assert_eq!(guard.extend().await, Err(ExtendError::Expired), "and stays so");
    assert_eq!(holders(&servers, "r").await, 0, "expired keys are not brought back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_that_no_majority_answers_keeps_the_old_validity() {
    let servers = cluster(3).await;
    let node_timeout = Duration::from_millis(300);
    let client = builder(&servers, LONG_TTL_MS).node_timeout(node_timeout).build().unwrap();
    let mut guard = client.acquire("r").await.unwrap();
    // Acquire returns at a quorum: let the third node's SET land before the nodes go quiet.
    assert!(eventually(|| async { holders(&servers, "r").await == 3 }).await);
    servers[1].pause();
    servers[2].pause();
    let e = guard.extend().await.unwrap_err();
    servers[1].resume();
    servers[2].resume();
    let ExtendError::NoQuorum { remaining, nodes } = &e else { panic!("{e:?}") };
    assert!(*remaining > Duration::ZERO && *remaining <= guard.validity());
    assert_eq!(nodes.0, vec![Some(NodeOutcome::Ok), Some(NodeOutcome::TimedOut), Some(NodeOutcome::TimedOut)]);
    assert!(e.to_string().contains("stays valid") && e.to_string().contains("2 of 3 nodes timed out"), "{e}");
    assert!(guard.remaining() > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_majority_that_lost_the_key_loses_the_lock_at_once_and_the_release_says_so() {
    let servers = cluster(5).await;
    let client = builder(&servers, LONG_TTL_MS).node_timeout(LONG_NODE_TIMEOUT).build().unwrap();
    let mut guard = client.acquire("r").await.unwrap();
    assert!(eventually(|| async { holders(&servers, "r").await == 5 }).await);
    // Gone on three of five nodes, as after an eviction or a FLUSHALL.
    for s in &servers[..3] {
        s.del("r").await;
    }
    let started = Instant::now();
    let e = guard.extend().await.unwrap_err();
    assert!(started.elapsed() < LONG_NODE_TIMEOUT / 2, "no waiting for timeouts: {:?}", started.elapsed());
    assert_eq!(e, ExtendError::Refused { nodes: vec![0, 1, 2] });
    assert!(e.to_string().contains("lost"), "{e}");
    assert_eq!(guard.remaining(), Duration::ZERO, "well before its validity's end, the lock is gone");
    assert_eq!(guard.extend().await, Err(ExtendError::Expired), "and stays gone");
    // The same news from a release: not an error (the lock is released), but said.
    let guard = client.acquire("s").await.unwrap();
    assert!(eventually(|| async { holders(&servers, "s").await == 5 }).await);
    for s in &servers[1..4] {
        s.del("s").await;
    }
    let released = guard.release().await.unwrap();
    // It waits for the answers that decide whether the lock was still held.
    assert!(released.gone.len() >= 3 && released.gone.iter().all(|n| (1..4).contains(n)), "{released:?}");
    assert!(released.was_lost());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_guard_releases_everywhere() {
    let servers = cluster(3).await;
    let client = builder(&servers, LONG_TTL_MS).build().unwrap();
    drop(client.acquire("r").await.unwrap());
    assert!(eventually(|| async { holders(&servers, "r").await == 0 }).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_acquire_leaves_no_key_even_on_nodes_that_answer_later() {
    let servers = cluster(3).await;
    let client = builder(&servers, LONG_TTL_MS).node_timeout(LONG_NODE_TIMEOUT).build().unwrap();
    client.acquire("warm").await.unwrap().release().await.unwrap();
    servers[1].pause();
    servers[2].pause();
    let attempt = tokio::time::timeout(Duration::from_millis(300), client.acquire("r")).await;
    assert!(attempt.is_err(), "still waiting for a quorum when dropped");
    assert!(eventually(|| async { servers[0].get("r").await.is_none() }).await);
    servers[1].resume();
    servers[2].resume();
    assert!(eventually(|| async { holders(&servers, "r").await == 0 }).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(holders(&servers, "r").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_contend_and_exactly_one_holds_at_a_time_as_the_judge_confirms() {
    let servers = cluster(5).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.ndjson");
    let client = builder(&servers, LONG_TTL_MS)
        .retries(1000)
        .retry_delay(Duration::from_millis(1)..=Duration::from_millis(10))
        .recorder(Recorder::append_to(&path).unwrap())
        .build()
        .unwrap();
    let inside = Arc::new(AtomicBool::new(false));
    let holds = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (client, inside, holds) = (client.with_client_id(ClientId(i)), inside.clone(), holds.clone());
            tokio::spawn(async move {
                for _ in 0..4 {
                    let guard = client.acquire("shared").await.unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    assert!(guard.remaining() > Duration::ZERO);
                    inside.store(false, Ordering::SeqCst);
                    holds.fetch_add(1, Ordering::SeqCst);
                    guard.release().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(holds.load(Ordering::SeqCst), 32);

    let audit = audit(&path);
    assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    assert_eq!(audit.grants, 32);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(r#""kind":"granted""#).count(), 32, "one grant recorded per hold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_require_a_password_are_reached_with_auth() {
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Redis::start_with(Some("s3cret"), None).await);
    }
    let client = builder(&servers, LONG_TTL_MS).build().unwrap();
    client.acquire("r").await.unwrap().release().await.unwrap();
    let wrong: Vec<String> = servers.iter().map(|s| format!("redis://:wrong@127.0.0.1:{}", s.port())).collect();
    let client = Client::builder(wrong).retries(0).build().unwrap();
    let e = client.acquire("r").await.unwrap_err();
    let AcquireError::NotAcquired { attempts: 1, nodes } = &e else { panic!("{e:?}") };
    assert!(nodes.iter().count() >= 2 && nodes.iter().all(|(_, o)| matches!(o, NodeOutcome::AuthenticationFailed(_))), "{e}");
    assert!(e.to_string().contains("of 3 nodes refused the credentials"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_told_apart_from_contention() {
    let mut servers = cluster(3).await;
    for s in &mut servers {
        s.kill();
    }
    let client = builder(&servers, LONG_TTL_MS).retries(0).build().unwrap();
    let e = client.acquire("r").await.unwrap_err();
    let AcquireError::NotAcquired { nodes, .. } = &e else { panic!("{e:?}") };
    assert!(nodes.nodes_where(&NodeOutcome::ConnectionRefused).len() >= 2, "{e}");
    assert!(!e.is_contention());
    assert!(e.to_string().contains("of 3 nodes refused the connection"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_behind_tls_are_reached_with_rediss_urls_and_a_trusted_root() {
    let tls = Tls::new().expect("test certificates (apt-get install openssl)");
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Redis::start_with(Some("s3cret"), Some(&tls)).await);
    }
    assert!(servers[0].url().starts_with("rediss://:s3cret@"));
    let client = builder(&servers, LONG_TTL_MS).tls_root_certificate(tls.ca_pem().unwrap()).build().unwrap();
    client.acquire("r").await.unwrap().release().await.unwrap();
    // Without the test CA, the system's roots do not trust the servers: the error says so.
    let untrusting = Client::builder(urls(&servers)).retries(0).build().unwrap();
    let e = untrusting.acquire("r").await.unwrap_err();
    let AcquireError::NotAcquired { attempts: 1, nodes } = &e else { panic!("{e:?}") };
    assert!(nodes.iter().count() >= 2 && nodes.iter().all(|(_, o)| matches!(o, NodeOutcome::TlsFailed(_))), "{e}");
    assert!(e.to_string().contains("failed the TLS handshake"), "{e}");
}

#[tokio::test]
async fn an_empty_resource_name_is_refused() {
    let client = Client::builder(["redis://127.0.0.1:1"]).build().unwrap();
    assert_eq!(client.acquire("").await.unwrap_err(), AcquireError::EmptyResource);
}

#[test]
fn acquiring_outside_a_runtime_is_an_error_not_a_panic() {
    let client = Client::builder(["redis://127.0.0.1:1"]).build().unwrap();
    let outcome = futures_block_on(client.acquire("r"));
    assert_eq!(outcome.unwrap_err(), AcquireError::NoRuntime);
}

/// Polls a future to completion on this thread, with no runtime at all.
fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
