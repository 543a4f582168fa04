//! The Rust contenders: this crate, the crates.io peers `rslock` and `redlock`, and the two
//! floors through redis-rs with no lock logic.
//!
//! Every contender answers one call, [`Contender::acquire_release`]: acquire `resource` (with
//! the same retry count and delay range for all, `docs/design.md`), release it at once, and return
//! the instant the acquire returned, or `None` when every attempt failed.

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Script};
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The TTL of every lock of every contender.
pub const TTL_MS: u64 = 10_000;

/// Attempts and the retry delay, the same for every contender: the delay before each retry is
/// drawn uniformly from whole milliseconds `0..delay_below_ms` (rslock's and redlock's own
/// `gen_range(0..delay)`; `retry_delay(0..=delay-1)` here; node-redlock's
/// `delay/2 + floor((2r - 1) * delay/2)`).
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub attempts: u32,
    pub delay_below_ms: u64,
}

pub trait Contender: Send + Sync + 'static {
    fn acquire_release(&self, resource: &str) -> impl Future<Output = Result<Option<Instant>, String>> + Send;
}

/// Releases of this crate that were not confirmed by every node within the per-node timeout.
pub static UNCONFIRMED: AtomicU64 = AtomicU64::new(0);

/// This crate, with its defaults but the TTL and the retries (tracing compiled in at its
/// defaults, no subscriber installed; the history recorder off unless given).
pub struct RedlockClient {
    client: redlock_client::Client,
}

impl RedlockClient {
    pub fn new(urls: &[String], retry: Retry, recorder: Option<redlock_client::Recorder>) -> Self {
        let mut builder = redlock_client::Client::builder(urls.iter().cloned())
            .ttl(Duration::from_millis(TTL_MS))
            .retries(retry.attempts - 1)
            .retry_delay(Duration::ZERO..=Duration::from_millis(retry.delay_below_ms - 1));
        if let Some(recorder) = recorder {
            builder = builder.recorder(recorder);
        }
        RedlockClient { client: builder.build().expect("a valid configuration") }
    }
}

impl Contender for RedlockClient {
    async fn acquire_release(&self, resource: &str) -> Result<Option<Instant>, String> {
        match self.client.acquire(resource).await {
            Ok(guard) => {
                let at = Instant::now();
                match guard.release().await {
                    Ok(_) => {}
                    // No majority confirmed within the per-node timeout (an overloaded
                    // machine): the releases still go out; the key scan tells if any was lost.
                    Err(redlock_client::ReleaseError::Unconfirmed { .. }) => {
                        UNCONFIRMED.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e.to_string()),
                }
                Ok(Some(at))
            }
            Err(redlock_client::AcquireError::NotAcquired { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// `rslock` 0.10: waits for every node's answer (`join_all`), one multiplexed connection per
/// node.
pub struct Rslock {
    manager: rslock::LockManager,
}

impl Rslock {
    pub fn new(urls: &[String], retry: Retry) -> Self {
        let mut manager = rslock::LockManager::new(urls.to_vec());
        // rslock's count is the number of attempts; the delay is drawn from 0..delay.
        manager.set_retry(retry.attempts, Duration::from_millis(retry.delay_below_ms));
        Rslock { manager }
    }
}

impl Contender for Rslock {
    async fn acquire_release(&self, resource: &str) -> Result<Option<Instant>, String> {
        match self.manager.lock(resource.as_bytes(), Duration::from_millis(TTL_MS)).await {
            Ok(lock) => {
                let at = Instant::now();
                self.manager.unlock(&lock).await;
                Ok(Some(at))
            }
            Err(rslock::LockError::Unavailable) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// `redlock` 2.0: synchronous, one node after the other, a new connection for every request;
/// run on tokio's blocking pool, the way a sync library is used from async code.
pub struct Redlock {
    manager: Arc<redlock::RedLock>,
}

impl Redlock {
    pub fn new(urls: &[String], retry: Retry) -> Self {
        let mut manager = redlock::RedLock::new(urls.to_vec());
        // redlock's count is the number of attempts; the delay is drawn from 0..delay.
        manager.set_retry(retry.attempts, retry.delay_below_ms as u32);
        Redlock { manager: Arc::new(manager) }
    }
}

impl Contender for Redlock {
    async fn acquire_release(&self, resource: &str) -> Result<Option<Instant>, String> {
        let manager = self.manager.clone();
        let resource = resource.to_owned();
        tokio::task::spawn_blocking(move || match manager.lock(resource.as_bytes(), TTL_MS as usize) {
            Ok(Some(lock)) => {
                let at = Instant::now();
                manager.unlock(&lock);
                Ok(Some(at))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// Compare-and-delete: the client's own script (every client's release is this script).
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(redlock_client::scripts::RELEASE));

/// What one node answered to `SET NX PX`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    Ok,
    Refused,
    /// No answer we can read: the key may be set all the same.
    Unknown,
}

async fn set_nx(mut conn: MultiplexedConnection, key: Arc<str>, value: Arc<str>) -> Set {
    let reply: RedisResult<Option<String>> =
        redis::cmd("SET").arg(&*key).arg(&*value).arg("NX").arg("PX").arg(TTL_MS).query_async(&mut conn).await;
    match reply {
        Ok(Some(_)) => Set::Ok,
        Ok(None) => Set::Refused,
        Err(_) => Set::Unknown,
    }
}

async fn compare_and_delete(mut conn: MultiplexedConnection, key: &str, value: &str) {
    let _: RedisResult<i64> = RELEASE.key(key).arg(value).invoke_async(&mut conn).await;
}

/// The floors: `SET key value NX PX ttl` to every node at once, granted on a majority of OKs,
/// then compare-and-delete on every node that may hold the key; no validity, no drift, no
/// bookkeeping. Each node's release waits for that node's own `SET` answer first, so that it can
/// never overtake it. `quorum`: like the client, the acquire returns as soon as a majority
/// answered OK (or a majority refused), and the release as soon as a majority is free of the
/// key, the other nodes' releases finishing in a task of their own. Otherwise (*all-replies*)
/// both wait for every node's answer. In the contended cell a failed attempt releases the same
/// way, sleeps the common retry delay and tries again.
pub struct Floor {
    conns: Vec<MultiplexedConnection>,
    quorum_return: bool,
    retry: Retry,
}

type Release = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Floor {
    pub async fn new(urls: &[String], quorum_return: bool, retry: Retry) -> Self {
        let mut conns = Vec::new();
        for url in urls {
            let client = redis::Client::open(url.as_str()).expect("a valid URL");
            conns.push(client.get_multiplexed_async_connection().await.expect("a connection"));
        }
        Floor { conns, quorum_return, retry }
    }

    async fn attempt(&self, key: &Arc<str>, value: &Arc<str>) -> (bool, Instant) {
        let n = self.conns.len();
        let quorum = n / 2 + 1;
        let mut sets: Vec<_> = self.conns.iter().map(|c| Box::pin(set_nx(c.clone(), key.clone(), value.clone()))).collect();
        let mut answers: Vec<Option<Set>> = vec![None; n];
        let quorum_return = self.quorum_return;
        let acquired = poll_fn(|cx| {
            for (set, answer) in sets.iter_mut().zip(answers.iter_mut()) {
                if answer.is_none() {
                    if let Poll::Ready(a) = set.as_mut().poll(cx) {
                        *answer = Some(a);
                    }
                }
            }
            let ok = answers.iter().filter(|a| **a == Some(Set::Ok)).count();
            let answered = answers.iter().filter(|a| a.is_some()).count();
            if answered == n || (quorum_return && (ok >= quorum || answered - ok > n - quorum)) {
                Poll::Ready(ok >= quorum)
            } else {
                Poll::Pending
            }
        })
        .await;
        let at = Instant::now();
        let mut releases: Vec<Option<Release>> = sets
            .into_iter()
            .zip(answers)
            .zip(&self.conns)
            .map(|((set, answer), conn)| {
                let (conn, key, value) = (conn.clone(), key.clone(), value.clone());
                let release: Release = Box::pin(async move {
                    // This node's release goes out only after this node's SET has answered.
                    let answer = match answer {
                        Some(a) => a,
                        None => set.await,
                    };
                    if answer != Set::Refused {
                        compare_and_delete(conn, &key, &value).await;
                    }
                });
                Some(release)
            })
            .collect();
        // Done when at most `may_remain` nodes may still hold the key.
        let may_remain = if quorum_return { n - quorum } else { 0 };
        poll_fn(|cx| {
            for slot in releases.iter_mut() {
                if slot.as_mut().is_some_and(|r| r.as_mut().poll(cx).is_ready()) {
                    *slot = None;
                }
            }
            if releases.iter().flatten().count() <= may_remain {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let rest: Vec<Release> = releases.into_iter().flatten().collect();
        if !rest.is_empty() {
            tokio::spawn(futures::future::join_all(rest));
        }
        (acquired, at)
    }
}

impl Contender for Floor {
    async fn acquire_release(&self, resource: &str) -> Result<Option<Instant>, String> {
        let value: Arc<str> = {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            format!("{:032x}{:08x}", rng.gen::<u128>(), rng.gen::<u32>()).into()
        };
        let key: Arc<str> = resource.into();
        for attempt in 1..=self.retry.attempts {
            let (acquired, at) = self.attempt(&key, &value).await;
            if acquired {
                return Ok(Some(at));
            }
            if attempt < self.retry.attempts {
                let ms = {
                    use rand::Rng;
                    rand::thread_rng().gen_range(0..self.retry.delay_below_ms)
                };
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
        Ok(None)
    }
}
