//! PostgreSQL's session-level advisory lock on a real server, its holder's session ended for
//! real: the loopback proxy resets the holder's connection, the server notices and releases the
//! lock, telling no one. Judged by the one judge and compared with the model's cells:
//! `postgres-advisory` (two holders, a lost update) and `postgres-advisory-fenced` (a token from
//! a sequence, checked by the resource atomically: the stale write is refused).

use redlock_client::event::{ClientId, Event, NodeId};
use redlock_client::fence::PostgresFenced;
use redlock_client::judge::Invariant;
use redlock_client::tokio_postgres::{self, NoTls};
use redlock_conformance::history::{audit, History};
use redlock_conformance::postgres::Postgres;
use redlock_conformance::proxy::{Framing, Link};
use redlock_conformance::safety_matrix::disagreements;
use redlock_model::setup::Timing;
use std::time::{Duration, Instant};

/// The advisory lock's key; any 64-bit number names a lock.
const LOCK: i64 = 42;

async fn connect(port: u16) -> tokio_postgres::Client {
    let config = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await.expect("PostgreSQL accepts the connection");
    tokio::spawn(connection);
    client
}

/// Takes the lock on `session` with a token from the sequence; records the attempt and, if it
/// succeeded, the grant (a session lock has no validity: its holder believes until it next uses
/// its connection, so the grant's validity is an hour).
async fn try_lock(session: &tokio_postgres::Client, client: ClientId, history: &History) -> Option<u64> {
    history.record(Event::AcquireStarted { client });
    let row = session.query_one("SELECT pg_try_advisory_lock($1), nextval('fence')", &[&LOCK]).await.ok()?;
    if !row.get::<_, bool>(0) {
        history.record(Event::AcquireFailed { client });
        return None;
    }
    let token = u64::try_from(row.get::<_, i64>(1)).expect("a sequence starts at 1");
    history.record(Event::KeySet { node: NodeId(0), owner: client, ttl_ms: None });
    history.record(Event::Granted { client, validity_ms: 3_600_000, token: Some(token) });
    Some(token)
}

/// Reads then writes the register as `client`: with its token when the resource checks tokens,
/// else with none (token 0 from no one passes every fence).
async fn read(register: &PostgresFenced, client: ClientId, token: u64, fenced: bool, history: &History) -> u64 {
    let (token, holder) = if fenced { (token, client.0.to_string()) } else { (0, String::new()) };
    let read = register.read(token, &holder).await.expect("the register reads");
    history.record(Event::ResourceRead { client, value: read.value, token: fenced.then_some(token) });
    read.value
}

async fn write(register: &PostgresFenced, client: ClientId, token: u64, value: u64, fenced: bool, history: &History) -> bool {
    let (token, holder) = if fenced { (token, client.0.to_string()) } else { (0, String::new()) };
    let applied = register.write(token, &holder, value).await.expect("the register answers") == redlock_client::fence::Write::Applied;
    let token = fenced.then_some(token);
    history.record(if applied { Event::WriteApplied { client, value, token } } else { Event::WriteRejected { client, token } });
    applied
}

/// One run: client 0 takes the lock through the proxy and reads; its session is cut; client 1
/// takes the lock once the server has released it, reads and writes; client 0, not told, writes.
async fn session_ended_under_the_holder(fenced: bool) -> redlock_client::history::Audit {
    let pg = Postgres::start().expect("PostgreSQL starts (apt-get install postgresql)");
    let link = Link::open("postgres", pg.addr(), Framing::Raw, Duration::ZERO).await.expect("the proxy listens");
    let setup = pg.connect().await.expect("PostgreSQL accepts logins");
    setup.batch_execute("CREATE SEQUENCE fence").await.unwrap();
    let register = PostgresFenced::new(setup, "register", "r");
    register.create_table().await.unwrap();
    let (first, second) = (connect(link.addr().port()).await, connect(pg.addr().port()).await);
    let history = History::new("pg-advisory-42");
    let (a, b) = (ClientId(0), ClientId(1));
    history.record(Event::Setup { nodes: 1 });
    let token_a = try_lock(&first, a, &history).await.expect("the lock is free");
    let read_a = read(&register, a, token_a, fenced, &history).await;

    // The server ends client 0's session: its connection breaks (a cut it notices), and it
    // releases the lock. Client 1 polls until it gets it (the condition, not a guess of time).
    link.reset();
    let deadline = Instant::now() + Duration::from_secs(30);
    let token_b = loop {
        if let Some(token) = try_lock(&second, b, &history).await {
            break token;
        }
        assert!(Instant::now() < deadline, "the server has not released the ended session's lock after 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let read_b = read(&register, b, token_b, fenced, &history).await;
    assert!(write(&register, b, token_b, read_b + 1, fenced, &history).await, "the current holder writes");
    // Client 0 was not told: it goes on with the value it read.
    let stale_applied = write(&register, a, token_a, read_a + 1, fenced, &history).await;
    assert_eq!(stale_applied, !fenced, "the stale write is refused exactly when the resource checks tokens");
    // Client 0's own session is gone: its next use of it is where it would learn.
    assert!(first.query_one("SELECT 1", &[]).await.is_err(), "the ended session answers nothing");
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
