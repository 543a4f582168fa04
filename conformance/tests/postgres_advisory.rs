//! PostgreSQL's session-level advisory lock on a real server, its holder's session ended for
//! real: the loopback proxy resets the holder's connection, the server notices and releases the
//! lock, telling no one. Judged by the one judge and compared with the model's cells:
//! `postgres-advisory` (two holders, a lost update) and `postgres-advisory-fenced` (a token from
//! a sequence, checked by the resource atomically: the stale write is refused).

use redlock_client::event::ClientId;
use redlock_client::fence::{PostgresFenced, Write};
use redlock_client::judge::Invariant;
use redlock_conformance::history::{audit, History};
use redlock_conformance::postgres::{connection_string, Postgres};
use redlock_conformance::postgres_lock::PgAdvisoryLock;
use redlock_conformance::proxy::{Framing, Link};
use redlock_conformance::redis_server::{Persistence, RedisServer};
use redlock_conformance::registers::RegisterSpec;
use redlock_conformance::safety_matrix::disagreements;
use redlock_model::setup::Timing;
use std::time::Duration;

/// The advisory lock's key; any 64-bit number names a lock.
const LOCK: i64 = 42;
/// How long a client polls for the lock before the test gives up (it waits on the condition).
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// One run: client 0 takes the lock through the proxy and reads; its session is cut; client 1
/// takes the lock once the server has released it, reads and writes; client 0, not told, writes.
/// The register checks nothing (Redis), or checks the token atomically (PostgreSQL, the crate's
/// `PostgresFenced`).
async fn session_ended_under_the_holder(fenced: bool) -> redlock_client::history::Audit {
    let pg = Postgres::start().expect("PostgreSQL starts (apt-get install postgresql)");
    let link = Link::open("postgres", pg.addr(), Framing::Raw, Duration::ZERO).await.expect("the proxy listens");
    let setup = pg.connect().await.expect("PostgreSQL accepts logins");
    setup.batch_execute("CREATE SEQUENCE fence").await.unwrap();
    PostgresFenced::new(setup, "register", "").create_table().await.unwrap();
    let redis = RedisServer::start(Persistence::None).await.expect("redis-server starts");
    let spec = match fenced {
        true => RegisterSpec::Postgres { config: pg.connection_string(), table: "register".into(), id: "r".into() },
        false => RegisterSpec::Unfenced { url: redis.url(), key: "register".into() },
    };
    let history = History::new("pg-advisory-42");
    let register = spec.connect(history.resource_turn()).await.expect("the register");
    let first = PgAdvisoryLock::new(connection_string(link.addr()), LOCK, "fence", ClientId(0), &history);
    let second = PgAdvisoryLock::new(pg.connection_string(), LOCK, "fence", ClientId(1), &history);
    let a = first.acquire(PATIENCE, POLL).await.expect("the lock is free");
    let read_a = a.holder.read(&register).await.expect("the register reads").value;

    // The server ends client 0's session: its connection breaks (a cut it notices), and it
    // releases the lock. Client 1 polls until it gets it (the condition, not a guess of time).
    link.reset();
    let b = second.acquire(PATIENCE, POLL).await.expect("the server releases the ended session's lock");
    let read_b = b.holder.read(&register).await.expect("the register reads").value;
    assert_eq!(b.holder.write(&register, read_b + 1).await.expect("the register answers"), Write::Applied, "the holder writes");
    assert!(a.holder.token < b.holder.token, "the later grant's token is larger");
    // Client 0 was not told: it goes on with the value it read.
    let stale = a.holder.write(&register, read_a + 1).await.expect("the register answers");
    assert_eq!(stale == Write::Applied, !fenced, "the stale write is refused exactly when the resource checks tokens");
    // Client 0's own session is gone: its release is where it learns.
    assert!(!a.release().await, "the ended session releases nothing");
    audit(&history.records())
}

/// Every property the scenario judges: violated for real exactly where the model's sync cell
/// is (the session's end needs no timing hazard).
fn agrees_with_the_model(scenario: &str, audit: &redlock_client::history::Audit) {
    let disagreements = disagreements(scenario, Timing::Sync, audit);
    assert!(disagreements.is_empty(), "{scenario}: {disagreements:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_gives_two_holders_and_a_lost_update() {
    let audit = session_ended_under_the_holder(false).await;
    assert!(audit.finding(Invariant::MutualExclusion).is_some() && audit.finding(Invariant::NoLostUpdate).is_some());
    agrees_with_the_model("postgres-advisory", &audit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_a_sequence_refuses_the_stale_write() {
    let audit = session_ended_under_the_holder(true).await;
    assert!(audit.finding(Invariant::MutualExclusion).is_some(), "still two holders");
    assert!(audit.finding(Invariant::NoLostUpdate).is_none(), "{:?}", audit.findings);
    agrees_with_the_model("postgres-advisory-fenced", &audit);
}
