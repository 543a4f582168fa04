//! The proxy against a real redis-server: messages pass, wait, and go one by one when held;
//! a script call that meets NOSCRIPT is still one message; losses reset the connection.

use redlock_client::redis::{self, aio::MultiplexedConnection};
use redlock_conformance::proxy::{Direction, Flow, Framing, Link};
use redlock_conformance::redis_server::{Persistence, RedisServer};
use std::time::{Duration, Instant};

const SOON: Duration = Duration::from_secs(2);

async fn connect(link: &Link) -> MultiplexedConnection {
    redis::Client::open(link.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_messages_go_one_by_one_in_order() {
    let server = RedisServer::start(Persistence::None).await.unwrap();
    let link = Link::open("test", server.addr(), Framing::Resp, Duration::ZERO).await.unwrap();
    // The connection's chores (CLIENT SETINFO) pass while the protocol is held.
    link.set_flow(Direction::ToServer, Flow::Hold);
    link.set_flow(Direction::ToClient, Flow::Hold);
    let mut conn = connect(&link).await;
    let mut c = conn.clone();
    let set = tokio::spawn(async move {
        redis::cmd("SET").arg("k").arg("v").arg("NX").arg("PX").arg(10_000).query_async::<Option<String>>(&mut c).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let direct = &mut server.connect().await.unwrap();
    assert_eq!(redis::cmd("EXISTS").arg("k").query_async::<i64>(direct).await.unwrap(), 0, "the request is held");
    link.release(Direction::ToServer, SOON).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(redis::cmd("EXISTS").arg("k").query_async::<i64>(direct).await.unwrap(), 1, "released, it reached the server");
    assert!(!set.is_finished(), "its reply is held");
    link.release(Direction::ToClient, SOON).await.unwrap();
    assert_eq!(set.await.unwrap().unwrap().as_deref(), Some("OK"));

    // A script the server has not loaded: EVALSHA, NOSCRIPT, SCRIPT LOAD, EVALSHA is one message.
    let script = redis::Script::new("return redis.call('GET', KEYS[1])");
    let eval = tokio::spawn(async move { script.key("k").invoke_async::<String>(&mut conn).await });
    link.release(Direction::ToServer, SOON).await.unwrap();
    link.release(Direction::ToClient, SOON).await.unwrap();
    assert_eq!(eval.await.unwrap().unwrap(), "v");
    let err = link.release(Direction::ToClient, Duration::from_millis(50)).await.unwrap_err();
    assert!(err.contains("no reply"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_blackholes_and_resets_are_real() {
    let server = RedisServer::start(Persistence::None).await.unwrap();
    let link = Link::open("test", server.addr(), Framing::Resp, Duration::ZERO).await.unwrap();
    let mut conn = connect(&link).await;
    link.set_flow(Direction::ToClient, Flow::Delay(Duration::from_millis(100)));
    let started = Instant::now();
    let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));

    // Replies lost: the SET lands, the client never hears of it (a lost reply hides a success).
    link.set_flow(Direction::ToClient, Flow::Blackhole);
    let mut c = conn.clone();
    let set = tokio::spawn(async move { redis::cmd("SET").arg("k").arg("v").query_async::<String>(&mut c).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server_get(&server, "k").await.as_deref(), Some("v"));
    assert!(!set.is_finished());
    // The loss ends: the connection is reset, and the waiting request fails.
    link.set_flow(Direction::ToClient, Flow::Pass);
    assert!(set.await.unwrap().is_err());
    assert_eq!(link.resets(), 1);
}

async fn server_get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(&mut server.connect().await.unwrap()).await.unwrap()
}
