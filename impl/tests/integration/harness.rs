//! Real servers for the tests (from `redlock-testkit`): `redis-server` and PostgreSQL processes
//! on ephemeral loopback ports, each in its own temporary directory, with persistence off. A
//! server is killed and its directory removed when its handle drops: on success, on failure,
//! while a panic unwinds, and on Ctrl-C.

use redlock_client::history::{Audit, Auditor};
use redlock_testkit::{Config, RedisServer};
use std::path::Path;
use std::time::{Duration, Instant};

pub use redlock_testkit::{Postgres, Tls};

/// One `redis-server` process, with the tests' shortcuts.
pub struct Redis(RedisServer);

impl Redis {
    pub async fn start() -> Redis {
        Redis::start_with(None, None).await
    }

    /// A server that requires `password` (AUTH), and speaks only TLS with `tls`'s certificate.
    pub async fn start_with(password: Option<&str>, tls: Option<&Tls>) -> Redis {
        let config = Config { password: password.map(str::to_string), tls: tls.cloned(), ..Config::default() };
        Redis(RedisServer::start_with(config).await.expect("redis-server starts (apt-get install redis-server)"))
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Freezes the process (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn pause(&self) {
        self.0.pause().expect("SIGSTOP");
    }

    /// Lets a paused process run again (SIGCONT).
    pub fn resume(&self) {
        self.0.resume().expect("SIGCONT");
    }

    /// Kills the process: the node is down for good.
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Kills the process and starts it again on its port: without persistence, empty.
    pub async fn restart(&mut self) {
        self.0.restart().await.expect("redis-server restarts");
    }

    /// A direct connection, to look at or tamper with the keys behind the client's back.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        self.0.connect().await.unwrap()
    }

    pub async fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query_async(&mut self.conn().await).await.unwrap()
    }

    pub async fn pttl(&self, key: &str) -> i64 {
        redis::cmd("PTTL").arg(key).query_async(&mut self.conn().await).await.unwrap()
    }

    pub async fn del(&self, key: &str) {
        let _: i64 = redis::cmd("DEL").arg(key).query_async(&mut self.conn().await).await.unwrap();
    }
}

/// `n` independent servers.
pub async fn cluster(n: usize) -> Vec<Redis> {
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n {
        servers.push(Redis::start().await);
    }
    servers
}

pub fn urls(servers: &[Redis]) -> Vec<String> {
    servers.iter().map(Redis::url).collect()
}

/// How long a test waits for a condition before it calls it false: long enough that a busy
/// machine is never the reason (a condition that holds returns at once).
pub const WAIT: Duration = Duration::from_secs(30);

/// Waits until `check` holds, up to [`WAIT`].
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Audits a recorded history with the library's auditor (what `check history` runs).
pub fn audit(history: &Path) -> Audit {
    let file = std::fs::File::open(history).unwrap();
    Auditor::audit(std::io::BufReader::new(file)).unwrap()
}
