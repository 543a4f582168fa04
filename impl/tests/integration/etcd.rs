//! The etcd lock against a real 3-member etcd cluster (Debian's `etcd-server`) on loopback:
//! revisions as tokens, waiting for the holder's key to go, keep-alive, a lease lost under the
//! holder reported at once, a member killed while a lock is held, a paused holder whose lease
//! runs out, and the errors a user can act on.

use crate::harness::{audit, eventually, Redis};
use redlock_client::etcd::{EtcdClient, EtcdConfigError};
use redlock_client::fence::{RedisFenced, Write};
use redlock_client::judge::Invariant;
use redlock_client::{AcquireError, ClientId, ExtendError, LockError, LossReason, NodeOutcome, Recorder};
use redlock_testkit::{Ensemble, EtcdCluster};
use std::time::{Duration, Instant};

fn cluster() -> EtcdCluster {
    EtcdCluster::start(3).expect("a 3-member etcd cluster starts (apt-get install etcd-server)")
}

fn locks(cluster: &EtcdCluster, ttl: Duration) -> EtcdClient {
    EtcdClient::builder(cluster.urls()).ttl(ttl).build().unwrap()
}

/// A raw etcd connection, to look at or tamper with keys and leases behind the lock's back.
async fn raw(cluster: &EtcdCluster) -> etcd_client::Client {
    etcd_client::Client::connect(cluster.urls(), None).await.unwrap()
}

async fn key_exists(raw: &mut etcd_client::Client, key: &str) -> bool {
    raw.get(key, None).await.unwrap().kvs().len() == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_get_growing_revisions_as_tokens_and_a_release_frees_the_key() {
    let cluster = cluster();
    let locks = locks(&cluster, Duration::from_secs(30));
    let mut raw = raw(&cluster).await;
    let mut tokens = Vec::new();
    for id in 0..3 {
        let guard = locks.with_client_id(ClientId(id)).acquire("orders").await.unwrap();
        assert!(guard.remaining() > Duration::ZERO && guard.remaining() <= Duration::from_secs(30));
        let kv = raw.get("orders", None).await.unwrap().kvs()[0].clone();
        assert_eq!(Some(kv.create_revision() as u64), guard.token(), "the token is the key's create revision");
        assert_ne!(kv.lease(), 0, "the key lives on a lease");
        tokens.push(guard.token().unwrap());
        let released = guard.release().await.unwrap();
        assert!(!released.was_lost());
        assert!(!key_exists(&mut raw, "orders").await);
        let leases = raw.leases().await.unwrap();
        assert!(leases.leases().iter().all(|l| l.id() != kv.lease()), "the lease was revoked");
    }
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_waits_for_the_holders_key_to_go_and_gives_up_at_its_deadline() {
    let cluster = cluster();
    let locks = locks(&cluster, Duration::from_secs(30));
    let holder = locks.acquire("r").await.unwrap();
    // Contention ends with the holder's release: the waiter's watch sees the key go.
    let waiter = locks.with_client_id(ClientId(2));
    let waiting = tokio::spawn(async move { waiter.acquire("r").await.map(|g| g.token()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "it waits, not fails");
    let first = holder.token();
    holder.release().await.unwrap();
    let second = waiting.await.unwrap().expect("acquired once the key went");
    assert!(second > first);
    // A waiter whose deadline comes first gives up, and says the lock was held.
    let _held = locks.acquire("s").await.unwrap();
    let impatient =
        EtcdClient::builder(cluster.urls()).ttl(Duration::from_secs(30)).acquire_timeout(Duration::from_millis(500)).build().unwrap();
    let started = Instant::now();
    let e = impatient.acquire("s").await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(e.is_contention(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lock_keeps_the_lease_alive_past_its_ttl_and_a_revoked_lease_is_lost_at_once() {
    let cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.ndjson");
    let locks =
        EtcdClient::builder(cluster.urls()).ttl(Duration::from_secs(2)).recorder(Recorder::append_to(&history).unwrap()).build().unwrap();
    let mut raw = raw(&cluster).await;
    // Past the TTL: the keep-alive holds it.
    let started = Instant::now();
    let out = locks
        .with_lock("job", |ctx| async move {
            while started.elapsed() < Duration::from_secs(3) {
                assert!(!ctx.is_lost() && ctx.remaining() > Duration::ZERO);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            7
        })
        .await;
    assert_eq!(out, Ok(7));
    assert!(!key_exists(&mut raw, "job").await, "released after the work");
    // The lease revoked under the holder: the next keep-alive hears it is gone.
    let revoked = async {
        assert!(eventually(|| async { key_exists(&mut raw.clone(), "job").await }).await);
        let lease = raw.get("job", None).await.unwrap().kvs()[0].lease();
        let at = Instant::now();
        raw.lease_revoke(lease).await.unwrap();
        at
    };
    let work = locks.with_lock("job", |ctx| async move {
        ctx.lost().await;
        Instant::now()
    });
    let (result, revoked_at) = tokio::join!(work, revoked);
    assert_eq!(result.clone().map(|_| ()), Err(LockError::Lost(LossReason::Refused { nodes: vec![0] })), "{result:?}");
    let audit = audit(&history);
    assert!(audit.finding(Invariant::LostLockReported).is_none(), "{:?}", audit.findings);
    let _ = revoked_at;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_while_a_lock_is_held_changes_nothing_for_the_holder() {
    let mut cluster = cluster();
    let locks = locks(&cluster, Duration::from_secs(2));
    let mut guard = locks.acquire("r").await.unwrap();
    // Kill the leader (the hardest member to lose), then keep the lease alive through the rest.
    let leader = cluster.leader().expect("a leader");
    cluster.kill(leader);
    let mut renewed = 0;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if guard.extend().await.is_ok() {
            renewed += 1;
        }
    }
    assert!(renewed >= 2, "keep-alives go on with two of three members");
    assert!(guard.remaining() > Duration::ZERO);
    let token = guard.token();
    guard.release().await.unwrap();
    // The restarted member serves the store as it is: the next token is larger.
    cluster.restart(leader).unwrap();
    let next = locks.acquire("r").await.unwrap();
    assert!(next.token() > token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holders_lease_runs_out_the_next_holder_gets_a_larger_token_and_the_fence_refuses_the_stale_write() {
    let cluster = cluster();
    let store = Redis::start().await;
    let register = RedisFenced::new(store.conn().await, "register");
    let locks = locks(&cluster, Duration::from_secs(1));
    let raw = raw(&cluster).await;
    let old = locks.acquire("counter").await.unwrap();
    let seen = old.read(&register).await.unwrap();
    // The "pause": no keep-alive while etcd's clock runs the lease out and deletes the key.
    assert!(eventually(|| async { !key_exists(&mut raw.clone(), "counter").await }).await);
    let new = locks.with_client_id(ClientId(2)).acquire("counter").await.unwrap();
    assert!(new.token() > old.token(), "etcd's revision only grows");
    let current = new.read(&register).await.unwrap();
    assert_eq!(new.write(&register, current.value + 1).await.unwrap(), Write::Applied);
    let late = old.write(&register, seen.value + 1).await.unwrap();
    assert_eq!(late, Write::Rejected { fence: new.token().unwrap() });
    assert_eq!(register.peek().await.unwrap().value, 1, "one increment, kept");
    let mut old = old;
    assert!(matches!(old.extend().await, Err(ExtendError::Expired | ExtendError::Refused { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_an_unreachable_cluster_get_errors_that_say_so() {
    assert_eq!(EtcdClient::builder(Vec::<String>::new()).build().unwrap_err(), EtcdConfigError::NoEndpoints);
    let e = EtcdClient::builder(["http://127.0.0.1:1"]).ttl(Duration::from_millis(500)).build().unwrap_err();
    assert_eq!(e, EtcdConfigError::TtlBelowEtcdMinimum { ttl_ms: 500 });
    assert!(e.to_string().contains("below etcd's minimum"), "{e}");
    // Nothing listens: the requests are sent again until their 2 s deadline (not the 10 s
    // acquire timeout, which is for waiting on a holder), and the error says the connection failed.
    let port = redlock_testkit::process::free_port().unwrap();
    let locks = EtcdClient::builder([format!("http://127.0.0.1:{port}")]).build().unwrap();
    let started = Instant::now();
    let e = locks.acquire("r").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let AcquireError::LeaseNotAcquired { outcome } = &e else { panic!("{e:?}") };
    assert!(matches!(outcome, NodeOutcome::ConnectionRefused | NodeOutcome::ConnectionFailed(_)), "{e}");
    assert!(e.to_string().starts_with("the lock was not acquired: the store "), "{e}");
    assert!(!e.is_contention());
}
