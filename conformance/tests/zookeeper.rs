//! ZooKeeper's lock recipe on a real three-server ensemble, its holder paused for real past its
//! session timeout: the `zookeeper-session` counterexample, and the same with the lock node's
//! creation zxid as the token the resource checks (`zookeeper-session-zxid`). Judged by the one
//! judge and compared with the model's async cells (the pause is unbounded), property by
//! property.
//!
//! The holder runs on a thread of its own, so pausing the thread stops everything it does: its
//! work, its watchdog, and the session's heartbeats, as a stop-the-world GC pause or a SIGSTOP
//! of its process would. The ensemble stops hearing from it, expires its session and deletes its
//! node; the next client in the queue, watching that node, takes the lock.

use redlock_client::event::{ClientId, Event};
use redlock_client::fault::FencedOp;
use redlock_client::fence::Write;
use redlock_client::history::Audit;
use redlock_client::judge::Invariant;
use redlock_conformance::client_thread::{ClientThread, PauseGate, PauseLength};
use redlock_conformance::history::{audit, History};
use redlock_conformance::redis_server::{Persistence, RedisServer};
use redlock_conformance::registers::RegisterSpec;
use redlock_conformance::safety_matrix::disagreements;
use redlock_conformance::zookeeper::ZooKeeper;
use redlock_conformance::zookeeper_lock::ZkLock;
use redlock_model::setup::Timing;
use std::time::{Duration, Instant};

/// The clients' session timeout (ZooKeeper's ensemble here accepts 200 ms to 60 s).
const SESSION: Duration = Duration::from_secs(1);
/// How long a step may take on a busy machine before the test gives up on it (waits end on
/// their condition, not on this).
const PATIENCE: Duration = Duration::from_secs(60);

/// What the paused holder's write did, sent from its thread.
type Outcome = Result<Write, String>;

/// One run: client 0 takes the lock, reads the register, passes its validity check and pauses
/// before its write; its session expires; client 1 takes the lock, reads and writes; client 0
/// resumes and writes what it read plus one.
async fn paused_past_the_session(fenced: bool) -> (Audit, Vec<redlock_client::event::Record>) {
    let zk = tokio::task::spawn_blocking(|| ZooKeeper::start(3)).await.unwrap().expect("ZooKeeper starts (apt-get install zookeeper)");
    let resource = RedisServer::start(Persistence::None).await.expect("redis-server starts");
    let history = History::new("zk-lock");
    let (url, key) = (resource.url(), "register".to_string());
    let spec = if fenced { RegisterSpec::Redis { url, key } } else { RegisterSpec::Unfenced { url, key } };
    let servers = zk.connect_string();
    let (a, b) = (ClientId(0), ClientId(1));

    let gate = PauseGate::new(a, history.clone());
    gate.arm(Some(FencedOp::Write), PauseLength::UntilResumed);
    let (done, outcome) = std::sync::mpsc::channel::<Outcome>();
    let holder = {
        let (history, spec, servers, gate) = (history.clone(), spec.clone(), servers.clone(), gate.clone());
        ClientThread::spawn("zookeeper holder".into(), move || async move {
            let result = async {
                let register = spec.connect(history.resource_turn()).await?;
                let lock = ZkLock::new(servers, SESSION, "/lock", a, &history).with_pause_gate(gate);
                let held = lock.acquire(PATIENCE).await.map_err(|e| e.to_string())?;
                let read = held.holder.read(&register).await.map_err(|e| e.to_string())?;
                if held.remaining() <= SESSION / 5 {
                    return Err(format!("the holder's validity check failed before its pause: {:?} left", held.remaining()));
                }
                held.holder.write(&register, read.value + 1).await.map_err(|e| e.to_string())
            };
            let _ = done.send(result.await);
        })
        .expect("a thread for the holder")
    };
    let deadline = Instant::now() + PATIENCE;
    while !gate.is_paused() {
        if let Ok(early) = outcome.try_recv() {
            panic!("the holder ended before its pause: {early:?}");
        }
        assert!(Instant::now() < deadline, "the holder did not reach its write within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Client 1 queues behind the holder's node, which goes only when the ensemble expires the
    // paused holder's session.
    let register = spec.connect(history.resource_turn()).await.expect("the register");
    let next = ZkLock::new(servers, SESSION, "/lock", b, &history);
    let held = next.acquire(PATIENCE).await.expect("the lock passes to client 1 once the holder's session expires");
    let read = held.holder.read(&register).await.expect("the register reads");
    assert_eq!(held.holder.write(&register, read.value + 1).await.expect("the register answers"), Write::Applied, "the holder writes");
    held.release().await;

    gate.resume();
    let stale = outcome.recv_timeout(PATIENCE).expect("the holder resumes and writes").expect("the holder's write is answered");
    assert_eq!(stale == Write::Applied, !fenced, "the stale write is refused exactly when the resource checks the zxid");
    assert!(holder.join(PATIENCE), "the holder's thread ends");
    let records = history.records();
    (audit(&records), records)
}

/// The zxids the run's grants carried, in grant order.
fn tokens(records: &[redlock_client::event::Record]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| match r.event {
            Event::Granted { token, .. } => token,
            _ => None,
        })
        .collect()
}

/// Both tests' common ground: the holder's trust ran out during its pause, before the next
/// grant (mutual exclusion holds: the recipe's validity rule), and the later holder's zxid is
/// larger.
fn the_validity_rule_held(audit: &Audit, records: &[redlock_client::event::Record]) {
    assert!(audit.finding(Invariant::MutualExclusion).is_none(), "{:?}", audit.findings);
    let tokens = tokens(records);
    assert!(tokens.len() == 2 && tokens[0] < tokens[1], "two grants with growing zxids: {tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_past_the_session_timeout_loses_an_update() {
    let (audit, records) = paused_past_the_session(false).await;
    assert!(audit.finding(Invariant::NoLostUpdate).is_some(), "{:?}", audit.findings);
    the_validity_rule_held(&audit, &records);
    let disagreements = disagreements("zookeeper-session", Timing::Async, &audit);
    assert!(disagreements.is_empty(), "{disagreements:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zxid_refuses_the_stale_write() {
    let (audit, records) = paused_past_the_session(true).await;
    assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    the_validity_rule_held(&audit, &records);
    let disagreements = disagreements("zookeeper-session-zxid", Timing::Async, &audit);
    assert!(disagreements.is_empty(), "{disagreements:?}");
}
