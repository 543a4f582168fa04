//! A real eviction: a redis-server with a small `maxmemory` and `volatile-lru` evicts the lock
//! key under memory pressure (no emulation: other keys with a TTL fill its memory). The client
//! warns about the policy when it connects, the next client is granted the evicted lock while
//! the holder still believes, and the holder's next extension hears that its key is gone and
//! reports the loss at once. The judge reads it all from the recorded history.

use redlock_client::event::{ClientId, Event, NodeId};
use redlock_client::judge::Invariant;
use redlock_client::redis;
use redlock_client::{Client, ExtendError, Warning};
use redlock_conformance::history::{audit, History};
use redlock_conformance::redis_server::{Config, RedisServer};
use std::time::{Duration, Instant};

async fn info_used_memory(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await.unwrap();
    info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_under_memory_pressure_evicts_a_lock_and_the_judge_sees_two_holders() {
    // Start with room to spare, then leave 4 MB above what the server uses now.
    let config = Config { maxmemory: Some((1 << 30, "volatile-lru".into())), ..Config::default() };
    let server = RedisServer::start_with(config).await.expect("redis-server starts");
    let mut admin = server.connect().await.unwrap();
    let used = info_used_memory(&mut admin).await;
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(used + (4 << 20)).query_async(&mut admin).await.unwrap();

    let history = History::new("job");
    let client = Client::builder([server.url()]).ttl(Duration::from_secs(30)).recorder(history.recorder()).build().unwrap();
    let rival = client.with_client_id(ClientId(2));
    let mut guard = client.acquire("job").await.unwrap();
    // The client read the policy when it connected.
    let warned = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if client.warnings().iter().any(|w| matches!(w, Warning::EvictionPossible { node: 0, policy, .. } if policy == "volatile-lru"))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(warned.await, "{:?}", client.warnings());

    // Memory pressure: keys with a TTL, 16 KB each, until the lock key is evicted.
    let filler = vec![b'x'; 16 << 10];
    let mut written = 0;
    loop {
        let exists: i64 = redis::cmd("EXISTS").arg("job").query_async(&mut admin).await.unwrap();
        if exists == 0 {
            break;
        }
        assert!(written < 20_000, "the lock key was not evicted after {written} filler keys");
        for _ in 0..16 {
            let _: () = redis::cmd("SET")
                .arg(format!("filler:{written}"))
                .arg(&filler[..])
                .arg("PX")
                .arg(600_000)
                .query_async(&mut admin)
                .await
                .unwrap();
            written += 1;
        }
    }
    history.record(Event::KeyLost { node: NodeId(0), owner: client.client_id() });
    // Room again, and the rival takes the lock the server forgot.
    let _: () = redis::cmd("FLUSHDB").query_async(&mut admin).await.unwrap();
    let rival_guard = rival.acquire("job").await.expect("the evicted lock is free");
    // The holder's next extension hears that the key is not its own: lost at once.
    let started = Instant::now();
    assert_eq!(guard.extend().await, Err(ExtendError::Refused { nodes: vec![0] }));
    assert!(started.elapsed() < Duration::from_secs(5));
    rival_guard.release().await.unwrap();

    let audit = audit(&history.records());
    let violated: Vec<Invariant> = audit.findings.iter().map(|f| f.property).collect();
    assert_eq!(violated, vec![Invariant::MutualExclusion], "{:?}", audit.findings);
    eprintln!("evicted after {written} filler keys of 16 KB; the judge: {:?}", audit.findings[0].explanation);
}
